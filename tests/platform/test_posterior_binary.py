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


def test_prob_best_convergence_is_fourth_order():
    a, b = np.array([40.0, 52.0, 61.0]), np.array([160.0, 150.0, 139.0])
    ref = _ref_best(a, b)
    act = jnp.ones(3, dtype=bool)
    errs = [
        np.abs(
            np.asarray(prob_best_quadrature(jnp.asarray(a), jnp.asarray(b), act, higher_is_better=False, n_grid=g))
            - ref
        ).max()
        for g in (65, 129)
    ]
    assert errs[1] < errs[0] / 8  # 4th order would give /16; trapezoid alone /4


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
