"""The closed sets of values a config accepts, each defined here once: name -> what it is.

The configs take their fields' allowed values from here, and so do the CLI's choices and the
notebook widgets (through ``Config.choices``). A table of implementations (reward name ->
function, algorithm -> trainer) is built with ``implementations``, which refuses at import a
table that names other values than its registry. This module imports nothing, so the configs
and every implementation can import it at their top. The registry of prompt templates
(``rlvr.prompts.TEMPLATES``, a light module) lives with its implementation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

_T = TypeVar("_T")

# The RL algorithms (their trainers: rlvr.train.TRAINERS).
ALGORITHMS = {
    "grpo": "GRPO: group-normalised outcome advantages, no critic (the paper's main algorithm)",
    "ppo": "PPO: a critic's token values and GAE (the paper's Tab. 4 and Tab. 17 PPO rows; rlvr.ppo)",
}

# What the policy-gradient term's advantages are. The first three shape the algorithm's own (GRPO's
# group-normalised advantages, PPO's whitened GAE); the last three are Zhu et al.'s objectives (arXiv
# 2506.01347, code TianHongZXY/RLVR-Decomposed): a reward of 1 or 0 per rollout, no group normalisation,
# no critic, so a group where every rollout is wrong still pushes each of them down.
ADVANTAGES = {
    "algorithm": "the algorithm's own: GRPO's (r - mean) / (std + 1e-4) per prompt's group, or PPO's whitened GAE",
    "algorithm-positive": "the algorithm's own where positive, 0 elsewhere (a group-normalised stand-in for PSR)",
    "algorithm-negative": "the algorithm's own where negative, 0 elsewhere (a group-normalised stand-in for NSR)",
    "psr": "Zhu et al.'s PSR: +1 on every right rollout, 0 on wrong ones (GRPO only)",
    "nsr": "Zhu et al.'s NSR: -1 on every wrong rollout, all-wrong groups included, 0 on right ones (GRPO only)",
    "w-reinforce": "Zhu et al.'s W-REINFORCE: +positive_weight on right rollouts, -1 on wrong ones (GRPO only)",
}
# The advantages defined without a critic: a REINFORCE-style objective on the rewards alone.
REWARD_ADVANTAGES = ("psr", "nsr", "w-reinforce")
# An earlier name of a setting, and what its values are now: stored run configs that use it still compare.
RENAMED_SETTINGS = {
    "advantage_sign": ("advantage", {"all": "algorithm", "positive": "algorithm-positive",
                                     "negative": "algorithm-negative"}),
}

# Where the KL to the reference model (coefficient beta) enters.
KL_PENALTIES = {
    "loss": "the actor's low-variance (k3) KL loss (the paper's GRPO runs: verl's use_kl_loss)",
    "reward": "PPO only: beta x (log pi_old - log pi_ref) taken from each response token's reward before GAE "
              "(verl's PPO default: use_kl_loss off, kl_penalty kl, a fixed kl_coef)",
}

VLLM_MODES = {"colocate": "vLLM inside each training process", "server": "a separate `trl vllm-serve` process"}

# The reward functions (their implementations: rlvr.rewards.REWARDS).
REWARDS = {
    "outcome": "1 iff the last boxed answer equals the gold answer (the paper's reward)",
    "format": "1 iff a final answer can be extracted, right or wrong (Tab. 14's baseline)",
    "random": "1 with probability reward_p, whatever the text (Spurious Rewards)",
    "majority": "1 iff the answer is the group's most common one; the gold answer is never read (TTRL)",
}

# Generation backends of the evaluation (rlvr.backends.get_backend), and of training rollouts.
BACKENDS = {
    "auto": "vLLM where a GPU and vLLM are present, else transformers",
    "vllm": "vLLM (GPU extra)",
    "transformers": "transformers' batched generate (CPU, and the GPU fallback)",
}
TRAINING_BACKENDS = {
    **BACKENDS,
    "unsloth": "Unsloth's LoRA path with its vLLM engine (one GPU; a deviation: LoRA, not full fine-tuning)",
}

# The datasets, by name (where each loads from: rlvr.data.DATASETS).
DATASETS = {
    "toy-train": "embedded miniature math world, 2000 training problems",
    "toy-test": "embedded miniature math world, 500 held-out problems",
    "toy-test-long": "toy-test's problems, each with two more operations on its answer (a world's difficulty gap)",
    "math500": "MATH500 (Lightman et al.), 500 problems, subject and level",
    "aime24": "AIME 2024, 30 problems",
    "aime25": "AIME 2025, 30 problems",
    "amc23": "AMC 2023, 40 problems (answers are floats such as 27.0)",
    "minerva_math": "Minerva Math, 272 problems (answer: last box of the solution)",
    "olympiadbench": "OlympiadBench, 675 English open-ended math problems",
    "arc_easy": "ARC-Easy (multiple choice), 2376 test questions",
    "arc_challenge": "ARC-Challenge (multiple choice), 1172 test questions",
    "math_train": "MATH (Hendrycks) training split, 7500 problems",
    "deepscaler": "DeepScaleR-Preview, 40315 problems",
    "dsr_sub": "DSR-sub: the paper's 1209-example subset of DeepScaleR-Preview (reference row schema)",
}
# The embedded world's switches whose values are names (rlvr.toyworld.world; docs/worlds.md).
FORMAT_PRIORS = {
    "minority": "sources box 10-70% of their answers and run on 30-90% of the time (toy-base's world)",
    "majority": "sources box 60-83% of their answers (Qwen2.5-Math's range at base) and run on 10-30%",
    "boxing": "sources box 60-83% as the majority's do but run on 30-90% as toy-base's do: the majority's "
              "running on, which no paper gives, swept",
}
FAILURE_KINDS = {
    "ramble": "where a source does not stop, the document runs on into another question (toy-base's world)",
    "loop": "where a source does not stop, its last sentence repeats until the document ends",
}
# A world's base model sizes: width and depth of each in rlvr.toyworld.model.SIZES.
WORLD_SIZES = {
    "0.9M": "hidden 128, 4 layers of 4 heads (toy-base)",
    "3M": "hidden 192, 6 layers of 6 heads: about 3.3 times toy-base's parameters",
}
# Named embedded worlds (`rlvr world build NAME`): the switches each sets (rlvr.toyworld.world.World; the
# rest keep toy-base's values) and what it is for. Levels that no paper gives are the map's to sweep.
WORLDS = {
    "toy-base": ({}, "today's world: a minority format, running on, no checking, mixed documents (shipped)"),
    "format-majority": ({"format_prior": "majority"}, "sources box and stop most of the time, as Qwen2.5-Math"),
    "looping": ({"failure_kind": "loop"}, "a source that does not stop loops on its last sentence"),
    "coherent": ({"document_coherence": True}, "each document one source: questions of one template, one style"),
    "verifying": ({"verification": 0.1}, "one answer in ten rechecks every step and corrects its slip"),
    "code-majority": ({"reasoning_modes": 0.65},
                      "65% of worked answers in the finer code-like mode (Qwen2.5-Math's share)"),
    "code-minority": ({"reasoning_modes": 0.35}, "35% of worked answers in the finer code-like mode"),
    "gap": ({"difficulty_gap": True},
            "the corpus holds problems made longer; toy-test-long is longer than any candidate"),
    "toy-base-3M": ({"size": "3M"}, "toy-base's corpus, a 3M-parameter base"),
    "qwen-like": ({"format_prior": "majority", "reasoning_modes": 0.65, "verification": 0.1, "difficulty_gap": True,
                   "document_coherence": True}, "every switch on, the accurate mode the majority (Qwen2.5-Math-like)"),
    "llama-like": ({"format_prior": "majority", "reasoning_modes": 0.35, "verification": 0.1, "difficulty_gap": True,
                    "document_coherence": True}, "qwen-like with the accurate mode the minority (Llama-like)"),
}
# The paper's six evaluation benchmarks (EvalConfig's default).
EVAL_BENCHMARKS = ("math500", "aime24", "amc23", "minerva_math", "olympiadbench", "aime25")


def implementations(registry: Mapping[str, str], table: Mapping[str, _T], what: str) -> dict[str, _T]:
    """``table`` (name -> implementation) in ``registry``'s order, or ValueError where the two
    name different values: a registered value without an implementation would pass the config's
    check and fail mid-run; an implementation outside the registry could never be chosen."""
    missing, extra = [name for name in registry if name not in table], [name for name in table if name not in registry]
    if missing or extra:
        problems = ([f"no implementation of {', '.join(missing)}"] if missing else []) + \
                   ([f"{', '.join(extra)} not in the registry"] if extra else [])
        raise ValueError(f"the {what} disagree with their registry: {'; '.join(problems)}")
    return {name: table[name] for name in registry}
