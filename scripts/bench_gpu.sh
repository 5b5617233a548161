#!/usr/bin/env bash
# The performance benchmarks of issue 25 on a CUDA GPU, twice: fp32 as on the CPU, then under bf16 autocast with
# torch.compile where a benchmark compiles (ARDM_BENCH_COMPILE=1: train_step_variants). Results in
# out/bench_gpu_fp32.json and out/bench_gpu_bf16.json. Without a GPU it says SKIPPED and exits 0 (nothing run).
# Usage: bash scripts/bench_gpu.sh [BENCHMARK ...]   (default: the list below)
# For the exactness tests on a GPU, see scripts/gpu_check.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 MPLBACKEND=Agg
if ! "$PY" -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)"; then
  echo "bench_gpu: SKIPPED: no CUDA device is visible to torch (torch.cuda.is_available() is False); nothing was run."
  exit 0
fi
"$PY" -c "import torch; print('bench_gpu: torch', torch.__version__, 'on', torch.cuda.get_device_name())"
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
  names=(kv_cache_cost_curve kv_cache_speedup_over_flop_speedup_L1024
         kv_cache_cost_growth_over_flop_growth_256_to_2048 cached_vs_uncached_token_agreement
         sampler_throughput gate_vs_confidence_sampler_throughput train_mfu train_step_variants
         memory_curve)
fi
mkdir -p out
echo "== fp32 on cuda"
"$PY" -m ardm_nb.bench --device cuda --json out/bench_gpu_fp32.json "${names[@]}"
echo "== bf16 autocast + torch.compile on cuda (train_mfu is read against the fp32 matmul peak)"
ARDM_BENCH_COMPILE=1 "$PY" -m ardm_nb.bench --device cuda --bf16 --json out/bench_gpu_bf16.json "${names[@]}"
