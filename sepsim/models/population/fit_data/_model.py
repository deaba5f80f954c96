"""Fit 2: a hierarchical model of patient-level biomarker courses, NUTS through the ODE (diffrax inside numpyro).

For the parameters ``k`` of ``DataFitConfig.fitted`` (default ``a_il10``, the IL-10 production gain that drives
immunoparalysis, and ``k_il6``, IL-6 elimination; both ``sample: lognormal/loguniform`` entries of patient.yaml, so
log is their unconstrained coordinate), patient ``i`` has, centred (the site ``theta`` itself is sampled;
README_population.md says why not non-centred),

    theta_ik ~ N(mu_k, sd_k),   mu_k ~ N(c0_k, s0_k),   sd_k ~ HalfNormal(s0_k)

with ``c0``, ``s0`` the centre and scale of the plausible range (the population model's prior,
:func:`sepsim.models.population.latent_space`). The natural value ``exp(theta)`` is not clipped inside the fit
(a clip would give a flat likelihood outside the range); cohorts drawn from the fit clip it, as every cohort does.
The patient's other parameters stay at their patient.yaml values (a stated approximation of a subset fit), and
every biomarker measurement is lognormal around the model state with its assay CV (``_observations``).

The result is written in the population posterior's layout (``mu``, ``sd``, ``corr_chol``, ``beta`` over every
latent parameter; the unfitted ones at their prior centre and scale, no correlation, no covariate effect), so
``simulate_cohort`` draws a cohort from it exactly as from Fit 1.
"""

from __future__ import annotations

import time
from typing import Any, NamedTuple

import arviz as az
import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
from numpyro.infer import MCMC, NUTS

from .._latent import EFFECT_COVARIATES, fixed_effects_raw, latent_space
from ..fit._report import Gates, check_gates
from ._observations import DATA_SOLVER, Observations, predict_log_states

__all__ = ["DATA_FITTED", "DataFitConfig", "DataFitResult", "data_model", "run_data_fit", "data_inference_data"]

DATA_FITTED = ("a_il10", "k_il6")


class DataFitConfig(NamedTuple):
    """Fit 2 settings (NUTS through the ODE: every gradient solves every patient)."""

    fitted: tuple[str, ...] = DATA_FITTED
    num_warmup: int = 300
    num_samples: int = 300
    num_chains: int = 2
    seed: int = 0
    max_tree_depth: int = 6
    target_accept: float = 0.95  # 0.9 left a divergence on 4 synthetic patients (benchmarks/README.md)
    dense_mass: bool = True


DEFAULT_DATA_FIT = DataFitConfig()


class DataFitResult(NamedTuple):
    config: DataFitConfig
    obs: Observations
    mcmc: MCMC
    seconds: float


def _prior(fitted: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    space = latent_space()
    unknown = [n for n in fitted if n not in space.names]
    if unknown:
        raise ValueError(f"DataFitConfig.fitted names {unknown}, not sample: entries of patient.yaml")
    bad = [n for n in fitted if space.logit[space.names.index(n)]]
    if bad:
        raise ValueError(f"Fit 2 fits log-coordinate parameters only; {bad} are uniform (logit) entries")
    idx = [space.names.index(n) for n in fitted]
    return space.centre[idx], space.scale[idx]


def data_model(obs: Observations, fitted: tuple[str, ...] = DATA_FITTED, config: Any = DATA_SOLVER) -> None:
    """The numpyro model (sites ``mu_fit``, ``sd_fit``, ``theta``; factor ``solver_ok``; observed ``log_value``)."""
    c0, s0 = _prior(fitted)
    mu = numpyro.sample("mu_fit", dist.Normal(jnp.asarray(c0), jnp.asarray(s0)).to_event(1))
    sd = numpyro.sample("sd_fit", dist.HalfNormal(jnp.asarray(s0)).to_event(1))
    shape = (obs.n_patients, mu.shape[-1])  # explicit broadcasting (the tests make rank promotion an error)
    with numpyro.plate("patient", obs.n_patients):
        theta = numpyro.sample(
            "theta", dist.Normal(jnp.broadcast_to(mu, shape), jnp.broadcast_to(sd, shape)).to_event(1)
        )
    pred, ok = predict_log_states(jnp.exp(theta), fitted, obs, config)
    # a failed solve (max_steps) has no likelihood: reject the point rather than score garbage
    numpyro.factor("solver_ok", jnp.where(jnp.all(ok), 0.0, -jnp.inf))
    numpyro.sample(
        "log_value",
        dist.Normal(pred, jnp.broadcast_to(obs.sigma, pred.shape)).mask(obs.mask).to_event(2),
        obs=obs.log_value,
    )


def run_data_fit(obs: Observations, config: DataFitConfig = DEFAULT_DATA_FIT) -> DataFitResult:
    """NUTS (chains vectorised on one device) from the prior median; returns the sampler and its wall time."""
    c0, _ = _prior(config.fitted)
    init = {
        "mu_fit": jnp.asarray(c0),
        "sd_fit": jnp.asarray(0.5 * _prior(config.fitted)[1]),
        "theta": jnp.broadcast_to(jnp.asarray(c0), (obs.n_patients, len(config.fitted))),
    }
    kernel = NUTS(
        data_model,
        target_accept_prob=config.target_accept,
        max_tree_depth=config.max_tree_depth,
        dense_mass=config.dense_mass,
        init_strategy=numpyro.infer.init_to_value(values=init),
    )
    mcmc = MCMC(
        kernel,
        num_warmup=config.num_warmup,
        num_samples=config.num_samples,
        num_chains=config.num_chains,
        chain_method="vectorized",
        progress_bar=False,
    )
    t0 = time.monotonic()
    with jax.numpy_dtype_promotion("standard"):  # numpyro's NUTS internals mix int and float (fails under strict)
        mcmc.run(jax.random.key(config.seed), obs, config.fitted, extra_fields=("diverging", "num_steps"))
    return DataFitResult(config, obs, mcmc, time.monotonic() - t0)


def data_inference_data(result: DataFitResult) -> tuple[az.InferenceData, Gates]:
    """InferenceData (posterior with the full population layout, sample_stats, observed_data) and the gates over
    the hyper-parameters ``mu_fit`` and ``sd_fit``."""
    space = latent_space()
    fitted = result.config.fitted
    post = {k: np.asarray(v) for k, v in result.mcmc.get_samples(group_by_chain=True).items()}
    chains, draws = post["mu_fit"].shape[:2]
    idx = [space.names.index(n) for n in fitted]
    mu = np.broadcast_to(space.centre, (chains, draws, space.dim)).copy()
    sd = np.broadcast_to(space.scale, (chains, draws, space.dim)).copy()
    mu[..., idx], sd[..., idx] = post["mu_fit"], post["sd_fit"]
    d, k = space.dim, len(EFFECT_COVARIATES)
    post.update(
        mu=mu,
        sd=sd,
        corr_chol=np.broadcast_to(np.eye(d), (chains, draws, d, d)),
        beta=np.broadcast_to(space.scale[:, None] * fixed_effects_raw(space), (chains, draws, d, k)),
    )
    extra = result.mcmc.get_extra_fields(group_by_chain=True)
    idata = az.from_dict(
        posterior=post,
        sample_stats={"diverging": np.asarray(extra["diverging"]), "n_steps": np.asarray(extra["num_steps"])},
        observed_data={"log_value": np.where(result.obs.mask, result.obs.log_value, np.nan)},
        coords={
            "fitted": list(fitted),
            "patient": list(result.obs.patient_ids),
            "param": list(space.names),
            "param_": list(space.names),
            "covariate": list(EFFECT_COVARIATES),
        },
        dims={
            "mu_fit": ["fitted"],
            "sd_fit": ["fitted"],
            "theta": ["patient", "fitted"],
            "mu": ["param"],
            "sd": ["param"],
            "corr_chol": ["param", "param_"],
            "beta": ["param", "covariate"],
            "log_value": ["patient", "obs"],
        },
    )
    idata.posterior.attrs.update(
        {
            "method": "Fit 2: hierarchical NUTS through the ODE (sepsim.models.population.fit_data)",
            "fitted": " ".join(fitted),
        }
    )
    return idata, check_gates(idata, variables=("mu_fit", "sd_fit"))
