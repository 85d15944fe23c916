"""Historical-variance selection, checked against the reference run's history."""

import pandas as pd
from rlvr.selection import history_from_rollouts, load_history, rank_examples, ranking_table


def test_the_reference_history_ranks_pi1_and_pi13_as_the_paper(shared_data):
    history = load_history(shared_data / "selection" / "dsr_sub_history_accuracy_step500.json")
    ranking = rank_examples(history)
    assert len(ranking) == 1209
    assert ranking[0] == "124" and ranking[12] == "682"  # pi_1, pi_13
    table = ranking_table(history)
    assert table["score"].is_monotonic_decreasing
    assert (table["score"] == 0).sum() == 104  # 99 never solved + 5 always solved


def test_ties_keep_the_historys_key_order():
    history = {"b": [0.0, 1.0], "a": [1.0, 0.0], "c": [0.5, 0.5]}
    assert rank_examples(history) == ["b", "a", "c"]


def test_a_runs_rollouts_become_a_history_of_the_same_shape():
    rollouts = pd.DataFrame(
        {"example_id": ["x"] * 4 + ["y"] * 4, "epoch": [0, 0, 1, 1] * 2, "correct": [1, 0, 1, 1, 0, 0, 0, 1]}
    )
    assert history_from_rollouts(rollouts) == {"x": [0.5, 1.0], "y": [0.0, 0.5]}
