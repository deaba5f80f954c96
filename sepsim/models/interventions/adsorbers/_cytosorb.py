"""CytoSorb hemoadsorption: hydrophobic beads, 5-60 kDa window, flow-dependent saturation (Gubensek 2025)."""

from __future__ import annotations

from typing import ClassVar

import equinox as eqx
import jax.numpy as jnp

from .._params import load_params
from .._schedule import Windows
from ._device import AbstractAdsorber

__all__ = ["CytoSorb", "cytosorb_changes"]

_P = load_params("cytosorb")


def cytosorb_changes(days: int) -> tuple[float, ...]:
    """Cartridge change times for continuous use: every 12 h on day 1, then every 24 h (s3.1)."""
    return (12.0,) + tuple(24.0 * d for d in range(1, int(days)))


class CytoSorb(AbstractAdsorber):
    """CytoSorb, ``mode="continuous"`` (changes q12h on day 1, then q24h) or ``"sessions"`` (``hours_per_day``,
    one cartridge per session).

    Saturation: ``tau`` and ``r_inf`` move from the low-flow values (IL-6 extraction ~20% up to 12 h) to the high-flow
    values (6% at 6 h, negligible later) through a logistic switch in blood flow centred at ``qb_switch_ml_min``.
    """

    name: ClassVar[str] = "cytosorb"

    mode: str = eqx.field(static=True, default="continuous")
    days: int = eqx.field(static=True, default=int(_P["days"]))
    hours_per_day: float = eqx.field(static=True, default=_P["hours_per_day"])
    start_h: float = eqx.field(static=True, default=0.0)
    qb_ml_min: float = _P["qb_ml_min"]
    e0: dict[str, float] = eqx.field(
        default_factory=lambda: {
            "il6": _P["e0_il6"],
            "tnf": _P["e0_tnf"],
            "il1b": _P["e0_il1b"],
            "il10": _P["e0_il10"],
            "endotoxin": _P["e0_endotoxin"],
            "vancomycin": _P["e0_vancomycin"],
        }
    )
    tau_h: float = _P["tau_low_h"]
    r_inf: float = _P["r_inf_low"]
    tau_high_h: float = _P["tau_high_h"]
    r_inf_high: float = _P["r_inf_high"]
    qb_switch_ml_min: float = _P["qb_switch_ml_min"]
    qb_switch_width_ml_min: float = _P["qb_switch_width_ml_min"]
    capacity_mg: dict[str, float] = eqx.field(default_factory=lambda: {"vancomycin": _P["capacity_vancomycin_mg"]})
    sieving: dict[str, float] = eqx.field(default_factory=dict)
    uf_ml_kg_h: float = 0.0
    drug_window_kda: tuple[float, float] = eqx.field(static=True, default=(1.0, 60.0))
    drug_e0: float = _P["drug_e0"]
    drug_sieving_small: float = 0.0
    drug_sieving_mid: float = 0.0

    def __check_init__(self):
        if self.mode not in ("continuous", "sessions"):
            raise ValueError(f"mode must be 'continuous' or 'sessions', got {self.mode!r}")
        if not 1 <= self.days <= 7:
            raise ValueError(f"days must be within 1..7 (CytoSorb up to 7 days), got {self.days}")
        if not 0.0 < self.hours_per_day <= 24.0:
            raise ValueError(f"hours_per_day must be within (0, 24], got {self.hours_per_day}")

    def windows(self) -> Windows:
        if self.mode == "sessions":
            return Windows.daily_sessions(self.hours_per_day, self.days, self.start_h)
        w = Windows.continuous(24.0 * self.days, cytosorb_changes(self.days))
        return Windows(tuple(s + self.start_h for s in w.starts), tuple(e + self.start_h for e in w.stops))

    def high_flow_weight(self):
        """0 at low blood flow, 1 at high blood flow (logistic in Qb)."""
        return 1.0 / (1.0 + jnp.exp(-(self.qb_ml_min - self.qb_switch_ml_min) / self.qb_switch_width_ml_min))

    def fouling(self):
        w = self.high_flow_weight()
        rate = (1.0 - w) / self.tau_h + w / self.tau_high_h
        return 1.0 / rate, (1.0 - w) * self.r_inf + w * self.r_inf_high
