"""The latent patient parameters and their hierarchical (population) model.

Latent space: the heterogeneity subset of ``sepsim/models/params/patient.yaml`` (entries with ``sample:``), read
at run time, never listed here, so a parameter the patient model adds there joins the population model. Each is
mapped to an unconstrained coordinate: ``log`` for ``lognormal``/``loguniform`` entries, ``logit`` of the position
in ``range`` for ``uniform`` entries. The natural value is clipped to ``range`` (the patient model's validated
domain), so a patient's mechanistic parameters are ``clip(T^-1(theta_i))``.

Population model (non-centred, common random numbers):

    theta_i = mu + B x_i + diag(sd) L_corr z_i,     z_i ~ N(0, I) fixed per patient (its key)

with ``x_i`` the centred effect covariates (:data:`EFFECT_COVARIATES`).

What Fit 1 estimates (identifiability): the ~10 independent numbers of the published summary targets (endotype
shares of two populations, four responder rates, one mortality, one median) cannot identify the full ``phi`` of
14 latent parameters (14 means, 14 sds, 91 correlations, 28 covariate effects). Only the mean shifts of the
parameters listed in ``HyperPrior.fitted`` (those that set the targets: see README_population.md) are sampled:

* ``mu_j = c0_j + TAU_MU s0_j shift_j`` with ``shift_j ~ N(0, 1)`` for ``j`` in ``fitted``; ``mu_j = c0_j`` otherwise.
  ``c0`` and ``s0`` are the centre and scale of the plausible range in patient.yaml (log median / log-sd with
  ``range`` as the central 95% interval; logit-uniform: centre 0, sd 1.6), so the prior population is the one the
  patient-model sources describe;
* ``sd = s0`` and ``L_corr = I`` are fixed at their prior centres (no target speaks to a spread or a correlation
  separately from the means); ``B`` is fixed: zero except the cited effects of :data:`FIXED_EFFECTS` (septic shock on
  the septic SOFA floor).

``mu_raw``, ``sd_raw``, ``corr_chol`` and ``beta_raw`` remain deterministic sites (the full-parameter layout the
posterior file, the proposal and ``simulate_cohort`` read), so a future fit that frees more of ``phi`` keeps the file
format.
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
    "FITTED",
    "FIXED_EFFECTS",
    "HyperPrior",
    "LatentSpace",
    "Population",
    "effect_covariates",
    "fixed_effects_raw",
    "fitted_index",
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


# Mean shifts fitted by Fit 1 (README_population.md, "What is fitted"): IL-1b gain (MALS runaway), IL-10 gain
# (immunoparalysis), baseline HLA-DR (the immunoparalysis threshold), antibiotic kill and pathogen growth (source
# control: mortality, responders), damage susceptibility and repair (mortality, SOFA course), chronic baseline SOFA,
# organ recovery rate (the SOFA fall of survivors: responder rates by arm).
FITTED = ("a_il1", "a_il10", "h0", "k_abx", "kpg", "kdn", "mud", "o_base", "k_org_rec")

# Covariate effects fixed at cited values (not fitted; unconstrained units): septic shock raises the septic SOFA floor
# o_base through the cardiovascular component alone, 3-4 points on vasopressors against 0-1 without (Vincent 1996
# SOFA table, clinical_course.md 1): +2.5 points at the centre of o_base's logit-uniform range [3, 8], whose slope
# there is (8 - 3) / 4 = 1.25 points per logit unit -> 2.0 logit units between shock and no shock.
FIXED_EFFECTS = {("o_base", "shock"): 2.0}


class HyperPrior(NamedTuple):
    """Prior width of the fitted mean shifts (unconstrained scale, units of the plausible-range sd ``s0``) [U]."""

    tau_mu: float = 0.5
    fitted: tuple[str, ...] = FITTED


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
    theta = jnp.asarray(theta)
    lo, hi, logit = (jnp.broadcast_to(jnp.asarray(a), theta.shape) for a in (space.low, space.high, space.logit))
    x = jnp.where(logit, lo + (hi - lo) * jax.nn.sigmoid(theta), jnp.exp(theta))
    return jnp.clip(x, lo, hi)


def effect_covariates(shock: Any, age: Any) -> Float[Array, "... covariate"]:
    """The centred effect covariates, in :data:`EFFECT_COVARIATES` order."""
    shock = jnp.asarray(shock, dtype=jnp.float64)
    age = jnp.asarray(age, dtype=jnp.float64)
    return jnp.stack([shock - 0.3, (age - 70.0) / 14.6], axis=-1)


def fitted_index(space: LatentSpace, prior: HyperPrior = DEFAULT_PRIOR) -> np.ndarray:
    """Positions in ``space`` of the fitted mean shifts (those of ``prior.fitted`` present in patient.yaml)."""
    unknown = [n for n in prior.fitted if n not in space.names]
    if unknown:
        raise ValueError(f"HyperPrior.fitted names {unknown}, which are not sample: entries of patient.yaml")
    return np.array([space.names.index(n) for n in prior.fitted], dtype=int)


def _raw_sites(space: LatentSpace, prior: HyperPrior, shift: Any) -> dict[str, Any]:
    d = space.dim
    shift = jnp.asarray(shift)
    mu_raw = jnp.zeros(shift.shape[:-1] + (d,)).at[..., fitted_index(space, prior)].set(shift)
    return {
        "mu_raw": mu_raw,
        "sd_raw": jnp.zeros(shift.shape[:-1] + (d,)),
        "corr_chol": jnp.broadcast_to(jnp.eye(d), shift.shape[:-1] + (d, d)),
        "beta_raw": jnp.broadcast_to(
            jnp.asarray(fixed_effects_raw(space)), shift.shape[:-1] + (d, len(EFFECT_COVARIATES))
        ),
    }


def fixed_effects_raw(space: LatentSpace) -> np.ndarray:
    """``beta_raw`` (param x covariate, units of ``s0``) holding :data:`FIXED_EFFECTS`; zero elsewhere (a parameter
    absent from patient.yaml's sampled subset is skipped)."""
    raw = np.zeros((space.dim, len(EFFECT_COVARIATES)))
    for (name, cov), effect in FIXED_EFFECTS.items():
        if name in space.names:
            j = space.names.index(name)
            raw[j, EFFECT_COVARIATES.index(cov)] = effect / space.scale[j]
    return raw


def sample_hyper(space: LatentSpace, prior: HyperPrior = DEFAULT_PRIOR) -> Population:
    """numpyro sample statement for the fitted shifts; deterministic sites ``mu``, ``sd``, ``beta``, ``corr`` and the
    raw layout (``mu_raw``, ``sd_raw``, ``corr_chol``, ``beta_raw``)."""
    f = len(prior.fitted)
    shift = numpyro.sample("shift", dist.Normal(0.0, 1.0).expand([f]).to_event(1))
    raw = {k: numpyro.deterministic(k, v) for k, v in _raw_sites(space, prior, shift).items()}
    pop = population(space, raw, prior)
    numpyro.deterministic("mu", pop.mu)
    numpyro.deterministic("sd", pop.sd)
    numpyro.deterministic("beta", pop.beta)
    numpyro.deterministic("corr", pop.corr_chol @ pop.corr_chol.T)
    return pop


def population(space: LatentSpace, draw: dict[str, Any], prior: HyperPrior = DEFAULT_PRIOR) -> Population:
    """Natural hyper-parameters from one draw: its ``shift`` (fitted means), or the raw layout (``mu_raw``,
    ``sd_raw``, ``corr_chol``, ``beta_raw``; ``sd`` on the log scale with unit prior width)."""
    if "mu_raw" not in draw:
        draw = _raw_sites(space, prior, draw["shift"])
    c0, s0 = jnp.asarray(space.centre), jnp.asarray(space.scale)
    return Population(
        c0 + prior.tau_mu * s0 * jnp.asarray(draw["mu_raw"]),
        s0 * jnp.exp(jnp.asarray(draw["sd_raw"])),
        jnp.asarray(draw["corr_chol"]),
        s0[:, None] * jnp.asarray(draw["beta_raw"]),
    )


def _scale_tril(pop: Population) -> Any:
    return pop.sd[:, None] * pop.corr_chol


def theta_from_noise(
    pop: Population, x: Float[Array, "patient covariate"], z: Float[Array, "patient param"]
) -> Float[Array, "patient param"]:
    """``theta_i = mu + B x_i + diag(sd) L z_i``: a deterministic, differentiable function of ``phi``."""
    shift = x @ pop.beta.T
    return jnp.broadcast_to(pop.mu, shift.shape) + shift + z @ _scale_tril(pop).T


def log_density(
    pop: Population, theta: Float[Array, "patient param"], x: Float[Array, "patient covariate"]
) -> Float[Array, " patient"]:
    """``log p(theta_i | phi, x_i)`` (multivariate normal)."""
    shift = x @ pop.beta.T
    loc = jnp.broadcast_to(pop.mu, shift.shape) + shift
    return dist.MultivariateNormal(loc, scale_tril=_scale_tril(pop)).log_prob(theta)
