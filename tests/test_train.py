"""Training end to end on the TINY preset: CLI, resume, determinism, distributed equivalence, and bad input."""
import json, os, re, shutil, subprocess, sys
from dataclasses import replace
from pathlib import Path
import pytest, torch

from ardm_nb.train import PRESETS, train, TrainingError, latest_checkpoint
from ardm_nb.data import train_tokenizer
from ardm_nb.cli import main as cli_main

BIN = Path(sys.executable).parent
ENV = dict(os.environ, HF_DATASETS_OFFLINE='1', HF_HUB_OFFLINE='1', MPLBACKEND='Agg', OMP_NUM_THREADS='1')
TINY = replace(PRESETS['tiny'], steps=6, log_every=1, eval_every=3, ckpt_every=3)
quiet = lambda *a: None
pytestmark = pytest.mark.usefixtures('one_thread')  # TINY runs in this process: one torch thread


def small_text() -> str:
    "The first 400 paragraphs of Shakespeare's training works (53 kB): a run's data in 1 s, not 8 s."
    from ardm_nb.data import shakespeare_split
    paragraphs = [p for p in '\n'.join(shakespeare_split('train').values()).split('\n\n') if p.strip()]
    return '\n\n'.join(paragraphs[:400])


@pytest.fixture(scope='module', autouse=True)
def small_data(tmp_path_factory) -> str:
    "Every run of this file trains on `small_text`: what these tests check does not depend on the corpus's size."
    # the preset's own data (all of Shakespeare) is trained on in test_bad_input.py, test_security.py, the notebooks
    global TINY
    path = tmp_path_factory.mktemp('data') / 'small.txt'
    path.write_text(small_text())
    TINY = replace(TINY, data=str(path))
    return str(path)


@pytest.fixture(scope='module')
def full_run(tmp_path_factory, one_thread):
    "One complete TINY run (checkpoints at steps 3 and 6) and what `train` returned; tests read it or copy it."
    out = tmp_path_factory.mktemp('train') / 'full'
    return out, train(TINY, out, progress=False, log=quiet)


@pytest.fixture(scope='module')
def stopped_run(tmp_path_factory, one_thread):
    "One TINY run stopped after step 3 (one checkpoint, no model yet), as if interrupted; tests copy it."
    out = tmp_path_factory.mktemp('train') / 'stopped'
    train(TINY, out, progress=False, log=quiet, until=3)
    return out


def ardm_here(argv: list, capsys) -> tuple:
    "(exit code, stderr) of `ardm ARGV` run in this process through `cli.main` (argparse's refusals exit)."
    try:
        code = cli_main(argv)
    except SystemExit as e:
        code = e.code
    return code, capsys.readouterr().err


def copy_of(run: Path, tmp_path: Path) -> Path:
    "A copy of a shared run folder that a test may change."
    return Path(shutil.copytree(run, tmp_path / run.name))


def losses(out):
    return [r['loss'] for r in map(json.loads, (Path(out) / 'metrics.jsonl').read_text().splitlines()) if 'loss' in r]


def test_cli_train_writes_run_and_resumes_exactly(tmp_path, small_data):
    a, b = tmp_path / 'a', tmp_path / 'b'
    cmd = lambda *args: [BIN / 'ardm', 'train', '--config', 'tiny', '--steps', '8', '--data', small_data, *args]
    run = lambda *args: subprocess.run(cmd(*args), env=ENV, capture_output=True, text=True)
    stopped = subprocess.Popen(cmd('--out', str(b), '--until', '4'), env=ENV, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)  # beside the uninterrupted run, on the other core
    r = run('--out', str(a)); assert r.returncode == 0, r.stderr
    for f in ('metrics.jsonl', 'loss.png', 'results.json', 'config.json', 'data.json', 'model/model.safetensors', 'model/tokenizer.json'):
        assert (a / f).exists(), f
    rows = [json.loads(l) for l in (a / 'metrics.jsonl').read_text().splitlines()]
    assert all('step' in r for r in rows) and any('loss' in r for r in rows)
    assert stopped.wait(timeout=600) == 0
    r = run('--out', str(b), '--resume'); assert r.returncode == 0, r.stderr
    assert losses(a) == losses(b)  # 8 steps == 4 steps, stop, resume 4 (bit-exact on CPU)
    strip = lambda out: [{k: v for k, v in json.loads(l).items() if k != 'tokens_per_s'} for l in (out / 'metrics.jsonl').read_text().splitlines()]
    assert strip(a) == strip(b), 'one row per step after a resume, the same rows as an uninterrupted run'
    assert json.loads((b / 'results.json').read_text())['train_tokens_per_s'] > 0


def test_same_seed_same_losses_other_seed_differs(tmp_path, full_run):
    a = full_run[0]
    train(TINY, tmp_path / 'b', progress=False, log=quiet)
    train(replace(TINY, seed=1), tmp_path / 'c', progress=False, log=quiet)
    assert losses(a) == losses(tmp_path / 'b') != losses(tmp_path / 'c')


def test_block_size_one_is_exact_ar(tmp_path):
    res = train(replace(TINY, block_size=1), tmp_path, progress=False, log=quiet)
    assert res['test']['exact'] and res['test']['ppl'] > 1


def test_two_processes_match_one(tmp_path, small_data):
    script = tmp_path / 'run.py'
    script.write_text('import sys\nfrom dataclasses import replace\nfrom ardm_nb.train import PRESETS, train\n'
                      "train(replace(PRESETS['tiny'], steps=3, batch_size=8, log_every=1, eval_every=100, ckpt_every=100, "
                      "data=sys.argv[2]), sys.argv[1], progress=False)\n")
    one = subprocess.Popen([sys.executable, script, tmp_path / 'one', small_data], env=ENV, stdout=subprocess.DEVNULL,
                           stderr=open(tmp_path / 'one.log', 'w'))  # beside the two processes
    two = subprocess.run([BIN / 'torchrun', '--nproc_per_node', '2', '--master_port', '29517', script, tmp_path / 'two',
                          small_data], env=ENV, capture_output=True, text=True)
    assert one.wait(timeout=600) == 0, (tmp_path / 'one.log').read_text()
    assert two.returncode == 0, two.stderr[-3000:]
    from safetensors.torch import load_file
    a, b = (load_file(tmp_path / d / 'model' / 'model.safetensors') for d in ('one', 'two'))
    assert a.keys() == b.keys()
    worst = max((a[k] - b[k]).abs().max().item() for k in a)
    assert worst < 1e-5, worst
    assert losses(tmp_path / 'one') and len(losses(tmp_path / 'one')) == 3


def test_nan_loss_stops_and_names_step(tmp_path, monkeypatch):
    import ardm_nb.train as T
    real = T.score
    def score(lm, x0, d, noise):
        out = real(lm, x0, d, noise)
        if T._nan_step[0] >= 4: out.per_token = out.per_token * float('nan')
        T._nan_step[0] += 1
        return out
    monkeypatch.setattr(T, 'score', score); monkeypatch.setattr(T, '_nan_step', [0], raising=False)
    with pytest.raises(TrainingError, match=r'loss is nan at step 4; stopped\. The last good checkpoint is .*step-00000003'):
        train(TINY, tmp_path, progress=False, log=quiet)
    assert latest_checkpoint(tmp_path, quiet).name == 'step-00000003'


def test_truncated_checkpoint_falls_back_and_resume_still_works(tmp_path, full_run):
    tmp_path = copy_of(full_run[0], tmp_path)
    newest = sorted((tmp_path / 'checkpoints').glob('step-*'))[-1]
    (newest / 'state.pt').write_bytes((newest / 'state.pt').read_bytes()[:100])
    msgs = []
    assert latest_checkpoint(tmp_path, msgs.append).name == 'step-00000003'
    assert 'state.pt does not match its checksum' in msgs[0]
    train(TINY, tmp_path, resume=True, progress=False, log=msgs.append)
    assert any('resuming from step-00000003' in m for m in msgs)


def test_tokenizer_vocab_mismatch_is_refused(tmp_path, stopped_run):
    tmp_path = copy_of(stopped_run, tmp_path)
    other = train_tokenizer(['a b c d e f g'] * 50, vocab_size=280)
    shutil.rmtree(tmp_path / 'tokenizer'); other.save_pretrained(tmp_path / 'tokenizer')
    with pytest.raises(TrainingError, match=rf'has vocabulary 300 but the tokenizer has {len(other)}'):
        train(TINY, tmp_path, resume=True, progress=False, log=quiet)


@pytest.mark.parametrize('args, msg', [
    (['--data', 'no/such/file.txt'], "data path 'no/such/file.txt' does not exist"),
    (['--block-size', '5'], 'block_size=5 must divide seq_len=32'),
    (['--steps', '0'], 'argument --steps: 0 is not an integer >= 1'),
    (['--noise', 'gaussian'], "noise='gaussian' must be one of"),
])
def test_cli_train_bad_input(tmp_path, capsys, args, msg):
    "Through `cli.main` in this process (tests/test_bad_input.py runs rows through the installed `ardm` as well)."
    code, err = ardm_here(['train', '--config', 'tiny', '--out', str(tmp_path), *args], capsys)
    assert code == 2 and msg in err and 'Traceback' not in err, err
    assert not list(tmp_path.iterdir()), 'a refused run wrote into --out'


def test_cli_train_empty_data_file(tmp_path, capsys):
    (tmp_path / 'empty.txt').write_text('\n\n\n')
    code, err = ardm_here(['train', '--config', 'tiny', '--out', str(tmp_path / 'o'), '--data', str(tmp_path / 'empty.txt')],
                          capsys)
    assert code == 2 and 'contains no text' in err and 'Traceback' not in err, err
    assert not (tmp_path / 'o').exists()


def test_ema_weights_are_saved_and_differ_from_raw(tmp_path, full_run):
    from safetensors.torch import load_file
    res = train(replace(TINY, ema=0.5), tmp_path / 'ema', progress=False, log=quiet)
    raw_out, raw = full_run  # TINY without EMA
    a = load_file(tmp_path / 'ema' / 'model' / 'model.safetensors'); b = load_file(raw_out / 'model' / 'model.safetensors')
    assert losses(tmp_path / 'ema') == losses(raw_out)  # EMA does not touch the training trajectory
    assert any(not torch.equal(a[k], b[k]) for k in a)  # but the saved (and evaluated) weights are the average
    assert res['test']['ppl'] != raw['test']['ppl']


def test_resume_with_another_config_is_refused_and_writes_nothing(tmp_path, stopped_run):
    tmp_path = copy_of(stopped_run, tmp_path)
    before = {p: p.read_bytes() for p in tmp_path.rglob('*') if p.is_file()}
    with pytest.raises(ValueError, match=r'was started with seed=0, but this resume gives seed=7; resume with the run.s own'):
        train(replace(TINY, steps=7, seed=7), tmp_path, resume=True, progress=False, log=quiet)
    assert {p: p.read_bytes() for p in tmp_path.rglob('*') if p.is_file()} == before


def test_fresh_start_into_a_run_folder_is_refused_and_writes_nothing(tmp_path, stopped_run):
    "A fresh run into a longer run's folder would leave that run's newer checkpoints for a later resume to pick up."
    tmp_path = copy_of(stopped_run, tmp_path)
    before = {p: p.read_bytes() for p in tmp_path.rglob('*') if p.is_file()}
    msg = rf"'{re.escape(str(tmp_path))}' already holds a training run \(config.json, checkpoints, metrics.jsonl\); "
    with pytest.raises(ValueError, match=msg + r'continue it with resume=True \(--resume\), or train into another folder'):
        train(replace(TINY, steps=2), tmp_path, progress=False, log=quiet)
    assert {p: p.read_bytes() for p in tmp_path.rglob('*') if p.is_file()} == before


def test_cli_resume_reads_the_runs_own_config(tmp_path, small_data):
    "`--resume` without --config continues the run's own configuration (here tiny, not the default demo)."
    run = lambda *a: subprocess.run([BIN / 'ardm', 'train', '--out', str(tmp_path), '--threads', '1', *a], env=ENV, capture_output=True, text=True)
    r = run('--config', 'tiny', '--steps', '6', '--until', '3', '--checkpoint-every', '3', '--data', small_data)
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path / 'config.json').read_text())['ckpt_every'] == 3
    r = run('--resume')
    assert r.returncode == 0 and 'resuming from step-00000003' in r.stdout + r.stderr, r.stderr
    assert (tmp_path / 'model' / 'model.safetensors').exists()


def test_leftover_partial_checkpoint_is_removed(tmp_path, stopped_run):
    tmp_path = copy_of(stopped_run, tmp_path)
    tmp = tmp_path / 'checkpoints' / '.tmp-step-00000006'
    tmp.mkdir(); (tmp / 'state.pt').write_bytes(b'partial')
    msgs = []
    train(TINY, tmp_path, resume=True, progress=False, log=msgs.append)
    assert not tmp.exists() and any('removed .tmp-step-00000006' in m for m in msgs), msgs


def test_cli_task_run_resumes_with_its_own_flags(tmp_path, capsys):
    "`ardm train --task T --config tiny ... --resume` continues a run of the same flags; another task: refused."
    out = str(tmp_path / 'run')
    flags = ['train', '--task', 'markov-words', '--config', 'tiny', '--steps', '4',
             '--checkpoint-every', '2', '--threads', '1', '--out', out]
    assert ardm_here([*flags, '--until', '2'], capsys)[0] == 0
    code, err = ardm_here(['train', '--task', 'sudoku', '--resume', '--out', out], capsys)
    want = f"--task sudoku conflicts with the run in {out!r}, which trains on 'task:markov-words'"
    assert code == 2 and want in err
    code, err = ardm_here([*flags, '--resume'], capsys)
    assert code == 0, err
    assert (tmp_path / 'run' / 'model' / 'model.safetensors').exists()


def test_cli_finished_run_extends_to_more_steps(tmp_path, small_data, capsys):
    "`--resume --steps 12` trains a finished 8-step run on to 12; the schedule is the 12-step one from step 8 on."
    from ardm_nb.train import lr_at, run_config
    out = str(tmp_path / 'run')
    flags = ['train', '--config', 'tiny', '--data', small_data, '--threads', '1', '--out', out]
    assert ardm_here([*flags, '--steps', '8', '--checkpoint-every', '4'], capsys)[0] == 0
    code, err = ardm_here(['train', '--resume', '--out', out, '--steps', '4'], capsys)
    assert code == 2 and 'steps=4 is fewer than the 8 steps the run' in err, err
    code, err = ardm_here(['train', '--resume', '--out', out, '--steps', '12'], capsys)
    assert code == 0, err
    run = Path(out)
    assert (run / 'checkpoints' / 'step-00000012').is_dir()
    assert run_config(run).steps == 12 and json.loads((run / 'results.json').read_text())['steps'] == 12
    rows = [json.loads(l) for l in (run / 'metrics.jsonl').read_text().splitlines()]
    lr = {r['step']: r['lr'] for r in rows if 'lr' in r}
    twelve = run_config(run)
    assert lr[10] == pytest.approx(twelve.lr * lr_at(10, twelve))  # recomputed for the new total
    assert lr[5] == pytest.approx(twelve.lr * lr_at(5, replace(twelve, steps=8)))  # the old steps kept theirs
    assert sorted(r['step'] for r in rows if 'val_ppl' in r)[-1] == 12


def test_cli_resume_conflict_names_the_setting_and_both_values(tmp_path, small_data, capsys):
    out = str(tmp_path / 'run')
    assert ardm_here(['train', '--config', 'tiny', '--data', small_data, '--steps', '2', '--threads', '1',
                      '--out', out], capsys)[0] == 0
    before = {p: p.read_bytes() for p in Path(out).rglob('*') if p.is_file()}
    code, err = ardm_here(['train', '--config', 'tiny', '--resume', '--steps', '4', '--out', out], capsys)
    want = f"--config tiny conflicts with the run: data='shakespeare', it was started with data={small_data!r}"
    assert code == 2 and want in err and 'started with another configuration' not in err, err
    code, err = ardm_here(['train', '--resume', '--seed', '3', '--block-size', '1', '--out', out], capsys)
    assert code == 2, err
    assert '--seed 3 conflicts with the run: seed=3, it was started with seed=0' in err, err
    assert '--block-size 1 conflicts with the run: block_size=1, it was started with block_size=4' in err, err
    assert {p: p.read_bytes() for p in Path(out).rglob('*') if p.is_file()} == before
