"Bad input raises ValueError naming the value given and the range allowed."
import re

import pytest
import torch
from hypothesis import given, settings, strategies as st

from ardm_nb.acceptance import AcceptanceConfig, accept_edits
from ardm_nb.gate import GateConfig, Selector, budget, linear_schedule
from ardm_nb.schedules import Hyperschedule, ar_diffusion_timesteps, maturity_prior
from ardm_nb.signals import confidence_change, entropy, uncertainty_signals

FAST = settings(max_examples=50, deadline=None)
Z = torch.zeros(2, 5)
POS = re.escape('(0, inf)')  # the allowed range of a strictly positive value


def rng(lo_hi: str) -> str: return re.escape(lo_hi)


CASES = {
    # n < 1
    'maturity_prior n=0': (lambda: maturity_prior(0, 1, 4), r'\bn=0\b.*' + rng('[1, inf)')),
    'maturity_prior n=-3': (lambda: maturity_prior(-3, 1, 4), r'\bn=-3\b.*' + rng('[1, inf)')),
    'maturity_prior n=2.5': (lambda: maturity_prior(2.5, 1, 4), r'\bn=2\.5\b.*integer.*' + rng('[1, inf)')),
    'mdlm n=0': (lambda: Hyperschedule.mdlm(0, 4), r'\bn=0\b.*' + rng('[1, inf)')),
    'block n=0': (lambda: Hyperschedule.block(0, 1, 1), r'\bn=0\b.*' + rng('[1, inf)')),
    'ar n=0': (lambda: Hyperschedule.ar(0), r'\bn=0\b.*' + rng('[1, inf)')),
    'budget n=0': (lambda: budget(0.5, 0), r'\bn=0\b.*' + rng('[1, inf)')),
    'ar_diffusion N=0': (lambda: ar_diffusion_timesteps(0, 0, 4), r'\bN=0\b.*' + rng('[1, inf)')),
    # T < 1
    'maturity_prior T=0': (lambda: maturity_prior(4, 1, 0), r'\bT=0\b.*' + rng('[1, inf)')),
    'GateConfig T=0': (lambda: GateConfig(T=0), r'\bT=0\b.*' + rng('[1, inf)')),
    'GateConfig T=-2': (lambda: GateConfig(T=-2), r'\bT=-2\b.*' + rng('[1, inf)')),
    'linear_schedule T=0': (lambda: linear_schedule(1, 0, 0.5, 0.1), r'\bT=0\b.*' + rng('[1, inf)')),
    'ar_diffusion T=0': (lambda: ar_diffusion_timesteps(4, 0, 0), r'\bT=0\b.*' + rng('[1, inf)')),
    # t outside 1..T
    'maturity_prior t=0': (lambda: maturity_prior(4, 0, 4), r'\bt=0\b.*' + rng('[1, 4]')),
    'maturity_prior t=5': (lambda: maturity_prior(4, 5, 4), r'\bt=5\b.*' + rng('[1, 4]')),
    'maturity_prior t=0.5': (lambda: maturity_prior(4, 0.5, 4), r'\bt=0\.5\b.*' + rng('[1, 4]')),
    'maturity_prior t tensor': (lambda: maturity_prior(4, torch.tensor([1, 2, 9]), 4), r'\bt=9(\.0)?\b.*' + rng('[1, 4]')),
    'linear_schedule t=6': (lambda: linear_schedule(6, 5, 0.5, 0.1), r'\bt=6\b.*' + rng('[1, 5]')),
    # alpha <= 0
    'maturity_prior alpha=0.0': (lambda: maturity_prior(4, 1, 4, alpha=0.0), r'\balpha=0\.0\b.*' + POS),
    'maturity_prior alpha=-1.5': (lambda: maturity_prior(4, 1, 4, alpha=-1.5), r'\balpha=-1\.5\b.*' + POS),
    'maturity_prior alpha=nan': (lambda: maturity_prior(4, 1, 4, alpha=float('nan')), r'\balpha=nan\b.*' + POS),
    'GateConfig alpha=0.0': (lambda: GateConfig(alpha=0.0), r'\balpha=0\.0\b.*' + POS),
    # temperature <= 0
    'entropy temperature=0.0': (lambda: entropy(Z, 0.0), r'\btemperature=0\.0\b.*' + POS),
    'entropy temperature=-1.0': (lambda: entropy(Z, -1.0), r'\btemperature=-1\.0\b.*' + POS),
    'signals temperature=0.0': (lambda: uncertainty_signals(Z, temperature=0.0), r'\btemperature=0\.0\b.*' + POS),
    'signals temperature=-2.0': (lambda: uncertainty_signals(Z, Z, temperature=-2.0), r'\btemperature=-2\.0\b.*' + POS),
    'confidence_change temperature=0.0': (lambda: confidence_change(Z, Z, temperature=0.0), r'\btemperature=0\.0\b.*' + POS),
    'GateConfig temperature=0.0': (lambda: GateConfig(temperature=0.0), r'\btemperature=0\.0\b.*' + POS),
    'GateConfig temperature=-0.5': (lambda: GateConfig(temperature=-0.5), r'\btemperature=-0\.5\b.*' + POS),
    'accept_edits temperature=0.0': (lambda: accept_edits(torch.zeros(1, 2, 5), torch.zeros(1, 2, dtype=torch.long),
                                                          torch.zeros(1, 2, dtype=torch.bool), temperature=0.0),
                                     r'\btemperature=0\.0\b.*' + POS),
    # rho outside (0, 1]
    'budget rho=1.5': (lambda: budget(1.5, 10), r'\brho=1\.5\b.*' + rng('(0, 1]')),
    'budget rho=0.0': (lambda: budget(0.0, 10), r'\brho=0\.0\b.*' + rng('(0, 1]')),
    'budget rho=-0.1': (lambda: budget(-0.1, 10), r'\brho=-0\.1\b.*' + rng('(0, 1]')),
    'Selector rho=1.5': (lambda: Selector('topk', rho=(1.5, 0.1)), r'\brho=1\.5\b.*' + rng('(0, 1]')),
    'Selector rho=0.0': (lambda: Selector('topk', rho=(0.5, 0.0)), r'\brho=0\.0\b.*' + rng('(0, 1]')),
    # acceptance lambda: a ratio needs lam >= 1, a floor lam < 1
    'ratio lam=0.5': (lambda: AcceptanceConfig(rule='ratio', lam=0.5), r'\blam=0\.5\b.*' + rng('[1, inf)')),
    'floor lam=1.2': (lambda: AcceptanceConfig(rule='floor', lam=1.2), r'\blam=1\.2\b.*' + rng('[0, 1)')),
    # shape mismatch between logits and prev_logits
    'confidence_change shapes': (lambda: confidence_change(torch.zeros(2, 5), torch.zeros(3, 5)),
                                 r'logits has shape \(2, 5\) but prev_logits has shape \(3, 5\)'),
    'signals shapes': (lambda: uncertainty_signals(torch.zeros(2, 5), torch.zeros(2, 4)),
                       r'logits has shape \(2, 5\) but prev_logits has shape \(2, 4\)'),
    'signals shapes 3d': (lambda: uncertainty_signals(torch.zeros(1, 2, 5), torch.zeros(2, 5)),
                          r'logits has shape \(1, 2, 5\) but prev_logits has shape \(2, 5\)'),
}


@pytest.mark.parametrize('case', list(CASES))
def test_bad_input_raises_value_error(case):
    call, pattern = CASES[case]
    with pytest.raises(ValueError, match=pattern):
        call()


@FAST
@given(alpha=st.floats(max_value=0.0, allow_nan=False))
def test_any_nonpositive_alpha_is_named(alpha):
    with pytest.raises(ValueError, match=re.escape(f'alpha={alpha!r}') + '.*' + POS):
        maturity_prior(4, 1, 4, alpha=alpha)


@FAST
@given(temperature=st.floats(max_value=0.0, allow_nan=False))
def test_any_nonpositive_temperature_is_named(temperature):
    msg = re.escape(f'temperature={temperature!r}') + '.*' + POS
    for call in (lambda: entropy(Z, temperature), lambda: uncertainty_signals(Z, temperature=temperature),
                 lambda: GateConfig(temperature=temperature)):
        with pytest.raises(ValueError, match=msg):
            call()


@FAST
@given(rho=st.one_of(st.floats(max_value=0.0, allow_nan=False), st.floats(min_value=1.0, exclude_min=True)))
def test_any_rho_outside_unit_interval_is_named(rho):
    msg = re.escape(f'rho={rho!r}') + '.*' + rng('(0, 1]')
    with pytest.raises(ValueError, match=msg):
        budget(rho, 10)
    with pytest.raises(ValueError, match=msg):
        Selector('topk', rho=(0.5, rho))


@FAST
@given(n=st.integers(max_value=0), T=st.integers(1, 10))
def test_any_nonpositive_length_is_named(n, T):
    with pytest.raises(ValueError, match=rf'\bn={n}\b.*' + rng('[1, inf)')):
        maturity_prior(n, 1, T)


@FAST
@given(T=st.integers(1, 20), data=st.data())
def test_any_step_outside_range_is_named(T, data):
    t = data.draw(st.one_of(st.integers(max_value=0), st.integers(min_value=T + 1)))
    with pytest.raises(ValueError, match=rf'\bt={t}\b.*' + rng(f'[1, {T}]')):
        maturity_prior(4, t, T)


# ---------------------------------------------------------------------------------------------------------------
# The bad-input matrix of issue 12: every row runs the `ardm` command (through `cli.main`; the SUBPROCESS rows also
# through the installed entry point) and must end with exit code 2 (bad input) or 1 (a failure the user can act on),
# a message naming the bad value with the CLI's own flag names, no traceback, and nothing written. The same rows of
# the Python API raise ValueError/TypeError.
# ---------------------------------------------------------------------------------------------------------------
import json, os, shutil, subprocess, sys, time  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402
from dataclasses import replace  # noqa: E402
from pathlib import Path  # noqa: E402

ENV = dict(os.environ, HF_DATASETS_OFFLINE='1', HF_HUB_OFFLINE='1', MPLBACKEND='Agg', OMP_NUM_THREADS='1')


@pytest.fixture(scope='session')
def folders(tmp_path_factory):
    "One TINY run (seconds, one thread) and damaged copies of its model folder, built once per session."
    from ardm_nb.train import PRESETS, train
    root = tmp_path_factory.mktemp('bad_input')
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try: train(replace(PRESETS['tiny'], steps=2, eval_every=2, ckpt_every=2), root / 'run', progress=False, log=lambda *a: None)
    finally: torch.set_num_threads(n)
    model = root / 'run' / 'model'
    def damaged(name, damage):
        p = root / name
        shutil.copytree(model, p)
        damage(p)
    w = 'model.safetensors'
    damaged('truncated', lambda p: (p / w).write_bytes((p / w).read_bytes()[:-200]))
    damaged('zero', lambda p: (p / w).write_bytes(b''))
    damaged('badjson', lambda p: (p / 'config.json').write_text('{"vocab_size": 300,'))
    damaged('noweights', lambda p: (p / w).unlink())
    damaged('notok', lambda p: [(p / f).unlink() for f in ('tokenizer.json', 'tokenizer_config.json')])
    (root / 'zero.txt').write_bytes(b'')
    (root / 'two.txt').write_text('two words\n')
    (root / 'a_file').write_text('not a folder')
    return root


R = '{root}'  # replaced by the fixture's folder in every argument
# id: (arguments, allowed exit codes, texts the message must contain, a path that must not exist afterwards)
MATRIX = {
    'sample truncated safetensors': (['sample', '--model', f'{R}/truncated'], {2}, ["truncated/model.safetensors' is not a readable safetensors file"], None),
    'sample 0-byte safetensors': (['sample', '--model', f'{R}/zero'], {2}, ["zero/model.safetensors' is not a readable safetensors file"], None),
    'sample config not JSON': (['sample', '--model', f'{R}/badjson'], {2}, ["badjson/config.json' is not valid JSON"], None),
    'sample no weights': (['sample', '--model', f'{R}/noweights'], {2}, ['holds config.json but no weights (model.safetensors missing)'], None),
    'sample run folder': (['sample', '--model', f'{R}/run'], {2}, [f"is a run folder; did you mean '{R}/run/model'?"], None),
    'sample no tokenizer': (['sample', '--model', f'{R}/notok'], {2}, ['holds no tokenizer (tokenizer.json or tokenizer_config.json missing)'], None),
    'sample missing model': (['sample', '--model', f'{R}/nothing'], {2}, [f"model folder '{R}/nothing' does not exist"], None),
    'sample --prompt with <mask>': (['sample', '--model', f'{R}/run/model', '--prompt', 'a <mask> b'], {2},
                                    ["--prompt contains the mask token '<mask>'"], None),
    'sample --num 0': (['sample', '--model', f'{R}/run/model', '--num', '0'], {2}, ['argument --num: 0 is not an integer >= 1'], None),
    'sample --num -2': (['sample', '--model', f'{R}/run/model', '--num', '-2'], {2}, ['argument --num: -2 is not an integer >= 1'], None),
    'sample --length 0': (['sample', '--model', f'{R}/run/model', '--length', '0'], {2}, ['argument --length: 0 is not an integer >= 1'], None),
    'sample --length 6 (blocks of 4)': (['sample', '--model', f'{R}/run/model', '--length', '6'], {2},
                                        ["--length 6 is not a multiple of the model's block size 4 (e.g. 4 or 8)"], None),
    'sample --length -5': (['sample', '--model', f'{R}/run/model', '--length', '-5'], {2}, ['argument --length: -5 is not an integer >= 1'], None),
    'sample --length 2.5': (['sample', '--model', f'{R}/run/model', '--length', '2.5'], {2}, ["argument --length: '2.5' is not an integer >= 1"], None),
    'sample --top-p 0': (['sample', '--model', f'{R}/run/model', '--top-p', '0'], {2}, ['argument --top-p: 0 is not a number in (0, 1]'], None),
    'sample --top-p 1.5': (['sample', '--model', f'{R}/run/model', '--top-p', '1.5'], {2}, ['argument --top-p: 1.5 is not a number in (0, 1]'], None),
    'sample --nfe 3 (8 blocks)': (['sample', '--model', f'{R}/run/model', '--nfe', '3'], {2},
                                  ['--nfe 3 is below one pass per block (8 blocks to generate)'], None),
    'sample --nfe 0': (['sample', '--model', f'{R}/run/model', '--nfe', '0'], {2}, ['argument --nfe: 0 is not an integer >= 1'], None),
    'sample unknown sampler': (['sample', '--model', f'{R}/run/model', '--sampler', 'nope'], {2}, ["argument --sampler: invalid choice: 'nope'"], None),
    'sample --trace in a missing folder': (['sample', '--model', f'{R}/run/model', '--trace', f'{R}/no/such/dir/t.png'], {2},
                                           [f"--trace '{R}/no/such/dir/t.png': the folder '{R}/no/such/dir' does not exist"], f'{R}/no'),
    'sample --trace a folder': (['sample', '--model', f'{R}/run/model', '--trace', R], {2}, ['is a folder; give a file name'], None),
    'train --data 0-byte file': (['train', '--config', 'tiny', '--out', f'{R}/o1', '--data', f'{R}/zero.txt'], {2},
                                 [f"data path '{R}/zero.txt' contains no text"], f'{R}/o1'),
    'train --data two words': (['train', '--config', 'tiny', '--out', f'{R}/o2', '--data', f'{R}/two.txt'], {2},
                               ['holds 1 paragraph of text, too few to cut into train, valid and test'], f'{R}/o2'),
    'train --data no-such-file': (['train', '--config', 'tiny', '--out', f'{R}/o3', '--data', 'no-such-file'], {2},
                                  ["'no-such-file' is no local file or folder"], f'{R}/o3'),
    'train --data a missing path': (['train', '--config', 'tiny', '--out', f'{R}/o4', '--data', 'no/such/file'], {2},
                                    ["data path 'no/such/file' does not exist"], f'{R}/o4'),
    'train --out a file': (['train', '--config', 'tiny', '--out', f'{R}/a_file'], {2}, [f"--out '{R}/a_file' is a file, not a folder"], None),
    'train --out /proc/x': (['train', '--config', 'tiny', '--out', '/proc/x'], {2}, ["--out '/proc/x': cannot write in '/proc'"], None),
    'demo --out /proc/x': (['demo', '--out', '/proc/x'], {2}, ["--out '/proc/x': cannot write in '/proc'"], None),
    'train --steps 0': (['train', '--config', 'tiny', '--out', f'{R}/o5', '--steps', '0'], {2}, ['argument --steps: 0 is not an integer >= 1'], f'{R}/o5'),
    'train --block-size 5': (['train', '--config', 'tiny', '--out', f'{R}/o6', '--block-size', '5'], {2}, ['block_size=5 must divide seq_len=32'], f'{R}/o6'),
    'train --tokenizer missing': (['train', '--config', 'tiny', '--out', f'{R}/o7', '--tokenizer', f'{R}/nothing'], {2},
                                  [f"--tokenizer '{R}/nothing' is not a folder"], f'{R}/o7'),
    'train --init missing': (['train', '--config', 'tiny', '--out', f'{R}/o8', '--init', f'{R}/gone3/model'], {2},
                             [f"model folder '{R}/gone3/model' does not exist"], f'{R}/o8'),
    'train --init other width': (['train', '--config', 'tiny', '--out', f'{R}/o9', '--init', f'{R}/run/model',
                                  '--set', 'd_model=64'], {2},
                                 [f"init '{R}/run/model' has d_model=32 but this run has d_model=64"], f'{R}/o9'),
    'train --resume other --config': (['train', '--resume', '--out', f'{R}/run', '--config', 'demo'], {2},
                                      ['--config demo conflicts with the run: vocab_size=4096, it was started with vocab_size=300',
                                       'leave out what differs'], None),
    'train --resume other --seed': (['train', '--resume', '--out', f'{R}/run', '--seed', '9'], {2},
                                    ['--seed 9 conflicts with the run: seed=9, it was started with seed=0'], None),
    'train --resume fewer --steps': (['train', '--resume', '--out', f'{R}/run', '--steps', '1'], {2},
                                     ['steps=1 is fewer than the 2 steps the run', 'give more steps to extend it'], None),
    'train into a run folder without --resume': (['train', '--config', 'tiny', '--steps', '2', '--out', f'{R}/run'], {2},
                                                 [f"'{R}/run' already holds a training run", 'continue it with resume=True (--resume), '
                                                  'or train into another folder (--out)'], None),
    'train-gate truncated model': (['train-gate', '--model', f'{R}/truncated', '--out', f'{R}/g1'], {2},
                                   ['is not a readable safetensors file'], f'{R}/g1'),
    'train-gate missing model': (['train-gate', '--model', f'{R}/gone/model', '--out', f'{R}/g2'], {2},
                                 [f"model folder '{R}/gone/model' does not exist"], f'{R}/gone'),
    'bench unknown name': (['bench', 'no_such_benchmark'], {2}, ['unknown benchmark(s) no_such_benchmark; choose from:'], None),
    'eval --nfe 1,4 (4 blocks)': (['eval', '--task', 'markov-words', '--nfe', '1,4', '--out', f'{R}/e1'], {2},
                                  ['--nfe 1 is below one pass per block: rows of 64 tokens in blocks of 16 need at least 4'],
                                  f'{R}/e1'),
    'eval --seeds 0': (['eval', '--task', 'markov-words', '--seeds', '0', '--out', f'{R}/e2'], {2},
                       ['--seeds 0 is outside the allowed range [1, inf)'], f'{R}/e2'),
}


# runs that must succeed, in the same batch
GOOD = {'sample --trace, bd3 (no p)': ['sample', '--model', f'{R}/run/model', '--trace', f'{R}/t.png', '--num', '2',
                                       '--threads', '1']}


# Rows that also run through the installed `ardm` entry point in a fresh interpreter (the console script, the exit code
# as a shell sees it, no traceback). The others run in this process through `cli.main`, the code path after the
# interpreter has started (parsing, the command, the error translation), each with its own stdout and stderr.
SUBPROCESS = {'sample truncated safetensors', 'sample --num 0', 'train --data no-such-file',
              'train --resume other --seed', 'eval --nfe 1,4 (4 blocks)', 'demo --out /proc/x'}
BIN = Path(sys.executable).parent


def _ardm(argv):
    "`ardm ARGV` in a subprocess: (exit code, stdout, stderr, seconds)."
    t = time.time()
    r = subprocess.run([str(BIN / 'ardm'), *argv], env=ENV, capture_output=True, text=True, timeout=600)
    return r.returncode, r.stdout, r.stderr, time.time() - t


def _ardm_here(argv):
    "`ardm ARGV` in this process through `cli.main`: (exit code, stdout, stderr, seconds); torch's threads restored."
    import io, traceback
    from contextlib import redirect_stderr, redirect_stdout
    from ardm_nb.cli import main
    out, err, t, threads = io.StringIO(), io.StringIO(), time.time(), torch.get_num_threads()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as e:  # argparse's refusals and --help
            code = e.code
        except Exception:  # what a user would see as a traceback: the row fails on it
            traceback.print_exc()
            code = None
    torch.set_num_threads(threads)
    return code, out.getvalue(), err.getvalue(), time.time() - t


@pytest.fixture(scope='session')
def matrix_results(folders):
    "Every row of MATRIX (the SUBPROCESS rows two at a time beside the others); the run's records hashed before and after."
    fill = lambda v: [a.replace(R, str(folders)) for a in v]
    records = lambda: {f: (folders / 'run' / f).read_bytes() for f in ('config.json', 'data.json', 'metrics.jsonl')}
    before = records()
    rows = {**{k: v[0] for k, v in MATRIX.items()}, **GOOD}
    with ThreadPoolExecutor(2) as pool:
        away = {k: pool.submit(_ardm, fill(v)) for k, v in rows.items() if k in SUBPROCESS}
        res = {k: _ardm_here(fill(v)) for k, v in rows.items() if k not in SUBPROCESS}
        res.update({k: f.result() for k, f in away.items()})
    res['_records_unchanged'] = records() == before
    summary = {k: dict(code=v[0], seconds=round(v[3], 1), last=v[2].strip().splitlines()[-1:]) for k, v in res.items()
               if k != '_records_unchanged'}
    (folders / 'matrix_results.json').write_text(json.dumps(summary, indent=1))  # for a reader of the run
    return res


def test_cli_subprocess_rows_are_rows():
    "The rows named to run through the entry point exist (a renamed row would silently run only in-process)."
    assert SUBPROCESS <= set(MATRIX), SUBPROCESS - set(MATRIX)


@pytest.mark.parametrize('row', list(MATRIX))
def test_cli_bad_input_matrix(row, matrix_results, folders):
    argv, codes, texts, absent = MATRIX[row]
    code, out, err, _ = matrix_results[row]
    both = out + err
    assert code in codes, (code, both)
    assert 'Traceback' not in both, both
    for t in texts: assert t.replace(R, str(folders)) in err, (t, err)
    last = err.strip().splitlines()[-1]
    assert last.startswith('ardm ') and 'error:' in last and err.count('error:') == 1, f'not one answer: {err}'
    if absent is not None: assert not Path(absent.replace(R, str(folders))).exists(), 'a failed command left a folder behind'


def test_cli_refusals_write_nothing_to_a_run(matrix_results):
    assert matrix_results['_records_unchanged'], "a refused resume rewrote the run's config.json / data.json / metrics"


def test_cli_checks_outputs_before_work(matrix_results):
    "A bad --trace or --out is refused before the model is loaded or the data prepared: well under a sampling run."
    for row in ('sample --trace in a missing folder', 'train --out /proc/x', 'demo --out /proc/x'):
        code, out, err, _ = matrix_results[row]
        assert 'NFE' not in err and not out.strip(), (row, out, err)


# The Python API: the same rows raise ValueError / TypeError naming the argument.
def _api_cases():
    from ardm_nb.model import TINY as TINY_MODEL, ModelConfig, BlockDiffusionLM
    from ardm_nb.samplers import sample
    from ardm_nb.gate import OverwriteGate, GateConfig
    from ardm_nb.eval import EvalConfig, load_setup
    torch.manual_seed(0)
    lm = BlockDiffusionLM(ModelConfig(**TINY_MODEL)).eval()
    mask = lm.cfg.mask_id
    g = lambda: torch.Generator().manual_seed(0)
    run = lambda **kw: sample(lm, length=8, generator=g(), **kw)
    nan = torch.randn(2, 5, 7)
    nan[1, 3, 2] = float('nan')
    inf = torch.randn(2, 5, 7)
    inf[0, 0, 0] = float('inf')
    z = torch.randn(2, 5, 7)
    gate = OverwriteGate(GateConfig(T=4))
    hgate = OverwriteGate(GateConfig(T=4, hidden_dim=3))
    return {
        'prompt_ids floats': (lambda: run(prompt_ids=torch.tensor([[1.0, 5.9]])), TypeError, r'prompt_ids must hold integer token ids, got dtype torch\.float32'),
        'prompt_ids 1-D': (lambda: run(prompt_ids=torch.tensor([1, 5])), ValueError, r'prompt_ids must have shape \[B, P\], got \(2,\)'),
        'prompt_ids 3-D': (lambda: run(prompt_ids=torch.ones(1, 2, 2, dtype=torch.long)), ValueError, r'prompt_ids must have shape \[B, P\], got \(1, 2, 2\)'),
        'prompt_ids list': (lambda: run(prompt_ids=[[1, 5]]), TypeError, r'prompt_ids must be a torch\.LongTensor of shape \[B, P\], got list'),
        'prompt_ids with MASK': (lambda: run(prompt_ids=torch.tensor([[1, mask]])), ValueError, rf'prompt_ids contains the id {mask} \(MASK; a prompt is held fixed'),
        'prompt_ids out of vocabulary': (lambda: run(prompt_ids=torch.tensor([[1, 99]])), ValueError, r'prompt_ids contains ids in \[1, 99\], outside the vocabulary \[0, 31\]'),
        'infill list': (lambda: run(infill=[[mask] * 8]), TypeError, r'infill must be a torch\.LongTensor'),
        'batch_size 0': (lambda: run(batch_size=0), ValueError, r'batch_size=0 is outside the allowed range \[1, inf\)'),
        'length 6 (blocks of 4)': (lambda: sample(lm, length=6, generator=g()), ValueError, r'length=6 must be a multiple of block_size=4'),
        'signals NaN logits': (lambda: uncertainty_signals(nan), ValueError, r'logits contains NaN or \+inf \(first in row 8 of 10\)'),
        'signals +inf logits': (lambda: uncertainty_signals(inf), ValueError, r'logits contains NaN or \+inf \(first in row 0 of 10\)'),
        'signals NaN prev_logits': (lambda: uncertainty_signals(z, nan), ValueError, r'prev_logits contains NaN or \+inf'),
        'gate NaN logits': (lambda: gate(nan, None, None, step=1), ValueError, r'logits contains NaN or \+inf'),
        'gate tokens wrong shape': (lambda: gate(z, z, None, step=2, tokens=torch.zeros(5, dtype=torch.long)), ValueError,
                                    r'tokens must be integer ids of shape \(2, 5\)'),
        'gate hidden given, hidden_dim=0': (lambda: gate(z, None, torch.zeros(2, 5, 3), step=1), ValueError,
                                            r'hidden must be None: this gate has hidden_dim=0 \(signals only\), got shape \(2, 5, 3\)'),
        'gate hidden wrong shape': (lambda: hgate(z, None, torch.zeros(2, 4, 3), step=1), ValueError,
                                    r'hidden must have shape \(2, 5, 3\) .*got \(2, 4, 3\)'),
        'gate hidden missing': (lambda: hgate(z, None, None, step=1), ValueError, r'hidden must have shape \(2, 5, 3\) .*got None'),
        # the Python API names EvalConfig's field, the CLI its flag (the matrix row 'eval --nfe 1,4')
        'EvalConfig nfe below one pass per block': (lambda: load_setup(EvalConfig(nfe_budgets=(1, 4))), ValueError,
                                                    r'^nfe_budget=1 is below one pass per block'),
    }


API = _api_cases()


@pytest.mark.parametrize('row', list(API))
def test_api_bad_input_matrix(row):
    call, exc, pattern = API[row]
    with pytest.raises(exc, match=pattern):
        call()


def test_signals_allow_minus_inf():
    "-inf marks a forbidden token (MASK in the sampler): allowed, and the signals stay finite."
    z = torch.randn(3, 6)
    z[:, 2] = float('-inf')
    s = uncertainty_signals(z, z.roll(1, 0))
    assert all(bool(t.isfinite().all()) for t in s)


def test_cli_module_imports_no_torch():
    "`ardm --help` must answer at once: the CLI module imports neither torch nor transformers."
    code = "import sys, ardm_nb.cli; print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))"
    r = subprocess.run([sys.executable, '-c', code], env=ENV, capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.strip() == '[]', r.stdout + r.stderr


def test_cli_every_option_has_help_and_default():
    from ardm_nb.cli import COMMANDS, build_parser
    for cmd in COMMANDS:
        sub = build_parser(cmd)._subparsers._group_actions[0].choices[cmd]
        for a in sub._actions:
            if not a.option_strings or a.dest == 'help': continue
            assert a.help, f'ardm {cmd} {a.option_strings[0]} has no help'
            text = sub.formatter_class(cmd)._expand_help(a) if a.help else ''
            d = a.default
            if d is not None and d is not False and d != []:
                assert '(default' in text, f'ardm {cmd} {a.option_strings[0]}: default {d!r} not shown: {text}'


def test_cli_help_pages():
    "Every help page prints without a traceback; sample lists the samplers, bench the benchmarks."
    from ardm_nb.cli import COMMANDS
    from ardm_nb.samplers import SAMPLERS
    from ardm_nb.bench import BENCHMARKS
    res = {c: _ardm_here([c, '--help']) for c in COMMANDS}
    res[''] = _ardm(['--help'])  # the top page through the installed entry point
    for c, (code, out, err, _) in res.items():
        assert code == 0 and 'Traceback' not in out + err, (c, out, err)
    assert all(name in res['sample'][1] for name in SAMPLERS)
    assert all(name in res['bench'][1] for name in BENCHMARKS)
    assert all(name in res[''][1] for name in COMMANDS)


def test_cli_trace_of_a_sampler_without_p(matrix_results, folders):
    "bd3 has no overwrite probability: the figure shows the changed tokens, and the command says so."
    code, out, err, _ = matrix_results['sample --trace, bd3 (no p)']
    assert code == 0, err
    assert 'bd3 has no overwrite probability p, so the figure shows the tokens changed at each step' in err, err
    assert (folders / 't.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    assert out.count('--- sample ') == 2
