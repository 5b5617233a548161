#!/usr/bin/env bash
# The race at equal quality (issue 25, part 1; nbs/96_race.ipynb): is any sampler faster than transformers'
# generate(use_cache=True) on a causal LM of the same shape, with samples as good as the AR model's own?
#
# 1. Trains, once (cached: a finished run with the asked steps is skipped; an interrupted one resumes; more steps
#    extend a finished one), the DEMO-shape models on the shipped Shakespeare, one torch thread each:
#      out/race/ar      AR (--block-size 1, seed 0): l2r, the quality reference, and generate's shape
#      out/race/bd3     BD3 (--block-size 16, absorbing noise, seed 0): bd3, confidence, threshold, ...
#      out/race/hybrid  BD3 (--block-size 16, eps-hybrid noise, seed 0): the gate family (gate, fixed, position)
#      out/race/judge   AR (--block-size 1, seed 1): the judge, neither raced model
#    The AR run trains the BPE tokenizer; the other three reuse it (--tokenizer), so all share one vocabulary.
# 2. Runs `python -m ardm_nb.race`: every sampler at 1, 2, 4, 8 and 16 steps per block, batch 1 and 8, length =
#    the DEMO context (128), each timed in interleaved rounds with generate; writes out/race/race.json (rows,
#    matched_quality_speedup_vs_hf_b1/b8, the models' records: steps, test perplexity, minutes of training steps) and
#    out/race/frontier.png, and copies both to nbs/_results/race/ for `ardm report` and the bench notebook.
#
# Steps (AR_STEPS, BD3_STEPS, JUDGE_STEPS; defaults below). Cost, one torch thread per run: a DEMO training step took
# 0.27 s (AR) and 0.52 s (BD3) on this 2-core machine while it was busy (bench._step_times, 3 rounds), plus the
# evaluations (every 200 steps, and the test split at the end). CPU time of the four trainings:
#   500 / 500 (the DEMO preset, what issue 25 measured: AR ppl 173, BD3 bound 269): about 15 minutes;
#   2000 / 4000 (default: BD3 learns slower per step; a fairer representative of each kind): about 1.7 hours
#     (about 1 hour of wall time with RACE_JOBS=2 on two idle cores);
#   5000 / 10000: about 4 hours.
# RACE_JOBS=2 (default) trains two of the last three side by side, one core each (AR first: they need its tokenizer).
# The race itself: 81 configurations (l2r, 16 samplers x 5 steps) x 2 batches, each timed beside a generate; one call
# at L=128 took 0.3 s (generate and l2r, batch 1) to 2.1 s (gate at 16 steps, batch 8): about 15-25 minutes on one
# core, with the quality runs (32 rows each).
#
# RACE_STAGES (default "main adapted"): the race of the four models above, then the adapted stage (below, about 17
# minutes of training from the AR model's weights and a race without the gate family); RACE_STAGES=adapted runs only it.
#
# RACE_TINY=1 runs the same commands on the TINY preset (20 steps each, 1 and 2 steps per block, batch 1 and 2) into
# out/race_tiny in about a minute: a check of this script, not a result.
# Usage: bash scripts/race.sh            RACE_TINY=1 bash scripts/race.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
ARDM=${ARDM:-.venv/bin/ardm}
export HF_DATASETS_OFFLINE=1 HF_HUB_OFFLINE=1 MPLBACKEND=Agg OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
export TOKENIZERS_PARALLELISM=false
if [ "${RACE_TINY:-0}" = 1 ]; then
  config=tiny; out=${RACE_OUT:-out/race_tiny}
  AR_STEPS=${AR_STEPS:-20}; BD3_STEPS=${BD3_STEPS:-20}; JUDGE_STEPS=${JUDGE_STEPS:-20}; ADAPT_STEPS=${ADAPT_STEPS:-20}
  race_args=(--steps 1 2 --batches 1 2 --quality-rows 4 --repeats 1)
else
  config=demo; out=${RACE_OUT:-out/race}
  AR_STEPS=${AR_STEPS:-2000}; BD3_STEPS=${BD3_STEPS:-4000}; JUDGE_STEPS=${JUDGE_STEPS:-2000}
  ADAPT_STEPS=${ADAPT_STEPS:-2000}
  race_args=(--steps 1 2 4 8 16 --batches 1 8 --quality-rows 32 --repeats 3)
fi
mkdir -p "$out"

trained_steps() {  # the steps of a finished run in $1 (0: none)
  "$PY" -c "import json, sys; print(json.load(open(sys.argv[1])).get('steps', 0))" "$1/results.json" 2>/dev/null \
    || echo 0
}

train() {  # train RUN_DIR STEPS [ardm train flags]: cached by results.json, resumable
  local dir=$1 steps=$2; shift 2
  if [ "$(trained_steps "$dir")" = "$steps" ]; then
    echo "== $dir: trained ($steps steps; delete it to train again)"
    return
  fi
  echo "== $dir: training to $steps steps (log: $dir.log)"
  "$ARDM" train --config "$config" --steps "$steps" --threads 1 --resume --out "$dir" "$@" > "$dir.log" 2>&1 \
    || { echo "race: training $dir failed; see $dir.log" >&2; tail -5 "$dir.log" >&2; return 1; }
  tail -1 "$dir.log"
}

train "$out/ar" "$AR_STEPS" --block-size 1 --seed 0
tok=$out/ar/model
pids=()
wait_some() {  # wait for the oldest job while RACE_JOBS are running
  while [ ${#pids[@]} -ge "${RACE_JOBS:-2}" ]; do
    wait "${pids[0]}"
    pids=("${pids[@]:1}")
  done
}
for job in "bd3 $BD3_STEPS --block-size 16 --seed 0" "hybrid $BD3_STEPS --block-size 16 --noise eps_hybrid --seed 0" \
           "judge $JUDGE_STEPS --block-size 1 --seed 1"; do
  read -r name steps flags <<< "$job"
  wait_some
  # shellcheck disable=SC2086  # $flags: several flags on purpose
  train "$out/$name" "$steps" $flags --tokenizer "$tok" &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done

stages=${RACE_STAGES:-"main adapted"}
if [[ " $stages " == *" main "* ]]; then
  echo "== the race (one thread): every sampler against generate, batch and steps: ${race_args[*]}"
  "$PY" -m ardm_nb.race --ar "$out/ar/model" --bd3 "$out/bd3/model" --hybrid "$out/hybrid/model" \
    --judge "$out/judge/model" --out "$out/race.json" --threads 1 "${race_args[@]}"
  if [ "${RACE_TINY:-0}" != 1 ] && [ -z "${RACE_OUT:-}" ]; then  # the committed copy `ardm report` renders
    mkdir -p nbs/_results/race
    cp "$out/race.json" "$out/frontier.png" nbs/_results/race/
    echo "== copied to nbs/_results/race/ (commit it, then \`ardm report\` renders the README's race paragraph)"
  fi
fi

# The adapted stage: a BD3 model started from the AR model's weights (`ardm train --init`, lr 1e-3, ADAPT_STEPS),
# raced in place of the scratch BD3 model (no hybrid model: the gate family is skipped) into $out/adapted/.
if [[ " $stages " == *" adapted "* ]]; then
  train "$out/bd3ar" "$ADAPT_STEPS" --block-size 16 --seed 0 --init "$tok" --set lr=1e-3
  echo "== the race with the adapted BD3 model"
  "$PY" -m ardm_nb.race --ar "$out/ar/model" --bd3 "$out/bd3ar/model" --judge "$out/judge/model" \
    --out "$out/adapted/race.json" --threads 1 "${race_args[@]}"
  if [ "${RACE_TINY:-0}" != 1 ] && [ -z "${RACE_OUT:-}" ]; then
    mkdir -p nbs/_results/race/adapted
    cp "$out/adapted/race.json" "$out/adapted/frontier.png" nbs/_results/race/adapted/
    echo "== copied to nbs/_results/race/adapted/"
  fi
fi
