"""Finding the final answer in a response: the last box, and the evaluation's fallbacks."""

from rlvr.grading import extract_answer, extract_boxed


def test_last_box_wins_and_braces_are_matched():
    assert extract_boxed(r"first \boxed{1}, finally \boxed{\frac{1}{2}}") == r"\frac{1}{2}"
    assert extract_boxed(r"$\boxed{\{1, 2\}}$") == r"\{1, 2\}"
    assert extract_boxed(r"\boxed{x^{2}+\sqrt{y}}.") == r"x^{2}+\sqrt{y}"


def test_fbox_and_unbraced_box():
    assert extract_boxed(r"\fbox{42}") == "42"
    assert extract_boxed(r"so $\boxed 7$ it is") == "7"
    assert extract_boxed(r"\boxed{1} and later \fbox{2}") == "2"


def test_no_box_unclosed_box_and_empty_box():
    assert extract_boxed("The answer is 12.8") is None
    assert extract_boxed(r"\boxed{12.8") is None
    assert extract_boxed(r"\boxed{}") == ""
    assert extract_boxed(None) is None
    assert extract_boxed(r"\boxedx{3}") is None  # another command, not a box


def test_train_protocol_needs_a_nonempty_closed_box():
    assert extract_answer(r"so \boxed{12.8}", "train") == "12.8"
    assert extract_answer("The answer is 12.8.", "train") is None
    assert extract_answer(r"The answer is \boxed{}.", "train") is None
    assert extract_answer(r"\boxed{  }", "train") is None
    assert extract_answer(r"\boxed{12.8", "train") is None


def test_eval_protocol_falls_back_like_qwen25_math():
    assert extract_answer(r"\boxed{5} is it", "eval") == "5"
    assert extract_answer("so the answer is 12.8.", "eval") == "12.8"
    assert extract_answer("The final answer is 3/4", "eval") == "3/4"
    assert extract_answer("We get 1,234 apples and then 56.5 pears", "eval") == "56.5"
    assert extract_answer(r"The final answer is $\frac{1}{2}$. I hope it is correct.", "eval") == r"\frac{1}{2}"
    # An unclosed last box keeps what follows it, as Qwen's parser does.
    assert extract_answer(r"\boxed{12.8", "eval") == "12.8"
    assert extract_answer("no numbers at all", "eval") is None
