"""The GRPO engine on the embedded model: datasets, switches, records, checkpoints, resume."""

import json
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
import torch
from rlvr.cli import main
from rlvr.config import EvalConfig, preset
from rlvr.data import training_dataset
from rlvr.evaluate import evaluate
from rlvr.models import load_model_and_tokenizer
from rlvr.rundir import STEPS_LOG, RunBusy, RunLog, is_complete
from rlvr.train import run_rewards, train
from rlvr.trainer import RLVRTrainer, all_wrong_groups, length_grouped_micro_batches, shaped_advantages
from rlvr.trl_args import FROM_CONFIG, MANAGED, RECIPE, grpo_arguments, grpo_config
from trl import GRPOTrainer
from trl.trainer.utils import shuffle_sequence_dict, split_tensor_dict

HANDSHAKES = "toy-train-00007"  # counting/handshakes: toy-base solves it some of the time


def cfg(tmp_path, **overrides):
    return preset("cpu", **{"examples": [HANDSHAKES], "output_dir": str(tmp_path / "run"), **overrides})


def test_a_one_shot_set_is_its_example_repeated_to_fill_the_batch(tmp_path):
    one = training_dataset(cfg(tmp_path, prompts_per_step=8))
    assert len(one) == 8 and set(one["example_id"]) == {HANDSHAKES}
    assert one[0]["prompt"][0]["content"].endswith("output the final answer within \\boxed{}.")
    two = training_dataset(cfg(tmp_path, prompts_per_step=8, examples=[HANDSHAKES, "toy-train-00008"]))
    assert sorted(pd.Series(two["example_id"]).value_counts().tolist()) == [4, 4]  # 4 + 4, like 64 + 64
    free = training_dataset(preset("cpu", problem="What is 6 * 7?", answer="42", prompts_per_step=4))
    assert free["answer"] == ["42"] * 4
    relabelled = training_dataset(cfg(tmp_path, label="7"))
    assert set(relabelled["answer"]) == {"7"}


def test_a_short_run_records_every_step_and_rollout_and_saves_checkpoints(tmp_path):
    out = train(cfg(tmp_path, steps=4, save_every=2))
    steps = pd.read_parquet(out / "steps.parquet")
    rollouts = pd.read_parquet(out / "rollouts.parquet")
    assert steps["step"].tolist() == [1, 2, 3, 4]
    for column in ("train_accuracy", "reward", "reward_std", "frac_reward_zero_std", "entropy", "policy_loss",
                   "completions_mean_length", "completions_max_length", "boxed_rate", "truncation_rate",
                   "learning_rate", "seconds", "tokens_per_s", "clip_ratio_region_mean"):
        assert column in steps.columns, column
    assert len(rollouts) == 4 * 2 * 8 and set(rollouts["example_id"]) == {HANDSHAKES}
    assert rollouts.groupby("step").size().tolist() == [16] * 4
    assert json.loads((out / "history_accuracy.json").read_text()).keys() == {HANDSHAKES}
    assert (out / "checkpoint-2").is_dir() and (out / "checkpoint-4").is_dir()
    run = json.loads((out / "run_config.json").read_text())
    assert run["config"]["examples"] == [HANDSHAKES] and "trl" in run["environment"]["versions"]
    assert run["world"]["format_prior"] == "minority"  # the run records the embedded world it started from
    # A checkpoint is a model the evaluation harness takes like any other.
    small = EvalConfig(benchmarks=["toy-test"], limit=3, max_new_tokens=16)
    table = evaluate(str(out / "checkpoint-4"), small, progress=False)
    assert len(table) == 3 and set(table["dtype"]) == {"float32"} and set(table["template"]) == {"train"}


def test_only_the_latest_checkpoint_keeps_the_optimizer_state_and_the_run_resumes_from_it(tmp_path):
    out = train(cfg(tmp_path, steps=4, save_every=2))
    assert (out / "checkpoint-2" / "model.safetensors").exists()  # the series is still evaluated step by step
    assert not (out / "checkpoint-2" / "optimizer.pt").exists()
    assert (out / "checkpoint-4" / "optimizer.pt").exists()
    train(cfg(tmp_path, steps=6, save_every=2))  # longer: resumes from checkpoint-4's optimizer state
    assert pd.read_parquet(out / "steps.parquet")["step"].tolist() == list(range(1, 7))
    assert [(out / f"checkpoint-{s}" / "optimizer.pt").exists() for s in (2, 4, 6)] == [False, False, True]


def test_trl_settings_pass_through_and_are_recorded_as_departures(tmp_path):
    out = train(cfg(tmp_path, steps=2, save_every=2, trl={"loss_type": "grpo", "top_entropy_quantile": 0.2}))
    run = json.loads((out / "run_config.json").read_text())
    assert run["grpo_config"]["loss_type"] == "grpo" and run["grpo_config"]["top_entropy_quantile"] == 0.2
    assert "trl.loss_type: 'grpo' instead of the recipe's 'dapo'" in run["deviations"]
    assert pd.read_parquet(out / "steps.parquet")["step"].tolist() == [1, 2]


def test_the_tables_of_grpo_fields_name_exactly_what_the_lab_sets():
    arguments = grpo_arguments(preset("paper"), on_gpu=False)
    assert set(arguments) == set(FROM_CONFIG) | set(MANAGED) | set(RECIPE)
    assert not set(FROM_CONFIG) & set(MANAGED) and not (set(FROM_CONFIG) | set(MANAGED)) & set(RECIPE)


def test_a_trl_setting_a_config_field_or_the_lab_owns_is_refused_naming_both():
    with pytest.raises(ValueError, match="trl.epsilon: set by the config field 'clip_epsilon'; set clip_epsilon"):
        preset("cpu", trl={"epsilon": 0.3})
    with pytest.raises(ValueError, match="trl.logging_steps: managed by the lab"):
        preset("cpu", trl={"logging_steps": 5})
    with pytest.raises(ValueError, match="trl.loss_typ: not a trl.GRPOConfig field \\(close: loss_type"):
        preset("cpu", trl={"loss_typ": "grpo"})
    with pytest.raises(ValueError, match="trl.top_entropy_quantile: 'wide' is not a valid float"):
        preset("cpu", trl={"top_entropy_quantile": "wide"})


def test_the_fast_sampler_draws_the_rollouts_generate_draws(tmp_path):
    # Same seed, same weights: rlvr.fastgen and transformers' generate() give the same rollouts.
    runs = {}
    for fast in (True, False):
        out = train(cfg(tmp_path / str(fast), steps=2, save_every=2, fast_generation=fast))
        runs[fast] = pd.read_parquet(out / "rollouts.parquet")[["step", "n_tokens", "reward", "correct"]]
        samplers = json.loads((out / "run_config.json").read_text())["samplers"]
        assert samplers == (["rlvr.fastgen"] if fast else ["trl"])
    pd.testing.assert_frame_equal(runs[True], runs[False])


def test_scoring_in_length_groups_gives_trls_log_probs_and_entropies(tmp_path):
    model, tokenizer = load_model_and_tokenizer("toy-base")
    c = cfg(tmp_path)
    trainer = RLVRTrainer(model=model, reward_funcs=run_rewards(c), run_log=RunLog(tmp_path / "log"),
                          args=grpo_config(c, on_gpu=False), train_dataset=training_dataset(c),
                          processing_class=tokenizer, config=c)
    torch.manual_seed(0)
    prompt, keep = 7, 30  # left-padded prompts, right-padded completions of 1..30 tokens as TRL lays them out
    ids = torch.randint(0, len(tokenizer), (16, prompt + keep))
    mask = torch.ones_like(ids)
    mask[:3, :2] = 0
    for row, length in enumerate(torch.randint(1, keep + 1, (16,)).tolist()):
        mask[row, prompt + length:] = 0
    ours = trainer._get_per_token_logps_and_entropies(model, ids, mask, keep, compute_entropy=True)
    trls = GRPOTrainer._get_per_token_logps_and_entropies(trainer, model, ids, mask, keep, compute_entropy=True)
    completion = mask[:, prompt:].bool()
    for mine, theirs in zip(ours[:2], trls[:2]):
        assert mine.shape == theirs.shape == (16, keep)
        torch.testing.assert_close(mine[completion], theirs[completion], rtol=1e-4, atol=1e-5)
        assert (mine[~completion] == 0).all()


def test_on_gpus_micro_batches_hold_rollouts_of_similar_length_and_train_the_same_gradient(tmp_path):
    # 16 scored rollouts of 1..30 tokens in 4 micro-batches: TRL's (shuffled, all as wide as the longest)
    # and the lab's GPU path (grouped by length, each cut at its own longest) sum to one gradient: every
    # token weighs 1 / (the batch's tokens) in either. (The entropy bonus, a per-micro-batch mean, is off.)
    trainer, model, _ = trainer_and_batch(tmp_path, entropy_coef=0.0)
    torch.manual_seed(1)
    lengths = torch.randint(1, 31, (16,))
    completion_ids = torch.randint(3, 100, (16, 30))
    mask = (torch.arange(30)[None] < lengths[:, None]).long()
    batch = dict(prompt_ids=torch.randint(3, 100, (16, 6)), prompt_mask=torch.ones(16, 6, dtype=torch.long),
                 completion_ids=completion_ids * mask, completion_mask=mask, advantages=torch.randn(16),
                 num_items_in_batch=mask.sum().float())
    trainer.args.steps_per_generation = trainer.current_gradient_accumulation_steps = 4

    def summed_gradient(parts):
        return sum(gradient(model, trainer._compute_loss(model, part)) for part in parts)

    shuffled = split_tensor_dict(shuffle_sequence_dict(batch), 4)
    grouped, padding = length_grouped_micro_batches(batch, 4)
    widths = [part["completion_ids"].size(1) for part in grouped]
    assert widths == sorted(widths) and widths[-1] == int(lengths.max()) and widths[0] < 30
    assert all(int(part["completion_mask"][:, -1].sum()) > 0 for part in grouped)  # no column of padding alone
    assert padding["padded_per_real"] < padding["padded_per_real_uncut"] == 16 * 30 / int(lengths.sum())
    torch.testing.assert_close(summed_gradient(grouped), summed_gradient(shuffled), rtol=1e-4, atol=1e-6)
    # Where the trainer groups (on GPUs), a generation batch is cut so and its padding logged with the step.
    trainer.groups_by_length = lambda: True
    trainer._generate_and_score_completions = lambda inputs: batch
    trainer._step, trainer._buffered_inputs = 0, None
    first = trainer._prepare_inputs(None)
    assert first["completion_ids"].size(1) == widths[0]
    assert trainer._metrics["train"]["padded_per_real"] == [padding["padded_per_real"]]


def test_entropy_only_training_has_no_policy_loss(tmp_path):
    out = train(cfg(tmp_path, steps=2, pg_loss_coef=0.0, entropy_coef=0.01))
    steps = pd.read_parquet(out / "steps.parquet")
    assert (steps["policy_loss"] == 0).all()
    assert (steps["loss"] < 0).all()  # what is left is the entropy bonus, -0.01 * H


def trainer_and_batch(tmp_path, **overrides):
    """An RLVRTrainer on toy-base and one micro-batch laid out as TRL hands it to the loss:
    8 rollouts of 20 tokens, advantages +1 for the first four and -1 for the last four."""
    model, tokenizer = load_model_and_tokenizer("toy-base")
    c = cfg(tmp_path, beta=0.0, **overrides)
    trainer = RLVRTrainer(model=model, reward_funcs=run_rewards(c), run_log=RunLog(tmp_path / "log"),
                          args=grpo_config(c, on_gpu=False), train_dataset=training_dataset(c),
                          processing_class=tokenizer, config=c)
    trainer.current_gradient_accumulation_steps = 1
    torch.manual_seed(0)
    prompt_ids, completion_ids = torch.randint(3, len(tokenizer), (8, 6)), torch.randint(3, len(tokenizer), (8, 20))
    batch = dict(prompt_ids=prompt_ids, prompt_mask=torch.ones_like(prompt_ids), completion_ids=completion_ids,
                 completion_mask=torch.ones_like(completion_ids), advantages=torch.tensor([1.0] * 4 + [-1.0] * 4),
                 num_items_in_batch=torch.tensor(160.0))
    model.train()
    return trainer, model, batch


# trainer_and_batch's rollouts: the first four right (advantage +1), the last four wrong (-1).
REWARDS = torch.tensor([1.0] * 4 + [0.0] * 4)


def as_trained(trainer, batch, rewards=REWARDS):
    """The batch as the loss sees it: advantages shaped as RLVRTrainer shapes them when it makes them."""
    c = trainer.rlvr_config
    return {**batch, "advantages": shaped_advantages(batch["advantages"], rewards, c.advantage, trainer.pg_loss_coef,
                                                     c.positive_weight)}


def mean_entropy(trainer, model, batch) -> float:
    ids = torch.cat([batch["prompt_ids"], batch["completion_ids"]], 1)
    with torch.no_grad():
        _, entropies, _ = trainer._get_per_token_logps_and_entropies(model, ids, torch.ones_like(ids), 20,
                                                                      compute_entropy=True)
    return entropies.mean().item()


@pytest.mark.parametrize("coef", [-0.5, 0.5])
def test_entropy_alone_moves_entropy_the_way_its_sign_says(tmp_path, coef):
    # pg_loss_coef 0 and a negative coefficient: entropy minimisation without reward (one-shot EM).
    trainer, model, batch = trainer_and_batch(tmp_path, pg_loss_coef=0.0, entropy_coef=coef)
    before = mean_entropy(trainer, model, batch)
    loss = trainer._compute_loss(model, as_trained(trainer, batch))
    assert loss.item() == pytest.approx(-coef * before, rel=1e-5)  # L = -coef * H, nothing else
    loss.backward()
    with torch.no_grad():
        for p in model.parameters():
            p -= 1e-2 * p.grad  # a plain gradient step
    after = mean_entropy(trainer, model, batch)
    assert (after < before - 0.1) if coef < 0 else (after > before + 0.1)


def gradient(model, loss) -> torch.Tensor:
    model.zero_grad()
    loss.backward()
    return torch.cat([p.grad.flatten() if p.grad is not None else torch.zeros(p.numel()) for p in model.parameters()])


def policy_gradient(trainer, model, batch, rewards=REWARDS):
    return gradient(model, trainer._compute_loss(model, as_trained(trainer, batch, rewards)))


@pytest.mark.parametrize("kind, kept", [("algorithm-negative", slice(4, 8)), ("algorithm-positive", slice(0, 4))])
def test_the_grpo_sign_variants_train_only_on_their_sign(tmp_path, kind, kept):
    trainer, model, batch = trainer_and_batch(tmp_path, entropy_coef=0.0, advantage=kind)
    ours = policy_gradient(trainer, model, batch)
    # The same as GRPO on the same rollouts with the other sign's advantages set to zero:
    # those rollouts contribute no gradient.
    only_kept = torch.zeros(8)
    only_kept[kept] = batch["advantages"][kept]
    trainer.rlvr_config = cfg(tmp_path, beta=0.0, entropy_coef=0.0)  # advantage: algorithm
    expected = policy_gradient(trainer, model, {**batch, "advantages": only_kept})
    everything = policy_gradient(trainer, model, batch)
    torch.testing.assert_close(ours, expected)
    assert not torch.allclose(ours, everything)


# Two groups of four: one mixed (right, wrong, right, wrong), one where every rollout is wrong.
TWO_GROUPS = torch.tensor([1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0])


def by_hand(model, batch, advantages) -> torch.Tensor:
    """The policy term's gradient written out: on-policy the ratio is 1 in value with the gradient of
    log pi, so L = -sum_i A_i sum_t log pi(o_it) / T, T the batch's completion tokens; log pi from the
    model's logits (temperature 1), not from TRL."""
    ids = torch.cat([batch["prompt_ids"], batch["completion_ids"]], 1)
    logits = model(input_ids=ids).logits[:, batch["prompt_ids"].size(1) - 1:-1]
    logps = torch.log_softmax(logits.float(), -1).gather(-1, batch["completion_ids"].unsqueeze(-1)).squeeze(-1)
    return gradient(model, -(advantages[:, None] * logps).sum() / logps.numel())


@pytest.mark.parametrize("kind, advantages", [
    ("nsr", [0.0, -1.0, 0.0, -1.0, -1.0, -1.0, -1.0, -1.0]),        # every wrong rollout, the all-wrong group too
    ("psr", [1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0]),
    ("w-reinforce", [0.1, -1.0, 0.1, -1.0, -1.0, -1.0, -1.0, -1.0]),  # Zhu et al.'s lambda = 0.1
])
def test_zhu_et_al_objectives_train_on_rewards_without_group_normalisation(tmp_path, kind, advantages):
    trainer, model, batch = trainer_and_batch(tmp_path, entropy_coef=0.0, advantage=kind)
    assert trainer.rlvr_config.temperature == 1.0  # by_hand's log-probabilities are at temperature 1
    # GRPO's own advantages for these rewards, which Zhu et al.'s objectives replace: 0 for the all-wrong group.
    grpo = torch.tensor([0.866, -0.866, 0.866, -0.866, 0.0, 0.0, 0.0, 0.0])
    ours = policy_gradient(trainer, model, {**batch, "advantages": grpo}, TWO_GROUPS)
    expected = by_hand(model, batch, torch.tensor(advantages))
    torch.testing.assert_close(ours, expected, rtol=1e-4, atol=1e-7)
    if kind != "psr":  # the all-wrong group carries gradient: without it, the step differs
        without = by_hand(model, batch, torch.tensor(advantages[:4] + [0.0] * 4))
        assert not torch.allclose(ours, without, rtol=1e-3, atol=1e-6)


@pytest.mark.parametrize("ratio_clip", [True, False])
def test_off_policy_the_clip_acts_unless_it_is_removed(tmp_path, ratio_clip):
    trainer, model, batch = trainer_and_batch(tmp_path, entropy_coef=0.0, ratio_clip=ratio_clip)
    ids = torch.cat([batch["prompt_ids"], batch["completion_ids"]], 1)
    with torch.no_grad():
        logps, _, _ = trainer._get_per_token_logps_and_entropies(model, ids, torch.ones_like(ids), 20)
    # Rollouts sampled by an older policy: each token's ratio pi / pi_old is 1.5 (as after an update).
    advantages = torch.tensor([1.0, 1.0, 1.0, 1.0, -2.0, -1.0, -1.0, -1.0])
    old = batch | {"old_per_token_logps": logps - torch.log(torch.tensor(1.5)), "advantages": advantages}
    loss = trainer._compute_loss(model, old).item()
    advantages = advantages[:, None].expand(8, 20)
    unclipped = -(1.5 * advantages).mean().item()
    clipped = -torch.minimum(1.5 * advantages, 1.2 * advantages).mean().item()  # 1.5 cut to 1 + 0.2 where A > 0
    assert loss == pytest.approx(clipped if ratio_clip else unclipped, rel=1e-5)
    assert trainer._metrics["train"]["clip_ratio/region_mean"][-1] == (0.5 if ratio_clip else 0.0)


def test_the_share_of_all_wrong_groups_and_the_weight_they_carry():
    nsr = shaped_advantages(torch.zeros(8), TWO_GROUPS, "nsr", 1.0)
    assert all_wrong_groups(TWO_GROUPS, nsr, 4) == {"all_wrong_groups": 0.5, "all_wrong_weight": 4 / 6}
    grpo = torch.tensor([0.866, -0.866, 0.866, -0.866, 0.0, 0.0, 0.0, 0.0])
    assert all_wrong_groups(TWO_GROUPS, grpo, 4) == {"all_wrong_groups": 0.5, "all_wrong_weight": 0.0}


def test_an_objective_without_a_critic_is_refused_for_ppo_naming_what_is_allowed():
    with pytest.raises(ValueError, match="advantage: 'nsr' is Zhu et al.'s objective .* use advantage algorithm, "
                                         "algorithm-positive or algorithm-negative"):
        preset("cpu", algorithm="ppo", advantage="nsr")
    with pytest.raises(ValueError, match="advantage_sign is now advantage \\(all -> algorithm"):
        preset("cpu", advantage_sign="negative")
    # Settings that would change nothing in the objective asked for are refused, not ignored.
    with pytest.raises(ValueError, match="positive_weight: weighs W-REINFORCE's right rollouts only"):
        preset("cpu", advantage="nsr", positive_weight=0.3)
    assert preset("cpu", advantage="w-reinforce", positive_weight=0.3).positive_weight == 0.3
    with pytest.raises(ValueError, match="ratio_clip is false"):
        preset("cpu", ratio_clip=False, clip_epsilon_high=0.28)


def test_a_run_stored_under_the_earlier_name_of_a_setting_compares_under_the_new_one(tmp_path):
    stored = {**cfg(tmp_path).to_dict(), "advantage_sign": "negative"}
    stored.pop("advantage")
    assert cfg(tmp_path, advantage="algorithm-negative").differences(stored) == {}
    assert cfg(tmp_path, advantage="nsr").differences(stored) == {"advantage": ("algorithm-negative", "nsr")}


def test_majority_reward_trains_the_same_whatever_the_label(tmp_path):
    # TTRL's reward never reads the gold answer: a wrong label changes nothing but the logged accuracy.
    runs = [train(cfg(tmp_path / label, steps=2, save_every=2, reward="majority", label=label))
            for label in ("465", "999")]
    right, wrong = (pd.read_parquet(out / "rollouts.parquet") for out in runs)
    assert right["reward"].tolist() == wrong["reward"].tolist()
    assert right["reward"].sum() > 0 and not wrong["correct"].any()  # accuracy is still logged against the label


def test_beta_zero_loads_no_reference_model_and_beta_loads_one(tmp_path):
    model, tokenizer = load_model_and_tokenizer("toy-base")
    dataset = training_dataset(cfg(tmp_path))
    for beta, has_ref in ((0.0, False), (0.001, True)):
        c = cfg(tmp_path, beta=beta)
        trainer = RLVRTrainer(model=model, reward_funcs=run_rewards(c), run_log=RunLog(tmp_path / "log"),
                              args=grpo_config(c, on_gpu=False), train_dataset=dataset, processing_class=tokenizer,
                              config=c)
        assert (trainer.ref_model is not None) == has_ref


@pytest.mark.parametrize("algorithm", ["grpo", "ppo"])
def test_a_killed_run_resumes_without_lost_or_duplicated_rows(tmp_path, algorithm):
    out = tmp_path / "run"
    script = (
        "import torch; from rlvr.config import preset; from rlvr.train import train; "
        f"train(preset('cpu', examples=['{HANDSHAKES}'], steps=8, save_every=2, output_dir=r'{out}', "
        f"algorithm='{algorithm}'))"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300

    def logged_steps():
        return [r["step"] for r in RunLog(out).read(STEPS_LOG)]

    # Kill it once step 5 is logged: rows exist past the last checkpoint (4).
    while not (any(s >= 5 for s in logged_steps()) and (out / "checkpoint-4" / "trainer_state.json").is_file()):
        assert proc.poll() is None and time.monotonic() < deadline, "the run should still be going"
        time.sleep(0.02)
    # A second run into the same folder meanwhile is refused before it touches the logs.
    before = logged_steps()
    with pytest.raises(RunBusy, match="being written by pid"):
        train(preset("cpu", examples=[HANDSHAKES], steps=8, save_every=2, output_dir=str(out), algorithm=algorithm))
    assert logged_steps()[: len(before)] == before
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert 5 <= max(logged_steps()) < 8  # it really was cut short, after the checkpoint

    train(preset("cpu", examples=[HANDSHAKES], steps=8, save_every=2, output_dir=str(out), algorithm=algorithm))
    steps = pd.read_parquet(out / "steps.parquet")
    rollouts = pd.read_parquet(out / "rollouts.parquet")
    assert steps["step"].tolist() == list(range(1, 9))
    assert rollouts.groupby("step").size().to_dict() == {s: 16 for s in range(1, 9)}
    if algorithm == "ppo":  # the critic came back from checkpoint-4 and went on
        assert steps["critic_value_loss"].notna().all() and (out / "checkpoint-8" / "critic").is_dir()


def test_one_shot_training_raises_training_accuracy(tmp_path):
    torch.manual_seed(0)
    out = train(cfg(tmp_path, steps=24, save_every=100))
    acc = pd.read_parquet(out / "steps.parquet")["train_accuracy"]
    print(acc.round(2).tolist())
    assert acc.tail(6).mean() > acc.head(6).mean() + 0.15


def test_the_train_command_runs_a_params_file_and_refuses_a_bad_one(tmp_path, capsys):
    params = tmp_path / "run.yaml"
    params.write_text(f"preset: cpu\nexamples: [{HANDSHAKES}]\nsteps: 2\noutput_dir: {tmp_path / 'out'}\n")
    assert main(["train", str(params), "--set", "save_every=1"]) == 0
    assert (tmp_path / "out" / "checkpoint-2").is_dir()
    params.write_text("preset: cpu\nlearning_rat: 1\n")
    assert main(["train", str(params)]) == 2
    assert "learning_rat" in capsys.readouterr().err
    assert not (tmp_path / "out2").exists()


def test_two_processes_write_one_table(tmp_path):
    # torchrun on the CPU (gloo): each process scores its share of the rollouts; the
    # main process gathers them and alone writes one row per step.
    out = tmp_path / "run"
    params = tmp_path / "two.yaml"
    # pi_1, solved about half the time: the two processes' shares rarely score alike.
    params.write_text(f"preset: cpu\nexamples: [toy-train-00004]\nsteps: 4\nsave_every: 4\noutput_dir: {out}\n")
    launch = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2"]
    command = [*launch, "-m", "rlvr.cli", "train", str(params)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    steps = pd.read_parquet(out / "steps.parquet")
    rollouts = pd.read_parquet(out / "rollouts.parquet")
    assert steps["step"].tolist() == [1, 2, 3, 4]
    assert rollouts.groupby("step").size().tolist() == [16] * 4  # both processes' 8, gathered
    assert sorted(rollouts["row"].unique()) == [0, 1] and (rollouts.groupby(["step", "row"]).size() == 8).all()
    # The step table's accuracy is over the whole batch, not the main process's share.
    assert steps["train_accuracy"].tolist() == rollouts.groupby("step")["correct"].mean().tolist()


def test_several_optimizer_steps_per_rollout_batch_each_report_the_batch_they_train_on(tmp_path):
    # The paper's text says 8 updates per rollout step (the code does 1): here 2.
    out = train(cfg(tmp_path, prompts_per_step=2, optimizer_steps_per_rollout=2, steps=2, save_every=2))
    steps = pd.read_parquet(out / "steps.parquet")
    assert steps["step"].tolist() == [1, 2, 3, 4]
    assert steps["rollout_step"].tolist() == [1, 1, 3, 3]
    assert steps["train_accuracy"].notna().all()
    assert steps.loc[0, "train_accuracy"] == steps.loc[1, "train_accuracy"]
    # Checkpoints count optimizer steps; the finished run is recognised as such.
    assert (out / "checkpoint-4").is_dir() and is_complete(out, 4) and not is_complete(out, 2 * 4)


def test_loading_the_reference_model_and_a_critic_prints_no_bar_and_no_misleading_warning(tmp_path, capfd, caplog):
    # beta > 0 loads a reference model inside TRL's trainer, PPO a critic: neither shows transformers'
    # "Loading weights" bar, and TRL's "model_init_kwargs will be ignored" (they build the reference) is dropped.
    train(cfg(tmp_path, algorithm="ppo", beta=0.01, steps=1, save_every=1), progress=False)
    assert "Loading weights" not in capfd.readouterr().err
    assert "model_init_kwargs" not in caplog.text
