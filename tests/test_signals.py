"""Property tests of the uncertainty signals (entropy, margin, confidence change), their fused form,
and RunningNorm."""

import io
import math

import pytest
import torch
from hypothesis import example, given, settings, strategies as st

from ardm_nb.signals import (
    MARGIN_CAP,
    RunningNorm,
    Signals,
    confidence_change,
    entropy,
    margin,
    uncertainty_signals,
)
from ardm_strategies import logit_rows, ref_confidence_change, ref_entropy, ref_margin, temperatures

FAST = settings(max_examples=50, deadline=None)


def _n_finite(z):  # [R, V] -> [R] number of finite logits per row
    return torch.isfinite(z).sum(-1)


def _t(rows):  # nested lists -> float32 tensor
    return torch.tensor(rows, dtype=torch.float32)


# --- worked examples
# --------------------------------------------------------------------------------------------


def test_entropy_worked_examples():
    # uniform over 2 -> log 2; one finite entry -> 0; probabilities (1/4, 3/4) -> -(1/4 log 1/4 +
    # 3/4 log 3/4)
    h34 = -(0.25 * math.log(0.25) + 0.75 * math.log(0.75))
    z = _t([[0.0, 0.0], [0.0, float('-inf')], [0.0, math.log(3.0)]])
    torch.testing.assert_close(entropy(z), _t([math.log(2), 0.0, h34]))
    # temperature 2 halves the logits: [0, 2 log 3] / 2 = [0, log 3] -> (1/4, 3/4) again
    torch.testing.assert_close(entropy(_t([[0.0, 2 * math.log(3.0)]]), temperature=2.0), _t([h34]))
    torch.testing.assert_close(uncertainty_signals(z).entropy, _t([math.log(2), 0.0, h34]))


def test_margin_worked_examples():
    z = _t([[3.0, 1.0, 2.0], [5.0, 5.0, 1.0], [1.0, float('-inf'), float('-inf')]])
    torch.testing.assert_close(margin(z), _t([1.0, 0.0, 1e6]))
    torch.testing.assert_close(uncertainty_signals(z).margin, _t([1.0, 0.0, 1e6]))


def test_confidence_change_worked_example():
    # step t-1: logits [log 3, 0] -> q = (3/4, 1/4), argmax 0; step t: [0, 0] -> q = (1/2, 1/2): dl
    # = log(1/2) - log(3/4)
    prev, now = _t([[math.log(3.0), 0.0]]), _t([[0.0, 0.0]])
    expect = _t([math.log(2 / 3)])
    torch.testing.assert_close(confidence_change(now, prev), expect)
    torch.testing.assert_close(uncertainty_signals(now, prev).confidence_change, expect)
    # tracking token 1 instead: log(1/2) - log(1/4) = log 2
    torch.testing.assert_close(
        confidence_change(now, prev, tokens=torch.tensor([1])), _t([math.log(2)])
    )
    torch.testing.assert_close(
        uncertainty_signals(now, prev, tokens=torch.tensor([1])).confidence_change,
        _t([math.log(2)]),
    )


def test_confidence_change_is_zero_without_previous_step():
    z = _t([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    assert torch.equal(uncertainty_signals(z).confidence_change, torch.zeros(2))


def test_signals_keep_leading_shape():
    g = torch.Generator().manual_seed(0)
    z, zp = torch.randn(2, 5, 7, generator=g), torch.randn(2, 5, 7, generator=g)
    s = uncertainty_signals(z, zp)
    assert isinstance(s, Signals)
    assert all(x.shape == (2, 5) and x.dtype == torch.float32 for x in s)


# --- entropy and margin bounds
# ----------------------------------------------------------------------------------


@FAST
@given(z=logit_rows(), temperature=temperatures)
def test_entropy_between_zero_and_log_of_finite_count(z, temperature):
    bound = _n_finite(z).double().log()  # log V over the finite logits
    for H in (entropy(z, temperature), uncertainty_signals(z, temperature=temperature).entropy):
        assert torch.isfinite(H).all()
        assert (H >= 0).all(), H
        assert (H.double() <= bound + 1e-5 * (1 + bound)).all(), (H, bound)


@FAST
@given(z=logit_rows())
def test_entropy_matches_float64_reference(z):
    expect = torch.tensor([ref_entropy(row) for row in z], dtype=torch.float32)
    torch.testing.assert_close(entropy(z), expect, atol=2e-5, rtol=1e-5)


@FAST
@given(z=logit_rows(), temperature=temperatures)
def test_margin_nonnegative_and_finite(z, temperature):
    for M in (margin(z), uncertainty_signals(z, temperature=temperature).margin):
        assert torch.isfinite(M).all()
        assert (M >= 0).all(), M


@FAST
@given(z=logit_rows())
def test_margin_matches_float64_reference(z):
    expect = torch.tensor([ref_margin(row, MARGIN_CAP) for row in z.tolist()], dtype=torch.float64)
    torch.testing.assert_close(margin(z).double(), expect, atol=1e-6, rtol=1e-6)


@FAST
@given(z=logit_rows(), temperature=temperatures)
def test_uncertainty_signals_agree_with_entropy_and_margin(z, temperature):
    s = uncertainty_signals(z, temperature=temperature)
    torch.testing.assert_close(s.entropy, entropy(z, temperature), atol=1e-5, rtol=1e-5)
    # the fused margin may rescale by the temperature: allow float32 rounding relative to the
    # logits' size
    scale = float(z[torch.isfinite(z)].abs().max().clamp_min(1.0))
    torch.testing.assert_close(s.margin, margin(z), atol=1e-6 * scale, rtol=1e-6)


# --- confidence change
# ------------------------------------------------------------------------------------------


@st.composite
def logit_pairs(draw, with_tokens=False):
    "Logits and previous logits of the same shape, and optionally tracked tokens."
    z = draw(logit_rows())
    zp = draw(logit_rows(shape=tuple(z.shape)))
    y = (
        torch.tensor(
            draw(
                st.lists(st.integers(0, z.shape[-1] - 1), min_size=z.shape[0], max_size=z.shape[0])
            )
        )
        if with_tokens
        else None
    )
    return z, zp, y


@FAST
@given(pair=logit_pairs(with_tokens=True), temperature=temperatures, use_tokens=st.booleans())
def test_uncertainty_signals_finite(pair, temperature, use_tokens):
    z, zp, y = pair
    s = uncertainty_signals(z, zp, y if use_tokens else None, temperature=temperature)
    for name, v in zip(Signals._fields, s):
        assert torch.isfinite(v).all(), (name, v)
    assert torch.isfinite(confidence_change(z, zp, y if use_tokens else None, temperature)).all()


@FAST
@given(pair=logit_pairs(with_tokens=True), use_tokens=st.booleans())
def test_confidence_change_matches_float64_reference(pair, use_tokens):
    z, zp, y = pair
    ys = y.tolist() if use_tokens else [None] * z.shape[0]
    expect = torch.tensor(
        [ref_confidence_change(a, b, t) for a, b, t in zip(z, zp, ys)], dtype=torch.float32
    )
    torch.testing.assert_close(
        confidence_change(z, zp, y if use_tokens else None), expect, atol=1e-4, rtol=1e-5
    )


@FAST
@given(pair=logit_pairs(with_tokens=True), temperature=temperatures)
def test_fused_confidence_change_agrees_given_tokens(pair, temperature):
    z, zp, y = pair
    torch.testing.assert_close(
        uncertainty_signals(z, zp, y, temperature=temperature).confidence_change,
        confidence_change(z, zp, y, temperature),
        atol=1e-5,
        rtol=1e-5,
    )


# Regression (fixed): the fused path once tracked the argmax of the *rounded* log-probs of step t-1,
# `confidence_change` the argmax
# of the logits. Two previous logits 1 ulp apart round to the same log-prob, the fused path then
# tracks the first of them
# and its dl differs from the reference by whole nats.
NEAR_TIE_T1 = (_t([[0.0, -5.0, 0.0]]), _t([[0.0, 1e-9, -1.0]]), 1.0)
NEAR_TIE_T3 = (_t([[5.0, 0.0, 0.0]]), _t([[1.0, 1.0000001, 0.0]]), 3.0)


@FAST
@example(pair=NEAR_TIE_T1[:2] + (None,), temperature=NEAR_TIE_T1[2])
@example(pair=NEAR_TIE_T3[:2] + (None,), temperature=NEAR_TIE_T3[2])
@given(pair=logit_pairs(), temperature=temperatures)
def test_fused_confidence_change_agrees_tracking_argmax(pair, temperature):
    z, zp, _ = pair
    torch.testing.assert_close(
        uncertainty_signals(z, zp, temperature=temperature).confidence_change,
        confidence_change(z, zp, temperature=temperature),
        atol=1e-5,
        rtol=1e-5,
    )


@FAST
@given(z=logit_rows(), temperature=temperatures)
def test_unchanged_logits_give_zero_confidence_change(z, temperature):
    assert torch.equal(
        confidence_change(z, z.clone(), temperature=temperature), torch.zeros(z.shape[0])
    )
    assert torch.equal(
        uncertainty_signals(z, z.clone(), temperature=temperature).confidence_change,
        torch.zeros(z.shape[0]),
    )


@FAST
@given(
    pair=logit_pairs(with_tokens=True), temperature=temperatures, rows_per_chunk=st.integers(1, 3)
)
def test_chunking_does_not_change_signals(pair, temperature, rows_per_chunk):
    z, zp, y = pair
    whole = uncertainty_signals(z, zp, y, temperature=temperature)
    chunked = uncertainty_signals(
        z, zp, y, temperature=temperature, chunk_bytes=4 * z.shape[-1] * rows_per_chunk
    )
    for a, b in zip(whole, chunked):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-6)


# --- RunningNorm
# ------------------------------------------------------------------------------------------------

batches = st.integers(1, 6).flatmap(
    lambda F: st.lists(
        st.integers(1, 8).flatmap(
            lambda N: st.lists(
                st.lists(st.floats(-1e3, 1e3, width=32), min_size=F, max_size=F),
                min_size=N,
                max_size=N,
            )
        ),
        min_size=1,
        max_size=5,
    )
)


def test_running_norm_worked_example():
    rn = RunningNorm(1, momentum=0.5)
    z = rn(_t([[1.0], [3.0]]))  # first batch sets mean 2, var 1
    torch.testing.assert_close(z, _t([[-1.0], [1.0]]), atol=1e-5, rtol=0)
    rn(_t([[5.0], [5.0]]))  # EMA of {1, 3} and {5, 5} with weight 1/2: the pooled values 1, 3, 5, 5
    # statistics are kept in float64
    torch.testing.assert_close(rn.mean, torch.tensor([3.5], dtype=torch.float64))
    torch.testing.assert_close(rn.var, torch.tensor([2.75], dtype=torch.float64))
    assert int(rn.count) == 2


@FAST
@given(data=batches, momentum=st.floats(0.01, 1.0), clip=st.floats(0.5, 20.0))
def test_running_norm_state_dict_roundtrip(data, momentum, clip):
    rn = RunningNorm(len(data[0][0]), momentum=momentum, clip=clip)
    for b in data[:-1]:
        rn(_t(b))
    buf = io.BytesIO()
    torch.save(rn.state_dict(), buf)
    buf.seek(0)
    fresh = RunningNorm(len(data[0][0]), momentum=momentum, clip=clip)
    fresh.load_state_dict(torch.load(buf))
    x = _t(data[-1])
    assert torch.equal(rn(x, update=False), fresh(x, update=False))
    # the step count travels too: same next update
    assert torch.equal(rn(x, update=True), fresh(x, update=True))
    assert torch.equal(rn.mean, fresh.mean) and torch.equal(rn.var, fresh.var)


@FAST
@given(data=batches, clip=st.floats(0.01, 20.0), scale=st.sampled_from([1.0, 1e3, 1e6]))
def test_running_norm_clips(data, clip, scale):
    rn = RunningNorm(len(data[0][0]), clip=clip)
    for b in data:
        z = rn(_t(b) * scale)
    assert torch.isfinite(z).all()
    assert (z.abs() <= clip).all()
    # outliers far beyond the running statistics
    far = rn(torch.full((2, len(data[0][0])), 1e30), update=False)
    assert torch.equal(far, torch.full_like(far, clip))
    assert torch.equal(
        rn(-far.new_full(far.shape, 1e30), update=False), torch.full_like(far, -clip)
    )


@FAST
@given(
    c=st.lists(st.integers(-1000, 1000), min_size=1, max_size=4), N=st.sampled_from([1, 2, 4, 8])
)
def test_running_norm_first_constant_batch_gives_zero(c, N):
    # integer constants in batches of 2^k rows: the batch mean is exact, so the z-score must be
    # exactly 0
    z = RunningNorm(len(c))(_t([c] * N))
    assert torch.equal(z, torch.zeros_like(z))


@FAST
@example(c=12345.678, N=3, steps=1, momentum=0.05)
@example(c=-918052.9375, N=4, steps=2, momentum=0.05)
@given(
    c=st.floats(-1e6, 1e6, width=32),
    N=st.integers(1, 50),
    steps=st.integers(1, 5),
    momentum=st.floats(0.01, 1.0),
)
def test_running_norm_constant_inputs_give_zero(c, N, steps, momentum):
    rn, x = RunningNorm(1, momentum=momentum), torch.full((N, 1), c)
    for _ in range(steps):
        z = rn(x)
    assert torch.isfinite(z).all()
    assert torch.equal(z, torch.zeros_like(z)), (z[0].item(), rn.mean.item(), rn.var.item())
