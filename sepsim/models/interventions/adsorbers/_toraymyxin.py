"""Toraymyxin (polymyxin-B hemoperfusion): endotoxin adsorption in two sessions of 90-120 min (EUPHRATES)."""

from __future__ import annotations

from typing import ClassVar

import equinox as eqx

from .._params import load_params
from .._schedule import Windows
from ._device import AbstractAdsorber

__all__ = ["Toraymyxin"]

_P = load_params("devices")


class Toraymyxin(AbstractAdsorber):
    """PMX-B: ``n_sessions`` sessions of ``session_h`` every ``interval_h``, a new cartridge each; no drug window."""

    name: ClassVar[str] = "toraymyxin"

    n_sessions: int = eqx.field(static=True, default=2)
    session_h: float = eqx.field(static=True, default=_P["toraymyxin_session_h"])
    interval_h: float = eqx.field(static=True, default=_P["toraymyxin_interval_h"])
    start_h: float = eqx.field(static=True, default=0.0)
    qb_ml_min: float = _P["toraymyxin_qb_ml_min"]
    e0: dict[str, float] = eqx.field(
        default_factory=lambda: {
            "endotoxin": _P["toraymyxin_e0_endotoxin"],
            **{m: _P["toraymyxin_e0_cytokine"] for m in ("tnf", "il1b", "il6", "il10")},
        }
    )
    tau_h: float = _P["toraymyxin_tau_h"]
    r_inf: float = _P["toraymyxin_r_inf"]
    capacity_mg: dict[str, float] = eqx.field(default_factory=dict)
    sieving: dict[str, float] = eqx.field(default_factory=dict)
    uf_ml_kg_h: float = 0.0
    drug_window_kda: tuple[float, float] = eqx.field(static=True, default=(0.0, 0.0))
    drug_e0: float = 0.0
    drug_sieving_small: float = 0.0
    drug_sieving_mid: float = 0.0

    def windows(self) -> Windows:
        starts = tuple(self.start_h + i * self.interval_h for i in range(self.n_sessions))
        return Windows(starts, tuple(s + self.session_h for s in starts))
