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
* Each patient's step control is independent; in the batch all patients iterate in lock-step until the last one
  reaches ``t1`` (finished patients are masked). Results do not depend on the batch composition.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import diffrax
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int

__all__ = ["BatchResult", "tsit5_batch"]

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
    """Output of :func:`tsit5_batch` (leading batch axis ``b``)."""

    ys: Float[Array, "b t n"]  # states at the save times
    status: Int[Array, " b"]  # 0 reached t1, 1 max_steps reached (or stalled on a non-finite state)
    accepted: Int[Array, " b"]
    rejected: Int[Array, " b"]


class _Carry(NamedTuple):
    t: Array  # (b,) current time
    y: Array  # (b, n)
    f: Array  # (b, n) f(t, y) (FSAL)
    h: Array  # (b,) proposed next step
    inv1: Array  # (b,) previous accepted step's inverse scaled error (PID memory)
    inv2: Array  # (b,) the one before
    k: Array  # (b,) index of the next save time
    ys: Array  # (b, t, n)
    acc: Array
    rej: Array
    running: Array  # (b,) bool


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
    """Integrate ``dy/dt = rhs(t, y)`` for a batch from ``t0`` to each row's ``ts[:, -1]``, saving at ``ts``.

    Args:
        rhs: batched right-hand side ``(t (b,), y (b, n)) -> (b, n)``; row ``i`` must depend on row ``i`` only.
        y0: initial states at ``t0``.
        t0: common start time.
        ts: save times per row, non-decreasing, ``>= t0``; the last one is the end time.
        jumps: times where ``rhs`` may be discontinuous (any order; outside ``(t0, t1]`` ignored).
        rtol, atol: tolerances of the scaled RMS error norm.
        dt0: first trial step.
        max_steps: limit on accepted + rejected steps per row.
        pcoeff, icoeff, dcoeff: PID coefficients (diffrax convention; 0, 1, 0 = integral controller).

    Returns:
        :class:`BatchResult`.
    """
    dtype = y0.dtype
    b, n = y0.shape
    n_save = ts.shape[1]
    t_end = ts[:, -1]
    jumps = jnp.sort(jnp.asarray(jumps, dtype).reshape(-1))
    inf = jnp.asarray(jnp.inf, dtype)
    c1 = (pcoeff + icoeff + dcoeff) / _ERROR_ORDER
    c2 = -(pcoeff + 2.0 * dcoeff) / _ERROR_ORDER
    c3 = dcoeff / _ERROR_ORDER
    rows = jnp.arange(b)

    def save(carry_k, carry_ys, t_lo, t_hi, dt, y, ks, mask):
        """Dense-output saves of every save time in (t_lo, t_hi] of the rows in ``mask``."""

        def need(k):
            tk = ts[rows, jnp.minimum(k, n_save - 1)]
            return mask & (k < n_save) & (tk <= t_hi)

        def body(c):
            k, ys = c
            nd = need(k)
            kk = jnp.minimum(k, n_save - 1)
            theta = (ts[rows, kk] - t_lo) / jnp.where(dt > 0, dt, 1.0)
            w = _dense_weights(theta)
            yi = y + sum(wi[:, None] * (dt[:, None] * ki) for wi, ki in zip(w, ks, strict=True))
            ys = ys.at[rows, kk].set(jnp.where(nd[:, None], yi, ys[rows, kk]))
            return k + nd.astype(k.dtype), ys

        return jax.lax.while_loop(lambda c: jnp.any(need(c[0])), body, (carry_k, carry_ys))

    # save times at t0 (before any step): the initial state
    ys = jnp.zeros((b, n_save, n), dtype)
    k = jnp.zeros((b,), jnp.int32)
    at_t0 = ts <= t0
    ys = jnp.where(at_t0[:, :, None], y0[:, None, :], ys)
    k = jnp.sum(at_t0, axis=1).astype(jnp.int32)
    tt0 = jnp.full((b,), t0, dtype)
    one = jnp.ones((b,), dtype)
    carry = _Carry(
        t=tt0,
        y=y0,
        f=rhs(tt0, y0),
        h=jnp.full((b,), dt0, dtype),
        inv1=one,
        inv2=one,
        k=k,
        ys=ys,
        acc=jnp.zeros((b,), jnp.int32),
        rej=jnp.zeros((b,), jnp.int32),
        running=t_end > t0,
    )

    def step(c: _Carry) -> _Carry:
        t, y = c.t, c.y
        nxt_jump = jnp.min(jnp.where(jumps[None, :] > t[:, None], jumps[None, :], inf), axis=1)
        t1 = jnp.minimum(t + c.h, t_end)
        hit = (t1 >= nxt_jump) & (nxt_jump <= t_end)
        t1 = jnp.where(hit, jnp.nextafter(nxt_jump, -inf), t1)
        dt = t1 - t
        ks = [c.f]
        for i in range(1, 7):
            yi = y + dt[:, None] * sum(a * kj for a, kj in zip(_A[i], ks, strict=True))
            ti = t1 if _C[i] == 1.0 else t + _C[i] * dt
            ks.append(rhs(ti, yi))
        y1 = y + dt[:, None] * sum(bb * kj for bb, kj in zip(_B_SOL[:6], ks[:6], strict=True))
        err = dt[:, None] * sum(e * kj for e, kj in zip(_B_ERR, ks, strict=True))
        scale = atol + rtol * jnp.maximum(jnp.abs(y), jnp.abs(y1))
        sq = jnp.mean(jnp.square(err / scale), axis=1)
        finite = jnp.isfinite(sq) & jnp.all(jnp.isfinite(y1), axis=1)
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
        k, ys = save(c.k, c.ys, t, jnp.where(hit, nxt_jump, t1), dt, y, ks, keep)
        jumped = keep & hit
        t_new = jnp.where(jumped, jnp.nextafter(nxt_jump, inf), t1)
        f_new = jax.lax.cond(jnp.any(jumped), lambda: jnp.where(jumped[:, None], rhs(t_new, y1), ks[6]), lambda: ks[6])
        acc = c.acc + keep.astype(jnp.int32)
        rej = c.rej + (c.running & ~keep).astype(jnp.int32)
        running = c.running & ~(keep & (t_new >= t_end)) & (acc + rej < max_steps)
        return _Carry(
            t=jnp.where(keep, t_new, t),
            y=jnp.where(keep[:, None], y1, y),
            f=jnp.where(keep[:, None], f_new, c.f),
            h=h_new,
            inv1=jnp.where(keep, inv_ok, c.inv1),
            inv2=jnp.where(keep, c.inv1, c.inv2),
            k=k,
            ys=ys,
            acc=acc,
            rej=rej,
            running=running,
        )

    out = jax.lax.while_loop(lambda c: jnp.any(c.running), step, carry)
    status = jnp.where(out.k >= n_save, 0, 1).astype(jnp.int32)
    return BatchResult(out.ys, status, out.acc, out.rej)
