"""One-Shot RLVR Lab: reinforcement learning with verifiable rewards on one example.

Modules: ``grading`` (answer extraction and equivalence), ``rewards`` (TRL reward
functions), ``labels`` (label overrides and noise for the label experiments).
"""

__version__ = "0.1.0"
