"""The race's command lines: the bench CLI finds the race's benchmarks (plugins), the race CLI fails cleanly."""
import shutil, subprocess, sys
from pathlib import Path
import pytest

ARDM = shutil.which('ardm', path=str(Path(sys.executable).parent)) or shutil.which('ardm')


@pytest.mark.parametrize('cmd', [[sys.executable, '-m', 'ardm_nb.bench'], [ARDM, 'bench']])
def test_bench_cli_lists_the_race_benchmarks(cmd):
    out = subprocess.run([*cmd, '--help'], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    for name in ('l2r_vs_hf_generate_throughput', 'sampler_vs_hf_generate_speed',
                 'matched_quality_speedup_vs_hf_b1', 'matched_quality_speedup_vs_hf_b8'):
        assert name in out.stdout


def test_matched_benchmarks_say_why_without_models(tmp_path):
    env = {'ARDM_RACE_DIR': str(tmp_path), 'PATH': '/usr/bin:/bin', 'OMP_NUM_THREADS': '1'}
    out = subprocess.run([sys.executable, '-m', 'ardm_nb.bench', 'matched_quality_speedup_vs_hf_b1'],
                         capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert 'matched_quality_speedup_vs_hf_b1: not run (no trained race models' in out.stdout


def test_race_cli_missing_model_folder(tmp_path):
    cmd = [sys.executable, '-m', 'ardm_nb.race', '--ar', str(tmp_path), '--judge', str(tmp_path),
           '--out', str(tmp_path / 'race.json')]
    out = subprocess.run(cmd, capture_output=True, text=True)
    assert out.returncode == 2 and out.stderr.startswith('error: '), out.stderr
    assert 'Traceback' not in out.stderr and not (tmp_path / 'race.json').exists()


def test_targets_agree_with_the_benchmarks_docstrings():
    "Every `Target OP X` a registered benchmark's docstring states is in `benchtools.TARGETS`, and only those."
    import re
    from ardm_nb.benchtools import BENCHMARKS, TARGETS, load_plugins
    load_plugins()
    stated = {}
    for name, fn in BENCHMARKS.items():
        m = re.search(r'[Tt]arget (>=|<=) ([0-9.]+)', fn.__doc__ or '')
        if m:
            stated[name] = (m.group(1), float(m.group(2).rstrip('.')))
    assert stated == TARGETS
