"""Deterministic PRNG key derivation: ``(seed, stage, global index) -> key``.

Every random quantity in sepsim is drawn from a key derived here, so that a result depends only on the seed, the
pipeline stage and the global index of the item (patient, trial replicate), never on chunk size, device count or
the order in which chunks run (DESIGN.md, "Batching everywhere").
"""

from __future__ import annotations

import hashlib

import jax
import jax.numpy as jnp
from jaxtyping import Array, Int, Key

__all__ = ["stage_key", "index_keys", "item_keys"]


def _stage_tag(stage: str) -> int:
    """A stable 31-bit integer for a stage name (Python's ``hash`` is salted per process, so it is not used)."""
    digest = hashlib.sha256(stage.encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


def stage_key(seed: int, stage: str) -> Key[Array, ""]:
    """The root key of one pipeline stage, e.g. ``stage_key(1, "cohort")``."""
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return jax.random.fold_in(jax.random.key(seed), _stage_tag(stage))


def index_keys(key: Key[Array, ""], start: int, size: int) -> Key[Array, " n"]:
    """Keys for global indices ``start, ..., start + size - 1`` of items under ``key``.

    ``index_keys(k, 0, 10)[3:5]`` equals ``index_keys(k, 3, 2)``: a chunk's keys do not depend on how the work
    was chunked.
    """
    return item_keys(key, jnp.arange(start, start + size, dtype=jnp.uint32))


def item_keys(key: Key[Array, ""], indices: Int[Array, " n"]) -> Key[Array, " n"]:
    """Keys for the items with global indices ``indices`` under ``key`` (``fold_in(key, index)``): an item's key is the
    same whatever subset, order or chunk it is drawn in (e.g. per-patient common random numbers)."""
    idx = jnp.asarray(indices, dtype=jnp.uint32)
    return jax.vmap(lambda i: jax.random.fold_in(key, i))(idx)
