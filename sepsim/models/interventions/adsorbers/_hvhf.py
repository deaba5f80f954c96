"""High-volume hemofiltration: convection only (Q_uf x sieving coefficient), no sorbent, no load states."""

from __future__ import annotations

from typing import ClassVar

import equinox as eqx

from .._params import load_params
from .._schedule import Windows
from ._device import AbstractAdsorber

__all__ = ["HVHF"]

_P = load_params("devices")


class HVHF(AbstractAdsorber):
    """HVHF at ``uf_ml_kg_h`` (IVOIRE 70 mL/kg/h) for ``duration_h`` (96 h). Filter changes do not matter here."""

    name: ClassVar[str] = "hvhf"
    has_sorbent: ClassVar[bool] = False

    duration_h: float = eqx.field(static=True, default=_P["hvhf_duration_h"])
    start_h: float = eqx.field(static=True, default=0.0)
    qb_ml_min: float = 250.0  # not used by convection
    e0: dict[str, float] = eqx.field(default_factory=dict)
    tau_h: float = 1.0
    r_inf: float = 1.0
    capacity_mg: dict[str, float] = eqx.field(default_factory=dict)
    sieving: dict[str, float] = eqx.field(
        default_factory=lambda: {m: _P[f"sc_{m}"] for m in ("tnf", "il6", "il1b", "il10", "endotoxin")}
    )
    uf_ml_kg_h: float = _P["hvhf_uf_ml_kg_h"]
    drug_window_kda: tuple[float, float] = eqx.field(static=True, default=(0.0, 0.0))
    drug_e0: float = 0.0
    drug_sieving_small: float = _P["sc_drug_small"]
    drug_sieving_mid: float = _P["sc_drug_mid"]

    def windows(self) -> Windows:
        return Windows((self.start_h,), (self.start_h + self.duration_h,))
