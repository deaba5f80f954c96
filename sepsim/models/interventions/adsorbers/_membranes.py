"""CRRT membranes that adsorb: oXiris (AN69-based, ionic; cytokines and endotoxin) and the cytokine-adsorbing
hemofilters PMMA and AN69ST. Clearance = adsorption (saturating within hours) + convection (sieving)."""

from __future__ import annotations

from typing import ClassVar

import equinox as eqx

from .._params import load_params
from .._schedule import Windows
from ._device import AbstractAdsorber

__all__ = ["AN69ST", "PMMA", "OXiris"]

_P = load_params("devices")

_SIEVING = {m: _P[f"sc_{m}"] for m in ("tnf", "il6", "il1b", "il10", "endotoxin")}


def _cyto(e: float, **extra: float) -> dict[str, float]:
    return {"tnf": e, "il1b": e, "il6": e, "il10": e, **extra}


class _AbstractCRRT(AbstractAdsorber):
    """Continuous therapy for ``days`` with a filter change every ``change_h``."""

    days: int = eqx.field(static=True, default=int(_P["filter_days"]))
    change_h: float = eqx.field(static=True, default=_P["filter_change_h"])
    start_h: float = eqx.field(static=True, default=0.0)
    capacity_mg: dict[str, float] = eqx.field(default_factory=dict)
    sieving: dict[str, float] = eqx.field(default_factory=lambda: dict(_SIEVING))
    uf_ml_kg_h: float = 0.0
    drug_window_kda: tuple[float, float] = eqx.field(static=True, default=(0.0, 0.0))
    drug_e0: float = 0.0
    drug_sieving_small: float = _P["sc_drug_small"]
    drug_sieving_mid: float = _P["sc_drug_mid"]

    def windows(self) -> Windows:
        total = 24.0 * self.days
        n = int(round(total / self.change_h))
        changes = tuple(self.change_h * i for i in range(1, n))
        w = Windows.continuous(total, changes)
        return Windows(tuple(s + self.start_h for s in w.starts), tuple(e + self.start_h for e in w.stops))


class OXiris(_AbstractCRRT):
    """oXiris CRRT filter (AN69 + PEI + heparin): adsorbs endotoxin (~8 mL/min in vitro) and cytokines."""

    name: ClassVar[str] = "oxiris"
    days: int = eqx.field(static=True, default=int(_P["oxiris_days"]))
    change_h: float = eqx.field(static=True, default=_P["oxiris_change_h"])
    qb_ml_min: float = _P["oxiris_qb_ml_min"]
    e0: dict[str, float] = eqx.field(
        default_factory=lambda: _cyto(_P["oxiris_e0_cytokine"], endotoxin=_P["oxiris_e0_endotoxin"])
    )
    tau_h: float = _P["oxiris_tau_h"]
    r_inf: float = _P["oxiris_r_inf"]
    uf_ml_kg_h: float = _P["oxiris_effluent_ml_kg_h"]


class PMMA(_AbstractCRRT):
    """PMMA cytokine-adsorbing hemofilter (CH-1.8W): IL-6 CL ~41 mL/min at 15 min in vitro."""

    name: ClassVar[str] = "pmma"
    qb_ml_min: float = _P["pmma_qb_ml_min"]
    e0: dict[str, float] = eqx.field(
        default_factory=lambda: {**_cyto(_P["pmma_e0_cytokine"]), "il6": _P["pmma_e0_il6"], "endotoxin": 0.0}
    )
    tau_h: float = _P["pmma_tau_h"]
    r_inf: float = _P["pmma_r_inf"]
    uf_ml_kg_h: float = _P["pmma_effluent_ml_kg_h"]


class AN69ST(_AbstractCRRT):
    """AN69ST cytokine-adsorbing hemofilter (surface-treated AN69)."""

    name: ClassVar[str] = "an69st"
    qb_ml_min: float = _P["pmma_qb_ml_min"]
    e0: dict[str, float] = eqx.field(default_factory=lambda: _cyto(_P["an69st_e0_cytokine"], endotoxin=0.0))
    tau_h: float = _P["an69st_tau_h"]
    r_inf: float = _P["an69st_r_inf"]
    uf_ml_kg_h: float = _P["pmma_effluent_ml_kg_h"]
