"""Figures from tidy tables (seaborn). Each returns its matplotlib Figure.

Every function takes the tables ``rlvr.analysis`` returns, so a figure can be
redrawn from the CSV/Parquet a notebook saved, without rerunning anything.
"""

from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

LABELS = {
    "strict": "accuracy (training reward's rule)",
    "eval": "accuracy (evaluation protocol)",
    "boxed": "share with \\boxed{}",
    "run_on": "share running on",
    "length": "response tokens",
    "train_accuracy": "training accuracy",
    "train_accuracy_smooth": "training accuracy (rolling mean)",
}


def curves(results: pd.DataFrame, metrics: Sequence[str] = ("strict", "boxed"), hue: str = "condition",
           x: str = "step", title: str | None = None):
    """One panel per metric against steps, a line per ``hue`` (mean and spread over seeds)."""
    long = results.melt(id_vars=[c for c in results.columns if c not in metrics], value_vars=list(metrics),
                        var_name="metric", value_name="value")
    grid = sns.relplot(data=long, x=x, y="value", hue=hue if hue in long else None, col="metric", kind="line",
                       marker="o", height=3.2, aspect=1.25, facet_kws={"sharey": False}, errorbar="sd")
    for ax, metric in zip(grid.axes.flat, metrics):
        ax.set_title(LABELS.get(metric, metric))
        ax.set_ylabel("")
    if title:
        grid.figure.suptitle(title, y=1.03)
    return grid.figure


def pass_at_curves(curves: pd.DataFrame, hue: str = "model", title: str | None = None):
    """pass@k against k (log scale), a line per model (mean and spread over seeds):
    the ``rlvr.evaluate.pass_at`` tables with a ``hue`` column."""
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    sns.lineplot(data=curves, x="k", y="pass_at_k", hue=hue, marker="o", errorbar="sd", ax=ax)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("k (samples a problem)")
    ax.set_ylabel("pass@k")
    ax.set_ylim(0, 1)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def train_test_curves(table: pd.DataFrame, test: str = "strict", title: str | None = None):
    """Training accuracy on the example against held-out accuracy over steps (post-saturation)."""
    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    train = table.dropna(subset=["train_accuracy_smooth"])
    ax.plot(train["step"], train["train_accuracy_smooth"], label=LABELS["train_accuracy_smooth"], color="tab:orange")
    ax.plot(table["step"], table[test], marker="o", label=f"test: {LABELS.get(test, test)}", color="tab:blue")
    ax.set_xlabel("step")
    ax.set_ylim(0, 1.02)
    ax.legend(loc="lower right")
    ax.set_title(title or "training accuracy saturates; test accuracy")
    fig.tight_layout()
    return fig


def by_subject(scores: pd.DataFrame, metric: str = "strict", title: str | None = None):
    """Heatmap: subject (or domain) against step."""
    wide = scores.pivot_table(index="subject", columns="step", values=metric)
    fig, ax = plt.subplots(figsize=(1.0 + 0.6 * wide.shape[1], 0.5 + 0.45 * wide.shape[0]))
    sns.heatmap(wide, annot=True, fmt=".2f", vmin=0, vmax=1, cmap="viridis", cbar=False, ax=ax)
    ax.set_title(title or f"{LABELS.get(metric, metric)} by subject")
    fig.tight_layout()
    return fig


def bars(table: pd.DataFrame, x: str, y: str = "strict", hue: str | None = None, title: str | None = None):
    """A bar per row (or per ``x`` and ``hue``): final or best accuracy per condition."""
    fig, ax = plt.subplots(figsize=(max(4.0, 0.9 * table[x].nunique() + 2), 3.4))
    sns.barplot(data=table, x=x, y=y, hue=hue, ax=ax, errorbar="sd")
    ax.set_ylabel(LABELS.get(y, y))
    ax.set_xlabel("")
    ax.tick_params(axis="x", rotation=20)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def training_steps(
    steps: pd.DataFrame,
    metrics: Sequence[str] = ("train_accuracy", "reward_std", "entropy", "completions_mean_length"),
    fig=None,
):
    """Per-step training curves from a run's step table (also used live while it trains)."""
    metrics = [m for m in metrics if m in steps]
    fig = fig or plt.figure(figsize=(3.2 * len(metrics), 2.8))
    fig.clear()
    axes = fig.subplots(1, len(metrics), squeeze=False)[0]
    for ax, metric in zip(axes, metrics):
        ax.plot(steps["step"], steps[metric], color="tab:blue", lw=1)
        ax.set_title(LABELS.get(metric, metric.replace("_", " ")), fontsize=10)
        ax.set_xlabel("step")
    fig.tight_layout()
    return fig


def histories(history: dict[str, list[float]], ids: Sequence[str], title: str | None = None):
    """Per-epoch training accuracy of some examples (what historical variance ranks)."""
    fig, ax = plt.subplots(figsize=(6.5, 3.4))
    for example in ids:
        ax.plot(range(1, len(history[example]) + 1), history[example], marker=".", label=example)
    ax.set_xlabel("epoch")
    ax.set_ylabel("mean reward of its rollouts")
    ax.set_ylim(-0.03, 1.03)
    ax.legend(fontsize=8, loc="best")
    ax.set_title(title or "accuracy history of the top-ranked examples")
    fig.tight_layout()
    return fig
