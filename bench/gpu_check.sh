#!/usr/bin/env bash
# A lent GPU machine's session, as one script (torch and transformers there, nothing fetched):
#   0. bench/gpu_check.py, the GPU check: a few steps of the lab's trainer, paper preset, on a randomly
#      initialised Qwen2.5-Math-1.5B shape, through each generation path installed;
#   1. bench/gpu_step.py: one GRPO-shaped step on a randomly initialised Qwen2.5-Math-1.5B shape
#      (64 rollouts x 1024 new tokens, transformers generation, bf16);
#   2. the paper's training memory: micro-batches of 16, 8 and 4 rollouts at its 3072-token responses;
#   3. the lab's own trainer and evaluation on the GPU: `rlvr train` (TRL, bf16) and `rlvr evaluate`
#      on the embedded toy-base (a Qwen2 architecture), the path a user's GPU run takes without vLLM;
#   4. the follow-up modes on the GPU (random and majority rewards, NSR, entropy minimisation: a few
#      steps each) and pass@k from 256 samples a problem on 25 toy-test problems;
#   5. bench/gpu_check.py --settings 80gb: the transformers path at params/paper/one_shot_pi1_80gb.yaml's
#      settings (micro-batch 2, 3072 new tokens, 16 prompts x 8), measured memory beside rlvr.memory's
#      estimate (about 7 minutes; not in the default parts).
# The packages the device lacks (trl, datasets, math-verify, ...) travel as py3.12 wheels in .whl/
# (see bench/README or docs/benchmarks.md for the download line). Figures land in $OUT (or ./gpu-check).
#
#   bash bench/gpu_check.sh            # on the GPU machine
#   GPU_CHECK_TINY=1 bash bench/gpu_check.sh   # anywhere: a tiny model, a few steps (checks the script)
#   GPU_CHECK_PARTS=3 bash bench/gpu_check.sh  # only some parts
#   GPU_CHECK_PARTS=5 bash bench/gpu_check.sh  # the 80 GB settings alone
set -u
OUT=${OUT:-gpu-check}
mkdir -p "$OUT"
PY=${PYTHON:-python3}
log="$OUT/gpu_check.log"
say() { echo "== $* ($(date +%T))" | tee -a "$log"; }

if [ -d .whl ] && ls .whl/*.whl >/dev/null 2>&1; then
    $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
        2>&1 | tail -3 | tee -a "$log"
    export PYTHONPATH=/tmp/site:$PWD/lib
else
    export PYTHONPATH=$PWD/lib
fi
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
tiny=${GPU_CHECK_TINY:+--tiny --device cpu}
steps=${GPU_CHECK_TINY:+2}
parts=${GPU_CHECK_PARTS:-01234}
part() { [[ $parts == *$1* ]]; }

say "machine"
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1
  $PY -c "import torch, transformers; print('torch', torch.__version__, 'transformers', transformers.__version__)"
} | tee -a "$log"

run=/tmp/gpu-run
cat > /tmp/gpu_train.yaml <<EOF
preset: cpu
examples: [toy-train-00007]   # the handshakes problem, which toy-base solves some of the time
steps: ${steps:-40}
save_every: ${steps:-40}
output_dir: $run
EOF

if part 0; then
say "0. the GPU check: the lab's trainer, paper preset, Qwen2.5-Math-1.5B shape"
timeout 900 $PY bench/gpu_check.py ${GPU_CHECK_TINY:+--tiny} --json "$OUT/gpu_check.json" 2>&1 \
    | grep -v "friendly reminder" | tail -30 | tee -a "$log"
fi

if part 1; then
say "1. one GRPO-shaped step, Qwen2.5-Math-1.5B shape"
timeout 300 $PY bench/gpu_step.py $tiny --json "$OUT/gpu_step.json" 2>&1 | grep -v "friendly reminder" | tee -a "$log"
fi

if part 2; then
say "2. training memory at the paper's response length (3072 new tokens), by micro-batch"
for mb in 16 8 4; do
    timeout 120 $PY bench/gpu_step.py $tiny --skip-generation --max-new-tokens 3072 --micro-batch "$mb" --steps 1 \
        2>&1 | grep -v "friendly reminder" | tee -a "$log" "$OUT/gpu_memory.jsonl"
done
fi

if part 3; then
say "3. the lab's trainer and evaluation on the GPU (toy-base, bf16, transformers generation)"
rm -rf "$run"
start=$(date +%s%N)
timeout 300 $PY -m rlvr.cli train /tmp/gpu_train.yaml 2>&1 | grep -v -i "warn" | tail -15 | tee -a "$log"
echo "train seconds: $(( ($(date +%s%N) - start) / 1000000 ))e-3" | tee -a "$log"
cp "$run"/steps.jsonl "$OUT/gpu_train_steps.jsonl" 2>/dev/null || ls "$run" | tee -a "$log"
cp "$run"/run_config.json "$OUT/gpu_train_config.json" 2>/dev/null || true
start=$(date +%s%N)
timeout 240 $PY -m rlvr.cli evaluate "$run/checkpoint-${steps:-40}" --preset cpu --benchmarks toy-test \
    ${GPU_CHECK_TINY:+--limit 20} --out /tmp/gpu-eval 2>&1 | tail -12 | tee -a "$log"
echo "evaluate seconds: $(( ($(date +%s%N) - start) / 1000000 ))e-3" | tee -a "$log"
fi

if part 4; then
say "4. the follow-up modes on the GPU, and pass@256"
for mode in "reward=random" "reward=majority" "advantage=nsr" "pg_loss_coef=0 entropy_coef=-0.001"; do
    sets=$(for kv in $mode; do printf -- "--set %s " "$kv"; done)
    start=$(date +%s%N)
    timeout 120 $PY -m rlvr.cli train /tmp/gpu_train.yaml $sets --set steps=5 --set save_every=5 \
        --set output_dir=/tmp/gpu-mode --fresh > /tmp/gpu-mode.log 2>&1
    rc=$?
    echo "$mode: exit $rc, $(( ($(date +%s%N) - start) / 1000000 ))e-3 s, steps $(wc -l < /tmp/gpu-mode/steps.jsonl)" \
        | tee -a "$log"
    [ $rc = 0 ] || tail -5 /tmp/gpu-mode.log | tee -a "$log"
    rm -rf /tmp/gpu-mode
done
samples=${GPU_CHECK_TINY:+4}
start=$(date +%s%N)
timeout 300 $PY -m rlvr.cli evaluate toy-base --preset cpu --benchmarks toy-test --samples "${samples:-256}" \
    --temperature 0.6 --limit 25 --out /tmp/gpu-passk 2>&1 | grep -v "it/s" | tail -4 | tee -a "$log"
echo "pass@${samples:-256} evaluation seconds: $(( ($(date +%s%N) - start) / 1000000 ))e-3" | tee -a "$log"
cp /tmp/gpu-passk/pass_at.csv "$OUT/gpu_pass_at.csv" 2>/dev/null || true
fi
if part 5; then
say "5. the GPU check at the 80 GB settings: the transformers path, one_shot_pi1_80gb.yaml, 3072 new tokens"
timeout 600 $PY bench/gpu_check.py --settings 80gb ${GPU_CHECK_TINY:+--tiny} --json "$OUT/gpu_check_80gb.json" 2>&1 \
    | grep -v "friendly reminder" | tail -40 | tee -a "$log"
fi
say "done"
