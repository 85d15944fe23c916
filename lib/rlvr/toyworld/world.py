"""An embedded world's generator settings: each mechanism the literature proposes for a finding is a
switch here, documented with the paper behind it (the predictions: ``docs/worlds.md``).

Every default is ``toy-base``'s world: ``make_corpus(n, world=World())`` writes today's corpus
document for document. A switch that makes a pattern appear shows the property is sufficient in
this world, nothing about Qwen2.5-Math.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..fields import Config, setting
from ..registry import FAILURE_KINDS, FORMAT_PRIORS, WORLD_SIZES

# The corpus generator's version, recorded with every world built, and the switches whose corpus each
# version changed: 2 added the first switches (its defaults write version 1's corpus, toy-base's,
# document for document), 3 gave a coherent document one style (its first answer's habits). A world
# built by an earlier version is still this version's where none of the switches changed since is on.
GENERATOR_VERSION = 3
CHANGED = {2: ("format_prior", "failure_kind", "document_coherence", "verification"), 3: ("document_coherence",)}

# toy-base ships inside the package; every other named world is built into worlds_dir().
CHECKPOINT = Path(__file__).parent / "checkpoint" / "toy-base"
CORPUS_SEED = 3  # toy-base's corpus sample


@dataclass
class World(Config):
    format_prior: str = setting(
        "minority", "how often sources box and stop: a minority (toy-base) or a majority, as Qwen2.5-Math boxes "
        "60-83% of its answers at base (Shao et al., arXiv 2506.10947)", choices=FORMAT_PRIORS)
    failure_kind: str = setting(
        "ramble", "what a source does where it does not stop: run on into another question (toy-base) or loop "
        "on its last sentence (the circular case for entropy alone: docs/worlds.md)", choices=FAILURE_KINDS)
    document_coherence: bool = setting(
        False, "every document written by one source: its questions of one template, in one style (in-context "
        "learning emerges from bursty, coherent data: Chan et al., arXiv 2205.05055)")
    verification: float = setting(
        0.0, "share of answers whose source rechecks every written step by its inverse and corrects a slip it "
        "finds, in every domain: correct behaviour rare but reachable everywhere, and self-reflection to count "
        "(the paper's section 4)")
    reasoning_modes: float = setting(
        0.0, "share of worked answers written in a second, code-like mode that writes every intermediate value "
        "(4 * 11 = 4 * 10 + 4 * 1 = 40 + 4 = 44); its sources slip as often as the others, so any accuracy it "
        "has comes from granularity. Qwen2.5-Math reasons in code in about 65% of its answers (Shao et al., arXiv "
        "2506.10947): 0.65 makes the finer mode the majority (Qwen-like), 0.35 the minority (Llama-like)")
    difficulty_gap: bool = setting(
        False, "the corpus holds problems made one or two operations longer, so toy-test-long (toy-test's problems, "
        "two operations longer) is within reach yet longer than any 1-shot candidate (a lower error per step pays "
        "off as (1 - e)^k over k steps: mechanisms.md); its control is the same base on toy-test")
    size: str = setting(
        "0.9M", "the base model's width and depth (rlvr.toyworld.model.SIZES)", choices=WORLD_SIZES)
    corpus_seed: int = setting(
        CORPUS_SEED, "the corpus' sample: its problems and every choice its sources make. The same world from "
        "another sample is the control a switch is read against (a base's greedy running on is a near-tie that "
        "the sample alone can flip: docs/worlds.md)")

    def problems(self) -> list[str]:
        for name in ("verification", "reasoning_modes"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                return [f"{name}: a share of answers, within [0, 1], got {getattr(self, name)}"]
        if self.document_coherence and self.failure_kind == "loop":
            # A looping answer ends its document, so every document holds one answer.
            return ["document_coherence: with failure_kind loop every document holds one answer, so there is "
                    "nothing to make coherent; use failure_kind ramble, or leave document_coherence off"]
        return []


def written_alike(version: int, world: World) -> bool:
    """Does generator ``version`` write ``world``'s corpus as this version does?"""
    return not any(getattr(world, switch) != getattr(World(), switch)
                   for later in range(version + 1, GENERATOR_VERSION + 1) for switch in CHANGED.get(later, ()))
