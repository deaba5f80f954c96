"""Vancomycin: background antibiotic (no immune effect), modelled to show drug-device interaction on CytoSorb."""

from __future__ import annotations

from typing import ClassVar

import equinox as eqx
import jax.numpy as jnp

from ..._effects import Covariates, Effects
from .._params import load_params
from .._pk import PKParams
from .._schedule import DoseSchedule, regular_times
from ._therapy import AbstractTherapy

__all__ = ["Vancomycin"]

_P = load_params("vancomycin")


class Vancomycin(AbstractTherapy):
    """Vancomycin 1 g IV over 1 h q12h. ``CL = 0.689 CrCl + 3.66`` mL/min, ``V = 0.7 L/kg`` (Matzke 1984 [U])."""

    name: ClassVar[str] = "vancomycin"
    mw_kda: ClassVar[float] = 1.45
    amount_unit: ClassVar[str] = "mg"

    dose_mg: float = eqx.field(static=True, default=_P["dose_mg"])
    interval_h: float = eqx.field(static=True, default=_P["interval_h"])
    n_doses: int = eqx.field(static=True, default=int(_P["n_doses"]))
    infusion_h: float = eqx.field(static=True, default=_P["infusion_h"])
    cl_slope: float = _P["cl_slope"]
    cl_intercept_ml_min: float = _P["cl_intercept_ml_min"]
    v_l_per_kg: float = _P["v_l_per_kg"]

    def schedule(self) -> DoseSchedule:
        t = regular_times(self.interval_h, self.n_doses)
        return DoseSchedule(t, (self.dose_mg,) * len(t), route="iv", duration_h=self.infusion_h)

    def pk_params(self, covariates: Covariates) -> PKParams:
        cl = (self.cl_slope * covariates.crcl_ml_min + self.cl_intercept_ml_min) * 0.06  # mL/min -> L/h
        z = jnp.zeros_like(cl)
        return PKParams(self.v_l_per_kg * covariates.weight_kg, cl, z, z + 1.0, z, z + 1.0)

    def pd_effects(self, c, mediators, covariates):
        return Effects.none()
