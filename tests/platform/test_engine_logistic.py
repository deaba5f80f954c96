"""Binary endpoint analysed by logistic regression (arm + stratum effects, optional covariates; Laplace) in the
trial engine.

Monte-Carlo budgets: 3 MC SE with fixed seeds. The null, alternative and harm runs share one compiled design.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sepsim._errors import ConfigError
from sepsim._keys import stage_key
from sepsim.platform import PotentialOutcomes, binary_scenario, design_from_dict, run_trials
from sepsim.platform._analysis.logistic import LogisticAnalysis
from sepsim.platform.stats import logistic_treatment_posterior

N_TRIALS = 4000
PRIOR_SD = 1000.0  # vague: the covariate check below compares two parametrisations of the same likelihood
BASE = [0.30, 0.50]  # 28-day mortality in two strata (illustrative)
DESIGN = dict(
    arms=["ctl", "trt"],
    control="ctl",
    look_n=[200, 400],
    higher_is_better=False,
    allocation=dict(rule="fixed"),
    analysis=dict(model="logistic", prior_sd=PRIOR_SD),
    stopping=dict(superiority=0.99, inferiority=None),
)
OR_ALT = 0.55


def _rates(odds_ratio):
    b = np.asarray(BASE)
    t = 1 / (1 + (1 - b) / (b * odds_ratio))
    return np.stack([b, t], axis=1)  # (stratum, arm)


def _table(odds_ratio, seed):
    """A binary scenario with its rows grouped by stratum (so the covariate test below can reuse the compilation)."""
    out = binary_scenario(_rates(odds_ratio), 20_000, key=stage_key(seed, "cohort"), arms=["ctl", "trt"])
    order = np.argsort(np.asarray(out.stratum), kind="stable")
    return PotentialOutcomes(
        outcome=out.outcome[order], stratum=out.stratum[order], arms=out.arms, strata=out.strata, rates=out.rates
    )


@pytest.fixture(scope="module")
def runs():
    return {
        name: run_trials(_table(orr, 7), DESIGN, n_trials=N_TRIALS, key=stage_key(7, f"trials-{name}"))
        for name, orr in (("null", 1.0), ("alt", OR_ALT), ("harm", 1 / OR_ALT))
    }


@jax.jit
def _p_better(n, ev):
    """P(trt has lower mortality) from (..., arm, stratum) tables by the analyses function, one row per cell."""

    def one(n, ev):  # (arm, stratum) -> rows (stratum, arm), the engine's order (sums in the same order)
        arm = jnp.tile(jnp.arange(2), 2)
        stratum = jnp.repeat(jnp.arange(2), 2)
        w = n.T.reshape(-1)
        y = jnp.where(w > 0, ev.T.reshape(-1) / jnp.maximum(w, 1.0), 0.0)
        post = logistic_treatment_posterior(
            y,
            (arm == 1).astype(float),
            stratum=stratum,
            n_strata=2,
            weights=w,
            prior_sd_treatment=PRIOR_SD,
            prior_sd_other=PRIOR_SD,
        )
        return 1.0 - post.prob_positive[0]

    flat_n, flat_e = n.reshape((-1, 2, 2)), ev.reshape((-1, 2, 2))
    return jax.vmap(one)(flat_n, flat_e).reshape(n.shape[:-2])


def test_engine_probabilities_equal_standalone_laplace(runs):
    ds = runs["null"]
    ref = np.asarray(_p_better(jnp.asarray(ds.n.values, dtype=float), jnp.asarray(ds.events.values)))
    pb = ds.p_best.sel(arm="trt").values
    ok = np.isfinite(pb)
    assert ok[:, 0].all() and ok.sum() > N_TRIALS
    np.testing.assert_allclose(pb[ok], ref[ok], rtol=0, atol=1e-8)


def _independent_rate(odds_ratio, seed):
    """The same design without the engine: coin-flip randomisation, strata 1:1, Bernoulli outcomes."""
    rng = np.random.default_rng(seed)
    r = _rates(odds_ratio)
    arm = rng.integers(0, 2, (N_TRIALS, 400))
    strat = rng.integers(0, 2, (N_TRIALS, 400))
    y = (rng.random((N_TRIALS, 400)) < r[strat, arm]).astype(float)
    cells = [(arm == a) & (strat == s) for a in (0, 1) for s in (0, 1)]
    n = np.stack([np.stack([c[:, :m].sum(1) for c in cells], -1) for m in (200, 400)], 1).reshape(N_TRIALS, 2, 2, 2)
    ev = np.stack([np.stack([(c * y)[:, :m].sum(1) for c in cells], -1) for m in (200, 400)], 1)
    p = np.asarray(_p_better(jnp.asarray(n, dtype=float), jnp.asarray(ev.reshape(N_TRIALS, 2, 2, 2))))
    return float(np.mean(np.any(p > 0.99, axis=1)))


@pytest.mark.parametrize(
    ("name", "odds_ratio", "seed"), [("null", 1.0, 21), pytest.param("alt", OR_ALT, 22, marks=pytest.mark.slow)]
)
def test_rejection_rate_matches_independent_simulation(runs, name, odds_ratio, seed):
    # null: type-I error ~0.015 (2 looks at 0.99), SE of the difference ~0.0027; alt: power ~0.6, SE ~0.011
    rate = float(np.mean(runs[name].trial_outcome.values == 1))
    ref = _independent_rate(odds_ratio, seed)
    se = np.sqrt(2 * ref * (1 - ref) / N_TRIALS)
    assert abs(rate - ref) < 3 * se, (rate, ref, se)


def test_alternative_power_and_direction(runs):
    alt = runs["alt"]
    won = alt.trial_outcome.values == 1
    assert won.mean() > 0.4 and np.all(alt.superior_arm.values[won] == 1)
    assert float(np.mean(runs["harm"].trial_outcome.values == 1)) < 0.002


def test_records_path_equals_standalone_per_patient_fit():
    # the covariate analysis on hand-made patient records (some not yet complete) = the analyses function
    rng = np.random.default_rng(5)
    n_pat = 120
    arm = rng.integers(0, 3, n_pat)
    x = rng.standard_normal((n_pat, 2))
    stratum = rng.integers(0, 2, n_pat)
    y = (rng.random(n_pat) < 1 / (1 + np.exp(-(0.3 * x[:, 0] - 0.5 * (arm == 2))))).astype(float)
    w = (np.arange(n_pat) < 100).astype(float)
    rec = dict(arm=jnp.asarray(arm), y=jnp.asarray(y), w=jnp.asarray(w), stratum=jnp.asarray(stratum), x=jnp.asarray(x))
    act = jnp.ones(3, dtype=bool)
    an = LogisticAnalysis(higher_is_better=True, control_arm=1, n_covariates=2, n_strata=2, prior_sd=2.0)
    z = jnp.zeros(3)
    ctx, better = jax.jit(lambda r: (lambda c: (c, an.vs_control(c, act, 1)[0]))(an.prepare(z, z, act, records=r)))(rec)
    ref = logistic_treatment_posterior(
        jnp.asarray(y[:100]),
        jnp.asarray(np.stack([arm[:100] == 0, arm[:100] == 2], 1).astype(float)),
        covariates=jnp.asarray(x[:100]),
        stratum=jnp.asarray(stratum[:100]),
        n_strata=2,
        prior_sd_treatment=2.0,
        prior_sd_other=2.0,
    )
    np.testing.assert_allclose(np.asarray(better)[[0, 2]], ref.prob_positive, atol=1e-10)
    np.testing.assert_allclose(np.asarray(ctx["mean"])[[0, 2]], ref.mean, atol=1e-10)


def test_covariate_path_equals_strata_path_in_the_engine():
    # Table A: one stratum and a 0/1 biomarker b; table B: the same patients with b as the stratum. Both are sorted
    # by b, so the engine draws the same patients. With vague priors "intercept + trt + standardised b" (per-patient
    # records) and "intercept + trt + stratum" (counts) have the same likelihood: the probabilities agree.
    out = _table(OR_ALT, 8)
    y, b = np.asarray(out.outcome), np.asarray(out.stratum)
    a = PotentialOutcomes(
        outcome=jnp.asarray(y),
        stratum=jnp.zeros(len(b), jnp.int32),
        arms=out.arms,
        strata=("all",),
        biomarkers=jnp.asarray(b[:, None], dtype=float),
        biomarker_names=("b",),
    )
    with_cov = dict(DESIGN, analysis=dict(model="logistic", prior_sd=PRIOR_SD, covariates=["b"]))
    ra = run_trials(a, with_cov, n_trials=40, key=stage_key(8, "trials"), chunk_size=40)
    rb = run_trials(out, DESIGN, n_trials=40, key=stage_key(8, "trials"), chunk_size=2000)  # the fixture's compilation
    np.testing.assert_array_equal(ra.n.sum("stratum").values, rb.n.sum("stratum").values)
    np.testing.assert_allclose(ra.p_best.values, rb.p_best.values, atol=1e-6)
    assert np.all(ra.trial_outcome.values == rb.trial_outcome.values)


def test_logistic_config_errors():
    with pytest.raises(ConfigError, match="design.control"):
        design_from_dict(dict(DESIGN, control=None))
    with pytest.raises(ConfigError, match="design.analysis.covariates"):
        design_from_dict(dict(DESIGN, analysis=dict(model="beta_binomial", covariates=["b"])))
    with pytest.raises(ConfigError, match="design.analysis.method"):
        design_from_dict(dict(DESIGN, analysis=dict(model="logistic", method="frequentist")))
    with pytest.raises(ConfigError, match="design.stopping.per_stratum"):
        design_from_dict(
            dict(
                DESIGN,
                strata=["S0", "S1"],
                analysis=dict(model="logistic", covariates=["b"]),
                stopping=dict(per_stratum=True),
            )
        )
    out = _table(1.0, 1)
    with pytest.raises(ConfigError, match=r"design.analysis.covariates\[0\]"):
        run_trials(
            out,
            dict(DESIGN, analysis=dict(model="logistic", covariates=["ferritin"])),
            n_trials=1,
            key=stage_key(1, "t"),
        )
