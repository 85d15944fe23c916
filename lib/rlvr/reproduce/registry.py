"""The paper's experiments, one row each: its notebook, its sweep files and its check, so everything
about one of the paper's tables is reachable from its row."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..runner import Job
from .follow_ups import check_beyond, check_ppo
from .outputs import SELECTION_SWEEP, example_world, sweep_jobs
from .paper_tables import check_labels, check_tab3, check_tab5, check_tab8, check_tab14, check_tab16
from .postsat import check_postsat
from .verdicts import Result


@dataclass(frozen=True)
class Experiment:
    name: str
    title: str
    notebook: str  # what its sweep files execute, relative to the project root
    sweeps: tuple[str, ...]  # files under params/sweeps/reproduce/
    check: Callable[[list[Job], Path], Result] | None  # its sweeps' complete jobs, the project root
    after: tuple[str, ...] = ()  # experiments whose jobs this one's notebook reads: it runs after them
    seeded: bool = True
    # Every pattern it checks reads 1-shot runs on the world's pi_1 (its own or those of ``after``): where
    # such a run never solved the example on a seed, the map says so beside the verdict.
    on_example: bool = False


SEEDS = (0, 1, 2)  # the seeds every experiment runs over, and the report shows


def report_seeds(seeds: Sequence[int]) -> list[int]:
    """The seeds a report shows: ``SEEDS`` and any others named (``--seeds 3,4,5`` adds seeds)."""
    return sorted(set(SEEDS) | set(seeds))

# Its own row, as Tab. 3's check reads the example its run never solved.
SELECTION = Experiment("selection", "Data selection by historical variance (section 2, Fig. 1)",
                       "notebooks/01_data_selection.ipynb", (SELECTION_SWEEP,), None, seeded=False)

EXPERIMENTS: dict[str, Experiment] = {
    "selection": SELECTION,
    "tab8": Experiment("tab8", "The headline: 1-shot against format-only and the full set (Tab. 8, Tab. 14)",
                       "notebooks/00_quickstart.ipynb", ("tab8.yaml",), check_tab8, on_example=True),
    "tab5": Experiment("tab5", "The loss terms (Tab. 5 rows 1-10)", "notebooks/04_ablations.ipynb", ("tab5.yaml",),
                       check_tab5, on_example=True),
    "labels": Experiment("labels", "Wrong labels: one example's (Tab. 5 rows 11-13) and the full set's, with GRPO "
                                   "and PPO (Tab. 17)",
                         "notebooks/05_label_noise.ipynb", ("labels.yaml",), check_labels),
    "tab14": Experiment("tab14", "Format reward against outcome reward, with and without entropy (Tab. 14)",
                        "notebooks/06_format_reward.ipynb", ("tab14.yaml",), check_tab14, on_example=True),
    "tab3": Experiment("tab3", "1-shot on different examples and cross-domain transfer (Tab. 3)",
                       "notebooks/02_one_shot_training.ipynb", ("tab3.yaml", "tab3-wrong-label.yaml"),
                       functools.partial(check_tab3, selection_sweeps=SELECTION.sweeps)),
    "postsat": Experiment("postsat", "Post-saturation generalisation (section 4, Fig. 2-3) and pass@8 (Tab. 20)",
                          "notebooks/03_post_saturation.ipynb", ("postsat.yaml",), check_postsat,
                          on_example=True),
    "tab16": Experiment("tab16", "In-context examples against 1-shot RLVR (Tab. 16)", "notebooks/07_in_context.ipynb",
                        ("tab16.yaml",), check_tab16, after=("tab8",), on_example=True),
    "beyond": Experiment("beyond", "Beyond the paper: spurious and label-free rewards, entropy minimisation, "
                                   "PSR/NSR, pass@k at large k (08_beyond_the_paper)",
                         "notebooks/08_beyond_the_paper.ipynb", ("beyond.yaml",), check_beyond),
    "ppo": Experiment("ppo", "PPO beside GRPO on the 1-shot example and the full set (Tab. 4; 09_ppo)",
                      "notebooks/09_ppo.ipynb", ("ppo.yaml",), check_ppo),
}
# The longest first, side by side; an experiment that reads another's jobs after it.
ORDER = ("selection", "postsat", "tab5", "labels", "tab14", "tab8", "tab3", "tab16")
# Not run by default (`--only beyond,ppo`): beyond is not the paper's, ppo came later; each is reported once
# its jobs exist.
EXTRAS = ("beyond", "ppo")


# The map (docs/worlds.md): the worlds the paper's patterns run in besides toy-base's, each with the
# experiments whose patterns its switches target (the predictions there say which and why). Every
# switch of qwen-like has its control, qwen-like with that switch off (NAME~SWITCH); failure_kind and
# size, which qwen-like leaves at toy-base's, are read against toy-base. An experiment whose jobs or
# check read another's comes after it (tab16 reads tab8's run, tab3 the selection's history).
# Worlds run in this order (`--map`): the controls that say which switch a pattern qwen-like shows
# takes, the cheapest first; then the worlds whose base solves their 1-shot example often enough for
# every seed to reach it; toy-base's column (``map_order``); the 0.9M post-saturation controls last, since
# checking does not pay in any 0.9M world's base, the pattern they control fails in their parent at 0.9M and
# at 3M, and their base rarely solves the example (docs/worlds.md, prediction 11).
MAP: dict[str, tuple[str, ...]] = {
    "qwen-like": ("selection", "postsat", "tab5", "labels", "tab14", "tab8", "tab3", "tab16", "beyond"),
    "llama-like": ("tab8", "beyond"),
    "qwen-like~document_coherence": ("tab8", "tab16"),
    "qwen-like~reasoning_modes": ("beyond",),
    "qwen-like~format_prior": ("tab5", "labels", "tab14", "tab8", "beyond"),
    # The majority's running on, which no paper gives, swept: 10-30% (qwen-like), 30-90% (this world).
    "qwen-like~format_prior=boxing": ("tab8",),
    # Every switch on at 3M, where checking first pays at the base (prediction 8): post-saturation again.
    "qwen-like~size=3M": ("postsat",),
    "looping": ("tab5", "tab14"),
    "toy-base-3M": ("postsat", "tab5", "labels", "tab8", "tab16"),
    "qwen-like~verification": ("selection", "postsat", "tab3"),
    "qwen-like~verification=0.3": ("postsat",),  # no paper gives a level: 0, 0.1 and 0.3, the whole sweep
    "qwen-like~difficulty_gap": ("postsat",),
}


# toy-base's column runs before this world: the default world's decision reads it.
TOY_BASE_BEFORE = "qwen-like~verification"


def map_order() -> list[str]:
    """The map's columns in the order they run: ``MAP``'s worlds with toy-base's among them, before
    ``TOY_BASE_BEFORE`` (last where that world is not in the map)."""
    worlds = list(MAP)
    at = worlds.index(TOY_BASE_BEFORE) if TOY_BASE_BEFORE in worlds else len(worlds)
    return [*worlds[:at], "toy-base", *worlds[at:]]


def chosen(only: str | Sequence[str] | None) -> list[str]:
    """Experiment names from ``--only`` (comma-separated), checked against ``EXPERIMENTS``."""
    if not only:
        return list(ORDER)
    names = [n.strip() for n in (only.split(",") if isinstance(only, str) else only) if n.strip()]
    if bad := [n for n in names if n not in EXPERIMENTS]:
        raise ValueError(f"--only: unknown experiment(s) {', '.join(bad)}; choose from {', '.join(ORDER + EXTRAS)}")
    return [n for n in ORDER + EXTRAS if n in names]


def chosen_in(world: str | None, only: str | Sequence[str] | None = None) -> list[str]:
    """``only``, else in another world the map's experiments for it (``MAP``; every one for a world
    outside the map), else the default's; in another world that trains on its own pi_1 its selection
    run too (a control trains on its parent's: ``example_world``)."""
    if world is None or world == "toy-base":
        return chosen(only)
    own = [] if example_world(world) != world else ["selection"]
    return chosen([*chosen(only or MAP.get(world)), *own])


def targeted() -> list[str]:
    """The experiments some world of the map runs: toy-base's column of the map."""
    return chosen(sorted({name for names in MAP.values() for name in names}, key=(ORDER + EXTRAS).index))


def map_column(world: str) -> list[str]:
    """The experiments of ``world``'s column of the map: toy-base's ``targeted``, another's ``chosen_in``."""
    return targeted() if world == "toy-base" else chosen_in(world)


def experiment_jobs(names: Sequence[str], seeds: Sequence[int], root: Path,
                    world: str | None = None) -> list[tuple[str, Job]]:
    """Each named experiment's jobs (all its sweep files'), with the experiment's name, in ``world``."""
    return [(name, job) for name in names for sweep_file in EXPERIMENTS[name].sweeps
            for _, job in sweep_jobs(sweep_file, seeds if EXPERIMENTS[name].seeded else None, root, world)]
