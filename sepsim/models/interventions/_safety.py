"""Safety hazards as ODE states: wrap any arm so that the solver integrates its cumulative hazards exactly.

Therapies expose instantaneous hazards (1/h) through ``arm.hazards(t, z, covariates)``:

* ``anemia`` (anakinra): ``strength x IL-1R occupancy`` (ImmunoSep, IS-14);
* ``bleeding`` (IFN-gamma): ``strength x effect x (1 + gain max(0, 1 - platelets/ref))`` (IS-14);
* ``fever_resp_distress`` (IV IL-7): Gaussian kernel 5-8 h after each IV dose, calibrated to 3/15 (s4).

The outcome layer turns a cumulative hazard ``H`` into an event with its common random number ``u``
(event iff ``1 - exp(-H) > u``), identically for every arm. :class:`HazardIntegrals` appends one state per hazard
(``dH_k/dt = h_k``), so ``H`` comes out of the same solve as everything else.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from .._arms import AbstractArm
from .._effects import Covariates

__all__ = ["HazardIntegrals", "hazard_names"]


def hazard_names(arm: AbstractArm, covariates: Covariates) -> tuple[str, ...]:
    """Sorted names of the hazards an arm reports (evaluated once on its initial state)."""
    return tuple(sorted(arm.hazards(jnp.zeros(()), arm.init_state(covariates), covariates)))


class HazardIntegrals(AbstractArm):
    """``arm`` plus cumulative hazards ``names`` as trailing states (``H_k(0) = 0``; units: dimensionless)."""

    arm: AbstractArm
    names: tuple[str, ...]

    @property
    def n_states(self) -> int:
        return self.arm.n_states + len(self.names)

    @property
    def name(self) -> str:
        return getattr(self.arm, "name", "arm")

    def init_state(self, covariates: Covariates) -> Float[Array, " k"]:
        z0 = self.arm.init_state(covariates)
        return jnp.concatenate([z0, jnp.zeros((len(self.names),), dtype=z0.dtype)])

    def rhs(self, t, z, mediators, covariates):
        k = z.shape[0] - len(self.names)
        dz, eff = self.arm.rhs(t, z[:k], mediators, covariates)
        h = self.arm.hazards(t, z[:k], covariates)
        dh = [
            jnp.reshape(jnp.asarray(h[n], dtype=z.dtype), (1,)) if n in h else jnp.zeros((1,), z.dtype)
            for n in self.names
        ]
        return jnp.concatenate([dz, *dh]), eff

    def jump_times_np(self) -> np.ndarray:
        return self.arm.jump_times_np()

    def drug_concentrations(self, z, covariates):
        return self.arm.drug_concentrations(z[: z.shape[0] - len(self.names)], covariates)

    def cumulative(self, z: Float[Array, " k"]) -> dict[str, Float[Array, ""]]:
        """Cumulative hazards from a state vector of this wrapper."""
        k = z.shape[0] - len(self.names)
        return {n: z[k + i] for i, n in enumerate(self.names)}
