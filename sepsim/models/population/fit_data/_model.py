"""Fit 2: a hierarchical model of patient-level biomarker courses, NUTS through the ODE (diffrax inside numpyro).

For the parameters ``k`` of ``DataFitConfig.fitted`` (default ``a_il10``, the IL-10 production gain that drives
immunoparalysis, and ``k_il6``, IL-6 elimination; both ``sample: lognormal/loguniform`` entries of patient.yaml, so
log is their unconstrained coordinate), patient ``i`` has

    theta_ik ~ N(mu_k, sd_k),   mu_k ~ N(c0_k, s0_k),   sd_k ~ HalfNormal(s0_k)

with ``c0``, ``s0`` the centre and scale of the plausible range (the population model's prior,
:func:`sepsim.models.population.latent_space`). The natural value ``exp(theta)`` is not clipped inside the fit
(a clip would give a flat likelihood outside the range); cohorts drawn from the fit clip it, as every cohort does.
The patient's other parameters stay at their patient.yaml values (a stated approximation of a subset fit), and
every biomarker measurement is lognormal around the model state with its assay CV (``_observations``).

Two parameterisations of this one joint density (``DataFitConfig.parameterisation``):

- ``centred``: ``mu_fit``, ``sd_fit``, ``theta`` are the sampled sites. Good while every ``sd_k`` is well above the
  precision ``w`` with which a patient's own biomarkers pin its ``theta`` (~0.06 log units for ``a_il10``, ~0.1
  for ``k_il6`` with every biomarker at 0, 12 and 24 h); where the posterior reaches ``sd < w`` (few patients, a
  small true sd) it is a funnel and NUTS diverges (README_population.md, "Simulation-based calibration").
- ``whitened``: ``sd_fit`` and standard-normal-like sites ``mu_white``, ``theta_white`` are sampled, and
  ``mu = m(sd) + u_mu / sqrt(P(sd))``, ``theta_i = (mu w_i^2 + t_i sd^2) / (sd^2 + w_i^2) + u_i sd w_i /
  sqrt(sd^2 + w_i^2)``: the exact Gaussian conditionals of ``mu`` and ``theta_i`` given ``sd`` if patient ``i``'s
  likelihood were ``N(t_i | theta_i, w_i^2)``, with ``t_i``, ``w_i`` a per-patient Laplace estimate from its data
  (:func:`laplace_whitening`). The centred prior plus the log-Jacobian enter as one factor, so the posterior is the
  same for any constants ``t``, ``w``; the constants only shape the geometry, which is close to independent
  normals at every ``sd`` (no funnel at either end). ``mu_fit`` and ``theta`` are deterministic sites.

The result is written in the population posterior's layout (``mu``, ``sd``, ``corr_chol``, ``beta`` over every
latent parameter; the unfitted ones at their prior centre and scale, no correlation, no covariate effect), so
``simulate_cohort`` draws a cohort from it exactly as from Fit 1.
"""

from __future__ import annotations

import functools
import time
from typing import Any, NamedTuple

import arviz as az
import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
from jaxtyping import Array, Float
from numpyro.infer import MCMC, NUTS

from .._latent import EFFECT_COVARIATES, fixed_effects_raw, latent_space
from ..fit._report import Gates, check_gates
from ._observations import DATA_SOLVER, Observations, _one_patient, predict_log_states

__all__ = [
    "DATA_FITTED",
    "PARAMETERISATIONS",
    "DataFitConfig",
    "DataFitResult",
    "Whitening",
    "data_inference_data",
    "data_model",
    "initial_values",
    "laplace_whitening",
    "run_data_fit",
]

DATA_FITTED = ("a_il10", "k_il6")


class DataFitConfig(NamedTuple):
    """Fit 2 settings (NUTS through the ODE: every gradient solves every patient)."""

    fitted: tuple[str, ...] = DATA_FITTED
    num_warmup: int = 300
    num_samples: int = 400  # 300 left tail ESS at 381-401 (gate 400) on 8 synthetic patients (benchmarks/README.md)
    num_chains: int = 2
    seed: int = 0
    max_tree_depth: int = 6
    target_accept: float = 0.95  # 0.9 left a divergence on 4 synthetic patients (benchmarks/README.md)
    dense_mass: bool = True
    parameterisation: str = "whitened"  # or "centred" (data_model; README_population.md, "Fit 2")


DEFAULT_DATA_FIT = DataFitConfig()
PARAMETERISATIONS = ("centred", "whitened")


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


class Whitening(NamedTuple):
    """Constants of the whitened parameterisation (:func:`data_model`): a per-patient estimate of ``theta`` and
    its standard error, from the data (:func:`laplace_whitening`). Any positive constants give the same posterior;
    these make the sampled coordinates roughly independent standard normals."""

    centre: Float[Array, "patient k"]
    scale: Float[Array, "patient k"]


def data_model(
    obs: Observations,
    fitted: tuple[str, ...] = DATA_FITTED,
    config: Any = DATA_SOLVER,
    whitening: Whitening | None = None,
) -> None:
    """The numpyro model (``mu_fit``, ``sd_fit``, ``theta``; factor ``solver_ok``; observed ``log_value``).

    ``whitening=None``: centred, ``mu_fit`` and ``theta`` are sample sites. Otherwise the same joint density is
    sampled in whitened coordinates (module docstring): ``sd_fit`` is sampled, ``mu_fit`` and ``theta`` are
    deterministic functions of ``sd_fit`` and the standard-normal-like sites ``mu_white``, ``theta_white``."""
    c0, s0 = _prior(fitted)
    c0, s0 = jnp.asarray(c0), jnp.asarray(s0)
    sd = numpyro.sample("sd_fit", dist.HalfNormal(s0).to_event(1))
    shape = (obs.n_patients, c0.shape[-1])  # explicit broadcasting (the tests make rank promotion an error)
    if whitening is None:
        mu = numpyro.sample("mu_fit", dist.Normal(c0, s0).to_event(1))
        with numpyro.plate("patient", obs.n_patients):
            theta = numpyro.sample(
                "theta", dist.Normal(jnp.broadcast_to(mu, shape), jnp.broadcast_to(sd, shape)).to_event(1)
            )
    else:
        theta = _whitened_theta(c0, s0, sd, whitening, shape)
    pred, ok = predict_log_states(jnp.exp(theta), fitted, obs, config)
    # a failed solve (max_steps) has no likelihood: reject the point rather than score garbage
    numpyro.factor("solver_ok", jnp.where(jnp.all(ok), 0.0, -jnp.inf))
    numpyro.sample(
        "log_value",
        dist.Normal(pred, jnp.broadcast_to(obs.sigma, pred.shape)).mask(obs.mask).to_event(2),
        obs=obs.log_value,
    )


def _whitened_theta(c0: Any, s0: Any, sd: Any, wh: Whitening, shape: tuple[int, int]) -> Any:
    """``mu_fit`` and ``theta`` from the whitened sites, the prior of the centred form and the change-of-variables
    Jacobian as one factor; returns ``theta``. If each patient's likelihood were exactly ``N(centre | theta,
    scale^2)``, the whitened sites would be independent N(0, 1) given ``sd_fit`` at every ``sd_fit``."""
    hat, w2 = jnp.broadcast_to(wh.centre, shape), jnp.broadcast_to(wh.scale, shape) ** 2
    sd2 = jnp.broadcast_to(sd, shape) ** 2
    v2 = sd2 + w2  # (patient, k): variance of a patient's estimate around mu
    prec = 1.0 / s0**2 + (1.0 / v2).sum(axis=0)  # (k,): precision of mu given sd and the estimates
    mean = (c0 / s0**2 + (hat / v2).sum(axis=0)) / prec
    std_normal = dist.Normal(jnp.zeros_like(c0), jnp.ones_like(c0))
    u_mu = numpyro.sample("mu_white", std_normal.to_event(1))
    mu = numpyro.deterministic("mu_fit", mean + u_mu / jnp.sqrt(prec))
    with numpyro.plate("patient", shape[0]):
        u = numpyro.sample("theta_white", dist.Normal(jnp.zeros(shape), jnp.ones(shape)).to_event(1))
    cond_sd = jnp.sqrt(sd2 * w2 / v2)  # sd of theta given mu, sd and the estimate
    mu_b = jnp.broadcast_to(mu, shape)
    theta = numpyro.deterministic("theta", (mu_b * w2 + hat * sd2) / v2 + cond_sd * u)
    log_prior = dist.Normal(c0, s0).log_prob(mu).sum() + dist.Normal(mu_b, jnp.sqrt(sd2)).log_prob(theta).sum()
    log_jac = -0.5 * jnp.log(prec).sum() + jnp.log(cond_sd).sum()
    std_lp = jax.scipy.stats.norm.logpdf(u_mu).sum() + jax.scipy.stats.norm.logpdf(u).sum()
    numpyro.factor("whitening", log_prior + log_jac - std_lp)
    return theta


def laplace_whitening(
    obs: Observations, fitted: tuple[str, ...] = DATA_FITTED, config: Any = DATA_SOLVER, iterations: int = 8
) -> Whitening:
    """Per patient, the mode of its biomarker likelihood times the plausible-range prior ``N(c0, s0)`` (damped
    Gauss-Newton from ``c0``, steps capped at 1 log unit, a failed solve keeps the last point) and the Laplace
    standard error at it: the constants of the whitened parameterisation. Traceable (``jit``, ``vmap``)."""
    c0, s0 = (jnp.asarray(a) for a in _prior(fitted))
    k = c0.shape[-1]
    sig = jnp.where(obs.mask, obs.sigma, jnp.inf)  # padding carries no information

    def resid(theta: Any, times: Any, ti: Any, si: Any, y: Any, sg: Any) -> tuple[Any, Any]:
        ys, ok = _one_patient(jnp.exp(theta), fitted, times, config)
        return (y - ys[ti, si]) / sg, ok

    def normal_eq(theta: Any, *data: Any) -> tuple[Any, Any, Any]:  # one patient: J'J + prior, J'r - prior grad
        (r, ok), jac = resid(theta, *data), jax.jacrev(lambda t: resid(t, *data)[0])(theta)
        h = jac.T @ jac + jnp.diag(1.0 / s0**2)
        return h, -jac.T @ r - (theta - c0) / s0**2, ok

    per_patient = jax.vmap(normal_eq)
    data = (obs.times, obs.time_index, obs.state_index, obs.log_value, sig)

    def step(theta: Any, _: Any) -> tuple[Any, None]:
        h, g, ok = per_patient(theta, *data)
        new = theta + jnp.clip(jnp.linalg.solve(h, g[..., None])[..., 0], -1.0, 1.0)
        return jnp.where(ok[:, None] & jnp.isfinite(new), new, theta), None

    theta, _ = jax.lax.scan(step, jnp.broadcast_to(c0, (obs.n_patients, k)), None, length=iterations)
    h, _, _ = per_patient(theta, *data)
    scale = jnp.sqrt(jnp.diagonal(jnp.linalg.inv(h), axis1=-2, axis2=-1))
    return Whitening(theta, jnp.clip(scale, 1e-3, jnp.broadcast_to(s0, scale.shape)))


def initial_values(
    shape: tuple[int, int], parameterisation: str, fitted: tuple[str, ...] = DATA_FITTED
) -> dict[str, Any]:
    """Starting point of every chain: ``sd_fit`` at half the prior scale; centred, ``mu_fit`` and ``theta`` at the
    prior centre; whitened, the whitened sites at 0 (``theta`` at its patient's estimate, shrunk towards ``mu``)."""
    if parameterisation not in PARAMETERISATIONS:
        raise ValueError(f"parameterisation must be one of {PARAMETERISATIONS}, got {parameterisation!r}")
    c0, s0 = _prior(fitted)
    if parameterisation == "whitened":
        return {"sd_fit": 0.5 * s0, "mu_white": np.zeros_like(c0), "theta_white": np.zeros(shape)}
    return {"mu_fit": c0, "sd_fit": 0.5 * s0, "theta": np.broadcast_to(c0, shape)}


def run_data_fit(obs: Observations, config: DataFitConfig = DEFAULT_DATA_FIT) -> DataFitResult:
    """NUTS (chains vectorised on one device) from :func:`initial_values`; returns the sampler and its wall time
    (the whitened parameterisation's Laplace constants included)."""
    t0 = time.monotonic()
    init = initial_values((obs.n_patients, len(config.fitted)), config.parameterisation, config.fitted)
    whitening = None
    if config.parameterisation == "whitened":
        laplace = jax.jit(lambda lv: laplace_whitening(obs._replace(log_value=lv), config.fitted))
        whitening = laplace(obs.log_value)
    kernel = NUTS(
        functools.partial(data_model, whitening=whitening),
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
            "mu_white": ["fitted"],
            "theta_white": ["patient", "fitted"],
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
