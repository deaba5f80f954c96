"""Trippa et al. (2012, J Clin Oncol 30:3258) allocation with a protected control arm."""

from __future__ import annotations

from typing import ClassVar

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float

from .base import AbstractAllocationRule, AllocationInputs

__all__ = ["TrippaAllocation"]


class TrippaAllocation(AbstractAllocationRule):
    """Experimental arm k proportional to P(theta_k better than control)^gamma, gamma = a (n/N)^b; the control
    proportional to exp(max_k n_k - n_0)^eta / (K_active - 1), eta = eta0 n/N; normalised over the active arms.

    Defaults a = 10, b = 0.75, eta0 = 0.25 (trial_oracles.md). Experimental weights are first normalised to sum
    to 1 among themselves, so the control's weight is on the same scale as one experimental arm's average.
    """

    needs_p_better: ClassVar[bool] = True
    a: float = eqx.field(static=True, default=10.0)
    b: float = eqx.field(static=True, default=0.75)
    eta0: float = eqx.field(static=True, default=0.25)

    def weights(self, inp: AllocationInputs) -> tuple[Float[Array, " arm"], Float[Array, " arm"]]:
        k = inp.p_best.shape[-1]
        is_ctrl = jnp.arange(k, dtype=jnp.int32) == jnp.asarray(inp.control).astype(jnp.int32)
        exp_arms = inp.active & ~is_ctrl
        gamma = self.a * jnp.power(inp.info_frac, self.b)
        pb = jnp.where(exp_arms, jnp.nan_to_num(inp.p_better, nan=0.0), 0.0)
        w = jnp.where(exp_arms, jnp.power(pb, gamma), 0.0)
        s = jnp.sum(w)
        n_exp = jnp.maximum(jnp.sum(exp_arms), 1).astype(w.dtype)
        w = jnp.where(s > 0, w / jnp.where(s > 0, s, 1.0), jnp.where(exp_arms, 1.0 / n_exp, 0.0))
        eta = self.eta0 * inp.info_frac
        n0 = jnp.sum(jnp.where(is_ctrl, inp.n_arm, 0.0))
        nmax = jnp.max(jnp.where(exp_arms, inp.n_arm, 0.0))
        k_active = jnp.sum(inp.active).astype(w.dtype)
        w0 = jnp.exp(eta * (nmax - n0)) / jnp.maximum(k_active - 1.0, 1.0)
        w = jnp.where(is_ctrl & inp.active, w0, w)
        return w, jnp.full_like(w, jnp.nan)
