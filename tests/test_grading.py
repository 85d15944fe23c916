"""Equivalence of answers under the paper's two protocols, normalisation by normalisation."""

import pytest
from rlvr.grading import grade, grade_many, normalize_answer


def boxed(answer: str) -> str:
    return "The final answer is $\\boxed{" + answer + "}$."


@pytest.mark.parametrize("protocol", ["train", "eval"])
@pytest.mark.parametrize(
    "pred, gold",
    [
        ("12.80", "12.8"),  # the paper's example: 12.80 is right for 12.8
        (r"\frac{64}{5}", "12.8"),
        (r"22\frac{1}{2}", "22.5"),  # a mixed number, not 22 * 1/2 = 11
        (r"22 \frac{1}{2}", r"\frac{45}{2}"),
        ("22 1/2", "22.5"),
        (r"-3\frac{1}{4}", "-3.25"),
        ("1,000,000", "1000000"),  # thousands separators
        ("1{,}000", "1000"),
        (r"12 \text{ cm}^2", "12"),  # units
        (r"5\text{ inches}", "5"),
        ("18 students", "18"),
        (r"\text{(B)}", "B"),  # \text{} and multiple choice
        (r"30^\circ", "30"),  # degrees
        (r"30^{\circ}", "30"),
        ("45°", "45"),
        (r"50\%", "50"),  # percent
        (r"\$18.90", "18.9"),  # dollars
        ("x = 5", "5"),  # variable prefixes
        (r"k=\dfrac{3}{4}", r"\frac{3}{4}"),
        (r"\left( 3, \frac{\pi}{2} \right)", r"\left( 3, \frac{\pi}{2} \right)"),  # tuples
        (r"(3,\frac{\pi}{2})", r"\left( 3, \frac{\pi}{2} \right)"),
        ("(1, -2)", "(1,-2)"),
        ("[-2, 7)", "[-2,7)"),  # intervals
        (r"(-\infty, 3]", r"(-\infty,3]"),
        (r"\{3, 1, 2\}", r"\{1,2,3\}"),  # sets are unordered
        ("2, 1", "1, 2"),  # so are bare lists of solutions
        (r"\frac{\sqrt{3}}{2}", r"\frac{\sqrt3}{2}"),
        (r"\frac12", r"\frac{1}{2}"),
        (r"\dfrac{2}{\sqrt{5}}", r"\frac{2\sqrt{5}}{5}"),  # symbolic, through math-verify
        (r"2\sqrt{2}", r"\sqrt{8}"),
        ("x^2+2x+1", "(x+1)^2"),
        ("infinity", r"\infty"),
        ("five", "5"),
        ("123456789012345678901234567890", "123456789012345678901234567890"),
    ],
)
def test_equivalent_answers(pred, gold, protocol):
    assert grade(boxed(pred), gold, protocol), (pred, gold, protocol)


@pytest.mark.parametrize("protocol", ["train", "eval"])
@pytest.mark.parametrize(
    "pred, gold",
    [
        ("12.7", "12.8"),  # the base model's favourite wrong answer to pi_1
        ("11", r"22\frac{1}{2}"),
        ("(2, 1)", "(1, 2)"),  # tuples are ordered
        ("1, 2", "1, 2, 3"),
        ("5", "(5, 6)"),
        (r"\sqrt{2}", r"\sqrt{3}"),
        ("x+1", "x-1"),
        ("B", "C"),
        ("12.8", ""),  # an empty label matches nothing (DSR-sub index 265 has one)
    ],
)
def test_different_answers(pred, gold, protocol):
    assert not grade(boxed(pred), gold, protocol), (pred, gold, protocol)


@pytest.mark.parametrize("protocol", ["train", "eval"])
def test_intervals_with_other_ends_differ(protocol):
    # The training reward compares the bracket characters (PRM800K's grade_answer_sympy).
    # Qwen2.5-Math's math_equal matches bracketed answers item by item and would accept
    # these; the evaluation protocol is stricter than it here, on purpose.
    assert not grade(boxed("(1,2]"), "[1,2)", protocol)
    assert not grade(boxed("[0,9)"), "(0,9)", protocol)
    assert not grade(boxed("(1, 2)"), "[1, 2]", protocol)
    assert grade(boxed(r"\left[ 1, 2 \right)"), "[1,2)", protocol)


def test_a_set_is_a_tuple_to_the_evaluation_only():
    # Qwen's math_equal deletes braces and parentheses before comparing the strings;
    # the training reward keeps the bracket kinds.
    assert grade(boxed(r"\{1,3\}"), "(1,3)", "eval")
    assert grade(boxed("1, 3"), "(1,3)", "eval")
    assert not grade(boxed(r"\{3,1\}"), "(1,3)", "eval")
    assert not grade(boxed(r"\{1,3\}"), "(1,3)", "train")


@pytest.mark.parametrize("protocol", ["train", "eval"])
def test_a_unit_in_spaced_text_is_dropped(protocol):
    # PRM800K's normaliser cuts a trailing "\text{ ..." (the reference reward's mathd
    # path); Qwen's strip_string drops any trailing \text{...}.
    assert grade(boxed(r"20 \text{ J}"), "20", protocol)
    assert grade(boxed(r"20\text{ J}"), "20", protocol)
    assert grade(boxed(r"3 \text{ m/s}"), "3", protocol)
    assert grade(boxed(r"125\textnormal{ miles}"), "125 miles", protocol)
    assert not grade(boxed(r"21 \text{ J}"), "20", protocol)
    assert grade(boxed(r"\text{ J}"), "J", protocol)  # nothing before it: not a unit


def test_a_bare_unit_in_text_needs_the_space_in_training():
    # "\text{J}" with no space is no unit to PRM800K; Qwen drops it.
    assert not grade(boxed(r"20\text{J}"), "20", "train")
    assert grade(boxed(r"20\text{J}"), "20", "eval")


def test_or_lists_in_training():
    # PRM800K's _normalize reads " or " and " and " as commas; Qwen's strip_string does not.
    assert grade(boxed("21, 16, 11"), "$21,16$ or $11$", "train")
    assert not grade(boxed("21, 16, 11"), "$21,16$ or $11$", "eval")


def test_evaluation_deletes_commas_in_a_number_as_qwen_does():
    # Qwen's parse_digits drops every comma: 1000,99 is 100099, which is gold x 100.
    assert grade(boxed("1000,99"), "1000.99", "eval")
    assert grade(boxed("1.22"), "1,22", "eval")
    assert grade(boxed("1,2"), "12", "eval")  # its side effect
    assert not grade(boxed("0.111"), "0,111", "eval")
    assert not grade(boxed("1000,99"), "1000.99", "train")
    # Two lists stay lists (in any order, as before), where Qwen would compare 21 with 12.
    assert grade(boxed("2, 1"), "1, 2", "eval")


def test_big_integers_are_exact_in_training():
    # Relative 1e-4 would call these equal; the training reward must not.
    assert not grade(boxed("9292724"), "9292725", "train")
    assert grade(boxed("9292725"), "9292725", "train")
    assert not grade(boxed("100000000000000000001"), "100000000000000000000", "train")


def test_numeric_tolerance_is_the_evaluation_protocols_alone():
    assert grade(boxed("3.14159"), "3.14159265", "eval")
    assert not grade(boxed("3.14159"), "3.14159265", "train")
    assert grade(boxed("1.41421"), r"\sqrt{2}", "eval")
    assert not grade(boxed("1.41421"), r"\sqrt{2}", "train")


def test_evaluation_reads_a_gold_answer_as_a_percentage_too():
    # Qwen2.5-Math's math_equal accepts gold*100 and gold/100.
    assert grade(boxed("25"), "0.25", "eval")
    assert not grade(boxed("25"), "0.25", "train")


def test_training_rules_of_the_reference_reward():
    # Integers need an integer answer; unreduced fractions must be written alike.
    assert not grade(boxed("2^{10}"), "1024", "train")
    assert grade(boxed("2^{10}"), "1024", "eval")
    assert not grade(boxed(r"\frac{2}{4}"), r"\frac{1}{2}", "train")
    assert grade(boxed("0.5"), r"\frac{1}{2}", "train")
    assert grade(boxed("5.0"), "5", "train")


def test_the_protocols_differ_on_unboxed_answers():
    assert not grade("So the answer is 7.", "7", "train")
    assert grade("So the answer is 7.", "7", "eval")
    assert grade("I computed 3 + 4 = 7", "7", "eval")


def test_gold_answers_in_other_shapes():
    assert grade(boxed("27"), 27.0, "eval")  # AMC's answers are floats
    assert grade(boxed("3"), r"\boxed{3}")  # a boxed label is unboxed first
    assert not grade(boxed("3"), None)


def test_grade_many_matches_grade_and_keeps_order():
    responses = [boxed("1"), boxed("2"), "no box, just 1", boxed(r"\frac{4}{2}"), boxed(r"\sqrt{4}")]
    golds = ["1", "3", "1", "2", "2"]
    expected = [grade(r, g, "eval") for r, g in zip(responses, golds)]
    assert grade_many(responses, golds, "eval") == expected == [True, False, True, True, True]
    with pytest.raises(ValueError, match="responses but"):
        grade_many(["a"], ["1", "2"])


def test_unknown_protocol_says_which_exist():
    with pytest.raises(ValueError, match="'eval', 'train'"):
        grade(boxed("1"), "1", "lenient")


def test_normalisation_examples():
    assert normalize_answer(r"\$1,000.50") == "1000.50"
    assert normalize_answer(r"\left[ 1, 2 \right)") == "[1,2)"
    assert normalize_answer(r"x \in [0, 1]") == "[0,1]"
    assert normalize_answer(r"\textbf{(C)}") == "C"
    assert normalize_answer("22 1/2") == r"22\frac{1}{2}"
