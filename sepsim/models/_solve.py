"""Solving the patient ODE: one patient, and a jitted batch solver over patients for one arm.

Solver choice (tested in ``tests/models/test_patient_solver.py``): explicit ``Tsit5`` with diffrax's PID step-size
control. The log-space system is only mildly stiff: its fastest rates are cytokine elimination (TNF 1.4/h,
endotoxin 1/h, IL-1b 1/h) against a 28-90 day horizon. Measured on 1,000 sampled patients at rtol 1e-6: ``Tsit5``
337 accepted + 38 rejected steps per patient (mean), no failure; implicit ``Kvaerno5`` ~390 accepted + ~400
rejected steps and ~40x the wall time (each step needs a Jacobian and Newton iterations). The accepted-step count
hardly changes between rtol 1e-6 and 1e-3, i.e. the step is bounded by explicit stability (~2.5 h), which an
implicit method removes only at a higher cost per step here.

The default ``solver="tsit5"`` is the lean batched implementation of :mod:`._rk` (same tableau, dense output,
error norm, PID controller and jump handling as ``diffrax``; the same step counts on the test panel), ~3x faster
per patient than ``diffrax.diffeqsolve`` under ``vmap``; on CPU ``SolverConfig.lanes`` patients are stepped side by
side on a state-major ``(n_states, lanes)`` state and a lane whose patient is done takes the next patient of the
batch (``SolverConfig.refill``), 1.7x the fixed lock-step groups of 0e1bbdb (``benchmarks/bench_patient.md``).
Batches spread over several devices run one independent
loop per device (``shard_map``). ``"diffrax_tsit5"`` and ``"kvaerno5"`` go through ``diffrax.diffeqsolve``.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
from typing import Any, NamedTuple

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec
from jaxtyping import Array, Bool, Float, Int

from .._errors import ConfigError
from ._arms import ConstantEffectArm, Placebo, combined_rhs, mediators_from_state
from ._effects import Covariates
from ._patient_rhs import N_STATES, T_START, initial_state, patient_rhs
from ._rk import tsit5_batch, tsit5_queue

__all__ = ["SolverConfig", "DEFAULT_SOLVER", "PatientSolution", "solve_patient", "make_batch_solver", "shard_patients"]


class SolverConfig(NamedTuple):
    """Static solver settings (hashable: part of the jit cache key).

    ``solver``: ``"tsit5"`` (default; the lean batched Tsit5 of :mod:`._rk`), ``"diffrax_tsit5"`` (the same
    method and step-size control through ``diffrax.diffeqsolve``, ~3x slower per patient; kept as a cross-check)
    or ``"kvaerno5"`` (diffrax, implicit).
    """

    solver: str = "tsit5"  # "tsit5" | "diffrax_tsit5" | "kvaerno5"
    rtol: float = 1e-6
    atol: float = 1e-8
    max_steps: int = 20_000
    dt0: float = 0.05  # h
    pcoeff: float = 0.0  # PID controller coefficients (diffrax defaults 0, 1, 0 = integral controller)
    icoeff: float = 1.0
    dcoeff: float = 0.0
    lanes: int = 128  # lean solver on CPU: patients stepped side by side per device (see _solve_lean)
    refill: int = 8  # lean solver: a lane whose patient is done takes the next one when this many lanes are free
    # (batched refills: each costs one right-hand-side evaluation of all lanes); 0: fixed groups of `lanes`
    # patients in lock-step, each group until its slowest patient is done (the scheme before 2026-12-07)


DEFAULT_SOLVER = SolverConfig()
_SOLVERS = ("tsit5", "diffrax_tsit5", "kvaerno5")
_MAX_STEPS_CODE = int(diffrax.RESULTS.max_steps_reached._value)  # noqa: SLF001 (no public int code)


class PatientSolution(NamedTuple):
    """Saved solver states and diagnostics of one patient (or a batch with a leading patient axis)."""

    ys: Float[Array, "... t n"]  # combined state at the requested times (log-space patient states first)
    ok: Bool[Array, "..."]  # the solve reached the last requested time
    result: Int[Array, "..."]  # diffrax RESULTS code (0 = success; the lean solver reports max_steps_reached)
    steps: Int[Array, "..."]  # accepted steps
    rejected: Int[Array, "..."]  # rejected steps


def _solver(name: str) -> Any:
    if name == "diffrax_tsit5":
        return diffrax.Tsit5()
    if name == "kvaerno5":
        return diffrax.Kvaerno5()
    raise ValueError(f"unknown solver {name!r}; allowed: {_SOLVERS}")


# The solver runs on tau = t - T_START (>= 0). Randomisation (t = 0) is then an interior jump at tau = 48 h:
# a jump exactly at 0.0 makes diffrax step to nextafter(0.0), a denormal that XLA flushes to zero on CPU,
# and the solve stalls until max_steps.
_SHIFT = -T_START


def _jumps(arm: Any, dtype: Any) -> Array:
    return jnp.concatenate([jnp.zeros((1,), dtype), jnp.asarray(arm.jump_times(), dtype)]) + _SHIFT


def _lanes_rhs(arm: Any, tau: Array, yz: Array, params: Any, covariates: Covariates) -> Array:
    """:func:`~._arms.combined_rhs` of ``L`` patients on the state-major layout: ``tau (L,)``, ``yz (n, L)``,
    ``params`` and ``covariates`` with leading axis ``L``; returns ``(n, L)``.

    The patient right-hand side is elementwise in the patients, so it runs directly on the rows of ``yz`` (each
    operation one unit-stride loop over the lanes); only the arm's own right-hand side, written per patient, is
    vmapped. ``jax.vmap(combined_rhs, in_axes=(0, 1, 0, 0), out_axes=1)`` gives the same numbers, but its
    batching rules moved the patient axis to the front and XLA then transposed the states between kernels.
    """
    t = tau - _SHIFT
    y, z = yz[:N_STATES], yz[N_STATES:]
    dz, eff = jax.vmap(arm.rhs, in_axes=(0, 1, 0, 0), out_axes=(1, 0))(t, z, mediators_from_state(y), covariates)
    gate = t >= 0.0  # arms act after randomisation only (as combined_rhs)
    eff = jax.tree.map(lambda e: jnp.where(gate, jnp.asarray(e, yz.dtype), jnp.zeros((), yz.dtype)), eff)
    dz = jnp.where(gate[None], dz, jnp.zeros_like(dz))
    return jnp.concatenate([patient_rhs(t, y, params, eff), dz.astype(yz.dtype)])


def _solve_lean(params: Any, covariates: Covariates, arm: Any, ts: Any, config: SolverConfig) -> PatientSolution:
    """Lean batched Tsit5 over a leading patient axis of ``params``, ``covariates`` and ``ts``.

    On CPU, ``config.lanes`` patients are stepped side by side (a working set that stays in the core's cache).
    With ``config.refill > 0`` (default) a lane whose patient is done takes the next patient from the batch
    (:func:`._rk.tsit5_queue`), so no lane waits on the slowest patient of a group. With ``refill=0`` the batch
    is split into equal groups solved one after the other by ``lax.map`` (the last one padded with copies of the
    first patient), each group in lock-step until its own slowest patient is done. An accelerator steps the whole
    batch in one lock-step loop.
    """
    n = ts.shape[0]
    cpu = jax.default_backend() == "cpu"

    def initial(p: Any, c: Any) -> Array:
        y0 = jax.vmap(initial_state)(p)
        z0 = jax.vmap(lambda ci: jnp.asarray(arm.init_state(ci), y0.dtype))(c)
        return jnp.concatenate([y0, z0], axis=1)

    def solution(out: Any) -> PatientSolution:
        ok = out.status == 0
        code = jnp.where(ok, 0, _MAX_STEPS_CODE).astype(jnp.int32)
        return PatientSolution(out.ys, ok, code, out.accepted, out.rejected)

    kw = dict(
        rtol=config.rtol,
        atol=config.atol,
        dt0=config.dt0,
        max_steps=config.max_steps,
        pcoeff=config.pcoeff,
        icoeff=config.icoeff,
        dcoeff=config.dcoeff,
    )
    if cpu and config.refill > 0 and n > config.lanes:
        yz0 = initial(params, covariates)
        out = tsit5_queue(
            lambda tau, yz, a: _lanes_rhs(arm, tau, yz, *a),
            yz0,
            0.0,
            ts + _SHIFT,
            _jumps(arm, yz0.dtype),
            args=(params, covariates),
            lanes=config.lanes,
            refill_min=config.refill,
            **kw,
        )
        return solution(out)

    # on CPU small groups keep the working set in cache; an accelerator wants the whole batch in one loop
    lanes = max(1, min(config.lanes, n)) if cpu else n
    n_groups = -(-n // lanes)
    lanes = -(-n // n_groups)  # equal groups, e.g. 500 patients -> 4 x 125 rather than 4 x 128 with 12 padded
    take = np.concatenate([np.arange(n), np.zeros(n_groups * lanes - n, dtype=int)])

    def group(a: Any) -> Any:
        return jax.tree.map(lambda x: x[take].reshape((n_groups, lanes) + x.shape[1:]), a)

    def solve_group(inputs: Any) -> PatientSolution:
        p, c, t = inputs
        yz = initial(p, c)
        out = tsit5_batch(
            lambda tau, y: _lanes_rhs(arm, tau, y, p, c),
            yz,
            0.0,
            t + _SHIFT,
            _jumps(arm, yz.dtype),
            **kw,
        )
        return solution(out)

    if n_groups == 1:
        return solve_group((params, covariates, ts))
    out = jax.lax.map(solve_group, group((params, covariates, ts)))
    return jax.tree.map(lambda x: x.reshape((n_groups * lanes,) + x.shape[2:])[:n], out)


def solve_patient(
    params: Any,
    covariates: Covariates,
    arm: Any,
    ts: Float[Array, " t"],
    config: SolverConfig = DEFAULT_SOLVER,
) -> PatientSolution:
    """Solve one patient under one arm from infection onset (``T_START`` h) to ``ts[-1]`` h, saving at ``ts``."""
    if config.solver == "tsit5":
        batch = jax.tree.map(lambda a: jnp.asarray(a)[None], (params, covariates, ts))
        return jax.tree.map(lambda a: a[0], _solve_lean(*batch[:2], arm, batch[2], config))
    y0 = initial_state(params)
    z0 = jnp.asarray(arm.init_state(covariates), y0.dtype)
    yz0 = jnp.concatenate([y0, z0])
    term = diffrax.ODETerm(lambda tau, yz, args: combined_rhs(tau - _SHIFT, yz, params, covariates, arm))
    controller = diffrax.PIDController(
        rtol=config.rtol,
        atol=config.atol,
        pcoeff=config.pcoeff,
        icoeff=config.icoeff,
        dcoeff=config.dcoeff,
        jump_ts=_jumps(arm, y0.dtype),
    )
    sol = diffrax.diffeqsolve(
        term,
        _solver(config.solver),
        t0=0.0,
        t1=ts[-1] + _SHIFT,
        dt0=config.dt0,
        y0=yz0,
        saveat=diffrax.SaveAt(ts=ts + _SHIFT),
        stepsize_controller=controller,
        max_steps=config.max_steps,
        throw=False,
    )
    ok = sol.result == diffrax.RESULTS.successful
    code = jnp.asarray(sol.result._value, jnp.int32)  # noqa: SLF001 (diffrax exposes no public int code)
    return PatientSolution(sol.ys, ok, code, sol.stats["num_accepted_steps"], sol.stats["num_rejected_steps"])


TRACES: collections.Counter = collections.Counter()  # traces of the shared batch solver, by arm type name


def _batch_impl(arm: Any, config: SolverConfig, params: Any, covariates: Covariates, ts: Any) -> PatientSolution:
    TRACES[type(arm).__name__] += 1  # Python side effect: runs once per trace (= per compile), never per call
    if config.solver != "tsit5":
        return jax.vmap(lambda p, c, t: solve_patient(p, c, arm, t, config))(params, covariates, ts)
    devices = jax.devices()
    n = ts.shape[0]
    if len(devices) == 1 or n % len(devices):
        return _solve_lean(params, covariates, arm, ts, config)
    # One independent integration loop per device (shard_map): no per-iteration cross-device synchronisation, and
    # a device stops as soon as its own patients are done (a jit over sharded inputs would all-reduce the loop
    # condition every step and keep every device in lock-step with the slowest patient of the whole batch).
    arm_arrays, arm_static = eqx.partition(arm, eqx.is_array)
    mesh = Mesh(np.array(devices), ("patient",))
    spec = PartitionSpec("patient")

    def local(arrays: Any, p: Any, c: Any, t: Any) -> PatientSolution:
        return _solve_lean(p, c, eqx.combine(arrays, arm_static), t, config)

    sharded = jax.shard_map(
        local, mesh=mesh, in_specs=(PartitionSpec(), spec, spec, spec), out_specs=spec, check_vma=False
    )
    return sharded(arm_arrays, params, covariates, ts)


def _compile_key_arm(arm: Any) -> Any:
    """The arm as passed to the compiled function: the test arms of ``_arms.py`` lose their display name (a static
    field that would otherwise force one compile per name; the right-hand side never reads it)."""
    if isinstance(arm, (Placebo, ConstantEffectArm)):
        return dataclasses.replace(arm, name="")
    return arm


# One module-level compiled function shared by every caller: the cache key is (arm structure and static fields,
# solver config, batch shapes/dtypes), so repeated simulate_outcomes calls, tests and benchmarks reuse compiles.
_batch_shared = eqx.filter_jit(_batch_impl)


def make_batch_solver(arm: Any, config: SolverConfig = DEFAULT_SOLVER, *, max_traces: int | None = None) -> Any:
    """A jitted function ``(params, covariates, ts) -> PatientSolution`` batched over a leading patient axis.

    One compiled program per (arm structure and static fields, config, batch shape), shared across calls: a new
    batch of the same shape, or a new solver for an equal arm, does not retrace (``TRACES`` counts traces).
    Array-valued arm fields (e.g. the effect sizes of :class:`~sepsim.models._arms.ConstantEffectArm`) are
    traced, so arms differing only in those share one compile. ``max_traces`` uses a private compiled function,
    wrapped in ``equinox.debug.assert_max_traces``, to prove the absence of retracing.
    """
    if config.lanes < 1:
        raise ConfigError("solver.lanes", f"must be >= 1, got {config.lanes!r}")
    if config.refill < 0:
        raise ConfigError("solver.refill", f"must be >= 0 (0: fixed lock-step groups), got {config.refill!r}")
    if max_traces is None:
        fn = _batch_shared
    else:
        fn = eqx.filter_jit(eqx.debug.assert_max_traces(_batch_impl, max_traces=max_traces))
    return functools.partial(fn, _compile_key_arm(arm), config)


def shard_patients(tree: Any) -> Any:
    """Place a batch (leading patient axis) across all local devices, e.g. the CPU cores exposed by
    ``XLA_FLAGS=--xla_force_host_platform_device_count=N``. The batch size must be a multiple of the device
    count. With one device this is a no-op. Per-patient results do not change: every patient's step-size
    control is independent (to rounding: XLA may vectorise different batch splits differently).
    """
    devices = jax.devices()
    if len(devices) == 1:
        return tree
    sharding = NamedSharding(Mesh(np.array(devices), ("patient",)), PartitionSpec("patient"))
    return jax.device_put(tree, sharding)
