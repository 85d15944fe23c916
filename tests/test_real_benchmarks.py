"""The grader against the paper's real benchmark answers (../shared/data/eval).

Every gold answer must grade right against itself (MATH500 also against the
last box of its reference solution) and wrong against another problem's
different answer, under both protocols.
"""

import json

import pytest
from math_verify import LatexExtractionConfig, parse, verify
from rlvr.grading import extract_boxed, grade_many


def gold_answers(shared_data, name):
    rows = [json.loads(line) for line in open(shared_data / "eval" / name / "test.jsonl")]
    if name == "math500":
        return [r["answer"] for r in rows], [extract_boxed(r["solution"]) for r in rows]
    if name == "minerva_math":
        return [extract_boxed(r["solution"]) for r in rows], None
    if name == "olympiadbench":
        return [r["final_answer"][0].strip("$") for r in rows], None
    raise ValueError(name)


def boxed(answers):
    return ["The final answer is $\\boxed{" + a + "}$." for a in answers]


def same_value(a, b, protocol):
    """Whether two golds are equal in value anyway (trusted data, plain math-verify)."""
    config = [LatexExtractionConfig(boxed_match_priority=0)]
    pa, pb = (parse("\\boxed{" + x + "}", extraction_config=config, parsing_timeout=None) for x in (a, b))
    if verify(pa, pb, timeout_seconds=None) or verify(pb, pa, timeout_seconds=None):
        return True
    if protocol == "eval":  # Qwen's evaluation also reads the gold as a percentage
        try:
            fa, fb = float(a), float(b)
            return any(abs(fb - x) <= 1e-4 * max(abs(fb), abs(x)) for x in (fa * 100, fa / 100))
        except ValueError:
            return False
    return False


BENCHMARKS = ["math500", "minerva_math", "olympiadbench"]


@pytest.mark.parametrize("protocol", ["train", "eval"])
@pytest.mark.parametrize("name", BENCHMARKS)
def test_every_gold_answer_grades_right_against_itself(shared_data, name, protocol):
    golds, solution_boxes = gold_answers(shared_data, name)
    ok = grade_many(boxed(golds), golds, protocol)
    misses = [g for g, o in zip(golds, ok) if not o]
    print(f"{name} {protocol}: {sum(ok)}/{len(ok)} agree with themselves")
    assert misses == []
    if solution_boxes:
        ok = grade_many(boxed(solution_boxes), golds, protocol)
        assert [(g, s) for g, s, o in zip(golds, solution_boxes, ok) if not o] == []


@pytest.mark.parametrize("protocol", ["train", "eval"])
@pytest.mark.parametrize("name", BENCHMARKS)
def test_another_problems_different_answer_grades_wrong(shared_data, name, protocol):
    golds, _ = gold_answers(shared_data, name)
    others = golds[1:] + golds[:1]
    ok = grade_many(boxed(others), golds, protocol)
    false_accepts = [(o, g) for o, g, y in zip(others, golds, ok) if y and o != g and not same_value(o, g, protocol)]
    print(f"{name} {protocol}: {len(golds) - sum(ok)}/{len(golds)} rejected")
    assert false_accepts == []
