"""Damped Newton maximisation of a smooth log-posterior with a fixed iteration count (jit- and vmap-able).

Each iteration takes the Newton direction and the largest step in ``1, 1/2, ..., 2^-(n_halvings-1)`` that raises
the objective (all candidates are evaluated at once, no data-dependent loop), so it converges for concave
objectives from any finite start where the objective is finite. Used by the Laplace approximations.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float

__all__ = ["NewtonResult", "newton_maximize"]


class NewtonResult(NamedTuple):
    """Mode, Hessian of the objective at the mode, objective value and convergence flag."""

    mode: Float[Array, " p"]
    hessian: Float[Array, "p p"]
    value: Float[Array, ""]
    converged: Bool[Array, ""]


def newton_maximize(fun, x0: Float[Array, " p"], *, n_iter: int = 30, n_halvings: int = 12, gtol: float = 1e-8):
    """Maximise ``fun`` (scalar function of a vector) by damped Newton steps.

    Args:
        fun: objective, ``Float[Array, "p"] -> Float[Array, ""]``; return ``-inf`` or ``nan`` outside its domain.
        x0: start.
        n_iter: fixed number of Newton iterations (``lax.fori_loop``).
        n_halvings: number of step sizes tried per iteration.
        gtol: ``converged`` when the largest absolute gradient is below ``gtol * max(1, |fun|)`` (at least
            ``sqrt(eps)`` of the dtype).

    Returns:
        `NewtonResult`.
    """
    grad = jax.grad(fun)
    hess = jax.hessian(fun)
    steps = 0.5 ** jnp.arange(n_halvings).astype(x0.dtype)
    eye = jnp.eye(x0.shape[0], dtype=x0.dtype)

    def body(_, carry):
        x, fx = carry
        g, h = grad(x), hess(x)
        # a negative-definite Hessian gives an ascent direction; if not (non-concave region), fall back
        # towards gradient ascent by shifting the Hessian
        shift = jnp.maximum(jnp.max(jnp.linalg.eigvalsh(h)), 0.0) * 1.01 + 1e-12
        direction = -jnp.linalg.solve(h - shift * eye, g)
        cand = x[None, :] + steps[:, None] * direction[None, :]
        fc = jax.vmap(fun)(cand)
        fc = jnp.where(jnp.isfinite(fc), fc, -jnp.inf)
        better = fc >= fx
        idx = jnp.argmax(better)  # first (largest) step that does not decrease the objective
        ok = better[idx]
        return jnp.where(ok, cand[idx], x), jnp.where(ok, fc[idx], fx)

    x, fx = jax.lax.fori_loop(0, n_iter, body, (x0, fun(x0)))
    g = grad(x)
    tol = max(gtol, float(jnp.finfo(x0.dtype).eps) ** 0.5)  # float32: about 3e-4
    return NewtonResult(
        x, hess(x), fx, jnp.all(jnp.isfinite(g)) & (jnp.max(jnp.abs(g)) < tol * jnp.maximum(1.0, jnp.abs(fx)))
    )
