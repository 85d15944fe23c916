"""A miniature math world in which 1-shot RLVR can be studied on a CPU.

``problems``: seeded synthetic word problems (five domains, exact integer
answers, worked solutions) with fixed, disjoint train and test splits.
``corpus``: a deliberately imperfect pretraining corpus, so that a tiny base
model formats and stops as unreliably as Qwen2.5-Math-1.5B does.

>>> from rlvr.toyworld import make_split, check_answer
>>> problem = make_split("test", 1)[0]
>>> sorted(problem)
['answer', 'domain', 'id', 'params', 'problem', 'steps', 'template']
>>> check_answer(problem)
True
"""

from .corpus import Style, corpus_stats, make_corpus, render_solution, style_for
from .problems import check_answer, generate_problems, make_split, solve, split_of, stream
from .templates import DOMAINS, TEMPLATES, Step, Template

__all__ = [
    "DOMAINS",
    "TEMPLATES",
    "Step",
    "Style",
    "Template",
    "check_answer",
    "corpus_stats",
    "generate_problems",
    "make_corpus",
    "make_split",
    "render_solution",
    "solve",
    "split_of",
    "stream",
    "style_for",
]
