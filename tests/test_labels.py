"""Label overrides and the paper's label-noise recipe."""

import pandas as pd
import pytest
from datasets import Dataset
from rlvr.grading import grade
from rlvr.labels import corrupt_labels, override_label


def one_shot(label="12.8", copies=4):
    return pd.DataFrame({"id": ["pi_1"] * copies, "problem": ["wind speed"] * copies, "answer": [label] * copies})


@pytest.mark.parametrize("label", ["12.7", "4", "929725"])  # Tab. 5 rows 11-13
def test_override_relabels_a_one_shot_dataset(label):
    out = override_label(one_shot(), label)
    assert out["answer"].tolist() == [label] * 4
    assert out["original_answer"].tolist() == ["12.8"] * 4
    assert out["label_changed"].all()
    assert set(out["label_change"]) == {"override"}


def test_override_by_id_keeps_other_rows_and_the_input_type():
    ds = Dataset.from_dict({"id": [124, 682], "problem": ["a", "b"], "answer": ["12.8", "\\frac{2}{3}"]})
    out = override_label(ds, "4", ids=[124])
    assert isinstance(out, Dataset)
    assert out["answer"] == ["4", "\\frac{2}{3}"]
    assert out["label_changed"] == [True, False]
    with pytest.raises(ValueError, match="none of the ids"):
        override_label(ds, "4", ids=[999])


def noisy_set(n=200):
    answers = []
    for i in range(n):
        kind = i % 5
        answers.append(
            [str(i * 7 - 300), f"\\frac{{{i % 9 + 1}}}{{{i % 7 + 2}}}", f"{i}.25", f"{i % 5 + 2}\\sqrt{{3}}", "\\pi"][
                kind
            ]
        )
    return pd.DataFrame({"id": range(n), "problem": [f"p{i}" for i in range(n)], "answer": answers})


@pytest.mark.parametrize("fraction", [0.0, 0.6, 0.9])  # Tab. 17's error rates
def test_corruption_changes_exactly_the_fraction_and_every_changed_label_is_wrong(fraction):
    data = noisy_set()
    out = corrupt_labels(data, fraction, seed=3)
    changed = out[out["label_changed"]]
    assert len(changed) == round(fraction * len(data))
    assert (out["original_answer"] == data["answer"]).all()
    for new, old in zip(changed["answer"], changed["original_answer"]):
        assert not grade("\\boxed{" + new + "}", old), (new, old)
    untouched = out[~out["label_changed"]]
    assert (untouched["answer"] == untouched["original_answer"]).all()


def test_corruption_follows_the_papers_recipe():
    out = corrupt_labels(noisy_set(), 1.0, seed=0)
    kinds = dict(zip(out["original_answer"], out["label_change"]))
    assert kinds["-300"] == "integer" and kinds["\\frac{1}{2}"] == "fraction"
    assert kinds["\\pi"] == "swap"  # no number to perturb: another row's label
    for new, old, kind in zip(out["answer"], out["original_answer"], out["label_change"]):
        if kind == "integer":  # +-(1..10), then the sign flipped at random
            assert abs(abs(int(new)) - abs(int(old))) <= 10 or abs(int(new) + int(old)) <= 10
        if kind == "fraction":
            assert new.lstrip("-").startswith("\\frac{")
    signs = {int(n) < 0 for n, k in zip(out["answer"], out["label_change"]) if k == "integer"}
    assert signs == {True, False}


def test_corruption_is_seeded():
    a = corrupt_labels(noisy_set(), 0.6, seed=1)
    b = corrupt_labels(noisy_set(), 0.6, seed=1)
    c = corrupt_labels(noisy_set(), 0.6, seed=2)
    assert a.equals(b)
    assert not a["answer"].equals(c["answer"])


def test_bad_input_is_refused_clearly():
    with pytest.raises(ValueError, match="within \\[0, 1\\]"):
        corrupt_labels(noisy_set(), 1.5)
    with pytest.raises(ValueError, match="no 'answer' column"):
        corrupt_labels(pd.DataFrame({"label": ["1"]}), 0.5)
