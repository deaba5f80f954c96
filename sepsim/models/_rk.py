"""A lean batched Tsit5 integrator: one ``while_loop`` over a batch of independent ODEs, no per-step machinery.

Why not ``diffrax.diffeqsolve`` under ``vmap``: on the patient model one right-hand-side evaluation costs ~30 ns per
patient (vmapped, 2 CPU devices), yet a vmapped diffrax Tsit5 step cost ~6x its 6 evaluations (generic stage
scan, ``SaveAt`` and jump bookkeeping, per-step pytree plumbing); see ``benchmarks/bench_patient.md``. This module
does the same numerics with the bookkeeping written for a batch:

* Tsit5 5(4) tableau and its 4th-order dense output (Tsitouras 2011, coefficients as in diffrax 0.7.2
  ``diffrax/_solver/tsit5.py``); FSAL, so 6 evaluations per step.
* Per-patient step-size control exactly as ``diffrax.PIDController``: RMS norm of
  ``err / (atol + rtol max(|y0|, |y1|))``, accept when < 1, ``factor = safety inv^((p+i+d)/5) prev^(-(p+2d)/5)
  prevprev^(d/5)`` with error order 5, clipped to [1, 10] after an accepted and [0.2, 0.9] after a rejected step.
* Known discontinuities of the right-hand side (``jumps``) are stepped to ``prevfloat(jump)`` and resumed at
  ``nextafter(jump)`` with a fresh evaluation there (diffrax's ``jump_ts``). That evaluation, and the dense-output
  saves, run under a batch-level ``lax.cond`` / ``while_loop``: only in the iterations where some patient needs
  them, instead of a masked evaluation in every iteration.
* Each patient's step control is independent, so results do not depend on the batch composition.
  :func:`tsit5_batch`: all patients iterate in lock-step until the last one reaches ``t1`` (finished patients
  are masked). :func:`tsit5_queue`: ``lanes`` patients are stepped side by side and a lane whose patient is done
  takes the next one from a queue, so the batch does not wait on its slowest patient (on a 128-patient group of
  the patient model the lock-step loop keeps only ~76% of its lanes busy; ``benchmarks/bench_patient.md``).
* The state is held state-major, ``(n, b)``: state ``i`` of every patient is one contiguous row, so each
  elementwise operation of the right-hand side and of the stage combinations is one unit-stride vector loop over
  the batch (a patient-major ``(b, n)`` state made every read of ``y[:, i]`` a stride-``n`` gather: the vmapped
  patient right-hand side cost ~1.6x as much per evaluation; ``benchmarks/bench_patient.md``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import diffrax
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int

__all__ = ["BatchResult", "tsit5_batch", "tsit5_queue"]

# Tsit5 tableau (Tsitouras 2011), read from diffrax itself so the two paths cannot drift apart. Stage i uses
# _A[i] (row 0 empty) at time t + _C[i] dt; _B_ERR = b_sol - b_hat, as diffrax's b_error.
_TABLEAU = diffrax.Tsit5.tableau
_C = (0.0, *(float(c) for c in _TABLEAU.c))
_A = ((), *(tuple(float(a) for a in row) for row in _TABLEAU.a_lower))
_B_SOL = tuple(float(b) for b in _TABLEAU.b_sol)  # FSAL: equals _A[6] followed by 0
_B_ERR = tuple(float(b) for b in _TABLEAU.b_error)
_ERROR_ORDER = 5.0  # diffrax: min(p, q) + 1 for an ODE with a 5(4) pair
_PID = diffrax.PIDController(rtol=1e-6, atol=1e-8)  # only its default safety factor and step-factor limits
_SAFETY, _FACTORMIN, _FACTORMAX = float(_PID.safety), float(_PID.factormin), float(_PID.factormax)


def _dense_weights(theta: Float[Array, " b"]) -> list[Float[Array, " b"]]:
    """Tsit5 dense-output weights b_i(theta), theta = (t - t0) / dt (diffrax 0.7.2 ``_Tsit5Interpolation``)."""
    t = theta
    t2 = t * t
    return [
        -1.0530884977290216 * t * (t - 1.3299890189751412) * (t2 - 1.4364028541716351 * t + 0.7139816917074209),
        0.1017 * t2 * (t2 - 2.1966568338249754 * t + 1.2949852507374631),
        2.490627285651252793 * t2 * (t2 - 2.38535645472061657 * t + 1.57803468208092486),
        -16.54810288924490272 * (t - 1.21712927295533244) * (t - 0.61620406037800089) * t2,
        47.37952196281928122 * (t - 1.203071208372362603) * (t - 0.658047292653547382) * t2,
        -34.87065786149660974 * (t - 1.2) * (t - 0.666666666666666667) * t2,
        2.5 * (t - 1.0) * (t - 0.6) * t2,
    ]


class BatchResult(NamedTuple):
    """Output of :func:`tsit5_batch` / :func:`tsit5_queue` (leading patient axis ``N``)."""

    ys: Float[Array, "N t n"]  # states at the save times
    status: Int[Array, " N"]  # 0 reached t1, 1 max_steps reached (or stalled on a non-finite state)
    accepted: Int[Array, " N"]
    rejected: Int[Array, " N"]
    iterations: Int[Array, ""]  # loop iterations (each steps every lane): lane utilisation = sum(steps) / (L it)


class _Carry(NamedTuple):
    # one entry per lane (L lanes)
    t: Array  # (L,) current time
    y: Array  # (n, L), state-major
    f: Array  # (n, L) f(t, y) (FSAL)
    h: Array  # (L,) proposed next step
    inv1: Array  # (L,) previous accepted step's inverse scaled error (PID memory)
    inv2: Array  # (L,) the one before
    k: Array  # (L,) index of the lane's next save time
    acc: Array  # (L,)
    rej: Array  # (L,)
    running: Array  # (L,) bool
    idx: Array  # (L,) the lane's patient (N: none)
    args: Array  # (m, L) the lanes' patient arguments, packed state-major (one array: few loop operands)
    ts: Array  # (L, t) the lane's save times
    # the queue and the results, one entry per patient (N patients)
    nxt: Array  # () next patient in the queue
    ys: Array  # (N, t, n)
    acc_out: Array  # (N,)
    rej_out: Array  # (N,)
    status_out: Array  # (N,)
    it: Array  # () loop iterations


def tsit5_queue(
    rhs: Callable[[Array, Array, Any], Array],
    y0: Float[Array, "N n"],
    t0: float,
    ts: Float[Array, "N t"],
    jumps: Float[Array, " j"],
    *,
    args: Any = (),
    lanes: int | None = None,
    refill_min: int = 1,
    rtol: float,
    atol: float,
    dt0: float,
    max_steps: int,
    pcoeff: float = 0.0,
    icoeff: float = 1.0,
    dcoeff: float = 0.0,
) -> BatchResult:
    """Integrate ``dy/dt = rhs(t, y, args_i)`` for ``N`` patients from ``t0`` to each ``ts[i, -1]``, saving at
    ``ts``, stepping ``lanes`` patients side by side; a lane whose patient is done takes the next one.

    Args:
        rhs: right-hand side of ``L`` lanes on the state-major layout, ``(t (L,), y (n, L), args) -> (n, L)``,
            ``args`` a pytree of the lanes' patient arguments (leading axis ``L``); column ``j`` must depend on
            column ``j`` (and ``args`` row ``j``) only, e.g. ``jax.vmap(f, in_axes=(0, 1, 0), out_axes=1)``.
        y0: initial states at ``t0``, one row per patient.
        t0: common start time.
        ts: save times per patient, non-decreasing; the last one is the end time.
        jumps: times where ``rhs`` may be discontinuous (any order; outside ``(t0, t1]`` ignored).
        args: per-patient arguments of ``rhs`` (pytree of arrays with leading axis ``N``).
        lanes: patients stepped side by side (default and at most ``N``: one lock-step batch, no refill).
        refill_min: refill when at least this many lanes are free (1: at once; larger values batch the refills,
            each of which costs one right-hand-side evaluation of all lanes, at the price of idle lanes).
        rtol, atol: tolerances of the scaled RMS error norm.
        dt0: first trial step.
        max_steps: limit on accepted + rejected steps per patient.
        pcoeff, icoeff, dcoeff: PID coefficients (diffrax convention; 0, 1, 0 = integral controller).

    Returns:
        :class:`BatchResult`.
    """
    dtype = y0.dtype
    n_pat, n = y0.shape
    n_lanes = n_pat if lanes is None else max(1, min(int(lanes), n_pat))
    refill_min = max(1, min(int(refill_min), n_lanes))
    n_save = ts.shape[1]
    inf = jnp.asarray(jnp.inf, dtype)
    jumps = jnp.sort(jnp.concatenate([jnp.asarray(jumps, dtype).reshape(-1), inf[None]]))  # + inf: never empty
    c1 = (pcoeff + icoeff + dcoeff) / _ERROR_ORDER
    c2 = -(pcoeff + 2.0 * dcoeff) / _ERROR_ORDER
    c3 = dcoeff / _ERROR_ORDER
    lane_rows = jnp.arange(n_lanes)
    # the per-patient arguments packed into one (N, m) array: one loop operand and one gather per refill instead
    # of one per argument (~100 for the patient model); the lanes' copy is state-major (m, L), one row per argument
    leaves, treedef = jax.tree.flatten(args)
    shapes = [leaf.shape[1:] for leaf in leaves]
    sizes = [int(np.prod(sh, dtype=int)) for sh in shapes]
    packed = jnp.concatenate(
        [jnp.zeros((n_pat, 0), dtype)] + [leaf.reshape(n_pat, -1).astype(dtype) for leaf in leaves], axis=1
    )
    offsets = np.cumsum([0, *sizes])

    def unpack(a: Array) -> Any:
        lane = [
            a[o : o + sz].T.reshape((-1, *sh)).astype(leaf.dtype)
            for o, sz, sh, leaf in zip(offsets[:-1], sizes, shapes, leaves, strict=True)
        ]
        return jax.tree.unflatten(treedef, lane)

    def rhs_packed(t: Array, y: Array, a: Array) -> Array:
        return rhs(t, y, unpack(a))

    # save times at t0 (before any step): the initial state
    at_t0 = ts <= t0
    ys = jnp.where(at_t0[:, :, None], y0[:, None, :], jnp.zeros((), dtype))
    k0 = jnp.sum(at_t0, axis=1).astype(jnp.int32)

    def save(k, ys, ts_l, idx, t_lo, t_hi, dt, y, ks, mask):
        """Dense-output saves of every save time in (t_lo, t_hi] of the lanes in ``mask``."""

        def need(k):
            tk = ts_l[lane_rows, jnp.minimum(k, n_save - 1)]
            return mask & (k < n_save) & (tk <= t_hi)

        def body(c):
            k, ys = c
            nd = need(k)
            kk = jnp.minimum(k, n_save - 1)
            theta = (ts_l[lane_rows, kk] - t_lo) / jnp.where(dt > 0, dt, 1.0)
            w = _dense_weights(theta)
            yi = y + sum(wi[None] * (dt[None] * ki) for wi, ki in zip(w, ks, strict=True))
            ys = ys.at[jnp.where(nd, idx, n_pat), kk].set(yi.T, mode="drop")
            return k + nd.astype(k.dtype), ys

        return jax.lax.while_loop(lambda c: jnp.any(need(c[0])), body, (k, ys))

    def load(c: _Carry, take: Array, idx: Array) -> _Carry:
        """Lanes in ``take`` start patient ``idx`` (a fresh evaluation at t0: the FSAL derivative)."""
        g = jnp.minimum(idx, n_pat - 1)
        lane_args = jnp.where(take[None], packed[g].T, c.args)
        t = jnp.where(take, jnp.asarray(t0, dtype), c.t)
        y = jnp.where(take[None], y0[g].T, c.y)
        ts_l = jnp.where(take[:, None], ts[g], c.ts)
        f = jnp.where(take[None], rhs_packed(t, y, lane_args), c.f)
        zero = jnp.zeros((), jnp.int32)
        return c._replace(
            t=t,
            y=y,
            f=f,
            h=jnp.where(take, jnp.asarray(dt0, dtype), c.h),
            inv1=jnp.where(take, 1.0, c.inv1),
            inv2=jnp.where(take, 1.0, c.inv2),
            k=jnp.where(take, k0[g], c.k),
            acc=jnp.where(take, zero, c.acc),
            rej=jnp.where(take, zero, c.rej),
            running=jnp.where(take, ts_l[:, -1] > t0, c.running),
            idx=idx,
            args=lane_args,
            ts=ts_l,
        )

    def record(c: _Carry, done: Array) -> _Carry:
        """Step counts and status of the patients of the lanes in ``done`` (each patient written once)."""
        rows = jnp.where(done, c.idx, n_pat)
        status = jnp.where(c.k >= n_save, 0, 1).astype(jnp.int32)
        return c._replace(
            acc_out=c.acc_out.at[rows].set(c.acc, mode="drop"),
            rej_out=c.rej_out.at[rows].set(c.rej, mode="drop"),
            status_out=c.status_out.at[rows].set(status, mode="drop"),
        )

    def refill(c: _Carry) -> _Carry:
        """Record the patients of the free lanes, then give those lanes the next patients of the queue."""
        free = ~c.running
        c = record(c, free)
        new = c.nxt + jnp.cumsum(free, dtype=jnp.int32) - 1
        take = free & (new < n_pat)
        idx = jnp.where(take, new, jnp.where(free, n_pat, c.idx)).astype(jnp.int32)
        c = load(c, take, idx)
        return c._replace(nxt=jnp.minimum(c.nxt + jnp.sum(free, dtype=jnp.int32), n_pat))

    def step(c: _Carry) -> _Carry:
        t, y = c.t, c.y
        t_end = c.ts[:, -1]
        nxt_jump = jnp.min(jnp.where(jumps[None, :] > t[:, None], jumps[None, :], inf), axis=1)
        t1 = jnp.minimum(t + c.h, t_end)
        hit = (t1 >= nxt_jump) & (nxt_jump <= t_end)
        t1 = jnp.where(hit, jnp.nextafter(nxt_jump, -inf), t1)
        dt = t1 - t
        ks = [c.f]
        for i in range(1, 7):
            yi = y + dt[None] * sum(a * kj for a, kj in zip(_A[i], ks, strict=True))
            ti = t1 if _C[i] == 1.0 else t + _C[i] * dt
            ks.append(rhs_packed(ti, yi, c.args))
        y1 = y + dt[None] * sum(bb * kj for bb, kj in zip(_B_SOL[:6], ks[:6], strict=True))
        err = dt[None] * sum(e * kj for e, kj in zip(_B_ERR, ks, strict=True))
        scale = atol + rtol * jnp.maximum(jnp.abs(y), jnp.abs(y1))
        sq = jnp.mean(jnp.square(err / scale), axis=0)
        finite = jnp.isfinite(sq) & jnp.all(jnp.isfinite(y1), axis=0)
        sq = jnp.where(finite, sq, inf)
        keep = (sq < 1.0) & c.running
        inv = jax.lax.rsqrt(sq)  # 1 / RMS norm (inf when the error is 0, 0 when not finite)
        factor = _SAFETY * inv**c1
        if c2 != 0.0:
            factor = factor * c.inv1**c2
        if c3 != 0.0:
            factor = factor * c.inv2**c3
        lo = jnp.where(keep, 1.0, _FACTORMIN)
        hi = jnp.where(keep, _FACTORMAX, _SAFETY)
        factor = jnp.clip(jnp.where(jnp.isnan(factor), lo, factor), lo, hi)
        h_new = jnp.where(c.running, dt * factor, c.h)
        inv_ok = jnp.where((inv == 0) | jnp.isinf(inv), 1.0, inv)

        # saves inside the accepted step (a save exactly at a jump is taken at the jump, from the left)
        k, ys = save(c.k, c.ys, c.ts, c.idx, t, jnp.where(hit, nxt_jump, t1), dt, y, ks, keep)
        jumped = keep & hit
        t_new = jnp.where(jumped, jnp.nextafter(nxt_jump, inf), t1)
        f_new = jax.lax.cond(
            jnp.any(jumped), lambda: jnp.where(jumped[None], rhs_packed(t_new, y1, c.args), ks[6]), lambda: ks[6]
        )
        acc = c.acc + keep.astype(jnp.int32)
        rej = c.rej + (c.running & ~keep).astype(jnp.int32)
        running = c.running & ~(keep & (t_new >= t_end)) & (acc + rej < max_steps)
        c = c._replace(
            t=jnp.where(keep, t_new, t),
            y=jnp.where(keep[None], y1, y),
            f=jnp.where(keep[None], f_new, c.f),
            h=h_new,
            inv1=jnp.where(keep, inv_ok, c.inv1),
            inv2=jnp.where(keep, c.inv1, c.inv2),
            k=k,
            ys=ys,
            acc=acc,
            rej=rej,
            running=running,
            it=c.it + 1,
        )
        return c

    def stepping(c: _Carry) -> Array:
        """Step on while patients run, until ``refill_min`` lanes are free (while the queue lasts)."""
        n_free = jnp.sum(~c.running, dtype=jnp.int32)
        return jnp.any(c.running) & ((n_free < refill_min) | (c.nxt >= n_pat))

    # the first n_lanes patients start in the lanes
    first = jnp.arange(n_lanes, dtype=jnp.int32)
    zl = jnp.zeros((n_lanes,), dtype)
    lane0 = _Carry(
        t=zl,
        y=jnp.zeros((n, n_lanes), dtype),
        f=jnp.zeros((n, n_lanes), dtype),
        h=zl,
        inv1=zl,
        inv2=zl,
        k=jnp.zeros((n_lanes,), jnp.int32),
        acc=jnp.zeros((n_lanes,), jnp.int32),
        rej=jnp.zeros((n_lanes,), jnp.int32),
        running=jnp.zeros((n_lanes,), bool),
        idx=first,
        args=packed[:n_lanes].T,
        ts=ts[:n_lanes],
        nxt=jnp.asarray(n_lanes, jnp.int32),
        ys=ys,
        acc_out=jnp.zeros((n_pat,), jnp.int32),
        rej_out=jnp.zeros((n_pat,), jnp.int32),
        status_out=jnp.ones((n_pat,), jnp.int32),
        it=jnp.zeros((), jnp.int32),
    )
    carry = load(lane0, jnp.ones((n_lanes,), bool), first)
    # the refill is its own phase of an outer loop, not a lax.cond inside the step loop: a cond, even one never
    # taken, made every iteration ~40% dearer (XLA copies the operands of a conditional)
    out = jax.lax.while_loop(
        lambda c: jnp.any(c.running) | (c.nxt < n_pat), lambda c: refill(jax.lax.while_loop(stepping, step, c)), carry
    )
    return BatchResult(out.ys, out.status_out, out.acc_out, out.rej_out, out.it)


def tsit5_batch(
    rhs: Callable[[Array, Array], Array],
    y0: Float[Array, "b n"],
    t0: float,
    ts: Float[Array, "b t"],
    jumps: Float[Array, " j"],
    *,
    rtol: float,
    atol: float,
    dt0: float,
    max_steps: int,
    pcoeff: float = 0.0,
    icoeff: float = 1.0,
    dcoeff: float = 0.0,
) -> BatchResult:
    """All ``b`` patients in lock-step (:func:`tsit5_queue` with one lane per patient), ``rhs(t (b,), y (n, b))``
    on the state-major layout."""
    return tsit5_queue(
        lambda t, y, _: rhs(t, y),
        y0,
        t0,
        ts,
        jumps,
        rtol=rtol,
        atol=atol,
        dt0=dt0,
        max_steps=max_steps,
        pcoeff=pcoeff,
        icoeff=icoeff,
        dcoeff=dcoeff,
    )
