"""From evaluation and step tables to the numbers the notebooks report."""

import pandas as pd
from rlvr import analysis


def eval_table():
    return pd.DataFrame({
        "step": [0, 0, 50, 50],
        "subject": ["linear", "counting", "linear", "counting"],
        "correct": [True, True, True, True],  # by the evaluation protocol
        "strict": [False, True, True, True],  # by the training reward's rule
        "has_box": [False, True, True, True],
        "run_on": [False, True, False, False],
        "n_tokens": [5, 9, 3, 4],
        "rethink": [0, 0, 0, 0], "recheck": [0, 0, 0, 1], "recalculate": [0, 0, 0, 0],
    })


def test_score_names_every_score_once_per_group():
    scores = analysis.score(eval_table()).set_index("step")
    assert scores.loc[0, "strict"] == 0.5 and scores.loc[0, "eval"] == 1.0 and scores.loc[0, "run_on"] == 0.5
    assert scores.loc[50, "strict"] == 1.0 and scores.loc[50, "length"] == 3.5 and scores.loc[50, "n"] == 2
    assert set(scores.columns) == {n for n, (column, _, _) in analysis.SCORES.items() if column in eval_table()}
    assert analysis.percent(scores).loc[0, "strict"] == 50.0
    by_subject = analysis.score(eval_table(), ["step", "subject"])
    assert len(by_subject) == 4
    assert analysis.reflection_frequency(eval_table()).set_index("step").loc[50, "recheck"] == 0.5


def test_training_saturation_and_train_against_test():
    steps = pd.DataFrame({"step": range(1, 11), "train_accuracy": [0.2, 0.4, 0.6, 0.9, 1, 1, 1, 1, 1, 1]})
    assert analysis.saturation_step(steps, threshold=0.9, window=3) == 6
    assert analysis.converged(steps) is False and analysis.converged(steps, last=5) is True
    both = analysis.train_vs_test(steps, analysis.score(eval_table()))
    assert pd.isna(both.set_index("step").loc[0, "train_accuracy"])  # the base model has no training batch


def test_best_step_and_samples_at():
    results = pd.DataFrame({"condition": list("aabb"), "step": [25, 50, 25, 50], "strict": [0.3, 0.2, 0.1, 0.4]})
    assert analysis.best_step(results).set_index("condition")["step"].to_dict() == {"a": 25, "b": 50}
    # Two tables stacked keep their own indexes (0, 1, 0, 1): each condition still gets its own best row.
    stacked = pd.concat([results[:2].reset_index(drop=True), results[2:].reset_index(drop=True)])
    best = analysis.best_step(stacked)
    assert best[["condition", "step", "strict"]].values.tolist() == [["a", 25, 0.3], ["b", 50, 0.4]]
    samples = pd.DataFrame({"step": [1, 1, 5, 9], "completion": list("abcd")})
    assert analysis.samples_at(samples, [1, 8], n=1)["completion"].tolist() == ["a", "d"]


def test_the_base_model_overtaking_a_trained_one_at_large_k():
    ks = [1, 2, 4, 8, 16]
    curves = pd.concat([
        pd.DataFrame({"model": "base", "k": ks, "pass_at_k": [0.10, 0.20, 0.40, 0.60, 0.80]}),
        pd.DataFrame({"model": "1-shot", "k": ks, "pass_at_k": [0.30, 0.40, 0.45, 0.55, 0.60]}),
        pd.DataFrame({"model": "full set", "k": ks, "pass_at_k": [0.40, 0.50, 0.60, 0.70, 0.85]}),
    ])
    found = analysis.pass_at_crossing(curves).set_index("model")
    assert found.loc["1-shot", "crossing_k"] == 8  # 0.60 >= 0.55: the base has caught up at k = 8
    assert round(found.loc["1-shot", "lead_at_k1"], 2) == 0.20
    assert pd.isna(found.loc["full set", "crossing_k"])  # still ahead at the largest k sampled
    assert round(found.loc["full set", "gap_at_largest_k"], 2) == 0.05
    # Seeds are averaged first: one seed's crossing does not make it.
    other_seed = pd.concat([
        pd.DataFrame({"model": "base", "k": ks, "pass_at_k": [0.10, 0.20, 0.30, 0.40, 0.50]}),
        pd.DataFrame({"model": "1-shot", "k": ks, "pass_at_k": [0.90] * 5}),
    ])
    seeds = pd.concat([curves[curves["model"] != "full set"].assign(seed=0), other_seed.assign(seed=1)])
    assert pd.isna(analysis.pass_at_crossing(seeds).set_index("model").loc["1-shot", "crossing_k"])


def test_mechanism_signals_say_whether_the_clip_and_the_all_wrong_groups_could_act():
    # Two updates per rollout batch: the second of each pair is off the sampling policy.
    off_policy = pd.DataFrame({
        "step": [1, 2, 3, 4], "rollout_step": [1, 1, 3, 3],
        "clip_ratio_region_mean": [0.0, 0.02, 0.0, 0.04],
        "advantage_all_wrong_groups": [0.5, None, 1.0, None], "advantage_all_wrong_weight": [0.6, None, 0.8, None],
        "entropy": [0.4, 0.4, 0.2, 0.2],
    }).assign(condition="random, clip")
    on_policy = pd.DataFrame({"step": [1, 2], "rollout_step": [1, 2], "clip_ratio_region_mean": [0.0, 0.0],
                              "entropy": [0.3, 0.5]}).assign(condition="cpu recipe")
    signals = analysis.mechanism_signals(pd.concat([off_policy, on_policy]), window=1).set_index("condition")
    assert round(signals.loc["random, clip", "clipped"], 3) == 0.03  # the off-policy updates' mean only
    assert (signals.loc["random, clip", "all_wrong_groups"], signals.loc["random, clip", "all_wrong_weight"]) == (
        0.75, 0.7)
    assert (signals.loc["random, clip", "entropy_start"], signals.loc["random, clip", "entropy_end"]) == (0.4, 0.2)
    # Every update on-policy: the ratio is 1 and the clip had nothing to act on (not "0%").
    assert pd.isna(signals.loc["cpu recipe", "clipped"]) and pd.isna(signals.loc["cpu recipe", "all_wrong_groups"])
    assert list(signals.columns) == list(analysis.SIGNALS)


def test_whether_checking_pays_on_the_training_example_before_and_after_saturation():
    samples = pd.DataFrame({
        "step": [1, 1, 2, 2, 30, 30, 31, 31],
        "completion": ["4 + 3 = 8. Recheck: 8 - 3 = 4. \\boxed{8}", "4 + 3 = 7. \\boxed{7}",
                       "4 + 3 = 7. \\boxed{7}", "4 + 3 = 6. \\boxed{6}",
                       "4 + 3 = 7. Recheck: 7 - 3 = 4. \\boxed{7}", "4 + 3 = 7. \\boxed{7}",
                       "4 + 3 = 7. \\boxed{7}", "4 + 3 = 7. \\boxed{7}"],
        "correct": [False, True, True, False, True, True, True, True],
    })
    payoff = analysis.reflection_payoff(samples, saturation=10).set_index("phase")
    early, late = payoff.loc["up to saturation"], payoff.loc["after saturation"]
    assert (early["rollouts"], early["checking"], early["solved_checking"]) == (4, 0.25, 0.0)
    assert round(early["solved_other"], 3) == 0.667  # checking went with the wrong answer: the gradient lowers it
    assert (late["checking"], late["solved_checking"], late["solved_other"]) == (0.25, 1.0, 1.0)
    assert analysis.reflection_payoff(samples)["phase"].tolist() == ["all"]
    assert analysis.reflection_payoff(samples.iloc[:0]).empty  # a run that kept no samples
