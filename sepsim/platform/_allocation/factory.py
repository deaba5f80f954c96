"""Build the allocation rule a design names."""

from __future__ import annotations

from typing import Any

from .._design.design import AllocationConfig
from .base import AbstractAllocationRule
from .fixed import FixedAllocation
from .sqrt_control import SqrtControlAllocation
from .thall_wathen import ThallWathenAllocation
from .thompson import ThompsonAllocation
from .trippa import TrippaAllocation

__all__ = ["make_allocation_rule"]


def make_allocation_rule(cfg: AllocationConfig, n_arms: int) -> AbstractAllocationRule:
    """The :class:`AbstractAllocationRule` for ``cfg`` (limits and softening attached)."""
    lim: dict[str, Any] = dict(min_prob=cfg.min_prob, max_prob=cfg.max_prob, soften_power=float(cfg.soften_power))
    if cfg.rule == "fixed":
        ratio = tuple(float(r) for r in (cfg.fixed_ratio or [1.0] * n_arms))
        return FixedAllocation(ratio=ratio, **lim)
    if cfg.rule == "thompson":
        return ThompsonAllocation(**lim)
    if cfg.rule == "thall_wathen":
        return ThallWathenAllocation(**lim)
    if cfg.rule == "trippa":
        return TrippaAllocation(a=cfg.trippa_a, b=cfg.trippa_b, eta0=cfg.trippa_eta, **lim)
    if cfg.rule == "sqrt_control":
        return SqrtControlAllocation(**lim)
    raise ValueError(cfg.rule)  # unreachable after validation
