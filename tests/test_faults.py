"""A TINY training run killed with SIGKILL (inside checkpoint writes, and at a random moment) and resumed each time ends
with the same weights, bit for bit, and the same metrics as a run that was never interrupted."""
import json, os, random, shutil, signal, subprocess, sys, time
from pathlib import Path

import torch
from safetensors.torch import load_file

ENV = dict(os.environ, HF_DATASETS_OFFLINE='1', HF_HUB_OFFLINE='1', MPLBACKEND='Agg', OMP_NUM_THREADS='1')
RUN_ARGS = ['train', '--config', 'tiny', '--steps', '12', '--checkpoint-every', '2', '--threads', '1']

# `ardm` with a fault injected: SIGKILL right after the state of checkpoint AT is written into its temporary folder
# ('state': no manifest yet), or right before that folder is renamed into place ('rename': complete but not final).
KILLER = r'''
import os, signal, sys
import torch
where, at = sys.argv[1], int(sys.argv[2])
tmp = f'.tmp-step-{at:08d}'
real_save, real_replace = torch.save, os.replace
def save(obj, f, *a, **k):
    real_save(obj, f, *a, **k)
    if where == 'state' and tmp in str(f): os.kill(os.getpid(), signal.SIGKILL)
def replace(src, dst):
    if where == 'rename' and tmp in str(src): os.kill(os.getpid(), signal.SIGKILL)
    return real_replace(src, dst)
torch.save, os.replace = save, replace
from ardm_nb.cli import main
sys.exit(main(sys.argv[3:]))
'''


def rows(out: Path) -> list:
    "The metric rows without the wall-clock throughput (the one field that may differ between runs)."
    return [{k: v for k, v in json.loads(l).items() if k != 'tokens_per_s'} for l in (out / 'metrics.jsonl').read_text().splitlines()]


def test_sigkill_anywhere_then_resume_is_bit_exact(tmp_path):
    from test_train import small_text  # 53 kB of Shakespeare: what is checked does not depend on the corpus's size
    (tmp_path / 'small.txt').write_text(small_text())
    RUN = [*RUN_ARGS, '--data', str(tmp_path / 'small.txt')]
    ref, out = tmp_path / 'ref', tmp_path / 'out'
    t0 = time.time()
    # the uninterrupted run, on the other core while the interrupted one is killed and resumed
    ref_log = open(tmp_path / 'ref.log', 'w')  # a file, not a pipe: nobody reads it until the end
    ref_run = subprocess.Popen([sys.executable, '-m', 'ardm_nb.cli', *RUN, '--out', str(ref)], env=ENV,
                               stdout=ref_log, stderr=subprocess.STDOUT)
    killer = tmp_path / 'killer.py'
    killer.write_text(KILLER)
    logs = []
    # 1. killed inside the write of checkpoint 4 (state.pt written, no manifest): a .tmp-step folder is left behind
    r = subprocess.run([sys.executable, killer, 'state', '4', *RUN, '--out', str(out)], env=ENV, capture_output=True, text=True)
    assert r.returncode == -signal.SIGKILL, r.stderr
    assert (out / 'checkpoints' / '.tmp-step-00000004' / 'state.pt').exists()
    # 2. resumed, and killed again just before checkpoint 8 is renamed into place
    r = subprocess.run([sys.executable, killer, 'rename', '8', *RUN, '--out', str(out), '--resume'], env=ENV,
                       capture_output=True, text=True)
    assert r.returncode == -signal.SIGKILL, r.stderr
    logs.append(r.stdout + r.stderr)
    assert 'removed .tmp-step-00000004' in logs[-1] and 'resuming from step-00000002' in logs[-1], logs[-1]
    assert (out / 'checkpoints' / '.tmp-step-00000008' / 'manifest.json').exists()
    # 3. killed at a random moment (seeded) of a run as long as the uninterrupted one, then resumed until one completes
    ref_run.wait(timeout=600)
    ref_log.close()
    assert ref_run.returncode == 0, (tmp_path / 'ref.log').read_text()
    ref_seconds = (ref / 'results.json').stat().st_mtime - t0
    rng = random.Random(0)
    frac = rng.uniform(0.2, 0.7)
    # on a loaded machine the resumed run can end sooner than the reference did: then its folder is put back as it was
    # and the kill comes twice as early (a run that finished proves nothing about a kill)
    snapshot = tmp_path / 'before-kill'
    shutil.copytree(out, snapshot)
    resume = lambda: subprocess.Popen([sys.executable, '-m', 'ardm_nb.cli', *RUN, '--out', str(out), '--resume'],
                                      env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for attempt in range(8):
        p = resume()
        for _ in range(6 if attempt == 0 else 0):
            time.sleep(frac * ref_seconds)
            if p.poll() is None: break
            p.communicate(timeout=600)
            shutil.rmtree(out)
            shutil.copytree(snapshot, out)
            frac /= 2
            p = resume()
        if attempt == 0: p.send_signal(signal.SIGKILL)
        so, se = p.communicate(timeout=600)
        logs.append(so + se)
        if attempt == 0:
            assert p.returncode == -signal.SIGKILL, f'the run ended before every kill (the reference took {ref_seconds:.1f} s): {se}'
        if p.returncode == 0: break
        assert p.returncode == -signal.SIGKILL, se
    assert p.returncode == 0, logs[-1]
    assert any('removed .tmp-step-00000008' in l for l in logs), logs
    assert not list((out / 'checkpoints').glob('.tmp-step-*')), 'a partial checkpoint was left behind'
    a, b = load_file(ref / 'model' / 'model.safetensors'), load_file(out / 'model' / 'model.safetensors')
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), 'weights differ from the uninterrupted run'
    assert rows(out) == rows(ref), 'metrics differ from the uninterrupted run (one row per step, same values)'
    res = json.loads((out / 'results.json').read_text())
    assert res['train_tokens_per_s'] and res['train_tokens_per_s'] > 0
    assert res['test'] == json.loads((ref / 'results.json').read_text())['test']
