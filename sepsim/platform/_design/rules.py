# ruff: noqa: UP045  (OmegaConf 2.3 structured configs need typing.Optional, not X | None)
"""Allocation and stopping rules of a design (structured-config dataclasses; see ``design.py``)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

from ..._errors import ConfigError

__all__ = ["ALLOCATION_RULES", "AllocationConfig", "StoppingConfig", "check_prob"]

ALLOCATION_RULES = ("fixed", "thompson", "thall_wathen", "trippa", "sqrt_control")


def check_prob(key: str, v: Optional[float], *, open_low: bool = False) -> None:
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
        check_prob(f"{prefix}.min_prob", self.min_prob)
        check_prob(f"{prefix}.max_prob", self.max_prob)
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
            check_prob(f"{prefix}.{name}", getattr(self, name))
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
