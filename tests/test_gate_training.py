"""Gate training on a frozen TINY hybrid-noise denoiser: hand-worked relaxations and pi recursion, the frozen denoiser,
determinism, the proxy's loss going down, the gate saved with its model, and bad input."""
import hashlib, json, math, shutil
from dataclasses import asdict, replace
from pathlib import Path
import pytest, torch

from ardm_nb.data import shakespeare_split
from ardm_nb.gate import GateConfig, OverwriteGate
from ardm_nb.hf import ArdmConfig, ArdmForDiffusionLM
from ardm_nb.model import ModelConfig
from ardm_nb.noise import NoiseConfig
from ardm_nb.samplers import load_model
from ardm_nb.train import PRESETS, train
from ardm_nb.gate import GATE_CONFIG, GATE_WEIGHTS, load_gate, save_gate
from ardm_nb.metrics import auroc
from ardm_nb.relaxed import gumbel_sigmoid, hard_mask, logistic_noise, logit, straight_through
from ardm_nb.gate_training import (
    GateTrainConfig, gate_config, gate_step, hold_probabilities, new_gate, proxy_batch, seq_loss, step_draws,
    train_gate, unroll)

quiet = lambda *a: None


pytestmark = pytest.mark.usefixtures('one_thread')  # the fixture is in conftest.py


@pytest.fixture(scope='module')
def run(tmp_path_factory):
    "A TINY eps-hybrid model trained for a few seconds on two plays, and the corpus it was trained on."
    root = tmp_path_factory.mktemp('gate_training')
    works = shakespeare_split('train')
    corpus = root / 'plays.txt'
    corpus.write_text('\n\n'.join(works[w] for w in ('tempest', 'twelfth_night')))
    cfg = replace(PRESETS['tiny'], data=str(corpus), noise='eps_hybrid', steps=300, eval_every=10_000, ckpt_every=10_000, log_every=100)
    train(cfg, root / 'run', progress=False, log=quiet)
    return root / 'run' / 'model', corpus


@pytest.fixture
def model_dir(run, tmp_path):
    "A private copy of the trained model folder (gate runs write into it)."
    return Path(shutil.copytree(run[0], tmp_path / 'model'))


def cfg_for(run, **kw):
    return GateTrainConfig(**{**dict(T=4, window_blocks=2, batch_size=8, data=str(run[1]), eval_rows=16, steps=5), **kw})


def sha(p: Path) -> str: return hashlib.sha256(p.read_bytes()).hexdigest()


# --- exact small examples -------------------------------------------------------------------------------------------

def test_pi_recursion_by_hand():
    m = torch.tensor([[0., 1., .5], [1., 0., .5]], requires_grad=True)
    q = torch.tensor([[.9, .6, .2], [.3, .9, .8]])
    pi = hold_probabilities(torch.tensor([1., 0., 1.]), m, q)
    # pi1 = (1, .6, .5*.2 + .5*1); pi2 = (.3, .6, .5*.8 + .5*.6)
    assert torch.allclose(pi, torch.tensor([[1., .6, .6], [.3, .6, .7]]))
    (-pi[-1].log().sum()).backward()
    assert math.isclose(m.grad[1, 0].item(), (1 - .3) / .3, rel_tol=1e-6)  # rewriting a right token at step 2 is pushed down
    assert m.grad[1, 0] > 0 and m.grad[0, 1] < 0  # ... and filling the wrong position 1 at step 1 is pushed up


def test_seq_loss_terms_by_hand():
    m, p = torch.tensor([[0., 1., .5], [1., 0., .5]]), torch.tensor([[.2, .5, .9], [.4, .5, .6]])
    gated = torch.tensor([[True, False, True]] * 2)
    sl = seq_loss(torch.tensor([.3, .6, .7]), m, p, gated, lambda_sparse=.1, lambda_tv=.5, floor=0.)
    assert math.isclose(sl.nll.item(), -(math.log(.3) + math.log(.6) + math.log(.7)) / 3, rel_tol=1e-6)
    assert math.isclose(sl.sparse.item(), (0 + .5 + 1 + .5) / 4, rel_tol=1e-6)  # only the gated entries
    assert math.isclose(sl.tv.item(), (.2 + 0 + .3) / 3, rel_tol=1e-6)
    assert math.isclose(sl.total.item(), sl.nll.item() + .1 * sl.sparse.item() + .5 * sl.tv.item(), rel_tol=1e-6)


def test_straight_through_is_hard_forward_with_the_sigmoid_gradient():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(500, generator=g, requires_grad=True)
    lam = logistic_noise(a.shape, g)
    m = straight_through(torch.sigmoid(a), lam)
    assert set(m.detach().unique().tolist()) == {0.0, 1.0}  # exactly 0/1, not 1 +- an ulp
    assert torch.equal(m.detach(), (a.detach() + lam > 0).float())  # the Bernoulli sample 1[logit p + noise > 0]
    m.sum().backward()
    s = torch.sigmoid(a.detach())
    assert torch.allclose(a.grad, s * (1 - s), atol=1e-7)


def test_gumbel_sigmoid_goes_to_the_hard_sample_with_the_same_noise():
    g = torch.Generator().manual_seed(1)
    p = torch.rand(2000, generator=g) * .98 + .01
    lam = logistic_noise(p.shape, g)
    hard = hard_mask(p, lam)
    away = (logit(p) + lam).abs() > 1e-3
    assert away.float().mean() > .99
    assert torch.equal(gumbel_sigmoid(p, lam, 1e-5)[away], hard[away])
    warm = gumbel_sigmoid(p, lam, 1.0)
    assert ((warm > 0) & (warm < 1)).all() and torch.equal((warm > .5).float(), hard)
    assert abs(hard_mask(torch.full((40_000,), .3), logistic_noise((40_000,), g)).mean().item() - .3) < .01


def test_auroc_by_hand_and_against_all_pairs():
    assert auroc(torch.tensor([.1, .4, .35, .8]), torch.tensor([0, 0, 1, 1])) == .75
    assert auroc(torch.tensor([.5, .5, .5]), torch.tensor([0, 1, 1])) == .5
    g = torch.Generator().manual_seed(2)
    s, y = torch.randint(0, 7, (400,), generator=g).float(), torch.rand(400, generator=g) < .25
    pairs = (s[y][:, None] > s[~y][None]).double() + .5 * (s[y][:, None] == s[~y][None]).double()
    assert abs(auroc(s, y) - pairs.mean().item()) < 1e-12


def test_step_draws_reveal_only_from_one_step_to_the_next():
    mc = ModelConfig(vocab_size=40, max_len=24, block_size=4, d_model=8, n_layers=1, n_heads=2, subs=False)
    x0 = torch.randint(0, 39, (32, 24), generator=torch.Generator().manual_seed(0))
    for t in (2, 5):
        cur, prev = step_draws(mc, x0, t, 5, 3, NoiseConfig('eps_hybrid', eps=.3), torch.Generator().manual_seed(t))
        now = torch.arange(24) // 4 % 3 == 2  # the last block of every 3-block window is being decoded
        assert torch.allclose((prev.level - cur.level)[:, now], torch.full((32, 8), .2), atol=1e-6)
        assert not cur.c.masked[:, ~now].any() and not prev.c.masked[:, ~now].any()
        assert not (cur.c.masked & ~prev.c.masked).any()
        assert torch.equal(prev.c.xt[~prev.c.masked], cur.c.xt[~prev.c.masked])


# --- training on a real (tiny) denoiser -----------------------------------------------------------------------------

def test_denoiser_gets_no_gradient_and_keeps_its_weights(run):
    model, _ = load_model(run[0]); lm = model.lm.eval()  # left trainable: only the code's no_grad keeps gradients out
    assert all(p.requires_grad for p in lm.parameters())
    before = {k: v.clone() for k, v in lm.state_dict().items()}
    rows = torch.randint(0, lm.cfg.vocab_size - 1, (16, lm.cfg.max_len), generator=torch.Generator().manual_seed(0))
    for objective, estimator in (('proxy', 'st'), ('e2e', 'st'), ('e2e', 'gumbel')):
        cfg = cfg_for(run, objective=objective, estimator=estimator)
        gate = new_gate(gate_config(cfg, lm.cfg), torch.Generator().manual_seed(0))
        start = [p.detach().clone() for p in gate.parameters()]
        opt = torch.optim.Adam(gate.parameters(), lr=cfg.lr)
        for step in range(2): row = gate_step(lm, gate, opt, rows, step, cfg, NoiseConfig('eps_hybrid'))
        assert math.isfinite(row['loss'])
        assert all(p.grad is None for p in lm.parameters()), objective
        assert any(not torch.equal(a, b.detach()) for a, b in zip(start, gate.parameters())), f'{objective}/{estimator}: the gate did not move'
    for k, v in lm.state_dict().items(): assert torch.equal(v, before[k]), k


def test_estimators_walk_the_same_hard_trajectory(run):
    model, _ = load_model(run[0]); lm = model.lm.eval()
    x0 = torch.randint(0, lm.cfg.vocab_size - 1, (4, lm.cfg.max_len), generator=torch.Generator().manual_seed(0))
    start = x0.clone(); start[:, ::3] = lm.cfg.mask_id
    gate = OverwriteGate(GateConfig(T=4))
    st, gu = (unroll(lm, gate, x0, start, 2, torch.Generator().manual_seed(5), est, update_norm=False) for est in ('st', 'gumbel'))
    assert torch.equal(st.x, gu.x) and torch.equal(st.edits, gu.edits)
    assert (st.m[~st.gated] == 1).all() and (gu.m[~gu.gated] == 1).all()  # a MASK is always rewritten
    assert not torch.equal(st.m, gu.m)  # ... the relaxed masks (and so the gradients) differ
    assert not (st.x == lm.cfg.mask_id).any()


def test_proxy_loss_goes_down_and_the_gate_is_saved_with_the_model(run, model_dir):
    weights = sha(model_dir / 'model.safetensors')
    res = train_gate(model_dir, cfg_for(run, steps=30), log=quiet, progress=False)
    rows = [json.loads(l) for l in (model_dir / 'gate_metrics.jsonl').read_text().splitlines()]
    assert [r['step'] for r in rows] == list(range(1, 31)) and all(r['objective'] == 'proxy' for r in rows)
    losses = [r['loss'] for r in rows]
    assert sum(losses[-10:]) < sum(losses[:10]), losses
    u0, u1 = res['untrained']['separation'], res['trained']['separation']
    assert u1['bce'] < u0['bce'], (u0, u1)  # same held-out corruptions for both gates
    assert (model_dir / 'gate_loss.png').stat().st_size > 5_000 and (model_dir / 'gate_results.json').exists()
    assert sha(model_dir / 'model.safetensors') == weights  # the denoiser's weights are untouched on disk
    model, tok = load_model(model_dir)  # the gate's files do not disturb the model
    gate = load_gate(model_dir)
    assert gate.cfg == gate_config(cfg_for(run, steps=30), model.lm.cfg) and not gate.training
    assert gate.norm.count.item() == 30 and not torch.equal(gate.norm.mean, torch.zeros(3, dtype=torch.float64))


def test_e2e_runs_with_both_estimators_and_writes_its_curve(run, model_dir):
    for est in ('st', 'gumbel'):
        res = train_gate(model_dir, cfg_for(run, objective='e2e', estimator=est, steps=3), out=model_dir / est, log=quiet, progress=False)
        rows = [json.loads(l) for l in (model_dir / est / 'gate_metrics.jsonl').read_text().splitlines()]
        assert len(rows) == 3 and all(math.isfinite(r['loss']) and 0 <= r['edit_rate'] <= 1 for r in rows)
        assert (model_dir / est / 'gate_loss.png').exists() and res['trained']['refinement']['acc_start'] > 0


def test_same_seed_same_gate(run, model_dir):
    def weights(seed):
        train_gate(model_dir, cfg_for(run, kind='mlp', mlp_width=8, use_hidden=True, seed=seed), out=model_dir / f's{seed}', log=quiet, progress=False)
        return load_gate(model_dir).state_dict()
    a, b, c = weights(0), weights(0), weights(1)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert any(not torch.equal(a[k], c[k]) for k in a)


# --- saving and loading ---------------------------------------------------------------------------------------------

def test_save_load_round_trip_gives_identical_u(tmp_path):
    gate = new_gate(GateConfig(T=6, kind='mlp', hidden_dim=8, mlp_width=16, b0=-1.5), torch.Generator().manual_seed(0))
    gate.norm.update(torch.randn(200, 3) * 2 + .5)
    save_gate(gate, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [GATE_WEIGHTS, GATE_CONFIG]  # no temp files left behind
    assert json.loads((tmp_path / GATE_CONFIG).read_text()) == asdict(gate.cfg)
    back = load_gate(tmp_path)
    assert back.cfg == gate.cfg
    g = torch.Generator().manual_seed(1)
    lg, prev, h = torch.randn(3, 12, 20, generator=g), torch.randn(3, 12, 20, generator=g), torch.randn(3, 12, 8, generator=g)
    with torch.no_grad():
        assert torch.equal(back(lg, prev, h, step=4, update_norm=False).u, gate.eval()(lg, prev, h, step=4, update_norm=False).u)


def test_load_gate_of_a_folder_without_a_gate_is_none(run, tmp_path):
    assert load_gate(tmp_path) is None
    assert load_gate(run[0]) is None  # a model folder nobody trained a gate for


@pytest.mark.parametrize('damage,message', [
    (lambda d: (d / GATE_WEIGHTS).write_bytes((d / GATE_WEIGHTS).read_bytes()[:40]), 'not a readable safetensors file'),
    (lambda d: (d / GATE_WEIGHTS).unlink(), 'an incomplete gate'),
    (lambda d: (d / GATE_CONFIG).unlink(), 'an incomplete gate'),
    (lambda d: (d / GATE_CONFIG).write_text('{not json'), 'not a valid gate configuration'),
    (lambda d: (d / GATE_CONFIG).write_text(json.dumps(dict(T=4, colour='red'))), 'not a valid gate configuration'),
    (lambda d: (d / GATE_CONFIG).write_text(json.dumps(dict(T=0))), 'T=0'),
    (lambda d: (d / GATE_CONFIG).write_text(json.dumps(dict(asdict(GateConfig(T=4)), hidden_dim=3), sort_keys=True)), 'describe different gates'),
])
def test_broken_gate_files_raise_valueerror(tmp_path, damage, message):
    save_gate(OverwriteGate(GateConfig(T=4)), tmp_path)
    damage(tmp_path)
    with pytest.raises(ValueError, match=message): load_gate(tmp_path)


def test_weights_of_another_gate_shape_are_refused(tmp_path):
    from safetensors.torch import save_file
    save_gate(OverwriteGate(GateConfig(T=4)), tmp_path)
    other = OverwriteGate(GateConfig(T=4, kind='mlp', mlp_width=4)).state_dict()
    cfg = (tmp_path / GATE_CONFIG).read_text()
    save_file({k: v.contiguous() for k, v in other.items()}, str(tmp_path / GATE_WEIGHTS), metadata={'gate_config': cfg})
    with pytest.raises(ValueError, match='does not fit the gate'): load_gate(tmp_path)


# --- bad input ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('field,value,message', [
    ('objective', 'rl', "objective='rl' must be one of 'proxy', 'e2e'"),
    ('estimator', 'reinforce', "estimator='reinforce' must be one of 'st', 'gumbel'"),
    ('kind', 'none', "kind='none' must be one of 'linear', 'mlp'"),
    ('steps', 0, r'steps=0 is outside the allowed range \[1, inf\)'),
    ('T', 2.5, 'T=2.5 must be an integer'),
    ('window_blocks', 0, 'window_blocks=0'),
    ('lr', 0.0, r'lr=0.0 is outside the allowed range \(0, inf\)'),
    ('tau', -1.0, 'tau=-1.0'),
    ('lambda_sparse', -0.1, 'lambda_sparse=-0.1'),
    ('lambda_tv', float('nan'), 'lambda_tv=nan'),
    ('eps', 1.0, r'eps=1.0 is outside the allowed range \[0, 1\)'),
    ('beta', 0.9, 'beta=0.9 must not exceed omega=0.5'),
    ('seed', -1, 'seed=-1'),
])
def test_bad_config_values(field, value, message):
    with pytest.raises(ValueError, match=message): GateTrainConfig(**{field: value})


def test_absorbing_model_and_bad_window_are_refused(run, model_dir, tmp_path):
    with pytest.raises(ValueError, match="window_blocks=3 must divide the model's 8 blocks"):
        train_gate(model_dir, cfg_for(run, window_blocks=3), log=quiet, progress=False)
    _, tok = load_model(run[0])
    subs = ArdmForDiffusionLM(ArdmConfig.from_model_config(ModelConfig(**{**TINY_SHAPE, 'vocab_size': len(tok), 'mask_id': tok.mask_token_id})))
    subs.save_pretrained(tmp_path / 'absorbing'); tok.save_pretrained(tmp_path / 'absorbing')
    with pytest.raises(ValueError, match='uses SUBS'):
        train_gate(tmp_path / 'absorbing', cfg_for(run), log=quiet, progress=False)
    assert load_gate(tmp_path / 'absorbing') is None  # nothing was saved


TINY_SHAPE = dict(max_len=32, block_size=4, d_model=32, n_layers=2, n_heads=2)
