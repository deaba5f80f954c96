"""Anakinra (rhIL-1Ra): IV infusions, one-compartment PK scaled by creatinine clearance, competitive IL-1R blockade."""

from __future__ import annotations

from typing import ClassVar

import equinox as eqx
import jax.numpy as jnp

from ..._effects import Covariates
from .._params import load_params
from .._pk import PKParams
from .._schedule import DoseSchedule, regular_times
from ._therapy import AbstractTherapy, make_effects

__all__ = ["Anakinra"]

_P = load_params("anakinra")


class Anakinra(AbstractTherapy):
    """Anakinra 200 mg IV q8h for 7 days (PROVIDE; up to 15 days in ImmunoSep).

    PK: ``CL = exp(1.65 + 0.0062 CrCl)`` L/h, ``V = 0.142 L/kg`` (params/anakinra.yaml).
    PD: competitive occupancy; the fraction of IL-1 signalling blocked is
    ``A / (A + K_A (1 + IL1b / K_IL1))`` (from ``S = IL1/(IL1 + K_IL1 (1 + A/K_A))`` relative to no drug).
    Safety: anaemia hazard proportional to the blockade (ImmunoSep, IS-14).
    """

    name: ClassVar[str] = "anakinra"
    mw_kda: ClassVar[float] = 17.3  # DrugBank DB00026
    amount_unit: ClassVar[str] = "mg"

    dose_mg: float = eqx.field(static=True, default=_P["dose_mg"])
    interval_h: float = eqx.field(static=True, default=_P["interval_h"])
    n_doses: int = eqx.field(static=True, default=int(_P["n_doses"]))
    infusion_h: float = eqx.field(static=True, default=_P["infusion_h"])
    cl_log_intercept: float = _P["cl_log_intercept"]
    cl_log_slope: float = _P["cl_log_slope"]
    v_l_per_kg: float = _P["v_l_per_kg"]
    ka_ng_ml: float = _P["ka_ng_ml"]
    k_il1_pg_ml: float = _P["k_il1_pg_ml"]
    anemia_hazard_per_h: float = _P["anemia_hazard_per_h"]

    def schedule(self) -> DoseSchedule:
        t = regular_times(self.interval_h, self.n_doses)
        return DoseSchedule(t, (self.dose_mg,) * len(t), route="iv", duration_h=self.infusion_h)

    def pk_params(self, covariates: Covariates) -> PKParams:
        cl = jnp.exp(self.cl_log_intercept + self.cl_log_slope * covariates.crcl_ml_min)
        z = jnp.zeros_like(cl)
        return PKParams(self.v_l_per_kg * covariates.weight_kg, cl, z, z + 1.0, z, z + 1.0)

    def block(self, c, mediators):
        """Fraction of IL-1 receptor signalling blocked at anakinra ``c`` ng/mL."""
        c = jnp.maximum(c, 0.0)
        il1 = jnp.maximum(mediators.il1b, 0.0)
        return c / (c + self.ka_ng_ml * (1.0 + il1 / self.k_il1_pg_ml))

    def pd_effects(self, c, mediators, covariates):
        return make_effects(il1_block=self.block(c, mediators))

    def hazards_at(self, t, c, covariates):
        occ = jnp.maximum(c, 0.0) / (jnp.maximum(c, 0.0) + self.ka_ng_ml)
        return {"anemia": self.anemia_hazard_per_h * occ}
