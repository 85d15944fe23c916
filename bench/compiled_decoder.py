"""Would a compiled decoder pay for itself? ``rlvr.fastgen``'s one-token step run eager and through
``torch.compile`` (dynamic shapes, Inductor's on-disk cache on, as it is by default), on ``toy-base``
over ``toy-test``, greedy and sampled, at one thread.

Prints the first call's seconds (compilation, or loading it from the cache on a second run of this
script), the seconds of each decoding pass and how many answers the compiled step gives exactly as the
eager one does. Run it twice: the second run's first call is what every later process would pay.

    .venv/bin/python bench/compiled_decoder.py [--problems 256]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "lib"))

from rlvr import fastgen  # noqa: E402
from rlvr.backends import TransformersBackend  # noqa: E402
from rlvr.data import load_dataset  # noqa: E402


def passes(backend, prompts: list[str]) -> dict:
    t0 = time.perf_counter()
    backend.generate(prompts[:8], temperature=0.0, top_p=1.0, max_new_tokens=200, seed=0)
    t1 = time.perf_counter()
    greedy = backend.generate(prompts, temperature=0.0, top_p=1.0, max_new_tokens=200, seed=0)
    t2 = time.perf_counter()
    sampled = backend.generate(prompts, temperature=0.6, top_p=1.0, max_new_tokens=200, seed=0)
    t3 = time.perf_counter()
    return {"first_call_s": t1 - t0, "greedy_s": t2 - t1, "sampled_s": t3 - t2,
            "texts": [g.text for g in greedy + sampled]}


def compile_decode_step() -> None:
    """Compile the one-token step only: a prefill's shapes differ from every decode step's."""
    eager = fastgen.Decoder.forward
    compiled = torch.compile(eager, dynamic=True)
    fastgen.Decoder.forward = lambda self, ids, *rest: (compiled if ids.shape[1] == 1 else eager)(self, ids, *rest)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", type=int, default=256)
    args = parser.parse_args()
    torch.set_num_threads(1)
    backend = TransformersBackend("toy-base", device="cpu")
    backend.batch_size = 128
    prompts = [backend.prompt(r["problem"], "train") for r in load_dataset("toy-test", limit=args.problems)]
    eager = passes(backend, prompts)
    compile_decode_step()
    compiled = passes(backend, prompts)
    same = sum(a == b for a, b in zip(eager["texts"], compiled["texts"]))
    for name, row in (("eager", eager), ("compiled", compiled)):
        print(f"{name:8s} first call {row['first_call_s']:6.1f} s   greedy {row['greedy_s']:5.2f} s   "
              f"sampled {row['sampled_s']:5.2f} s")
    print(f"identical answers: {same} of {len(eager['texts'])} ({args.problems} greedy, {args.problems} sampled)")


if __name__ == "__main__":
    main()
