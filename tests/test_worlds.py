"""The embedded world's switches (rlvr.toyworld.world): each a documented property of the corpus
generator, the defaults today's world to the document."""

import hashlib
import itertools
import re

import pandas as pd
import pytest
from rlvr.prompts import TRAIN_SUFFIX
from rlvr.toyworld.corpus import LOOP_REPEATS, POOR_DOMAINS, corpus_stats, make_corpus, style_for
from rlvr.toyworld.problems import stream
from rlvr.toyworld.profile import mode_shift
from rlvr.toyworld.templates import TEMPLATES
from rlvr.toyworld.world import GENERATOR_VERSION, World

# sha256 of toy-base's pretraining corpus (60,000 documents, NUL-joined), taken before the switches existed.
TOY_BASE_CORPUS = "c1b29c1e3a03d634ba9e1083eb9db44f216ee369c80fca0ba4fb36f412bdaf35"


def test_the_default_world_writes_toy_bases_corpus_document_for_document():
    documents = make_corpus(60_000, world=World())
    assert hashlib.sha256("\x00".join(documents).encode()).hexdigest() == TOY_BASE_CORPUS


def test_a_majority_format_prior_boxes_and_stops_where_todays_sources_seldom_do():
    for template in TEMPLATES:
        style = style_for(template, format_prior="majority")
        if TEMPLATES[template].domain not in POOR_DOMAINS:  # the poor domains stay poor in every world
            assert style.boxed >= 0.6 and style.run_on <= 0.3, template
    today, majority = (corpus_stats(make_corpus(3000, world=World(format_prior=p))) for p in ("minority", "majority"))
    assert majority["boxed_rate"] > today["boxed_rate"] + 0.15
    assert majority["run_on_rate"] < today["run_on_rate"] - 0.1
    # The majority's running on has no published level, so it is swept: "boxing" boxes as the majority
    # does and runs on as today's sources do.
    boxing = corpus_stats(make_corpus(3000, world=World(format_prior="boxing")))
    assert abs(boxing["boxed_rate"] - majority["boxed_rate"]) < 0.05
    assert boxing["run_on_rate"] > majority["run_on_rate"] + 0.1


def test_a_looping_world_repeats_the_last_sentence_where_today_runs_on():
    documents = make_corpus(2000, world=World(failure_kind="loop"))
    stats = corpus_stats(documents)
    assert stats["run_on_rate"] == 0 and stats["loop_rate"] > 0.5  # one answer a document, most of them looping
    looped = next(d for d in documents if d.count("The answer is") > 3)
    last = looped.rpartition(". ")[2]
    assert looped.endswith(" ".join([last] * (LOOP_REPEATS + 1))) and last.startswith("The answer is")


def test_a_coherent_document_is_one_source_writing_one_template():
    documents = make_corpus(300, world=World(document_coherence=True))
    template_of = {p["problem"]: p["template"] for p in itertools.islice(stream(3, split="train"), 60_000)}
    several = [d for d in documents if d.count("Question: ") > 1]
    assert len(several) > 50
    for document in several:
        questions = [q.split("\n")[0].removesuffix(TRAIN_SUFFIX) for q in document.split("Question: ")[1:]]
        assert len({template_of[q] for q in questions}) == 1, document
    # ... in one style: every answer of a worksheet boxes, skips its steps and repeats itself as its first does.
    for document in several:
        answers = [pair.partition("\nAnswer: ")[2] for pair in document.split("\n\n")]
        for habit in (lambda a: "\\boxed{" in a, lambda a: a.startswith("The answer is"),
                      lambda a: a.count("The answer is") > 1):
            assert len({habit(a) for a in answers}) == 1, document
    mixed = make_corpus(300)  # today's documents mix templates
    assert any(len({template_of[q.split("\n")[0].removesuffix(TRAIN_SUFFIX)]
                    for q in d.split("Question: ")[1:]}) > 1 for d in mixed)


def test_switches_that_mean_nothing_together_are_refused_naming_why():
    with pytest.raises(ValueError, match="every document holds one answer"):
        World(failure_kind="loop", document_coherence=True)
    with pytest.raises(ValueError, match="format_prior.*minority.*majority"):
        World(format_prior="qwen")


def test_a_verifying_source_rechecks_each_step_by_its_inverse_and_corrects_its_slip():
    from rlvr.toyworld.corpus import checked
    from rlvr.toyworld.templates import Step

    right = [Step(4, "*", 11, 44), Step(23, "+", 44, 67, b_from=0)]
    slipped = [Step(4, "*", 11, 45), Step(23, "+", 45, 68, b_from=0)]
    assert " ".join(checked(right, right)) == "4 * 11 = 44. Recheck: 44 / 11 = 4. 23 + 44 = 67. Recheck: 67 - 44 = 23."
    assert " ".join(checked(slipped, right)) == (
        "4 * 11 = 45. Recheck: 45 / 11 is not 4. So 4 * 11 = 44. 23 + 44 = 67. Recheck: 67 - 44 = 23.")
    # In the corpus: rare but in every domain, and a verified answer with a slip ends right.
    today, checking = (corpus_stats(make_corpus(2000, world=World(verification=v))) for v in (0.0, 0.3))
    assert today["recheck_rate"] == 0 and 0.1 < checking["recheck_rate"] < 0.3  # 0.3 of the worked answers
    assert 0 < checking["corrected_rate"] < checking["recheck_rate"]
    documents = make_corpus(3000, world=World(verification=1.0))
    problems = itertools.islice(stream(3, split="train"), 20_000)
    domains = {p["problem"]: TEMPLATES[p["template"]].domain for p in problems}
    checked_domains = {domains[pair.split("\n")[0].removeprefix("Question: ").removesuffix(TRAIN_SUFFIX)]
                       for d in documents for pair in d.split("\n\n") if "Recheck: " in pair}
    assert checked_domains == {t.domain for t in TEMPLATES.values()}
    with pytest.raises(ValueError, match="verification: a share of answers"):
        World(verification=1.5)


def test_a_world_with_switches_on_builds_a_base_model_that_records_its_world(tmp_path):
    from rlvr.models import load_model_and_tokenizer
    from rlvr.toyworld.build import build
    from rlvr.toyworld.model import PretrainConfig

    world = World(format_prior="majority", verification=0.2)
    record = build(tmp_path, PretrainConfig(steps=3), progress=False, world=world, n_documents=400, n_test=20)
    assert record["world"] == {"generator": GENERATOR_VERSION, **world.to_dict()}
    assert record["corpus"]["recheck_rate"] > 0 and record["corpus"]["boxed_rate"] > 0.45  # today 0.34
    model, tokenizer = load_model_and_tokenizer(str(tmp_path))  # a built world loads by its folder
    assert model.num_parameters() == record["parameters"]


def test_the_build_command_refuses_a_bad_switch_and_keeps_toy_base_in_place(capsys):
    from rlvr.toyworld.build import command

    assert command(["--world", "format_prior=qwen", "--out", "/tmp/never"]) == 2
    assert "format_prior: 'qwen' is not one of minority, majority" in capsys.readouterr().err
    assert command(["--world", "verification"]) == 2
    assert "--world takes SWITCH=VALUE" in capsys.readouterr().err
    assert command(["--world", "verification=0.1"]) == 2  # the shipped checkpoint is toy-base's alone
    assert "holds toy-base" in capsys.readouterr().err


def test_named_worlds_are_built_listed_and_refused_when_missing_or_stale(tmp_path, monkeypatch, capsys):
    import json

    from rlvr.cli import main
    from rlvr.models import load_model_and_tokenizer, resolve
    from rlvr.toyworld.build import build
    from rlvr.toyworld.model import PretrainConfig
    from rlvr.toyworld.worlds import named, world_path

    monkeypatch.setenv("RLVR_WORLDS", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="build it with `rlvr world build looping`"):
        resolve("looping")
    assert main(["world", "build", "nope"]) == 2
    assert "unknown world 'nope'; worlds: toy-base, format-majority" in capsys.readouterr().err
    # A small build (what `rlvr world build looping` does at full size): the name now loads as a model.
    build(world_path("looping"), PretrainConfig(steps=3), progress=False, world=named("looping"), name="looping",
          n_documents=400, n_test=20)
    assert resolve("looping") == str(tmp_path / "looping")
    load_model_and_tokenizer("looping")
    # ... and is evaluated as the toy model it is: its own chat format, in float32 (by name as by folder).
    from rlvr.models import eval_dtype_for, eval_template_for

    assert (eval_template_for("looping"), eval_dtype_for("looping")) == ("train", "float32")
    assert main(["world", "list"]) == 0
    listed = capsys.readouterr().out
    assert re.search(r"^looping +built: strict", listed, re.M) and re.search(r"^coherent +not built", listed, re.M)
    assert main(["world", "build", "looping"]) == 0 and "built already" in capsys.readouterr().out
    # Built by another version of the generator: refused, naming the command that rebuilds it.
    profile = tmp_path / "looping" / "profile.json"
    record = json.loads(profile.read_text())
    profile.write_text(json.dumps({**record, "world": {**record["world"], "generator": 1}}))
    with pytest.raises(FileNotFoundError, match="generator version 1 .* `rlvr world build looping --fresh`"):
        resolve("looping")
    assert resolve("toy-base").endswith("toy-base")  # the shipped world predates the record and stays usable
    # A build by an earlier version stays valid where no switch it has on changed since (version 3 changed
    # only what document_coherence writes), and is refused where one did.
    from rlvr.toyworld.world import written_alike

    assert written_alike(2, named("looping")) and written_alike(2, named("code-majority"))
    assert not written_alike(2, named("coherent")) and not written_alike(2, named("qwen-like"))
    assert written_alike(1, World()) and not written_alike(1, named("verifying"))


def test_checking_changes_the_checked_answers_and_leaves_every_other_choice_as_today():
    today, checking = make_corpus(500), make_corpus(500, world=World(verification=0.3))
    differ = [(a, b) for a, b in zip(today, checking) if a != b]
    assert differ and len(differ) < len(today)
    for a, b in differ:  # the same questions, the same final answers; only rechecks (and corrections) added
        assert a.count("Question: ") == b.count("Question: ") and "Recheck: " in b
        assert [q.split("\n")[0] for q in a.split("Question: ")] == [q.split("\n")[0] for q in b.split("Question: ")]


def test_the_same_world_from_another_corpus_sample_differs_in_its_documents_not_its_rates():
    today, other = make_corpus(3000), make_corpus(3000, world=World(corpus_seed=4))
    assert today[:50] != other[:50]
    a, b = corpus_stats(today), corpus_stats(other)
    assert all(abs(a[k] - b[k]) < 0.03 for k in ("boxed_rate", "run_on_rate", "skip_rate", "slip_rate"))


def test_the_code_like_mode_writes_every_intermediate_value_and_slips_as_often_as_prose():
    from rlvr.toyworld.corpus import fine
    from rlvr.toyworld.templates import Step

    assert fine(Step(4, "*", 11, 44)) == "4 * 11 = 4 * 10 + 4 * 1 = 40 + 4 = 44"
    assert fine(Step(12, "*", 7, 84)) == "12 * 7 = 10 * 7 + 2 * 7 = 70 + 14 = 84"
    assert fine(Step(67, "-", 23, 44)) == "67 - 23 = 67 - 20 - 3 = 47 - 3 = 44"
    assert fine(Step(4, "*", 11, 45)) == "4 * 11 = 4 * 10 + 4 * 1 = 40 + 4 = 45"  # a slip slips in the last part
    assert fine(Step(44, "/", 11, 4)) == "44 / 11 = 4"  # nothing finer to write
    today, modes = make_corpus(3000), make_corpus(3000, world=World(reasoning_modes=0.65))
    a, b = corpus_stats(today), corpus_stats(modes)
    assert a["code_rate"] == 0 and 0.6 < b["code_rate"] < 0.7
    assert b["slip_rate"] == a["slip_rate"]  # its accuracy can come only from granularity
    # The same questions and final answers as today's corpus: the switch changes how answers are worked.
    assert [d.split("\nAnswer: ")[0] for d in today] == [d.split("\nAnswer: ")[0] for d in modes]
    assert any(d.count("Answer: Code: ") for d in modes)


def test_a_difficulty_gap_makes_test_problems_longer_than_any_candidate():
    from rlvr.data import load_dataset
    from rlvr.toyworld.problems import LONG_EXTRA, check_answer, make_split

    short, long = make_split("test", 50), make_split("test", 50, extra=LONG_EXTRA)
    for s, lo in zip(short, long):
        assert lo["problem"].startswith(s["problem"]) and len(lo["steps"]) == len(s["steps"]) + LONG_EXTRA
        assert check_answer(lo) and lo["id"] == s["id"].replace("toy-test", "toy-test-long")
    assert load_dataset("toy-test-long")[0]["problem"] == long[0]["problem"]
    # The world's corpus holds problems as long (so they are within reach); the candidates stay short.
    documents = make_corpus(1000, world=World(difficulty_gap=True))
    questions = [q for d in documents for q in d.split("Question: ")[1:]]
    assert 0.55 < sum("Take that answer" in q for q in questions) / len(questions) < 0.8  # 0, 1 or 2 more
    assert not any("Take that answer" in p["problem"] for p in make_split("train"))
    assert "Take that answer" not in "".join(make_corpus(1000))


def test_a_worlds_size_sets_its_base_models_width_and_depth():
    from rlvr.registry import WORLD_SIZES
    from rlvr.toyworld.model import PretrainConfig, qwen2_config
    from rlvr.toyworld.tokenizer import load_toy_tokenizer
    from rlvr.toyworld.world import CHECKPOINT
    from transformers import Qwen2ForCausalLM

    tokenizer = load_toy_tokenizer(CHECKPOINT)
    n = {size: Qwen2ForCausalLM(qwen2_config(tokenizer, PretrainConfig.for_size(size))).num_parameters()
         for size in WORLD_SIZES}
    assert n["0.9M"] == 905_856 and 2.5e6 < n["3M"] < 3.5e6  # toy-base's, and one of 2-5M
    with pytest.raises(ValueError, match="size: '5M' is not one of 0.9M, 3M"):
        World(size="5M")


def test_a_pretraining_cut_off_resumes_to_the_weights_of_one_never_stopped(tmp_path):
    import torch
    from rlvr.toyworld.model import PretrainConfig, pretrain
    from rlvr.toyworld.tokenizer import train_tokenizer, wrap

    documents = make_corpus(20)  # 11 rows of 256 tokens: a new epoch, reshuffled, every 2 steps
    tokenizer = wrap(train_tokenizer(documents))
    cfg = PretrainConfig(steps=6, warmup_steps=2, batch_size=4)
    straight, _ = pretrain(documents, tokenizer, cfg, progress=False)
    state = tmp_path / "state.pt"
    pretrain(documents, tokenizer, cfg, progress=False, state=state, until=3)  # cut off after 3 steps
    resumed, _ = pretrain(documents, tokenizer, cfg, progress=False, state=state)
    assert all(torch.equal(a, b) for a, b in zip(straight.parameters(), resumed.parameters()))
    with pytest.raises(ValueError, match="another config or corpus"):
        pretrain(documents, tokenizer, PretrainConfig(steps=7, batch_size=4), progress=False, state=state)


def test_a_world_from_another_corpus_sample_is_named_at_its_seed_and_builds_resumably(tmp_path, monkeypatch, capsys):
    from rlvr.cli import main
    from rlvr.models import resolve
    from rlvr.toyworld.build import STATE, build
    from rlvr.toyworld.model import PretrainConfig
    from rlvr.toyworld.worlds import named, world_path

    monkeypatch.setenv("RLVR_WORLDS", str(tmp_path))
    assert named("format-majority@4") == World(format_prior="majority", corpus_seed=4)
    with pytest.raises(ValueError, match="a whole number, as in looping@4"):
        named("looping@x")
    # A switch back at today's value (the control), or at another level (a sweep), and both with a sample.
    assert named("qwen-like~verification~reasoning_modes=0.35@5") == World(
        format_prior="majority", reasoning_modes=0.35, difficulty_gap=True, document_coherence=True, corpus_seed=5)
    with pytest.raises(ValueError, match="looping does not set 'verification'.*looping~verification=VALUE"):
        named("looping~verification")
    with pytest.raises(ValueError, match="verification: a share of answers, within"):
        named("verifying~verification=2")
    with pytest.raises(FileNotFoundError, match="`rlvr world build toy-base@4`"):
        resolve("toy-base@4")
    path, world = world_path("toy-base@4"), named("toy-base@4")
    small = dict(progress=False, world=world, name="toy-base@4", n_documents=400, n_test=20)
    assert build(path, PretrainConfig(steps=4), until=2, **small) is None  # cut off: only the state kept
    assert (path / STATE).is_file() and not (path / "profile.json").exists()
    record = build(path, PretrainConfig(steps=4), **small)  # picks up at step 2
    assert not (path / STATE).exists() and record["world"]["corpus_seed"] == 4
    assert resolve("toy-base@4") == str(path)
    profile = record["profile_on_toy_test"]
    assert set(profile["in_context"]) == {"0", "1", "4", "1 other"} and profile["sampled"]["samples"] == 4
    assert profile["long"]["n"] == 20
    import pandas as pd  # every answer behind the profile is kept, to redraw any of its numbers

    answers = pd.read_parquet(path / "profile_answers.parquet")
    assert answers.groupby("kind").size().to_dict() == {"greedy": 20, "sampled": 80, "demos-1": 20, "demos-4": 20,
                                                        "demos-1-other": 20, "long": 20}
    sampled = answers[answers["kind"] == "sampled"]
    assert round(float(sampled["strict"].mean()), 4) == profile["sampled"]["strict"]
    greedy = answers[answers["kind"] == "greedy"]  # working the steps or skipping them, and what each gets right
    assert profile["worked"] == round(float(greedy["worked"].mean()), 4)
    assert profile["skipped_accuracy"] == (round(float(greedy[~greedy["worked"]]["first_answer"].mean()), 4)
                                           if (~greedy["worked"]).any() else None)
    rechecking = sampled[sampled["reflection"]]  # does checking pay in the model's hands? None where none checks
    assert profile["sampled"]["reflection_accuracy"] == (
        round(float(rechecking["first_answer"].mean()), 4) if len(rechecking) else None)
    from rlvr.toyworld.build import reprofile

    # Profiled again from the saved answers (seeded: answering again gives the same ones), not re-measured.
    assert reprofile(path) == record
    assert main(["world", "list"]) == 0
    assert "toy-base@4" in capsys.readouterr().out.split("built: strict")[-2].splitlines()[-1]


def test_a_runs_mode_shift_reads_the_code_like_share_of_its_worked_rollouts_first_and_last():
    prose, code, skipped = ("9 * 10 = 90. The answer is \\boxed{90}.", "Code: 9 * 10 = 90. The answer is \\boxed{90}.",
                            "The answer is \\boxed{90}.")
    # Ten logged steps of four kept rollouts: a quarter code-like at first, all of the worked ones at the end.
    early = [prose, prose, prose, code]
    late = [code, code, code, skipped]
    samples = pd.DataFrame([{"step": step, "completion": text, "correct": True}
                            for step in range(1, 11) for text in (early if step <= 5 else late)])
    shift = mode_shift(samples)  # the first and last fifth: steps 1-2 and 9-10
    assert shift == {"worked_start": 1.0, "worked_end": 0.75, "code_start": 0.25, "code_end": 1.0}
    # A run whose rollouts run on: only the first answer counts (the next question's "Code:" does not).
    run_on = samples.assign(completion=prose + " Question: what is 2 + 2? Code: 2 + 2 = 4.")
    assert mode_shift(run_on)["code_end"] == 0.0
    # No worked rollout at the end: no share to give.
    assert pd.isna(mode_shift(samples.assign(completion=skipped))["code_end"])
