"""Virtual cohorts: covariates, mechanistic parameters and common random numbers per patient.

Two sources of the heterogeneity subset of ``patient.yaml`` (the ``sample:`` entries, read at run time):

* ``source="prior"``: the plausible-range draw (:func:`~sepsim.models._params.sample_parameters`), kept for
  sensitivity studies (``population=prior``);
* ``source="posterior"``: the calibrated population model (``sepsim.models.population``):
  ``theta_i = mu + B x_i + diag(sd) L z_i`` on the unconstrained scale, with ``phi = (mu, sd, L, B)`` a draw of the
  fitted posterior (one fixed draw, or a draw per patient chosen by its key: the posterior predictive) and ``z_i``
  the patient's fixed base noise.

A cohort is the first ``n`` patients of one virtual population (global index 0, 1, ...) that meet the inclusion
criteria: populations differ by who is included, never by a per-trial factor. Every patient's draws come from
``index_keys(key, i, 1)``, so a patient's values do not depend on ``n``, on chunking or on the inclusion criteria.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr
from jaxtyping import Array, Key

from .._errors import ConfigError
from .._keys import index_keys
from ._params import load_parameter_specs, sample_parameters, sampled_names
from .population._covariates import INFECTION_SITES, NEW_COVARIATES, draw_covariates, site_probabilities
from .population._latent import effect_covariates, latent_space, to_natural
from .population._posterior import load_posterior

__all__ = ["CohortConfig", "simulate_cohort", "COVARIATE_NAMES", "BIOMARKERS", "INCLUSION_KEYS"]

COVARIATE_NAMES = ("weight_kg", "age", "hematocrit", "crcl_ml_min", "platelets", *NEW_COVARIATES)
BIOMARKERS = ("ferritin", "hla_dr", "il6", "lymphocytes")
_DISCRETE = ("infection_site", "shock", "male", "diabetes")
_RANGED = ("age", "charlson", "igg_g_l", "onset_to_screen_h", "weight_kg")
INCLUSION_KEYS = _DISCRETE + _RANGED
_LATENT_TAG, _DRAW_TAG = 1_000_005, 1_000_007
_CHUNK = 65_536
_BLOCK = 1024


class CohortConfig(NamedTuple):
    """Cohort settings.

    Attributes:
        fixed: parameter overrides applied to every patient (name -> value; names from patient.yaml).
        screening_window_h: screening blood draw uniform in this window, hours relative to randomisation
            (ImmunoSep: drug within 72 h of Sepsis-3 classification [V IS-22]; window [U]).
        source: ``"posterior"`` (default: the calibrated population model, as the CLI's default population) or
            ``"prior"`` (the plausible-range draw of patient.yaml, for sensitivity studies).
        posterior_file: InferenceData netCDF of the population fit; None = the committed default.
        posterior_draw: index of one posterior draw (chain x draw flattened) used for every patient; None = each
            patient its own draw (chosen by its key): the posterior predictive population.
        inclusion: covariate -> allowed values: a list of codes for ``infection_site``, ``shock``, ``male``,
            ``diabetes``; ``[low, high]`` (inclusive) for ``age``, ``charlson``, ``igg_g_l``, ``onset_to_screen_h``,
            ``weight_kg``.
    """

    fixed: Mapping[str, float] = {}
    screening_window_h: tuple[float, float] = (-24.0, 0.0)
    source: str = "posterior"
    posterior_file: str | None = None
    posterior_draw: int | None = None
    inclusion: Mapping[str, Any] = {}


@functools.partial(jax.jit, static_argnums=(1, 2))
def _draw_batch(keys: Any, lo: float, hi: float) -> dict[str, Any]:
    """All patients' draws; module-level jit so that repeated cohorts of one size reuse the compile."""
    site_logits = jnp.log(jnp.asarray(site_probabilities()))
    return jax.vmap(lambda k: _one_patient(k, lo, hi, site_logits))(keys)


def _one_patient(key: Key[Array, ""], lo: float, hi: float, site_logits: Any) -> dict[str, Any]:
    kp, kc, kr = jax.random.split(key, 3)
    out = sample_parameters(kp)
    c = jax.random.split(kc, 5)
    # age: mean 70 y (ImmunoSep [V IS-19]), sd 14.6 y (SEPSIS-ACT placebo [V GC-04]); truncated to 18-95
    out["age"] = jnp.clip(70.0 + 14.6 * jax.random.truncated_normal(c[0], -3.5, 1.75, ()), 18.0, 95.0)
    out["weight_kg"] = 75.0 * jnp.exp(0.2 * jax.random.truncated_normal(c[1], -3.0, 3.0, ()))  # [U]
    out["hematocrit"] = jnp.clip(0.30 + 0.05 * jax.random.normal(c[2], ()), 0.18, 0.5)  # septic anaemia [U]
    out["crcl_ml_min"] = jnp.clip(60.0 * jnp.exp(0.6 * jax.random.normal(c[3], ())), 5.0, 200.0)  # [U]
    out["platelets"] = jnp.clip(150.0 * jnp.exp(0.6 * jax.random.normal(c[4], ())), 5.0, 600.0)  # 10^3/uL [U]
    r = jax.random.split(kr, 4)
    out["crn_death"] = jax.random.exponential(r[0], ())  # one Exp(1) per patient: death when Lambda > it
    out["crn_infection"] = jax.random.exponential(r[1], ())  # secondary infection, same construction
    out["t_screen_h"] = jax.random.uniform(r[2], (), minval=lo, maxval=hi)
    out["crn_assay"] = jax.random.normal(r[3], (len(BIOMARKERS),))  # standard-normal assay errors
    out.update(draw_covariates(key, site_logits))  # its own fold_in: the draws above are unchanged
    out["crn_latent"] = jax.random.normal(jax.random.fold_in(key, _LATENT_TAG), (latent_space().dim,))
    out["draw_u"] = jax.random.uniform(jax.random.fold_in(key, _DRAW_TAG), ())
    return out


def _check(config: CohortConfig, n: int) -> None:
    if not isinstance(n, int) or n < 1:
        raise ConfigError("cohort.n", f"must be a positive integer, got {n!r}")
    for name, v in config.fixed.items():
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            raise ConfigError(f"cohort.fixed.{name}", f"must be a finite number, got {v!r}")
    bad = set(config.fixed) - {s.name for s in load_parameter_specs()}
    if bad:
        raise ConfigError("cohort.fixed", f"unknown parameters {sorted(bad)}")
    lo, hi = config.screening_window_h
    if not lo <= hi <= 0.0:
        raise ConfigError("cohort.screening_window_h", "need low <= high <= 0 (hours before randomisation)")
    if config.source not in ("prior", "posterior"):
        raise ConfigError("population.source", f"must be 'prior' or 'posterior', got {config.source!r}")
    for k, v in config.inclusion.items():
        if k not in INCLUSION_KEYS:
            raise ConfigError(f"population.inclusion.{k}", f"unknown covariate; allowed: {list(INCLUSION_KEYS)}")
        if k in _RANGED and (len(v) != 2 or float(v[0]) > float(v[1])):
            raise ConfigError(f"population.inclusion.{k}", f"need [low, high] with low <= high, got {v!r}")
        if k == "infection_site" and not set(v) <= set(range(len(INFECTION_SITES))):
            raise ConfigError(f"population.inclusion.{k}", f"codes 0..4 ({', '.join(INFECTION_SITES)}), got {v!r}")


def _included(draws: dict[str, Any], inclusion: Mapping[str, Any]) -> np.ndarray:
    keep = np.ones(np.asarray(draws["age"]).shape, bool)
    for k, v in inclusion.items():
        x = np.asarray(draws[k])
        keep &= np.isin(x.astype(int), list(v)) if k in _DISCRETE else (x >= float(v[0])) & (x <= float(v[1]))
    return keep


def _posterior_parameters(draws: dict[str, Any], config: CohortConfig) -> dict[str, np.ndarray]:
    """Natural parameter values of the heterogeneity subset from the population posterior."""
    space = latent_space()
    post = load_posterior(space, config.posterior_file)
    n_draw = post.mu.shape[0]
    if config.posterior_draw is not None and not 0 <= config.posterior_draw < n_draw:
        raise ConfigError("population.posterior_draw", f"must be in [0, {n_draw - 1}], got {config.posterior_draw}")
    u = np.asarray(draws["draw_u"])
    s = np.full(u.shape, config.posterior_draw) if config.posterior_draw is not None else (u * n_draw).astype(int)
    cols = [space.names.index(name) for name in post.names]
    z = np.asarray(draws["crn_latent"])[:, cols]
    x = np.asarray(effect_covariates(draws["shock"], draws["age"]))
    theta = post.mu[s] + np.einsum("pk,pjk->pj", x, post.beta[s]) + np.einsum("pjk,pk->pj", post.scale_tril[s], z)
    sub = space._replace(
        names=post.names, logit=space.logit[cols], low=space.low[cols], high=space.high[cols], centre=None, scale=None
    )
    natural = np.asarray(to_natural(sub, jnp.asarray(theta)))
    out = {name: natural[:, j] for j, name in enumerate(post.names)}
    out["posterior_draw"] = s
    return out


def simulate_cohort(n: int, *, key: Key[Array, ""], config: CohortConfig | None = None, start: int = 0) -> xr.Dataset:
    """Draw ``n`` virtual patients: the first ``n`` with global index ``>= start`` that meet ``config.inclusion``.

    Args:
        n: number of patients.
        key: cohort-stage key, e.g. ``stage_key(seed, "cohort")``.
        config: :class:`CohortConfig` (fixed parameter overrides, screening window, source, inclusion).
        start: global index of the first candidate.

    Returns:
        Dataset with dim ``patient`` (coordinate: the global index in the virtual population): covariates
        (:data:`COVARIATE_NAMES`), the heterogeneity parameters, common random numbers (crn_death, crn_infection,
        crn_assay [patient, biomarker], crn_latent [patient, latent], t_screen_h) and, for the posterior source,
        ``posterior_draw``. Fixed overrides are stored as attrs ``fixed.<name>``.
    """
    config = CohortConfig() if config is None else config
    _check(config, n)
    lo, hi = (float(v) for v in config.screening_window_h)
    parts, got, pos = [], 0, start
    while got < n:
        # candidate blocks are whole multiples of _BLOCK, so cohorts of any size reuse a few compiled shapes
        want = (n - got) if not config.inclusion else 4 * (n - got)
        size = min(-(-want // _BLOCK) * _BLOCK, _CHUNK)
        draws = {k: np.asarray(v) for k, v in _draw_batch(index_keys(key, pos, size), lo, hi).items()}
        idx = np.flatnonzero(_included(draws, config.inclusion))[: n - got]
        parts.append({"patient": pos + idx, **{k: v[idx] for k, v in draws.items()}})
        got, pos = got + len(idx), pos + size
    draws = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    if config.source == "posterior":
        draws.update(_posterior_parameters(draws, config))
    return _dataset(draws, config)


def _dataset(draws: dict[str, np.ndarray], config: CohortConfig) -> xr.Dataset:
    data: dict[str, Any] = {}
    for name in (*COVARIATE_NAMES, *sampled_names()):
        if name in config.fixed:
            continue
        dtype = np.int8 if name in _DISCRETE else np.int16 if name == "charlson" else np.float64
        data[name] = ("patient", np.asarray(draws[name]).astype(dtype))
    data["infection_site"] = (
        "patient",
        data["infection_site"][1],
        {"flag_values": list(range(len(INFECTION_SITES))), "flag_meanings": " ".join(INFECTION_SITES)},
    )
    for name in ("crn_death", "crn_infection", "t_screen_h"):
        data[name] = ("patient", np.asarray(draws[name], dtype=np.float64))
    data["crn_assay"] = (("patient", "biomarker"), np.asarray(draws["crn_assay"], dtype=np.float64))
    data["crn_latent"] = (("patient", "latent"), np.asarray(draws["crn_latent"], dtype=np.float64))
    if "posterior_draw" in draws:
        data["posterior_draw"] = ("patient", np.asarray(draws["posterior_draw"], dtype=np.int64))
    attrs: dict[str, Any] = {f"fixed.{k}": float(v) for k, v in config.fixed.items()}
    attrs["sampled_parameters"] = " ".join(n_ for n_ in sampled_names() if n_ not in config.fixed)
    attrs["parameter_source"] = config.source
    attrs["inclusion"] = repr(dict(config.inclusion))
    coords = {"patient": draws["patient"], "biomarker": list(BIOMARKERS), "latent": list(latent_space().names)}
    return xr.Dataset(data, coords=coords, attrs=attrs)
