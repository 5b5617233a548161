"Property tests of the maturity prior, AR-Diffusion's token timesteps and the hyperschedules."

import math

import torch
from hypothesis import given, settings, strategies as st

from ardm_nb.schedules import (
    Hyperschedule,
    ar_diffusion_skip_times,
    ar_diffusion_timesteps,
    maturity_prior,
)

FAST = settings(max_examples=80, deadline=None)


def _sig(x):
    return 1 / (1 + math.exp(-x))


# --- maturity prior
# ---------------------------------------------------------------------------------------------


def test_maturity_prior_worked_example():
    # n = T = 4, alpha = 1, delta = 0.5: tau(i) = i + 0.5 = 0.5, 1.5, 2.5, 3.5
    r1 = torch.tensor([_sig(-0.5), _sig(0.5), _sig(1.5), _sig(2.5)])
    r4 = torch.tensor([_sig(-3.5), _sig(-2.5), _sig(-1.5), _sig(-0.5)])
    torch.testing.assert_close(maturity_prior(4, 1, 4), r1)
    torch.testing.assert_close(maturity_prior(4, 4, 4), r4)
    # alpha = 2, delta = 0, n = 2, T = 4: tau = 0, 2; at t = 2: sigmoid(2 * (-2)), sigmoid(0)
    torch.testing.assert_close(
        maturity_prior(2, 2, 4, alpha=2.0, delta=0.0), torch.tensor([_sig(-4.0), 0.5])
    )


prior_args = dict(
    n=st.integers(1, 40),
    T=st.integers(1, 40),
    alpha=st.floats(1e-3, 1e3),
    delta=st.floats(-5.0, 5.0),
)


@FAST
@given(**prior_args)
def test_maturity_prior_in_unit_interval_and_monotone(n, T, alpha, delta):
    grid = maturity_prior(n, torch.arange(1, T + 1), T, alpha, delta)  # [T, n]
    assert grid.shape == (T, n)
    assert (grid >= 0).all() and (grid <= 1).all()
    assert (grid[:, 1:] >= grid[:, :-1]).all(), (
        'r must not fall along positions (left tokens mature first)'
    )
    assert (grid[1:] <= grid[:-1]).all(), 'r must not rise along steps'
    rows = [maturity_prior(n, t, T, alpha, delta) for t in range(1, T + 1)]  # one step at a time
    for a, b in zip(rows, rows[1:]):
        assert (b <= a).all(), 'r must not rise from step t to t + 1'
    torch.testing.assert_close(torch.stack(rows), grid)  # the tensor-of-steps form agrees


@FAST
@given(
    n=st.integers(2, 40),
    T=st.integers(2, 40),
    alpha=st.floats(0.05, 5.0),
    delta=st.floats(-5.0, 5.0),
)
def test_maturity_prior_strictly_monotone_away_from_saturation(n, T, alpha, delta):
    grid = maturity_prior(n, torch.arange(1, T + 1), T, alpha, delta).double()
    inside = (grid > 1e-2) & (grid < 1 - 1e-2)  # where float32 sigmoid has room to move
    if alpha * T / n >= 1e-2:
        both = inside[:, 1:] & inside[:, :-1]
        assert (grid[:, 1:] > grid[:, :-1])[both].all()
    both = inside[1:] & inside[:-1]
    assert (grid[1:] < grid[:-1])[both].all()


@FAST
@given(**prior_args)
def test_maturity_prior_is_half_exactly_where_tau_meets_t(n, T, alpha, delta):
    # r > 1/2 before the position's maturity step tau(i) and < 1/2 after it (checked where tau - t
    # is not tiny)
    r = maturity_prior(n, torch.arange(1, T + 1), T, alpha, delta).double()
    tau = T / n * (torch.arange(n, dtype=torch.float64) + delta)
    gap = tau[None, :] - torch.arange(1, T + 1, dtype=torch.float64)[:, None]
    clear = (gap.abs() > 1e-4) & (gap.abs() * alpha > 1e-3)  # away from float32 rounding of tau
    assert ((r > 0.5) == (gap > 0))[clear].all()


# --- AR-Diffusion
# -----------------------------------------------------------------------------------------------


def test_ar_diffusion_worked_examples():
    # N = 2, T = 4, anchor (4, 4). t = N: start point (0, 0) -> f(n) = n * 4 / 4 = n
    torch.testing.assert_close(ar_diffusion_timesteps(2, 2, 4), torch.tensor([1.0, 2.0]))
    # t = N + T: all noise
    torch.testing.assert_close(ar_diffusion_timesteps(2, 6, 4), torch.tensor([4.0, 4.0]))
    # t = 0: line below 0, clipped
    torch.testing.assert_close(ar_diffusion_timesteps(2, 0, 4), torch.tensor([0.0, 0.0]))
    torch.testing.assert_close(
        ar_diffusion_skip_times(2, 4, 3), torch.tensor([6.0, 4.0, 2.0, 0.0], dtype=torch.float64)
    )


@FAST
@given(N=st.integers(1, 30), T=st.integers(1, 30), M=st.integers(1, 60))
def test_ar_diffusion_timesteps_left_tokens_run_ahead(N, T, M):
    times = ar_diffusion_skip_times(N, T, M)
    assert times[0] == N + T and times[-1] == 0 and (times[1:] < times[:-1]).all()
    f = ar_diffusion_timesteps(N, times, T)  # [M+1, N]
    assert f.shape == (M + 1, N)
    assert (f >= 0).all() and (f <= T).all()
    assert (f[:, 1:] >= f[:, :-1]).all(), 'a token left of another is never noisier'
    assert (f[1:] <= f[:-1]).all(), 'noise only goes down as sentence time runs backwards'


# --- hyperschedules
# ---------------------------------------------------------------------------------------------


def test_ar_and_block_worked_examples():
    # token i clean after step i+1
    ar = torch.tensor([[1, 1, 1], [0, 1, 1], [0, 0, 1], [0, 0, 0]], dtype=torch.float32)
    assert torch.equal(Hyperschedule.ar(3).levels, ar)
    block = torch.tensor(
        [[1, 1, 1, 1], [0.5, 0.5, 1, 1], [0, 0, 1, 1], [0, 0, 0.5, 0.5], [0, 0, 0, 0]]
    )
    assert torch.equal(Hyperschedule.block(4, 2, 2).levels, block)
    assert torch.equal(
        Hyperschedule.mdlm(2, 4).levels,
        torch.tensor([[1, 1], [0.75, 0.75], [0.5, 0.5], [0.25, 0.25], [0, 0]]),
    )


def _check_levels(h: Hyperschedule):
    lv = h.levels
    assert lv.ndim == 2 and lv.shape[0] == h.steps + 1 and lv.shape[1] == h.n
    assert torch.equal(lv[0], torch.ones(h.n)), f'{h.name}: levels must start at 1'
    assert torch.equal(lv[-1], torch.zeros(h.n)), f'{h.name}: levels must end at 0'
    assert (lv[1:] <= lv[:-1]).all(), f'{h.name}: levels must not rise along steps'
    assert (lv >= 0).all() and (lv <= 1).all()


@FAST
@given(n=st.integers(1, 24), S=st.integers(1, 24))
def test_block_contains_ar_and_mdlm(n, S):
    assert torch.equal(Hyperschedule.block(n, 1, 1).levels, Hyperschedule.ar(n).levels)
    torch.testing.assert_close(Hyperschedule.block(n, n, S).levels, Hyperschedule.mdlm(n, S).levels)
    # and the readable definition of AR: level 1 up to step i, 0 from step i + 1 on
    s, i = torch.arange(n + 1)[:, None], torch.arange(n)[None, :]
    assert torch.equal(Hyperschedule.ar(n).levels, (s <= i).float())


@FAST
@given(
    blocks=st.integers(1, 6),
    S=st.integers(1, 24),
    T=st.integers(1, 24),
    M=st.one_of(st.none(), st.integers(1, 48)),
    divisor=st.integers(1, 8),
    spb=st.integers(1, 6),
)
def test_every_constructor_goes_from_one_to_zero(blocks, S, T, M, divisor, spb):
    n = divisor * blocks  # 1..48, a length the block size divides (drawn, not filtered)
    for h in (
        Hyperschedule.ar(n),
        Hyperschedule.mdlm(n, S),
        Hyperschedule.block(n, divisor, spb),
        Hyperschedule.ar_diffusion(n, T, M),
    ):
        _check_levels(h)
    assert Hyperschedule.block(n, divisor, spb).steps == n // divisor * spb


@FAST
@given(divisor=st.integers(1, 8), blocks=st.integers(1, 6), spb=st.integers(1, 6))
def test_block_moves_one_block_at_a_time(divisor, blocks, spb):
    n = divisor * blocks  # a length the block size divides (drawn, not filtered: no health-check failures)
    h = Hyperschedule.block(n, divisor, spb)
    for s in range(1, h.steps + 1):
        moving = h.moving(s)
        b = (s - 1) // spb  # the block being denoised during step s
        expect = (torch.arange(n) // divisor) == b
        assert torch.equal(moving, expect), (s, moving, expect)
