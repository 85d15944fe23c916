"""The paper's ablations as config changes: each Tab. 5 row, the label rows,
the label-noise levels of Tab. 17 and the format-reward grid of Tab. 14.

Each function returns ``{condition name: TrainConfig}`` ready for
``rlvr.experiments.compare``; every run gets its own folder under ``out``.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from .config import TrainConfig

# Tab. 5 rows 1-10: (policy-gradient loss, weight decay, KL loss, entropy loss).
TAB5_ROWS = {
    1: (False, False, False, False),
    2: (True, False, False, False),
    3: (True, True, False, False),
    4: (True, True, True, False),
    5: (True, True, True, True),  # the paper's default
    6: (True, True, True, "negative"),  # entropy coefficient -0.003 as printed
    7: (True, False, False, True),
    8: (False, True, True, False),
    9: (False, True, True, True),
    10: (False, False, False, True),  # entropy only
}
PAPER_WEIGHT_DECAY, PAPER_BETA = 0.01, 0.001
UNGUESSABLE_LABEL = "929725"  # Tab. 5 row 13's label: no rollout will ever say it


def _folder(out: str | Path, name: str) -> str:
    return str(Path(out) / name.replace(" ", "-").replace(",", "").replace("=", "").replace("(", "").replace(")", ""))


def tab5(base: TrainConfig, out: str | Path, rows=tuple(TAB5_ROWS), entropy_coef: float = 0.001) -> dict[str, TrainConfig]:
    """Tab. 5's switch rows on ``base``: each switch on takes the paper's value
    (weight decay 0.01, KL beta 0.001, entropy ``entropy_coef``), off is zero."""
    conditions = {}
    for row in rows:
        if row not in TAB5_ROWS:
            raise ValueError(f"Tab. 5 row {row!r}: rows 1-10 are switches (11-13 are labels: see label_rows)")
        pg, wd, kl, ent = TAB5_ROWS[row]
        coef = -0.003 if ent == "negative" else (entropy_coef if ent else 0.0)
        terms = (("PG", pg), ("WD", wd), ("KL", kl), (f"Ent {coef:g}", ent))
        name = f"row {row}: " + (" + ".join(n for n, on in terms if on) or "nothing")
        conditions[name] = replace(base, pg_loss_coef=1.0 if pg else 0.0, weight_decay=PAPER_WEIGHT_DECAY if wd else 0.0,
                                   beta=PAPER_BETA if kl else 0.0, entropy_coef=coef,
                                   output_dir=_folder(out, f"row{row}")).validate()
    return conditions


def label_rows(base: TrainConfig, out: str | Path, correct: str, wrong: str) -> dict[str, TrainConfig]:
    """Tab. 5 rows 11-13 on one example: the right label, a wrong but reachable
    one (the paper's "4"), and one no rollout can reach (929725)."""
    labels = {"right label": correct, f"wrong label ({wrong})": wrong, f"unguessable label ({UNGUESSABLE_LABEL})": UNGUESSABLE_LABEL}
    return {name: replace(base, label=label, output_dir=_folder(out, f"label-{label}")).validate() for name, label in labels.items()}


def label_noise(base: TrainConfig, out: str | Path, levels=(0.0, 0.6, 0.9)) -> dict[str, TrainConfig]:
    """Tab. 17: full-set training with a share of labels made wrong."""
    return {f"{int(level * 100)}% wrong labels": replace(base, label_noise=level, output_dir=_folder(out, f"noise-{int(level * 100)}")).validate()
            for level in levels}


def tab14(one_shot: TrainConfig, out: str | Path, full_set: TrainConfig | None = None, entropy_coef: float = 0.001) -> dict[str, TrainConfig]:
    """Tab. 14: outcome against format reward, with and without the entropy bonus."""
    conditions = {}
    for reward in ("outcome", "format"):
        for ent in (True, False):
            name = f"1-shot, {reward}, {'with' if ent else 'no'} entropy"
            conditions[name] = replace(one_shot, reward=reward, entropy_coef=entropy_coef if ent else 0.0,
                                       output_dir=_folder(out, f"1shot-{reward}-ent{int(ent)}")).validate()
    if full_set is not None:
        conditions["full set, format, with entropy"] = replace(full_set, reward="format", entropy_coef=entropy_coef,
                                                               output_dir=_folder(out, "full-format-ent1")).validate()
    return conditions


def headline(base: TrainConfig, out: str | Path, example: list[str]) -> dict[str, TrainConfig]:
    """The quickstart's three runs: 1-shot (outcome), 1-shot (format), full set (outcome)."""
    one = replace(base, examples=list(example))
    return {
        "1-shot (outcome)": replace(one, output_dir=_folder(out, "1shot-outcome")).validate(),
        "1-shot (format)": replace(one, reward="format", output_dir=_folder(out, "1shot-format")).validate(),
        "full set (outcome)": replace(base, examples=None, example_rank=None, output_dir=_folder(out, "full-set")).validate(),
    }
