"""Interferon-gamma-1b: SC depot with flip-flop absorption, Emax drive of monocyte HLA-DR, bleeding hazard."""

from __future__ import annotations

from typing import ClassVar

import equinox as eqx
import jax.numpy as jnp

from ..._effects import Covariates
from .._params import load_params
from .._pk import PKParams
from .._schedule import DoseSchedule, regular_times
from ._therapy import AbstractTherapy, emax, make_effects

__all__ = ["InterferonGamma"]

_P = load_params("interferon_gamma")


class InterferonGamma(AbstractTherapy):
    """rhIFN-gamma-1b 100 ug SC every 48 h for up to 15 days (ImmunoSep IS-16).

    PK: depot ``ka = 0.1175/h`` (apparent t1/2 5.9 h), ``F = 0.89``, elimination from the IV t1/2 (38 min),
    ``V = 0.159 L/kg`` derived from the label Cmax (631 pg/mL after 50 ug/m2).
    PD: ``hla_dr_stim = hla_emax * C / (C + EC50)``.
    Safety: bleeding hazard proportional to the effect, multiplied by ``1 + gain * max(0, 1 - plt/plt_ref)``.
    """

    name: ClassVar[str] = "interferon_gamma"
    mw_kda: ClassVar[float] = 33.0  # non-covalent dimer of 16.5 kDa monomers (s2)
    amount_unit: ClassVar[str] = "ug"

    dose_ug: float = eqx.field(static=True, default=_P["dose_ug"])
    interval_h: float = eqx.field(static=True, default=_P["interval_h"])
    n_doses: int = eqx.field(static=True, default=int(_P["n_doses"]))
    ka_per_h: float = _P["ka_per_h"]
    bioavailability: float = _P["bioavailability"]
    t_half_iv_h: float = _P["t_half_iv_h"]
    v_l_per_kg: float = _P["v_l_per_kg"]
    ec50_ng_ml: float = _P["ec50_ng_ml"]
    hla_emax: float = _P["hla_emax"]
    bleed_hazard_per_h: float = _P["bleed_hazard_per_h"]
    bleed_platelet_ref: float = _P["bleed_platelet_ref"]
    bleed_platelet_gain: float = _P["bleed_platelet_gain"]

    def schedule(self) -> DoseSchedule:
        t = regular_times(self.interval_h, self.n_doses)
        return DoseSchedule(t, (self.dose_ug,) * len(t), route="sc")

    def pk_params(self, covariates: Covariates) -> PKParams:
        v = self.v_l_per_kg * covariates.weight_kg
        z = jnp.zeros_like(v)
        return PKParams(v, v * jnp.log(2.0) / self.t_half_iv_h, z + self.ka_per_h, z + self.bioavailability, z, z + 1)

    def pd_effects(self, c, mediators, covariates):
        return make_effects(hla_dr_stim=emax(c, self.ec50_ng_ml, self.hla_emax))

    def hazards_at(self, t, c, covariates):
        deficit = jnp.maximum(0.0, 1.0 - covariates.platelets / self.bleed_platelet_ref)
        return {
            "bleeding": self.bleed_hazard_per_h * emax(c, self.ec50_ng_ml) * (1 + self.bleed_platelet_gain * deficit)
        }
