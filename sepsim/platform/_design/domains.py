# ruff: noqa: UP045  (OmegaConf 2.3 structured configs need typing.Optional, not X | None)
"""Factorial designs: one randomisation per domain (see ``design.py``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from ..._errors import ConfigError
from .rules import AllocationConfig, StoppingConfig

__all__ = ["DomainConfig", "domain_combinations"]


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
