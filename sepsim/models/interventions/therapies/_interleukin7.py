"""IL-7 (CYT107): twice-weekly IM (depot) or IV doses per kg; lymphocyte proliferation and survival; IV fever."""

from __future__ import annotations

from typing import ClassVar

import equinox as eqx
import jax.numpy as jnp

from ..._effects import Covariates
from .._params import load_params
from .._pk import PKParams
from .._schedule import DoseSchedule, regular_times
from ._therapy import AbstractTherapy, emax, make_effects

__all__ = ["Interleukin7"]

_P = load_params("interleukin7")


class Interleukin7(AbstractTherapy):
    """CYT107 10 ug/kg twice weekly for 4 weeks, ``route="im"`` (IRIS-7) or ``"iv"``.

    PD: ``lymph_prolif = prolif_emax * E``, ``lymph_apoptosis_block = apoptosis_block_emax * E`` with
    ``E = C / (C + EC50)``. IM gives long, low exposure; IV gives ~100x higher, brief peaks.
    Safety (IV only): fever / respiratory distress hazard, a Gaussian kernel centred ``fever_delay_h`` after each IV
    dose (3/15 patients at 5-8 h, s4).
    """

    name: ClassVar[str] = "interleukin7"
    mw_kda: ClassVar[float] = 20.0  # 17-25 kDa glycosylated
    amount_unit: ClassVar[str] = "ug"
    per_kg: ClassVar[bool] = True

    route: str = eqx.field(static=True, default="im")
    dose_ug_per_kg: float = eqx.field(static=True, default=_P["dose_ug_per_kg"])
    interval_h: float = eqx.field(static=True, default=_P["interval_h"])
    n_doses: int = eqx.field(static=True, default=int(_P["n_doses"]))
    infusion_h: float = eqx.field(static=True, default=_P["infusion_h"])
    t_half_iv_h: float = _P["t_half_iv_h"]
    ka_im_per_h: float = _P["ka_im_per_h"]
    bioavailability_im: float = _P["bioavailability_im"]
    v_l_per_kg: float = _P["v_l_per_kg"]
    ec50_ng_ml: float = _P["ec50_ng_ml"]
    prolif_emax: float = _P["prolif_emax"]
    apoptosis_block_emax: float = _P["apoptosis_block_emax"]
    fever_hazard_per_h: float = _P["fever_hazard_per_h"]
    fever_delay_h: float = _P["fever_delay_h"]
    fever_width_h: float = _P["fever_width_h"]

    def __check_init__(self):
        if self.route not in ("im", "sc", "iv"):
            raise ValueError(f"route must be 'im', 'sc' or 'iv', got {self.route!r}")

    def schedule(self) -> DoseSchedule:
        t = regular_times(self.interval_h, self.n_doses)
        return DoseSchedule(t, (self.dose_ug_per_kg,) * len(t), route=self.route, duration_h=self.infusion_h)

    def pk_params(self, covariates: Covariates) -> PKParams:
        v = self.v_l_per_kg * covariates.weight_kg
        z = jnp.zeros_like(v)
        return PKParams(
            v, v * jnp.log(2.0) / self.t_half_iv_h, z + self.ka_im_per_h, z + self.bioavailability_im, z, z + 1
        )

    def pd_effects(self, c, mediators, covariates):
        e = emax(c, self.ec50_ng_ml)
        return make_effects(lymph_prolif=self.prolif_emax * e, lymph_apoptosis_block=self.apoptosis_block_emax * e)

    def hazards_at(self, t, c, covariates):
        if self.route != "iv":
            return {"fever_resp_distress": jnp.zeros_like(c)}
        ti = jnp.asarray(self.schedule().times, dtype=jnp.result_type(float))
        u = (t - ti - self.fever_delay_h) / self.fever_width_h
        return {"fever_resp_distress": self.fever_hazard_per_h * jnp.sum(jnp.exp(-0.5 * u**2))}
