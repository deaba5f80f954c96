"""Patient parameters: the YAML parameter file, the :class:`PatientParams` PyTree and the heterogeneity subset.

Every number of the patient model lives in ``sepsim/models/params/patient.yaml`` with its value, unit, plausible
range and source. Entries with a ``sample`` key are the declared heterogeneity subset; :func:`sample_parameters`
draws them per patient (until the population model of a later issue supplies them).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import yaml
from jaxtyping import Array, Float, Key

from .._errors import ConfigError, DataFileError

__all__ = ["PARAMETER_FILE", "PatientParams", "ParameterSpec", "load_parameter_specs", "reference_params"]

PARAMETER_FILE = "sepsim/models/params/patient.yaml"
_SAMPLERS = ("loguniform", "uniform", "lognormal")


class ParameterSpec(NamedTuple):
    """One entry of the parameter file."""

    name: str
    value: float
    unit: str
    low: float
    high: float
    source: str
    sample: str | None  # None: fixed at ``value``; else one of _SAMPLERS


@cache
def load_parameter_specs() -> tuple[ParameterSpec, ...]:
    """Parse and validate ``patient.yaml``; raises :class:`DataFileError` naming the file and key."""
    text = resources.files("sepsim.models").joinpath("params/patient.yaml").read_text(encoding="utf-8")
    raw = yaml.safe_load(text)
    if not isinstance(raw, dict) or not raw:
        raise DataFileError(PARAMETER_FILE, "expected a mapping of parameter name -> entry")
    specs = []
    for name, entry in raw.items():
        if not isinstance(entry, dict):
            raise DataFileError(PARAMETER_FILE, "entry must be a mapping", column=name)
        missing = {"value", "unit", "range", "source"} - set(entry)
        if missing:
            raise DataFileError(PARAMETER_FILE, f"missing fields {sorted(missing)}", column=name)
        lo, hi = (float(v) for v in entry["range"])
        value = float(entry["value"])
        if not lo <= value <= hi:
            raise DataFileError(PARAMETER_FILE, f"value {value} outside range [{lo}, {hi}]", column=name)
        sample = entry.get("sample")
        if sample is not None and sample not in _SAMPLERS:
            raise DataFileError(PARAMETER_FILE, f"sample must be one of {_SAMPLERS}, got {sample!r}", column=name)
        if sample in ("loguniform", "lognormal") and lo <= 0:
            raise DataFileError(PARAMETER_FILE, f"{sample} needs a positive range", column=name)
        specs.append(ParameterSpec(name, value, str(entry["unit"]), lo, hi, str(entry["source"]), sample))
    return tuple(specs)


def _make_params_class() -> type:
    names = [s.name for s in load_parameter_specs()]
    cls = NamedTuple("PatientParams", [(n, Any) for n in names])  # type: ignore[misc]
    cls.__doc__ = (
        "Mechanistic parameters of one virtual patient (fields = entries of patient.yaml, in file order; "
        "units and sources there). A PyTree: leaves may carry a leading patient axis."
    )
    cls.__module__ = __name__
    return cls


PatientParams = _make_params_class()


def reference_params(dtype: Any = jnp.float64, **overrides: float) -> Any:
    """The reference patient (every parameter at its ``value``), optionally with some parameters overridden."""
    specs = load_parameter_specs()
    unknown = set(overrides) - {s.name for s in specs}
    if unknown:
        raise ConfigError("params", f"unknown parameters {sorted(unknown)}; see {PARAMETER_FILE}")
    return PatientParams(*(jnp.asarray(overrides.get(s.name, s.value), dtype=dtype) for s in specs))


def params_from_mapping(values: Mapping[str, Any], dtype: Any = jnp.float64) -> Any:
    """Build :class:`PatientParams` from a mapping (e.g. an xarray cohort); missing names take the reference value."""
    return PatientParams(
        *(jnp.asarray(values[s.name] if s.name in values else s.value, dtype=dtype) for s in load_parameter_specs())
    )


def sample_parameters(key: Key[Array, ""], dtype: Any = jnp.float64) -> dict[str, Float[Array, ""]]:
    """Draw the heterogeneity subset for ONE patient from its key (``vmap`` over patient keys for a cohort).

    loguniform/uniform: over ``range``; lognormal: median ``value``, log-sd = log(high/low)/(2*1.96) (so that
    ``range`` is the central 95% interval), truncated at +-2.5 sd and clipped to ``range``. Fixed parameters
    are not returned.
    """
    out = {}
    for i, s in enumerate(sp for sp in load_parameter_specs() if sp.sample is not None):
        k = jax.random.fold_in(key, i)
        if s.sample == "uniform":
            x = jax.random.uniform(k, (), dtype=dtype, minval=s.low, maxval=s.high)
        elif s.sample == "loguniform":
            x = jnp.exp(jax.random.uniform(k, (), dtype=dtype, minval=np.log(s.low), maxval=np.log(s.high)))
        else:
            sd = np.log(s.high / s.low) / (2 * 1.96)
            z = jax.random.truncated_normal(k, -2.5, 2.5, (), dtype=dtype)
            x = jnp.clip(s.value * jnp.exp(sd * z), s.low, s.high)
        out[s.name] = x
    return out


def sampled_names() -> tuple[str, ...]:
    """Names of the declared heterogeneity subset, in file order."""
    return tuple(s.name for s in load_parameter_specs() if s.sample is not None)
