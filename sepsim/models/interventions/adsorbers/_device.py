"""Generic extracorporeal device: plasma flow x extraction, saturating sorbent load per cartridge, convection.

For a solute ``s`` (a mediator or a drug) and the cartridge ``c`` in use at time ``t``:

* fouling-limited solutes (cytokines, endotoxin, most drugs): ``E_s = E0_s (r_inf + (1 - r_inf)(1 - theta_c))``,
  where ``theta_c`` in [0, 1) is the sorbent load of cartridge ``c``, ``d theta_c/dt = (1 - theta_c)/tau`` while
  ``c`` is in use. It stands for the protein/plasma load that saturates the sorbent surface (cytokine masses are
  micrograms and cannot saturate it themselves); ``tau`` and ``r_inf`` may depend on blood flow (CytoSorb).
* capacity-limited solutes with a measured capacity (vancomycin 572 mg on CytoSorb): Langmuir-like linear decrease,
  ``E_s = E0_s max(0, 1 - q_cs / cap_s)``, ``d q_cs/dt = CL_s C_s`` while ``c`` is in use.

Clearance (L/h): ``CL_s = Q_p E_s + Q_uf SC_s`` with ``Q_p = Q_b (1 - Hct)``; mediator clearances are returned in 1/h as
``CL_s / V_plasma`` (V_plasma = 0.07 L/kg x W x (1 - Hct), the patient's plasma volume; s3.3).

**Cartridge changes (exact, jit-able).** Each cartridge owns its own load states, which only move while its window
``[start_c, stop_c)`` is active (a 0/1 indicator of ``t``); a new cartridge therefore starts from zero load
automatically, with no state reset, and the windows' ends are the only discontinuities (returned by
:meth:`jump_times`). State layout: cartridge-major, ``[theta_c, q_c1, ..., q_cm]`` for ``c = 0..n-1``.
"""

from __future__ import annotations

from typing import ClassVar

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from ..._arms import AbstractArm
from ..._effects import Clearances, Covariates, Effects, Mediators
from .._base import plasma_volume_l
from .._schedule import Windows

__all__ = ["AbstractAdsorber", "MEDIATORS"]

MEDIATORS = ("endotoxin", "tnf", "il1b", "il6", "il10")


class AbstractAdsorber(AbstractArm):
    """Common machinery of all devices; subclasses set parameters and :meth:`windows`.

    Attributes:
        qb_ml_min: blood flow, mL/min.
        e0: initial (fresh-cartridge) extraction ratio per solute name (mediators and drug names).
        tau_h: sorbent load time constant, h (blood-flow dependent in CytoSorb, see :meth:`fouling`).
        r_inf: fraction of ``e0`` left at full load.
        capacity_mg: per-cartridge capacity of capacity-limited solutes (``e0`` must list them too).
        sieving: convective sieving coefficient per solute.
        uf_ml_kg_h: convective (ultrafiltrate/effluent) rate, mL/kg/h.
        drug_window_kda: molecular-weight window of drugs adsorbed with ``drug_e0`` when not named in ``e0``.
        drug_e0: default extraction of drugs in the window.
        drug_sieving_small: sieving coefficient of drugs <= 2 kDa not named in ``sieving``.
        drug_sieving_mid: sieving coefficient of drugs in (2, 60] kDa not named in ``sieving``; 0 above.
    """

    name: ClassVar[str]
    has_sorbent: ClassVar[bool] = True

    qb_ml_min: float
    e0: dict[str, float]
    tau_h: float
    r_inf: float
    capacity_mg: dict[str, float]
    sieving: dict[str, float]
    uf_ml_kg_h: float
    drug_window_kda: tuple[float, float] = eqx.field(static=True)
    drug_e0: float
    drug_sieving_small: float
    drug_sieving_mid: float

    def __check_init__(self):
        qb = self.qb_ml_min
        if isinstance(qb, int | float) and not 50.0 <= qb <= 700.0:
            raise ValueError(f"qb_ml_min must be within [50, 700] mL/min (CytoSorb: 150-500 recommended), got {qb}")

    def windows(self) -> Windows:
        """Cartridge/session windows (h). One cartridge per window."""
        raise NotImplementedError

    def fouling(self) -> tuple[Float[Array, ""] | float, Float[Array, ""] | float]:
        """``(tau_h, r_inf)`` at this blood flow; constant by default."""
        return self.tau_h, self.r_inf

    # -- state layout -------------------------------------------------------------------------------------------
    @property
    def capacity_solutes(self) -> tuple[str, ...]:
        return tuple(sorted(self.capacity_mg))

    @property
    def n_per_cartridge(self) -> int:
        return (1 + len(self.capacity_mg)) if self.has_sorbent else 0

    @property
    def n_states(self) -> int:
        return self.windows().n * self.n_per_cartridge

    def init_state(self, covariates: Covariates) -> Float[Array, " k"]:
        return jnp.zeros((self.n_states,), dtype=jnp.result_type(float))

    def jump_times_np(self):
        w = self.windows()
        return w.jump_times_np() if w.n else np.zeros((0,))

    # -- kinetics -----------------------------------------------------------------------------------------------
    def plasma_flow_l_h(self, covariates: Covariates) -> Float[Array, ""]:
        return self.qb_ml_min * (1.0 - covariates.hematocrit) * 0.06

    def _loads(self, z):
        n, m = self.windows().n, self.n_per_cartridge
        return z.reshape((n, m)) if m else jnp.zeros((n, 0), dtype=z.dtype)

    def _e0_of(self, solute: str, mw_kda: float | None) -> float:
        if solute in self.e0:
            return self.e0[solute]
        lo, hi = self.drug_window_kda
        return self.drug_e0 if (mw_kda is not None and lo <= mw_kda <= hi) else 0.0

    def _sieving_of(self, solute: str, mw_kda: float | None) -> float:
        if solute in self.sieving:
            return self.sieving[solute]
        if mw_kda is None:
            return 0.0
        return self.drug_sieving_small if mw_kda <= 2.0 else (self.drug_sieving_mid if mw_kda <= 60.0 else 0.0)

    def extraction(self, t: Float[Array, ""], z: Float[Array, " k"], solute: str, mw_kda: float | None = None) -> Array:
        """Adsorptive extraction ratio ``(C_in - C_out)/C_in`` of ``solute`` at ``t`` (0 when the device is off)."""
        if not self.has_sorbent:
            return jnp.zeros_like(t)
        act = self.windows().active(t)
        loads = self._loads(z)
        e0 = self._e0_of(solute, mw_kda)
        if solute in self.capacity_mg:
            j = 1 + self.capacity_solutes.index(solute)
            per_c = e0 * jnp.maximum(0.0, 1.0 - loads[:, j] / self.capacity_mg[solute])
        else:
            _, r_inf = self.fouling()
            per_c = e0 * (r_inf + (1.0 - r_inf) * (1.0 - loads[:, 0]))
        return jnp.sum(act * per_c)

    def on(self, t: Float[Array, ""]) -> Float[Array, ""]:
        """1.0 while the device runs."""
        return jnp.sum(self.windows().active(t))

    def clearance_l_h(
        self,
        t: Float[Array, ""],
        z: Float[Array, " k"],
        covariates: Covariates,
        solute: str,
        mw_kda: float | None = None,
    ) -> Float[Array, ""]:
        """Device clearance of ``solute`` (L/h): adsorption ``Q_p E`` plus convection ``Q_uf SC``."""
        ads = self.plasma_flow_l_h(covariates) * self.extraction(t, z, solute, mw_kda)
        conv = self.on(t) * self.uf_ml_kg_h * covariates.weight_kg / 1000.0 * self._sieving_of(solute, mw_kda)
        return ads + conv

    def device_rhs(
        self,
        t: Float[Array, ""],
        z: Float[Array, " k"],
        mediators: Mediators,
        covariates: Covariates,
        drugs: dict[str, tuple[float, Float[Array, ""]]] | None = None,
    ) -> tuple[Float[Array, " k"], Clearances, dict[str, Float[Array, ""]]]:
        """Load derivatives, mediator clearances (1/h) and drug clearances (L/h).

        Args:
            drugs: ``{name: (mw_kda, plasma concentration in mg/L)}`` of co-administered drugs.
        """
        drugs = drugs or {}
        vp = plasma_volume_l(covariates)
        cl = Clearances(*(self.clearance_l_h(t, z, covariates, m) / vp for m in MEDIATORS))
        drug_cl = {name: self.clearance_l_h(t, z, covariates, name, mw) for name, (mw, _) in drugs.items()}
        if not self.has_sorbent or self.n_states == 0:
            return jnp.zeros_like(z), cl, drug_cl
        act = self.windows().active(t)
        loads = self._loads(z)
        tau, _ = self.fouling()
        cols = [act * (1.0 - loads[:, 0]) / tau]
        qp = self.plasma_flow_l_h(covariates)
        for j, s in enumerate(self.capacity_solutes, start=1):
            conc = drugs[s][1] if s in drugs else jnp.zeros_like(t)
            e = self.e0[s] * jnp.maximum(0.0, 1.0 - loads[:, j] / self.capacity_mg[s])
            cols.append(act * qp * e * conc)
        return jnp.stack(cols, axis=1).reshape(-1), cl, drug_cl

    def rhs(self, t, z, mediators, covariates):
        dz, cl, _ = self.device_rhs(t, z, mediators, covariates)
        return dz, Effects.none()._replace(clearance=cl)
