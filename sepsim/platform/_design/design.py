# ruff: noqa: UP045  (OmegaConf 2.3 structured configs need typing.Optional, not X | None)
"""Trial design configuration: frozen dataclasses that OmegaConf accepts as structured configs.

Every field is an int, float, bool, str, ``Optional[...]``, ``list[...]`` or a nested dataclass (no ``Union``), so
the same classes type-check hydra configs under ``conf/design/``. ``validate()`` raises
:class:`sepsim._errors.ConfigError` naming the dotted key (``design.allocation.min_prob``) and what is allowed.
:func:`design_from_dict` builds and validates a design from a plain dict (unknown keys are errors).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, Optional

from ..._errors import ConfigError
from .analysis import ANALYSIS_METHODS, ANALYSIS_MODELS, FREQUENTIST_TESTS, LOG_ODDS_MODELS, SPENDING, AnalysisConfig
from .domains import DomainConfig, domain_combinations
from .enrolment import EligibilityRule, EnrolmentConfig, StreamDriftConfig
from .rules import ALLOCATION_RULES, AllocationConfig, StoppingConfig

__all__ = [
    "AllocationConfig",
    "StoppingConfig",
    "AnalysisConfig",
    "EnrolmentConfig",
    "EligibilityRule",
    "StreamDriftConfig",
    "DomainConfig",
    "TrialDesign",
    "design_from_dict",
    "design_schema",
    "design_to_json",
    "ALLOCATION_RULES",
    "ANALYSIS_METHODS",
    "ANALYSIS_MODELS",
    "FREQUENTIST_TESTS",
    "LOG_ODDS_MODELS",
    "SPENDING",
    "domain_combinations",
]


@dataclass(frozen=True)
class TrialDesign:
    """A complete trial design.

    Attributes:
        arms: arm names (must match the outcome table's arms, in any order).
        control: common control arm or None (adaptr: no common control -> all arms compared by P(best)).
        look_n: patients with complete outcomes at each analysis, strictly increasing; the last is the maximum.
        higher_is_better: True for a desirable outcome (response), False for an undesirable one (death).
        strata: stratum names (default: the outcome table's strata).
        stratum_arms: for each stratum, the arms its patients may receive (biomarker-guided assignment, e.g.
            ImmunoSep: MALS -> [placebo, anakinra]); default all arms everywhere.
        arm_start_look: per arm, the look after which it opens (0 = from the first patient); platform entry.
        arm_stop_look: per arm, the look after which it closes (-1 = never).
        concurrent_controls: compare each arm only with control patients randomised while it was open (applies
            while the design's control is the control; after an arm replaces it, comparisons use all data).
        arm_start_day: per arm, the calendar day (from the first patient's arrival clock, days) from which it may
            receive patients; needs ``enrolment.accrual_per_day`` and a control open throughout. Within a
            randomisation window each patient is randomised among the arms open at his arrival (probabilities
            renormalised); concurrent controls are the control patients who arrived while the arm was open.
        arm_stop_day: per arm, the day from which it receives nobody (negative = never).
        max_active_arms: at most this many arms (control included) active at once; the others wait in listed
            order and enter, from the next randomisation window, at the look at which an active arm leaves
            (dropped for inferiority, futility or equivalence, or closed by ``arm_stop_*``). While arms wait, a
            single arm left in play does not end the trial.
        domains: factorial platform (:class:`DomainConfig` per domain): each patient is randomised in every
            domain, his outcome is the table's column for his combination (``arms`` are then the combinations
            ``"<arm1>+<arm2>"``, filled in by :func:`design_from_dict`), and each domain decides on its own
            arms; the top-level ``control``/``allocation``/``stopping`` are not used (run with
            :func:`sepsim.platform.run_trials`, results in README_engine.md).
    """

    arms: list[str] = field(default_factory=lambda: ["A", "B"])
    control: Optional[str] = None
    look_n: list[int] = field(default_factory=lambda: [100, 200])
    higher_is_better: bool = False
    strata: Optional[list[str]] = None
    stratum_arms: Optional[list[list[str]]] = None
    arm_start_look: Optional[list[int]] = None
    arm_stop_look: Optional[list[int]] = None
    concurrent_controls: bool = True
    arm_start_day: Optional[list[float]] = None
    arm_stop_day: Optional[list[float]] = None
    max_active_arms: Optional[int] = None
    domains: list[DomainConfig] = field(default_factory=list)
    allocation: AllocationConfig = field(default_factory=AllocationConfig)
    stopping: StoppingConfig = field(default_factory=StoppingConfig)
    analysis: AnalysisConfig = field(default_factory=AnalysisConfig)
    enrolment: EnrolmentConfig = field(default_factory=EnrolmentConfig)
    scenario: StreamDriftConfig = field(default_factory=StreamDriftConfig)

    def validate(self) -> TrialDesign:
        p = "design"
        if len(self.arms) < 2 or len(set(self.arms)) != len(self.arms):
            raise ConfigError(f"{p}.arms", "needs at least two distinct arm names")
        if self.control is not None and self.control not in self.arms:
            raise ConfigError(f"{p}.control", f"must be one of {self.arms} or null, got {self.control!r}")
        ln = self.look_n
        if (
            not ln
            or any((not isinstance(x, int)) or x <= 0 for x in ln)
            or any(b <= a for a, b in zip(ln, ln[1:], strict=False))
        ):
            raise ConfigError(f"{p}.look_n", "must be a non-empty list of strictly increasing positive integers")
        if self.strata is not None and (not self.strata or len(set(self.strata)) != len(self.strata)):
            raise ConfigError(f"{p}.strata", "must be distinct stratum names")
        if self.stratum_arms is not None:
            n_s = len(self.strata) if self.strata is not None else None
            if n_s is None or len(self.stratum_arms) != n_s:
                raise ConfigError(f"{p}.stratum_arms", "needs design.strata and one arm list per stratum")
            for i, arms in enumerate(self.stratum_arms):
                bad = [a for a in arms if a not in self.arms]
                if bad or len(arms) < 2:
                    raise ConfigError(f"{p}.stratum_arms[{i}]", f"needs >= 2 arms from {self.arms}, got {arms}")
                if self.control is not None and self.control not in arms:
                    raise ConfigError(f"{p}.stratum_arms[{i}]", f"must include the control {self.control!r}")
        n_looks = len(ln)
        for name, lo in (("arm_start_look", 0), ("arm_stop_look", -1)):
            v = getattr(self, name)
            if v is not None and (len(v) != len(self.arms) or any(x < lo or x >= n_looks for x in v)):
                raise ConfigError(f"{p}.{name}", f"needs one look index per arm in [{lo}, {n_looks - 1}]")
        if self.arm_start_look is not None and self.control is not None:
            if self.arm_start_look[self.arms.index(self.control)] != 0:
                raise ConfigError(f"{p}.arm_start_look", "the control arm must open at look 0")
        has_control = self.control is not None
        self.allocation.validate(len(self.arms), has_control)
        self.stopping.validate(has_control, probability_scale=self.analysis.model == "beta_binomial")
        sup, inf = self.stopping.superiority, self.stopping.inferiority
        if self.analysis.method != "frequentist" and sup is not None and inf is not None:
            if inf >= sup:
                raise ConfigError(
                    f"{p}.stopping.inferiority",
                    f"must be below design.stopping.superiority ({sup}), got {inf} "
                    "(an arm would be dropped as inferior and declared superior at once)",
                )
        self.analysis.validate()
        self.enrolment.validate(ln)
        self.scenario.validate(len(self.strata) if self.strata else 1)
        if self.stopping.per_stratum and self.strata is None:
            raise ConfigError(f"{p}.stopping.per_stratum", "needs design.strata")
        self._validate_analysis(n_looks)
        self._validate_arm_entry()
        if self.domains:
            self._validate_domains()
        return self

    def _validate_domains(self) -> None:
        p = "design.domains"
        names = [d.name for d in self.domains]
        for i, dom in enumerate(self.domains):
            dom.validate(f"{p}[{i}]")
        if len(set(names)) != len(names):
            raise ConfigError(p, f"domain names must be distinct, got {names}")
        if sorted(self.arms) != sorted(domain_combinations(self.domains)):
            raise ConfigError(
                "design.arms", "with domains, must list the combinations '<arm1>+<arm2>' (or be left out)"
            )
        plain = (
            self.control is None
            and self.allocation == AllocationConfig()
            and self.stopping == StoppingConfig()
            and self.strata is None
            and self.arm_start_look is None
            and self.arm_stop_look is None
            and self.arm_start_day is None
            and self.arm_stop_day is None
            and self.max_active_arms is None
        )
        if not plain:
            raise ConfigError(
                p, "set control/allocation/stopping per domain; strata, arm schedules and max_active_arms do not apply"
            )
        enr = self.enrolment
        if enr.accrual_per_day is not None or enr.dropout_prob > 0 or enr.eligibility:
            raise ConfigError(f"{p}", "domains support enrolment.randomised_n only (no accrual, dropout, screening)")
        if self.analysis.method == "frequentist" or self.analysis.model != "beta_binomial":
            raise ConfigError("design.analysis.method", "domains use the Bayesian beta-binomial analysis")
        if self.scenario != StreamDriftConfig():
            raise ConfigError("design.scenario", "scenarios are not supported with domains")

    def _validate_arm_entry(self) -> None:
        p, a_n = "design", len(self.arms)
        for name in ("arm_start_day", "arm_stop_day"):
            v = getattr(self, name)
            if v is None:
                continue
            if len(v) != a_n or any(not isinstance(x, (int, float)) or isinstance(x, bool) for x in v):
                raise ConfigError(f"{p}.{name}", f"needs one day per arm ({a_n})")
            if self.enrolment.accrual_per_day is None:
                raise ConfigError(f"{p}.{name}", "calendar days need design.enrolment.accrual_per_day")
            if self.control is None:
                raise ConfigError(f"{p}.{name}", "calendar entry needs a control open throughout (design.control)")
            if self.allocation.block_factor > 0:
                raise ConfigError(f"{p}.{name}", "calendar entry does not support permuted blocks (block_factor)")
        start, stop = self.arm_start_day, self.arm_stop_day
        if start is not None and any(x < 0 for x in start):
            raise ConfigError(f"{p}.arm_start_day", "days must be >= 0")
        if start is not None and self.arm_start_look is not None:
            raise ConfigError(f"{p}.arm_start_day", "give arm_start_day or arm_start_look, not both")
        if stop is not None and self.arm_stop_look is not None:
            raise ConfigError(f"{p}.arm_stop_day", "give arm_stop_day or arm_stop_look, not both")
        if self.control is not None and (start is not None or stop is not None):
            c = self.arms.index(self.control)
            if (start is not None and start[c] != 0) or (stop is not None and stop[c] >= 0):
                raise ConfigError(f"{p}.arm_start_day", "the control must be open from day 0 and never close")
        if stop is not None:
            s0 = start or [0.0] * a_n
            if any(b >= 0 and b <= a for a, b in zip(s0, stop, strict=True)):
                raise ConfigError(f"{p}.arm_stop_day", "each stop day must be after the arm's start day (or < 0)")
        m = self.max_active_arms
        if m is not None:
            if not isinstance(m, int) or isinstance(m, bool) or not 2 <= m <= a_n:
                raise ConfigError(f"{p}.max_active_arms", f"must be an integer in [2, {a_n}], got {m!r}")
            if self.arm_start_look is not None or start is not None:
                raise ConfigError(f"{p}.max_active_arms", "arms enter by rule or by schedule (arm_start_*), not both")
            if self.stopping.per_stratum or self.stratum_arms is not None:
                raise ConfigError(f"{p}.max_active_arms", "not supported with per-stratum decisions or stratum_arms")

    def _validate_analysis(self, n_looks: int) -> None:
        an, st, p = self.analysis, self.stopping, "design.analysis"
        if an.method == "frequentist":
            if self.control is None:
                raise ConfigError(f"{p}.method", "'frequentist' tests each arm against a control: set design.control")
            if self.allocation.rule != "fixed":
                raise ConfigError("design.allocation.rule", "the frequentist analysis needs rule 'fixed'")
            if st.equivalence_prob is not None or st.futility_prob is not None:
                raise ConfigError(
                    "design.stopping.futility_prob",
                    "Bayesian equivalence/futility rules do not apply to 'frequentist'; use design.analysis.futility_z",
                )
            if an.futility_z is not None and len(an.futility_z) != n_looks:
                raise ConfigError(f"{p}.futility_z", f"needs one z value per look ({n_looks})")
            if an.information == "observed" and self.stopping.per_stratum:
                raise ConfigError(f"{p}.information", "'observed' is not supported with stopping.per_stratum")
            if an.test == "cmh" and self.stopping.per_stratum:
                raise ConfigError(
                    f"{p}.test", "'cmh' pools strata; with stopping.per_stratum use 'z', 'chisq' or 'fisher'"
                )
        elif an.futility_z is not None:
            raise ConfigError(f"{p}.futility_z", "applies to method 'frequentist' only")
        if an.model == "normal":
            if self.control is None and st.equivalence_prob is not None:
                raise ConfigError(
                    "design.stopping.equivalence_prob", "the normal model needs a control for equivalence"
                )
            if self.allocation.rule == "trippa" or self.scenario.time_trend_logit != 0.0:
                raise ConfigError(f"{p}.model", "the normal model supports neither 'trippa' nor time_trend_logit")
        if an.model in LOG_ODDS_MODELS:
            self._validate_log_odds_model()

    def _validate_log_odds_model(self) -> None:
        an, p = self.analysis, "design.analysis.model"
        if self.allocation.within_strata:
            raise ConfigError("design.allocation.within_strata", f"not supported with model {an.model!r}")
        if an.model == "proportional_odds" and self.scenario.time_trend_logit != 0.0:
            raise ConfigError("design.scenario.time_trend_logit", "needs a binary outcome, not 'proportional_odds'")
        if an.model in ("logistic", "hierarchical") and self.control is None:
            raise ConfigError("design.control", f"model {an.model!r} estimates effects against a control: set it")
        if an.model == "logistic" and an.covariates and self.stopping.per_stratum:
            raise ConfigError("design.stopping.per_stratum", "model 'logistic' with covariates pools the strata")
        if an.model == "hierarchical" and (not self.stopping.per_stratum or not self.strata or len(self.strata) < 2):
            raise ConfigError(
                p,
                "'hierarchical' borrows across strata: needs design.strata (>= 2) and "
                "design.stopping.per_stratum: true",
            )


_NESTED = {
    "allocation": AllocationConfig,
    "stopping": StoppingConfig,
    "analysis": AnalysisConfig,
    "enrolment": EnrolmentConfig,
    "scenario": StreamDriftConfig,
}


def _build(cls: Any, d: Any, prefix: str) -> Any:
    if dataclasses.is_dataclass(d) and not isinstance(d, type):
        d = dataclasses.asdict(d)
    if hasattr(d, "items") and not isinstance(d, dict) and not dataclasses.is_dataclass(d):  # OmegaConf node
        from omegaconf import OmegaConf

        d = OmegaConf.to_container(d, resolve=True)
    if not isinstance(d, dict):
        raise ConfigError(prefix, f"must be a mapping, got {type(d).__name__}")
    names = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {}
    for k, v in d.items():
        if k not in names:
            raise ConfigError(f"{prefix}.{k}", f"unknown key; allowed: {sorted(names)}")
        if cls in (TrialDesign, DomainConfig) and k in _NESTED:
            v = _build(_NESTED[k], v if v is not None else {}, f"{prefix}.{k}")
        elif cls is TrialDesign and k == "domains":
            if not isinstance(v, (list, tuple)):
                raise ConfigError(f"{prefix}.{k}", "must be a list of {name, arms, control, allocation, stopping}")
            v = [
                r if isinstance(r, DomainConfig) else _build(DomainConfig, r, f"{prefix}.{k}[{i}]")
                for i, r in enumerate(v)
            ]
            if "arms" not in d:
                kwargs["arms"] = domain_combinations(v)
        elif cls is EnrolmentConfig and k == "eligibility":
            if not isinstance(v, (list, tuple)):
                raise ConfigError(f"{prefix}.{k}", "must be a list of {biomarker, op, threshold} rules")
            v = [
                r if isinstance(r, EligibilityRule) else _build(EligibilityRule, r, f"{prefix}.{k}[{i}]")
                for i, r in enumerate(v)
            ]
        elif isinstance(v, tuple):
            v = list(v)
        kwargs[k] = v
    try:
        return cls(**kwargs)
    except TypeError as e:  # pragma: no cover - defensive
        raise ConfigError(prefix, str(e)) from None


def design_from_dict(d: Any) -> TrialDesign:
    """Build a :class:`TrialDesign` from a plain dict (or OmegaConf node) and validate it."""
    return _build(TrialDesign, d, "design").validate()


def design_schema() -> Any:
    """``OmegaConf.structured(TrialDesign)`` with the read-only flag that frozen dataclasses set removed, so
    hydra/OmegaConf can merge user values into it (types are still checked)."""
    from omegaconf import DictConfig, OmegaConf

    cfg = OmegaConf.structured(TrialDesign)

    def unlock(node):
        OmegaConf.set_readonly(node, None)
        for k in node:
            child = node._get_node(k)
            if isinstance(child, DictConfig):
                unlock(child)

    unlock(cfg)
    OmegaConf.set_readonly(cfg, False)
    return cfg


def design_to_json(design: TrialDesign) -> str:
    """The design as a JSON string (stored in the results' ``design`` attribute)."""
    return json.dumps(dataclasses.asdict(design), sort_keys=True)
