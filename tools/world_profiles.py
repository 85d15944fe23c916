"""The built worlds' profiles as a markdown table (docs/worlds.md), from their profile.json files.

    python tools/world_profiles.py                 # every world built under outputs/worlds (and toy-base)
    python tools/world_profiles.py toy-base toy-base@4 toy-base@5
"""

import sys

import pandas as pd
from rlvr.toyworld.worlds import profile_table

print(pd.DataFrame(profile_table(sys.argv[1:] or None)).to_markdown(index=False))
