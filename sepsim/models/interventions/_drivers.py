"""Stand-alone drivers: run an arm without the patient model, for tests, calibration and figures.

A driver owns a few states standing in for the patient and turns the arm's :class:`Effects` back into dynamics:

* :class:`PrescribedMediators`: no states; plasma mediators are a given function of time.
* :class:`TurnoverDriver`: the patient model's phenomenological monocyte HLA-DR / lymphocyte turnover with its
  inflammation-dependent terms frozen (see the class): enough to check the PD calibration targets.
* :class:`EndotoxemiaDriver`: the human 2 ng/kg LPS model of Windoloski et al. 2024 (7 states, fitted mean-bolus
  parameters, mechanistic_models.md s1.4), with device clearances acting on endotoxin, TNF, IL-6 and IL-10 and
  ``endotoxin_neutralisation`` adding to endotoxin decay. Used for the CytoSorb human-endotoxemia target.

:func:`simulate` integrates ``[driver states, arm states]`` with diffrax, passing the arm's jump times to the step
controller.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from .._arms import AbstractArm
from .._effects import Covariates, Effects, Mediators

__all__ = ["EndotoxemiaDriver", "PrescribedMediators", "Trajectory", "TurnoverDriver", "along", "simulate"]


def _f(x) -> Array:
    return jnp.asarray(x, dtype=jnp.result_type(float))


def constant_mediators(endotoxin=0.0, tnf=10.0, il1b=2.0, il6=100.0, il10=10.0) -> Mediators:
    """Constant plasma mediators (EU/mL, pg/mL) for drivers that do not model them."""
    return Mediators(_f(endotoxin), _f(tnf), _f(il1b), _f(il6), _f(il10))


class PrescribedMediators(eqx.Module):
    """Mediators as a function of time; no driver states."""

    fn: Callable[[Array], Mediators] = eqx.field(static=True, default=lambda t: constant_mediators())

    def init(self) -> Float[Array, " 0"]:
        return jnp.zeros((0,), dtype=jnp.result_type(float))

    def mediators(self, t, y) -> Mediators:
        return self.fn(t)

    def rhs(self, t, y, effects: Effects) -> Float[Array, " 0"]:
        return y


class TurnoverDriver(eqx.Module):
    """HLA-DR (AB/C) and lymphocytes (10^3/uL) relaxing to targets modified by the arm's effects.

    Same form and rates as the patient model's modules 10-11 (``sepsim/models/_patient_rhs.py``, ``params/
    patient.yaml``) with the inflammation-dependent terms frozen:
    ``dH/dt = k_H (H_target (1 + hla_dr_stim) - H)`` and
    ``dL/dt = k_L (L0 (1 + lymph_prolif) - (1 + (1 - lymph_apoptosis_block) a) L)`` with the apoptosis drive
    ``a = L0 / l_target - 1`` chosen so that the untreated steady state is ``l_target``.

    Attributes:
        h_target: untreated monocyte HLA-DR set point, AB/C (e.g. 2666 for Payen 2019, 5609 for Meisel 2009).
        k_h: HLA-DR relaxation rate, 1/h (patient.yaml ``k_hla`` = 0.06: tau ~17 h).
        l_target: untreated lymphocyte steady state, 10^3/uL (0.7 at sepsis onset, Drewry 2014).
        l0: healthy lymphocyte level, 10^3/uL (patient.yaml ``l0`` = 1.8).
        k_l: lymphocyte relaxation rate, 1/h (patient.yaml ``k_lym`` = 0.05).
    """

    h_target: float = 5000.0
    k_h: float = 0.06
    l_target: float = 0.7
    l0: float = 1.8
    k_l: float = 0.05
    mediators_fn: Callable[[Array], Mediators] = eqx.field(static=True, default=lambda t: constant_mediators())

    def init(self) -> Float[Array, " 2"]:
        return jnp.stack([_f(self.h_target), _f(self.l_target)])

    def mediators(self, t, y) -> Mediators:
        return self.mediators_fn(t)

    def rhs(self, t, y, effects: Effects) -> Float[Array, " 2"]:
        h, lym = y[0], y[1]
        apop = self.l0 / self.l_target - 1.0
        dh = self.k_h * (self.h_target * (1.0 + effects.hla_dr_stim) - h)
        loss = 1.0 + (1.0 - effects.lymph_apoptosis_block) * apop
        dl = self.k_l * (self.l0 * (1.0 + effects.lymph_prolif) - loss * lym)
        return jnp.stack([dh, dl])


def _up(x, k, h):
    x = jnp.maximum(x, 0.0)
    return x**h / (x**h + k**h)


def _dn(x, k, h):
    x = jnp.maximum(x, 0.0)
    return k**h / (x**h + k**h)


# Windoloski et al. 2024 mean-bolus fit (exp(optpars), MeanBolusOptPars.mat), mechanistic_models.md s1.4.
_W = dict(
    kE=1.01, kMR=0.006, kMA=2.674, kMTNF=8.650, kM=0.0414, xME=3.3, xM10=3.884, xMTNF=140.8, hME=1.0, hM10=0.3,
    hMTNF=3.16, Mmax=30000.0, kTNF=1.395, kTNFM=0.998, xTNF10=15.54, xTNF6=560.0, hTNF10=3.0, hTNF6=2.0, wTNF=8.79,
    k6=0.66, k6M=0.81, k6TNF=0.81, x610=31.07, x66=560.0, x6TNF=260.6, h610=4.0, h66=1.0, h6TNF=2.0, w6=0.61,
    k8=0.686, k8M=0.746, k8TNF=0.789, x810=15.54, x8TNF=260.6, h810=1.5, h8TNF=3.0, w8=4.18, k10=0.8, k10M=0.015,
    k106=0.0171, x106=560.0, h106=3.68, w10=3.75,
)  # fmt: skip


class EndotoxemiaDriver(eqx.Module):
    """Windoloski 2024 human LPS model; states ``[E, MR, MA, TNF, IL6, IL8, IL10]`` (E in ng/kg, cytokines pg/mL).

    LPS (``dose_ng_kg``) enters ``E`` as a 6-min zero-order input starting at ``t_lps`` h (both ends listed in
    :meth:`jump_times`) instead of an initial condition, so that a device or neutralising drug can already be running
    when it arrives. IL-1b is not modelled (reported as 0).
    """

    dose_ng_kg: float = 2.0
    t_lps: float = eqx.field(static=True, default=1.0)
    input_h: float = eqx.field(static=True, default=0.1)

    def init(self) -> Float[Array, " 7"]:
        return _f([0.0, 28200.0, 0.0, _W["wTNF"], _W["w6"], _W["w8"], _W["w10"]])

    def jump_times(self) -> Float[Array, " 2"]:
        return _f([self.t_lps, self.t_lps + self.input_h])

    def mediators(self, t, y) -> Mediators:
        return Mediators(y[0], y[3], jnp.zeros_like(y[0]), y[4], y[6])

    def rhs(self, t, y, effects: Effects) -> Float[Array, " 7"]:
        w = _W
        e, mr, ma, tnf, il6, il8, il10 = (y[i] for i in range(7))
        cl = effects.clearance
        lps_in = jnp.where((t >= self.t_lps) & (t < self.t_lps + self.input_h), self.dose_ng_kg / self.input_h, 0.0)
        de = lps_in - (w["kE"] + effects.endotoxin_neutralisation + cl.endotoxin) * e
        act = _up(e, w["xME"], w["hME"]) * (w["kM"] + w["kMTNF"] * _up(tnf, w["xMTNF"], w["hMTNF"]))
        act = act * _dn(il10, w["xM10"], w["hM10"]) * (1.0 - effects.inflammation_damping) * mr
        dmr = w["kMR"] * mr * (1 - mr / w["Mmax"]) - act
        dma = act - w["kMA"] * ma
        dtnf = w["kTNFM"] * _dn(il6, w["xTNF6"], w["hTNF6"]) * _dn(il10, w["xTNF10"], w["hTNF10"]) * ma
        dtnf = dtnf - w["kTNF"] * (tnf - w["wTNF"]) - cl.tnf * tnf
        p6 = (w["k6M"] + w["k6TNF"] * _up(tnf, w["x6TNF"], w["h6TNF"])) * _dn(il6, w["x66"], w["h66"])
        dil6 = p6 * _dn(il10, w["x610"], w["h610"]) * ma - w["k6"] * (il6 - w["w6"]) - cl.il6 * il6
        dil8 = ma * (w["k8M"] + w["k8TNF"] * _up(tnf, w["x8TNF"], w["h8TNF"])) * _dn(il10, w["x810"], w["h810"])
        dil8 = dil8 - w["k8"] * (il8 - w["w8"])
        dil10 = (w["k10M"] + w["k106"] * _up(il6, w["x106"], w["h106"])) * ma - w["k10"] * (il10 - w["w10"])
        dil10 = dil10 - cl.il10 * il10
        return jnp.stack([de, dmr, dma, dtnf, dil6, dil8, dil10])


class Trajectory(NamedTuple):
    """Saved solution: ``ts`` (h), driver states ``y`` (time x driver), arm states ``z`` (time x arm)."""

    ts: Float[Array, " time"]
    y: Float[Array, "time d"]
    z: Float[Array, "time k"]


def _traced_floats(tree):
    """Python-float parameters -> arrays, so that arms differing only in numbers share one compiled solve."""
    return jax.tree_util.tree_map(lambda x: _f(x) if isinstance(x, float) else x, tree)


def simulate(
    arm: AbstractArm,
    covariates: Covariates,
    ts: Float[Array, " time"],
    driver: eqx.Module | None = None,
    *,
    rtol: float = 1e-8,
    atol: float = 1e-8,
    max_steps: int = 200_000,
) -> Trajectory:
    """Integrate an arm coupled to a stand-alone driver from ``ts[0]`` to ``ts[-1]``, saving at ``ts``.

    Args:
        arm: any :class:`AbstractArm`.
        covariates: the patient's covariates.
        ts: save times, h (increasing).
        driver: :class:`PrescribedMediators` (default), :class:`TurnoverDriver` or :class:`EndotoxemiaDriver`.
        rtol, atol: step-size controller tolerances (the arm's jump times are passed as ``jump_ts``).
    """
    driver = PrescribedMediators() if driver is None else driver
    jumps = [arm.jump_times_np() if hasattr(arm, "jump_times_np") else np.asarray(arm.jump_times(), dtype=float)]
    if hasattr(driver, "jump_times"):
        jumps.append(np.asarray(driver.jump_times(), dtype=float))
    jump_ts = np.unique(np.concatenate(jumps))
    jump_ts = _f(jump_ts) if jump_ts.size else None
    return _solve(_traced_floats(arm), _traced_floats(driver), covariates, _f(ts), jump_ts, rtol, atol, max_steps)


@eqx.filter_jit
def _solve(arm, driver, covariates, ts, jump_ts, rtol, atol, max_steps) -> Trajectory:
    y0 = driver.init()
    z0 = arm.init_state(covariates)
    nd = y0.shape[0]

    def vf(t, s, args):
        y, z = s[:nd], s[nd:]
        dz, eff = arm.rhs(t, z, driver.mediators(t, y), covariates)
        return jnp.concatenate([driver.rhs(t, y, eff), dz])

    sol = diffrax.diffeqsolve(
        diffrax.ODETerm(vf),
        diffrax.Tsit5(),
        t0=ts[0],
        t1=ts[-1],
        dt0=0.01,
        y0=jnp.concatenate([y0, z0]),
        saveat=diffrax.SaveAt(ts=ts),
        stepsize_controller=diffrax.PIDController(rtol=rtol, atol=atol, jump_ts=jump_ts),
        max_steps=max_steps,
    )
    return Trajectory(sol.ts, sol.ys[:, :nd], sol.ys[:, nd:])


def along(fn: Callable[[Array, Array], Array], trajectory: Trajectory) -> Array:
    """Evaluate ``fn(t, z)`` (arm read-outs: concentrations, extraction, hazards) at every saved time, vectorised."""
    return jax.vmap(fn)(trajectory.ts, trajectory.z)
