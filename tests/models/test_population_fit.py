"""Population model, stage 1 (Fit 1) pieces: targets data, importance weights, likelihoods, gates, shipped posterior."""

import re
from pathlib import Path

import arviz as az
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import yaml
from numpyro.infer import Predictive
from scipy import stats

from sepsim._errors import DataFileError
from sepsim.models.population import HyperPrior, Population, default_posterior_path, latent_space, log_density
from sepsim.models.population._latent import (
    EFFECT_COVARIATES,
    FIXED_EFFECTS,
    population,
    sample_hyper,
    theta_from_noise,
    to_natural,
)
from sepsim.models.population.fit import load_targets
from sepsim.models.population.fit._library import DEFENSIVE_SHARE, DEFENSIVE_WIDTH, Proposal, log_proposal
from sepsim.models.population.fit._likelihood import _log_binom_cdf, ess_floor_penalty, weighted_statistic
from sepsim.models.population.fit._report import Gates, check_gates

SHARED = Path("/work/shared/science/calibration_targets.yaml")


def _corr(cov):
    s = np.sqrt(np.diag(cov))
    return cov / np.outer(s, s)


def test_targets_cite_calibration_targets_and_their_counts():
    """Every target id exists in calibration_targets.yaml and its counts are the ones printed there."""
    targets = load_targets()
    assert {t.id.split("/")[0] for t in targets} >= {"IS-02", "IS-06", "IS-08p", "IS-19", "PR-02"}
    if not SHARED.is_file():
        pytest.skip("calibration_targets.yaml not available on this machine")
    rows = {r["id"]: str(r["value"]) for r in yaml.safe_load(SHARED.read_text())}
    for t in targets:
        text = rows[t.id.split("/")[0]]
        if t.kind == "binomial" and t.id.startswith(("IS-06", "IS-08p", "IS-05")):
            assert f"{t.counts[0]}/{t.n}" in text, t.id
        if t.kind == "multinomial" and t.id == "PR-02":
            assert all(str(k) in text for k in (103, 89, 48))
        if t.kind == "median":
            assert re.search(rf"median baseline SOFA {t.value:g}", text)


def test_bad_targets_file_names_the_target(tmp_path):
    bad = tmp_path / "t.yaml"
    bad.write_text(
        "populations: {a: {shock: [1]}}\n"
        "targets:\n - {id: X-1, source: s, population: a, kind: binomial, statistic: responder, arm: placebo,"
        " k: 9, n: 4}\n"
    )
    with pytest.raises(DataFileError, match=r"X-1.*0 <= k <= n"):
        load_targets(bad)
    bad.write_text("populations: {}\ntargets:\n - {id: X-2, source: s, population: b, kind: binomial, statistic: r}\n")
    with pytest.raises(DataFileError, match=r"X-2.*unknown population"):
        load_targets(bad)


def test_weighted_statistic_is_the_exact_weighted_mean_and_kish_ess():
    rng = np.random.default_rng(0)
    lw = rng.normal(size=200)
    mask = rng.random(200) < 0.6
    y = np.stack([rng.random(200) < 0.3, rng.random(200) < 0.5], 1).astype(float)
    p, ess = weighted_statistic(jnp.asarray(lw), jnp.asarray(mask), jnp.asarray(y))
    w = np.exp(lw[mask])
    np.testing.assert_allclose(p, (w @ y[mask]) / w.sum(), rtol=1e-12)
    assert float(ess) == pytest.approx(w.sum() ** 2 / (w**2).sum(), rel=1e-12)
    p0, ess0 = weighted_statistic(jnp.zeros(200), jnp.asarray(mask), jnp.asarray(y))  # equal weights
    np.testing.assert_allclose(p0, y[mask].mean(0), rtol=1e-12)
    assert float(ess0) == pytest.approx(mask.sum())


def test_binomial_cdf_matches_scipy():
    for k, n, p in [(137, 276, 0.45), (3, 25, 0.2), (0, 10, 0.01), (24, 25, 0.9)]:
        assert float(_log_binom_cdf(float(k), n, jnp.asarray(p))) == pytest.approx(
            stats.binom.logcdf(k, n, p), rel=1e-9
        )


def test_log_density_and_proposal_against_scipy():
    space = latent_space()
    d = space.dim
    rng = np.random.default_rng(1)
    a = rng.normal(size=(d, d))
    corr = _corr(a @ a.T + d * np.eye(d))
    pops = [
        Population(
            jnp.asarray(space.centre + 0.1 * i),
            jnp.asarray(space.scale),
            jnp.asarray(np.linalg.cholesky(corr)),
            jnp.asarray(0.1 * np.ones((d, 2))),
        )
        for i in range(2)
    ]
    theta = space.centre + rng.normal(size=(5, d)) * space.scale
    x = rng.normal(size=(5, 2))
    cov = np.diag(space.scale) @ corr @ np.diag(space.scale)
    ref = [
        stats.multivariate_normal(np.zeros(d), cov).logpdf(theta - np.asarray(p.mu) - x @ np.asarray(p.beta).T)
        for p in pops
    ]
    np.testing.assert_allclose(log_density(pops[0], jnp.asarray(theta), jnp.asarray(x)), ref[0], rtol=1e-10)
    prop = Proposal(*(np.stack([np.asarray(getattr(p, f)) for p in pops]) for f in ("mu", "sd", "corr_chol", "beta")))
    broad = stats.norm.logpdf(theta, space.centre, DEFENSIVE_WIDTH * space.scale).sum(1)
    mix = np.log(0.5 * np.exp(ref[0]) + 0.5 * np.exp(ref[1]))
    expected = np.log((1 - DEFENSIVE_SHARE) * np.exp(mix) + DEFENSIVE_SHARE * np.exp(broad))
    np.testing.assert_allclose(log_proposal(prop, space, theta, x), expected, rtol=1e-9)


def _idata(offset: float, diverging: int = 0) -> az.InferenceData:
    rng = np.random.default_rng(3)
    draws = {"shift": rng.normal(size=(4, 1000, 3)) + offset * np.arange(4)[:, None, None]}
    div = np.zeros((4, 1000), bool)
    div[0, :diverging] = True
    return az.from_dict(posterior=draws, sample_stats={"diverging": div}, dims={"shift": ["fitted"]})


def test_gates_pass_iid_draws_and_fail_stuck_chains_or_divergences():
    assert check_gates(_idata(0.0)).passed
    stuck = check_gates(_idata(1.0))
    assert not stuck.passed and stuck.max_rhat > 1.01 and "DID NOT CONVERGE" in stuck.describe()
    assert not check_gates(_idata(0.0, diverging=2)).passed
    # the tail-ESS gate binds on its own (issue 11: bulk AND tail ESS >= 400)
    assert Gates(1.001, 900.0, 399.0, 0).passed is False and Gates(1.001, 900.0, 400.0, 0).passed is True


def test_shipped_posterior_opens_with_plain_arviz_and_passes_the_gates():
    """The committed posterior (the default population's) is plain InferenceData with all six groups, samples the
    fitted mean shifts, and passes every convergence gate (R-hat <= 1.01, bulk and tail ESS >= 400, 0 divergences)."""
    idata = az.from_netcdf(default_posterior_path())
    for group in ("posterior", "sample_stats", "prior", "prior_predictive", "posterior_predictive", "observed_data"):
        assert group in idata.groups(), group
    assert list(idata.posterior["fitted"].values) == list(HyperPrior().fitted)
    assert idata.posterior["shift"].dims == ("chain", "draw", "fitted") and idata.posterior.sizes["chain"] >= 2
    gates = check_gates(idata)
    assert gates.passed, gates.describe()
    assert list(idata.posterior["param"].values) == list(latent_space().names)
    corr = idata.posterior["corr"].values
    np.testing.assert_allclose(np.diagonal(corr, axis1=-2, axis2=-1), 1.0, atol=1e-9)
    # every observed target has its replicate in both predictive groups
    for name in idata.observed_data.data_vars:
        assert name in idata.posterior_predictive and name in idata.prior_predictive, name
    jax.block_until_ready(jnp.zeros(()))


def test_only_the_fitted_mean_shifts_are_free():
    """Prior draws: mu moves only at HyperPrior.fitted (c0 + tau s0 shift); sd = s0, corr = I, beta fixed (zero but
    the cited shock effect on o_base)."""
    space = latent_space()
    prior = HyperPrior()
    draws = Predictive(lambda: sample_hyper(space, prior), num_samples=50)(jax.random.key(0))
    assert [k for k in draws if draws[k].shape[0] == 50 and k == "shift"] == ["shift"]
    idx = np.array([space.names.index(n) for n in prior.fitted])
    free = np.zeros(space.dim, bool)
    free[idx] = True
    mu, shift = np.asarray(draws["mu"]), np.asarray(draws["shift"])
    np.testing.assert_allclose(mu[:, idx], space.centre[idx] + prior.tau_mu * space.scale[idx] * shift, rtol=1e-12)
    np.testing.assert_allclose(mu[:, ~free], np.broadcast_to(space.centre[~free], (50, (~free).sum())), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(draws["sd"]), np.broadcast_to(space.scale, (50, space.dim)), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(draws["corr"]), np.broadcast_to(np.eye(space.dim), (50,) + (space.dim,) * 2))
    beta = np.asarray(draws["beta"])
    j, c = space.names.index("o_base"), EFFECT_COVARIATES.index("shock")
    np.testing.assert_allclose(beta[:, j, c], FIXED_EFFECTS[("o_base", "shock")], rtol=1e-12)
    assert not np.delete(beta.reshape(50, -1), j * len(EFFECT_COVARIATES) + c, axis=1).any()
    pop = population(space, {"shift": draws["shift"][3]}, prior)
    np.testing.assert_allclose(np.asarray(pop.mu), mu[3], rtol=1e-12)
    with pytest.raises(ValueError, match="not_a_parameter"):
        Predictive(lambda: sample_hyper(space, HyperPrior(fitted=("not_a_parameter",))), num_samples=1)(
            jax.random.key(0)
        )


def test_ess_floor_penalty_is_zero_above_the_floor_and_a_quadratic_wall_below():
    assert float(ess_floor_penalty(jnp.asarray(80.0), 50.0)) == 0.0
    assert float(ess_floor_penalty(jnp.asarray(50.0), 50.0)) == 0.0
    assert float(ess_floor_penalty(jnp.asarray(25.0), 50.0)) == pytest.approx(-0.5 * (np.log(2) / 0.25) ** 2)
    assert float(ess_floor_penalty(jnp.asarray(1.0), 0.0)) == 0.0


def test_library_arms_are_the_immunosep_study_regimens():
    """Fit 1 calibrates under the regimens the ImmunoSep study gives (IS-18: 15 days), not the therapy defaults."""
    from sepsim.config import build_arms
    from sepsim.models.population.fit._library import ARM_CONFIG

    study = yaml.safe_load((Path(__file__).parents[2] / "experiments" / "immunosep.yaml").read_text())["arms"]
    assert set(ARM_CONFIG) == {"placebo", *study}
    for name, cfg in study.items():
        assert ARM_CONFIG[name] == cfg, name
    assert len(build_arms(ARM_CONFIG)) == 3  # and they build


def test_septic_shock_raises_the_septic_sofa_floor_by_the_cited_cardiovascular_points():
    """Same base noise, shock vs no shock: o_base rises by ~2.5 SOFA points about the centre of its range (SOFA
    cardiovascular component 3-4 on vasopressors vs 0-1 without, Vincent 1996); no other parameter moves."""
    space = latent_space()
    pop = population(space, {"shift": np.zeros(len(HyperPrior().fitted))})
    z = np.zeros((2, space.dim))
    shock = np.array([[1.0 - 0.3, 0.0], [0.0 - 0.3, 0.0]])  # centred covariates (shock - 0.3, age z-score 0)
    nat = np.asarray(to_natural(space, theta_from_noise(pop, jnp.asarray(shock), jnp.asarray(z))))
    j = space.names.index("o_base")
    sigmoid = lambda u: 1.0 / (1.0 + np.exp(-u))  # noqa: E731
    expected = 5.0 * (sigmoid(2.0 * 0.7) - sigmoid(-2.0 * 0.3))  # range [3, 8], centre 0, effect 2.0 logit units
    np.testing.assert_allclose(nat[0, j] - nat[1, j], expected, rtol=1e-10)
    assert 2.2 < expected < 2.3
    np.testing.assert_allclose(np.delete(nat[0], j), np.delete(nat[1], j), rtol=1e-12)
