"""The miniature math world's data: problems, splits and the pretraining corpus."""

import random
import re

import pytest
from rlvr.grading import grade
from rlvr.toyworld import (
    DOMAINS,
    TEMPLATES,
    Style,
    check_answer,
    corpus_stats,
    generate_problems,
    make_corpus,
    make_split,
    render_solution,
    solve,
    split_of,
    style_for,
)

FIELDS = {"id", "problem", "answer", "domain", "template", "params", "steps"}


@pytest.fixture(scope="module")
def train():
    return make_split("train")


@pytest.fixture(scope="module")
def test_split():
    return make_split("test")


@pytest.fixture(scope="module")
def corpus():
    return make_corpus(3000)


def test_the_same_seed_gives_the_same_problems_and_another_seed_others():
    assert generate_problems(60, seed=11) == generate_problems(60, seed=11)
    problems = [p["problem"] for p in generate_problems(60, seed=11)]
    assert problems != [p["problem"] for p in generate_problems(60, seed=12)]


def test_splits_have_fixed_sizes_ids_and_prefixes(train, test_split):
    assert (len(train), len(test_split)) == (2000, 500)
    assert test_split[42]["id"] == "toy-test-00042"
    assert make_split("test", 100) == test_split[:100]
    assert make_split("test") == test_split
    with pytest.raises(ValueError, match="unknown split"):
        make_split("validation")


def test_problems_follow_the_math_dataset_schema(test_split):
    for problem in test_split:
        assert set(problem) == FIELDS
        assert problem["answer"] == str(int(problem["answer"])) and int(problem["answer"]) >= 0
        assert problem["template"] in TEMPLATES
        assert problem["template"].startswith(problem["domain"] + "/")
        assert problem["steps"] and all(" = " in step for step in problem["steps"])


def test_five_domains_of_at_least_three_templates_all_in_the_test_split(test_split):
    per_domain = {d: [t for t in TEMPLATES if t.startswith(d + "/")] for d in DOMAINS}
    assert len(DOMAINS) >= 5 and all(len(ids) >= 3 for ids in per_domain.values())
    assert {p["template"] for p in test_split} == set(TEMPLATES)


def test_every_answer_is_rechecked_from_the_parameters(train, test_split):
    assert all(check_answer(p) for p in train + test_split)


def test_check_answer_rejects_a_wrong_answer_or_mismatched_parameters(test_split):
    problem = test_split[0]
    assert not check_answer({**problem, "answer": str(int(problem["answer"]) + 1)})
    key = next(k for k, v in problem["params"].items() if isinstance(v, int))
    assert not check_answer({**problem, "params": {**problem["params"], key: problem["params"][key] + 1}})


def test_a_boxed_answer_is_graded_correct(test_split):
    assert all(grade("\\boxed{" + p["answer"] + "}", p["answer"]) for p in test_split)


def test_the_last_step_gives_the_answer(train):
    for problem in train:
        assert problem["steps"][-1].endswith(f"= {problem['answer']}")
        assert solve(problem)[-1].result == int(problem["answer"])


def test_numbers_stay_small_enough_for_a_tiny_model(train):
    answers = [int(p["answer"]) for p in train]
    assert max(answers) < 1000
    operands = [n for p in train for step in solve(p) for n in (step.a, step.b)]
    assert sum(n < 100 for n in operands) / len(operands) > 0.8


def test_train_and_test_never_share_a_problem(train, test_split):
    assert not {p["problem"] for p in train} & {p["problem"] for p in test_split}
    assert {split_of(p["problem"]) for p in test_split} == {"test"}
    assert len({p["problem"] for p in test_split}) == len(test_split)


def test_domains_can_be_chosen():
    problems = generate_problems(30, seed=5, domains=["counting"])
    assert {p["domain"] for p in problems} == {"counting"}
    with pytest.raises(ValueError, match="unknown domains"):
        generate_problems(3, seed=5, domains=["calculus"])


def test_corpus_documents_are_question_answer_pairs(corpus):
    assert make_corpus(20) == corpus[:20]
    for document in corpus:
        pairs = document.split("\n\n")
        assert 1 <= len(pairs) <= 3
        for pair in pairs:
            assert re.fullmatch(r"Question: [^\n]+\nAnswer: [^\n]*The answer is [^\n]+", pair)


def test_the_corpus_never_contains_a_test_problem(corpus, test_split):
    questions = {q for document in corpus for q in re.findall(r"Question: ([^\n]+)", document)}
    assert not questions & {p["problem"] for p in test_split}


def test_the_corpus_is_imperfect_within_sensible_bands(corpus):
    stats = corpus_stats(corpus)
    assert 0.3 <= stats["boxed_rate"] <= 0.7
    assert stats["run_on_rate"] >= 0.2
    assert 0.2 <= stats["skip_rate"] <= 0.5
    assert 0.05 <= stats["slip_rate"] <= 0.15


def test_styles_are_fixed_by_a_seed_and_some_sources_are_poor():
    assert style_for("counting/handshakes", 7) == style_for("counting/handshakes", 7)
    assert any(style_for(t, 7) != style_for(t, 8) for t in TEMPLATES)
    # A poor source skips the working and runs on into a new question almost always.
    poor = [t for t in TEMPLATES if style_for(t).skip >= 0.8 and style_for(t).run_on >= 0.9]
    assert len(poor) >= 2
    poor_domains = {TEMPLATES[t].domain for t in poor}
    assert any(all(t in poor for t in TEMPLATES if TEMPLATES[t].domain == d) for d in poor_domains)


def test_a_slipped_solution_ends_in_a_wrong_answer(test_split):
    careful = Style(boxed=1.0, run_on=0.0, repeat=0.0, skip=0.0, slip=0.0)
    sloppy = Style(boxed=1.0, run_on=0.0, repeat=0.0, skip=0.0, slip=1.0)
    rng = random.Random(0)
    for problem in test_split[:200]:
        assert grade(render_solution(problem, careful, rng), problem["answer"])
        slipped = render_solution(problem, sloppy, rng)
        assert not grade(slipped, problem["answer"])
        assert corpus_stats([f"Question: {problem['problem']}\nAnswer: {slipped}"])["slip_rate"] == 1.0
