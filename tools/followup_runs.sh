#!/usr/bin/env bash
# The runs behind docs/predictions.md's tables, resumable (a finished run is skipped, a killed one resumes):
#   tools/followup_runs.sh random     # the random reward: learning rate x updates per batch x clip, 1-shot and full set
#   tools/followup_runs.sh em         # one-shot EM at Gao et al.'s settings
#   tools/followup_runs.sh zhu        # NSR, W-REINFORCE and their GRPO controls at Zhu et al.'s recipe
# Each run: `rlvr train <params> --set ...` into outputs/followups/<name>/seed<S>/, then `rlvr evaluate-run`
# (strict accuracy on toy-test at every checkpoint, the base as step 0). Seeds: SEEDS (default "0 1 2").
# Two copies of one command share its runs (each takes the next run no other holds), one a core.
set -euo pipefail
cd "$(dirname "$0")/.."
RLVR=${RLVR:-.venv/bin/rlvr}
SEEDS=${SEEDS:-0 1 2}

one() {  # name params-file seed [--set field=value ...]
  local name=$1 params=$2 seed=$3; shift 3
  local out=outputs/followups/$name/seed$seed
  if [ -f "$out.done" ]; then echo "done already: $out"; return; fi
  mkdir -p "$out"
  exec {lock}> "$out.lock"
  if ! flock -n "$lock"; then echo "another copy runs $out"; exec {lock}>&-; return; fi
  "$RLVR" train "$params" --set seed="$seed" --set output_dir="$out" "$@" > "$out.log" 2>&1
  "$RLVR" evaluate-run "$out" --preset cpu --base toy-base >> "$out.log" 2>&1
  touch "$out.done"
  exec {lock}>&-
  echo "$(date +%T) $name seed $seed"
}

case "${1:-}" in
  random)
    # Shao et al.'s two updates per rollout batch (the most 2 prompts a step allow: updates must divide the
    # prompts), the learning rate from the cpu preset's up, which moves the policy further from the sampler.
    for scope in 1shot full; do
      [ "$scope" = full ] && examples=(--set examples=null) || examples=()
      for cell in "2 5e-5" "2 2e-4" "2 1e-3"; do
        read -r updates lr <<< "$cell"
        for clip in clip noclip; do
          name=random_${clip}_${scope}_u${updates}_lr${lr}
          for seed in $SEEDS; do
            one "$name" "params/toy/random_$clip.yaml" "$seed" "${examples[@]}" \
              --set optimizer_steps_per_rollout="$updates" --set learning_rate="$lr"
          done
        done
      done
    done ;;
  em)
    for seed in $SEEDS; do one em_gao params/toy/one_shot_em_gao.yaml "$seed"; done ;;
  zhu)
    for seed in $SEEDS; do
      one nsr_zhu params/toy/nsr_zhu.yaml "$seed"
      one w-reinforce_zhu params/toy/w-reinforce_zhu.yaml "$seed"
      one grpo_at_zhu params/toy/nsr_zhu.yaml "$seed" --set advantage=algorithm
      one grpo_negative_at_zhu params/toy/nsr_zhu.yaml "$seed" --set advantage=algorithm-negative
    done ;;
  *) echo "usage: $0 random|em|zhu" >&2; exit 2 ;;
esac
