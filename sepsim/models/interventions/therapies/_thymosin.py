"""Thymosin alpha 1: SC q12h, one-compartment PK with depot; small HLA-DR and lymphocyte effects."""

from __future__ import annotations

from typing import ClassVar

import equinox as eqx
import jax.numpy as jnp

from ..._effects import Covariates
from .._params import load_params
from .._pk import PKParams
from .._schedule import DoseSchedule, regular_times
from ._therapy import AbstractTherapy, emax, make_effects

__all__ = ["ThymosinAlpha1"]

_P = load_params("thymosin_alpha1")


class ThymosinAlpha1(AbstractTherapy):
    """Thymosin alpha 1 1.6 mg SC q12h for 7 days (TESTS). PD: Emax on HLA-DR drive and lymphocyte proliferation."""

    name: ClassVar[str] = "thymosin_alpha1"
    mw_kda: ClassVar[float] = 3.1  # 28 amino acids
    amount_unit: ClassVar[str] = "mg"

    dose_mg: float = eqx.field(static=True, default=_P["dose_mg"])
    interval_h: float = eqx.field(static=True, default=_P["interval_h"])
    n_doses: int = eqx.field(static=True, default=int(_P["n_doses"]))
    ka_per_h: float = _P["ka_per_h"]
    bioavailability: float = _P["bioavailability"]
    t_half_h: float = _P["t_half_h"]
    v_l_per_kg: float = _P["v_l_per_kg"]
    ec50_ng_ml: float = _P["ec50_ng_ml"]
    hla_emax: float = _P["hla_emax"]
    prolif_emax: float = _P["prolif_emax"]

    def schedule(self) -> DoseSchedule:
        t = regular_times(self.interval_h, self.n_doses)
        return DoseSchedule(t, (self.dose_mg,) * len(t), route="sc")

    def pk_params(self, covariates: Covariates) -> PKParams:
        v = self.v_l_per_kg * covariates.weight_kg
        z = jnp.zeros_like(v)
        return PKParams(v, v * jnp.log(2.0) / self.t_half_h, z + self.ka_per_h, z + self.bioavailability, z, z + 1)

    def pd_effects(self, c, mediators, covariates):
        e = emax(c, self.ec50_ng_ml)
        return make_effects(hla_dr_stim=self.hla_emax * e, lymph_prolif=self.prolif_emax * e)
