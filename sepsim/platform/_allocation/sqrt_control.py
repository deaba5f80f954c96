"""Square-root control allocation (adaptr ``control_prob_fixed = "sqrt-based"``; BATSS ``RAR.optimal``)."""

from __future__ import annotations

import jax.numpy as jnp
from jaxtyping import Array, Float

from .base import AbstractAllocationRule, AllocationInputs

__all__ = ["SqrtControlAllocation"]


class SqrtControlAllocation(AbstractAllocationRule):
    """Control share sqrt(k) / (sqrt(k) + k) for k active non-control arms (0.5, 0.41421, 0.36603, 0.33333 for
    k = 1..4); the other arms share the rest in proportion to P(best)^soften_power (``soften_power = 0``: equally).
    Minimum/maximum limits apply to the non-control arms only (as in adaptr)."""

    def weights(self, inp: AllocationInputs) -> tuple[Float[Array, " arm"], Float[Array, " arm"]]:
        n = inp.p_best.shape[-1]
        is_ctrl = jnp.arange(n, dtype=jnp.int32) == jnp.asarray(inp.control).astype(jnp.int32)
        k = jnp.sum(inp.active & ~is_ctrl).astype(inp.p_best.dtype)
        share = jnp.sqrt(k) / (jnp.sqrt(k) + k)
        fixed = jnp.where(is_ctrl & inp.active, share, jnp.nan)
        w = jnp.where(inp.active & ~is_ctrl, inp.p_best, 0.0)
        return w, fixed

    def limits_apply_to(self, inp):
        return inp.active & (
            jnp.arange(inp.p_best.shape[-1], dtype=jnp.int32) != jnp.asarray(inp.control).astype(jnp.int32)
        )
