"""Abstract interfaces of an arm, a therapy and an adsorber, and how effects combine.

An *arm* is what one virtual patient receives: placebo, one or more therapies, optionally a device. Every arm owns a
(possibly empty) vector of ODE states and, given the patient's plasma mediators, returns ``(dz, Effects)``. The patient
model integrates the arm's states together with its own, passing ``arm.jump_times()`` to the step controller.
"""

from __future__ import annotations

import abc
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from .._effects import Covariates, Effects, Mediators

__all__ = [
    "AbstractArm",
    "Placebo",
    "combine_effects",
    "plasma_volume_l",
]

_UNIT_TO_NG_PER_ML = {"g": 1e6, "mg": 1e3, "ug": 1.0, "kIU": 1.0}  # amount-unit/L -> ng/mL (kIU/L reported as-is)


def _f(x) -> Array:
    return jnp.asarray(x, dtype=jnp.result_type(float))


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


class AbstractArm(eqx.Module):
    """What a patient receives. Subclasses: :class:`Placebo`, each therapy, each device, ``Combination``.

    Methods:
        init_state: the arm's own ODE states at randomisation (drug amounts, sorbent loads), shape ``(k,)``.
        rhs: ``(t, z, mediators, covariates) -> (dz, Effects)``; ``t`` in hours from randomisation.
        jump_times: sorted times (h) where the right-hand side is discontinuous (doses, session starts/stops).
        drug_concentrations: plasma concentration of each drug, ng/mL.
        hazards: instantaneous safety hazards, 1/h, by event name (see ``_safety.py``).
    """

    @abc.abstractmethod
    def init_state(self, covariates: Covariates) -> Float[Array, " k"]: ...

    @abc.abstractmethod
    def rhs(
        self, t: Float[Array, ""], z: Float[Array, " k"], mediators: Mediators, covariates: Covariates
    ) -> tuple[Float[Array, " k"], Effects]: ...

    def jump_times_np(self) -> np.ndarray:
        """:meth:`jump_times` as a NumPy array, computed from static data only (safe inside ``jit``)."""
        return np.zeros((0,))

    def jump_times(self) -> Float[Array, " m"]:
        return jnp.asarray(self.jump_times_np(), dtype=jnp.result_type(float))

    def drug_concentrations(self, z: Float[Array, " k"], covariates: Covariates) -> dict[str, Float[Array, ""]]:
        return {}

    def hazards(self, t: Float[Array, ""], z: Float[Array, " k"], covariates: Covariates) -> dict[str, Array]:
        return {}

    @property
    def n_states(self) -> int:
        return 0


class Placebo(AbstractArm):
    """Standard care only: no states, no effects."""

    name: ClassVar[str] = "placebo"

    def init_state(self, covariates: Covariates) -> Float[Array, " 0"]:
        return jnp.zeros((0,), dtype=jnp.result_type(float))

    def rhs(self, t, z, mediators, covariates):
        return z, Effects.none()
