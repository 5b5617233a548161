"""Loading a folder someone else handed over never runs code: a tampered resume state and a pickled model are refused.

The payload is real: `test_payload_is_live` shows that plain `pickle`/`torch.load(weights_only=False)` would run it, so
the other tests can fail."""
import hashlib, json, os, shutil, subprocess, sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from ardm_nb.train import PRESETS, TrainingError, load_state, train

ENV = dict(os.environ, HF_DATASETS_OFFLINE='1', HF_HUB_OFFLINE='1', MPLBACKEND='Agg', OMP_NUM_THREADS='1')
TINY = replace(PRESETS['tiny'], steps=6, log_every=1, eval_every=3, ckpt_every=3)
quiet = lambda *a: None


class Payload:
    "What an attacker puts in a pickle: code that runs while the file is loaded (here: it writes a marker file)."
    def __init__(self, marker): self.marker = str(marker)
    def __reduce__(self): return (exec, (f"open({self.marker!r}, 'w').write('payload ran')",))


def ardm(*args):
    r = subprocess.run([sys.executable, '-m', 'ardm_nb.cli', *map(str, args)], env=ENV, capture_output=True, text=True)
    return r.returncode, r.stdout + r.stderr


def snapshot(folder: Path) -> dict:
    "Every file under `folder` with its bytes' hash: a refused load must change none of them."
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob('*'))
            if p.is_file()}


@pytest.fixture(scope='module')
def run(tmp_path_factory, one_thread):
    "A TINY run stopped after step 3 (one checkpoint), as someone would hand it over to be resumed."
    out = tmp_path_factory.mktemp('sec') / 'run'
    train(TINY, out, progress=False, log=quiet, until=3)
    return out


def tamper(run: Path, dest: Path, marker: Path) -> Path:
    "A copy of `run` whose checkpoint state holds the payload, with the manifest recomputed to match."
    shutil.copytree(run, dest)
    ck = sorted((dest / 'checkpoints').glob('step-*'))[-1]
    state = torch.load(ck / 'state.pt', weights_only=True)
    state['rng'] = Payload(marker)  # a genuine state with one object swapped
    torch.save(state, ck / 'state.pt')
    man = json.loads((ck / 'manifest.json').read_text())
    man = {name: hashlib.sha256((ck / name).read_bytes()).hexdigest() for name in man}
    (ck / 'manifest.json').write_text(json.dumps(man, indent=1))
    return dest


def test_payload_is_live(run, tmp_path):
    marker = tmp_path / 'marker'
    bad = tamper(run, tmp_path / 'bad', marker)
    ck = sorted((bad / 'checkpoints').glob('step-*'))[-1]
    torch.load(ck / 'state.pt', weights_only=False)  # what the package did before: the payload runs
    assert marker.read_text() == 'payload ran'


def test_resume_refuses_tampered_state_python(run, tmp_path):
    marker = tmp_path / 'marker'
    bad = tamper(run, tmp_path / 'bad', marker)
    before = snapshot(bad)
    ck = sorted((bad / 'checkpoints').glob('step-*'))[-1]
    with pytest.raises(TrainingError, match=r'state\.pt.*refused unread.*can run code'):
        load_state(ck)
    with pytest.raises(TrainingError, match=r'refused unread'):
        train(TINY, bad, resume=True, progress=False, log=quiet)
    assert not marker.exists(), 'the payload ran'
    assert snapshot(bad) == before, 'a refused resume wrote to the run folder'


def test_resume_refuses_tampered_state_cli(run, tmp_path):
    marker = tmp_path / 'marker'
    bad = tamper(run, tmp_path / 'bad', marker)
    before = snapshot(bad)
    code, out = ardm('train', '--resume', '--out', bad, '--threads', '1')
    assert code == 1 and 'Traceback' not in out, out
    assert 'refused unread' in out and 'state.pt' in out, out
    assert not marker.exists(), 'the payload ran'
    assert snapshot(bad) == before, 'a refused resume wrote to the run folder'


def test_untampered_state_loads(run):
    ck = sorted((run / 'checkpoints').glob('step-*'))[-1]
    st = load_state(ck)
    assert st['step'] == 3 and isinstance(st['rng'], torch.Tensor)


def test_pickled_model_is_refused(run, tmp_path):
    "A model folder with a pickled pytorch_model.bin instead of model.safetensors: a clear error, the payload unrun."
    from ardm_nb.hf import ArdmForDiffusionLM
    from ardm_nb.samplers import load_model
    marker = tmp_path / 'marker'
    model = tmp_path / 'model'
    shutil.copytree(run / 'checkpoints' / 'step-00000003', model)
    shutil.copytree(run / 'tokenizer', model, dirs_exist_ok=True)
    weights = torch.load(model / 'state.pt', weights_only=True)  # any tensors will do
    (model / 'model.safetensors').unlink()
    torch.save({'weights': weights['rng'], 'extra': Payload(marker)}, model / 'pytorch_model.bin')
    for load in (ArdmForDiffusionLM.from_pretrained, load_model):
        with pytest.raises(ValueError, match=r'pytorch_model\.bin \(a pickle.*safetensors only'):
            load(model)
    code, out = ardm('sample', '--model', model, '--threads', '1')
    assert code == 2 and 'Traceback' not in out and 'pytorch_model.bin (a pickle' in out, out
    with pytest.raises(ValueError, match='use_safetensors=False is refused'):
        ArdmForDiffusionLM.from_pretrained(model, use_safetensors=False)
    assert not marker.exists(), 'the payload ran'
