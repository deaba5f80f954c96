"""Checkpoint antibodies (anti-PD-1 nivolumab, anti-PD-L1 BMS-936559): single IV dose, two-compartment mAb PK,
receptor occupancy driving lymphocyte apoptosis block and HLA-DR.

Safety: immune-related adverse events at ``irae_hazard_per_h x RO`` (1/h), calibrated to 5/31 possibly drug-related
immune-mediated events over 90 days after one nivolumab dose (Hotchkiss 2019, CP-02); the outcome layer counts the
``irae_serious_fraction`` of them as serious (``_safety_events.py``)."""

from __future__ import annotations

from typing import ClassVar

import equinox as eqx
import jax.numpy as jnp

from ..._effects import Covariates
from .._params import load_params
from .._pk import PKParams
from .._schedule import DoseSchedule
from ._therapy import AbstractTherapy, emax, make_effects

__all__ = ["AntiPD1", "AntiPDL1"]

_P = load_params("checkpoint")


class _AbstractCheckpoint(AbstractTherapy):
    """Shared PK/PD of a single-dose checkpoint mAb. ``RO = C / (C + EC50_RO)``."""

    mw_kda: ClassVar[float] = 146.0  # IgG
    amount_unit: ClassVar[str] = "mg"
    n_cmt: ClassVar[int] = 2

    infusion_h: float = eqx.field(static=True, default=_P["infusion_h"])
    v_c_l: float = _P["v_c_l"]
    v_p_l: float = _P["v_p_l"]
    q_l_per_h: float = _P["q_l_per_h"]
    cl_l_per_h: float = _P["cl_l_per_h"]
    ro_ec50_ng_ml: float = _P["ro_ec50_ng_ml"]
    apoptosis_block_emax: float = _P["apoptosis_block_emax"]
    hla_emax: float = _P["hla_emax"]
    irae_hazard_per_h: float = _P["irae_hazard_per_h"]

    def _dose(self) -> float:
        raise NotImplementedError

    def schedule(self) -> DoseSchedule:
        return DoseSchedule((0.0,), (self._dose(),), route="iv", duration_h=self.infusion_h)

    def pk_params(self, covariates: Covariates) -> PKParams:
        z = jnp.zeros_like(covariates.weight_kg)
        return PKParams(z + self.v_c_l, z + self.cl_l_per_h, z, z + 1.0, z + self.q_l_per_h, z + self.v_p_l)

    def receptor_occupancy(self, c):
        return emax(c, self.ro_ec50_ng_ml)

    def pd_effects(self, c, mediators, covariates):
        ro = self.receptor_occupancy(c)
        return make_effects(lymph_apoptosis_block=self.apoptosis_block_emax * ro, hla_dr_stim=self.hla_emax * ro)

    def hazards_at(self, t, c, covariates):
        return {"immune_related": self.irae_hazard_per_h * self.receptor_occupancy(c)}


class AntiPD1(_AbstractCheckpoint):
    """Nivolumab single IV dose, 480 mg (or 960 mg) (Hotchkiss 2019, CP-02; Watanabe 2020, CP-03)."""

    name: ClassVar[str] = "anti_pd1"
    dose_mg: float = eqx.field(static=True, default=_P["nivolumab_dose_mg"])

    def _dose(self) -> float:
        return self.dose_mg


class AntiPDL1(_AbstractCheckpoint):
    """BMS-936559 single IV dose, 10-900 mg (default 900 mg); mAb PK assumed as nivolumab [U]."""

    name: ClassVar[str] = "anti_pdl1"
    dose_mg: float = eqx.field(static=True, default=_P["anti_pdl1_dose_mg"])

    def _dose(self) -> float:
        return self.dose_mg
