"""Simulation-based calibration of Fit 2: the replicate simulator, the vmapped NUTS and rank wiring (fast), the CLI,
and the 200-replicate run through the ODE (slow)."""

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
import pytest
from numpyro.handlers import uncondition
from numpyro.infer import Predictive
from scipy import stats

from sepsim._errors import ConfigError
from sepsim.models._outcomes import _BIOMARKER_STATE, ASSAY_CV
from sepsim.models.population import __main__ as cli
from sepsim.models.population import latent_space
from sepsim.models.population.fit_data import _model
from sepsim.models.population.fit_data import _sbc as sbc2
from sepsim.models.population.sbc import NutsSettings, nuts_replicates, rank_table, sbc_verdict

jax.config.update("jax_enable_x64", True)
SCHEDULE = (0.0, 12.0, 24.0)


def test_template_measures_every_biomarker_at_every_time():
    obs = sbc2.sbc_template(2, SCHEDULE)
    n_obs = len(SCHEDULE) * len(_BIOMARKER_STATE)
    assert obs.n_patients == 2 and obs.log_value.shape == (2, n_obs) and bool(obs.mask.all())
    np.testing.assert_array_equal(obs.times, np.tile(SCHEDULE, (2, 1)))
    for var, k in _BIOMARKER_STATE.items():
        at = np.asarray(obs.state_index[0]) == k
        assert at.sum() == len(SCHEDULE)
        np.testing.assert_allclose(np.asarray(obs.sigma[0])[at], np.sqrt(np.log1p(ASSAY_CV[var] ** 2)))
    with pytest.raises(ValueError, match="schedule"):
        sbc2.sbc_template(2, (-6.0, 0.0))


def _fake_predict(natural, names, o, config):
    """A known stand-in for the ODE: log state = 1.5 log theta_0 + log theta_1 + 0.01 t; 'fails' when
    log theta_0 > its prior centre + 1 prior scale."""
    th = jnp.log(natural)
    rows = jnp.arange(natural.shape[0])[:, None]
    pred = 1.5 * th[:, :1] + th[:, 1:] + 0.01 * o.times[rows, o.time_index]
    return pred, th[:, 0] < _CUT


_SPACE = latent_space()
_IDX = [_SPACE.names.index(n) for n in _model.DATA_FITTED]
_C0, _S0 = _SPACE.centre[_IDX], _SPACE.scale[_IDX]
_CUT = float(_C0[0] + _S0[0])


def test_replicates_are_the_model_run_forwards_with_failed_solves_rejected(monkeypatch):
    """Shapes of a replicate are the model's; each replicate's data are lognormal around the prediction of *its own*
    true theta with the assay sd (chi-square of the standardised residuals, two-sided false alarm 0.2%; against a
    neighbour replicate's theta they are not); theta ~ N(mu, sd) likewise; every kept replicate solved."""
    monkeypatch.setattr(_model, "predict_log_states", _fake_predict)
    monkeypatch.setattr(sbc2, "predict_log_states", _fake_predict)
    tpl = sbc2.sbc_template(2, SCHEDULE)
    n = 200
    with jax.numpy_dtype_promotion("standard"):
        sim, rejected = sbc2.simulate_replicates(tpl, n, jax.random.key(4))
    assert sim["mu_fit"].shape == (n, 2) and sim["sd_fit"].shape == (n, 2) and sim["theta"].shape == (n, 2, 2)
    assert sim["log_value"].shape == (n, *tpl.log_value.shape) and np.all(sim["sd_fit"] > 0)
    assert np.all(sim["theta"][..., 0] < _CUT)  # rejected: a failed solve has no likelihood
    assert 0.05 < rejected < 0.9, rejected

    def chi2_sf(theta):
        pred = jax.vmap(lambda t: _fake_predict(jnp.exp(t), None, tpl, None)[0])(jnp.asarray(theta))
        z = (sim["log_value"] - np.asarray(pred)) / np.asarray(tpl.sigma)
        return stats.chi2.sf((z**2).sum(), z.size)

    assert 1e-3 < chi2_sf(sim["theta"]) < 1 - 1e-3
    assert chi2_sf(np.roll(sim["theta"], 1, axis=0)) < 1e-6  # the data are not some other replicate's
    # rejection truncates theta_0 from above, so test the hierarchy on theta_1 (not truncated given mu, sd)
    z = (sim["theta"][..., 1] - sim["mu_fit"][:, None, 1]) / sim["sd_fit"][:, None, 1]
    assert 1e-3 < stats.chi2.sf((z**2).sum(), z.size) < 1 - 1e-3


def _toy(y=None):
    mu = numpyro.sample("mu", dist.Normal(0.0, 1.0))
    s = numpyro.sample("s", dist.HalfNormal(1.0))
    with numpyro.plate("j", 6):
        numpyro.sample("y", dist.Normal(mu, s), obs=y)


@pytest.mark.slow  # ~40 s on 2 shared cores, mostly the NUTS compile
def test_vmapped_nuts_ranks_are_uniform_and_detect_a_misspecified_prior():
    """The shared SBC machinery on a small model with a positive site (exercises the constraining transform), one
    vmapped call: 100 replicates simulated from the model pass at family-wise alpha 0.05 (fixed seeds); 100 whose
    true mu was drawn from N(0, 3^2) instead of the model's N(0, 1) (the fit shrinks it too far) leave mu's band."""
    with jax.numpy_dtype_promotion("standard"):
        good = Predictive(uncondition(_toy), num_samples=100)(jax.random.key(0))
        wide = Predictive(uncondition(_toy), num_samples=100)(jax.random.key(2))
    mu_wide = 3.0 * np.asarray(wide["mu"])
    y_wide = np.asarray(wide["y"]) + (mu_wide - np.asarray(wide["mu"]))[:, None]  # same noise, wider mu
    data = {"y": jnp.concatenate([good["y"], jnp.asarray(y_wide)])}
    settings = NutsSettings(60, 100, 2, 4, 0.8, dense_mass=False, batch=200)
    init = {"mu": jnp.asarray(0.0), "s": jnp.asarray(1.0)}
    fits = nuts_replicates(_toy, data, init, settings, jax.random.key(1))
    assert fits.draws["mu"].shape == (200, 50) and np.all(fits.draws["s"] > 0) and fits.divergences.shape == (200,)
    truth = {"mu": np.concatenate([good["mu"], mu_wide]), "s": np.concatenate([good["s"], wide["s"]])}
    ranks, names = rank_table(truth, fits.draws)
    assert names == ("mu", "s") and ranks.shape == (200, 2)
    v = sbc_verdict(ranks[:100], 50, 0.05)
    assert v.passed, v.min_tail
    assert not sbc_verdict(ranks[100:], 50, 0.05).inside[0]


def _toy_shifted(shift, y=None):
    mu = numpyro.sample("mu", dist.Normal(0.0, 1.0))
    numpyro.deterministic("mu_shifted", mu + shift)
    with numpyro.plate("j", 6):
        numpyro.sample("y", dist.Normal(mu, 1.0), obs=y)


def test_vmapped_nuts_passes_each_replicate_its_constants_and_returns_deterministic_sites():
    """Per-replicate constants (``args``) reach the model, and deterministic sites come back with the draws: the
    shifted site equals each replicate's own draws plus its own shift."""
    shift = jnp.asarray([0.0, 10.0, -5.0])
    data = {"y": jnp.asarray(np.random.default_rng(0).normal(size=(3, 6)))}
    settings = NutsSettings(10, 10, 2, 3, 0.8, dense_mass=False, batch=3)
    fits = nuts_replicates(
        _toy_shifted, data, {"mu": jnp.asarray(0.0)}, settings, jax.random.key(0), args={"shift": shift}
    )
    assert fits.draws["mu"].shape == fits.draws["mu_shifted"].shape == (3, 5)
    np.testing.assert_allclose(fits.draws["mu_shifted"], fits.draws["mu"] + np.asarray(shift)[:, None], atol=1e-12)


def test_rank_table_counts_and_names():
    rng = np.random.default_rng(0)
    truth = {"a": rng.normal(size=(5, 2)), "b": rng.normal(size=5)}
    draws = {"a": rng.normal(size=(5, 7, 2)), "b": rng.normal(size=(5, 7))}
    ranks, names = rank_table(truth, draws, {"a": ["x", "y"]})
    assert names == ("a[x]", "a[y]", "b")
    np.testing.assert_array_equal(ranks[:, 1], (draws["a"][:, :, 1] < truth["a"][:, None, 1]).sum(axis=1))
    with pytest.raises(ValueError, match="'b'"):
        rank_table({"b": truth["b"]}, {"b": draws["b"][:, :, None]})


def test_cli_settings_take_effect_and_bad_settings_name_their_key(monkeypatch):
    seen = {}
    monkeypatch.setattr(sbc2, "report_fit2_sbc", lambda cfg, fig: seen.update(cfg=cfg, fig=fig) or True)
    argv = ["sbc-data", "--replicates", "7", "--patients", "3", "--warmup", "11", "--samples", "12", "--thin", "3"]
    argv += [
        "--max-tree-depth",
        "4",
        "--batch",
        "5",
        "--seed",
        "9",
        "--figure",
        "x.png",
        "--parameterisation",
        "centred",
    ]
    assert cli.main(argv) == 0
    got = seen["cfg"]
    assert (got.replicates, got.patients, got.num_warmup, got.num_samples, got.thin) == (7, 3, 11, 12, 3)
    assert (got.max_tree_depth, got.batch, got.seed, seen["fig"]) == (4, 5, 9, "x.png")
    assert got.nuts.draws == 4 and got.solver.rtol == got.rtol and got.parameterisation == "centred"
    with pytest.raises(ConfigError, match="sbc-data.parameterisation"):
        sbc2.Fit2SbcConfig(parameterisation="noncentred").validate()
    with pytest.raises(ConfigError, match="sbc-data.thin"):
        sbc2.Fit2SbcConfig(num_samples=100, thin=3).validate()
    with pytest.raises(ConfigError, match="sbc-data.patients"):
        sbc2.run_fit2_sbc(sbc2.Fit2SbcConfig(patients=0))


@pytest.mark.slow
def test_fit2_sbc_rank_ecdf_inside_simultaneous_bands():
    """Fit 2 SBC at its reduced configuration (200 replicates; README_population.md, "Simulation-based calibration").

    Fails when any rank ECDF (mu_fit, sd_fit, both patients' theta) leaves its band (family-wise false-alarm rate
    5%, Bonferroni), when any transition diverges, or when the looser solver tolerance moves a predicted biomarker
    by more than 5% of its assay sd against the default DATA_SOLVER on the replicates' true parameters."""
    cfg = sbc2.Fit2SbcConfig()
    tpl = sbc2.sbc_template(cfg.patients, cfg.schedule_h)
    sim, _ = sbc2.simulate_replicates(tpl, cfg.replicates, sbc2.stage_key(cfg.seed, "sbc2-simulate"), solver=cfg.solver)
    assert sbc2.solver_error(sim["theta"], tpl, cfg.solver).max() < 0.05
    res = sbc2.run_fit2_sbc(cfg)
    assert res.ranks.shape == (200, len(_model.DATA_FITTED) * (2 + cfg.patients))
    assert res.divergences.sum() == 0
    assert res.verdict.passed, dict(zip(res.names, res.verdict.min_tail, strict=True))
