"""Structured-config schemas (OmegaConf dataclasses) for every config group under ``conf/``.

Hydra merges the YAML files onto these dataclasses, so an unknown key or a value of the wrong type stops the run at
composition time with a message naming the key. Impossible values (negative sizes, probabilities outside [0, 1],
missing data files) are caught by :func:`sepsim.config.validate` before any work. The trial design is the trial
engine's own schema (:func:`sepsim.platform.design_from_dict`) and is carried here as a plain mapping.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "AdsorberChoice",
    "ArmConfig",
    "EndpointConfig",
    "PopulationConfig",
    "RunConfig",
    "RuntimeConfig",
    "ScenarioConfig",
    "SelectionConfig",
    "TherapyChoice",
]


@dataclass
class ScenarioConfig:
    """A parametric outcome generator: true outcome means per arm (and optionally per stratum).

    ``kind`` picks the generator (``sepsim.pipeline`` builds the table, ``sepsim.config.validate`` checks it):

    * ``binary``: ``rates[arm]`` is the event probability of each arm in the design's arm order;
      ``stratum_rates`` overrides them per stratum.
    * ``ordinal``: categories ``0..C-1`` under proportional odds (``sepsim.platform.ordinal_scenario``):
      ``control_probs`` (C probabilities of the control arm, summing to 1) and ``odds_ratios`` (one common odds
      ratio for a *higher* category per design arm, 1 for the control); ``stratum_control_probs`` and
      ``stratum_odds_ratios`` override them per stratum. Needs ``design.analysis.model: proportional_odds``.
    * ``factorial``: the combination table of a ``design.domains`` platform: the event probability of combination
      ``"<arm1>+<arm2>"`` is ``logistic(logit(control_rate) + sum_d domain_log_odds[d][arm_d] +
      interaction_log_odds["<arm1>+<arm2>"])`` (log odds ratios against each domain's first listed arm, which
      should be 0; combinations not listed under ``interaction_log_odds`` have none).

    ``stratum_shares`` is the mix of strata in the patient stream (binary and ordinal kinds).
    """

    name: str = "null"
    kind: str = "binary"  # binary | ordinal | factorial
    rates: list[float] = field(default_factory=list)
    stratum_rates: dict[str, list[float]] = field(default_factory=dict)
    stratum_shares: dict[str, float] = field(default_factory=dict)
    control_probs: list[float] = field(default_factory=list)  # ordinal: control category probabilities
    odds_ratios: list[float] = field(default_factory=list)  # ordinal: one OR per design arm (1 for the control)
    stratum_control_probs: dict[str, list[float]] = field(default_factory=dict)
    stratum_odds_ratios: dict[str, list[float]] = field(default_factory=dict)
    control_rate: float | None = None  # factorial: event probability of the all-controls combination
    domain_log_odds: dict[str, list[float]] = field(default_factory=dict)  # factorial: domain -> per-arm log OR
    interaction_log_odds: dict[str, float] = field(default_factory=dict)  # factorial: "<a1>+<a2>" -> extra log OR
    n_patients: int = 200_000  # size of the potential-outcome pool trials draw from


@dataclass
class PopulationConfig:
    """Where virtual patients come from (stage 2 of the pipeline)."""

    name: str = "prior"
    n_patients: int = 2000
    days: int = 28  # horizon of the dynamics after randomisation (dead_Nd needs days >= N; 10..365 accepted)
    # model states kept daily in the outcome table: "all", or a list of state names (a 10^6-patient table's states
    # alone are ~33 GB at 90 days and 3 arms); every read-out is computed from all of them either way
    daily_states: Any = "all"
    source: str = "posterior"  # "posterior" (calibrated population model), "prior" (parameter ranges), "data" (file)
    data_file: str | None = None
    options: dict[str, Any] = field(default_factory=dict)  # CohortConfig fields: fixed, screening_window_h
    # population model (sepsim.models.population; CohortConfig documents each)
    posterior_file: str | None = None  # source=posterior: InferenceData netCDF; null = the committed fit
    posterior_draw: int | None = None  # one fixed posterior draw; null = a draw per patient (posterior predictive)
    inclusion: dict[str, Any] = field(default_factory=dict)  # covariate -> allowed codes or [low, high]
    calibrate: dict[str, Any] = field(default_factory=dict)  # non-empty: run Fit 1 first (CalibrationConfig keys)


@dataclass
class ArmConfig:
    """One trial arm: therapies (each a name, or a mapping with regimen overrides) and an optional device."""

    therapies: list[Any] = field(default_factory=list)
    adsorber: Any | None = None


@dataclass
class TherapyChoice:
    """The ``therapy=`` group: a named regimen (one or several therapies) that studies put into an arm."""

    name: str = "none"
    therapies: list[Any] = field(default_factory=list)


@dataclass
class AdsorberChoice:
    """The ``adsorber=`` group: a named extracorporeal device setting (``device: null`` for none)."""

    name: str = "none"
    device: Any | None = None


@dataclass
class EndpointConfig:
    """Which clinical read-out the trial analyses (stage 3 output variable)."""

    name: str = "responder"
    variable: str = "responder"
    kind: str = "binary"  # binary | continuous | ordinal
    higher_is_better: bool = True
    stratum: str | None = "endotype"  # patient-level variable that defines strata, or null


@dataclass
class RuntimeConfig:
    """How the run executes (not part of any stage's cache key)."""

    progress: str = "auto"  # auto | bar | log
    cache: bool = True
    cache_dir: str = ".cache/sepsim"
    chunk_size: int | None = None
    # trial batches shared with worker processes: "auto" (one per available core, for runs long enough to repay
    # their start), 1 (this process only) or N (sepsim/platform/_engine/batches.py); results do not depend on it
    processes: Any = "auto"
    figures: bool = True
    precision: str = "float64"  # float64 (default; what the tests check) | float32 (GPU, where shown harmless)
    allow_large: bool = False  # confirm a run above sepsim.config.WORK_LIMIT trials x patients x arms


@dataclass
class SelectionConfig:
    """Which arm counts as selected in trials without a superior arm (adaptr ``extract_results``' strategies:
    ``none``, ``control if available``, ``control``, ``final control``, ``control or best``, ``best``, ``list``,
    ``list or best``; :func:`sepsim.platform.check_selection` defines them). ``preferences``: the arms, in order,
    of the ``list`` strategies."""

    strategy: str = "none"
    preferences: list[str] = field(default_factory=list)


@dataclass
class RunConfig:
    """The whole run: ``sepsim experiment=NAME key=value ...`` composes onto this."""

    name: str = "default"
    description: str = ""
    seed: int = 1
    n_trials: int = 1000
    outcomes: str = "scenario"  # scenario (parametric) | mechanistic (population -> dynamics)
    scenario: ScenarioConfig = field(default_factory=ScenarioConfig)
    population: PopulationConfig = field(default_factory=PopulationConfig)
    arms: dict[str, Any] = field(default_factory=dict)  # name -> ArmConfig (checked entry by entry by validate)
    therapy: TherapyChoice = field(default_factory=TherapyChoice)
    adsorber: AdsorberChoice = field(default_factory=AdsorberChoice)
    endpoint: EndpointConfig = field(default_factory=EndpointConfig)
    design: Any = field(default_factory=dict)
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)
    study: dict[str, Any] = field(default_factory=dict)  # study-specific settings, ``kind`` first (sepsim.studies)
    selection: SelectionConfig = field(default_factory=SelectionConfig)  # the OCs' selected arm (inconclusive trials)
