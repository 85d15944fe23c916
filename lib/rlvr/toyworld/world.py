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
from ..registry import FAILURE_KINDS, FORMAT_PRIORS

# The corpus generator's version, recorded with every world built: 2 added the switches (its defaults
# write version 1's corpus, toy-base's, document for document).
GENERATOR_VERSION = 2
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
    corpus_seed: int = setting(
        CORPUS_SEED, "the corpus' sample: its problems and every choice its sources make. The same world from "
        "another sample is the control a switch is read against (a base's greedy running on is a near-tie that "
        "the sample alone can flip: docs/worlds.md)")

    def problems(self) -> list[str]:
        if not 0.0 <= self.verification <= 1.0:
            return [f"verification: a share of answers, within [0, 1], got {self.verification}"]
        if self.document_coherence and self.failure_kind == "loop":
            # A looping answer ends its document, so every document holds one answer.
            return ["document_coherence: with failure_kind loop every document holds one answer, so there is "
                    "nothing to make coherent; use failure_kind ramble, or leave document_coherence off"]
        return []
