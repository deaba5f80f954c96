# ruff: noqa: UP045  (OmegaConf 2.3 structured configs need typing.Optional, not X | None)
"""Who enters the trial and when: eligibility rules, enrolment and the simulated scenario (see ``design.py``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from ..._errors import ConfigError

__all__ = ["EligibilityRule", "EnrolmentConfig", "StreamDriftConfig"]

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
class StreamDriftConfig:
    """Departures from a stationary patient stream: the design's ``scenario:`` block.

    Not the run's ``scenario:`` config group (:class:`sepsim.config.ScenarioConfig`, which generates a parametric
    outcome table); this one changes how the trial draws patients from whatever table it is given.

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
