"""Every experiment of the paper in the embedded world, over seeds, in one command.

``rlvr reproduce`` (``make reproduce``) executes the sweep files of ``EXPERIMENTS``
(``params/sweeps/reproduce/``: each notebook at full embedded-default size over
``train.seed``) two jobs side by side, resumable (complete jobs are skipped, an
interrupted notebook's training resumes from its last checkpoint and evaluated
checkpoints are kept) and failure-tolerant (a failed job is recorded and the rest
go on). Then ``report`` reads every job's tables, checks each of the paper's
patterns over the seeds and regenerates the generated part of
``docs/results-toy.md`` and the figures under ``docs/figures/``.

A pattern is a list of claims on per-seed numbers (a < b, a gain of at least x).
Its verdict: ``HOLDS_ALL`` when every claim holds on every seed, ``HOLDS_MEAN``
when every claim holds on the seeds' means, else ``FAILS``; ``NOT_RUN`` where its
jobs are missing. Post-saturation generalisation has its own rule (``post_saturation``).

One job a module: ``verdicts`` (claims, patterns, verdicts), ``outputs`` (the jobs'
tables across seeds), ``paper_tables``, ``postsat`` and ``follow_ups`` (the checks),
``registry`` (the experiments: notebook, sweep files, check), ``run`` (executing the
jobs) and ``document`` (the report and its figures).
"""

from .document import BEGIN, DOC, END, FIGURES, figure, report
from .follow_ups import check_beyond, check_ppo
from .outputs import SWEEPS, complete_jobs, job_seed, sweep_jobs
from .paper_tables import (
    check_labels,
    check_tab3,
    check_tab5,
    check_tab8,
    check_tab14,
    check_tab16,
    example_domain,
    never_solved,
    per_domain,
)
from .postsat import check_postsat, late_rollouts, post_saturation
from .registry import EXPERIMENTS, EXTRAS, ORDER, SEEDS, Experiment, chosen, report_seeds
from .run import reproduce
from .verdicts import FAILS, HOLDS_ALL, HOLDS_MEAN, NOT_RUN, Claim, Pattern, Result, claim, mean_std

__all__ = [
    "BEGIN", "DOC", "END", "EXPERIMENTS", "EXTRAS", "FAILS", "FIGURES", "HOLDS_ALL", "HOLDS_MEAN", "NOT_RUN",
    "ORDER", "SEEDS", "SWEEPS", "Claim", "Experiment", "Pattern", "Result", "check_beyond", "check_labels",
    "check_postsat", "check_ppo", "check_tab3", "check_tab5", "check_tab8", "check_tab14", "check_tab16", "chosen",
    "claim", "complete_jobs", "example_domain", "figure", "job_seed", "late_rollouts", "mean_std", "never_solved",
    "per_domain", "post_saturation", "report", "report_seeds", "reproduce", "sweep_jobs",
]
