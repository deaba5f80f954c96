"""Polyclonal IVIG and IgM-enriched IVIG: weight-based infusions, one-compartment Ig PK (increment over baseline),
pathogen killing (opsonisation) and endotoxin neutralisation. Never adsorbed (>= 150 kDa)."""

from __future__ import annotations

from typing import ClassVar

import equinox as eqx
import jax.numpy as jnp

from ..._effects import Covariates
from .._params import load_params
from .._pk import PKParams
from .._schedule import DoseSchedule
from ._therapy import AbstractTherapy, emax, make_effects

__all__ = ["IgMEnrichedIVIG", "PolyclonalIVIG"]

_P = load_params("immunoglobulin")


class _AbstractIg(AbstractTherapy):
    amount_unit: ClassVar[str] = "g"
    per_kg: ClassVar[bool] = True
    v_l_per_kg: float = _P["v_l_per_kg"]
    ec50_ng_ml: float = _P["ec50_ng_ml"]

    def _t_half(self) -> float:
        raise NotImplementedError

    def pk_params(self, covariates: Covariates) -> PKParams:
        v = self.v_l_per_kg * covariates.weight_kg
        z = jnp.zeros_like(v)
        return PKParams(v, v * jnp.log(2.0) / self._t_half(), z, z + 1.0, z, z + 1.0)


class PolyclonalIVIG(_AbstractIg):
    """Polyclonal IVIG 0.6 g/kg on day 0 and 0.3 g/kg on day 1 (each over 6 h)."""

    name: ClassVar[str] = "ivig"
    mw_kda: ClassVar[float] = 150.0

    day0_g_per_kg: float = eqx.field(static=True, default=_P["ivig_day0_g_per_kg"])
    day1_g_per_kg: float = eqx.field(static=True, default=_P["ivig_day1_g_per_kg"])
    infusion_h: float = eqx.field(static=True, default=_P["ivig_infusion_h"])
    t_half_h: float = _P["ivig_t_half_h"]
    kill_max_per_h: float = _P["ivig_kill_max_per_h"]
    neutralise_max_per_h: float = _P["ivig_neutralise_max_per_h"]

    def _t_half(self):
        return self.t_half_h

    def schedule(self) -> DoseSchedule:
        return DoseSchedule((0.0, 24.0), (self.day0_g_per_kg, self.day1_g_per_kg), "iv", self.infusion_h)

    def pd_effects(self, c, mediators, covariates):
        e = emax(c, self.ec50_ng_ml)
        return make_effects(
            pathogen_kill=self.kill_max_per_h * e, endotoxin_neutralisation=self.neutralise_max_per_h * e
        )


class IgMEnrichedIVIG(_AbstractIg):
    """IgM-enriched IVIG (Pentaglobin) 5 mL/kg/day over 6 h for 3 days (50 g/L Ig -> 0.25 g/kg/day)."""

    name: ClassVar[str] = "igm_ivig"
    mw_kda: ClassVar[float] = 900.0  # IgM pentamer

    ml_per_kg_day: float = eqx.field(static=True, default=_P["igm_ml_per_kg_day"])
    g_per_l: float = eqx.field(static=True, default=_P["igm_g_per_l"])
    infusion_h: float = eqx.field(static=True, default=_P["igm_infusion_h"])
    n_days: int = eqx.field(static=True, default=int(_P["igm_n_days"]))
    t_half_h: float = _P["igm_t_half_h"]
    kill_max_per_h: float = _P["igm_kill_max_per_h"]
    neutralise_max_per_h: float = _P["igm_neutralise_max_per_h"]

    def _t_half(self):
        return self.t_half_h

    def schedule(self) -> DoseSchedule:
        g_per_kg = self.ml_per_kg_day * self.g_per_l / 1000.0
        t = tuple(24.0 * d for d in range(self.n_days))
        return DoseSchedule(t, (g_per_kg,) * len(t), "iv", self.infusion_h)

    def pd_effects(self, c, mediators, covariates):
        e = emax(c, self.ec50_ng_ml)
        return make_effects(
            pathogen_kill=self.kill_max_per_h * e, endotoxin_neutralisation=self.neutralise_max_per_h * e
        )
