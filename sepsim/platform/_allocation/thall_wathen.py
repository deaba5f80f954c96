"""Thall–Wathen power transform (Thall & Wathen 2007, Eur J Cancer 43:859)."""

from __future__ import annotations

import jax.numpy as jnp
from jaxtyping import Array, Float

from .base import AbstractAllocationRule, AllocationInputs

__all__ = ["ThallWathenAllocation"]


class ThallWathenAllocation(AbstractAllocationRule):
    """Allocation proportional to P(best)^c with c = n / (2 N) (n patients with outcomes, N the maximum)."""

    def weights(self, inp: AllocationInputs) -> tuple[Float[Array, " arm"], Float[Array, " arm"]]:
        c = 0.5 * inp.info_frac
        w = jnp.where(inp.active, jnp.power(inp.p_best, c), 0.0)
        return w, jnp.full_like(inp.p_best, jnp.nan)
