"""Group-sequential boundaries against rpact, a multivariate-normal CDF and closed forms."""

from pathlib import Path

import numpy as np
import pytest
import yaml
from scipy import stats

from sepsim._errors import ConfigError
from sepsim.platform.stats import (
    alpha_spending,
    crossing_probabilities,
    group_sequential_bounds,
    group_sequential_futility,
)


def _mvn_crossing(z, t, sided=1):
    """P(some |Z_k| or Z_k >= z_k) under H0 with Brownian-motion covariance sqrt(t_i / t_j), via Genz's CDF."""
    t = np.asarray(t, dtype=float)
    cov = np.sqrt(np.minimum.outer(t, t) / np.maximum.outer(t, t))
    z = np.asarray(z, dtype=float)
    lower = -z if sided == 2 else np.full_like(z, -np.inf)
    inside = stats.multivariate_normal.cdf(
        z, np.zeros(t.size), cov, lower_limit=lower, abseps=1e-11, releps=1e-11, maxpts=2_000_000
    )
    return 1.0 - inside


def test_rpact_classical_obf_three_looks():
    # rpact tests/testthat/test-pkgname.R, getDesignGroupSequential() defaults (tests/oracles/group_sequential.yaml)
    o = yaml.safe_load((Path(__file__).resolve().parents[1] / "oracles" / "group_sequential.yaml").read_text())
    o = o["obf_three_looks"]
    b = group_sequential_bounds(o["looks"], alpha=o["alpha"], sided=o["sided"])
    np.testing.assert_allclose(b.z, o["critical_z"], atol=1e-6)
    np.testing.assert_allclose(b.cumulative_alpha, o["cumulative_alpha"], rtol=2e-7, atol=1e-9)
    np.testing.assert_allclose(b.info_fractions, [1 / 3, 2 / 3, 1.0])


def test_single_look_is_fixed_design():
    for spending in ("obf", "pocock", "ld_obf", "ld_pocock"):
        b = group_sequential_bounds(1, spending=spending)
        np.testing.assert_allclose(b.z, [stats.norm.isf(0.025)], atol=1e-9)
    np.testing.assert_allclose(group_sequential_bounds(1, alpha=0.05, sided=2).z, [1.959964], atol=1e-6)


@pytest.mark.parametrize(
    "t, spending, gamma, sided",
    [
        ([1 / 3, 2 / 3, 1.0], "obf", None, 1),
        ([0.25, 0.6, 1.0], "pocock", None, 1),
        ([0.2, 0.5, 0.8, 1.0], "ld_obf", None, 1),
        ([0.3, 0.7, 1.0], "ld_pocock", None, 1),
        ([0.25, 0.5, 0.75, 1.0], "hsd", -4.0, 1),
        ([0.4, 1.0], "hsd", 1.0, 2),
        ([0.5, 1.0], "obf", None, 2),
    ],
)
def test_total_alpha_matches_multivariate_normal_cdf(t, spending, gamma, sided):
    alpha = 0.025 if sided == 1 else 0.05
    b = group_sequential_bounds(t, alpha=alpha, spending=spending, gamma=gamma, sided=sided)
    assert abs(_mvn_crossing(b.z, t, sided) - alpha) < 1e-6
    # and look by look: cumulative crossing up to each look equals the spent alpha
    for k in range(len(t)):
        assert abs(_mvn_crossing(b.z[: k + 1], t[: k + 1], sided) - b.cumulative_alpha[k]) < 1e-6
    if spending in ("ld_obf", "ld_pocock", "hsd"):
        spent = alpha_spending(t, alpha=alpha, spending=spending, gamma=gamma)
        np.testing.assert_allclose(b.cumulative_alpha, spent, atol=1e-9)


def test_published_constants():
    # Jennison & Turnbull (2000) Table 2.1, K = 3, two-sided alpha 0.05: Pocock C_P = 2.289, O'Brien-Fleming
    # C_B = 2.004 (z_K); gsDesign sfLDOF K = 3 one-sided 0.025: 3.710, 2.511, 1.993.
    np.testing.assert_allclose(group_sequential_bounds(3, alpha=0.05, sided=2, spending="pocock").z, 2.289, atol=5e-4)
    np.testing.assert_allclose(group_sequential_bounds(3, alpha=0.05, sided=2).z[-1], 2.004, atol=5e-4)
    np.testing.assert_allclose(group_sequential_bounds(3, spending="ld_obf").z, [3.710, 2.511, 1.993], atol=5e-4)


def test_spending_functions_reach_alpha_at_one_and_increase():
    t = np.linspace(0.0, 1.0, 101)
    for spending, gamma in (("ld_obf", None), ("ld_pocock", None), ("hsd", -4.0), ("hsd", 0.0), ("hsd", 2.0)):
        a = alpha_spending(t, alpha=0.025, spending=spending, gamma=gamma)
        assert a[0] == 0.0
        assert abs(a[-1] - 0.025) < 1e-15
        assert np.all(np.diff(a) > 0)
    # HSD(gamma = 0) is linear spending
    np.testing.assert_allclose(alpha_spending(t, alpha=0.025, spending="hsd", gamma=0.0), 0.025 * t, atol=1e-16)


def test_monotone_properties():
    obf = group_sequential_bounds(5)
    assert np.all(np.diff(obf.z) < 0)  # OBF boundaries fall
    np.testing.assert_allclose(obf.z * np.sqrt(obf.info_fractions), obf.z[-1], rtol=1e-12)  # C / sqrt(t)
    poc = group_sequential_bounds(5, spending="pocock")
    np.testing.assert_allclose(poc.z, poc.z[0], rtol=1e-12)
    for b in (obf, poc, group_sequential_bounds(5, spending="ld_obf")):
        assert np.all(np.diff(b.cumulative_alpha) > 0)
        assert b.z[-1] > stats.norm.isf(0.025)  # the final bound exceeds the fixed-design bound
    # more looks cost more at the final analysis; smaller alpha raises every bound
    assert group_sequential_bounds(5).z[-1] > group_sequential_bounds(2).z[-1]
    assert np.all(group_sequential_bounds(3, alpha=0.01).z > group_sequential_bounds(3).z)
    # Pocock's final bound is above OBF's
    assert poc.z[-1] > obf.z[-1]


def test_crossing_probabilities_power_matches_fixed_design():
    # one look: power at drift delta is Phi(delta - z)
    p = crossing_probabilities([1.96], [1.0], drift=2.8)
    np.testing.assert_allclose(p, stats.norm.cdf(2.8 - 1.96), atol=1e-10)
    # OBF with 3 looks loses little power against the fixed design (J&T Table 2.3: R_B(3) ~ 1.02)
    b = group_sequential_bounds(3)
    power = crossing_probabilities(b.z, b.info_fractions, drift=stats.norm.isf(0.025) + stats.norm.isf(0.1)).sum()
    assert 0.88 < power < 0.9


def test_unspent_look_gives_infinite_bound():
    b = group_sequential_bounds([1e-4, 1.0], spending="ld_obf")
    assert np.isinf(b.z[0])
    np.testing.assert_allclose(b.z[1], stats.norm.isf(0.025), atol=1e-7)


@pytest.mark.parametrize(
    "kwargs, key",
    [
        (dict(info_fractions=[0.5, 0.5, 1.0]), "info_fractions"),
        (dict(info_fractions=[0.0, 1.0]), "info_fractions"),
        (dict(info_fractions=[0.5, 1.2]), "info_fractions"),
        (dict(info_fractions=0), "info_fractions"),
        (dict(info_fractions=3, alpha=0.5), "alpha"),
        (dict(info_fractions=3, alpha=0.0), "alpha"),
        (dict(info_fractions=3, spending="bogus"), "spending"),
        (dict(info_fractions=3, spending="hsd"), "gamma"),
        (dict(info_fractions=3, sided=3), "sided"),
    ],
)
def test_bad_input_names_the_argument(kwargs, key):
    with pytest.raises(ConfigError) as err:
        group_sequential_bounds(**kwargs)
    assert err.value.key == key


def _mvn_region(lower, upper, t, drift):
    """P(lower_j < Z_j < upper_j for all j) with E[Z_j] = drift sqrt(t_j)."""
    t = np.asarray(t, dtype=float)
    cov = np.sqrt(np.minimum.outer(t, t) / np.maximum.outer(t, t))
    return stats.multivariate_normal.cdf(
        np.asarray(upper, float), drift * np.sqrt(t), cov, lower_limit=np.asarray(lower, float), abseps=1e-11,
        releps=1e-11, maxpts=2_000_000,
    )  # fmt: skip


def test_futility_design_matches_gsdesign_and_multivariate_normal():
    # gsDesign default design (k = 3, test.type = 4, sfHSD(-4) upper, sfHSD(-2) lower, alpha 0.025, beta 0.1):
    # upper 3.01, 2.55, 2.00; lower -0.24, 0.94, 2.00; sample-size ratio 1.07 (printed to 2-3 decimals).
    d = group_sequential_futility(3, spending="hsd", gamma=-4.0, beta_spending="hsd", beta_gamma=-2.0)
    np.testing.assert_allclose(d.z_efficacy, [3.01, 2.55, 2.00], atol=0.005)
    np.testing.assert_allclose(d.z_futility, [-0.24, 0.94, 2.00], atol=0.005)
    assert abs(d.inflation - 1.07) < 0.002
    # independent check with Genz's CDF: futility crossings under the drift spend beta look by look
    t, a, b = d.info_fractions, d.z_futility, d.z_efficacy
    spent = alpha_spending(t, alpha=0.1, spending="hsd", gamma=-2.0)
    for k in range(3):
        low = np.concatenate([a[:k], [-np.inf]])
        cross_low = _mvn_region(low, np.concatenate([b[:k], [a[k]]]), t[: k + 1], d.drift)
        assert abs(cross_low - (spent[k] - (spent[k - 1] if k else 0.0))) < 1e-6
        assert abs(d.cumulative_beta[k] - spent[k]) < 1e-8
    # power with the futility rule followed is 1 - beta: sum over looks of P(continue to k, Z_k >= b_k)
    cont = [_mvn_region(a[:k], b[:k], t[:k], d.drift) if k else 1.0 for k in range(3)]
    upper = [
        cont[k] - _mvn_region(np.concatenate([a[:k], [-np.inf]]), b[: k + 1], t[: k + 1], d.drift) for k in range(3)
    ]
    assert abs(sum(upper) - 0.9) < 1e-6
    # the efficacy bounds ignore the futility bounds (non-binding): their own size is alpha
    assert abs(crossing_probabilities(b, t).sum() - 0.025) < 1e-8


def test_futility_bad_input():
    with pytest.raises(ConfigError) as err:
        group_sequential_futility(3, beta=0.7)
    assert err.value.key == "beta"
    with pytest.raises(ConfigError) as err:
        group_sequential_futility([0.5, 0.9])
    assert err.value.key == "info_fractions"
    with pytest.raises(ConfigError) as err:
        group_sequential_futility(3, beta_spending="obf")
    assert err.value.key == "beta_spending"
