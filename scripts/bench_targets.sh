#!/usr/bin/env bash
# The registry's targets that need no trained model (issue 25), one torch thread, written to
# nbs/_results/bench/targets.json; the race's two (matched_quality_speedup_vs_hf_b1/b8) come from `bash scripts/race.sh`.
# `ardm report` renders both into the README and the bench notebook shows them. About 10 minutes on 2 CPU cores;
# run it on an idle machine (the ratios are measured side by side, but a busy machine still widens their spread).
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 MPLBACKEND=Agg
${PY:-.venv/bin/python} -m ardm_nb.bench l2r_vs_hf_generate_throughput kv_cache_speedup_over_flop_speedup_L1024 \
  kv_cache_cost_growth_over_flop_growth_256_to_2048 cached_vs_uncached_token_agreement \
  gate_vs_confidence_sampler_throughput train_mfu --threads 1 --json "${TARGETS_OUT:-nbs/_results/bench/targets.json}"
