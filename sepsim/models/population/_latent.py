"""The latent patient parameters and their hierarchical (population) model.

Latent space: the heterogeneity subset of ``sepsim/models/params/patient.yaml`` (entries with ``sample:``), read
at run time, never listed here, so a parameter the patient model adds there joins the population model. Each is
mapped to an unconstrained coordinate: ``log`` for ``lognormal``/``loguniform`` entries, ``logit`` of the position
in ``range`` for ``uniform`` entries. The natural value is clipped to ``range`` (the patient model's validated
domain), so a patient's mechanistic parameters are ``clip(T^-1(theta_i))``.

Population model (non-centred, common random numbers):

    theta_i = mu + B x_i + diag(sd) L_corr z_i,     z_i ~ N(0, I) fixed per patient (its key)

with ``x_i`` the centred effect covariates (:data:`EFFECT_COVARIATES`). Hyper-parameters ``phi = (mu, sd, L_corr,
B)``; priors (all on the unconstrained scale, in units of the plausible-range scale ``s0`` of each parameter):

* ``mu_j ~ N(c0_j, (TAU_MU s0_j)^2)``: centre ``c0`` and scale ``s0`` from the plausible range of patient.yaml
  (log median / log-sd with ``range`` as the central 95% interval; logit-uniform: centre 0, sd 1.6), so the prior
  population is the one the patient-model sources describe;
* ``log sd_j ~ N(log s0_j, TAU_SD^2)``;
* ``L_corr ~ LKJCholesky(D, LKJ_ETA)``: weak shrinkage to independence [U];
* ``B_jk ~ N(0, (TAU_B s0_j)^2)``: a covariate shifts a parameter by at most ~0.6 of its population sd a priori [U].
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
from jaxtyping import Array, Float

from .._params import load_parameter_specs

__all__ = [
    "EFFECT_COVARIATES",
    "HyperPrior",
    "LatentSpace",
    "Population",
    "effect_covariates",
    "latent_space",
    "log_density",
    "population",
    "sample_hyper",
    "theta_from_noise",
    "to_natural",
]

# Covariates with a population effect on the latent parameters, centred: shock - 0.3 (shock share ~ 0.3, CCM 2021
# cohort) and (age - 70) / 14.6 (ImmunoSep mean age 70, IS-19; SEPSIS-ACT sd 14.6, GC-04).
EFFECT_COVARIATES = ("shock", "age")
_LOGIT_SD = 1.6  # sd of a logit-uniform variable is pi/sqrt(3) = 1.81; 1.6 keeps mass inside the range [D]


class HyperPrior(NamedTuple):
    """Prior widths (unconstrained scale, units of each parameter's plausible-range sd ``s0``) [U]."""

    tau_mu: float = 0.5
    tau_sd: float = 0.3
    lkj_eta: float = 4.0
    tau_b: float = 0.3


DEFAULT_PRIOR = HyperPrior()


class LatentSpace(NamedTuple):
    """The heterogeneity subset and its unconstrained coordinates."""

    names: tuple[str, ...]
    logit: np.ndarray  # bool per parameter: logit (uniform) or log coordinate
    low: np.ndarray
    high: np.ndarray
    centre: np.ndarray  # c0: prior centre, unconstrained
    scale: np.ndarray  # s0: plausible-range sd, unconstrained

    @property
    def dim(self) -> int:
        return len(self.names)


class Population(NamedTuple):
    """Hyper-parameters in natural form (one posterior draw)."""

    mu: Float[Array, " param"]
    sd: Float[Array, " param"]
    corr_chol: Float[Array, "param param"]
    beta: Float[Array, "param covariate"]


def latent_space() -> LatentSpace:
    """Read the heterogeneity subset (``sample:`` entries) of patient.yaml, in file order."""
    specs = [s for s in load_parameter_specs() if s.sample is not None]
    logit = np.array([s.sample == "uniform" for s in specs])
    low = np.array([s.low for s in specs], dtype=np.float64)
    high = np.array([s.high for s in specs], dtype=np.float64)
    centre, scale = np.zeros(len(specs)), np.full(len(specs), _LOGIT_SD)
    for j, s in enumerate(specs):
        if s.sample == "lognormal":
            centre[j], scale[j] = np.log(s.value), np.log(s.high / s.low) / 3.92
        elif s.sample == "loguniform":
            centre[j], scale[j] = 0.5 * np.log(s.low * s.high), np.log(s.high / s.low) / 3.92
    return LatentSpace(tuple(s.name for s in specs), logit, low, high, centre, scale)


def to_natural(space: LatentSpace, theta: Float[Array, "... param"]) -> Float[Array, "... param"]:
    """Unconstrained -> natural parameter values, clipped to the plausible range."""
    lo, hi = jnp.asarray(space.low), jnp.asarray(space.high)
    x = jnp.where(space.logit, lo + (hi - lo) * jax.nn.sigmoid(theta), jnp.exp(theta))
    return jnp.clip(x, lo, hi)


def effect_covariates(shock: Any, age: Any) -> Float[Array, "... covariate"]:
    """The centred effect covariates, in :data:`EFFECT_COVARIATES` order."""
    shock = jnp.asarray(shock, dtype=jnp.float64)
    age = jnp.asarray(age, dtype=jnp.float64)
    return jnp.stack([shock - 0.3, (age - 70.0) / 14.6], axis=-1)


def sample_hyper(space: LatentSpace, prior: HyperPrior = DEFAULT_PRIOR) -> Population:
    """numpyro sample statements for ``phi`` (non-centred); deterministic sites ``mu``, ``sd``, ``beta``, ``corr``."""
    d, k = space.dim, len(EFFECT_COVARIATES)
    c0, s0 = jnp.asarray(space.centre), jnp.asarray(space.scale)
    mu_raw = numpyro.sample("mu_raw", dist.Normal(0.0, 1.0).expand([d]).to_event(1))
    sd_raw = numpyro.sample("sd_raw", dist.Normal(0.0, 1.0).expand([d]).to_event(1))
    chol = numpyro.sample("corr_chol", dist.LKJCholesky(d, prior.lkj_eta))
    b_raw = numpyro.sample("beta_raw", dist.Normal(0.0, 1.0).expand([d, k]).to_event(2))
    mu = numpyro.deterministic("mu", c0 + prior.tau_mu * s0 * mu_raw)
    sd = numpyro.deterministic("sd", s0 * jnp.exp(prior.tau_sd * sd_raw))
    beta = numpyro.deterministic("beta", prior.tau_b * s0[:, None] * b_raw)
    numpyro.deterministic("corr", chol @ chol.T)
    return Population(mu, sd, chol, beta)


def population(space: LatentSpace, draw: dict[str, Any], prior: HyperPrior = DEFAULT_PRIOR) -> Population:
    """Natural hyper-parameters from the raw sites of one draw (``mu_raw``, ``sd_raw``, ``corr_chol``, ``beta_raw``)."""
    c0, s0 = jnp.asarray(space.centre), jnp.asarray(space.scale)
    return Population(
        c0 + prior.tau_mu * s0 * jnp.asarray(draw["mu_raw"]),
        s0 * jnp.exp(prior.tau_sd * jnp.asarray(draw["sd_raw"])),
        jnp.asarray(draw["corr_chol"]),
        prior.tau_b * s0[:, None] * jnp.asarray(draw["beta_raw"]),
    )


def _scale_tril(pop: Population) -> Any:
    return pop.sd[:, None] * pop.corr_chol


def theta_from_noise(
    pop: Population, x: Float[Array, "patient covariate"], z: Float[Array, "patient param"]
) -> Float[Array, "patient param"]:
    """``theta_i = mu + B x_i + diag(sd) L z_i``: a deterministic, differentiable function of ``phi``."""
    return pop.mu + x @ pop.beta.T + z @ _scale_tril(pop).T


def log_density(
    pop: Population, theta: Float[Array, "patient param"], x: Float[Array, "patient covariate"]
) -> Float[Array, " patient"]:
    """``log p(theta_i | phi, x_i)`` (multivariate normal)."""
    loc = pop.mu + x @ pop.beta.T
    return dist.MultivariateNormal(loc, scale_tril=_scale_tril(pop)).log_prob(theta)
