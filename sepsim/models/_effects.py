"""The contract between interventions (drugs, adsorbers) and the virtual-patient right-hand side.

An intervention module turns its own state (drug amounts, sorbent loads) and the patient's plasma concentrations
into an :class:`Effects` PyTree at time ``t``; the patient right-hand side reads only these fields. All-zero effects
are placebo / standard care. Every field is a JAX scalar (or broadcastable array) so the whole object can be
``vmap``-ed over patients and arms.
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
from jaxtyping import Array, Float

__all__ = ["Clearances", "Effects"]


class Clearances(NamedTuple):
    """Extra first-order elimination from plasma by extracorporeal devices, in 1/h (device CL / distribution volume)."""

    endotoxin: Float[Array, ""]
    tnf: Float[Array, ""]
    il1b: Float[Array, ""]
    il6: Float[Array, ""]
    il10: Float[Array, ""]

    @classmethod
    def none(cls) -> Clearances:
        z = jnp.zeros(())
        return cls(z, z, z, z, z)


class Effects(NamedTuple):
    """Pharmacodynamic and device effects acting on the patient at one instant. Units in each field's comment."""

    clearance: Clearances  # 1/h, per molecule, from devices
    il1_block: Float[Array, ""]  # fraction of IL-1 receptor signalling blocked, in [0, 1] (anakinra occupancy)
    hla_dr_stim: Float[Array, ""]  # >= 0, fractional increase of monocyte HLA-DR expression drive (IFN-g, GM-CSF)
    lymph_prolif: Float[Array, ""]  # >= 0, fractional increase of lymphocyte proliferation (IL-7, thymosin a1)
    lymph_apoptosis_block: Float[Array, ""]  # in [0, 1], fraction of lymphocyte apoptosis blocked (anti-PD-(L)1, IL-7)
    pathogen_kill: Float[Array, ""]  # >= 0, extra pathogen clearance rate, 1/h (IVIG opsonisation)
    endotoxin_neutralisation: Float[Array, ""]  # >= 0, extra endotoxin neutralisation rate, 1/h (IVIG / IgM)
    inflammation_damping: Float[Array, ""]  # in [0, 1], fraction of pro-inflammatory production inhibited (ulinastatin)

    @classmethod
    def none(cls) -> Effects:
        """Placebo: no drug, no device."""
        z = jnp.zeros(())
        return cls(Clearances.none(), z, z, z, z, z, z, z)


class Mediators(NamedTuple):
    """Plasma concentrations an extracorporeal device sees (model units; the patient model documents them)."""

    endotoxin: Float[Array, ""]  # EU/mL
    tnf: Float[Array, ""]  # pg/mL
    il1b: Float[Array, ""]  # pg/mL
    il6: Float[Array, ""]  # pg/mL
    il10: Float[Array, ""]  # pg/mL


class Covariates(NamedTuple):
    """Per-patient covariates that drug PK and device kinetics need."""

    weight_kg: Float[Array, ""]
    hematocrit: Float[Array, ""]  # fraction, e.g. 0.30
    crcl_ml_min: Float[Array, ""]  # creatinine clearance, mL/min
    platelets: Float[Array, ""]  # 10^3/uL, for bleeding risk
