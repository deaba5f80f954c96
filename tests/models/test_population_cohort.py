"""Population model, stage 2: covariates, inclusion criteria and cohorts from a posterior (no ODE solves)."""

import warnings

import arviz as az
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sepsim._errors import ConfigError
from sepsim._keys import index_keys, stage_key
from sepsim.models import CohortConfig, simulate_cohort
from sepsim.models._params import sample_parameters, sampled_names
from sepsim.models.population import EFFECT_COVARIATES, INFECTION_SITES, latent_space, to_natural
from sepsim.models.population._covariates import SHOCK_BY_SITE, SITE_SHARES
from sepsim.models.population._latent import effect_covariates

KEY = stage_key(5, "cohort")


def _corr(cov):
    s = np.sqrt(np.diag(cov))
    return cov / np.outer(s, s)


def test_prior_source_keeps_the_plausible_range_draw():
    """``source="prior"`` keeps the plausible-range draw from the same per-patient keys (population=prior)."""
    c = simulate_cohort(6, key=KEY, start=10, config=CohortConfig(source="prior"))
    keys = index_keys(KEY, 10, 6)
    for i in range(6):
        expected = sample_parameters(jax.random.split(keys[i], 3)[0])
        for name in sampled_names():
            assert float(c[name].values[i]) == pytest.approx(float(expected[name]), rel=1e-12)
    assert list(c.patient.values) == list(range(10, 16))


def test_library_default_is_the_calibrated_posterior():
    """simulate_cohort without a config draws from the shipped posterior, as the CLI's default population does."""
    default = simulate_cohort(4, key=KEY)
    assert default.attrs["parameter_source"] == "posterior"
    posterior = simulate_cohort(4, key=KEY, config=CohortConfig(source="posterior"))
    for name in sampled_names():
        np.testing.assert_array_equal(default[name].values, posterior[name].values)


def test_heterogeneity_subset_is_read_from_patient_yaml():
    assert latent_space().names == sampled_names()


def test_covariate_shares_match_their_sources():
    """Site shares (GC-04 split) and shock given site (PMC8508729): each within 4 binomial SE at n = 20000."""
    c = simulate_cohort(20_000, key=KEY)
    site = c.infection_site.values
    assert c.infection_site.attrs["flag_meanings"].split() == list(INFECTION_SITES)
    for s, p in enumerate(SITE_SHARES):
        assert abs((site == s).mean() - p) < 4 * np.sqrt(p * (1 - p) / site.size)
        shock = c.shock.values[site == s]
        q = SHOCK_BY_SITE[s]
        assert abs(shock.mean() - q) < 4 * np.sqrt(q * (1 - q) / shock.size)
    assert c.charlson.dtype.kind == "i" and c.charlson.min() >= 0
    assert (c.igg_g_l > 0).all() and (c.onset_to_screen_h <= 48).all()


def test_inclusion_selects_from_one_virtual_population():
    """A restricted cohort is the eligible subset of the unrestricted one: same global indices, same patients."""
    everyone = simulate_cohort(600, key=KEY)
    shock = simulate_cohort(40, key=KEY, config=CohortConfig(inclusion={"shock": [1], "infection_site": [0, 1, 2, 3]}))
    eligible = everyone.where((everyone.shock == 1) & (everyone.infection_site < 4), drop=True)
    assert list(shock.patient.values) == list(eligible.patient.values[:40])
    np.testing.assert_array_equal(shock.kpg.values, eligible.kpg.values[:40])
    aged = simulate_cohort(30, key=KEY, config=CohortConfig(inclusion={"age": [75, 80]}))
    assert ((aged.age >= 75) & (aged.age <= 80)).all()


@pytest.mark.parametrize(
    "inclusion, key",
    [({"blood_group": [1]}, "population.inclusion.blood_group"), ({"age": [80, 70]}, "population.inclusion.age")],
)
def test_bad_inclusion_names_the_key(inclusion, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        simulate_cohort(3, key=KEY, config=CohortConfig(inclusion=inclusion))


def _write_posterior(path, drop=None, seed=0):
    """A small synthetic posterior (1 chain, 3 draws) in the layout the fit writes."""
    space = latent_space()
    names = [n for n in space.names if n != drop]
    idx = [space.names.index(n) for n in names]
    d, k = len(names), len(EFFECT_COVARIATES)
    rng = np.random.default_rng(seed)
    mu = space.centre[idx] + 0.1 * rng.standard_normal((1, 3, d))
    sd = 0.5 * space.scale[idx] * np.ones((1, 3, d))
    a = rng.standard_normal((d, d))
    chol = np.linalg.cholesky(_corr(a @ a.T + d * np.eye(d)))
    post = {"mu": mu, "sd": sd, "corr_chol": np.broadcast_to(chol, (1, 3, d, d)), "beta": 0.2 * np.ones((1, 3, d, k))}
    dims = {"mu": ["param"], "sd": ["param"], "corr_chol": ["param", "param_"], "beta": ["param", "covariate"]}
    coords = {"param": names, "param_": names, "covariate": list(EFFECT_COVARIATES)}
    az.from_dict(posterior=post, dims=dims, coords=coords).to_netcdf(str(path), engine="h5netcdf")
    return mu[0], sd[0], chol, names


def test_posterior_cohort_is_the_non_centred_population(tmp_path):
    """theta_i = mu + B x_i + diag(sd) L z_i exactly, from the cohort's own z_i, covariates and posterior draw."""
    path = tmp_path / "post.nc"
    mu, sd, chol, names = _write_posterior(path)
    cfg = CohortConfig(source="posterior", posterior_file=str(path), posterior_draw=1)
    c = simulate_cohort(50, key=KEY, config=cfg)
    space = latent_space()
    x = np.asarray(effect_covariates(c.shock.values, c.age.values))
    z = c.crn_latent.sel(latent=names).values
    theta = mu[1] + x @ (0.2 * np.ones((len(names), 2))).T + z @ (sd[1][:, None] * chol).T
    expected = np.asarray(to_natural(space, jnp.asarray(theta)))
    for j, name in enumerate(names):
        np.testing.assert_allclose(c[name].values, expected[:, j], rtol=1e-10)
    assert (c.posterior_draw == 1).all()
    # per-patient draws: every draw used, and a patient's values do not depend on the cohort size
    c2 = simulate_cohort(300, key=KEY, config=cfg._replace(posterior_draw=None))
    assert set(np.unique(c2.posterior_draw.values)) == {0, 1, 2}
    c3 = simulate_cohort(20, key=KEY, config=cfg._replace(posterior_draw=None))
    np.testing.assert_array_equal(c3.kpg.values, c2.kpg.values[:20])


def test_posterior_without_a_new_parameter_warns_and_falls_back(tmp_path):
    """patient.yaml may gain a heterogeneity parameter after the fit: the cohort says so and draws it from its range."""
    space = latent_space()
    dropped = space.names[0]
    path = tmp_path / "old.nc"
    _write_posterior(path, drop=dropped)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        c = simulate_cohort(
            5, key=stage_key(9, "cohort"), config=CohortConfig(source="posterior", posterior_file=str(path))
        )
    assert any(dropped in str(w.message) for w in rec)
    prior = simulate_cohort(5, key=stage_key(9, "cohort"), config=CohortConfig(source="prior"))
    np.testing.assert_array_equal(c[dropped].values, prior[dropped].values)
    assert not np.array_equal(c[space.names[1]].values, prior[space.names[1]].values)
