#!/usr/bin/env bash
# Every target of the benchmark registry (`benchtools.TARGETS`) but the race's two, one torch thread, written to
# nbs/_results/bench/targets.json; the race's two (matched_quality_speedup_vs_hf_b1/b8) come from `bash scripts/race.sh`
# (nbs/_results/race/race.json). `ardm report` renders both into the README's speed paragraph, and the bench notebook
# shows them. Then the profiles of the two missed targets (nbs/97_profiles.ipynb: kv_cache_time_by_part,
# sampler_time_by_stage) to nbs/_results/bench/profiles.json, which the profiles chapter renders. About 15 minutes on 2
# CPU cores; run it on an idle machine (the ratios are measured side by side, but a busy machine still widens their
# spread).
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 MPLBACKEND=Agg HF_DATASETS_OFFLINE=1 HF_HUB_OFFLINE=1
PY=${PY:-.venv/bin/python}
# shellcheck disable=SC2207  # benchmark names: one word each
names=($("$PY" -c "from ardm_nb.benchtools import TARGETS
print(' '.join(k for k in TARGETS if not k.startswith('matched_quality_speedup')))"))
"$PY" -m ardm_nb.bench "${names[@]}" --threads 1 --json "${TARGETS_OUT:-nbs/_results/bench/targets.json}"
"$PY" -m ardm_nb.bench kv_cache_time_by_part sampler_time_by_stage --threads 1 \
  --json "${PROFILES_OUT:-nbs/_results/bench/profiles.json}"
