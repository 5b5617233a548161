"""Golden fixtures: every sampler of `SAMPLERS`, seeded, at NFE budgets 4, 8 and 16 on small saved models, gives exactly
the tokens, NFE, steps and early stops recorded in tests/golden/samplers.json (by `tools/golden.py`, before the samplers
were rebuilt as one engine and rules). Recorded and compared on the same machine: floats may differ between CPU types."""
import importlib.util, json
from pathlib import Path

import pytest

pytestmark = pytest.mark.usefixtures('one_thread')  # the fixture is in conftest.py

ROOT = Path(__file__).resolve().parents[1]


def load_tool():
    spec = importlib.util.spec_from_file_location('golden', ROOT / 'tools' / 'golden.py')
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_every_sampler_matches_the_golden_fixture():
    golden = load_tool()
    want = json.loads(golden.FIXTURE.read_text())
    got = golden.record()
    assert sorted(got) == sorted(want), 'the same runs (every sampler, every case, every budget)'
    bad = [k for k in want if got[k] != want[k]]
    assert not bad, f'{len(bad)} runs differ from the fixture, e.g. {bad[:5]}'


def test_oracle_eval_rows_match_the_golden_fixture():
    golden = load_tool()
    want = golden.eval_rows()
    got = golden.record_eval()
    assert len(got) == len(want)
    bad = [i for i, (a, b) in enumerate(zip(want, got)) if not golden.same_row(a, b)]
    assert not bad, f'{len(bad)} eval rows differ from the fixture, e.g. row {bad[:1]}'
