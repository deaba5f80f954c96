"""Per-stratum decisions with hierarchical borrowing of the log odds ratio across strata, in the trial engine.

Monte-Carlo budgets: 3 MC SE with fixed seeds. The null, alternative and harm runs share one compiled design.
"""

import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from sepsim._errors import ConfigError
from sepsim._keys import stage_key
from sepsim.platform import binary_scenario, design_from_dict, run_trials
from sepsim.platform.stats import hierarchical_effects, log_odds_ratio_estimates

N_TRIALS = 3000
STRATA = ["S0", "S1", "S2"]
BASE = np.asarray([0.25, 0.35, 0.45])  # control mortality per stratum (illustrative)
LOOKS = (150, 300)
DESIGN = dict(
    arms=["ctl", "trt"],
    control="ctl",
    look_n=list(LOOKS),
    higher_is_better=False,
    strata=STRATA,
    allocation=dict(rule="fixed"),
    analysis=dict(model="hierarchical", tau_scale=0.5),
    stopping=dict(superiority=0.99, inferiority=None, per_stratum=True),
)
OR_ALT = 0.6


def _rates(odds_ratio):
    t = 1 / (1 + (1 - BASE) / (BASE * odds_ratio))
    return np.stack([BASE, t], axis=1)


def _table(odds_ratio, seed):
    return binary_scenario(
        _rates(odds_ratio), 30_000, key=stage_key(seed, "cohort"), arms=["ctl", "trt"], strata=STRATA
    )


@pytest.fixture(scope="module")
def runs():
    return {
        name: run_trials(_table(orr, 9), DESIGN, n_trials=N_TRIALS, key=stage_key(9, f"trials-{name}"))
        for name, orr in (("null", 1.0), ("alt", OR_ALT), ("harm", 1 / OR_ALT))
    }


def _borrowed_p_better(n, ev):
    """P(trt lowers mortality) per stratum from (..., arm, stratum) tables: log_odds_ratio_estimates ->
    hierarchical_effects (strata without data for an arm get se 1000, as the engine documents)."""
    est, se = log_odds_ratio_estimates(ev[..., 0, :], n[..., 0, :], ev[..., 1, :], n[..., 1, :])
    ok = (n[..., 0, :] > 0) & (n[..., 1, :] > 0)
    post = hierarchical_effects(jnp.where(ok, est, 0.0), jnp.where(ok, se, 1000.0), tau_scale=0.5, mu_prior_sd=10.0)
    return 1.0 - np.asarray(post.prob_positive), np.asarray(est), np.asarray(se)


def test_engine_probabilities_equal_standalone_hierarchical(runs):
    ds = runs["alt"]
    ref, _, _ = _borrowed_p_better(jnp.asarray(ds.n.values, dtype=float), jnp.asarray(ds.events.values))
    pb = ds.p_best_stratum.sel(arm="trt").values  # (trial, look, stratum)
    ok = np.isfinite(pb)
    assert ok[:, 0].all() and ok.sum() > N_TRIALS * 3
    np.testing.assert_allclose(pb[ok], ref[ok], rtol=0, atol=1e-8)


def test_shrinks_towards_pooled_when_strata_agree(runs):
    # common OR in every stratum: at the first look, each stratum's borrowed evidence (probit of P) lies much
    # closer to the pooled (inverse-variance) z than the stratum's own z from an independent analysis
    ds = runs["alt"]
    n, ev = ds.n.isel(look=0).values.astype(float), ds.events.isel(look=0).values
    _, est, se = _borrowed_p_better(jnp.asarray(n), jnp.asarray(ev))
    z_own = -est / se  # independent per-stratum analysis (normal approximation, lower mortality positive)
    w = 1 / se**2
    z_pool = -(w * est).sum(1) / w.sum(1) * np.sqrt(w.sum(1))
    z_hier = stats.norm.ppf(np.clip(ds.p_best_stratum.sel(arm="trt").isel(look=0).values, 1e-15, 1 - 1e-15))
    spread_own = np.mean(np.abs(z_own - z_pool[:, None]))
    spread_hier = np.mean(np.abs(z_hier - z_pool[:, None]))
    assert spread_hier < 0.6 * spread_own, (spread_hier, spread_own)
    # and the borrowed per-stratum power exceeds what each stratum's own data give at this look
    assert np.mean(z_hier > stats.norm.ppf(0.99)) > 1.2 * np.mean(z_own > stats.norm.ppf(0.99))


def _independent_rate(odds_ratio, seed):
    """The same design without the engine: coin-flip arms, strata 1:1:1 among the strata still enrolling, a
    stratum stops (superiority) when its borrowed P > 0.99 at a look. Returns P(any stratum superior)."""
    rng = np.random.default_rng(seed)
    r = _rates(odds_ratio)
    t, m0, m1 = N_TRIALS, LOOKS[0], LOOKS[1] - LOOKS[0]

    def tables(strat, arm, y):
        n = np.stack([np.stack([((arm == a) & (strat == s)).sum(1) for s in range(3)], -1) for a in (0, 1)], 1)
        e = np.stack([np.stack([((arm == a) & (strat == s) & y).sum(1) for s in range(3)], -1) for a in (0, 1)], 1)
        return n.astype(float), e.astype(float)

    s0, a0 = rng.integers(0, 3, (t, m0)), rng.integers(0, 2, (t, m0))
    n0, e0 = tables(s0, a0, rng.random((t, m0)) < r[s0, a0])
    p0 = _borrowed_p_better(jnp.asarray(n0), jnp.asarray(e0))[0]
    stop = p0 > 0.99  # (trial, stratum)
    open_ = ~stop
    n_open = open_.sum(1, keepdims=True)
    pick = np.floor(rng.random((t, m1)) * np.maximum(n_open, 1)).astype(int)  # index among the open strata
    open_idx = np.argsort(~open_, axis=1, kind="stable")  # open strata first, in order
    s1 = np.take_along_axis(open_idx, pick, axis=1)
    a1 = rng.integers(0, 2, (t, m1))
    n1, e1 = tables(s1, a1, rng.random((t, m1)) < r[s1, a1])
    p1 = _borrowed_p_better(jnp.asarray(n0 + n1), jnp.asarray(e0 + e1))[0]
    sup = stop | (open_ & (n_open > 0) & (p1 > 0.99))
    return float(np.mean(sup.any(axis=1)))


@pytest.mark.parametrize(("name", "odds_ratio", "seed"), [("null", 1.0, 31), ("alt", OR_ALT, 32)])
def test_rejection_rate_matches_independent_simulation(runs, name, odds_ratio, seed):
    rate = float(np.mean(runs[name].trial_outcome.values == 1))
    ref = _independent_rate(odds_ratio, seed)
    se = np.sqrt(2 * ref * (1 - ref) / N_TRIALS)
    assert abs(rate - ref) < 3 * se, (rate, ref, se)
    if name == "alt":
        assert rate > 0.3


def test_harmful_arm_is_not_superior(runs):
    assert float(np.mean(runs["harm"].trial_outcome.values == 1)) < 0.003


def test_hierarchical_config_errors():
    with pytest.raises(ConfigError, match="design.analysis.model"):
        design_from_dict(dict(DESIGN, stopping=dict(per_stratum=False)))
    with pytest.raises(ConfigError, match="design.analysis.model"):
        design_from_dict(dict(DESIGN, strata=None, stopping=dict()))
    with pytest.raises(ConfigError, match="design.control"):
        design_from_dict(dict(DESIGN, control=None))
    with pytest.raises(ConfigError, match="design.analysis.tau_scale"):
        design_from_dict(dict(DESIGN, analysis=dict(model="hierarchical", tau_scale=0.0)))
