"""Exact rejection probabilities of a fixed two-arm binary design: symmetry, conservatism, Monte-Carlo agreement."""

import numpy as np
import pytest
from scipy import stats

from sepsim._errors import ConfigError
from sepsim.platform.stats import exact_rejection_probability, rejection_region


@pytest.mark.parametrize("sided", [1, 2])
def test_fisher_region_matches_scipy(sided):
    na, nb = 9, 12
    alt = "greater" if sided == 1 else "two-sided"
    alpha = 0.05
    ref = np.array(
        [
            [stats.fisher_exact([[b, nb - b], [a, na - a]], alternative=alt).pvalue <= alpha for b in range(nb + 1)]
            for a in range(na + 1)
        ]
    )
    np.testing.assert_array_equal(rejection_region(na, nb, test="fisher", alpha=alpha, sided=sided), ref)


@pytest.mark.parametrize("test", ["fisher", "chisq", "z"])
def test_symmetries(test):
    p = np.linspace(0.05, 0.95, 7)
    pa, pb = np.meshgrid(p, p, indexing="ij")
    f = exact_rejection_probability(20, 30, pa, pb, test=test, alpha=0.05, direction="greater")
    # relabel arms
    g = exact_rejection_probability(30, 20, pb, pa, test=test, alpha=0.05, direction="less")
    np.testing.assert_allclose(f, g, atol=1e-13)
    # relabel events / non-events
    h = exact_rejection_probability(20, 30, 1 - pa, 1 - pb, test=test, alpha=0.05, direction="less")
    np.testing.assert_allclose(f, h, atol=1e-13)
    # two-sided with equal arms is symmetric in the two rates
    t = exact_rejection_probability(25, 25, pa, pb, test=test, alpha=0.05, sided=2)
    np.testing.assert_allclose(t, t.T, atol=1e-13)
    # power rises with the treatment rate (one-sided, "greater")
    assert np.all(np.diff(f, axis=1) > 0)


@pytest.mark.parametrize("n_a, n_b", [(10, 10), (30, 45), (80, 80)])
@pytest.mark.parametrize("sided, alpha", [(1, 0.025), (2, 0.05)])
def test_fisher_is_conservative(n_a, n_b, sided, alpha):
    p = np.linspace(0.0, 1.0, 41)
    size = exact_rejection_probability(n_a, n_b, p, p, test="fisher", alpha=alpha, sided=sided)
    assert np.all(size <= alpha + 1e-12)
    assert size.max() > 0.2 * alpha  # not trivially zero (n = 10 per arm is very conservative)
    assert size[0] == 0.0 and size[-1] == 0.0  # no events or all events: never reject
    # the unconditional z test is less conservative at moderate rates
    z = exact_rejection_probability(n_a, n_b, 0.4, 0.4, test="z", alpha=alpha, sided=sided)
    assert z > size[16]


def test_large_sample_power_matches_normal_approximation():
    n, pa, pb, alpha = 600, 0.30, 0.38, 0.025
    exact = exact_rejection_probability(n, n, pa, pb, test="z", alpha=alpha)
    pbar = (pa + pb) / 2
    se0, se1 = np.sqrt(2 * pbar * (1 - pbar) / n), np.sqrt((pa * (1 - pa) + pb * (1 - pb)) / n)
    approx = stats.norm.sf((stats.norm.isf(alpha) * se0 - (pb - pa)) / se1)
    assert abs(exact - approx) < 0.01


@pytest.mark.parametrize("test, sided", [("fisher", 1), ("fisher", 2), ("chisq", 2), ("z", 1)])
@pytest.mark.parametrize("pa, pb", [(0.3, 0.3), (0.25, 0.5)])
def test_matches_monte_carlo(test, sided, pa, pb):
    n_a, n_b, alpha, reps = 30, 40, 0.05, 20_000
    rng = np.random.default_rng(20261121)
    xa, xb = rng.binomial(n_a, pa, reps), rng.binomial(n_b, pb, reps)
    cache = {}

    def pvalue(a, b):  # independent of the package: scipy per distinct table
        if (a, b) not in cache:
            table = [[b, n_b - b], [a, n_a - a]]
            if test == "fisher":
                cache[a, b] = stats.fisher_exact(table, alternative="greater" if sided == 1 else "two-sided").pvalue
            elif test == "chisq":
                cache[a, b] = stats.chi2_contingency(table, correction=False).pvalue if 0 < a + b < n_a + n_b else 1.0
            else:
                pool = (a + b) / (n_a + n_b)
                se = np.sqrt(pool * (1 - pool) * (1 / n_a + 1 / n_b))
                cache[a, b] = stats.norm.sf((b / n_b - a / n_a) / se) if se > 0 else 0.5
        return cache[a, b]

    mc = np.mean([pvalue(a, b) <= alpha for a, b in zip(xa, xb, strict=True)])
    exact = float(exact_rejection_probability(n_a, n_b, pa, pb, test=test, alpha=alpha, sided=sided))
    mc_se = np.sqrt(exact * (1 - exact) / reps)
    assert abs(mc - exact) < 3 * mc_se, (mc, exact, mc_se)


@pytest.mark.parametrize(
    "kwargs, key",
    [
        (dict(n_control=0), "n_control"),
        (dict(n_treatment=2.5), "n_treatment"),
        (dict(test="barnard"), "test"),
        (dict(alpha=1.5), "alpha"),
        (dict(sided=0), "sided"),
        (dict(direction="up"), "direction"),
        (dict(p_control=1.2), "p_control"),
    ],
)
def test_bad_input(kwargs, key):
    args = dict(n_control=10, n_treatment=10, p_control=0.3, p_treatment=0.4) | kwargs
    with pytest.raises(ConfigError) as err:
        exact_rejection_probability(**args)
    assert err.value.key == key
