"""Trial replicates across devices: one independent vmapped program per device (``shard_map``).

The pattern of the patient solver (``sepsim/models/_solve.py``): the batch of trial keys is split along its leading
axis over every local device (GPUs, or the CPU cores exposed by ``XLA_FLAGS=--xla_force_host_platform_device_count=N``);
the outcome table and the thresholds are replicated. Each device runs its own loops (no cross-device
synchronisation: a jit over sharded inputs would all-reduce the condition of every batched ``while_loop``), and
trial ``i`` still draws everything from its own key, so per-trial results do not depend on the device count.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, PartitionSpec

__all__ = ["over_trial_devices", "trial_device_count"]


def trial_device_count() -> int:
    return len(jax.devices())


def over_trial_devices(batched: Callable[[Any, Any, Any], Any]) -> Callable[[Any, Any, Any], Any]:
    """A jitted ``(tables, keys, thresholds) -> results`` from ``batched`` (vmapped over the keys' leading axis):
    split over the local devices when there are several and the batch divides evenly, else on one device."""
    single = jax.jit(batched)
    devices = jax.devices()
    if len(devices) == 1:
        return single
    mesh = Mesh(np.array(devices), ("trial",))
    spec = PartitionSpec("trial")
    sharded = jax.jit(
        jax.shard_map(
            batched, mesh=mesh, in_specs=(PartitionSpec(), spec, PartitionSpec()), out_specs=spec, check_vma=False
        )
    )

    def call(tables: Any, keys: Any, thresholds: Any) -> Any:
        return (sharded if keys.shape[0] % len(devices) == 0 else single)(tables, keys, thresholds)

    return call
