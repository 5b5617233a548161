"""The lm-evaluation-harness adapter: the harness's perplexity is the package's own NELBO perplexity for a block-size-1
model (exact), `ardm lm-eval` runs both shipped tasks offline with a trained TINY model and the bd3 sampler, and every
bad value gets one sentence."""
import json, math, os, re, subprocess, sys
from dataclasses import replace
from pathlib import Path
import pytest, torch

pytest.importorskip('lm_eval')
from ardm_nb.block_diffusion import ar_nll, nelbo_terms
from ardm_nb.cli import main as cli_main
from ardm_nb.lm_eval import ArdmLM, run_lm_eval
from ardm_nb.lm_eval_tasks.shakespeare import SHIPPED_TASKS, held_out_paragraphs, tasks_dir
from ardm_nb.samplers import load_model
from ardm_nb.train import PRESETS, train

BIN = Path(sys.executable).parent
ENV = dict(os.environ, HF_DATASETS_OFFLINE='1', HF_HUB_OFFLINE='1', MPLBACKEND='Agg', OMP_NUM_THREADS='1')
quiet = lambda *a: None
pytestmark = pytest.mark.usefixtures('one_thread')  # TINY runs in this process: one torch thread


@pytest.fixture(scope='module')
def small_data(tmp_path_factory) -> str:
    "The first 400 paragraphs of Shakespeare's training works: a TINY run's data in a second."
    from ardm_nb.data import shakespeare_split
    paragraphs = [p for p in '\n'.join(shakespeare_split('train').values()).split('\n\n') if p.strip()]
    path = tmp_path_factory.mktemp('data') / 'small.txt'
    path.write_text('\n\n'.join(paragraphs[:400]))
    return str(path)


def tiny_run(tmp_path_factory, data: str, block_size: int) -> Path:
    "OUT/model of an 8-step TINY run at `block_size`."
    out = tmp_path_factory.mktemp(f'bs{block_size}')
    cfg = replace(PRESETS['tiny'], steps=8, block_size=block_size, data=data, eval_every=8, ckpt_every=8)
    train(cfg, out, progress=False, log=quiet)
    return out / 'model'


@pytest.fixture(scope='module')
def ar_model(tmp_path_factory, small_data, one_thread) -> Path:
    return tiny_run(tmp_path_factory, small_data, 1)


@pytest.fixture(scope='module')
def bd3_model(tmp_path_factory, small_data, one_thread) -> Path:
    return tiny_run(tmp_path_factory, small_data, 4)


def package_nll(lm, ids: list, M: int) -> float:
    "-log p(ids[1:] | BOS) from the package's NELBO terms (t = 1, block size 1: exact), over windows of M tokens."
    g = torch.Generator().manual_seed(0)
    total, done = 0.0, 1  # ids[0] is BOS: conditioned on, never scored
    while done < len(ids):
        end = min(done + M - 1, len(ids))  # each window scores up to M - 1 new tokens after >= 1 of context
        start = max(0, end - M)
        row = torch.tensor([ids[start:end]])
        total += nelbo_terms(lm, row, g, 1.0, 1.0).per_token[0, done - start:].double().sum().item()
        done = end
    return total


def test_harness_perplexity_equals_package_nelbo_perplexity_block_size_one(ar_model, tmp_path):
    "lm-eval's word/byte perplexity and bits per byte of ardm_shakespeare_ppl == the package's exact NELBO, tightly."
    k = 6
    res = run_lm_eval(ar_model, ['ardm_shakespeare_ppl'], limit=k, out=tmp_path / 'r.json', log=quiet)
    got = res['results']['ardm_shakespeare_ppl']
    model, tok = load_model(ar_model)
    lm, M = model.lm, model.lm.cfg.max_len
    docs = held_out_paragraphs('test')[:k]
    ids = [[tok.bos_token_id] + tok(d, add_special_tokens=False)['input_ids'] for d in docs]
    assert max(map(len, ids)) > M, 'one document at least spans several windows'
    nll = sum(package_nll(lm, x, M) for x in ids)
    n_bytes = sum(len(d.encode('utf-8')) for d in docs)
    n_words = sum(len(re.split(r'\s+', d)) for d in docs)
    assert got['byte_perplexity,none'] == pytest.approx(math.exp(nll / n_bytes), rel=1e-6)
    assert got['word_perplexity,none'] == pytest.approx(math.exp(nll / n_words), rel=1e-6)
    assert got['bits_per_byte,none'] == pytest.approx(nll / n_bytes / math.log(2), rel=1e-6)
    short = ids[0][:M]  # one window: the slow reference, one causal pass per position
    assert package_nll(lm, short, M) == pytest.approx(ar_nll(lm, torch.tensor([short]))[0, 1:].sum().item(), rel=1e-5)
    assert json.loads((tmp_path / 'r.json').read_text())['results']['ardm_shakespeare_ppl'] == got


def test_registered_as_ardm_and_built_from_an_arg_string(ar_model):
    from lm_eval.api.registry import get_model
    assert get_model('ardm') is ArdmLM
    lm = ArdmLM.create_from_arg_string(f'pretrained={ar_model},sampler=bd3,nfe=8,mc_samples=2',
                                       {'batch_size': 1, 'device': 'cpu'})
    assert (lm.sampler, lm.nfe, lm.mc_samples, lm.noise.kind) == ('bd3', 8, 2, 'absorbing')
    with pytest.raises(ValueError, match="sampler='nope' is not a sampler; choose one of l2r, bd3"):
        ArdmLM(ar_model, sampler='nope')
    with pytest.raises(ValueError, match='unknown model argument.s. temprature; ardm takes pretrained, sampler'):
        ArdmLM.create_from_arg_string(f'pretrained={ar_model},temprature=0.5')


def test_shipped_tasks_are_package_data():
    assert sorted(p.name for p in tasks_dir().glob('*.yaml')) == sorted(f'{t}.yaml' for t in SHIPPED_TASKS)
    assert 'lm_eval_tasks/*.yaml' in (Path(__file__).parents[1] / 'setup.py').read_text()


def test_cli_lm_eval_runs_both_shipped_tasks_offline_with_bd3(bd3_model, tmp_path):
    "`ardm lm-eval` through the installed entry point, offline: finite metrics for both tasks in the results JSON."
    out = tmp_path / 'res' / 'lm-eval.json'  # its folder is made
    r = subprocess.run([BIN / 'ardm', 'lm-eval', '--model', bd3_model, '--tasks', ','.join(SHIPPED_TASKS),
                        '--sampler', 'bd3', '--nfe', '16', '--limit', '3', '--out', out, '--threads', '1'],
                       env=ENV, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    res = json.loads(out.read_text())['results']
    ppl, gen = res['ardm_shakespeare_ppl'], res['ardm_shakespeare_gen']
    assert all(math.isfinite(ppl[f'{m},none']) for m in ('word_perplexity', 'byte_perplexity', 'bits_per_byte'))
    assert all(math.isfinite(gen[f'{m},strip']) for m in ('exact_match', 'bleu', 'chrf'))
    assert ppl['sample_len'] == gen['sample_len'] == 3
    assert 'ardm_shakespeare_gen' in r.stdout and 'bleu' in r.stdout  # lm-eval's table


def ardm_here(argv: list, capsys) -> tuple:
    "(exit code, stderr) of `ardm ARGV` in this process (argparse's refusals exit)."
    try:
        code = cli_main([str(a) for a in argv])
    except SystemExit as e:
        code = e.code
    return code, capsys.readouterr().err


def test_cli_lm_eval_bad_values_get_one_sentence(bd3_model, tmp_path, capsys):
    m = ['--model', bd3_model]
    rows = {
        'no task': ([*m, '--tasks', ' , '], "--tasks ' , ' names no task; give comma-separated lm-eval task names"),
        'unknown task': ([*m, '--tasks', 'no_such_task', '--out', tmp_path / 'a.json'],
                         'unknown task(s) no_such_task: the shipped tasks are ardm_shakespeare_ppl, ardm_shakespeare_gen'),
        'missing model': (['--model', tmp_path / 'none', '--tasks', 'x'], f"model folder '{tmp_path}/none' does not exist"),
        'out a folder': ([*m, '--tasks', 'x', '--out', tmp_path], 'is a folder; give a file name inside it'),
        'include-path': ([*m, '--tasks', 'x', '--include-path', tmp_path / 'none'], 'is not a folder (a folder of lm-eval task YAMLs)'),
        'limit 0': ([*m, '--tasks', 'x', '--limit', '0'], 'argument --limit: 0 is not an integer >= 1'),
        'nfe 0': ([*m, '--tasks', 'x', '--nfe', '0'], 'argument --nfe: 0 is not an integer >= 1'),
        'sampler': ([*m, '--tasks', 'x', '--sampler', 'nope'], "argument --sampler: invalid choice: 'nope'"),
        'l2r on blocks': ([*m, '--tasks', 'ardm_shakespeare_gen', '--sampler', 'l2r', '--out', tmp_path / 'b.json'],
                          "sampler 'l2r' needs a block-size-1 (AR) model; this one has block size 4"),
        'nfe below blocks': ([*m, '--tasks', 'ardm_shakespeare_gen', '--nfe', '1', '--limit', '1', '--out', tmp_path / 'c.json'],
                             '--nfe 1 is below one pass per block'),
    }
    for name, (argv, want) in rows.items():
        code, err = ardm_here(['lm-eval', *argv], capsys)
        assert code == 2 and want in err and 'Traceback' not in err, (name, err)
    assert not list(tmp_path.glob('*.json')), 'a refused command writes no results'


def test_cli_lm_eval_help_says_every_default(capsys):
    with pytest.raises(SystemExit):
        cli_main(['lm-eval', '--help'])
    text = ' '.join(capsys.readouterr().out.split())
    for want in ('(default: bd3)', '(default: out/lm-eval.json)', '(default: all)', '(default: 0)',
                 '(default: no budget', 'ardm_shakespeare_ppl', 'samplers:'):
        assert want in text, want
