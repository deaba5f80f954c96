"""Ulinastatin: IV q12h (kIU), one-compartment PK, damping of pro-inflammatory production."""

from __future__ import annotations

from typing import ClassVar

import equinox as eqx
import jax.numpy as jnp

from ..._effects import Covariates
from .._params import load_params
from .._pk import PKParams
from .._schedule import DoseSchedule, regular_times
from ._therapy import AbstractTherapy, emax, make_effects

__all__ = ["Ulinastatin"]

_P = load_params("ulinastatin")


class Ulinastatin(AbstractTherapy):
    """Ulinastatin 200,000 IU IV q12h for 5 days. Concentrations in kIU/L. PD: ``inflammation_damping`` Emax."""

    name: ClassVar[str] = "ulinastatin"
    mw_kda: ClassVar[float] = 30.0  # bikunin glycoprotein ~25-30 kDa [U]
    amount_unit: ClassVar[str] = "kIU"

    dose_kiu: float = eqx.field(static=True, default=_P["dose_kiu"])
    interval_h: float = eqx.field(static=True, default=_P["interval_h"])
    n_doses: int = eqx.field(static=True, default=int(_P["n_doses"]))
    infusion_h: float = eqx.field(static=True, default=_P["infusion_h"])
    t_half_h: float = _P["t_half_h"]
    v_l_per_kg: float = _P["v_l_per_kg"]
    ec50_kiu_l: float = _P["ec50_kiu_l"]
    damping_emax: float = _P["damping_emax"]

    def schedule(self) -> DoseSchedule:
        t = regular_times(self.interval_h, self.n_doses)
        return DoseSchedule(t, (self.dose_kiu,) * len(t), route="iv", duration_h=self.infusion_h)

    def pk_params(self, covariates: Covariates) -> PKParams:
        v = self.v_l_per_kg * covariates.weight_kg
        z = jnp.zeros_like(v)
        return PKParams(v, v * jnp.log(2.0) / self.t_half_h, z, z + 1.0, z, z + 1.0)

    def pd_effects(self, c, mediators, covariates):
        return make_effects(inflammation_damping=emax(c, self.ec50_kiu_l, self.damping_emax))
