"""The paper's own numbers, to put beside ours.

Wang et al., "Reinforcement Learning for Reasoning in Large Language Models with
One Training Example" (arXiv 2504.20571, v3), Qwen2.5-Math-1.5B unless a row
says otherwise. These are the published figures, transcribed; nothing here is
measured by this project. Each notebook ends with ``side_by_side(ours, table)``.

Accuracies in %, MATH500/Minerva/OlympiadBench greedy, AIME24/AIME25/AMC23
avg@8 at temperature 0.6, as in the paper's Qwen2.5-Math evaluation.
"""

from __future__ import annotations

import pandas as pd

BENCHMARKS = ["MATH500", "AIME24", "AMC23", "Minerva", "OlympiadBench", "AIME25"]

# Tab. 8: the main table (checkpoint with the best average of the six benchmarks).
_TAB8 = [
    ("base", "-", 0, 36.0, 6.7, 28.1, 8.1, 22.2, 4.6, 17.6),
    ("MATH train", "outcome", 7500, 74.4, 20.0, 54.1, 29.0, 34.1, 8.3, 36.7),
    ("DSR-sub", "outcome", 1209, 73.6, 17.1, 50.6, 32.4, 33.6, 8.3, 35.9),
    ("DSR-sub", "format", 1209, 65.0, 8.3, 45.9, 17.6, 29.9, 5.4, 28.7),
    ("{pi_1}", "outcome", 1, 72.8, 15.4, 51.6, 29.8, 33.5, 7.1, 35.0),
    ("{pi_13}", "outcome", 1, 73.6, 16.7, 53.8, 23.5, 35.7, 10.8, 35.7),
    ("{pi_1, pi_13}", "outcome", 2, 74.8, 17.5, 53.1, 29.4, 36.7, 7.9, 36.6),
]

# Tab. 5: ablations on pi_1 (best MATH500 and best AIME24 checkpoints separately).
_TAB5 = [
    # row, pg loss, weight decay, KL, entropy coef, label, train converges, MATH500, AIME24
    (1, False, False, False, 0.0, "12.8", False, 39.8, 7.5),
    (2, True, False, False, 0.0, "12.8", True, 71.8, 15.4),
    (3, True, True, False, 0.0, "12.8", True, 71.4, 16.3),
    (4, True, True, True, 0.0, "12.8", True, 70.8, 15.0),
    (5, True, True, True, 0.001, "12.8", True, 74.8, 17.5),
    # Printed "coef −0.003" in the paper's sign, where its default bonus is α = −0.001: three times
    # the bonus (the reference run's entropy_coeff=0.003), 0.003 in this table's (and TrainConfig's) sign.
    (6, True, True, True, 0.003, "12.8", True, 73.6, 15.4),
    (7, True, False, False, 0.001, "12.8", True, 75.6, 17.1),
    (8, False, True, True, 0.0, "12.8", False, 39.0, 10.0),
    (9, False, True, True, 0.001, "12.8", False, 65.4, 7.1),
    (10, False, False, False, 0.001, "12.8", False, 63.4, 8.8),
    (11, True, True, True, 0.001, "12.7", True, 73.4, 17.9),
    (12, True, True, True, 0.001, "4", True, 57.0, 9.2),
    (13, True, True, True, 0.001, "929725", False, 64.4, 9.6),
]

# Tab. 14: format against outcome reward, with and without the entropy bonus;
# each benchmark's accuracy and its share of boxed answers.
_TAB14 = [
    ("base", "-", False, [36.0, 6.7, 28.1, 8.1, 22.2, 4.6, 17.6], [60, 75, 83, 59, 76, 81, 72]),
    ("DSR-sub", "outcome", True, [73.6, 17.1, 50.6, 32.4, 33.6, 8.3, 35.9], [100, 99, 100, 99, 99, 100, 99]),
    ("DSR-sub", "format", True, [65.0, 8.3, 45.9, 17.6, 29.9, 5.4, 28.7], [94, 83, 94, 89, 92, 90, 91]),
    ("DSR-sub", "format", False, [61.4, 9.6, 44.7, 16.5, 29.5, 3.8, 27.6], [93, 87, 94, 83, 90, 87, 89]),
    ("{pi_1}", "outcome", True, [72.8, 15.4, 51.6, 29.8, 33.5, 7.1, 35.0], [97, 92, 97, 92, 88, 93, 93]),
    ("{pi_1}", "outcome", False, [68.2, 15.4, 49.4, 25.0, 31.7, 5.8, 32.6], [97, 92, 95, 94, 91, 90, 93]),
    ("{pi_1}", "format", True, [65.4, 8.8, 43.8, 22.1, 31.6, 3.8, 29.2], [96, 91, 98, 91, 90, 88, 92]),
    ("{pi_1}", "format", False, [61.6, 8.3, 46.2, 15.4, 29.3, 4.6, 27.6], [92, 84, 90, 78, 89, 86, 88]),
]

# Tab. 16: the in-context baseline.
_TAB16 = [
    ("Qwen2.5-Math-1.5B", "-", "base", 36.0, 6.7, 28.1, 8.1, 22.2, 4.6, 17.6),
    ("Qwen2.5-Math-1.5B", "{pi_1}", "RLVR", 72.8, 15.4, 51.6, 29.8, 33.5, 7.1, 35.0),
    ("Qwen2.5-Math-1.5B", "{pi_1}", "in-context", 59.0, 8.3, 34.7, 19.9, 25.6, 5.4, 25.5),
    ("Qwen2.5-Math-1.5B", "Qwen official 4 ex.", "in-context", 49.8, 1.7, 16.9, 19.9, 19.9, 0.0, 18.0),
    ("Qwen2.5-Math-1.5B", "Qwen official ex. 1", "in-context", 34.6, 2.5, 14.4, 12.1, 21.0, 0.8, 14.2),
    ("Qwen2.5-Math-7B", "-", "base", 51.0, 12.1, 35.3, 11.0, 18.2, 6.7, 22.4),
    ("Qwen2.5-Math-7B", "{pi_1}", "RLVR", 79.2, 23.8, 60.3, 27.9, 39.1, 10.8, 40.2),
    ("Qwen2.5-Math-7B", "{pi_1}", "in-context", 75.4, 15.8, 48.4, 30.1, 41.3, 13.3, 37.4),
    ("Qwen2.5-Math-7B", "Qwen official 4 ex.", "in-context", 59.2, 4.2, 20.9, 20.6, 24.4, 0.8, 21.7),
    ("Qwen2.5-Math-7B", "Qwen official ex. 1", "in-context", 54.0, 4.2, 23.4, 18.4, 21.2, 2.1, 20.6),
]

# Tab. 17: random wrong labels in DSR-sub (GRPO rows; the PPO rows are _PPO's).
_TAB17 = [
    ("DSR-sub", 0.0, 73.6, 17.1, 50.6, 32.4, 33.6, 8.3, 35.9),
    ("DSR-sub", 0.6, 71.8, 17.1, 47.8, 29.4, 34.4, 7.1, 34.6),
    ("DSR-sub", 0.9, 67.8, 14.6, 46.2, 21.0, 32.3, 5.4, 31.2),
    ("{pi_1}", 0.0, 72.8, 15.4, 51.6, 29.8, 33.5, 7.1, 35.0),
]

# PPO, Qwen2.5-Math-1.5B: Tab. 4 (the base, DSR-sub and pi_1) and Tab. 17's PPO rows (wrong labels).
_PPO = [
    ("base", 0.0, 36.0, 6.7, 28.1, 8.1, 22.2, 4.6, 17.6),
    ("DSR-sub", 0.0, 72.8, 19.2, 48.1, 27.9, 35.0, 9.6, 35.4),
    ("DSR-sub", 0.6, 71.6, 13.3, 49.1, 27.2, 34.4, 12.1, 34.6),
    ("DSR-sub", 0.9, 68.2, 15.8, 50.9, 26.1, 31.9, 4.6, 32.9),
    ("{pi_1}", 0.0, 72.4, 11.7, 51.6, 26.8, 33.3, 7.1, 33.8),
]

# Post-saturation (section 3 and Tab. 15): pi_1's MATH500 accuracy and boxed share by step.
_TAB15 = [(0, 36.0, 59.6), (20, 53.8, 83.6), (60, 69.8, 97.4), (500, 70.4, 96.6), (1300, 72.2, 96.6),
          (1860, 74.0, 94.2)]


# Section 8 of the reference notes: the top of the paper's ranking of DSR-sub by
# historical variance (a 500-step full-set run's per-epoch accuracies).
_PI = [
    (1, "124", 0.4068, 0.441, "12.8"), (2, "267", 0.3961, 0.350, "24"), (3, "531", 0.3377, 0.474, "7560"),
    (4, "931", 0.3245, 0.635, "25"), (5, "212", 0.3155, 0.593, "288"), (6, "25", 0.3133, 0.571, "32"),
    (7, "568", 0.3090, 0.478, "10"), (8, "131", 0.3068, 0.816, "13"), (9, "649", 0.2998, 0.677, "144"),
    (10, "724", 0.2946, 0.578, "8996734080"), (11, "875", 0.2779, 0.530, "42"), (12, "925", 0.2744, 0.477, "20"),
    (13, "682", 0.2726, 0.549, "\\frac{4}{3}"),
]


def _wide(rows, keys) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=[*keys, *BENCHMARKS, "average"])


# Not this paper's: Shao et al. 2025, "Spurious Rewards" (arXiv 2506.10947), the absolute MATH-500
# gain (points) of Qwen2.5-Math-7B after RLVR with each training signal, as its abstract states
# them in its first version and in a later one.
_SPURIOUS = [
    ("ground truth", 29.1, 28.8),
    ("majority", 27.1, 26.5),
    ("one-shot RL", 26.0, 24.4),
    ("incorrect label", 24.1, 24.6),
    ("random", 21.4, 21.4),
    ("format", 13.8, 16.4),
]


def table(name: str) -> pd.DataFrame:
    """One of the paper's tables as a DataFrame: ``"tab5"``, ``"tab8"``, ``"tab14"``,
    ``"tab15"``, ``"tab16"``, ``"tab17"``, ``"ppo"`` (Tab. 4 and Tab. 17's PPO rows), or ``"pi"``
    (the top of the paper's ranking); and
    ``"spurious"``, another paper's (Shao et al. 2025): MATH-500 gains by training signal.

    >>> table("tab8").set_index("dataset").loc["{pi_1}", "MATH500"]
    72.8
    """
    if name == "tab8":
        return _wide(_TAB8, ["dataset", "reward", "size"])
    if name == "pi":
        return pd.DataFrame(_PI, columns=["rank", "example_id", "score", "mean_accuracy", "label"])
    if name == "tab5":
        return pd.DataFrame(
            _TAB5,
            columns=[
                "row",
                "pg_loss",
                "weight_decay",
                "kl",
                "entropy_coef",
                "label",
                "train_converges",
                "MATH500",
                "AIME24",
            ],
        )
    if name == "tab14":
        rows = []
        for dataset, reward, entropy, acc, boxed in _TAB14:
            for bench, a, b in zip([*BENCHMARKS, "average"], acc, boxed):
                rows.append(
                    {
                        "dataset": dataset,
                        "reward": reward,
                        "entropy": entropy,
                        "benchmark": bench,
                        "accuracy": a,
                        "boxed": float(b),
                    }
                )
        return pd.DataFrame(rows)
    if name == "tab15":
        return pd.DataFrame(_TAB15, columns=["step", "MATH500", "boxed"])
    if name == "tab16":
        return _wide(_TAB16, ["model", "data", "method"])
    if name == "tab17":
        return _wide(_TAB17, ["dataset", "label_noise"])
    if name == "ppo":
        return _wide(_PPO, ["dataset", "label_noise"])
    if name == "spurious":
        return pd.DataFrame(_SPURIOUS, columns=["signal", "MATH500 gain (v1)", "MATH500 gain (later)"]).assign(
            source="Shao et al. 2025, arXiv 2506.10947 (Qwen2.5-Math-7B)")
    raise ValueError(f"unknown table {name!r}; choose tab5, tab8, tab14, tab15, tab16, tab17, ppo or spurious")


def side_by_side(
    ours: pd.DataFrame,
    paper: pd.DataFrame,
    on: str | list[str],
    ours_label: str = "this run",
    paper_label: str = "paper",
) -> pd.DataFrame:
    """Our rows next to the paper's, matched on ``on``; missing rows stay empty.

    Every other column gets a suffix saying whose number it is, so a reader
    never mistakes a published figure for a measured one.
    """
    on = [on] if isinstance(on, str) else list(on)
    ours = ours.rename(columns={c: f"{c} ({ours_label})" for c in ours.columns if c not in on})
    paper = paper.rename(columns={c: f"{c} ({paper_label})" for c in paper.columns if c not in on})
    return ours.merge(paper, on=on, how="outer")


def with_keys(
    ours: pd.DataFrame, mapping: dict[str, tuple], keys=("dataset", "reward"), column: str = "condition"
) -> pd.DataFrame:
    """Add the paper's row keys to our rows: ``mapping`` takes a value of
    ``column`` (a condition name) to the matching paper row's ``keys``."""
    ours = ours.copy()
    for i, key in enumerate(keys):
        ours[key] = ours[column].map(lambda name: mapping.get(name, (None,) * len(keys))[i])
    return ours
