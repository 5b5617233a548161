"""Samplers: honest NFE and the invariants of every sampler, rules worked by hand on stub logits, the cached engine
against a plain block-causal pass, L2R against a hand loop, bad input, and `ardm sample` run as a stranger would."""
import math, os, subprocess, sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings, strategies as st

from ardm_nb.model import TINY, BlockDiffusionLM, ModelConfig, Output, block_causal_mask
from ardm_nb.gate import Selector
from ardm_nb.signals import logit_stats
from ardm_nb import samplers as S
from ardm_nb.samplers import (SAMPLERS, Engine, GateRule, P2Rule, ReMDMRule, StepInput, pick_k, remdm_schedule, reveal_counts, sample,
                              DDPMRule, OrderedRule, sampling_probs)

BIN = Path(sys.executable).parent
ENV = dict(os.environ, HF_DATASETS_OFFLINE='1', HF_HUB_OFFLINE='1', MPLBACKEND='Agg')
MASK = TINY['vocab_size'] - 1  # 31: the default mask id of a TINY model
GATES = ('fixed', 'position', 'gate')
HYBRID = GATES + ('p2', 'acs', 'detect', 'wino')  # samplers that judge written tokens: they belong on hybrid-noise models
PROMPT = torch.tensor([[5, 6, 7, 8, 9, 10], [11, 12, 13, 14, 15, 16]])
gen = lambda seed=0: torch.Generator().manual_seed(seed)


pytestmark = pytest.mark.usefixtures('one_thread')  # the fixture is in conftest.py


def spread(lm):
    """Weights drawn with std 0.3 instead of 0.02. The untrained init gives near-uniform distributions that hardly depend
    on the position: in a fully masked block the 'entropy' scores of its positions agree to 1e-7, and the cached and the
    uncached pass (equal only to float rounding) can rank them differently. These weights give distributions as varied
    as a trained model's (top probabilities 0.2 to 0.8), so the invariants test the samplers, not float ties."""
    with torch.no_grad():
        for w in lm.parameters():
            if w.ndim == 2: w.normal_(0, 0.3)
    return lm.eval()


@pytest.fixture(scope='module')
def models():
    torch.manual_seed(0)
    return dict(absorbing=spread(BlockDiffusionLM(ModelConfig(**TINY))),
                hybrid=spread(BlockDiffusionLM(ModelConfig(**TINY, subs=False))),
                ar=spread(BlockDiffusionLM(ModelConfig(**{**TINY, 'block_size': 1}))))


def model_for(models, name):
    return models['ar' if name == 'l2r' else 'hybrid' if name in HYBRID else 'absorbing']


class Counter:
    "Counts the forward passes of `lm.net` (and the tokens of each) with a forward hook."
    def __init__(self, lm): self.sizes, self.h = [], lm.net.register_forward_hook(lambda m, a, o: self.sizes.append(a[0].shape[1]))
    def __enter__(self): return self
    def __exit__(self, *a): self.h.remove()
    @property
    def n(self): return len(self.sizes)


# --- 1. honest NFE -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize('name', list(SAMPLERS))
@pytest.mark.parametrize('budget', [None, 'tight'])
def test_reported_nfe_is_counted_forwards_and_within_budget(models, name, budget):
    lm = model_for(models, name)
    nfe_budget = None if budget is None else (10 if name == 'l2r' else 9)  # l2r: one pass per token, 10 tokens here
    with Counter(lm) as c:
        r = sample(lm, PROMPT, length=16, sampler=name, generator=gen(1), nfe_budget=nfe_budget)
    assert r.nfe == c.n > 0, (r.nfe, c.n)
    if nfe_budget is not None: assert r.nfe <= nfe_budget
    assert r.steps >= r.nfe  # a step costs one pass or reuses the last one


def test_nfe_worked_by_hand():
    # prompt of 6 tokens, length 16, blocks of 4: block 1 has 2 MASKs, blocks 2 and 3 have 4. nfe_budget=9 -> S = 9 // 3 = 3.
    # 'confidence' reveals LLaDA's counts: block 1 [1, 1, 0] -> full after 2 steps (an unmasking rule then stops);
    # blocks 2, 3 [2, 1, 1] -> 3 steps. Every step reveals something, so no pass is reused: 2 + 3 + 3 = 8 passes.
    lm = BlockDiffusionLM(ModelConfig(**TINY)).eval()
    with Counter(lm) as c:
        r = sample(lm, PROMPT, length=16, sampler='confidence', generator=gen(0), nfe_budget=9)
    assert (r.nfe, r.steps, c.n) == (8, 8, 8)
    assert c.sizes == [8, 4, 8, 4, 4, 8, 4, 4]  # the prompt block goes with block 1's first pass; each next block commits the last
    # l2r: 10 tokens to generate, one pass each, each pass one token after the cached prefix (the first: the prompt too)
    ar = BlockDiffusionLM(ModelConfig(**{**TINY, 'block_size': 1})).eval()
    with Counter(ar) as c:
        r = sample(ar, PROMPT, length=16, sampler='l2r', generator=gen(0))
    assert (r.nfe, c.sizes) == (10, [7] + [2] * 9)


@pytest.mark.parametrize('name', GATES)
def test_gate_samplers_refuse_absorbing_models(models, name):
    with pytest.raises(ValueError, match='the gate needs a denoiser trained with hybrid noise'):
        sample(models['absorbing'], PROMPT, length=16, sampler=name, generator=gen())


# --- 2. invariants of every sampler ------------------------------------------------------------------------------

@pytest.mark.parametrize('name', list(SAMPLERS))
def test_invariants(models, name):
    lm = model_for(models, name)
    run = lambda seed=1, **kw: sample(lm, PROMPT, length=16, sampler=name, generator=gen(seed), steps=3, **kw)
    r = run()
    assert r.tokens.shape == (2, 16)
    assert not (r.tokens == MASK).any(), 'no MASK left'
    assert torch.equal(r.tokens[:, :6], PROMPT), 'prompt untouched'
    assert ((r.tokens >= 0) & (r.tokens < MASK)).all()
    assert torch.equal(run().tokens, r.tokens), 'same seed, same tokens'
    assert torch.equal(run(use_cache=False).tokens, r.tokens), 'the uncached reference gives the same tokens'
    assert not torch.equal(run(seed=2).tokens, r.tokens), 'another seed gives other tokens (the generator is used)'
    tr = run(trace=True)
    assert torch.equal(tr.tokens, r.tokens), 'tracing changes nothing'
    assert tr.trace['changed'].shape == (tr.steps, 2, 16) and int(tr.trace['changed'].sum()) == sum(tr.edits_per_step)


@settings(max_examples=40)
@given(name=st.sampled_from(list(SAMPLERS)), data=st.data())
def test_infill_never_changes_known_positions(models, name, data):
    lm = model_for(models, name)
    known = torch.tensor(data.draw(st.lists(st.lists(st.booleans(), min_size=16, max_size=16), min_size=2, max_size=2)))
    if known.all(): known[1, data.draw(st.integers(0, 15))] = False  # something to generate
    vals = torch.tensor(data.draw(st.lists(st.integers(0, MASK - 1), min_size=32, max_size=32))).view(2, 16)
    infill = torch.where(known, vals, MASK)
    steps = data.draw(st.integers(1, 4))
    with Counter(lm) as c:
        r = sample(lm, length=16, sampler=name, generator=gen(data.draw(st.integers(0, 99))), infill=infill, steps=steps)
    assert torch.equal(r.tokens[known], vals[known]), 'a known position changed'
    assert not (r.tokens == MASK).any()
    assert r.nfe == c.n
    assert torch.equal(infill, torch.where(known, vals, MASK)), "the caller's tensor is not written"


class Rogue(DDPMRule):
    "A rule that ignores `free` and writes token 0 everywhere."
    def step(self, st): return torch.zeros_like(st.tokens), None, False


def test_driver_puts_back_known_positions_whatever_the_rule_returns(models, monkeypatch):
    monkeypatch.setitem(S.SAMPLERS, 'rogue', S.SamplerSpec('rogue', Rogue, 'writes everywhere'))
    infill = torch.full((2, 16), MASK); infill[:, [6, 9, 15]] = torch.tensor([7, 8, 9])
    r = sample(models['absorbing'], PROMPT[:, :3], length=16, sampler='rogue', generator=gen(), infill=infill)
    want = torch.zeros(2, 16, dtype=torch.long); want[:, :3] = PROMPT[:, :3]; want[:, [6, 9, 15]] = torch.tensor([7, 8, 9])
    assert torch.equal(r.tokens, want)
    # editable: a given token may be rewritten where it is editable (repair), and only there
    editable = infill == MASK; editable[:, :3] = False; editable[:, 9] = True  # the prompt is not editable
    r = sample(models['absorbing'], PROMPT[:, :3], length=16, sampler='rogue', generator=gen(), infill=infill, editable=editable)
    want[:, 9] = 0
    assert torch.equal(r.tokens, want)


def test_the_prompt_is_held_fixed_even_where_editable_says_otherwise(models, monkeypatch):
    "`prompt_ids` is 'held fixed': an `editable` that covers it is refused, or the prompt still comes back unchanged."
    monkeypatch.setitem(S.SAMPLERS, 'rogue', S.SamplerSpec('rogue', Rogue, 'writes everywhere'))
    try: r = sample(models['absorbing'], PROMPT[:, :3], length=16, sampler='rogue', generator=gen(), editable=torch.ones(2, 16, dtype=torch.bool))
    except ValueError as e: assert 'prompt' in str(e) and 'editable' in str(e), str(e)
    else: assert torch.equal(r.tokens[:, :3], PROMPT[:, :3]), r.tokens


# --- 3. the rules, worked by hand --------------------------------------------------------------------------------

def probs_row(spec: dict, V: int = 32) -> torch.Tensor:
    "Logits (log-probabilities) of a distribution given as {token: probability}; -inf elsewhere."
    row = torch.full((V,), -math.inf)
    for tok, p in spec.items(): row[tok] = math.log(p)
    return row


def stub(lm, table: torch.Tensor):
    "Replace `lm.net.forward`: the logits of absolute position p are `table[p]` whatever the tokens; hidden states 0."
    d = lm.cfg.d_model
    def forward(ids, pos, mask=None, past=None, keep=None, project=True):  # always logits: the engine then uses them
        p = pos if keep is None else pos[keep]
        return Output(table[p].expand(ids.shape[0], -1, -1).clone(), torch.zeros(ids.shape[0], len(p), d), [])
    lm.net.forward = forward  # an instance attribute: nn.Module.__call__ (and its hooks) now run the stub
    return lm


# P has the lowest entropy, Q the highest confidence, R the largest top-1 minus top-2 margin, S is nearly uniform.
P_, Q_, R_ = {5: 0.55, 10: 0.45}, {6: 0.6, **{t: 0.1 for t in range(11, 15)}}, {7: 0.58, **{t: 0.02 for t in range(9, 30)}}
S_ = {8: 0.04, **{t: 0.032 for t in range(31) if t != 8}}
#            confidence  entropy (nats)                            margin
#  P (pos 0)   0.55      -(.55 ln .55 + .45 ln .45) = 0.688        0.10
#  Q (pos 1)   0.60      -(.6 ln .6 + 4 (.1 ln .1)) = 1.228        0.50
#  R (pos 2)   0.58      -(.58 ln .58 + 21 (.02 ln .02)) = 1.959   0.56
#  S (pos 3)   0.04      ~ ln 31 = 3.43                            0.008
ORDERS = {'confidence': [1, 2, 0, 3], 'entropy': [0, 1, 2, 3], 'margin': [2, 1, 0, 3]}


def reveal_order(res):
    return [res.trace['changed'][s, 0].nonzero().flatten().tolist() for s in range(res.steps)]


@pytest.mark.parametrize('score', list(ORDERS))
def test_ordered_rules_reveal_in_hand_order(score):
    lm = stub(BlockDiffusionLM(ModelConfig(**TINY)).eval(), torch.stack([probs_row(d) for d in (P_, Q_, R_, S_)] * 4))
    r = sample(lm, length=4, sampler=score, generator=gen(), steps=4, greedy=True, trace=True)
    assert reveal_order(r) == [[i] for i in ORDERS[score]]
    assert r.tokens.tolist() == [[5, 6, 7, 8]] and (r.nfe, r.steps) == (4, 4)
    # two steps: LLaDA's counts [2, 2]; the first step reveals the two best by the score
    r = sample(lm, length=4, sampler=score, generator=gen(), steps=2, greedy=True, trace=True)
    assert reveal_order(r) == [sorted(ORDERS[score][:2]), sorted(ORDERS[score][2:])]


def test_threshold_reveals_every_confident_token_at_once():
    # top probabilities 0.95, 0.92, 0.97, 0.50 at positions 0..3 (tokens 1..4)
    rows = [probs_row({1: 0.95, 20: 0.05}), probs_row({2: 0.92, 20: 0.08}), probs_row({3: 0.97, 20: 0.03}),
            probs_row({4: 0.5, 20: 0.3, 21: 0.2})]
    lm = stub(BlockDiffusionLM(ModelConfig(**TINY)).eval(), torch.stack(rows * 4))
    run = lambda name, **kw: sample(lm, length=4, sampler=name, generator=gen(), greedy=True, trace=True, **kw)
    r = run('threshold', steps=4, tau=0.9)  # step 0: three >= 0.9 at once; step 1: the last one (ceil(1 / 3) = 1)
    assert reveal_order(r) == [[0, 1, 2], [3]] and r.nfe == 2 and r.tokens.tolist() == [[1, 2, 3, 4]]
    assert run('confidence', steps=4).nfe == 4  # one at a time: the whole budget
    r = run('threshold', steps=4, tau=0.96)  # only 0.97 clears tau; then one per step (ceil(3 / 3), ceil(2 / 2), 1)
    assert reveal_order(r) == [[2], [0], [1], [3]] and r.nfe == 4
    r = run('threshold', steps=2, tau=0.99)  # nothing clears tau, but the budget holds: ceil(4 / 2) = 2, then ceil(2 / 1) = 2
    assert reveal_order(r) == [[0, 2], [1, 3]] and r.nfe == 2
    tau = torch.softmax(rows[1], -1).max().item()  # exactly the confidence of position 1 (0.92 in float32): >= tau counts
    assert reveal_order(run('threshold', steps=4, tau=tau)) == [[0, 1, 2], [3]]


def test_reveal_counts_and_pick_k_by_hand():
    # 7 over 3 steps: 2 each, the remainder 1 at the first step; 2 over 3: 1, 1, 0; 8 over 3: 3, 3, 2; 0: nothing
    assert reveal_counts(torch.tensor([7, 2, 8, 0]), 3).tolist() == [[3, 2, 2], [1, 1, 0], [3, 3, 2], [0, 0, 0]]
    assert reveal_counts(torch.tensor([5]), 1).tolist() == [[5]]
    assert reveal_counts(torch.tensor([3]), 5).tolist() == [[1, 1, 1, 0, 0]]
    sc = torch.tensor([[0.3, 0.7, 0.7, 0.1, 0.7], [-math.inf, 0.2, -math.inf, 0.4, 0.0], [0.5, 0.5, 0.5, 0.5, 0.5]])
    got = pick_k(sc, torch.tensor([2, 5, 0]))
    assert got.tolist() == [[False, True, True, False, False],  # tie of three 0.7: the two leftmost
                            [False, True, False, True, True],  # k larger than the finite scores: -inf never picked
                            [False] * 5]


@settings(max_examples=60)
@given(m=st.integers(0, 200), steps=st.integers(1, 40))
def test_reveal_counts_properties(m, steps):
    k = reveal_counts(torch.tensor([m]), steps)[0].tolist()
    assert sum(k) == m and len(k) == steps
    assert set(k) <= {m // steps, m // steps + 1} and k == sorted(k, reverse=True)


def engine_like(n: int) -> torch.Tensor:
    "Uniform logits [1, n, 32] with MASK forbidden, as the engine hands them to a rule."
    lg = torch.zeros(1, n, 32); lg[..., MASK] = -math.inf
    return lg


def test_ddpm_rule_reveals_one_over_steps_left():
    n = 20000
    st_ = lambda s, S_: StepInput(engine_like(n), torch.zeros(1, n, 4), torch.full((1, n), MASK), torch.ones(1, n, dtype=torch.bool),
                                  s, S_, 0, gen(s), MASK)
    for s, S_, want in [(0, 4, 0.25), (2, 4, 0.5), (0, 2, 0.5)]:
        new, _, _ = DDPMRule().step(st_(s, S_))
        assert abs((new != MASK).float().mean().item() - want) < 0.02, (s, S_)
    new, _, _ = DDPMRule().step(st_(3, 4))
    assert not (new == MASK).any(), 'the last step reveals everything'


def test_remdm_sigma_by_hand():
    cap, rescale, loop = ReMDMRule('cap', eta=0.3), ReMDMRule('rescale', eta=0.3), ReMDMRule('loop', eta=0.1)
    # sigma_max = min(1, (1 - alpha_s) / alpha_t)
    assert cap.sigma(0.25, 0.5, False) == pytest.approx(0.3)  # sigma_max = min(1, 0.5 / 0.25) = 1; cap at eta
    assert cap.sigma(0.6, 0.8, False) == pytest.approx(0.3)  # sigma_max = 0.2 / 0.6 = 1/3 > eta
    assert cap.sigma(0.8, 0.9, False) == pytest.approx(0.125)  # sigma_max = 0.1 / 0.8 = 0.125 < eta
    assert cap.sigma(0.0, 0.25, False) == pytest.approx(0.3)  # alpha_t = 0: sigma_max = 1
    assert cap.sigma(0.75, 1.0, False) == 0.0  # alpha_s = 1: nothing may be remasked
    assert rescale.sigma(0.6, 0.8, False) == pytest.approx(0.1)  # 0.3 * 1/3
    assert rescale.sigma(0.25, 0.5, False) == pytest.approx(0.3)  # 0.3 * 1
    assert rescale.sigma(0.8, 0.9, False) == pytest.approx(0.0375)  # 0.3 * 0.125
    assert loop.sigma(0.9, 0.9, True) == pytest.approx(0.1)  # in the loop: sigma = eta (the reference's remdm-loop)
    assert loop.sigma(0.25, 0.5, False) == 0.0  # outside the loop: plain MDLM


def test_remdm_schedule_by_hand():
    assert remdm_schedule(4, 'cap') == [(0.0, 0.25, False), (0.25, 0.5, False), (0.5, 0.75, False), (0.75, 1.0, False)]
    assert remdm_schedule(4, 'rescale') == remdm_schedule(4, 'cap')
    # S=20, t_on=.55, t_off=.05, alpha_on=.9: t = 1, .95, ..., .6 (9 steps) phase 1 with alpha = (1 - t) * 2;
    # t = .55 ... .1 (10 steps) the loop; t = .05 phase 3: alpha = 1 - t * .1 / .05 = 1 - 2t: .9 -> 1
    got = remdm_schedule(20, 'loop')
    want = [(2 * i * .05, min(.9, 2 * (i + 1) * .05), False) for i in range(9)] + [(.9, .9, True)] * 10 + [(.9, 1.0, False)]
    assert len(got) == 20
    for (a, b, c), (x, y, z) in zip(got, want): assert a == pytest.approx(x) and b == pytest.approx(y) and c == z, (got, want)
    # the paper's parameters change the phases: t_on=.75, t_off=.25, alpha_on=.5, S=4: t = 1 phase 1 (0 -> .5 capped),
    # t = .75 and .5 the loop, t = .25 phase 3: 1 - .25 * .5 / .25 = .5 -> 1
    assert remdm_schedule(4, 'loop', t_on=.75, t_off=.25, alpha_on=.5) == [(0.0, 0.5, False), (.5, .5, True), (.5, .5, True), (0.5, 1.0, False)]


def test_remdm_step_marginals():
    "Half the window written, half MASK: remasked share ~ sigma, revealed share ~ (a_s - (1 - sigma) a_t) / (1 - a_t)."
    n = 20000
    tokens = torch.cat([torch.full((1, n // 2), 5), torch.full((1, n // 2), MASK)], 1)
    st_ = lambda s, S_: StepInput(engine_like(n), torch.zeros(1, n, 4), tokens, torch.ones(1, n, dtype=torch.bool), s, S_, 0, gen(s), MASK)
    def shares(rule, s, S_):
        rule.begin(st_(0, S_)); new, _, _ = rule.step(st_(s, S_))
        return (new[:, :n // 2] == MASK).float().mean().item(), (new[:, n // 2:] != MASK).float().mean().item()
    # cap, S=4, step 1: t=.75 -> s=.5: alpha .25 -> .5; sigma = .3; reveal (.5 - .7 * .25) / .75 = .4333
    remask, reveal = shares(ReMDMRule('cap', eta=0.3, greedy=True), 1, 4)
    assert abs(remask - 0.3) < 0.02 and abs(reveal - 0.325 / 0.75) < 0.02
    # the last step: alpha_s = 1, sigma = 0, reveal probability 1: everything revealed, nothing remasked
    assert shares(ReMDMRule('cap', eta=0.3, greedy=True), 3, 4) == (0.0, 1.0)
    # loop, S=10, alpha_on=.5, t_on=.75, t_off=.05: step 4 (t = .6) holds alpha at .5: sigma = .1, reveal .1 * .5 / .5 = .1
    remask, reveal = shares(ReMDMRule('loop', eta=0.1, t_on=0.75, alpha_on=0.5, greedy=True), 4, 10)
    assert abs(remask - 0.1) < 0.015 and abs(reveal - 0.1) < 0.015
    # loop, step 1 (t = .9, phase 1): alpha (1 - t) * .5 / .25 = .2 -> .4: sigma 0, reveal (.4 - .2) / .8 = .25
    remask, reveal = shares(ReMDMRule('loop', eta=0.1, t_on=0.75, alpha_on=0.5, greedy=True), 1, 10)
    assert remask == 0.0 and abs(reveal - 0.25) < 0.02
    # the last step of a short loop (S=4: t = .25 > t_off, still in the loop) reveals everything and remasks nothing
    assert shares(ReMDMRule('loop', eta=0.1, greedy=True), 3, 4) == (0.0, 1.0)
    # a written position that is not free (prompt, known infill token) is never remasked, even with eta = 1
    free = torch.ones(1, n, dtype=torch.bool); free[:, :n // 4] = False
    st1 = StepInput(engine_like(n), torch.zeros(1, n, 4), tokens, free, 0, 4, 0, gen(), MASK)
    rule = ReMDMRule('cap', eta=1.0); rule.begin(st1); new, _, _ = rule.step(replace(st1, s=1))
    assert (new[:, :n // 4] == 5).all() and (new[:, n // 4:n // 2] == MASK).float().mean() > 0.9


def test_p2_eta_scales_the_log_probability_of_a_committed_token():
    # window [5, M, M, M]; the model gives the committed 5 probability .1 (it prefers 12); candidates 6, 7, 8 with .9, .8, .3.
    # S=3 over 3 MASKs: LLaDA's counts [1, 1, 1], so 2 positions stay masked after step 0 and 4 - 2 = 2 are kept.
    # Scores are log-probabilities: log .9 = -.105, log .8 = -.223, log .3 = -1.204; the committed token eta * log .1 = eta * -2.303.
    logits = torch.stack([probs_row({5: 0.1, 12: 0.9}), probs_row({6: 0.9, 20: 0.1}), probs_row({7: 0.8, 20: 0.2}),
                          probs_row({8: 0.3, **{t: 0.07 for t in range(20, 30)}})])[None]
    st_ = StepInput(logits, torch.zeros(1, 4, 4), torch.tensor([[5, MASK, MASK, MASK]]), torch.ones(1, 4, dtype=torch.bool),
                    0, 3, 0, gen(), MASK)
    def run(eta):
        rule = P2Rule(eta=eta, greedy=True); rule.begin(st_)
        assert rule.left.tolist() == [[2, 1, 0]]
        return rule.step(st_)[0].tolist()
    assert run(1.0) == [[MASK, 6, 7, MASK]]  # -2.303 < -.223: remasked, 6 and 7 written
    assert run(0.0) == [[5, 6, MASK, MASK]]  # eta = 0: a committed token is never remasked
    assert run(0.04) == [[5, 6, MASK, MASK]]  # -.092 > -.105: kept, and it outranks even the best candidate
    assert run(0.05) == [[5, 6, MASK, MASK]]  # -.115: between 6 (-.105) and 7 (-.223): kept, 7 not written
    assert run(0.1) == [[MASK, 6, 7, MASK]]  # -.230 < -.223: remasked
    assert run(3.0) == [[MASK, 6, 7, MASK]]  # larger eta: remasked all the more


def test_dream_scores_the_distribution_it_samples_from():
    # two masked positions, one revealed (S=2). A: (.69, .31, 0, 0); B: (.71, .0967 x 3). Raw entropies .619 (A) and .921 (B):
    # the raw model ranks A first. Under the top-0.7 nucleus A keeps both tokens (entropy .619), B only its top (entropy 0): B first.
    A, B = probs_row({1: .69, 2: .31}), probs_row({1: .71, 2: .0967, 3: .0967, 4: .0966})
    st_ = StepInput(torch.stack([A, B])[None], torch.zeros(1, 2, 4), torch.full((1, 2), MASK), torch.ones(1, 2, dtype=torch.bool),
                    0, 2, 0, gen(), MASK)
    def run(**kw):
        rule = OrderedRule('entropy', top_p=0.7, greedy=True, **kw); rule.begin(st_)
        return rule.step(st_)[0].tolist()
    assert run() == [[MASK, 1]]  # Dream's reference: the nucleus distribution
    assert run(scored='model') == [[1, MASK]]  # the raw softmax
    # margin: A raw .38, nucleus .38; B raw .613, nucleus 1.0: B first either way
    rule = OrderedRule('margin', top_p=0.7, greedy=True); rule.begin(st_)
    assert rule.step(st_)[0].tolist() == [[MASK, 1]]
    q = sampling_probs(torch.stack([A, B]), 0.7, 1.0)
    assert torch.allclose(q[1, 1], torch.tensor(1.0)) and torch.allclose(q[0, 1:3], torch.tensor([.69, .31]), atol=1e-4)


def _revising_lm():
    """A real hybrid TINY net whose logits are shifted: token 9 is forbidden everywhere, except that once the window reaches
    position 12 the net is sure position 5 is token 9 (so whatever was written there is now clearly wrong)."""
    torch.manual_seed(1)
    lm = BlockDiffusionLM(ModelConfig(**TINY, subs=False)).eval()
    real = lm.net.forward
    def forward(ids, pos, mask=None, past=None, keep=None, project=True):
        out = real(ids, pos, mask, past, keep=keep)
        p = pos if keep is None else pos[keep]
        lg = out.logits.clone(); lg[..., 9] = -30.0
        if int(pos[-1]) + 1 == 12: lg[:, p == 5, 9] = 30.0
        return Output(lg, out.hidden, out.kv)
    lm.net.forward = forward
    return lm


def test_gate_revises_an_earlier_block_and_the_engine_reencodes_it(monkeypatch):
    lm = _revising_lm()
    calls, real_call = [], Engine.__call__  # one engine call per step: (tokens before the step, start, end, logits, pass size)
    with Counter(lm) as c:
        def recording(self, x, start, end, frozen):
            n = c.n; out = real_call(self, x, start, end, frozen)
            calls.append((x.clone(), start, end, out.logits.clone(), c.sizes[-1] if c.n > n else None))
            return out
        monkeypatch.setattr(S.Engine, '__call__', recording)
        r = sample(lm, length=12, sampler='gate', generator=gen(0), batch_size=2, steps=4, trace=True,
                   selector=Selector('topk', rho=(1.0, 1.0)))  # every written token of the window is judged
        monkeypatch.undo()
    assert len(calls) == r.steps and r.nfe == c.n
    assert (r.tokens[:, 5] == 9).all(), 'the token of block 1 was revised while block 2 was decoded'
    for row in range(2):
        changed = r.trace['changed'][:, row, 5].nonzero().flatten().tolist()
        assert calls[changed[0]][2] == 8, 'position 5 is first written while block 1 is decoded (window [0, 8))'
        assert calls[changed[-1]][1:3] == (4, 12), 'and revised in the window of blocks 1 and 2'
    # the revision is made at the first step of block 2, whose pass encodes blocks 0..2 (nothing was frozen before it)
    rev = next(i for i, cl in enumerate(calls) if cl[1:3] == (4, 12))
    assert calls[rev][4] == 12 and (calls[rev][0][:, 5] != 9).all() and (calls[rev + 1][0][:, 5] == 9).all()
    # the next pass: block 0 comes from the cache; the whole window [4, 12), the revised token included, is re-encoded
    assert calls[rev + 1][4] == 8
    # after the revision: the cached engine's logits == the uncached engine's == a plain block-causal pass over the prefix
    for x, s, e, logits, _ in calls[rev + 1:]:
        assert (s, e) == (4, 12)
        uncached = real_call(Engine(lm, use_cache=False), x, s, e, s).logits
        plain = lm.net(x[:, :e], torch.arange(e), block_causal_mask(e, 4)).logits[:, s:e]
        assert (logits[..., :MASK] - uncached[..., :MASK]).abs().max() < 1e-4
        assert (logits[..., :MASK] - plain[..., :MASK]).abs().max() < 1e-4


def _settled_lm():
    "A stub whose logits at position p are sure of token p + 1, whatever the tokens: nothing ever needs an edit."
    table = torch.full((16, 32), -5.0); table[torch.arange(16), torch.arange(1, 17)] = 5.0
    return stub(BlockDiffusionLM(ModelConfig(**TINY, subs=False)).eval(), table)


@pytest.mark.parametrize('name', GATES)
def test_gate_stops_a_block_early_when_no_edit_is_accepted(name):
    # length 8 = 2 blocks, budget 12 -> S = 6 steps per block, refine=1: the 4 MASKs are revealed over 5 steps as
    # [1, 1, 1, 1, 0]. Steps 0..3 reveal one each; step 4 reveals nothing and accepts no edit -> the block stops.
    # 5 passes per block, 10 in all, 10 steps.
    lm = _settled_lm()
    with Counter(lm) as c:
        r = sample(lm, length=8, sampler=name, generator=gen(), nfe_budget=12, greedy=True)
    assert r.tokens.tolist() == [list(range(1, 9))]
    assert r.stopped_early and (r.nfe, r.steps, c.n) == (10, 10, 10)
    # early_stop=False: every one of the 12 steps is taken; the 6th step of a block sees the same window as the 5th,
    # so it reuses that pass (no NFE); the budget is never exceeded
    with Counter(lm) as c:
        r = sample(lm, length=8, sampler=name, generator=gen(), nfe_budget=12, greedy=True, early_stop=False)
    assert not r.stopped_early and r.steps == 12 and r.nfe == c.n == 10


@pytest.mark.parametrize('name, opts', [('fixed', {}), ('gate', dict(selector=Selector('topk', rho=(1.0, 1.0))))])
def test_gate_keeps_going_while_edits_are_accepted(name, opts):
    # one block, S=6, refine=1: positions 0..3 are revealed one per step (equal confidence: leftmost first) as tokens
    # 1..4. Once the block has no MASK the stub changes its mind about position 1 (token 20, not 2): step 4 accepts that
    # edit, so the block may not stop there; step 5 (the last) sees the edit settled. 6 passes, no early stop.
    lm = BlockDiffusionLM(ModelConfig(**TINY, subs=False)).eval()
    table = torch.full((4, 32), -5.0); table[torch.arange(4), torch.arange(1, 5)] = 5.0
    full = table.clone(); full[1, 2], full[1, 20] = -5.0, 5.0
    def forward(ids, pos, mask=None, past=None, keep=None, project=True):
        t = full if not (ids == MASK).any() else table
        return Output(t[pos].expand(ids.shape[0], -1, -1).clone(), torch.zeros(ids.shape[0], len(pos), lm.cfg.d_model), [])
    lm.net.forward = forward
    r = sample(lm, length=4, sampler=name, generator=gen(), steps=6, greedy=True, trace=True, **opts)
    assert r.tokens.tolist() == [[1, 20, 3, 4]]
    assert reveal_order(r) == [[0], [1], [2], [3], [1], []]
    assert (r.nfe, r.steps, r.stopped_early) == (6, 6, False)


def test_eos_ends_the_run_after_the_block_where_every_row_wrote_it():
    sure = lambda tok: torch.full((16, 32), -5.0).index_fill_(1, torch.tensor([tok]), 5.0)  # token `tok` at every position
    lm = stub(BlockDiffusionLM(ModelConfig(**TINY)).eval(), sure(2))
    r = sample(lm, torch.tensor([[1], [1]]), length=16, sampler='confidence', generator=gen(), eos_id=2, greedy=True, steps=3)
    assert r.tokens.tolist() == [[1, 2, 2, 2]] * 2 and r.stopped_early and r.nfe == 3  # block 0 only: 3 MASKs, 3 steps
    lm = stub(BlockDiffusionLM(ModelConfig(**TINY)).eval(), sure(7))
    r = sample(lm, torch.tensor([[2]]), length=8, sampler='confidence', generator=gen(), eos_id=2, greedy=True, steps=3)
    assert r.tokens.tolist() == [[2] + [7] * 7] and not r.stopped_early  # an EOS in the prompt ends nothing


def test_eos_reports_the_passes_it_saved():
    # 4 blocks of 4, 3 steps each: EOS everywhere after block 0 ends the run there; blocks 1-3 (9 passes) never run
    sure = torch.full((16, 32), -5.0).index_fill_(1, torch.tensor([2]), 5.0)
    lm = stub(BlockDiffusionLM(ModelConfig(**TINY)).eval(), sure)
    kw = dict(length=16, sampler='confidence', greedy=True, steps=3)
    ended = sample(lm, torch.tensor([[1], [1]]), generator=gen(), eos_id=2, **kw)
    whole = sample(lm, torch.tensor([[1], [1]]), generator=gen(), **kw)
    assert (ended.nfe, ended.nfe_saved) == (3, 9) and whole.nfe == 12 and whole.nfe_saved == 0


def test_stop_strings_cut_each_text_at_the_first():
    from ardm_nb.samplers import cut_at_stop, decode
    from ardm_nb.tasks import get_task, task_tokenizer
    assert cut_at_stop('To be. Or not\nto be', ['\n', '.']) == 'To be'  # the earliest of the two
    assert cut_at_stop('no stop here', ['!', '']) == 'no stop here'  # none occurs; an empty string is ignored
    tok = task_tokenizer(get_task('shakespeare-char', seq_len=16))
    ids = torch.tensor([tok('To be. Or not')['input_ids'], tok('Ay, me! Alas.')['input_ids']])
    assert decode(tok, ids) == ['To be. Or not', 'Ay, me! Alas.']
    assert decode(tok, ids, stop=['.', '!']) == ['To be', 'Ay, me']


# --- 4. the engine -----------------------------------------------------------------------------------------------

def _plain(lm, x, a, b, end):
    "Logits of positions [a, b) from a plain block-causal pass over x[:, :end] (no cache)."
    return lm.net(x[:, :end], torch.arange(end), block_causal_mask(end, lm.cfg.block_size)).logits[:, a:b]


def test_engine_cached_logits_equal_a_plain_block_causal_pass(models):
    lm, g = models['hybrid'], gen(5)
    x = torch.randint(0, MASK + 1, (2, 16), generator=g)
    eng = Engine(lm)
    for b in range(4):  # window of two blocks, the earlier one revised between passes (as the gate does)
        start, end = max(0, b - 1) * 4, (b + 1) * 4
        for _ in range(3):
            out = eng(x, start, end, frozen=start)
            assert (out.logits[..., :MASK] - _plain(lm, x, start, end, end)[..., :MASK]).abs().max() < 1e-4, (b, start)
            assert (out.logits[..., MASK] == -math.inf).all(), 'MASK is never an output'
            x[:, start + int(torch.randint(0, end - start, (), generator=g))] = int(torch.randint(0, MASK, (), generator=g))
    for b in range(4):  # a window of one block on a fresh engine (BD3)
        eng = Engine(lm) if b == 0 else eng
        out = eng(x, 4 * b, 4 * b + 4, frozen=4 * b)
        assert (out.logits[..., :MASK] - _plain(lm, x, 4 * b, 4 * b + 4, 4 * b + 4)[..., :MASK]).abs().max() < 1e-4


def test_engine_reuses_a_pass_when_the_window_did_not_change(models):
    lm = models['absorbing']
    x = torch.full((1, 16), MASK); x[0, :4] = torch.tensor([1, 2, 3, 4])
    eng = Engine(lm)
    with Counter(lm) as c:
        a = eng(x, 4, 8, frozen=4); b = eng(x, 4, 8, frozen=4)
        assert b is a and eng.nfe == c.n == 1
        x[0, 12] = 7; eng(x, 4, 8, frozen=4)  # a token after the window: invisible to it, still no pass
        assert eng.nfe == c.n == 1
        x[0, 5] = 7; eng(x, 4, 8, frozen=4)  # a token inside the window: a new pass
        assert eng.nfe == c.n == 2
        eng(x, 4, 12, frozen=4)  # another window, same tokens: a new pass
        assert eng.nfe == c.n == 3
    with pytest.raises(ValueError, match=r'window \[2, 8\) must be whole blocks of 4'):
        eng(x, 2, 8, frozen=2)


def test_engine_slides_past_max_len(models):
    # max_len 16, blocks of 4: once a window ends past base + 16, base jumps to end - 8 (half the context kept)
    lm, g = models['absorbing'], gen(7)
    x = torch.randint(0, MASK, (2, 48), generator=g)
    eng, bases, outs = Engine(lm), [], []
    with Counter(lm) as c:
        for b in range(12):
            outs.append(eng(x, 4 * b, 4 * b + 4, frozen=4 * b).logits); bases.append(eng.base)
    assert bases == [0, 0, 0, 0, 12, 12, 12, 24, 24, 24, 36, 36]
    for b, (base, out) in enumerate(zip(bases, outs)):  # the logits of a plain pass over the kept context, positions from 0
        end = 4 * b + 4
        ref = lm.net(x[:, base:end], torch.arange(end - base), block_causal_mask(end - base, 4)).logits[:, -4:]
        assert (out[..., :MASK] - ref[..., :MASK]).abs().max() < 1e-4, b
    assert c.sizes == [4] + [8] * 11  # each pass: the window and the block before it (committed, or re-encoded after a slide)


@pytest.mark.parametrize('name', ['bd3', 'confidence', 'threshold', 'remdm', 'p2', 'gate', 'detect', 'wino'])
def test_generation_past_max_len(models, name):
    lm = model_for(models, name)
    with Counter(lm) as c:
        r = sample(lm, PROMPT, length=48, sampler=name, generator=gen(3), steps=2)
    assert r.tokens.shape == (2, 48) and not (r.tokens == MASK).any() and torch.equal(r.tokens[:, :6], PROMPT)
    assert r.nfe == c.n and max(c.sizes) <= lm.cfg.max_len
    assert torch.equal(sample(lm, PROMPT, length=48, sampler=name, generator=gen(3), steps=2, use_cache=False).tokens, r.tokens)


def test_schedule_samplers_refuse_length_past_max_len(models):
    msg = "sampler 'hyperschedule' decodes the whole sequence at once: length=32 must be at most max_len=16"
    with pytest.raises(ValueError, match=msg):
        sample(models['absorbing'], length=32, sampler='hyperschedule', generator=gen())


# --- 5. L2R ------------------------------------------------------------------------------------------------------

def test_greedy_l2r_equals_a_hand_written_loop(models):
    ar = models['ar']
    prompt = torch.tensor([[3, 7, 11], [20, 1, 2]])
    x = prompt.clone()
    for _ in range(9):
        inp = torch.cat([x, torch.full((2, 1), MASK)], 1)
        lo = ar.net(inp, torch.arange(inp.shape[1]), block_causal_mask(inp.shape[1], 1)).logits[:, -1]
        lo[:, MASK] = -math.inf
        x = torch.cat([x, lo.argmax(-1, keepdim=True)], 1)
    r = sample(ar, prompt, length=12, sampler='l2r', generator=gen(), greedy=True)
    assert torch.equal(r.tokens, x) and r.nfe == 9


# --- 7. bad input ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('kw, msg', [
    (dict(sampler='beam'), "unknown sampler 'beam'; choose one of: l2r, bd3, mdlm"),
    (dict(sampler='confidence', tau=0.5), "sampler 'confidence' takes no option 'tau'; its options:"),
    (dict(sampler='bd3', eta=0.5), "sampler 'bd3' takes no option 'eta'"),
    (dict(sampler='remdm', strategy='sometimes'), "strategy='sometimes' must be one of cap, rescale, loop"),
    (dict(sampler='confidence', score='loudness'), "score='loudness' must be one of random, confidence, entropy, margin"),
    (dict(length=18), 'length=18 must be a multiple of block_size=4'),
    (dict(nfe_budget=3), 'nfe_budget=3 is below one pass per block (4 blocks to generate)'),
    (dict(infill=torch.full((2, 12), MASK)), 'infill must be [B, length=16], got (2, 12)'),
    (dict(infill=torch.full((16,), MASK)), 'infill must have shape'),
    (dict(infill=torch.zeros(1, 16, dtype=torch.long)), 'nothing to generate: every position is given'),
    (dict(sampler='l2r'), "sampler 'l2r' needs a block-size-1 (AR) model; this one has block_size=4"),
    (dict(prompt_ids=torch.arange(16)[None], length=32), 'no room to generate'),
    (dict(prompt_ids=torch.tensor([[1, 40]])), 'prompt_ids contains ids in [1, 40], outside the vocabulary [0, 31]'),
    (dict(editable=torch.ones(1, 12, dtype=torch.bool)), 'editable must be a bool tensor of shape (1, 16), got torch.bool (1, 12)'),
    (dict(editable=torch.ones(1, 16, dtype=torch.long)), 'editable must be a bool tensor of shape (1, 16), got torch.int64 (1, 16)'),
    (dict(editable=torch.arange(16)[None] < 8), 'every MASK position must be editable'),
])
def test_bad_input(models, kw, msg):
    kw = dict(dict(length=16, generator=gen()), **kw)
    with pytest.raises(ValueError) as e:
        sample(models['absorbing'], kw.pop('prompt_ids', None), **kw)
    assert msg in str(e.value), str(e.value)


@pytest.mark.parametrize('name, kw', [
    ('hyperschedule', dict(length=8, nfe_budget=1)),  # the 'block' schedule needs one step per block: 2 > 1
    ('acs', dict(length=16, nfe_budget=3)),  # 4 blocks > 3
    ('bd3', dict(length=16, nfe_budget=4, steps=4)),  # 4 steps x 4 blocks: up to 16 passes > 4
    ('hyperschedule', dict(length=16, nfe_budget=4, steps=4)),
])
def test_a_budget_that_cannot_be_kept_is_refused_before_any_pass(models, name, kw):
    "nfe_budget is 'at most this many passes': either a ValueError naming it up front, or a run that keeps it."
    lm, kw = model_for(models, name), dict(kw)
    with Counter(lm) as c:
        try: r = sample(lm, length=kw.pop('length'), sampler=name, generator=gen(), **kw)
        except ValueError as e:
            assert f"nfe_budget={kw['nfe_budget']}" in str(e) and c.n == 0, (str(e), c.n)
        else: assert r.nfe == c.n <= kw['nfe_budget'], (r.nfe, c.n)


# --- 6. the CLI --------------------------------------------------------------------------------------------------

@pytest.fixture(scope='module')
def cli(tmp_path_factory):
    """Train the tiny hybrid model (on a small local text, so that it takes seconds), then run `ardm sample` in three
    processes side by side: twice with the same seed (and --trace), once with a prompt that is too long."""
    from ardm_nb.train import PRESETS, train
    from ardm_nb.data import shakespeare_works
    tmp = tmp_path_factory.mktemp('cli')
    (tmp / 'sonnets.txt').write_text(shakespeare_works()['sonnets'][:12000])
    cfg = replace(PRESETS['tiny'], noise='eps_hybrid', steps=2, data=str(tmp / 'sonnets.txt'))
    train(cfg, tmp / 'run', progress=False, log=lambda *a: None)
    model = tmp / 'run' / 'model'
    cases = dict(a=['--seed', '1', '--trace', str(tmp / 'a.png'), '--prompt', ''],
                 b=['--seed', '1', '--trace', str(tmp / 'b.png'), '--prompt', ''],
                 long=['--prompt', 'the cat sat on the mat ' * 20])
    procs = {k: subprocess.Popen([BIN / 'ardm', 'sample', '--model', str(model), '--sampler', 'bd3', *v], env=ENV,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for k, v in cases.items()}
    out = {}
    for k, p in procs.items(): o, e = p.communicate(); out[k] = (p.returncode, o, e)
    return str(model), tmp, out


def run_main(argv, capsys):
    "`ardm` in this process: (exit code, stdout, stderr)."
    from ardm_nb.cli import main
    code = main(argv); cap = capsys.readouterr()
    nl = lambda t: t.replace('\r\n', '\n').replace('\r', '\n')  # as a text-mode pipe reads it (universal newlines): a sample may hold a '\r'
    return code, nl(cap.out), nl(cap.err)


def test_cli_same_seed_same_output_other_seed_differs(cli, capsys):
    model, _, out = cli
    for k in 'ab': assert out[k][0] == 0 and 'Traceback' not in out[k][2], out[k][2]
    assert out['a'][1] == out['b'][1], 'same --seed, same text (two processes)'
    head, text = out['a'][1].split('\n', 1)
    assert head == '--- sample 0 ---' and text.strip(), out['a'][1]  # unconditional (empty prompt): text all the same
    assert 'bd3: ' in out['a'][2] and ' NFE' in out['a'][2]
    base = ['sample', '--model', model, '--sampler', 'bd3', '--prompt', '']
    assert run_main(base + ['--seed', '1'], capsys)[:2] == (0, out['a'][1]), 'this process too (no --trace, one thread)'
    code, other, _ = run_main(base + ['--seed', '2'], capsys)
    assert code == 0 and other.startswith('--- sample 0 ---\n') and other != out['a'][1], 'another seed, another text'


def test_cli_empty_prompt_and_trace_png(cli):
    _, tmp, out = cli
    for f in ('a.png', 'b.png'):
        assert (tmp / f).read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    assert 'trace of p over position x step' in out['a'][2]


def test_cli_prompt_too_long(cli):
    code, stdout, stderr = cli[2]['long']
    assert code == 2 and 'Traceback' not in stderr and not stdout, stderr
    # seq_len 32, blocks of 4: a prompt may have at most 32 - 4 = 28 tokens (with BOS)
    assert 'ardm sample: error: the prompt is' in stderr and 'so a prompt may have at most 28' in stderr, stderr


def test_cli_unknown_sampler(capsys):
    from ardm_nb.cli import main
    with pytest.raises(SystemExit) as e:  # argparse refuses it before any model is read
        main(['sample', '--model', 'no/such/model', '--sampler', 'beam'])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "invalid choice: 'beam'" in err and 'Traceback' not in err, err
    assert all(k in err.split('invalid choice', 1)[1] for k in SAMPLERS), 'the message lists every choice'


@pytest.mark.parametrize('args', [['--nfe', '8', '--steps', '4'], ['--sampler', 'hyperschedule', '--nfe', '3']])
def test_cli_budget_it_cannot_keep_is_an_error_not_a_traceback(cli, capsys, args):
    # 8 blocks to generate: 4 steps each is up to 32 passes, not 8; the 'block' hyperschedule needs 8 passes, not 3
    code, stdout, stderr = run_main(['sample', '--model', cli[0], *args], capsys)  # an exception here is a traceback
    assert code == 0 or code == 2 and 'ardm sample: error: ' in stderr and 'nfe' in stderr, (code, stderr)


def test_cli_stop_cuts_every_sample(cli, capsys):
    model = cli[0]
    base = ['sample', '--model', model, '--sampler', 'bd3', '--prompt', '', '--seed', '1']
    code, full, _ = run_main(base, capsys)
    text = full.split('\n', 1)[1].rstrip('\n')
    stop = next(ch for ch in text[1:] if not ch.isspace())  # a character the sample holds after its start
    code2, cut, _ = run_main(base + ['--stop', stop, '--stop', 'a stop string that never occurs'], capsys)
    assert code == code2 == 0
    assert cut.split('\n', 1)[1].rstrip('\n') == text[:text.index(stop)]


def test_cli_nfe_below_one_pass_per_block(cli, capsys):
    # default length = the context, 32 tokens = 8 blocks of 4; the prompt (BOS) sits in block 0: 8 blocks to generate
    code, stdout, stderr = run_main(['sample', '--model', cli[0], '--nfe', '3'], capsys)
    assert code == 2 and not stdout, stderr
    assert 'ardm sample: error: --nfe 3 is below one pass per block (8 blocks to generate)' in stderr, stderr


# --- detect and wino, end to end on stub models -----------------------------------------------------------------

def test_detect_repairs_the_lowest_probability_tokens_in_one_pass():
    # repair: a given text of 8 tokens (two blocks of 4), all editable; the model is sure position p holds token p + 1 and gives
    # the written token .1, except the wrong tokens at positions 1, 2 and 5 (20, 21, 22), which get .05, .3 and .08.
    table = torch.stack([probs_row({p + 1: 0.9, 30 - p: 0.1}) for p in range(8)])
    table[1] = probs_row({2: 0.95, 20: 0.05}); table[2] = probs_row({3: 0.7, 21: 0.3}); table[5] = probs_row({6: 0.92, 22: 0.08})
    lm = stub(BlockDiffusionLM(ModelConfig(**TINY, subs=False)).eval(), table)
    text = torch.tensor([[1, 20, 21, 4, 5, 22, 7, 8]])
    kw = dict(length=8, sampler='detect', generator=gen(), infill=text, editable=torch.ones(1, 8, dtype=torch.bool), steps=1)
    # rho = .125: k = 1 per pass. Block 0 (window 0..3): the lowest q among the doubted is position 1 (.05). Block 1 (window
    # 0..7): position 5 (.08) beats position 2 (.3). One pass per block.
    r = sample(lm, rho=0.125, **kw)
    assert r.tokens.tolist() == [[1, 2, 21, 4, 5, 6, 7, 8]] and r.nfe == 2
    r = sample(lm, tau=0.5, **kw)  # every doubted token with q < .5: 1 and 2 in the first pass, 5 in the second
    assert r.tokens.tolist() == [[1, 2, 3, 4, 5, 6, 7, 8]] and r.nfe == 2
    # remask: the doubted tokens go back to MASK at a block's first pass and are decoded afresh at its second
    r = sample(lm, tau=0.5, action='remask', **{**kw, 'steps': 2}, greedy=True, trace=True)
    assert r.tokens.tolist() == [[1, 2, 3, 4, 5, 6, 7, 8]] and r.nfe == 4
    changed = [r.trace['changed'][s, 0].nonzero().flatten().tolist() for s in range(r.steps)]
    assert changed == [[1, 2], [1, 2], [5], [5]]  # remasked, revealed; remasked, revealed


def test_wino_drafts_wide_and_remasks_what_fails_verification():
    # a block of 4 MASKs: confidences .95 (pos 0), .8 (1), .7 (2), .3 (3). With tau_draft .6 step 0 drafts 0, 1, 2 (three > .6).
    # The model's probability of each written token is the same table: pos 1's token 2 has .8 < tau_verify .9, pos 2's .7:
    # at step 1 (one draft: 3 is the only MASK), no remask (only a wide draft verifies); so tau_verify acts when two are drafted.
    table = torch.stack([probs_row({1: .95, 20: .05}), probs_row({2: .8, 21: .2}), probs_row({3: .7, 22: .3}),
                         probs_row({4: .3, **{t: .07 for t in range(23, 33) if t < 31}})])
    lm = stub(BlockDiffusionLM(ModelConfig(**TINY, subs=False)).eval(), table)
    r = sample(lm, length=4, sampler='wino', generator=gen(), steps=4, greedy=True, trace=True)
    ch = [r.trace['changed'][s, 0].nonzero().flatten().tolist() for s in range(r.steps)]
    assert ch == [[0, 1, 2], [3]] and r.nfe == 2 and r.tokens.tolist() == [[1, 2, 3, 4]]
    # tau_draft .2: all four drafted at step 0 (k = 4 > 1) -- nothing written before, nothing verified; the block is done
    r = sample(lm, length=4, sampler='wino', generator=gen(), steps=4, greedy=True, tau_draft=0.2)
    assert r.nfe == 1
    # two steps of two drafts each (budget: ceil(4 / 2) = 2 at step 0 with tau_draft .99): step 1 drafts 2 and 3 and verifies
    # 0 (.95, passes) and 1 (.8 < .9, fails): remasked ... but step 1 is the last step, which remasks nothing
    r = sample(lm, length=4, sampler='wino', generator=gen(), steps=2, greedy=True, tau_draft=0.99, trace=True)
    assert r.tokens.tolist() == [[1, 2, 3, 4]] and r.nfe == 2
    # three steps: step 0 drafts 2 (budget ceil(4/3) = 2: 0 and 1), step 1 drafts 2 and 3 (ceil(2/2) = 1, but .7 > .6 and
    # .3 not: k = 1 -> pos 2 only); one draft: no verify; step 2 drafts 3
    r = sample(lm, length=4, sampler='wino', generator=gen(), steps=3, greedy=True, tau_draft=0.99, trace=True)
    ch = [r.trace['changed'][s, 0].nonzero().flatten().tolist() for s in range(r.steps)]
    assert ch == [[0, 1], [2], [3]]


# --- gate options: the written token's log q, remask, guards, acceptance, calibrated selection -------------------

GATE_VARIANTS = [dict(gate=dict(logq=True)), dict(selector=dict(method='calibrated')), dict(action='remask'),
                 dict(guards=False), dict(accept=False), dict(refine=0), dict(gate=dict(logq=True, use_prior=False), action='remask')]


@pytest.mark.parametrize('opts', GATE_VARIANTS, ids=lambda o: json_id(o))
def test_gate_variants_keep_the_invariants(models, opts):
    lm = models['hybrid']
    run = lambda seed=1, **kw: sample(lm, PROMPT, length=16, sampler='gate', generator=gen(seed), steps=3, **opts, **kw)
    with Counter(lm) as c: r = run()
    assert r.nfe == c.n and not (r.tokens == MASK).any() and torch.equal(r.tokens[:, :6], PROMPT)
    assert torch.equal(run().tokens, r.tokens) and torch.equal(run(use_cache=False).tokens, r.tokens)
    assert sample(lm, PROMPT, length=16, sampler='gate', generator=gen(1), nfe_budget=9, **opts).nfe <= 9


def json_id(o): return ','.join(f'{k}={v}' for k, v in o.items())


def _changing_mind(full_row1: torch.Tensor):
    "One block of 4; the stub is sure of tokens 1..4 until positions 2 and 3 are written; then row 1 becomes `full_row1`."
    lm = BlockDiffusionLM(ModelConfig(**TINY, subs=False)).eval()
    table = torch.full((4, 32), -5.0); table[torch.arange(4), torch.arange(1, 5)] = 5.0
    full = table.clone(); full[1] = full_row1
    def forward(ids, pos, mask=None, past=None, keep=None, project=True):
        t = table if (ids[:, 2:4] == MASK).any() else full
        return Output(t[pos].expand(ids.shape[0], -1, -1).clone(), torch.zeros(ids.shape[0], len(pos), lm.cfg.d_model), [])
    lm.net.forward = forward
    return lm


def test_gate_remask_decodes_the_doubted_token_afresh():
    # S=6, refine=1: positions 0..3 revealed one per step as 1..4; at step 4 the stub wants 20 at position 1.
    row = torch.full((32,), -5.0); row[20] = 5.0
    kw = dict(length=4, sampler='gate', generator=gen(), steps=6, greedy=True, trace=True, selector=dict(rho=(1.0, 1.0)))
    r = sample(_changing_mind(row), **kw)  # replace: the edit is written in place at step 4
    assert r.tokens.tolist() == [[1, 20, 3, 4]] and reveal_order(r) == [[0], [1], [2], [3], [1], []]
    r = sample(_changing_mind(row), action='remask', **kw)  # remask: MASK at step 4, decoded (as 20) at step 5
    assert r.tokens.tolist() == [[1, 20, 3, 4]] and reveal_order(r) == [[0], [1], [2], [3], [1], [1]]
    assert r.trace['changed'][4, 0, 1] and r.nfe == 6


def test_gate_guards_and_acceptance_switch_off():
    kw = dict(length=4, sampler='gate', generator=gen(), steps=6, greedy=True, selector=dict(rho=(1.0, 1.0)))
    # the stub wants position 1 to copy its left neighbour (token 1): the neighbour guard refuses, the top-2 fallback's
    # runner-up (probability ~ 1e-5) fails the no-regression test; without guards the copy is written
    row = torch.full((32,), -5.0); row[1] = 5.0
    assert sample(_changing_mind(row), **kw).tokens.tolist() == [[1, 2, 3, 4]]
    assert sample(_changing_mind(row), guards=False, **kw).tokens.tolist() == [[1, 1, 3, 4]]
    # q(20) = .52 against q(2) = .48: the ratio rule needs .52 >= max(1.2 * .48, .48 + .1) = .58 and refuses; accept=False commits
    row = torch.full((32,), -30.0); row[20], row[2] = math.log(.52), math.log(.48)
    assert sample(_changing_mind(row), **kw).tokens.tolist() == [[1, 2, 3, 4]]
    assert sample(_changing_mind(row), accept=False, **kw).tokens.tolist() == [[1, 20, 3, 4]]


def test_gate_tracks_the_written_tokens_log_probability(models):
    # two passes over a window of 4: tokens [3, 4, M, M], then [3, 4, 5, M] after the first step wrote 5 at position 2
    rule = GateRule(gate=dict(logq=True)); rule.prepare(models['hybrid'], 2, 4)
    lg1 = torch.stack([probs_row({3: .5, 9: .5}), probs_row({4: .25, 9: .75}), probs_row({5: .8, 9: .2}), probs_row({9: 1.})])[None]
    lg2 = torch.stack([probs_row({3: .5, 9: .5}), probs_row({4: .5, 9: .5}), probs_row({5: .2, 9: .8}), probs_row({9: 1.})])[None]
    st1 = StepInput(lg1, torch.zeros(1, 4, 4), torch.tensor([[3, 4, MASK, MASK]]), torch.ones(1, 4, dtype=torch.bool), 0, 2, 0, gen(), MASK)
    stats = logit_stats(lg1)
    lq = rule.memory.written_logq(st1, stats, 1.0)
    assert torch.allclose(lq[0, :2], torch.tensor([[math.log(.5), 0.], [math.log(.25), 0.]]))  # given tokens: no change yet
    rule.memory.remember_writes(st1, stats, 1.0, torch.tensor([[3, 4, 5, MASK]]))  # 5 written with q = .8
    st2 = replace(st1, source=lg2, tokens=torch.tensor([[3, 4, 5, MASK]]), s=1)
    lq = rule.memory.written_logq(st2, logit_stats(lg2), 1.0)
    want = torch.tensor([[math.log(.5), 0.], [math.log(.5), math.log(.5) - math.log(.25)], [math.log(.2), math.log(.2) - math.log(.8)]])
    assert torch.allclose(lq[0, :3], want, atol=1e-5)


def test_budget_goes_to_the_blocks_with_work():
    "An infill span in blocks 1-2 of 4: a budget of 8 gives those two blocks 4 passes each, not 8 / 3."
    from ardm_nb.tasks import get_task
    task = get_task('markov-words')
    x = task.sample(3, torch.Generator().manual_seed(0))
    x[:, 20:40] = task.mask_id  # blocks 1 and 2 of 16 tokens
    res = sample(task.oracle(16), infill=x, editable=x == task.mask_id, length=64,
                 sampler='confidence', nfe_budget=8, generator=torch.Generator().manual_seed(0))
    assert res.nfe == 8 and (res.tokens != task.mask_id).all()
    with pytest.raises(ValueError, match=r'nfe_budget=1 is below one pass per block \(2 blocks'):
        sample(task.oracle(16), infill=x, editable=x == task.mask_id, length=64,
               sampler='confidence', nfe_budget=1, generator=torch.Generator())
