"""`ardm eval` end to end on the markov-words oracle (tiny sizes): rerun skipping, pairing, MBR,
task training, bad input."""
import json

import pytest
import torch

import ardm_nb.eval as ev
import ardm_nb.eval_cli as cl
import ardm_nb.report as rp
from ardm_nb.cli import main

TINY = ['--task', 'markov-words', '--model', 'oracle', '--samplers', 'bd3,fixed', '--nfe', '4,8',
        '--seeds', '3', '--rows', '4']


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    yield


def _cfg(**kw):
    return ev.EvalConfig(**{**dict(samplers=('bd3', 'fixed'), nfe_budgets=(4, 8), seeds=3, rows=4), **kw})


def test_cli_eval_on_the_oracle_writes_rows_table_and_figure(tmp_path, capsys):
    assert main(['eval', *TINY, '--out', str(tmp_path)]) == 0
    doc = json.loads((tmp_path / 'eval.json').read_text())
    rows = doc['rows']
    assert len(rows) == 3 + 2 * 3 * 2 * 2  # reference rows + modes x seeds x budgets x samplers
    for r in rows:
        for k in ('task', 'model', 'sampler', 'options', 'nfe_budget', 'nfe_used', 'seed', 'metrics'):
            assert k in r
    run = [r for r in rows if r['nfe_budget'] is not None]
    assert all(r['nfe_used'] <= r['nfe_budget'] and r['metrics']['nfe_used'] == r['nfe_used'] for r in run)
    names = set().union(*(r['metrics'] for r in run))
    assert {'invalid_word_rate', 'token_accuracy', 'fixed', 'broken', 'lost', 'tokens_per_pass',
            'seconds_per_sample', 'edits_per_step', 'stopped_early'} <= names
    md = (tmp_path / 'eval.md').read_text()
    assert '| fixed | 8 |' in md and 'mean over 3 seeds x 4 problems of the test split' in md
    assert '| NFE budget | best - other |' in md and "Holm's correction" in md
    assert (tmp_path / 'eval.png').stat().st_size > 10_000
    # the exact samples of the chain: no invalid word; fixed (a reviser) repairs more than it breaks
    ref = [r for r in rows if r['sampler'] == 'task samples']
    assert len(ref) == 3 and all(r['metrics']['invalid_word_rate'] == 0 for r in ref)
    fixed = [r for r in run if r['mode'] == 'repair' and r['sampler'] == 'fixed']
    assert sum(r['metrics']['fixed'] for r in fixed) > sum(r['metrics']['broken'] for r in fixed)


def test_rerun_skips_rows_already_done(tmp_path, monkeypatch):
    cfg = _cfg(modes=('generate',))
    first = ev.evaluate(cfg, tmp_path, progress=False)
    stamp = (tmp_path / 'eval.json').stat().st_mtime_ns

    def fail(*a, **k): raise AssertionError('a row that was already done ran again')
    monkeypatch.setattr(ev, 'run_one', fail)
    again = ev.evaluate(cfg, tmp_path, progress=False)
    assert [ev.row_key(r) for r in again] == [ev.row_key(r) for r in first]
    assert (tmp_path / 'eval.json').stat().st_mtime_ns == stamp  # nothing rewritten
    as_text = ev.read_rows(str(tmp_path / 'eval.json'))  # a path as text reads the same rows
    assert [ev.row_key(r) for r in as_text] == [ev.row_key(r) for r in first]


def test_interrupted_run_resumes_with_only_the_missing_rows(tmp_path, monkeypatch):
    cfg = _cfg(modes=('generate',), seeds=2)
    real, calls = ev.run_one, []

    class Killed(Exception): "The process dying half-way."

    kill_at = [3]

    def flaky(*a, **k):
        calls.append(a[2:5])
        if len(calls) == kill_at[0]: raise Killed
        return real(*a, **k)
    monkeypatch.setattr(ev, 'run_one', flaky)
    with pytest.raises(Killed): ev.evaluate(cfg, tmp_path, progress=False)
    done = json.loads((tmp_path / 'eval.json').read_text())['rows']
    assert len(done) == 1 + 2  # the reference row of seed 0 and the two runs before the kill
    calls.clear()
    kill_at[0] = None
    rows = ev.evaluate(cfg, tmp_path, progress=False)
    assert len(rows) == 2 + 2 * 2 * 2 and len(calls) == 2 * 2 * 2 - 2


def test_samplers_are_paired_on_the_same_inputs():
    cfg = _cfg(modes=('repair',), samplers=('bd3', 'confidence', 'fixed'))
    rows = ev.evaluate(cfg, None, progress=False)
    for seed in range(3):
        before = {r['metrics']['accuracy_before'] for r in rows if r['seed'] == seed}
        assert len(before) == 1
    # bd3 and confidence only reveal MASKs: with nothing masked they return the input unchanged
    for r in rows:
        if r['sampler'] != 'fixed':
            assert r['metrics']['token_accuracy'] == r['metrics']['accuracy_before']


def test_mbr_counts_every_candidate():
    cfg = _cfg(modes=('generate',), samplers=('confidence',), nfe_budgets=(8,), seeds=1, mbr=2)
    rows = ev.evaluate(cfg, None, progress=False)
    run = [r for r in rows if r['nfe_budget'] is not None]
    assert [r['nfe_used'] for r in run] == [8]  # 2 candidates x 4 passes (one per block)


def test_summary_ci_and_verdict():
    rows = ev.evaluate(_cfg(modes=('repair',)), None, progress=False)
    s = {(x['sampler'], x['nfe_budget']): x for x in rp.summarize(rows, 'token_accuracy')}
    bd3 = s['bd3', 4]['ci']
    assert bd3.lo <= bd3.mean <= bd3.hi and len(s['bd3', 4]['seeds']) == 3
    best = rp.best_at(rows, 'token_accuracy', 'repair')
    assert [b['nfe_budget'] for b in best] == [4, 8]


def test_train_a_task_model_and_evaluate_it(tmp_path, capsys):
    run = tmp_path / 'run'
    assert main(['train', '--task', 'markov-words', '--config', 'tiny', '--out', str(run)]) == 0
    assert (run / 'model' / 'model.safetensors').exists()
    out = tmp_path / 'eval'
    assert main(['eval', '--task', 'markov-words', '--model', str(run / 'model'),
                 '--samplers', 'bd3,gate', '--nfe', '4', '--seeds', '3', '--rows', '2',
                 '--out', str(out)]) == 0
    rows = json.loads((out / 'eval.json').read_text())['rows']
    assert {r['model'] for r in rows} == {str(run / 'model')} and len(rows) == 3 + 2 * 3 * 2
    from ardm_nb.samplers import load_model
    model, tok = load_model(run / 'model')  # the task's word-level tokenizer travels with the model
    assert len(tok) == model.config.vocab_size and tok.mask_token_id == model.config.mask_id


@pytest.mark.parametrize('args,msg', [
    (['--task', 'nope'], "unknown task 'nope'"),
    (['--task', 'markov-words', '--samplers', 'bd3,nope'], "unknown sampler 'nope'"),
    (['--task', 'markov-words', '--metrics', 'shininess'], "unknown metric 'shininess'"),
    (['--task', 'sudoku'], 'has no oracle'),
    (['--task', 'markov-words', '--nfe', '2'], '--nfe 2 is below one pass per block'),
    (['--task', 'markov-words', '--nfe', '4,x'], 'comma-separated integers'),
    (['--task', 'markov-words', '--param', 'n_words=63'], 'n_words=63'),
    (['--task', 'markov-words', '--param', 'colour=3'], "no parameter 'colour'"),
    (['--task', 'markov-words', '--modes', 'generate,sing'], "no mode 'sing'"),
    (['--task', 'markov-words', '--samplers', 'l2r'], 'block-size-1'),
    (['--task', 'markov-words', '--model', '/nonexistent/model'], 'does not exist'),
    (['--task', 'markov-words', '--seeds', '0'], '--seeds 0 is outside the allowed range [1, inf)'),
    (['--task', 'markov-words', '--rows', '0'], '--rows 0 is outside the allowed range [1, inf)'),
    (['--task', 'markov-words', '--mbr', '1'], '--mbr 1 is outside the allowed range [2, inf)'),
    (['--task', 'markov-words', '--margin', '-1'], '--margin -1.0 is outside the allowed range (0, inf)'),
])
def test_bad_input_one_sentence_exit_2(args, msg, tmp_path, capsys):
    assert main(['eval', *args, '--out', str(tmp_path / 'o')]) == 2
    err = capsys.readouterr().err.strip()
    assert msg in err and err.startswith('ardm eval: error:')
    assert '\n' not in err and 'Traceback' not in err
    assert not (tmp_path / 'o' / 'eval.json').exists()


def test_text_task_problems_get_bleu_and_rouge():
    from ardm_nb.tasks import get_task
    task = get_task('shakespeare-char', seq_len=64)
    x = ev.eval_inputs(task, 'infill', 3, 'test')
    right = ev.row_scores(task, 'infill', x['reference'], x).metrics  # the reference itself: perfect scores
    assert right['bleu'] == pytest.approx(100.0) and right['rougeL'] == pytest.approx(1.0)
    assert right['token_accuracy'] == 1.0 and right['fixed'] > 0 and right['broken'] == 0
    wrong = ev.row_scores(task, 'infill', x['infill'], x).metrics  # the span left as MASK
    assert wrong['token_accuracy'] == 0.0 and wrong['bleu'] < 1.0


def test_judge_nll_and_entropy_flag_in_generate_rows():
    from ardm_nb.model import BlockDiffusionLM, ModelConfig
    from ardm_nb.tasks import get_task
    task = get_task('markov-words')
    torch.manual_seed(0)
    jcfg = ModelConfig(vocab_size=task.vocab_size, max_len=task.seq_len, block_size=1, d_model=16,
                       n_layers=1, n_heads=2, mask_id=task.mask_id)
    judge = BlockDiffusionLM(jcfg).eval()
    x = ev.eval_inputs(task, 'generate', 4, 'test')
    m = ev.row_scores(task, 'generate', x['reference'], x, judge=judge).metrics
    assert m['low_entropy'] == 0.0 and m['judge_nll'] > 0
    collapsed = x['reference'].clone()
    collapsed[:, 1:] = collapsed[:, 1:2]  # one token repeated: entropy 0, far below the reference's
    assert ev.row_scores(task, 'generate', collapsed, x, judge=judge).metrics['low_entropy'] == 1.0
    cfg = _cfg(modes=('generate',), samplers=('bd3',), nfe_budgets=(4,), seeds=1)
    setup = ev.make_setup(cfg, task, task.oracle(16, 'eps_hybrid'), judge)
    rows = ev.evaluate(cfg, None, setup, progress=False)
    assert all('judge_nll' in r['metrics'] for r in rows)


def test_option_flag_gives_labelled_variants_their_options(tmp_path, capsys):
    """`--option LABEL.KEY=VALUE`: JSON values, dotted keys into nested dicts, NAME@TAG labels;
    rows equal the Python run."""
    args = ['--task', 'markov-words', '--samplers', 'gate,gate@nolog', '--nfe', '4', '--seeds', '1',
            '--rows', '3', '--modes', 'repair', '--option', 'gate@nolog.gate.logq=false',
            '--option', 'gate@nolog.refine=1', '--option', 'gate.selector.rho=[0.5, 0.25]',
            '--option', 'gate.action=remask']
    texts = ['gate.gate.logq=false', 'gate.action=remask', 'gate.theta_stop=0.5']
    assert cl.parse_options(texts, ('gate',)) == {
        'gate': {'gate': {'logq': False}, 'action': 'remask', 'theta_stop': 0.5}}
    assert main(['eval', *args, '--out', str(tmp_path / 'cli')]) == 0
    want = {'gate@nolog': {'sampler': 'gate', 'gate': {'logq': False}, 'refine': 1},
            'gate': {'selector': {'rho': [0.5, 0.25]}, 'action': 'remask'}}
    cli = json.loads((tmp_path / 'cli' / 'eval.json').read_text())
    assert cli['config']['options'] == want
    cfg = _cfg(samplers=('gate', 'gate@nolog'), nfe_budgets=(4,), seeds=1, rows=3, modes=('repair',),
               options=want)
    rows = ev.evaluate(cfg, progress=False)
    by = {r['sampler']: r['metrics'] for r in cli['rows']}
    for r in rows: assert by[r['sampler']]['token_accuracy'] == r['metrics']['token_accuracy']
    assert {r['sampler'] for r in cli['rows']} == {'gate', 'gate@nolog'}
    capsys.readouterr()
    for bad, msg in [('nope.refine=1', "label 'nope'"), ('gate.bogus=1', "no option 'bogus'"),
                     ('gate.refine', 'LABEL.KEY=VALUE'),
                     ('gate@nolog.refine=-1', "'gate@nolog': refine=-1")]:
        assert main(['eval', *args[:-8], '--option', bad, '--out', str(tmp_path / 'bad')]) == 2
        err = capsys.readouterr().err.strip()
        assert msg in err and err.startswith('ardm eval: error:') and '\n' not in err
    assert not (tmp_path / 'bad' / 'eval.json').exists()


def test_generate_table_leads_with_judge_nll_for_text_only():
    "Text has no exact quality measure: its table leads with the judge's NLL; markov-words keeps its own."
    from ardm_nb.model import BlockDiffusionLM, ModelConfig
    from ardm_nb.tasks import get_task
    torch.manual_seed(0)
    firsts = {}
    for name in ('shakespeare-char', 'markov-words'):
        task = get_task(name, seq_len=32)
        mk = lambda bs: BlockDiffusionLM(ModelConfig(
            vocab_size=task.vocab_size, max_len=32, block_size=bs, d_model=16, n_layers=1, n_heads=2,
            mask_id=task.mask_id)).eval()
        cfg = _cfg(task=name, task_params=dict(seq_len=32), modes=('generate',),
                   samplers=('bd3',), nfe_budgets=(4,), seeds=1)
        ms = rp.default_metrics(ev.make_setup(cfg, task, mk(16), mk(1)), 'generate')
        firsts[name] = (ms[0], ms[-1])
    assert firsts == {'shakespeare-char': ('judge_nll', 'repeat_4'),
                      'markov-words': ('invalid_word_rate', 'judge_nll')}


def test_rows_store_per_problem_scores_paired_by_problem():
    rows = ev.evaluate(_cfg(modes=('repair',)), None, progress=False)
    for r in rows:
        assert r['scores'] and all(len(v) == 4 for v in r['scores'].values())
        for k, v in r['scores'].items():
            assert sum(v) / len(v) == pytest.approx(r['metrics'][k], rel=1e-12, abs=1e-15)
    # the inputs' accuracy depends on the problem alone: the same list for every sampler and seed
    before = {tuple(r['scores']['accuracy_before']) for r in rows}
    assert len(before) == 1


def test_dev_and_test_problems_disjoint_and_deterministic():
    from ardm_nb.tasks import get_task
    task = get_task('markov-words')
    dev = ev.eval_inputs(task, 'repair', 32, 'dev')['reference']
    test = ev.eval_inputs(task, 'repair', 32, 'test')['reference']
    assert not {tuple(r) for r in dev.tolist()} & {tuple(r) for r in test.tolist()}
    assert torch.equal(ev.eval_inputs(task, 'repair', 32, 'dev')['reference'], dev)
    assert torch.equal(ev.eval_inputs(task, 'repair', 8, 'dev')['reference'], dev[:8])
    with pytest.raises(ValueError, match='split'): ev.EvalConfig(split='train')


def test_shakespeare_dev_reads_the_valid_works():
    from ardm_nb.tasks import get_task
    task = get_task('shakespeare-char', seq_len=64)
    assert task.for_split('test') is task and task.for_split('dev').cfg.split == 'valid'
    with pytest.raises(ValueError, match='leave --param split out'):
        ev.load_setup(ev.EvalConfig(task='shakespeare-char', task_params=dict(split='valid'),
                                    model='oracle', split='test'))


def test_stale_rows_are_not_reused(tmp_path, monkeypatch):
    cfg = _cfg(modes=('generate',), samplers=('bd3',), nfe_budgets=(4,), seeds=2)
    first = ev.evaluate(cfg, tmp_path, progress=False)
    path = tmp_path / 'eval.json'
    doc = json.loads(path.read_text())
    doc['rows'][1]['model_sha'] = 'f' * 16  # as if the model folder had been trained further
    doc['rows'][2]['version'] = '0.0.1'  # made by another package version
    path.write_text(json.dumps(doc))
    real, calls, notes = ev.run_one, [], []

    def counting(*a, **k):
        calls.append(a[2:4])
        return real(*a, **k)
    monkeypatch.setattr(ev, 'run_one', counting)
    again = ev.evaluate(cfg, tmp_path, progress=False, log=notes.append)
    assert len(notes) == 1 and 'ignoring 2 rows' in notes[0]
    assert len(calls) == 1  # row 1 is a run (row 2 is the second seed's reference: rescored)
    assert [ev.row_key(r) for r in again] == [ev.row_key(r) for r in first]
    kept = json.loads(path.read_text())['rows']
    assert len(kept) == len(first) and all(r['version'] == ev.__version__ for r in kept)


def test_cli_split_dev_and_holm_verdicts(tmp_path):
    assert main(['eval', *TINY, '--split', 'dev', '--modes', 'repair', '--out', str(tmp_path)]) == 0
    rows = json.loads((tmp_path / 'eval.json').read_text())['rows']
    assert {r['split'] for r in rows} == {'dev'}
    md = (tmp_path / 'eval.md').read_text()
    assert 'of the dev split' in md
    best = rp.best_at(ev.read_rows(tmp_path / 'eval.json'), 'token_accuracy', 'repair')
    for b in best:
        assert len(b['pairs']) == b['others'] and all(p.p_holm >= p.diff.p for p in b['pairs'])
