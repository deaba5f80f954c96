"""The arm protocol: what a patient receives (:class:`AbstractArm`, :class:`Placebo`), and the combined (patient, arm)
right-hand side.

An *arm* is any object with

* ``init_state(covariates) -> Float[Array, "k"]``: its own ODE states (drug amounts, sorbent loads; k may be 0),
* ``rhs(t, z, mediators, covariates) -> (dz, Effects)``: t in hours since randomisation,
* ``jump_times() -> Float[Array, "m"]``: hours (dose times, session starts/stops) for the controller's jump_ts.

Every intervention (therapies, adsorbers, ``Combination`` in :mod:`sepsim.models.interventions`) and
:class:`Placebo` subclass :class:`AbstractArm`; :class:`ConstantEffectArm` is a duck-typed test arm whose jump
times are traced values. The combined solver state is ``concatenate([patient_state (14), arm_state (k)])``. Arms
act only after randomisation: for ``t < 0`` their effects and state derivatives are set to zero.
"""

from __future__ import annotations

import abc
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from ._effects import Covariates, Effects, Mediators
from ._patient_rhs import N_PHYSIOLOGICAL, N_STATES, patient_rhs

__all__ = ["AbstractArm", "Placebo", "LabelledArm", "ConstantEffectArm", "combined_rhs", "mediators_from_state"]


class AbstractArm(eqx.Module):
    """What a patient receives. Subclasses: :class:`Placebo`, each therapy, each device, ``Combination``.

    Methods:
        init_state: the arm's own ODE states at randomisation (drug amounts, sorbent loads), shape ``(k,)``.
        rhs: ``(t, z, mediators, covariates) -> (dz, Effects)``; ``t`` in hours from randomisation.
        jump_times: sorted times (h) where the right-hand side is discontinuous (doses, session starts/stops).
        drug_concentrations: plasma concentration of each drug, ng/mL.
        hazards: instantaneous safety hazards, 1/h, by event name (see ``interventions/_safety.py``).
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
    """Standard care only: no arm states, zero effects, no jumps. ``name`` labels the arm (``Placebo(name="twin")``
    for a second placebo column); the solver drops it from the compile key."""

    name: str = eqx.field(static=True, default="placebo")

    def init_state(self, covariates: Covariates) -> Float[Array, " 0"]:
        return jnp.zeros((0,), dtype=jnp.result_type(covariates.weight_kg))

    def rhs(
        self, t: Float[Array, ""], z: Float[Array, " 0"], mediators: Mediators, covariates: Covariates
    ) -> tuple[Float[Array, " 0"], Effects]:
        return jnp.zeros_like(z), _zero_effects(jnp.result_type(mediators.tnf))


class LabelledArm(AbstractArm):
    """``arm`` under the name a study gives it (the arm coordinate of the outcome table, ``arms.<name>`` in a run
    config): every method, safety hazards and drug concentrations included, is the wrapped arm's."""

    arm: AbstractArm
    name: str = eqx.field(static=True)

    def init_state(self, covariates: Covariates) -> Float[Array, " k"]:
        return self.arm.init_state(covariates)

    def rhs(
        self, t: Float[Array, ""], z: Float[Array, " k"], mediators: Mediators, covariates: Covariates
    ) -> tuple[Float[Array, " k"], Effects]:
        return self.arm.rhs(t, z, mediators, covariates)

    def jump_times_np(self) -> np.ndarray:
        return self.arm.jump_times_np()

    def jump_times(self) -> Float[Array, " m"]:
        return self.arm.jump_times()

    def drug_concentrations(self, z: Float[Array, " k"], covariates: Covariates) -> dict[str, Float[Array, ""]]:
        return self.arm.drug_concentrations(z, covariates)

    def hazards(self, t: Float[Array, ""], z: Float[Array, " k"], covariates: Covariates) -> dict[str, Array]:
        return self.arm.hazards(t, z, covariates)

    @property
    def n_states(self) -> int:
        return self.arm.n_states


class ConstantEffectArm(eqx.Module):
    """A test arm: constant effects from ``start`` to ``stop`` h after randomisation (no PK, no arm states).

    Example: ``ConstantEffectArm("il1_block_0.9", il1_block=0.9)``. The numeric fields are stored as arrays
    (traced under jit), so arms that differ only in effect sizes or times share one compiled solver.
    """

    name: str = eqx.field(static=True)
    il1_block: Any = eqx.field(default=0.0, converter=jnp.asarray)
    hla_dr_stim: Any = eqx.field(default=0.0, converter=jnp.asarray)
    lymph_prolif: Any = eqx.field(default=0.0, converter=jnp.asarray)
    lymph_apoptosis_block: Any = eqx.field(default=0.0, converter=jnp.asarray)
    pathogen_kill: Any = eqx.field(default=0.0, converter=jnp.asarray)
    endotoxin_neutralisation: Any = eqx.field(default=0.0, converter=jnp.asarray)
    inflammation_damping: Any = eqx.field(default=0.0, converter=jnp.asarray)
    clearance_il6: Any = eqx.field(default=0.0, converter=jnp.asarray)
    clearance_tnf: Any = eqx.field(default=0.0, converter=jnp.asarray)
    clearance_il1b: Any = eqx.field(default=0.0, converter=jnp.asarray)
    clearance_il10: Any = eqx.field(default=0.0, converter=jnp.asarray)
    start: Any = eqx.field(default=0.0, converter=jnp.asarray)
    stop: Any = eqx.field(default=24.0 * 15.0, converter=jnp.asarray)

    def init_state(self, covariates: Covariates) -> Float[Array, " 0"]:
        return jnp.zeros((0,), dtype=jnp.result_type(covariates.weight_kg))

    def rhs(self, t: Any, z: Float[Array, " 0"], mediators: Mediators, covariates: Covariates):
        dt = jnp.result_type(mediators.tnf)
        on = jnp.where((t >= self.start) & (t < self.stop), 1.0, 0.0).astype(dt)
        eff = _zero_effects(dt)
        clr = eff.clearance._replace(
            il6=on * self.clearance_il6.astype(dt),
            tnf=on * self.clearance_tnf.astype(dt),
            il1b=on * self.clearance_il1b.astype(dt),
            il10=on * self.clearance_il10.astype(dt),
        )
        eff = Effects(
            clr,
            *(
                on * jnp.asarray(v).astype(dt)
                for v in (
                    self.il1_block,
                    self.hla_dr_stim,
                    self.lymph_prolif,
                    self.lymph_apoptosis_block,
                    self.pathogen_kill,
                    self.endotoxin_neutralisation,
                    self.inflammation_damping,
                )
            ),
        )
        return jnp.zeros_like(z), eff

    def jump_times(self) -> Float[Array, " 2"]:
        return jnp.stack([self.start, self.stop])


def _zero_effects(dtype: Any) -> Effects:
    return jax.tree.map(lambda z: jnp.asarray(z, dtype), Effects.none())


def mediators_from_state(y: Float[Array, " n"]) -> Mediators:
    """Plasma mediators (physical units) from the log-space patient state."""
    x = jnp.exp(y[:N_PHYSIOLOGICAL])
    return Mediators(endotoxin=x[1], tnf=x[3], il1b=x[4], il6=x[5], il10=x[6])


def combined_rhs(t: Any, yz: Float[Array, " n"], params: Any, covariates: Covariates, arm: Any) -> Float[Array, " n"]:
    """Right-hand side of the combined state (patient states, arm states); t in hours (0 = randomisation)."""
    y, z = yz[:N_STATES], yz[N_STATES:]
    dz, eff = arm.rhs(t, z, mediators_from_state(y), covariates)
    gate = t >= 0.0
    eff = jax.tree.map(lambda e: jnp.where(gate, jnp.asarray(e, yz.dtype), jnp.zeros((), yz.dtype)), eff)
    dz = jnp.where(gate, dz, jnp.zeros_like(dz))
    return jnp.concatenate([patient_rhs(t, y, params, eff), dz.astype(yz.dtype)])
