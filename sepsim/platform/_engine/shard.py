"""Trial replicates across devices: one independent vmapped program per device (``shard_map``).

The pattern of the patient solver (``sepsim/models/_solve.py``): the batch of trial keys is split along its leading
axis over every local device (GPUs, or the CPU cores exposed by ``XLA_FLAGS=--xla_force_host_platform_device_count=N``);
the outcome table and the thresholds are replicated. Each device runs its own loops (no cross-device
synchronisation: a jit over sharded inputs would all-reduce the condition of every batched ``while_loop``), and
trial ``i`` still draws everything from its own key, so per-trial results do not depend on the device count.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, PartitionSpec

__all__ = ["engine_compiler_options", "over_trial_devices", "trial_device_count"]

# XLA's CPU compiler has two code generators for fused loops: the MLIR fusion emitters (its default) and the older
# elemental IR emitters. The trial engine's hundreds of small fusions per look run faster through the older ones,
# with bit-identical results: the adaptr design 1.21x, the immunosep design 1.04-1.09x, in-process A/B on one core
# and on two (benchmarks/bench_trials.py --emitters; 2026-12-07, Intel Xeon, jax 0.10.2; bench_trials.md).
_CPU_OPTIONS = {"xla_cpu_use_fusion_emitters": False}


def trial_device_count() -> int:
    return len(jax.devices())


@functools.cache
def _options_for(backend: str) -> tuple[tuple[str, Any], ...]:
    if backend != "cpu":
        return ()
    try:  # an XLA that no longer knows the option refuses it at compile time: then compile without it
        jax.jit(lambda x: x + 1, compiler_options=_CPU_OPTIONS).lower(np.float32(0)).compile()
    except Exception:  # noqa: BLE001 - any refusal means: not this XLA
        return ()
    return tuple(_CPU_OPTIONS.items())


def engine_compiler_options() -> dict[str, Any] | None:
    """XLA options of the trial engine's executables on the default backend (None: XLA's defaults)."""
    return dict(_options_for(jax.default_backend())) or None


def over_trial_devices(batched: Callable[[Any, Any, Any], Any]) -> Callable[[Any, Any, Any], Any]:
    """A jitted ``(tables, keys, thresholds) -> results`` from ``batched`` (vmapped over the keys' leading axis):
    split over the local devices when there are several and the batch divides evenly, else on one device.
    Compiled with :func:`engine_compiler_options`."""
    options = engine_compiler_options()
    single = jax.jit(batched, compiler_options=options)
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

    call.single = single  # type: ignore[attr-defined]  # what a worker process runs (batches.py)
    return call
