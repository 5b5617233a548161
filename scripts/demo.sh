#!/usr/bin/env bash
# One command for a fresh machine: set up .venv, train the DEMO block-diffusion model with eps-hybrid noise on the
# embedded Shakespeare corpus (a few minutes on 2 CPU cores), sample from it with the BD3 block sampler and with the
# dynamic overwrite gate at the same NFE budget, and run the gate walk-through.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export HF_DATASETS_OFFLINE=1 HF_HUB_OFFLINE=1 MPLBACKEND=Agg
run=out/demo/hybrid
if [ -f "$run/results.json" ]; then
  echo "== $run is already trained (delete it to train again)"
else
  echo "== training the DEMO model (L=128, L'=16, eps-hybrid noise: written tokens stay revisable) into $run"
  .venv/bin/ardm train --config demo --noise eps_hybrid --out "$run"
fi
echo "== two samples, BD3 block sampler with the KV cache, 48 denoiser passes (8 per block)"
.venv/bin/ardm sample --model "$run/model" --sampler bd3 --num 2 --length 96 --nfe 48 --seed 0 --prompt "KING."
echo "== the same budget with the dynamic overwrite gate in the loop (p over position x step: out/demo/gate_trace.png)"
.venv/bin/ardm sample --model "$run/model" --sampler gate --num 2 --length 96 --nfe 48 --seed 0 --prompt "KING." --trace out/demo/gate_trace.png
echo "== the overwrite gate, step by step, on a synthetic refinement"
.venv/bin/ardm demo --out out/demo "$@"
echo "== training curves: $run/loss.png; test perplexity: $run/results.json"
