"""The paper's published tables, and putting ours beside them without mixing the two up."""

import pandas as pd
import pytest
from rlvr import paper


def test_the_headline_rows_are_the_papers():
    tab8 = paper.table("tab8").set_index("dataset")
    assert tab8.loc["base", "MATH500"] == 36.0 and tab8.loc["{pi_13}", "average"] == 35.7
    tab14 = paper.table("tab14").query("benchmark == 'MATH500'")
    assert tab14.query("dataset == '{pi_1}' and reward == 'format' and entropy")["accuracy"].item() == 65.4
    assert paper.table("tab5").set_index("row").loc[10, "MATH500"] == 63.4
    assert paper.table("pi").set_index("rank").loc[13, "example_id"] == "682"
    assert list(paper.table("tab17")["label_noise"]) == [0.0, 0.6, 0.9, 0.0]
    with pytest.raises(ValueError, match="tab8"):
        paper.table("tab99")


def test_side_by_side_labels_whose_number_is_whose():
    ours = paper.with_keys(pd.DataFrame({"condition": ["1-shot", "full"], "strict": [35.5, 45.0]}),
                           {"1-shot": ("{pi_1}", "outcome"), "full": ("DSR-sub", "outcome")})
    theirs = paper.table("tab8")[["dataset", "reward", "MATH500"]]
    both = paper.side_by_side(ours, theirs, on=["dataset", "reward"]).set_index("dataset")
    assert both.loc["{pi_1}", "strict (this run)"] == 35.5 and both.loc["{pi_1}", "MATH500 (paper)"] == 72.8
    assert pd.isna(both.loc["base", "strict (this run)"])  # a paper row we did not run stays empty
