"""The statistics every verdict rests on: simulated coverage, false wins, Holm, the null table, TOST.

Seeded simulations of the crossed random-effects model (3 seeds x 64 problems, as in the studies); each test also
runs the method the package used before (a percentile bootstrap of the per-seed means) and checks it fails the same
bar, so the bar can fail.
"""
import itertools
import math

import numpy as np
import pytest
import torch
from scipy import stats as sps
from statsmodels.stats.multitest import multipletests

from ardm_nb.stats import (CI, REGIMES, beats, best_of, calibration, compare_all, equivalence, holm,
                           mean_ci, mean_squares, min_detectable_effect, null_tables, paired_diff_ci,
                           simulate_scores)


def seed_mean_bootstrap(d, level=0.95):
    "The old method: every resample of the per-seed means, percentile interval."
    means = np.asarray(d).reshape(len(d), -1).mean(1)
    boot = [np.mean(t) for t in itertools.product(means, repeat=len(means))]
    lo, hi = np.quantile(boot, [(1 - level) / 2, (1 + level) / 2])
    return CI(float(means.mean()), float(lo), float(hi), len(means))


@pytest.mark.parametrize('regime', ['problems', 'seeds', 'both'])
def test_coverage_and_false_wins(regime):
    sd = REGIMES[regime]
    null = simulate_scores(1000, 3, 64, sd, delta=0.0, seed=11)
    shifted = simulate_scores(1000, 3, 64, sd, delta=0.3, seed=12)
    new_null, new_shift = calibration(mean_ci, null), calibration(mean_ci, shifted, delta=0.3)
    assert 0.93 <= new_null.coverage <= 0.98
    assert 0.93 <= new_shift.coverage <= 0.98
    assert new_null.false_wins <= 0.035
    old = calibration(seed_mean_bootstrap, null)
    assert not (0.93 <= old.coverage <= 0.98) and old.false_wins > 0.035


def test_inputs_lists_arrays_tensors_agree():
    a = np.random.default_rng(0).normal(size=(3, 64))
    b = a + np.random.default_rng(1).normal(0.1, 0.3, size=(3, 64))
    ref = paired_diff_ci(a, b)
    for conv in (lambda x: x.tolist(), torch.tensor):
        got = paired_diff_ci(conv(a), conv(b))
        assert (got.mean, got.lo, got.hi) == pytest.approx((ref.mean, ref.lo, ref.hi), rel=1e-12)


def test_three_values_never_a_confident_win():
    assert not beats([-0.1, 1, 1], [0, 0, 0]).better  # the old bootstrap: True
    ci = paired_diff_ci([-0.1, 1, 1], [0, 0, 0])
    lo, hi = sps.t.interval(0.95, 2, loc=np.mean([-0.1, 1, 1]), scale=sps.sem([-0.1, 1, 1]))
    assert (ci.lo, ci.hi) == pytest.approx((lo, hi))


def test_mean_squares_by_hand():
    ms = mean_squares(np.array([[1., 2, 3], [3, 4, 8]]))
    assert (ms.seed, ms.problem, ms.residual) == pytest.approx((13.5, 6.5, 1.5))


def test_two_way_interval_by_hand():
    y = np.array([[1., 2, 3], [3, 4, 8]])  # MS_S 13.5, MS_P 6.5, MS_E 1.5 (above)
    v_seed, v_prob = 13.5 / 6, (6.5 - 1.5) / 6
    q = (v_seed * sps.t.ppf(0.975, 1) + v_prob * sps.t.ppf(0.975, 2)) / (v_seed + v_prob)
    half = q * math.sqrt(v_seed + v_prob)
    ci = mean_ci(y)
    assert (ci.lo, ci.hi) == pytest.approx((3.5 - half, 3.5 + half), rel=1e-12)
    assert ci.lo < 0 < ci.hi and ci.p > 0.05  # the interval and the p-value agree


def test_p_value_matches_interval():
    rng = np.random.default_rng(3)
    for _ in range(20):
        y = rng.normal(rng.uniform(0, 0.5), 1, size=(3, 64)) + rng.normal(0, 0.4, size=(3, 1))
        ci = mean_ci(y)
        assert (ci.p < 0.05) == (ci.lo > 0 or ci.hi < 0) or abs(ci.p - 0.05) < 1e-3


def test_holm_against_statsmodels():
    rng = np.random.default_rng(0)
    for m in (1, 2, 5, 21):
        p = rng.uniform(size=m) ** 2
        assert holm(p) == pytest.approx(multipletests(p, method='holm')[1], abs=1e-12)
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    with pytest.raises(ValueError, match=r'\[0, 1\]'): holm([0.2, 1.2])


def test_null_table_marks_a_best_rarely():
    tables = null_tables(200, seed=5)
    marked = np.mean([len(best_of(t).beats) > 0 for t in tables])
    assert marked <= 0.05


def test_real_winner_found():
    rng = np.random.default_rng(2)
    base = rng.normal(size=(1, 64))
    scores = {k: base + shift + 0.2 * rng.normal(size=(3, 64)) for k, shift in
              (('good', 0.5), ('mid', 0.0), ('bad', -0.5))}
    b = best_of(scores)
    assert b.name == 'good' and b.best and sorted(b.beats) == ['bad', 'mid']
    assert best_of(scores, higher_is_better=False).name == 'bad'
    pairs = compare_all(scores)
    assert len(pairs) == 3 and all(p.winner for p in pairs)


def test_equivalence_tost():
    d = np.array([0.02, -0.01, 0.03, 0.0, 0.01])
    e = equivalence(d, np.zeros(5), margin=0.05)
    p_low = sps.ttest_1samp(d + 0.05, 0, alternative='greater').pvalue
    p_high = sps.ttest_1samp(d - 0.05, 0, alternative='less').pvalue
    assert e.p == pytest.approx(max(p_low, p_high)) and e.equivalent
    assert not equivalence(d, np.zeros(5), margin=0.01).equivalent
    with pytest.raises(ValueError, match='margin'): equivalence(d, d, margin=0)


def test_min_detectable_effect_has_the_power_it_claims():
    sd = REGIMES['problems']
    designs = simulate_scores(200, 3, 64, sd, seed=7)
    mde = np.median([min_detectable_effect(d, np.zeros_like(d)) for d in designs])
    shifted = simulate_scores(600, 3, 64, sd, delta=mde, seed=8)
    power = np.mean([mean_ci(x).lo > 0 for x in shifted])
    assert 0.7 <= power <= 0.9  # about 0.8
    d = np.array([0.02, -0.01, 0.03, 0.0, 0.01])
    by_hand = (sps.t.ppf(0.975, 4) + sps.t.ppf(0.8, 4)) * sps.sem(d)
    assert min_detectable_effect(d, np.zeros(5)) == pytest.approx(by_hand)


def test_bad_input():
    with pytest.raises(ValueError, match='same shape'): paired_diff_ci([[1, 2]], [[1, 2, 3]])
    with pytest.raises(ValueError, match='finite'): mean_ci([1.0, math.inf])
    with pytest.raises(ValueError, match='level'): mean_ci([1.0, 2.0], level=1.0)


def test_paired_shift_detected_and_equal_not():
    g = torch.Generator().manual_seed(0)
    b = torch.randn(8, generator=g)
    a = b + 0.5 + 0.05 * torch.randn(8, generator=g)
    assert beats(a, b).better and not beats(b, a).better
    assert beats(b, a, higher_is_better=False).better
    assert not beats(b, b).better
    # an unpaired reading of the same numbers would not see the shift: b spreads wider than 0.5
    d = paired_diff_ci(a, b)
    assert d.lo > 0.4 and d.hi < 0.6
