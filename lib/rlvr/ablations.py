"""The paper's experiments as config changes: each Tab. 5 row, the label rows,
the label-noise levels of Tab. 17, the format-reward grid of Tab. 14 and the
headline conditions (Tab. 8) the quickstart runs.

Each function returns ``{condition name: TrainConfig}`` ready for
``rlvr.runs.compare``; every run gets its own folder under ``out``. The
settings a grid sets (``GRID_FIELDS``) replace the base config's values.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from . import paper
from .config import TrainConfig, preset
from .rundir import slug

# The TrainConfig fields each grid sets itself (a notebook refuses them as `train` overrides).
GRID_FIELDS = {
    "beyond": ("reward", "pg_loss_coef", "entropy_coef", "advantage"),
    "tab5": ("pg_loss_coef", "weight_decay", "beta", "entropy_coef"),
    "labels": ("label", "label_noise", "algorithm"),
    "tab14": ("reward", "entropy_coef"),
    "headline": ("reward", "examples"),
    "ppo": ("algorithm", "label_noise"),
}


def _folder(out: str | Path, name: str) -> str:
    return str(Path(out) / slug(name))


def _tab5() -> dict:
    return {int(r["row"]): r for r in paper.table("tab5").to_dict("records")}


def unguessable_label() -> str:
    """Tab. 5 row 13's label: one no rollout will ever say."""
    return str(_tab5()[13]["label"])


def tab5(
    base: TrainConfig, out: str | Path, rows=range(1, 11), entropy_coef: float | None = None
) -> dict[str, TrainConfig]:
    """Tab. 5's switch rows on ``base``, read from the paper's table: a term switched on
    takes the paper's value (weight decay and KL beta of the ``paper`` preset, the
    row's entropy coefficient), off is zero. ``entropy_coef`` replaces the paper's
    default bonus (0.001, row 5); row 6, the paper's three-times bonus, takes three times it.
    Row 13 (every term on, a label no rollout can say) is allowed too: its reward is always 0,
    so only the terms without the reward train, as in row 10. Rows 11 and 12 are wrong labels
    chosen for pi_1's answer (see ``label_rows``)."""
    table, recipe = _tab5(), preset("paper")
    default = table[5]["entropy_coef"]
    conditions = {}
    for row in rows:
        if row not in table or (table[row]["label"] != table[1]["label"] and row != 13):
            raise ValueError(f"Tab. 5 row {row!r}: rows 1-10 are switches and 13 the unguessable label "
                             "(11 and 12 are labels chosen for pi_1: see label_rows)")
        r = table[row]
        coef = r["entropy_coef"] if entropy_coef is None else round(r["entropy_coef"] / default * entropy_coef, 12)
        terms = (("PG", r["pg_loss"]), ("WD", r["weight_decay"]), ("KL", r["kl"]), (f"Ent {coef:g}", coef != 0))
        name = f"row {row}: " + (" + ".join(n for n, on in terms if on) or "nothing")
        label = {"label": unguessable_label()} if row == 13 else {}
        if label:
            name += f", label {label['label']}"
        conditions[name] = replace(
            base,
            **label,
            pg_loss_coef=1.0 if r["pg_loss"] else 0.0,
            weight_decay=recipe.weight_decay if r["weight_decay"] else 0.0,
            beta=recipe.beta if r["kl"] else 0.0,
            entropy_coef=coef,
            output_dir=_folder(out, f"row{row}"),
        )
    return conditions


def label_rows(base: TrainConfig, out: str | Path, correct: str, close: str, reachable: str) -> dict[str, TrainConfig]:
    """Tab. 5 rows 11-13 on one example, beside its right label: a wrong label close to the
    right one (row 11's 12.7 for 12.8), a wrong label the model reaches (row 12's 4: here
    one of its own frequent wrong answers) and one no rollout can reach (row 13's)."""
    unreachable = unguessable_label()
    labels = {
        "right label": correct,
        f"close wrong label ({close})": close,
        f"reachable wrong label ({reachable})": reachable,
        f"unguessable label ({unreachable})": unreachable,
    }
    if len(set(labels.values())) < len(labels):
        raise ValueError(f"the four labels must differ, got {labels}")
    return {
        name: replace(base, label=label, output_dir=_folder(out, f"label-{label}")) for name, label in labels.items()
    }


def label_noise(base: TrainConfig, out: str | Path, levels=(0.0, 0.6, 0.9),
                algorithms=("grpo",)) -> dict[str, TrainConfig]:
    """Tab. 17: full-set training with a share of labels made wrong, by each of ``algorithms``
    (the paper has GRPO and PPO rows). GRPO's conditions are ``"60% wrong labels"``, another
    algorithm's ``"PPO, 60% wrong labels"``."""
    conditions = {}
    for algorithm in algorithms:
        prefix, suffix = ("", "") if algorithm == "grpo" else (f"{algorithm.upper()}, ", f"-{algorithm}")
        for level in levels:
            percent = int(level * 100)
            conditions[f"{prefix}{percent}% wrong labels"] = replace(
                base, algorithm=algorithm, label_noise=level, output_dir=_folder(out, f"noise-{percent}{suffix}"))
    return conditions


def noise_level(condition: str) -> tuple[str, int] | None:
    """``(algorithm, percent)`` of a ``label_noise`` condition's name (None for another name)."""
    algorithm, _, rest = condition.rpartition(", ")
    if not rest.endswith("% wrong labels"):
        return None
    return (algorithm.lower() or "grpo"), int(rest.split("%")[0])


def tab14(
    one_shot: TrainConfig, out: str | Path, full_set: TrainConfig | None = None, entropy_coef: float | None = None
) -> dict[str, TrainConfig]:
    """Tab. 14: outcome against format reward, with and without the entropy bonus
    (``entropy_coef``, default the paper's)."""
    coef = preset("paper").entropy_coef if entropy_coef is None else entropy_coef
    conditions = {}
    for reward in ("outcome", "format"):
        for ent in (True, False):
            name = f"1-shot, {reward}, {'with' if ent else 'no'} entropy"
            conditions[name] = replace(
                one_shot,
                reward=reward,
                entropy_coef=coef if ent else 0.0,
                output_dir=_folder(out, f"1shot-{reward}-ent{int(ent)}"),
            )
    if full_set is not None:
        conditions["full set, format, with entropy"] = replace(
            full_set, reward="format", entropy_coef=coef, output_dir=_folder(out, "full-format-ent1")
        )
    return conditions


# The follow-up literature's training signals, each a change from 1-shot RLVR with the outcome reward
# (08_beyond_the_paper): name -> (TrainConfig fields, folder).
BEYOND = {
    "outcome": ({}, "outcome"),
    "format": ({"reward": "format"}, "format"),
    "random": ({"reward": "random"}, "random"),                       # Shao et al. 2025, p = reward_p
    "majority": ({"reward": "majority"}, "majority"),                 # TTRL, Zuo et al. 2025
    "entropy minimisation": ({"pg_loss_coef": 0.0, "entropy_coef": -0.001}, "em"),  # one-shot EM, no reward
    "PSR": ({"advantage": "algorithm-positive"}, "psr"),              # GRPO's sign, a stand-in for Zhu et al.'s
    "NSR": ({"advantage": "algorithm-negative"}, "nsr"),
    "PSR (Zhu et al.)": ({"advantage": "psr"}, "psr-zhu"),            # Zhu et al. 2025: +1 / 0, no normalisation
    "NSR (Zhu et al.)": ({"advantage": "nsr"}, "nsr-zhu"),            # 0 / -1, all-wrong groups included
    "W-REINFORCE (Zhu et al.)": ({"advantage": "w-reinforce"}, "w-reinforce"),  # lambda / -1
}


def beyond(one_shot: TrainConfig, out: str | Path, names=tuple(BEYOND),
           full_set: TrainConfig | None = None) -> dict[str, TrainConfig]:
    """``BEYOND``'s conditions on the 1-shot config, and on ``full_set`` too when given."""
    if unknown := [n for n in names if n not in BEYOND]:
        raise ValueError(f"unknown condition(s) {', '.join(map(repr, unknown))}; choose from {', '.join(BEYOND)}")
    conditions = {}
    for prefix, base in (("1-shot", one_shot), ("full set", full_set)):
        if base is None:
            continue
        for name in names:
            fields, folder = BEYOND[name]
            conditions[f"{prefix}, {name}"] = replace(
                base, **{"reward": "outcome", "pg_loss_coef": 1.0, "advantage": "algorithm", **fields},
                output_dir=_folder(out, f"{'1shot' if prefix == '1-shot' else 'full'}-{folder}"))
    return conditions


def ppo_conditions(one_shot: TrainConfig, full_set: TrainConfig, out: str | Path) -> dict[str, TrainConfig]:
    """Tab. 4's PPO rows: GRPO and PPO on the 1-shot example and on the full set (Tab. 17's PPO rows,
    wrong labels, are ``label_noise``'s with ``algorithms=("grpo", "ppo")``)."""
    conditions = {}
    for prefix, base in (("1-shot", one_shot), ("full set", full_set)):
        for algorithm in ("grpo", "ppo"):
            folder = f"{'1shot' if prefix == '1-shot' else 'full'}-{algorithm}"
            conditions[f"{prefix}, {algorithm.upper()}"] = replace(base, algorithm=algorithm, label_noise=0.0,
                                                                   output_dir=_folder(out, folder))
    return conditions


def with_signal(conditions: dict[str, TrainConfig], names) -> list[str]:
    """The conditions ``beyond`` made for the signals ``names`` (1-shot and full set alike)."""
    return [c for c in conditions if c.split(", ", 1)[-1] in set(names)]


# The headline's conditions (Tab. 8 / 14): name -> (1-shot or full set, reward, folder).
# The paper's order (Tab. 14: the full set first), which is also the longest run first:
# side by side, the shorter 1-shot runs then share the other core instead of one waiting.
HEADLINE = {
    "full set (outcome)": (False, "outcome", "full-set"),
    "1-shot (outcome)": (True, "outcome", "1shot-outcome"),
    "1-shot (format)": (True, "format", "1shot-format"),
}


def headline_conditions(base: TrainConfig, out: str | Path, example: str) -> dict[str, TrainConfig]:
    """The headline's runs on ``base``: 1-shot on ``example`` (outcome reward), the same
    with the format-only reward, and the full set (outcome) with the same batch and steps."""
    conditions = {}
    for name, (one_shot, reward, folder) in HEADLINE.items():
        examples = [example] if one_shot else None
        conditions[name] = replace(
            base, examples=examples, example_rank=None, reward=reward, output_dir=_folder(out, folder)
        )
    return conditions
