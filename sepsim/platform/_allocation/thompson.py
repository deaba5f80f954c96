"""Response-adaptive randomisation proportional to P(best) (adaptr's default; "Thompson"-type RAR)."""

from __future__ import annotations

import jax.numpy as jnp
from jaxtyping import Array, Float

from .base import AbstractAllocationRule, AllocationInputs

__all__ = ["ThompsonAllocation"]


class ThompsonAllocation(AbstractAllocationRule):
    """Allocation probability proportional to P(arm is best), then adaptr softening and limits."""

    def weights(self, inp: AllocationInputs) -> tuple[Float[Array, " arm"], Float[Array, " arm"]]:
        return jnp.where(inp.active, inp.p_best, 0.0), jnp.full_like(inp.p_best, jnp.nan)
