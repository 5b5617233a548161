"""scripts/bench_gpu.sh: without a GPU it says it skipped, runs nothing and succeeds."""
import subprocess, sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(torch.cuda.is_available(), reason='a GPU is here: the script would run the benchmarks')
def test_bench_gpu_skips_without_a_gpu(tmp_path):
    env = dict(PY=sys.executable, PATH='/usr/bin:/bin')
    r = subprocess.run(['bash', str(ROOT / 'scripts' / 'bench_gpu.sh')], capture_output=True, text=True, env=env,
                       cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith('bench_gpu: SKIPPED: no CUDA device'), r.stdout
    assert '== fp32' not in r.stdout, 'no benchmark ran'
