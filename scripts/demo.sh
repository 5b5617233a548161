#!/usr/bin/env bash
# One command for a fresh machine, about 10 minutes on 2 idle CPU cores.
# Part 1, does revising help, and is the gate the best way to decide? Train a small model of markov-words (a
# synthetic language of two-token words whose exact denoiser, the oracle, is known), run the gate study's key
# comparison (nbs/experiments/gate_study.ipynb) on the oracle and on the trained model, and write out/demo/report.md:
# per mode a table of the quality at 3 NFE budgets (mean and 95% CI over 3 paired seeds) and the quality-vs-NFE figure.
# Part 2: the DEMO block-diffusion model trained on Shakespeare, samples with the BD3 sampler and with the gate.
# The two trainings run side by side, one core each; ARDM_DEMO_SERIAL=1 runs them one after the other.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export HF_DATASETS_OFFLINE=1 HF_HUB_OFFLINE=1 MPLBACKEND=Agg OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
ardm=.venv/bin/ardm
out=out/demo
mkdir -p "$out"
run=$out/hybrid
train_shakespeare() {
  if [ -f "$run/results.json" ]; then echo "== $run is already trained (delete it to train again)"; return; fi
  # --resume: a run interrupted earlier continues (a fresh start into its folder is refused)
  $ardm train --config demo --noise eps_hybrid --threads 1 --resume --out "$run"
}
bg=
if [ "${ARDM_DEMO_SERIAL:-0}" != 1 ]; then
  echo "== part 2 starts now on the second core: the DEMO Shakespeare model (L=128, L'=16, eps-hybrid noise)"
  echo "   trains in the background into $run (log: $out/shakespeare_train.log)"
  train_shakespeare > "$out/shakespeare_train.log" 2>&1 &
  bg=$!
fi

echo "== part 1: does revising help, and is the gate the best way to decide? (task markov-words)"
model=$out/markov
if [ -f "$model/results.json" ]; then
  echo "== $model is already trained (delete it to train again)"
else
  echo "== training a small markov-words model (the gate study's: 2 layers of width 32, 4000 steps) into $model"
  $ardm train --task markov-words --config tiny --steps 4000 --threads 1 --resume --out "$model" \
    > "$out/markov_train.log" 2>&1 \
    || { tail -n 5 "$out/markov_train.log"; exit 1; }
  tail -n 1 "$out/markov_train.log"
fi
# the strongest baselines (confidence, p2, wino), the revisers (fixed, detect), the gate with the study's defaults
# (log q signal, refine 0) and the gate as the write-up had it (gate@writeup), each at NFE 4, 8 and 16, seeds 0-2
compare=(--task markov-words --samplers confidence,p2,wino,fixed,detect,gate,gate@writeup
         --option gate@writeup.refine=1 --option gate@writeup.gate.logq=false --nfe 4,8,16 --seeds 3 --threads 1)
echo "== the key comparison with the exact oracle (64 rows per seed): $out/markov_oracle"
$ardm eval "${compare[@]}" --model oracle --rows 64 --out "$out/markov_oracle" > "$out/markov_oracle.log" 2>&1 \
  || { tail -n 5 "$out/markov_oracle.log"; exit 1; }
echo "== the same with the trained model (32 rows per seed): $out/markov_trained"
$ardm eval "${compare[@]}" --model "$model/model" --rows 32 --out "$out/markov_trained" \
  > "$out/markov_trained.log" 2>&1 || { tail -n 5 "$out/markov_trained.log"; exit 1; }
echo "== the report: $out/report.md"
.venv/bin/python -c "
from ardm_nb.report import write_report
intro = ('The gate study\'s key comparison (nbs/experiments/gate_study.ipynb has every sampler, variant and ablation). '
         'markov-words: rows of 64 tokens in blocks of 16; generate: invalid_word_rate, the share of two-token words '
         'that are not words of the language (lower is better); repair: token_accuracy after editing rows with 6 '
         'swapped tokens. gate: the sampler\'s defaults (log q signal, refine 0); gate@writeup: the write-up\'s gate.')
rep = write_report([('exact oracle', '$out/markov_oracle'), ('trained model ($model)', '$out/markov_trained')],
                   '$out', title='Does revising help? markov-words, scripts/demo.sh', intro=intro)
print('\n'.join(rep.summary))
"

echo "== part 2: Shakespeare"
if [ -n "$bg" ]; then
  echo "== waiting for the DEMO Shakespeare training (log: $out/shakespeare_train.log)"
  wait "$bg" || { tail -n 5 "$out/shakespeare_train.log"; exit 1; }
else
  train_shakespeare
fi
echo "== two samples, BD3 block sampler with the KV cache, 48 denoiser passes (8 per block)"
$ardm sample --model "$run/model" --sampler bd3 --num 2 --length 96 --nfe 48 --seed 0 --prompt "KING."
echo "== the same budget with the dynamic overwrite gate in the loop (p over position x step: $out/gate_trace.png)"
$ardm sample --model "$run/model" --sampler gate --num 2 --length 96 --nfe 48 --seed 0 --prompt "KING." \
  --trace "$out/gate_trace.png"
echo "== the overwrite gate, step by step, on a synthetic refinement"
$ardm demo --out "$out" "$@"
echo "== part 1 report: $out/report.md; Shakespeare training curves: $run/loss.png, test perplexity: $run/results.json"
echo "== done in $((SECONDS / 60)) min $((SECONDS % 60)) s of wall time, the install included"
