"""Property tests of the noisy-OR fusion, the selection rules and budgets, and the gate module
end to end."""

import math

import pytest
import torch
from hypothesis import example, given, settings, strategies as st

from ardm_nb.gate import (
    GateConfig,
    OverwriteGate,
    Selector,
    budget,
    editable_tail,
    linear_schedule,
    noisy_or,
    select_bernoulli,
    select_calibrated,
    select_threshold,
    select_topk,
)
from ardm_nb.schedules import maturity_prior

FAST = settings(max_examples=100, deadline=None)

prob = st.floats(0.0, 1.0, width=32)
probs = st.lists(prob, min_size=1, max_size=16)


def _t(x):
    return torch.tensor(x, dtype=torch.float32)


# --- noisy-OR
# -------------------------------------------------------------------------------------------------


def test_noisy_or_worked_examples():
    # 1 - (1 - u)(1 - r): (.5, .5) -> .75; (.2, .5) -> .6; (0, r) -> r; (u, 1) -> 1
    torch.testing.assert_close(
        noisy_or(_t([0.5, 0.2, 0.0, 0.25]), _t([0.5, 0.5, 0.375, 1.0])), _t([0.75, 0.6, 0.375, 1.0])
    )
    # r broadcasts over a batch of u
    torch.testing.assert_close(
        noisy_or(torch.zeros(2, 3), _t([0.1, 0.2, 0.3])), _t([[0.1, 0.2, 0.3]] * 2)
    )


@FAST
@given(u=probs, data=st.data())
def test_noisy_or_identities(u, data):
    u = _t(u)
    r = _t(data.draw(st.lists(prob, min_size=len(u), max_size=len(u))))
    assert torch.equal(noisy_or(torch.zeros_like(r), r), r), 'p == r when u == 0'
    assert torch.equal(noisy_or(u, torch.zeros_like(u)), u), 'p == u when r == 0'


@FAST
@given(u=probs, data=st.data())
def test_noisy_or_in_unit_interval(u, data):
    u = _t(u)
    r = _t(data.draw(st.lists(prob, min_size=len(u), max_size=len(u))))
    p = noisy_or(u, r)
    assert (p >= 0).all() and (p <= 1).all(), p


@FAST
@given(u=probs, data=st.data())
def test_noisy_or_at_least_max_up_to_rounding(u, data):
    # the exact property is below (it fails by one float32 ulp); this one still catches a wrong
    # formula
    u = _t(u)
    r = _t(data.draw(st.lists(prob, min_size=len(u), max_size=len(u))))
    assert (noisy_or(u, r) >= torch.maximum(u, r) - 1.2e-7).all()


@FAST
@example(u=[1.0], r=[0.3])
@given(u=probs, r=probs)
def test_noisy_or_at_least_max(u, r):
    k = min(len(u), len(r))
    u, r = _t(u[:k]), _t(r[:k])
    p = noisy_or(u, r)
    assert (p >= torch.maximum(u, r)).all(), (u, r, p)


@FAST
@given(pairs=st.lists(st.tuples(prob, prob, prob), min_size=1, max_size=16))
def test_noisy_or_monotone_up_to_rounding(pairs):
    a, b, r = (_t(list(x)) for x in zip(*pairs))
    lo, hi = torch.minimum(a, b), torch.maximum(a, b)
    assert (noisy_or(lo, r) <= noisy_or(hi, r) + 1.2e-7).all()
    assert (noisy_or(r, lo) <= noisy_or(r, hi) + 1.2e-7).all()


@FAST
@example(pairs=[(0.455627977848053, 0.45562800765037537, 0.3779117465019226)])
@given(pairs=st.lists(st.tuples(prob, prob, prob), min_size=1, max_size=16))
def test_noisy_or_monotone(pairs):
    a, b, r = (_t(list(x)) for x in zip(*pairs))
    lo, hi = torch.minimum(a, b), torch.maximum(a, b)
    assert (noisy_or(lo, r) <= noisy_or(hi, r)).all(), 'u1 <= u2 must give p(u1, r) <= p(u2, r)'
    assert (noisy_or(r, lo) <= noisy_or(r, hi)).all(), 'r1 <= r2 must give p(u, r1) <= p(u, r2)'


# --- budgets and schedules
# --------------------------------------------------------------------------------------


def test_budget_worked_examples():
    assert budget(0.1, 30) == 3  # ceil(3), not 4 from 0.1's binary rounding
    assert budget(0.5, 7) == 4
    assert budget(1.0, 5) == 5
    assert budget(0.01, 5) == 1  # at least one position
    assert budget(0.34, 3) == 2
    assert linear_schedule(1, 5, 0.5, 0.1) == 0.5 and linear_schedule(
        3, 5, 0.5, 0.1
    ) == pytest.approx(0.3)
    assert linear_schedule(1, 1, 0.5, 0.1) == 0.5


def test_editable_tail_worked_examples():
    assert editable_tail(5, 2).tolist() == [False, False, False, True, True]
    assert (
        editable_tail(3, 0).tolist() == [False] * 3 and editable_tail(3, 3).tolist() == [True] * 3
    )


# --- selection
# --------------------------------------------------------------------------------------------------


def test_select_worked_examples():
    p = _t([0.1, 0.9, 0.5, 0.7])
    assert select_topk(p, 2).tolist() == [False, True, False, True]
    assert select_topk(p, 2, torch.tensor([True, False, True, True])).tolist() == [
        False,
        False,
        True,
        True,
    ]
    assert select_topk(p, 9, torch.tensor([True, False, False, False])).tolist() == [
        True,
        False,
        False,
        False,
    ]
    assert select_topk(p, 0).tolist() == [False] * 4
    assert select_threshold(p, 0.5).tolist() == [False, True, True, True]
    assert select_threshold(p, 0.5, torch.tensor([True, True, False, True])).tolist() == [
        False,
        True,
        False,
        True,
    ]


@st.composite
def prob_rows(draw, max_rows=4, max_n=20):
    R, n = draw(st.integers(1, max_rows)), draw(st.integers(1, max_n))
    rows = draw(
        st.lists(
            st.lists(st.one_of(prob, st.sampled_from([0.0, 0.5, 1.0])), min_size=n, max_size=n),
            min_size=R,
            max_size=R,
        )
    )
    return _t(rows)


@FAST
@given(p=prob_rows(), k=st.integers(0, 25), data=st.data())
def test_select_topk_picks_the_k_largest(p, k, data):
    n = p.shape[-1]
    editable = (
        None
        if data.draw(st.booleans())
        else torch.tensor(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    )
    m = select_topk(p, k, editable)
    ed = torch.ones(n, dtype=torch.bool) if editable is None else editable
    assert m.dtype == torch.bool and m.shape == p.shape
    assert (m.sum(-1) == min(k, int(ed.sum()))).all()
    assert not (m & ~ed).any(), 'a position outside the editable set was selected'
    for row, mrow in zip(p, m):
        rest = row[ed & ~mrow]
        if mrow.any() and rest.numel():
            assert row[mrow].min() >= rest.max()


@st.composite
def rows_and_mask(draw, max_n=20):
    p = draw(prob_rows(max_n=max_n))
    return p, torch.tensor(
        draw(st.lists(st.booleans(), min_size=p.shape[-1], max_size=p.shape[-1]))
    )


@FAST
@given(p=prob_rows(), theta=st.floats(0.0, 1.0, exclude_min=True))
def test_select_threshold_is_p_at_least_theta(p, theta):
    assert torch.equal(select_threshold(p, theta), p >= theta)


@FAST
@example(pm=(_t([[0.0]]), torch.tensor([False])), theta=5e-324)
@given(pm=rows_and_mask(), theta=st.floats(0.0, 1.0, exclude_min=True))
def test_select_threshold_never_selects_outside_editable(pm, theta):
    p, editable = pm
    m = select_threshold(p, theta, editable)
    assert not (m & ~editable).any(), (p, editable, theta, m)
    assert torch.equal(m, (p >= theta) & editable)


@FAST
@given(pm=rows_and_mask(), theta=st.floats(1e-6, 1.0))
def test_select_threshold_with_editable_for_ordinary_theta(pm, theta):
    p, editable = pm
    assert torch.equal(select_threshold(p, theta, editable), (p >= theta) & editable)


@FAST
@given(p=prob_rows(), seed=st.integers(0, 2**31 - 1), data=st.data())
def test_select_bernoulli_reproducible_and_respects_certainties(p, seed, data):
    n = p.shape[-1]
    editable = torch.tensor(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    m1 = select_bernoulli(p, torch.Generator().manual_seed(seed), editable)
    m2 = select_bernoulli(p, torch.Generator().manual_seed(seed), editable)
    assert torch.equal(m1, m2), 'the same generator seed must draw the same mask'
    assert not (m1 & ~editable).any() and not (m1 & (p == 0)).any()
    assert (m1 | ~(editable & (p == 1))).all(), 'p = 1 on an editable position is always selected'


topk_rho = st.floats(0.0, 1.0, exclude_min=True)


def _rho_t(t, T, rho):
    "Linear ramp from rho[0] at t = 1 to rho[1] at t = T (rho[0] if T = 1), within their range."
    if T == 1:
        return rho[0]
    if t == T:
        return rho[1]
    return min(max(rho[0] + (rho[1] - rho[0]) * (t - 1) / (T - 1), min(rho)), max(rho))


@FAST
@given(
    p=prob_rows(max_n=30),
    T=st.integers(1, 20),
    data=st.data(),
    rho=st.tuples(st.floats(0.01, 0.99), st.floats(0.01, 0.99)),
)
def test_selector_topk_selects_the_budget(p, T, data, rho):
    t = data.draw(st.integers(1, T))
    n = p.shape[-1]
    m = Selector('topk', rho=rho)(p, t, T)
    k = budget(_rho_t(t, T, rho), n)
    assert (m.sum(-1) == k).all()
    x = _rho_t(t, T, rho) * n  # k is ceil(rho_t n), up to the rounding of rho_t n
    assert k - 1 < x + 1e-6 and x <= k + 1e-6 and 1 <= k <= n


@FAST
@example(n=10, T=7, t_frac=1.0, rho=(0.2, 1.0))
@example(n=10, T=7, t_frac=1.0, rho=(1.0, 1e-20))
@given(
    n=st.integers(1, 30),
    T=st.integers(1, 20),
    t_frac=st.floats(0, 1),
    rho=st.tuples(topk_rho, topk_rho),
)
def test_selector_topk_any_valid_rho(n, T, t_frac, rho):
    t = 1 + round(t_frac * (T - 1))
    m = Selector('topk', rho=rho)(
        torch.rand(2, n, generator=torch.Generator().manual_seed(0)), t, T
    )
    assert (m.sum(-1) == budget(_rho_t(t, T, rho), n)).all()


@FAST
@given(
    p=prob_rows(max_n=30),
    T=st.integers(1, 20),
    data=st.data(),
    rho=st.tuples(st.floats(0.01, 0.99), st.floats(0.01, 0.99)),
)
def test_selector_topk_with_tail(p, T, data, rho):
    n = p.shape[-1]
    t, tail = data.draw(st.integers(1, T)), data.draw(st.integers(0, n))
    m = Selector('topk', rho=rho, tail=tail)(p, t, T)
    assert (m.sum(-1) == min(budget(_rho_t(t, T, rho), n), tail)).all()
    assert not m[..., : n - tail].any()


@FAST
@given(
    p=prob_rows(),
    T=st.integers(1, 20),
    data=st.data(),
    theta=st.tuples(st.floats(0.01, 0.99), st.floats(0.01, 0.99)),
)
def test_selector_threshold_and_bernoulli(p, T, data, theta):
    t = data.draw(st.integers(1, T))
    assert torch.equal(Selector('threshold', theta=theta)(p, t, T), p >= _rho_t(t, T, theta))
    g1, g2 = torch.Generator().manual_seed(7), torch.Generator().manual_seed(7)
    assert torch.equal(Selector('bernoulli')(p, t, T, g1), select_bernoulli(p, g2))


# --- the gate module
# --------------------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)  # builds a module per example: fewer examples
@given(
    kind=st.sampled_from(['linear', 'mlp', 'none']),
    use_prior=st.booleans(),
    T=st.integers(1, 12),
    n=st.integers(1, 10),
    V=st.integers(2, 8),
    seed=st.integers(0, 1000),
    data=st.data(),
)
def test_overwrite_gate_fuses_u_and_the_prior(kind, use_prior, T, n, V, seed, data):
    step = data.draw(st.integers(1, T))
    cfg = GateConfig(T=T, kind=kind, use_prior=use_prior, alpha=1.5, delta=0.25)
    g = torch.Generator().manual_seed(seed)
    logits, prev = torch.randn(2, n, V, generator=g), torch.randn(2, n, V, generator=g)
    out = OverwriteGate(cfg)(logits, None if step == 1 else prev, None, step)
    r = maturity_prior(n, step, T, 1.5, 0.25) if use_prior else torch.zeros(n)
    torch.testing.assert_close(out.r, r)
    if kind == 'none':
        assert torch.equal(out.u, torch.zeros(2, n))
    assert ((out.u >= 0) & (out.u <= 1)).all()
    torch.testing.assert_close(out.p, out.u + r - out.u * r)
    assert out.p.shape == (2, n) and torch.isfinite(out.p).all()


def test_linear_gate_starts_at_its_bias():
    # a fresh linear gate with z-scores of exactly 0 gives u = sigmoid(b0); b0 = -2 -> 0.1192
    from ardm_nb.gate import LinearGate

    gate = LinearGate(0, b0=-2.0)
    phi = torch.zeros(1, 4, 6)
    torch.testing.assert_close(gate(phi), torch.full((1, 4), 1 / (1 + math.exp(2.0))))


# --- the calibrated rule and the log q signals
# --------------------------------------------------------------------


@FAST
@given(p=probs, data=st.data())
def test_calibrated_selection_is_monotone_in_p_and_q(p, data):
    # selected iff q_new - (1 - p) > margin: raising p or q_new can only add positions, a larger
    # margin only remove them
    q = _t(data.draw(st.lists(prob, min_size=len(p), max_size=len(p))))
    p, up = _t(p), data.draw(prob)
    sel = select_calibrated(p, q)
    assert torch.equal(sel, q - (1 - p) > 0)
    assert not (sel & ~select_calibrated(torch.clamp(p + up, max=1.0), q)).any()
    assert not (sel & ~select_calibrated(p, torch.clamp(q + up, max=1.0))).any()
    assert not (select_calibrated(p, q, margin=0.3) & ~sel).any()


def test_selector_calibrated_needs_the_candidates_probability():
    sel = Selector('calibrated', margin=0.1)
    # .7 - .5 > .1; .55 - .5 is not
    assert sel(_t([[0.5, 0.5]]), 1, 4, q_new=_t([[0.7, 0.55]])).tolist() == [[True, False]]
    with pytest.raises(ValueError, match="method='calibrated' needs q_new"):
        sel(_t([[0.5]]), 1, 4)
    with pytest.raises(
        ValueError, match="method='nearest' must be one of bernoulli, threshold, topk, calibrated"
    ):
        Selector('nearest')


def test_logq_gate_reads_five_signals_and_refuses_without_them():
    g = OverwriteGate(GateConfig(T=4, logq=True))
    assert g.u_net.linear.in_features == 8
    # a low or falling log q pushes u up
    assert g.u_net.linear.weight[0, 3:5].tolist() == [-1.0, -1.0]
    with pytest.raises(
        ValueError, match=r'GateConfig\(logq=True\) needs token_logq of shape \(2, 3, 2\)'
    ):
        g(torch.zeros(2, 3, 5), None, None, step=1)
    out = g(torch.zeros(2, 3, 5), None, None, step=1, token_logq=torch.zeros(2, 3, 2))
    assert out.features.shape == (2, 3, 8)
