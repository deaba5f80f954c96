"""Fixed-ratio allocation, optionally in permuted blocks (stratified by the engine when strata exist)."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float, Int, Key

from ..stats._posterior_binary import _tiny
from .base import AbstractAllocationRule, AllocationInputs

__all__ = ["FixedAllocation", "block_assign"]


class FixedAllocation(AbstractAllocationRule):
    """Allocation in a fixed ratio among the active arms (renormalised when arms leave)."""

    ratio: tuple[float, ...] = eqx.field(static=True, default=())

    def weights(self, inp: AllocationInputs) -> tuple[Float[Array, " arm"], Float[Array, " arm"]]:
        r = jnp.asarray(self.ratio, dtype=inp.p_best.dtype)
        r = jnp.where(inp.active, r, 0.0)
        return r, r / jnp.maximum(jnp.sum(r), _tiny(r.dtype))


# permuted blocks of at most this many slots pick their slot by stable ranks instead of a sort (identical result)
_RANK_MAX_BLOCK = 64


def block_assign(
    ratio_counts: Int[Array, " arm"],
    open_arms: Bool[Array, " arm"],
    position: Int[Array, ""],
    *,
    key: Key[Array, ""],
    max_block: int,
) -> Int[Array, ""]:
    """The arm at ``position`` of a permuted block.

    The block holds ``ratio_counts[a]`` copies of each open arm, in a random order drawn from ``key`` (one key per
    block, so every patient of the block sees the same permutation). ``position`` is taken modulo the block size.
    """
    counts = jnp.where(open_arms, ratio_counts, 0)
    size = jnp.maximum(jnp.sum(counts), 1).astype(jnp.int32)
    edges = jnp.cumsum(counts).astype(jnp.int32)
    slots = jnp.arange(max_block, dtype=jnp.int32)
    content = jnp.searchsorted(edges, slots, side="right")  # arm index of each slot before permuting
    prio = jax.random.uniform(key, (max_block,), dtype=jnp.float32)
    prio = jnp.where(slots < size, prio, 2.0)
    p = jnp.asarray(position).astype(jnp.int32) % size
    if max_block > _RANK_MAX_BLOCK:
        return content[jnp.argsort(prio)[p]].astype(jnp.int32)
    # the slot that a stable argsort puts at p, without a sort: slot j's stable rank is the number of slots before
    # it in the order (smaller priority, or equal and earlier); exactly one slot has rank p. A sort's comparator
    # makes XLA's CPU executable unserializable (worker processes, _engine/batches.py), and for small blocks the
    # max_block^2 comparisons cost less than the sort.
    less = (prio[None, :] < prio[:, None]) | ((prio[None, :] == prio[:, None]) & (slots[None, :] < slots[:, None]))
    rank = jnp.sum(less, axis=1, dtype=jnp.int32)
    return content[jnp.argmax(rank == p)].astype(jnp.int32)
