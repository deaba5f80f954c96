"""Virtual cohorts: covariates, mechanistic parameters and common random numbers per patient.

Until the population model exists, the heterogeneity subset of ``patient.yaml`` is drawn from its plausible
ranges (:func:`~sepsim.models._params.sample_parameters`). Every patient's draws come from
``index_keys(key, i, 1)``, so a patient's values do not depend on ``n`` or on chunking.
"""

from __future__ import annotations

import functools
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

__all__ = ["CohortConfig", "simulate_cohort", "COVARIATE_NAMES", "BIOMARKERS"]

COVARIATE_NAMES = ("weight_kg", "age", "hematocrit", "crcl_ml_min", "platelets")
BIOMARKERS = ("ferritin", "hla_dr", "il6", "lymphocytes")


class CohortConfig(NamedTuple):
    """Cohort settings.

    Attributes:
        fixed: parameter overrides applied to every patient (name -> value; names from patient.yaml).
        screening_window_h: screening blood draw uniform in this window, hours relative to randomisation
            (ImmunoSep: drug within 72 h of Sepsis-3 classification [V IS-22]; window [U]).
    """

    fixed: Mapping[str, float] = {}
    screening_window_h: tuple[float, float] = (-24.0, 0.0)


@functools.partial(jax.jit, static_argnums=(1, 2))
def _draw_batch(keys: Any, lo: float, hi: float) -> dict[str, Any]:
    """All patients' draws; module-level jit so that repeated cohorts of one size reuse the compile."""
    return jax.vmap(lambda k: _one_patient(k, lo, hi))(keys)


def _one_patient(key: Key[Array, ""], lo: float, hi: float) -> dict[str, Any]:
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
    return out


def simulate_cohort(n: int, *, key: Key[Array, ""], config: CohortConfig | None = None, start: int = 0) -> xr.Dataset:
    """Draw ``n`` virtual patients (global indices ``start .. start+n-1``).

    Args:
        n: number of patients.
        key: cohort-stage key, e.g. ``stage_key(seed, "cohort")``.
        config: :class:`CohortConfig` (fixed parameter overrides, screening window).
        start: global index of the first patient.

    Returns:
        Dataset with dim ``patient``: covariates (weight_kg, age, hematocrit, crcl_ml_min, platelets), the
        sampled mechanistic parameters, common random numbers (crn_death, crn_infection, crn_assay
        [patient, biomarker], t_screen_h). Fixed overrides are stored as attrs ``fixed.<name>``.
    """
    config = CohortConfig() if config is None else config
    if not isinstance(n, int) or n < 1:
        raise ConfigError("cohort.n", f"must be a positive integer, got {n!r}")
    names = {s.name for s in load_parameter_specs()}
    bad = set(config.fixed) - names
    if bad:
        raise ConfigError("cohort.fixed", f"unknown parameters {sorted(bad)}")
    lo, hi = config.screening_window_h
    if not lo <= hi <= 0.0:
        raise ConfigError("cohort.screening_window_h", "need low <= high <= 0 (hours before randomisation)")
    keys = index_keys(key, start, n)
    draws = _draw_batch(keys, float(lo), float(hi))
    data: dict[str, Any] = {}
    for name in (*COVARIATE_NAMES, *sampled_names()):
        if name in config.fixed:
            continue
        data[name] = ("patient", np.asarray(draws[name], dtype=np.float64))
    for name in ("crn_death", "crn_infection", "t_screen_h"):
        data[name] = ("patient", np.asarray(draws[name], dtype=np.float64))
    data["crn_assay"] = (("patient", "biomarker"), np.asarray(draws["crn_assay"], dtype=np.float64))
    attrs = {f"fixed.{k}": float(v) for k, v in config.fixed.items()}
    attrs["sampled_parameters"] = " ".join(n_ for n_ in sampled_names() if n_ not in config.fixed)
    coords = {"patient": np.arange(start, start + n), "biomarker": list(BIOMARKERS)}
    return xr.Dataset(data, coords=coords, attrs=attrs)
