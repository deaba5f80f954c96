"""GM-CSF: daily SC doses per kg, one-compartment PK with depot, Emax drive of monocyte HLA-DR."""

from __future__ import annotations

from typing import ClassVar

import equinox as eqx
import jax.numpy as jnp

from ..._effects import Covariates
from .._params import load_params
from .._pk import PKParams
from .._schedule import DoseSchedule, regular_times
from ._therapy import AbstractTherapy, emax, make_effects

__all__ = ["GMCSF"]

_P = load_params("gm_csf")


class GMCSF(AbstractTherapy):
    """GM-CSF 4 ug/kg/day SC for 8 days (Meisel 2009, IP-07). PD: ``hla_dr_stim = hla_emax * C / (C + EC50)``."""

    name: ClassVar[str] = "gm_csf"
    mw_kda: ClassVar[float] = 15.4  # s2
    amount_unit: ClassVar[str] = "ug"
    per_kg: ClassVar[bool] = True

    dose_ug_per_kg: float = eqx.field(static=True, default=_P["dose_ug_per_kg"])
    interval_h: float = eqx.field(static=True, default=_P["interval_h"])
    n_doses: int = eqx.field(static=True, default=int(_P["n_doses"]))
    t_half_h: float = _P["t_half_h"]
    ka_per_h: float = _P["ka_per_h"]
    bioavailability: float = _P["bioavailability"]
    v_l_per_kg: float = _P["v_l_per_kg"]
    ec50_ng_ml: float = _P["ec50_ng_ml"]
    hla_emax: float = _P["hla_emax"]

    def schedule(self) -> DoseSchedule:
        t = regular_times(self.interval_h, self.n_doses)
        return DoseSchedule(t, (self.dose_ug_per_kg,) * len(t), route="sc")

    def pk_params(self, covariates: Covariates) -> PKParams:
        v = self.v_l_per_kg * covariates.weight_kg
        z = jnp.zeros_like(v)
        return PKParams(v, v * jnp.log(2.0) / self.t_half_h, z + self.ka_per_h, z + self.bioavailability, z, z + 1)

    def pd_effects(self, c, mediators, covariates):
        return make_effects(hla_dr_stim=emax(c, self.ec50_ng_ml, self.hla_emax))
