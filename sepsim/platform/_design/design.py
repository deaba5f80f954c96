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
import math
from dataclasses import dataclass, field
from typing import Any, Optional

from ..._errors import ConfigError

__all__ = [
    "AllocationConfig",
    "StoppingConfig",
    "AnalysisConfig",
    "EnrolmentConfig",
    "EligibilityRule",
    "ScenarioConfig",
    "DomainConfig",
    "TrialDesign",
    "design_from_dict",
    "design_schema",
    "design_to_json",
    "ALLOCATION_RULES",
    "ANALYSIS_METHODS",
]

ALLOCATION_RULES = ("fixed", "thompson", "thall_wathen", "trippa", "sqrt_control")


def _prob(key: str, v: Optional[float], *, open_low: bool = False) -> None:
    if v is None:
        return
    if not isinstance(v, (int, float)) or isinstance(v, bool) or math.isnan(v) or not 0.0 <= v <= 1.0:
        raise ConfigError(key, f"must be a probability in [0, 1], got {v!r}")
    if open_low and v == 0.0:
        raise ConfigError(key, f"must be a probability in (0, 1], got {v!r}")


@dataclass(frozen=True)
class AllocationConfig:
    """How patients are assigned to arms.

    Attributes:
        rule: "fixed" (``fixed_ratio``, optionally permuted blocks), "thompson" (proportional to P(best), adaptr's
            default RAR), "thall_wathen" (P(best)^c, c = n / (2 N); Thall & Wathen 2007), "trippa" (Trippa et al.
            2012; needs a control), "sqrt_control" (control share sqrt(k) / (sqrt(k) + k) for k active non-control
            arms, the rest by P(best) raised to ``soften_power``; needs a control).
        fixed_ratio: per-arm ratio for "fixed" (default equal); also the burn-in ratio.
        block_factor: permuted blocks for "fixed": each block holds ``block_factor * fixed_ratio`` of each active
            arm (ratios must then be whole numbers); 0 = simple randomisation.
        min_prob, max_prob: adaptr limits on each non-fixed arm's allocation probability.
        soften_power: adaptr softening: response-adaptive probabilities raised to this power, then renormalised.
        burn_in_n: use ``fixed_ratio`` until this many patients have outcome data.
        within_strata: response-adaptive probabilities computed from each stratum's own data.
        trippa_a, trippa_b, trippa_eta: Trippa et al. (2012) gamma = a (n/N)^b and eta = trippa_eta n/N.
    """

    rule: str = "fixed"
    fixed_ratio: Optional[list[float]] = None
    block_factor: int = 0
    min_prob: Optional[float] = None
    max_prob: Optional[float] = None
    soften_power: float = 1.0
    burn_in_n: int = 0
    within_strata: bool = False
    trippa_a: float = 10.0
    trippa_b: float = 0.75
    trippa_eta: float = 0.25

    def validate(self, n_arms: int, has_control: bool, prefix: str = "design.allocation") -> None:
        if self.rule not in ALLOCATION_RULES:
            raise ConfigError(f"{prefix}.rule", f"must be one of {list(ALLOCATION_RULES)}, got {self.rule!r}")
        if self.rule in ("trippa", "sqrt_control") and not has_control:
            raise ConfigError(f"{prefix}.rule", f"{self.rule!r} needs a control arm (design.control)")
        if self.fixed_ratio is not None:
            if len(self.fixed_ratio) != n_arms:
                raise ConfigError(f"{prefix}.fixed_ratio", f"needs one positive number per arm ({n_arms})")
            if any((not isinstance(r, (int, float))) or r <= 0 for r in self.fixed_ratio):
                raise ConfigError(f"{prefix}.fixed_ratio", "ratios must be positive numbers")
        if not isinstance(self.block_factor, int) or self.block_factor < 0:
            raise ConfigError(f"{prefix}.block_factor", "must be a non-negative integer (0 = no blocks)")
        if self.block_factor > 0:
            if self.rule != "fixed":
                raise ConfigError(f"{prefix}.block_factor", "permuted blocks apply to rule 'fixed' only")
            ratio = self.fixed_ratio or [1.0] * n_arms
            if any(float(r) != int(r) for r in ratio):
                raise ConfigError(f"{prefix}.fixed_ratio", "must be whole numbers when block_factor > 0")
            if self.block_factor * sum(int(r) for r in ratio) > 64:
                raise ConfigError(f"{prefix}.block_factor", "blocks larger than 64 patients are not supported")
        _prob(f"{prefix}.min_prob", self.min_prob)
        _prob(f"{prefix}.max_prob", self.max_prob)
        if self.min_prob is not None and self.min_prob * n_arms > 1.0 + 1e-12:
            raise ConfigError(f"{prefix}.min_prob", f"min_prob * n_arms must be <= 1, got {self.min_prob} * {n_arms}")
        if self.max_prob is not None and self.max_prob * n_arms < 1.0 - 1e-12:
            raise ConfigError(f"{prefix}.max_prob", "max_prob * n_arms must be >= 1")
        if not 0.0 <= self.soften_power <= 1.0:
            raise ConfigError(f"{prefix}.soften_power", f"must be in [0, 1], got {self.soften_power!r}")
        if self.burn_in_n < 0:
            raise ConfigError(f"{prefix}.burn_in_n", "must be >= 0")
        if self.trippa_a < 0 or self.trippa_b < 0 or self.trippa_eta < 0:
            raise ConfigError(f"{prefix}.trippa_a", "Trippa parameters a, b, eta must be >= 0")


@dataclass(frozen=True)
class StoppingConfig:
    """Decision thresholds (adaptr semantics; ``None`` switches a rule off).

    Attributes:
        superiority: stop when P(best) (no control) or P(better than control) exceeds this.
        inferiority: drop an arm when P(best) (no control) or P(better than control) falls below this.
        equivalence_prob, equivalence_margin: no control: stop when P(all active arms within margin) exceeds the
            probability; with a control: drop arms with P(|theta_k - theta_c| < margin) above it.
        futility_prob, futility_margin: with a control: drop arms with P(not better than control by margin) above it.
        per_stratum: decisions (and stopping) separately within each stratum; a stratum whose decisions are
            complete stops enrolling (enrichment). Otherwise decisions use pooled data.
        equivalence_only_first, futility_only_first: with a common control, assess equivalence (futility) only
            against the original control: once an arm has been declared superior and become the new control,
            these checks stop for the rest of the trial (adaptr ``setup_trial``; ``R/run_trial.R``).
    """

    superiority: Optional[float] = 0.99
    inferiority: Optional[float] = 0.01
    equivalence_prob: Optional[float] = None
    equivalence_margin: Optional[float] = None
    futility_prob: Optional[float] = None
    futility_margin: Optional[float] = None
    per_stratum: bool = False
    equivalence_only_first: bool = False
    futility_only_first: bool = False

    def validate(self, has_control: bool, prefix: str = "design.stopping", probability_scale: bool = True) -> None:
        for name, rule in (("equivalence_only_first", "equivalence_prob"), ("futility_only_first", "futility_prob")):
            v = getattr(self, name)
            if not isinstance(v, bool):
                raise ConfigError(f"{prefix}.{name}", f"must be true or false, got {v!r}")
            if v and (not has_control or getattr(self, rule) is None):
                raise ConfigError(f"{prefix}.{name}", f"needs a common control (design.control) and {rule}")
        for name in ("superiority", "inferiority", "equivalence_prob", "futility_prob"):
            _prob(f"{prefix}.{name}", getattr(self, name))
        if (self.equivalence_prob is None) != (self.equivalence_margin is None):
            raise ConfigError(f"{prefix}.equivalence_margin", "give both equivalence_prob and equivalence_margin")
        if (self.futility_prob is None) != (self.futility_margin is None):
            raise ConfigError(f"{prefix}.futility_margin", "give both futility_prob and futility_margin")
        if self.futility_prob is not None and not has_control:
            raise ConfigError(f"{prefix}.futility_prob", "futility needs a control arm (adaptr semantics)")
        for name in ("equivalence_margin", "futility_margin"):
            v = getattr(self, name)
            if v is not None and not 0.0 <= v < (1.0 if probability_scale else math.inf):
                scale = "in [0, 1) on the probability scale" if probability_scale else ">= 0 on the outcome scale"
                raise ConfigError(f"{prefix}.{name}", f"must be {scale}, got {v!r}")


ANALYSIS_METHODS = ("quadrature", "draws", "frequentist")
ANALYSIS_MODELS = ("beta_binomial", "normal", "proportional_odds", "logistic", "hierarchical")
LOG_ODDS_MODELS = ("proportional_odds", "logistic", "hierarchical")  # effects on the log odds ratio scale
FREQUENTIST_TESTS = ("z", "chisq", "fisher", "cmh")
SPENDING = ("obf", "pocock", "ld_obf", "ld_pocock", "hsd")


@dataclass(frozen=True)
class AnalysisConfig:
    """The analysis at each look: Bayesian posterior probabilities or frequentist group-sequential tests.

    Attributes:
        method: "quadrature" (deterministic, fast), "draws" (adaptr's posterior draws; beta_binomial only) or
            "frequentist" (group-sequential tests of each arm against the control; see README_engine.md).
        model: outcome model: "beta_binomial" (binary outcome, Beta prior), "normal" (continuous outcome,
            normal likelihood with a common unknown variance, normal-inverse-gamma prior; Gelman et al. 2013, 3.3),
            "proportional_odds" (ordinal outcome 0..C-1, Laplace), "logistic" (binary, arm + stratum effects and
            optional ``covariates``, Laplace; needs a control) or "hierarchical" (binary, per-stratum log odds
            ratios borrowing across strata; needs a control, strata and ``stopping.per_stratum``). For the last
            three, margins are on the log odds ratio scale (README_engine.md).
        n_draws: posterior draws per arm per look for "draws" (adaptr default 5000).
        n_grid: quadrature nodes (97: max error about 1e-4 in P(best), 3e-5 in P(all equivalent), some 20 times
            below the Monte-Carlo SD of adaptr's 5000 draws near its thresholds; 129: 3e-5; error ~ n_grid^-4).
        prior_a, prior_b: Beta prior (>= 1; adaptr's default Beta(1, 1)).
        prior_mean, prior_kappa, prior_shape, prior_rate: normal model prior ``mu_j | sigma^2 ~ N(prior_mean,
            sigma^2 / prior_kappa)``, ``sigma^2 ~ InvGamma(prior_shape, prior_rate)`` (defaults nearly flat).
        test: frequentist test: "z" (pooled two-proportion z; difference of means for the normal model), "chisq"
            (signed root of Pearson's X^2), "fisher" (one-sided exact conditional test), "cmh"
            (Cochran–Mantel–Haenszel stratified over the design's strata).
        alpha: one-sided family-wise type-I error, split equally (Bonferroni) across the non-control arms of an
            analysis unit.
        spending: efficacy boundary: "obf", "pocock" (classical), "ld_obf", "ld_pocock" (Lan–DeMets), "hsd"
            (Hwang–Shih–DeCani with ``gamma``), at the planned information fractions ``look_n / look_n[-1]`` for
            every arm (observed information is not used; README_engine.md quantifies the difference).
        gamma: Hwang–Shih–DeCani parameter (only with "hsd").
        futility_z: optional non-binding futility bounds, one z per look (``-.inf`` or a very low value for none):
            an arm whose z falls to or below it is dropped as futile.
        n_categories: "proportional_odds": number of ordinal categories C (default: max of the table + 1).
        covariates: "logistic": biomarkers of the outcome table adjusted for (centred, scaled to unit SD).
        prior_sd: sd of the N(0, sd^2) priors on log odds ratios and other regression coefficients
            ("proportional_odds", "logistic"; the common mean's prior for "hierarchical").
        tau_scale: "hierarchical": scale of the half-normal prior on the between-stratum sd of log odds ratios.
        information: "planned" (bounds at ``look_n / look_n[-1]`` for every arm) or "observed" (each comparison
            spends alpha at its own observed information fraction, boundaries computed in each trial; needs an
            alpha-spending function "ld_obf", "ld_pocock" or "hsd"; see README_engine.md).
    """

    method: str = "quadrature"
    model: str = "beta_binomial"
    n_draws: int = 5000
    n_grid: int = 97
    prior_a: float = 1.0
    prior_b: float = 1.0
    prior_mean: float = 0.0
    prior_kappa: float = 1e-3
    prior_shape: float = 1e-3
    prior_rate: float = 1e-3
    test: str = "z"
    alpha: float = 0.025
    spending: str = "obf"
    gamma: Optional[float] = None
    futility_z: Optional[list[float]] = None
    n_categories: Optional[int] = None
    covariates: Optional[list[str]] = None
    prior_sd: float = 10.0
    tau_scale: float = 0.5
    information: str = "planned"

    def validate(self, prefix: str = "design.analysis") -> None:
        if self.information not in ("planned", "observed"):
            raise ConfigError(f"{prefix}.information", f"must be 'planned' or 'observed', got {self.information!r}")
        if self.information == "observed" and (self.method != "frequentist" or self.spending in ("obf", "pocock")):
            raise ConfigError(
                f"{prefix}.information",
                "'observed' needs method 'frequentist' and an alpha-spending function (ld_obf, ld_pocock, hsd)",
            )
        if self.method not in ANALYSIS_METHODS:
            raise ConfigError(f"{prefix}.method", f"must be one of {list(ANALYSIS_METHODS)}, got {self.method!r}")
        if self.model not in ANALYSIS_MODELS:
            raise ConfigError(f"{prefix}.model", f"must be one of {list(ANALYSIS_MODELS)}, got {self.model!r}")
        if self.model == "normal" and self.method == "draws":
            raise ConfigError(f"{prefix}.method", "the normal model uses 'quadrature' or 'frequentist', not 'draws'")
        if self.n_draws < 10:
            raise ConfigError(f"{prefix}.n_draws", "must be >= 10")
        if self.n_grid < 17:
            raise ConfigError(f"{prefix}.n_grid", "must be >= 17")
        if self.prior_a < 1.0 or self.prior_b < 1.0:
            raise ConfigError(f"{prefix}.prior_a", "Beta prior shapes must be >= 1 (the quadrature needs them)")
        for name in ("prior_kappa", "prior_shape", "prior_rate"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not v > 0:
                raise ConfigError(f"{prefix}.{name}", f"must be > 0, got {v!r}")
        if self.test not in FREQUENTIST_TESTS:
            raise ConfigError(f"{prefix}.test", f"must be one of {list(FREQUENTIST_TESTS)}, got {self.test!r}")
        if self.model in LOG_ODDS_MODELS and self.method == "frequentist":
            raise ConfigError(f"{prefix}.method", f"model {self.model!r} uses 'quadrature' or 'draws'")
        if self.n_categories is not None and (self.model != "proportional_odds" or self.n_categories < 2):
            raise ConfigError(f"{prefix}.n_categories", "applies to model 'proportional_odds' only and must be >= 2")
        if self.covariates is not None and (self.model != "logistic" or not self.covariates):
            raise ConfigError(f"{prefix}.covariates", "a non-empty list of biomarker names, for model 'logistic' only")
        for name in ("prior_sd", "tau_scale"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not v > 0:
                raise ConfigError(f"{prefix}.{name}", f"must be > 0, got {v!r}")
        if self.model == "normal" and self.test != "z":
            raise ConfigError(f"{prefix}.test", "the normal model's frequentist test is 'z' (difference of means)")
        if not isinstance(self.alpha, (int, float)) or not 0.0 < self.alpha < 0.5:
            raise ConfigError(f"{prefix}.alpha", f"must be a one-sided level in (0, 0.5), got {self.alpha!r}")
        if self.spending not in SPENDING:
            raise ConfigError(f"{prefix}.spending", f"must be one of {list(SPENDING)}, got {self.spending!r}")
        if self.spending == "hsd" and (self.gamma is None or not math.isfinite(self.gamma)):
            raise ConfigError(f"{prefix}.gamma", "spending 'hsd' needs a finite gamma (e.g. -4 ~ O'Brien-Fleming)")


_OPS = (">=", ">", "<=", "<")


@dataclass(frozen=True)
class EligibilityRule:
    """Screening rule on one biomarker, e.g. ``{biomarker: ferritin, op: ">", threshold: 4420}`` (ng/mL; the
    MALS cut-off of Kyriazopoulou et al. 2017). A patient is eligible when every rule holds."""

    biomarker: str = ""
    op: str = ">="
    threshold: float = 0.0

    def validate(self, prefix: str) -> None:
        if not self.biomarker:
            raise ConfigError(f"{prefix}.biomarker", "must name a biomarker of the outcome table")
        if self.op not in _OPS:
            raise ConfigError(f"{prefix}.op", f"must be one of {list(_OPS)}, got {self.op!r}")


@dataclass(frozen=True)
class EnrolmentConfig:
    """Patient stream, accrual and follow-up.

    Attributes:
        randomised_n: patients randomised by each look (adaptr ``randomised_at_looks``); default = ``look_n``.
        accrual_per_day: Poisson accrual rate (patients/day). When set, looks happen in calendar time when
            ``look_n[k]`` patients have completed follow-up, and ``randomised_n`` is what accrued by then.
        outcome_delay_days: follow-up time (days) from randomisation to a complete outcome (accrual mode only).
        dropout_prob: probability a randomised patient never yields an outcome (counted in n_total, not in n).
        eligibility: screening rules on biomarkers; only patients meeting all of them enter the trial (the
            stream draws from the eligible part of the table; ``screened_per_enrolled`` in the results).
    """

    randomised_n: Optional[list[int]] = None
    accrual_per_day: Optional[float] = None
    outcome_delay_days: float = 0.0
    dropout_prob: float = 0.0
    eligibility: list[EligibilityRule] = field(default_factory=list)

    def validate(self, look_n: list[int], prefix: str = "design.enrolment") -> None:
        if self.randomised_n is not None:
            r = self.randomised_n
            if self.accrual_per_day is not None:
                raise ConfigError(f"{prefix}.randomised_n", "give randomised_n or accrual_per_day, not both")
            if len(r) != len(look_n):
                raise ConfigError(f"{prefix}.randomised_n", f"needs one entry per look ({len(look_n)})")
            if any(b < a for a, b in zip(r, r[1:], strict=False)):
                raise ConfigError(f"{prefix}.randomised_n", "must be non-decreasing")
            if any(ri < li for ri, li in zip(r, look_n, strict=True)):
                raise ConfigError(f"{prefix}.randomised_n", "must be >= look_n at every look")
            if r[-1] != look_n[-1]:
                raise ConfigError(f"{prefix}.randomised_n", "must end at the maximum sample size look_n[-1]")
        if self.accrual_per_day is not None and not self.accrual_per_day > 0:
            raise ConfigError(f"{prefix}.accrual_per_day", "must be > 0 patients/day")
        if self.outcome_delay_days < 0:
            raise ConfigError(f"{prefix}.outcome_delay_days", "must be >= 0 days")
        if not 0.0 <= self.dropout_prob < 1.0:
            raise ConfigError(f"{prefix}.dropout_prob", "must be in [0, 1)")
        for i, rule in enumerate(self.eligibility):
            rule.validate(f"{prefix}.eligibility[{i}]")


@dataclass(frozen=True)
class ScenarioConfig:
    """Departures from a stationary patient stream.

    Attributes:
        time_trend_logit: change in the log-odds of the outcome from the first to the last patient (same for all
            arms); needs outcomes built with :func:`binary_scenario` (they keep the latent uniforms).
        stratum_mix_start, stratum_mix_end: endotype mix of the stream at the first and last patient (linear in
            between); default = the mix of the outcome table.
    """

    time_trend_logit: float = 0.0
    stratum_mix_start: Optional[list[float]] = None
    stratum_mix_end: Optional[list[float]] = None

    def validate(self, n_strata: int, prefix: str = "design.scenario") -> None:
        for name in ("stratum_mix_start", "stratum_mix_end"):
            v = getattr(self, name)
            if v is not None and (len(v) != n_strata or any(x < 0 for x in v) or sum(v) <= 0):
                raise ConfigError(f"{prefix}.{name}", f"needs {n_strata} non-negative weights with a positive sum")
        if (self.stratum_mix_start is None) != (self.stratum_mix_end is None):
            raise ConfigError(f"{prefix}.stratum_mix_end", "give both stratum_mix_start and stratum_mix_end")


@dataclass(frozen=True)
class DomainConfig:
    """One domain of a factorial (REMAP-CAP-style) platform: its own arms, control, allocation and stopping.

    Every patient is randomised independently in every domain; each domain analyses its own arms marginally
    (pooling over the other domains' assignments). See ``design.domains`` and README_engine.md.

    Attributes:
        name: domain name (distinct).
        arms: the domain's arm names (no "+", which joins them into the outcome table's combination arms).
        control: the domain's control arm or None.
        allocation, stopping: as for a single-domain design (no permuted blocks, no per-stratum decisions).
    """

    name: str = ""
    arms: list[str] = field(default_factory=list)
    control: Optional[str] = None
    allocation: AllocationConfig = field(default_factory=AllocationConfig)
    stopping: StoppingConfig = field(default_factory=StoppingConfig)

    def validate(self, prefix: str) -> None:
        if not self.name:
            raise ConfigError(f"{prefix}.name", "must be a non-empty domain name")
        if len(self.arms) < 2 or len(set(self.arms)) != len(self.arms) or any("+" in a for a in self.arms):
            raise ConfigError(f"{prefix}.arms", "needs at least two distinct arm names without '+'")
        if self.control is not None and self.control not in self.arms:
            raise ConfigError(f"{prefix}.control", f"must be one of {self.arms} or null, got {self.control!r}")
        self.allocation.validate(len(self.arms), self.control is not None, f"{prefix}.allocation")
        self.stopping.validate(self.control is not None, f"{prefix}.stopping")
        if self.allocation.block_factor > 0:
            raise ConfigError(f"{prefix}.allocation.block_factor", "permuted blocks are not supported in domains")
        if self.stopping.per_stratum:
            raise ConfigError(f"{prefix}.stopping.per_stratum", "not supported in domains")


def domain_combinations(domains: list[DomainConfig]) -> list[str]:
    """The outcome table's arms of a factorial design: one per combination, ``"<arm1>+<arm2>+..."`` in domain
    order, the first domain varying slowest."""
    names = [""]
    for dom in domains:
        names = [f"{n}+{a}" if n else a for n in names for a in dom.arms]
    return names


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
    scenario: ScenarioConfig = field(default_factory=ScenarioConfig)

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
        if self.scenario != ScenarioConfig():
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
    "scenario": ScenarioConfig,
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
