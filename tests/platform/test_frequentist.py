"""Frequentist tests in JAX against scipy.stats on many random tables."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from sepsim._errors import ConfigError
from sepsim.platform.stats import (
    chi_square_2x2,
    cochran_mantel_haenszel,
    fisher_exact_2x2,
    mean_and_variance,
    mean_difference_z,
    two_proportion_z,
)

N_MAX = 60


def _random_tables(seed, size, n_max=N_MAX):
    rng = np.random.default_rng(seed)
    na = rng.integers(1, n_max + 1, size)
    nb = rng.integers(1, n_max + 1, size)
    pa, pb = rng.uniform(0.02, 0.98, size), rng.uniform(0.02, 0.98, size)
    return rng.binomial(na, pa), na, rng.binomial(nb, pb), nb


@pytest.mark.parametrize("alternative", ["greater", "less", "two-sided"])
def test_fisher_matches_scipy(alternative):
    ea, na, eb, nb = _random_tables(1, 400)
    # include symmetric tables (ties in the two-sided sum), extreme and empty-margin tables
    ea = np.concatenate([ea, [5, 0, 3, 0, 10, 7]])
    na = np.concatenate([na, [10, 10, 3, 20, 10, 14]])
    eb = np.concatenate([eb, [5, 10, 0, 0, 0, 7]])
    nb = np.concatenate([nb, [10, 10, 60, 20, 10, 14]])
    res = fisher_exact_2x2(ea, na, eb, nb, n_max=N_MAX, alternative=alternative)
    ref = np.array(
        [
            stats.fisher_exact([[b, m - b], [a, n - a]], alternative=alternative).pvalue
            for a, n, b, m in zip(ea, na, eb, nb, strict=True)
        ]
    )
    np.testing.assert_allclose(np.asarray(res.p_value), ref, rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(np.asarray(res.statistic), eb)


def test_fisher_flags_tables_beyond_n_max():
    res = fisher_exact_2x2(jnp.array([3, 3]), jnp.array([10, 10]), jnp.array([4, 4]), jnp.array([10, 11]), n_max=10)
    assert np.isfinite(res.p_value[0]) and np.isnan(res.p_value[1])


def test_fisher_jit_vmap_over_trials_and_looks():
    ea, na, eb, nb = (x.reshape(20, 5) for x in _random_tables(2, 100))
    f = jax.jit(
        eqx.debug.assert_max_traces(
            lambda *a: fisher_exact_2x2(*a, n_max=N_MAX, alternative="two-sided").p_value, max_traces=1
        )
    )
    out = f(*(jnp.asarray(x) for x in (ea, na, eb, nb)))
    f(*(jnp.asarray(x) for x in (ea // 2, na, eb // 2, nb)))  # new values, same shapes: no retrace
    out2 = jax.vmap(lambda *a: fisher_exact_2x2(*a, n_max=N_MAX, alternative="two-sided").p_value)(
        *(jnp.asarray(x) for x in (ea, na, eb, nb))
    )
    assert out.shape == (20, 5) and out.dtype == jnp.float64
    np.testing.assert_allclose(out, out2, rtol=1e-14)
    ref = stats.fisher_exact([[eb[3, 2], nb[3, 2] - eb[3, 2]], [ea[3, 2], na[3, 2] - ea[3, 2]]]).pvalue
    np.testing.assert_allclose(out[3, 2], ref, rtol=1e-9)


def test_chi_square_and_z_match_scipy():
    ea, na, eb, nb = _random_tables(3, 500)
    keep = (ea + eb > 0) & (ea + eb < na + nb)
    ea, na, eb, nb = ea[keep], na[keep], eb[keep], nb[keep]
    x2 = chi_square_2x2(ea, na, eb, nb)
    tables = [[[b, m - b], [a, n - a]] for a, n, b, m in zip(ea, na, eb, nb, strict=True)]
    ref = [stats.chi2_contingency(t, correction=False) for t in tables]
    np.testing.assert_allclose(np.asarray(x2.statistic), [r.statistic for r in ref], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(np.asarray(x2.p_value), [r.pvalue for r in ref], rtol=1e-10, atol=1e-14)
    z = two_proportion_z(ea, na, eb, nb, alternative="two-sided")
    np.testing.assert_allclose(np.asarray(z.statistic) ** 2, np.asarray(x2.statistic), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(np.asarray(z.p_value), np.asarray(x2.p_value), rtol=1e-10, atol=1e-14)
    # the sign follows the treatment: independent NumPy formula
    pa, pb, p = ea / na, eb / nb, (ea + eb) / (na + nb)
    zref = (pb - pa) / np.sqrt(p * (1 - p) * (1 / na + 1 / nb))
    np.testing.assert_allclose(np.asarray(two_proportion_z(ea, na, eb, nb).statistic), zref, rtol=1e-12)
    np.testing.assert_allclose(
        np.asarray(two_proportion_z(ea, na, eb, nb).p_value), stats.norm.sf(zref), rtol=1e-10, atol=1e-15
    )
    np.testing.assert_allclose(
        np.asarray(two_proportion_z(ea, na, eb, nb, alternative="less").p_value), stats.norm.cdf(zref), rtol=1e-10
    )


def test_degenerate_tables_are_finite():
    ea, na, eb, nb = jnp.array([0, 5, 0, 0]), jnp.array([5, 5, 0, 4]), jnp.array([0, 7, 3, 0]), jnp.array([7, 7, 3, 0])
    for res in (two_proportion_z(ea, na, eb, nb), chi_square_2x2(ea, na, eb, nb)):
        assert np.all(np.isfinite(res.statistic)) and np.all(np.isfinite(res.p_value))
        np.testing.assert_allclose(res.statistic, 0.0)
    g = jax.grad(lambda e: two_proportion_z(e, 5.0, 0.0, 7.0).statistic)(0.0)
    assert np.isfinite(g)


def _cmh_numpy(ea, na, eb, nb):
    """Mantel–Haenszel (1959) statistic written out stratum by stratum."""
    num, var = 0.0, 0.0
    for a, n1, b, n2 in zip(ea, na, eb, nb, strict=True):
        n, m = n1 + n2, a + b
        if n < 2:
            continue
        num += b - n2 * m / n
        var += n1 * n2 * m * (n - m) / (n**2 * (n - 1))
    return num / np.sqrt(var)


def test_cmh_matches_reference_formula_and_single_stratum_chi_square():
    ea, na, eb, nb = (x.reshape(50, 4) for x in _random_tables(4, 200))
    res = cochran_mantel_haenszel(ea, na, eb, nb, alternative="two-sided")
    ref = np.array([_cmh_numpy(*row) for row in zip(ea, na, eb, nb, strict=True)])
    np.testing.assert_allclose(np.asarray(res.statistic), ref, rtol=1e-10)
    np.testing.assert_allclose(np.asarray(res.p_value), stats.chi2.sf(ref**2, 1), rtol=1e-10, atol=1e-14)
    # one stratum: CMH = Pearson X^2 * (N - 1) / N (hypergeometric vs multinomial variance)
    a, n1, b, n2 = (x[:, 0] for x in (ea, na, eb, nb))
    keep = (a + b > 0) & (a + b < n1 + n2)
    one = cochran_mantel_haenszel(a[keep, None], n1[keep, None], b[keep, None], n2[keep, None])
    x2 = np.array(
        [
            stats.chi2_contingency([[bb, mm - bb], [aa, nn - aa]], correction=False).statistic
            for aa, nn, bb, mm in zip(a[keep], n1[keep], b[keep], n2[keep], strict=True)
        ]
    )
    tot = n1[keep] + n2[keep]
    np.testing.assert_allclose(np.asarray(one.statistic) ** 2, x2 * (tot - 1) / tot, rtol=1e-10)
    # strata on another axis
    alt = cochran_mantel_haenszel(ea.T, na.T, eb.T, nb.T, axis=0, alternative="two-sided")
    np.testing.assert_allclose(alt.statistic, res.statistic, rtol=1e-14)


@pytest.mark.parametrize("pooled", [True, False])
def test_mean_difference_matches_ttest(pooled):
    rng = np.random.default_rng(5)
    zs, refs, ps = [], [], []
    for _ in range(100):
        na, nb = rng.integers(2, 40, 2)
        ya, yb = rng.normal(0.0, rng.uniform(0.5, 2), na), rng.normal(0.3, rng.uniform(0.5, 2), nb)
        ma, va = mean_and_variance(ya.sum(), (ya**2).sum(), na)
        mb, vb = mean_and_variance(yb.sum(), (yb**2).sum(), nb)
        np.testing.assert_allclose([ma, va], [ya.mean(), ya.var(ddof=1)], rtol=1e-10)
        r = mean_difference_z(ma, va, na, mb, vb, nb, pooled=pooled, alternative="two-sided")
        t = stats.ttest_ind(yb, ya, equal_var=pooled)
        zs.append(float(r.statistic)), refs.append(t.statistic), ps.append(float(r.p_value))
    np.testing.assert_allclose(zs, refs, rtol=1e-10)
    np.testing.assert_allclose(ps, 2 * stats.norm.sf(np.abs(refs)), rtol=1e-10)


def test_bad_arguments():
    with pytest.raises(ConfigError) as err:
        two_proportion_z(1, 2, 1, 2, alternative="bigger")
    assert err.value.key == "alternative"
    with pytest.raises(ConfigError) as err:
        fisher_exact_2x2(1, 2, 1, 2, n_max=0)
    assert err.value.key == "n_max"
