"""Error-spending efficacy boundaries at the *observed* information fractions, computed inside each trial.

With ``analysis.information: observed`` each comparison (arm vs control) spends its share of ``alpha`` by a
Lan–DeMets / Hwang–Shih–DeCani spending function at its own information fraction ``t_k = I_k / I_max``, where
``I_k = 1 / (1/n_arm + 1/n_control)`` (patients with outcomes at look ``k``; the concurrent controls when they
are used) and ``I_max`` is the planned final information (``look_n[-1]`` patients shared by the fixed ratio among
the arms). At the last look ``t = 1`` (all remaining alpha is spent). The boundary ``b_k`` solves
``P(Z_1 < b_1, ..., Z_{k-1} < b_{k-1}, Z_k >= b_k) = alpha(t_k) - alpha(t_{k-1})`` under the canonical joint
normal distribution (``corr(Z_i, Z_j) = sqrt(t_i / t_j)``; Jennison & Turnbull 2000, ch. 7 and 19): the density of
``Z_{k-1}`` on the continuation region is carried on a grid anchored at the boundary (Simpson's rule, the
Armitage–McPherson–Rowe recursion), the crossing probability is a sum of normal tail probabilities, and ``b_k``
is found by bisection. A look that adds less than ``MIN_STEP`` of information spends nothing (``b = inf``).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.scipy.special import ndtr, ndtri
from jaxtyping import Array, Bool, Float

__all__ = ["SpendState", "init_spend_state", "spend_bounds", "spent_alpha", "observed_fractions", "N_GRID", "MIN_STEP"]

N_GRID = 161  # grid points (odd, for Simpson's rule)
SPAN = 10.0  # the grid covers [upper - SPAN, upper] on the z scale
Z_CAP = 8.0  # upper end of the grid when nothing was spent (b = inf)
MIN_STEP = 0.01  # smaller information increments spend nothing (the grid would not resolve the kernel)
_BISECT = 60


class SpendState(NamedTuple):
    """Per comparison: previous information fraction, alpha spent so far, and the sub-density of the previous
    z statistic on the continuation region (on ``grid``)."""

    t_prev: Float[Array, " arm"]
    spent: Float[Array, " arm"]
    grid: Float[Array, "arm grid"]
    dens: Float[Array, "arm grid"]


def init_spend_state(n_arms: int, dtype) -> SpendState:
    z = jnp.zeros((n_arms,), dtype=dtype)
    g = jnp.zeros((n_arms, N_GRID), dtype=dtype)
    return SpendState(t_prev=z, spent=z, grid=g, dens=g)


def spent_alpha(t: Float[Array, "..."], alpha: Float[Array, "..."], spending: str, gamma: float) -> Float[Array, "..."]:
    """Cumulative alpha spent at ``t`` (the functions of :func:`sepsim.platform.stats.alpha_spending`)."""
    t = jnp.clip(t, 0.0, 1.0)
    if spending == "ld_obf":
        zc = -ndtri(alpha / 2.0)
        return jnp.where(t > 0, 2.0 * (1.0 - ndtr(zc / jnp.sqrt(jnp.maximum(t, 1e-300)))), 0.0)
    if spending == "ld_pocock":
        return alpha * jnp.log1p((jnp.e - 1.0) * t)
    if gamma == 0:
        return alpha * t
    return alpha * jnp.expm1(-gamma * t) / jnp.expm1(-gamma)


def observed_fractions(
    n: Float[Array, " arm"], n_control: Float[Array, " arm"], i_max: Float[Array, " arm"]
) -> Float[Array, " arm"]:
    """``I / I_max`` with ``I = 1 / (1/n + 1/n_control)`` (0 while either group is empty)."""
    ok = (n > 0) & (n_control > 0)
    info = 1.0 / (1.0 / jnp.maximum(n, 1.0) + 1.0 / jnp.maximum(n_control, 1.0))
    return jnp.where(ok, info / i_max, 0.0)


def _simpson(n: int, h, dtype):
    w = jnp.where(jnp.arange(n) % 2 == 1, 4.0, 2.0).at[0].set(1.0).at[-1].set(1.0)
    return w.astype(dtype) * h / 3.0


def _one(state: tuple, t_now, alpha, final, spending: str, gamma: float):
    t_prev, spent, grid, dens = state
    dt = t_now.dtype
    t = jnp.where(final, 1.0, jnp.minimum(t_now, 1.0)).astype(dt)
    step = t - t_prev
    first = t_prev <= 0.0
    target = spent_alpha(t, alpha, spending, gamma) - spent
    go = (step >= MIN_STEP) | (final & (step > 0))
    go = go & (target > 0)
    h_prev = grid[1] - grid[0]
    w = _simpson(N_GRID, h_prev, dt) * dens  # weights of the previous sub-density
    sd = jnp.sqrt(jnp.maximum(step, 1e-12))
    sq_t, sq_p = jnp.sqrt(t), jnp.sqrt(t_prev)

    def crossing(b):
        later = jnp.sum(w * (1.0 - ndtr((b * sq_t - grid * sq_p) / sd)))
        return jnp.where(first, 1.0 - ndtr(b), later)

    def bisect(_, lohi):
        lo, hi = lohi
        mid = 0.5 * (lo + hi)
        too_low = crossing(mid) > target  # crossing falls as b rises
        return jnp.where(too_low, mid, lo), jnp.where(too_low, hi, mid)

    lo, hi = jax.lax.fori_loop(0, _BISECT, bisect, (jnp.asarray(-Z_CAP, dt), jnp.asarray(2.0 * Z_CAP, dt)))
    b = jnp.where(go, 0.5 * (lo + hi), jnp.inf)
    # the sub-density of Z_k on (-inf, b) (or (-inf, Z_CAP) when nothing is spent), on a grid ending there
    upper = jnp.minimum(b, Z_CAP)
    new_grid = upper - SPAN + (SPAN / (N_GRID - 1)) * jnp.arange(N_GRID, dtype=dt)
    kern = jnp.exp(-0.5 * ((new_grid[:, None] * sq_t - grid[None, :] * sq_p) / sd) ** 2) / (jnp.sqrt(2.0 * jnp.pi) * sd)
    later = sq_t * (kern @ w)
    first_d = jnp.exp(-0.5 * new_grid**2) / jnp.sqrt(2.0 * jnp.pi)
    new_dens = jnp.where(first, first_d, later)
    advance = go | (step >= MIN_STEP)  # information moved on, whether or not alpha was spent
    keep = ~advance
    out = (
        jnp.where(keep, t_prev, t),
        jnp.where(go, spent + crossing(b), spent),
        jnp.where(keep, grid, new_grid),
        jnp.where(keep, dens, new_dens),
    )
    return b, out


def spend_bounds(
    state: SpendState,
    t_now: Float[Array, " arm"],
    alpha: Float[Array, ""],
    final: Bool[Array, ""],
    *,
    spending: str,
    gamma: float,
) -> tuple[Float[Array, " arm"], SpendState]:
    """Each comparison's efficacy boundary at this look (``inf`` where nothing is spent) and the updated state.

    Args:
        state: from the previous look (:func:`init_spend_state` before the first).
        t_now: observed information fractions at this look.
        alpha: the comparison's one-sided alpha.
        final: whether this is the last look (``t`` set to 1).
        spending: "ld_obf", "ld_pocock" or "hsd" (with ``gamma``).
    """
    b, out = jax.vmap(lambda *s: _one(s[:4], s[4], alpha, final, spending, gamma))(*state, t_now)
    return b, SpendState(*out)
