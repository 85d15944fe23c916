"""How often each map world's base solves the example its 1-shot runs train on, and its own pi_1
(docs/worlds.md, "How far the 1-shot example is from each base"), as a markdown table and
docs/map/example-reach.csv.

    python tools/example_reach.py                      # toy-base and every world of the map
    python tools/example_reach.py qwen-like looping    # these worlds
"""

import json
import sys
from pathlib import Path

import torch
from rlvr import provenance
from rlvr.config import preset
from rlvr.reproduce.outputs import base_pass_rates
from rlvr.reproduce.registry import MAP

torch.set_num_threads(1)
table = base_pass_rates(sys.argv[1:] or ["toy-base", *MAP], Path.cwd())
print(table.to_markdown(index=False))
out = Path("docs/map/example-reach.csv")
table.to_csv(out, index=False)
# What produced it, beside it: the sampling settings (the cpu preset's) and the code and library versions.
cfg = preset("cpu")
meta = {"temperature": cfg.temperature, "max_new_tokens": cfg.max_completion_length, "seed": cfg.seed,
        **provenance.environment()}
out.with_suffix(".json").write_text(json.dumps(meta, indent=1))
print(f"written: {out} and {out.with_suffix('.json')}")
