"""Checks for impossible values, run before any work: one ``ConfigError`` naming the key and what is allowed."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from .._errors import ConfigError, DataFileError
from . import _cross
from ._arms import build_arms
from ._closed import check_closed, unknown_key
from ._preflight import check_writable
from ._schema import ArmConfig, RunConfig

__all__ = ["validate", "to_run_config"]

_OUTCOME_SOURCES = ("scenario", "mechanistic")
_POPULATION_SOURCES = ("prior", "posterior", "data")
_ENDPOINT_KINDS = ("binary", "continuous", "ordinal")
_PROGRESS = ("auto", "bar", "log")


def to_run_config(cfg: DictConfig | dict) -> DictConfig:
    """Merge ``cfg`` onto the :class:`RunConfig` schema; unknown keys and wrong types become a ``ConfigError``."""
    schema = OmegaConf.structured(RunConfig)
    try:
        # a plain copy: hydra-typed nodes would carry keys forced in with '+' through the merge unchecked
        if isinstance(cfg, DictConfig):
            cfg = OmegaConf.to_container(OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"]), resolve=True)
        plain = {k: v for k, v in cfg.items() if k != "hydra"}
        check_closed(plain)
        merged = OmegaConf.merge(schema, plain)
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


_SCENARIO_KINDS = ("binary", "ordinal", "factorial")


def _probabilities(values: Any, key: str, *, n: int | None = None, what: str = "") -> None:
    """Each entry a probability, and ``n`` entries where given (``what`` names what each is for)."""
    for i, r in enumerate(values):
        _probability(r, f"{key}[{i}]")
    if n is not None and len(values) != n:
        raise ConfigError(key, f"needs one rate per {what or 'design arm'} ({n}), got {len(values)}")


def _simplex(values: Any, key: str) -> None:
    _probabilities(values, key)
    if len(values) < 2:
        raise ConfigError(key, f"needs at least 2 category probabilities, got {len(values)}")
    if not math.isclose(sum(values), 1.0, abs_tol=1e-6):
        raise ConfigError(key, f"category probabilities must sum to 1, got {sum(values):.6g}")


def _odds_ratios(values: Any, key: str, n_arms: int) -> None:
    for i, r in enumerate(values):
        if not isinstance(r, (int, float)) or isinstance(r, bool) or not (math.isfinite(r) and r > 0):
            raise ConfigError(f"{key}[{i}]", f"must be a positive, finite odds ratio, got {r!r}")
    if len(values) != n_arms:
        raise ConfigError(key, f"needs one odds ratio per design arm ({n_arms}), got {len(values)}")


def _check_scenario(sc: DictConfig, design: Any) -> None:
    """The parametric scenario against the design it feeds (arm counts, analysis model, domains)."""
    _one_of(sc.kind, "scenario.kind", _SCENARIO_KINDS)
    n_arms = len(design.arms)
    model = design.analysis.model
    if design.domains and sc.kind == "ordinal":
        raise ConfigError("scenario.kind", "a design with domains analyses a binary outcome: use factorial or binary")
    if sc.kind == "binary":
        if model == "proportional_odds":
            raise ConfigError("scenario.kind", "design.analysis.model=proportional_odds needs scenario.kind=ordinal")
        what = "combination '<arm1>+<arm2>' of design.domains" if design.domains else ""
        _probabilities(sc.rates, "scenario.rates", n=n_arms if sc.rates else None, what=what)
        for stratum, rates in sc.stratum_rates.items():
            _probabilities(rates, f"scenario.stratum_rates.{stratum}", n=n_arms, what=what)
        if not sc.rates and not sc.stratum_rates:
            raise ConfigError("scenario.rates", "give the true outcome rate of each arm (or scenario.stratum_rates)")
    elif sc.kind == "ordinal":
        if model != "proportional_odds":
            raise ConfigError(
                "scenario.kind",
                f"an ordinal scenario needs design.analysis.model=proportional_odds, the design has {model!r}",
            )
        if not sc.control_probs and not sc.stratum_control_probs:
            raise ConfigError("scenario.control_probs", "give the control arm's category probabilities")
        if sc.control_probs:
            _simplex(sc.control_probs, "scenario.control_probs")
        for stratum, probs in sc.stratum_control_probs.items():
            _simplex(probs, f"scenario.stratum_control_probs.{stratum}")
        n_cat = {len(p) for p in [sc.control_probs, *sc.stratum_control_probs.values()] if len(p)}
        if len(n_cat) > 1:
            raise ConfigError("scenario.stratum_control_probs", f"every stratum needs the same categories, got {n_cat}")
        c = design.analysis.n_categories
        if c is not None and n_cat and n_cat != {c}:
            raise ConfigError("scenario.control_probs", f"needs design.analysis.n_categories={c} probabilities")
        if not sc.odds_ratios and not sc.stratum_odds_ratios:
            raise ConfigError("scenario.odds_ratios", "give one odds ratio per design arm (1 for the control)")
        if sc.odds_ratios:
            _odds_ratios(sc.odds_ratios, "scenario.odds_ratios", n_arms)
        for stratum, odds in sc.stratum_odds_ratios.items():
            _odds_ratios(odds, f"scenario.stratum_odds_ratios.{stratum}", n_arms)
        named = [set(sc.stratum_control_probs), set(sc.stratum_odds_ratios), set(sc.stratum_shares)]
        named = [n for n in named if n]
        if any(n != named[0] for n in named):
            raise ConfigError("scenario.stratum_odds_ratios", "per-stratum entries must name the same strata")
        if sc.rates or sc.stratum_rates:
            raise ConfigError("scenario.rates", "not used by an ordinal scenario (give control_probs, odds_ratios)")
    else:
        _check_factorial(sc, design)
    for stratum, share in sc.stratum_shares.items():
        _probability(share, f"scenario.stratum_shares.{stratum}")
    if sc.stratum_shares and not math.isclose(sum(sc.stratum_shares.values()), 1.0, abs_tol=1e-9):
        raise ConfigError("scenario.stratum_shares", f"must sum to 1, got {sum(sc.stratum_shares.values())}")
    _positive_int(sc.n_patients, "scenario.n_patients")


def _check_factorial(sc: DictConfig, design: Any) -> None:
    if not design.domains:
        raise ConfigError("scenario.kind", "a factorial scenario needs a design with design.domains")
    if sc.control_rate is None:
        raise ConfigError("scenario.control_rate", "give the event probability of the all-controls combination")
    _probability(sc.control_rate, "scenario.control_rate")
    if not 0.0 < float(sc.control_rate) < 1.0:
        raise ConfigError("scenario.control_rate", f"must be strictly between 0 and 1, got {sc.control_rate!r}")
    names = [d.name for d in design.domains]
    for dom in sc.domain_log_odds:
        if dom not in names:
            raise ConfigError(f"scenario.domain_log_odds.{dom}", f"is not a domain of the design ({', '.join(names)})")
    for d in design.domains:
        effects = sc.domain_log_odds.get(d.name)
        if effects is None:
            continue
        key = f"scenario.domain_log_odds.{d.name}"
        if len(effects) != len(d.arms):
            raise ConfigError(key, f"needs one log odds ratio per arm of domain {d.name} {list(d.arms)}")
        if any(not math.isfinite(float(e)) for e in effects):
            raise ConfigError(key, "log odds ratios must be finite")
    for combo, value in sc.interaction_log_odds.items():
        if combo not in design.arms:
            raise ConfigError(
                f"scenario.interaction_log_odds.{combo}",
                f"is not a combination of the design's domains (e.g. {design.arms[-1]!r})",
            )
        if not math.isfinite(float(value)):
            raise ConfigError(f"scenario.interaction_log_odds.{combo}", "must be a finite log odds ratio")
    if sc.rates or sc.stratum_rates or sc.stratum_shares:
        raise ConfigError("scenario.rates", "not used by a factorial scenario (give control_rate, domain_log_odds)")


def _check_plan(run: DictConfig, design: Any) -> None:
    """Plan the trials on a tiny copy of the scenario's table: the engine's checks of the design against its data
    (e.g. concurrent controls with an analysis that lacks them) then stop the run here, before any work."""
    from .._keys import stage_key
    from ..platform import outcomes_from_scenario, plan_trials

    tiny = OmegaConf.to_container(OmegaConf.merge(run.scenario, {"n_patients": 64}), resolve=True)
    plan_trials(design, outcomes_from_scenario(tiny, design, key=stage_key(run.seed, "outcomes")))


def _check_population(pop: DictConfig) -> None:
    _positive_int(pop.n_patients, "population.n_patients")
    _cross.check_cohort_options(_plain_node(pop.options))
    _one_of(pop.source, "population.source", _POPULATION_SOURCES)
    if not isinstance(pop.days, int) or not 10 <= pop.days <= 365:
        raise ConfigError("population.days", f"must be an integer number of days in [10, 365], got {pop.days!r}")
    from ..models._outcomes import daily_state_names

    daily_state_names(_plain_node(pop.daily_states), "population.daily_states")
    if pop.source == "data":
        _check_data_files(pop)


def _check_data_files(pop: DictConfig) -> None:
    """``source=data``: the patient-level files exist and pass the loader (file, row and column named), before any
    work; the cohort is then drawn from Fit 2 on them (sepsim.models.population.fit_data)."""
    from ..models.population._data import load_patient_data, measurements_file_for

    if not pop.data_file:
        raise ConfigError("population.data_file", "required when population.source=data (the patients CSV file)")
    if not Path(pop.data_file).is_file():
        raise ConfigError("population.data_file", f"file not found: {pop.data_file}")
    if pop.calibrate:
        raise ConfigError("population.calibrate", "Fit 1 (calibrate) and source=data (Fit 2) exclude each other")
    try:
        load_patient_data(pop.data_file, measurements_file_for(pop.data_file))
    except DataFileError as err:
        raise ConfigError("population.data_file", str(err)) from None


def validate(cfg: DictConfig | dict) -> DictConfig:
    """Validate a composed run config; return it merged onto the schema. Raises ``ConfigError`` on the first problem."""
    run = to_run_config(cfg)
    _cross.check_seed(run.seed)
    _cross.check_name(run.name)
    _positive_int(run.n_trials, "n_trials")
    _one_of(run.outcomes, "outcomes", _OUTCOME_SOURCES)
    _one_of(run.runtime.progress, "runtime.progress", _PROGRESS)
    _one_of(run.runtime.precision, "runtime.precision", ("float64", "float32"))
    if run.runtime.cache:
        check_writable(run.runtime.cache_dir, "runtime.cache_dir")
    if run.runtime.chunk_size is not None:
        _positive_int(run.runtime.chunk_size, "runtime.chunk_size")
    _check_processes(run.runtime.processes)
    _one_of(run.endpoint.kind, "endpoint.kind", _ENDPOINT_KINDS)
    design = _check_design(run.design)  # the engine refuses crossed stopping thresholds itself
    _check_selection(run.selection, design)
    _cross.check_directions(run, design)
    _cross.check_work(run, design)
    if run.outcomes == "scenario":
        _check_scenario(run.scenario, design)
        _cross.check_endpoint_kind(run)
        _cross.check_pool(run.scenario.n_patients, design, "scenario.n_patients")
        _check_plan(run, design)
    else:
        _check_population(run.population)
        _cross.check_pool(run.population.n_patients, design, "population.n_patients")
        _cross.check_endpoint_variables(run)
        _cross.check_strata(run, design)
        _check_arms(run, design)
    _check_study(run)
    return run


def _check_processes(value: Any) -> None:
    from ..platform._engine.batches import check_processes

    check_processes(value, "runtime.processes")


def _check_study(run: DictConfig) -> None:
    """The ``study`` mapping (study-specific settings, ``sepsim.studies``): checked by the study registry."""
    from ..studies import validate_study

    validate_study(run)


def _check_selection(sel: DictConfig, design: Any) -> None:
    from ..platform import check_selection

    if design.domains and sel.strategy != "none":
        raise ConfigError("selection.strategy", "factorial (design.domains) OCs select no arm: leave it 'none'")
    arms = list(design.arms) if not design.domains else []
    prefs = list(sel.preferences)
    check_selection(
        sel.strategy, prefs, arms, design.control, key="selection.strategy", preferences_key="selection.preferences"
    )


def _check_design(design_cfg: Any):
    """Build the trial design through the engine's own validator, so its messages name ``design.<key>``."""
    from ..platform import design_from_dict

    plain = OmegaConf.to_container(design_cfg, resolve=True) if isinstance(design_cfg, DictConfig) else design_cfg
    try:
        return design_from_dict(plain)
    except ConfigError as err:  # the engine lists the allowed keys; add the closest match for a typo
        text = str(err).split(": ", 1)[-1]
        if text.startswith("unknown key; allowed: ") and "did you mean" not in text:
            allowed = [a.strip(" '[]") for a in text.removeprefix("unknown key; allowed: ").split(",")]
            raise unknown_key(err.key, allowed) from None
        raise


def _check_arms(run: DictConfig, design: Any) -> None:
    if not run.arms:
        raise ConfigError("arms", "outcomes=mechanistic needs at least one arm (e.g. arms.placebo: {})")
    for name in list(run.arms):
        _cross.check_doses(_plain_node(run.arms[name]), f"arms.{name}")
        try:
            run.arms[name] = OmegaConf.merge(OmegaConf.structured(ArmConfig), run.arms[name] or {})
        except OmegaConfBaseException as err:
            raise ConfigError(f"arms.{name}.{getattr(err, 'key', '') or ''}".rstrip("."), _first_line(err)) from None
    build_arms({name: _arm_spec(arm) for name, arm in run.arms.items()})
    missing = [a for a in design.arms if a not in run.arms]
    if missing and design.domains:
        raise ConfigError(
            "design.domains",
            f"outcomes=mechanistic with domains needs one arm per combination '<arm1>+<arm2>' under arms:; "
            f"missing {missing}",
        )
    if missing:
        raise ConfigError("design.arms", f"arms {missing} are not defined under arms: ({', '.join(run.arms)})")


def _plain_node(node: Any) -> Any:
    return OmegaConf.to_container(node, resolve=True) if isinstance(node, DictConfig) else node


def _arm_spec(arm: DictConfig) -> dict[str, Any]:
    spec = OmegaConf.to_container(arm, resolve=True)
    return {k: v for k, v in spec.items() if v not in (None, [], {})}
