"""Linear compartmental pharmacokinetics driven by a :class:`DoseSchedule`.

States are drug amounts in the drug's amount unit: ``[central]`` or ``[central, peripheral]``. The SC/IM depot is
solved exactly inside :class:`DoseSchedule` (see there). Extra clearance from an extracorporeal device (L/h) is added
to the central elimination; the amount it removes is returned separately so callers can keep a mass balance.
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
from jaxtyping import Array, Float

from ._schedule import DoseSchedule

__all__ = ["PKParams", "one_compartment_reference", "pk_rhs"]


class PKParams(NamedTuple):
    """Per-patient PK parameters (already scaled by covariates)."""

    v_c: Float[Array, ""]  # L, central volume
    cl: Float[Array, ""]  # L/h, elimination clearance
    ka: Float[Array, ""]  # 1/h, first-order absorption (depot routes)
    f: Float[Array, ""]  # bioavailability of depot routes, fraction
    q: Float[Array, ""]  # L/h, inter-compartmental clearance (0 for one compartment)
    v_p: Float[Array, ""]  # L, peripheral volume (ignored when q = 0)


def pk_rhs(
    t: Float[Array, ""],
    z: Float[Array, " n"],
    p: PKParams,
    schedule: DoseSchedule,
    scale: Float[Array, ""] | float,
    extra_cl: Float[Array, ""] | float = 0.0,
) -> tuple[Float[Array, " n"], Float[Array, ""]]:
    """Time derivative of compartment amounts and the device removal rate (amount/h).

    Args:
        t: time, h.
        z: amounts ``[central]`` or ``[central, peripheral]``.
        p: PK parameters.
        schedule: dosing events.
        scale: multiplier of every dose (body weight for per-kg regimens, else 1).
        extra_cl: device clearance of the drug from the central compartment, L/h.
    """
    a_c = z[0]
    inp = schedule.input_rate(t, p.ka, p.f, scale)
    removed = extra_cl * a_c / p.v_c
    d_c = inp - p.cl * a_c / p.v_c - removed
    if z.shape[0] == 1:
        return jnp.stack([d_c]), removed
    a_p = z[1]
    flux = p.q * (a_c / p.v_c - a_p / p.v_p)
    return jnp.stack([d_c - flux, flux]), removed


def one_compartment_reference(
    t: Float[Array, " n"], schedule: DoseSchedule, p: PKParams, scale: float = 1.0
) -> Float[Array, " n"]:
    """Closed-form central amount of a one-compartment model by superposition of single doses (test reference)."""
    t = jnp.asarray(t)
    k = p.cl / p.v_c
    out = jnp.zeros_like(t)
    for ti, amt in zip(schedule.times, schedule.amounts, strict=True):
        dose = amt * scale
        dt = t - ti
        if schedule.is_depot:
            ka = p.ka
            single = p.f * dose * ka / (ka - k) * (jnp.exp(-k * jnp.maximum(dt, 0)) - jnp.exp(-ka * jnp.maximum(dt, 0)))
        else:
            d = schedule.duration_h
            r = dose / d
            during = r / k * (1 - jnp.exp(-k * jnp.clip(dt, 0, d)))
            single = jnp.where(dt > d, during * jnp.exp(-k * (dt - d)), during)
        out = out + jnp.where(dt > 0, single, 0.0)
    return out
