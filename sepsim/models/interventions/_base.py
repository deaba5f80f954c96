"""How the effects of an arm's parts combine, and the plasma volume they act in.

The arm protocol itself (:class:`~sepsim.models._arms.AbstractArm`, :class:`~sepsim.models._arms.Placebo`) lives in
``sepsim/models/_arms.py``: an *arm* is what one virtual patient receives (placebo, one or more therapies, optionally
a device); it owns a (possibly empty) vector of ODE states and, given the patient's plasma mediators, returns
``(dz, Effects)``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from .._effects import Covariates, Effects

__all__ = [
    "combine_effects",
    "plasma_volume_l",
]

_UNIT_TO_NG_PER_ML = {"g": 1e6, "mg": 1e3, "ug": 1.0, "kIU": 1.0}  # amount-unit/L -> ng/mL (kIU/L reported as-is)


def plasma_volume_l(covariates: Covariates) -> Float[Array, ""]:
    """Plasma volume, L: blood volume 0.07 L/kg x weight x (1 - haematocrit) [U; textbook 65-75 mL/kg]."""
    return 0.07 * covariates.weight_kg * (1.0 - covariates.hematocrit)


def combine_effects(a: Effects, b: Effects) -> Effects:
    """Combine two arms' effects: clearances, stimulations and rates add; fractional blocks combine as 1-(1-a)(1-b)."""

    def frac(x, y):
        return 1.0 - (1.0 - x) * (1.0 - y)

    return Effects(
        clearance=jax.tree_util.tree_map(jnp.add, a.clearance, b.clearance),
        il1_block=frac(a.il1_block, b.il1_block),
        hla_dr_stim=a.hla_dr_stim + b.hla_dr_stim,
        lymph_prolif=a.lymph_prolif + b.lymph_prolif,
        lymph_apoptosis_block=frac(a.lymph_apoptosis_block, b.lymph_apoptosis_block),
        pathogen_kill=a.pathogen_kill + b.pathogen_kill,
        endotoxin_neutralisation=a.endotoxin_neutralisation + b.endotoxin_neutralisation,
        inflammation_damping=frac(a.inflammation_damping, b.inflammation_damping),
    )
