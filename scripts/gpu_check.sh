#!/usr/bin/env bash
# GPU readiness: the denoiser's exactness tests (vectorized == per-block loop, split == full attention mask,
# KV cache == no cache, cached == uncached sampling, L'=1 == AR, L'=L == MDLM, the bf16 autocast path) on a CUDA
# device, then the cost benchmarks on it (results in out/bench_cuda.json). Fails at once, saying so, without CUDA.
# Usage: bash scripts/gpu_check.sh [BENCHMARK ...]   (default: the cost curves, training and memory benchmarks)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 MPLBACKEND=Agg
if ! "$PY" -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)"; then
  echo "gpu_check: no CUDA device is visible to torch (torch.cuda.is_available() is False); nothing was run." >&2
  echo "gpu_check: run it on a machine with an NVIDIA GPU and a CUDA build of torch." >&2
  exit 1
fi
"$PY" -c "import torch; print('gpu_check: torch', torch.__version__, 'on', torch.cuda.get_device_name())"
echo "== exactness tests on cuda"
ARDM_TEST_DEVICE=cuda "$PY" -m pytest -q tests/test_model.py
echo "== no host syncs inside a training step or a cached sampling pass (torch.cuda.set_sync_debug_mode('error'))"
"$PY" - <<'PY'
import torch
from ardm_nb.model import BlockDiffusionLM, ModelConfig, DEMO, KVCache, commit, denoise_step
from ardm_nb.block_diffusion import draw_corruption, score
lm = BlockDiffusionLM(ModelConfig(**DEMO)).cuda()
x0 = torch.randint(4, 4000, (8, 128), generator=torch.Generator().manual_seed(0))
d = draw_corruption(lm.cfg, x0, torch.Generator().manual_seed(0)).to('cuda')  # drawn on the CPU, as the trainer does
x0 = x0.cuda()
def train_step():
    lm.zero_grad(set_to_none=True)
    score(lm, x0, d).loss.backward()
def cached_passes():
    with torch.no_grad():
        cache = KVCache()
        for b in range(4):
            denoise_step(lm, d.c.xt[:, 16 * b:16 * (b + 1)], cache)
            commit(lm, x0[:, 16 * b:16 * (b + 1)], cache)
for f in (train_step, cached_passes):
    f()  # the first call builds and copies the masks once
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode('error')
    f()
    torch.cuda.set_sync_debug_mode(0)
    torch.cuda.synchronize()
print('gpu_check: a training step and cached passes ran without a host sync')
PY
names=("$@")
if [ "${#names[@]}" -eq 0 ]; then
  names=(kv_cache_cost_curve kv_cache_cost_growth_256_to_2048 kv_cache_speedup_over_flop_speedup_L1024
         cached_vs_uncached_token_agreement sliding_window_curve sliding_window_cost_growth_1x_to_4x
         sampler_throughput gate_vs_confidence_sampler_throughput bd3_vs_ar_train_throughput_ratio
         train_tokens_per_second train_mfu train_mfu_bd3 train_step_variants memory_peak)
fi
echo "== benchmarks on cuda"
mkdir -p out
"$PY" -m ardm_nb.bench --device cuda --threads 4 --json out/bench_cuda.json "${names[@]}"
echo "gpu_check: passed; benchmark results in out/bench_cuda.json"
