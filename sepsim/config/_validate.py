"""Checks for impossible values, run before any work: one ``ConfigError`` naming the key and what is allowed."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from .._errors import ConfigError
from ._arms import build_arms
from ._schema import ArmConfig, RunConfig

__all__ = ["validate", "to_run_config"]

_OUTCOME_SOURCES = ("scenario", "mechanistic")
_POPULATION_SOURCES = ("prior", "data")
_ENDPOINT_KINDS = ("binary", "continuous", "ordinal")
_PROGRESS = ("auto", "bar", "log")


def to_run_config(cfg: DictConfig | dict) -> DictConfig:
    """Merge ``cfg`` onto the :class:`RunConfig` schema; unknown keys and wrong types become a ``ConfigError``."""
    schema = OmegaConf.structured(RunConfig)
    try:
        merged = OmegaConf.merge(schema, OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"]))
    except OmegaConfBaseException as err:
        key = getattr(err, "full_key", None) or "config"
        raise ConfigError(str(key), _first_line(err)) from None
    return merged


def _first_line(err: Exception) -> str:
    return str(err).strip().splitlines()[0]


def _positive_int(value: Any, key: str) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ConfigError(key, f"must be a positive integer, got {value!r}")


def _probability(value: Any, key: str) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not (0.0 <= float(value) <= 1.0):
        raise ConfigError(key, f"must be a probability in [0, 1], got {value!r}")


def _one_of(value: Any, key: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(key, f"must be one of {', '.join(allowed)}; got {value!r}")


def _check_scenario(sc: DictConfig, n_arms: int | None) -> None:
    for i, r in enumerate(sc.rates):
        _probability(r, f"scenario.rates[{i}]")
    if n_arms is not None and sc.rates and len(sc.rates) != n_arms:
        raise ConfigError("scenario.rates", f"needs one rate per design arm ({n_arms}), got {len(sc.rates)}")
    for stratum, rates in sc.stratum_rates.items():
        for i, r in enumerate(rates):
            _probability(r, f"scenario.stratum_rates.{stratum}[{i}]")
        if n_arms is not None and len(rates) != n_arms:
            raise ConfigError(f"scenario.stratum_rates.{stratum}", f"needs {n_arms} rates, got {len(rates)}")
    if not sc.rates and not sc.stratum_rates:
        raise ConfigError("scenario.rates", "give the true outcome rate of each arm (or scenario.stratum_rates)")
    for stratum, share in sc.stratum_shares.items():
        _probability(share, f"scenario.stratum_shares.{stratum}")
    if sc.stratum_shares and not math.isclose(sum(sc.stratum_shares.values()), 1.0, abs_tol=1e-9):
        raise ConfigError("scenario.stratum_shares", f"must sum to 1, got {sum(sc.stratum_shares.values())}")
    _positive_int(sc.n_patients, "scenario.n_patients")


def _check_population(pop: DictConfig) -> None:
    _positive_int(pop.n_patients, "population.n_patients")
    _one_of(pop.source, "population.source", _POPULATION_SOURCES)
    if not isinstance(pop.days, int) or not 10 <= pop.days <= 180:
        raise ConfigError("population.days", f"must be an integer number of days in [10, 180], got {pop.days!r}")
    if pop.source == "data":
        if not pop.data_file:
            raise ConfigError("population.data_file", "required when population.source=data (a CSV file path)")
        if not Path(pop.data_file).is_file():
            raise ConfigError("population.data_file", f"file not found: {pop.data_file}")


def validate(cfg: DictConfig | dict) -> DictConfig:
    """Validate a composed run config; return it merged onto the schema. Raises ``ConfigError`` on the first problem."""
    run = to_run_config(cfg)
    if not isinstance(run.seed, int) or run.seed < 0:
        raise ConfigError("seed", f"must be a non-negative integer, got {run.seed!r}")
    _positive_int(run.n_trials, "n_trials")
    _one_of(run.outcomes, "outcomes", _OUTCOME_SOURCES)
    _one_of(run.runtime.progress, "runtime.progress", _PROGRESS)
    _one_of(run.runtime.precision, "runtime.precision", ("float64", "float32"))
    if run.runtime.chunk_size is not None:
        _positive_int(run.runtime.chunk_size, "runtime.chunk_size")
    _one_of(run.endpoint.kind, "endpoint.kind", _ENDPOINT_KINDS)
    design = _check_design(run.design)
    arms = run.design.get("arms") if isinstance(run.design, DictConfig) else None
    n_arms = len(arms) if arms is not None else None
    if run.outcomes == "scenario":
        _check_scenario(run.scenario, n_arms)
    else:
        _check_population(run.population)
        _check_arms(run, design)
    return run


def _check_design(design_cfg: Any):
    """Build the trial design through the engine's own validator, so its messages name ``design.<key>``."""
    from ..platform import design_from_dict

    plain = OmegaConf.to_container(design_cfg, resolve=True) if isinstance(design_cfg, DictConfig) else design_cfg
    return design_from_dict(plain)


def _check_arms(run: DictConfig, design: Any) -> None:
    if not run.arms:
        raise ConfigError("arms", "outcomes=mechanistic needs at least one arm (e.g. arms.placebo: {})")
    for name in list(run.arms):
        try:
            run.arms[name] = OmegaConf.merge(OmegaConf.structured(ArmConfig), run.arms[name] or {})
        except OmegaConfBaseException as err:
            raise ConfigError(f"arms.{name}.{getattr(err, 'key', '') or ''}".rstrip("."), _first_line(err)) from None
    build_arms({name: _arm_spec(arm) for name, arm in run.arms.items()})
    missing = [a for a in design.arms if a not in run.arms]
    if missing:
        raise ConfigError("design.arms", f"arms {missing} are not defined under arms: ({', '.join(run.arms)})")


def _arm_spec(arm: DictConfig) -> dict[str, Any]:
    spec = OmegaConf.to_container(arm, resolve=True)
    return {k: v for k, v in spec.items() if v not in (None, [], {})}
