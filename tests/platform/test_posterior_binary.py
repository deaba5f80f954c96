"""Beta–binomial posterior probabilities against exact and independent references (trial_oracles.md)."""

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import yaml
from scipy import integrate, stats

from sepsim.platform import (
    prob_all_equivalent_draws,
    prob_all_equivalent_quadrature,
    prob_best_draws,
    prob_best_quadrature,
    prob_greater_exact,
    prob_vs_control_quadrature,
)
from sepsim.platform.stats._posterior_binary import beta_grid

PAIR = yaml.safe_load((Path(__file__).resolve().parents[1] / "oracles" / "beta_binomial.yaml").read_text())["pairwise"]


def test_exact_pairwise_oracle():
    # tests/oracles/beta_binomial.yaml: Beta(11, 41) vs Beta(21, 31) (10/50 vs 20/50 events)
    assert abs(prob_greater_exact(*PAIR["a"], *PAIR["b"]) - PAIR["p_b_greater"]) < 1e-8


def test_exact_pairwise_matches_scipy_quad():
    f = lambda x: stats.beta.pdf(x, 30, 70) * stats.beta.cdf(x, 12, 40)
    ref = integrate.quad(f, 0, 1, epsabs=1e-13, limit=200)[0]
    assert abs(prob_greater_exact(12, 40, 30, 70) - ref) < 1e-10


def test_quadrature_pairwise_oracle():
    a = jnp.array([PAIR["a"][0], PAIR["b"][0]], dtype=float)
    b = jnp.array([PAIR["a"][1], PAIR["b"][1]], dtype=float)
    both = jnp.ones(2, dtype=bool)
    pb, _, _ = prob_vs_control_quadrature(a, b, 0, both, higher_is_better=True, n_grid=513)
    assert abs(float(pb[1]) - PAIR["p_b_greater"]) < 1e-7  # the closed form above meets 1e-8
    assert np.isnan(float(pb[0]))


def _ref_best(a, b, lower=True):
    out = []
    for k in range(len(a)):

        def f(x, k=k):
            v = stats.beta.pdf(x, a[k], b[k])
            for j in range(len(a)):
                if j != k:
                    v *= stats.beta.sf(x, a[j], b[j]) if lower else stats.beta.cdf(x, a[j], b[j])
            return v

        pts = [a[i] / (a[i] + b[i]) for i in range(len(a))]
        out.append(integrate.quad(f, 0, 1, points=pts, epsabs=1e-13, limit=500)[0])
    return np.array(out)


def _ref_all_equiv(a, b, m):
    tot = 0.0
    for k in range(len(a)):

        def f(x, k=k):
            v = stats.beta.pdf(x, a[k], b[k])
            for j in range(len(a)):
                if j != k:
                    v *= stats.beta.cdf(x + m, a[j], b[j]) - stats.beta.cdf(x, a[j], b[j])
            return v

        pts = [a[i] / (a[i] + b[i]) for i in range(len(a))]
        tot += integrate.quad(f, 0, 1, points=pts, epsabs=1e-13, limit=500)[0]
    return tot


@pytest.mark.parametrize("lower", [True, False])
def test_prob_best_quadrature_against_scipy(lower):
    rng = np.random.default_rng(3)
    act = jnp.ones(3, dtype=bool)
    for _ in range(6):
        n = rng.integers(5, 700, size=3)
        e = rng.binomial(n, rng.uniform(0.15, 0.35, size=3))
        a, b = 1.0 + e, 1.0 + n - e
        p = prob_best_quadrature(jnp.asarray(a), jnp.asarray(b), act, higher_is_better=not lower, n_grid=129)
        np.testing.assert_allclose(np.asarray(p), _ref_best(a, b, lower), atol=1e-4)
        assert abs(float(p.sum()) - 1.0) < 1e-12


def test_prob_best_convergence_is_sixth_order():
    a, b = np.array([40.0, 52.0, 61.0]), np.array([160.0, 150.0, 139.0])
    ref = _ref_best(a, b)
    act = jnp.ones(3, dtype=bool)
    errs = [
        np.abs(
            np.asarray(prob_best_quadrature(jnp.asarray(a), jnp.asarray(b), act, higher_is_better=False, n_grid=g))
            - ref
        ).max()
        for g in (49, 97)
    ]
    assert errs[1] < errs[0] / 32  # halving h: 6th order gives /64; the 4th-order operator /16


def test_cdf_operator_matches_beta_cdf():
    """The grid CDFs (the sixth-order cumulative operator) against scipy's regularised incomplete beta."""
    a = jnp.array([31.0, 120.0, 2.0])
    b = jnp.array([90.0, 380.0, 40.0])
    errs = {}
    for g in (33, 65):
        for k in range(3):  # each arm on its own grid
            grid = beta_grid(a, b, jnp.arange(3) == k, n_grid=g)
            ref = stats.beta.cdf(np.asarray(grid.x), float(a[k]), float(b[k]))
            errs[g, k] = np.abs(np.asarray(grid.cdf)[k] - ref).max()
    for k in range(2):  # grids inside (0, 1): the density and its derivatives vanish at both ends
        assert errs[65, k] < 1e-5
        assert errs[65, k] < errs[33, k] / 32  # sixth order: /64 per halving of h
    # Beta(2, 40): the grid is clipped at 0, where f' != 0, so the end correction is only as good as the
    # one-sided stencil there (lower order; the trapezoid rule's limit for posteriors near a boundary)
    assert errs[65, 2] < 5e-4


def test_default_grid_is_within_the_documented_error():
    """The engine's default 65 nodes against a 1025-node grid (error < 1e-11 at sixth order) on adaptr-like
    posteriors (3 arms, 100-700 patients per arm, rates 0.2-0.3): max error 1e-4 in P(best) and 5e-5 in P(all
    equivalent), the tolerance README_engine.md states (the earlier default, 97 nodes with the fourth-order
    operator: 8.4e-5 and 4.6e-5)."""
    from sepsim.platform._analysis.binary import BetaBinomialAnalysis

    g0 = BetaBinomialAnalysis.__dataclass_fields__["n_grid"].default
    assert g0 == 65
    rng = np.random.default_rng(7)
    n = rng.integers(100, 700, (200, 3))
    e = rng.binomial(n, rng.uniform(0.2, 0.3, (200, 3)))
    a, b, act = jnp.asarray(1.0 + e), jnp.asarray(1.0 + n - e), jnp.ones((200, 3), bool)

    def probs(g):
        def one(a, b, act):
            grid = beta_grid(a, b, act, n_grid=g)
            pb = prob_best_quadrature(a, b, act, higher_is_better=False, grid=grid)
            return pb, prob_all_equivalent_quadrature(a, b, act, margin=0.05, grid=grid)

        return [np.asarray(x) for x in jax.jit(jax.vmap(one))(a, b, act)]

    (p, q), (p_ref, q_ref) = probs(g0), probs(1025)
    assert np.abs(p - p_ref).max() < 1e-4
    assert np.abs(q - q_ref).max() < 5e-5


def test_inactive_arms_are_masked():
    a = jnp.array([30.0, 5.0, 40.0])
    b = jnp.array([70.0, 95.0, 60.0])
    act = jnp.array([True, False, True])
    p = prob_best_quadrature(a, b, act, higher_is_better=True)
    two = prob_best_quadrature(a[jnp.array([0, 2])], b[jnp.array([0, 2])], jnp.ones(2, bool), higher_is_better=True)
    assert float(p[1]) == 0.0
    np.testing.assert_allclose(np.asarray(p)[[0, 2]], np.asarray(two), atol=1e-12)
    np.testing.assert_allclose(float(p[2]), prob_greater_exact(30, 70, 40, 60), atol=1e-5)


def test_all_equivalent_quadrature_against_scipy():
    rng = np.random.default_rng(5)
    act = jnp.ones(3, dtype=bool)
    for _ in range(4):
        n = rng.integers(100, 700, size=3)
        e = rng.binomial(n, 0.25)
        a, b = 1.0 + e, 1.0 + n - e
        p = prob_all_equivalent_quadrature(jnp.asarray(a), jnp.asarray(b), act, margin=0.05)
        assert abs(float(p) - _ref_all_equiv(a, b, 0.05)) < 2e-5


def test_draws_agree_with_quadrature_within_mc_error():
    a, b = jnp.array([60.0, 75.0, 70.0]), jnp.array([240.0, 225.0, 230.0])
    act = jnp.ones(3, dtype=bool)
    n_draws = 20000
    q = np.asarray(prob_best_quadrature(a, b, act, higher_is_better=False))
    d = np.asarray(prob_best_draws(a, b, act, key=jax.random.key(0), higher_is_better=False, n_draws=n_draws))
    se = np.sqrt(q * (1 - q) / n_draws)
    assert np.all(np.abs(d - q) < 4 * se + 1e-12)
    qe = float(prob_all_equivalent_quadrature(a, b, act, margin=0.05))
    de = float(prob_all_equivalent_draws(a, b, act, key=jax.random.key(1), margin=0.05, n_draws=n_draws))
    assert abs(de - qe) < 4 * np.sqrt(qe * (1 - qe) / n_draws)


def test_quadrature_is_jittable_and_vmappable():
    f = jax.jit(jax.vmap(lambda a, b: prob_best_quadrature(a, b, jnp.ones(2, bool), higher_is_better=True)))
    a = jnp.array([[11.0, 21.0], [21.0, 11.0]])
    b = jnp.array([[41.0, 31.0], [31.0, 41.0]])
    p = np.asarray(f(a, b))
    np.testing.assert_allclose(p[0, 1], PAIR["p_b_greater"], atol=2e-6)  # tests/oracles/beta_binomial.yaml
    np.testing.assert_allclose(p[1, 0], PAIR["p_b_greater"], atol=2e-6)


def test_small_two_arm_posteriors_against_the_closed_form():
    """Few patients per arm (20-80) and rates near 0 or 1 (the grid is clipped at a bound where the density is
    not zero, as in the immunosep design's strata): the default grid against Evan Miller's exact sum. The
    end-corrected integrals keep the error near 1e-3; the trapezoid with a fourth-order CDF had 1e-2 here."""
    rng = np.random.default_rng(11)
    n = rng.integers(20, 80, (60, 2))
    e = rng.binomial(n, rng.choice([0.05, 0.1, 0.5, 0.9, 0.95], (60, 1)) * np.ones((1, 2)))
    a, b = 1.0 + e, 1.0 + n - e
    both = jnp.ones((60, 2), bool)
    f = jax.jit(
        jax.vmap(lambda a, b, act: prob_vs_control_quadrature(a, b, 0, act, higher_is_better=True, n_grid=65)[0][1])
    )
    p = np.asarray(f(jnp.asarray(a), jnp.asarray(b), both))
    ref = np.array([prob_greater_exact(a[i, 0], b[i, 0], a[i, 1], b[i, 1]) for i in range(60)])  # P(t1 > t0)
    assert np.abs(p - ref).max() < 4e-3


def _hermite_np(x, cdf, pdf, q):
    """Cubic Hermite interpolation of one CDF at the points q (slopes = densities; 0 below the grid, 1 above)."""
    h = x[1] - x[0]
    out = np.empty_like(q)
    for i, v in enumerate(q):
        u = (v - x[0]) / h
        m = int(np.floor(u))
        t = u - m
        node = lambda j: (0.0, 0.0) if j < 0 else (1.0, 0.0) if j >= len(x) else (cdf[j], pdf[j] * h)
        (f0, d0), (f1, d1) = node(m), node(m + 1)
        out[i] = (2 * t**3 - 3 * t**2 + 1) * f0 + (t**3 - 2 * t**2 + t) * d0 + (-2 * t**3 + 3 * t**2) * f1
        out[i] += (t**3 - t**2) * d1
    return np.clip(out, 0.0, 1.0)


@pytest.mark.parametrize("shift", [0.05, -0.05, 0.0031, -0.0031, 0.7, -0.7])
def test_shifted_cdf(shift):
    # the node-major window of _cdf_shifted (one contiguous slice per trial, a gather under vmap) against the same
    # Hermite interpolation written out in NumPy, and against the Beta CDF at x + shift within the grid's own
    # error (README_engine.md, "Quadrature"); 3 arms with ~300 patients each, the engine's 65 nodes
    from sepsim.platform.stats._posterior_binary import _cdf_shifted

    a = np.array([76.0, 81.0, 70.0])
    b = np.array([226.0, 221.0, 232.0])
    grid = jax.tree_util.tree_map(
        lambda v: v[None], beta_grid(jnp.asarray(a), jnp.asarray(b), jnp.ones(3, dtype=bool), n_grid=65)
    )
    got = np.asarray(jax.vmap(lambda g: _cdf_shifted(g, shift))(grid))[0]
    one = np.asarray(jax.vmap(lambda g: _cdf_shifted(g, shift, jnp.asarray(1)))(grid))[0]
    x, cdf, pdf = (np.asarray(v)[0] for v in (grid.x, grid.cdf, grid.pdf))
    ref = np.stack([_hermite_np(x, cdf[k], pdf[k], x + shift) for k in range(3)])
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-13)
    np.testing.assert_array_equal(one, got[1])
    exact = stats.beta.cdf(x[None, :] + shift, a[:, None], b[:, None])
    assert np.max(np.abs(got - exact)) < 5e-5
