"""Fisher's exact test for 2x2 tables in JAX, summing the hypergeometric pmf over a fixed-size support.

Conditional on both margins, the number of treatment-arm events ``X`` is hypergeometric. The pmf is evaluated with
``gammaln`` on the support ``0, ..., n_max`` (masked to the feasible range), so the function is jit-able and
vectorised over any batch of tables. Two-sided p-values sum the probabilities of all tables no more likely than the
observed one (relative tolerance 1e-7, as R's ``fisher.test``), matching ``scipy.stats.fisher_exact``.
Source: Agresti (2013), "Categorical Data Analysis", 3rd ed., sec. 3.5.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax.scipy.special import gammaln
from jaxtyping import Array, ArrayLike, Float

from ..._errors import ConfigError
from ._common import TestResult, as_float, check_alternative

__all__ = ["fisher_exact_2x2", "hypergeometric_log_pmf"]

_REL_TOL = 1e-7  # R fisher.test: tables with d <= d_obs * (1 + 1e-7) count as "as extreme"


def _log_choose(n, k):
    return gammaln(n + 1.0) - gammaln(k + 1.0) - gammaln(n - k + 1.0)


def hypergeometric_log_pmf(
    x: ArrayLike, events: ArrayLike, n_a: ArrayLike, n_b: ArrayLike
) -> tuple[Float[Array, "..."], Array]:
    """Log-probability that the treatment arm holds ``x`` of ``events`` events, given arm sizes ``n_a``, ``n_b``.

    Returns:
        ``(log_pmf, feasible)``: the log pmf (``-inf`` outside the support) and the support mask.
    """
    x, m, na, nb = (as_float(v) for v in (x, events, n_a, n_b))
    feasible = (x >= jnp.maximum(0.0, m - na)) & (x <= jnp.minimum(nb, m))
    xs = jnp.clip(x, 0.0, jnp.minimum(nb, m))
    ys = jnp.clip(m - xs, 0.0, na)
    logp = _log_choose(nb, xs) + _log_choose(na, ys) - _log_choose(na + nb, m)
    return jnp.where(feasible, logp, -jnp.inf), feasible


@functools.partial(jax.jit, static_argnames=("n_max", "alternative"))
def _fisher(ea, na, eb, nb, n_max: int, alternative: str):
    m = ea + eb
    shape = jnp.broadcast_shapes(ea.shape, na.shape, eb.shape, nb.shape)
    support = jnp.arange(n_max + 1).astype(ea.dtype).reshape((1,) * len(shape) + (-1,))  # explicit broadcasting
    ea, na, eb, nb, m = (jnp.broadcast_to(v, shape)[..., None] for v in (ea, na, eb, nb, m))
    logp, feasible = hypergeometric_log_pmf(support, m, na, nb)
    p = jnp.where(feasible, jnp.exp(logp), 0.0)
    if alternative == "greater":
        sel = support >= eb
    elif alternative == "less":
        sel = support <= eb
    else:
        log_obs, _ = hypergeometric_log_pmf(eb, m, na, nb)
        sel = logp <= log_obs + jnp.log1p(_REL_TOL)
    pval = jnp.minimum(jnp.sum(jnp.where(sel & feasible, p, 0.0), axis=-1), 1.0)
    # a zero margin leaves one possible table: p = 1 (as scipy)
    degenerate = (m[..., 0] == 0) | (m[..., 0] == na[..., 0] + nb[..., 0]) | (na[..., 0] == 0) | (nb[..., 0] == 0)
    return jnp.where(nb[..., 0] > n_max, jnp.nan, jnp.where(degenerate, 1.0, pval))


def fisher_exact_2x2(
    events_a: ArrayLike,
    n_a: ArrayLike,
    events_b: ArrayLike,
    n_b: ArrayLike,
    *,
    n_max: int,
    alternative: str = "greater",
) -> TestResult:
    """Fisher's exact test comparing treatment ``b`` with control ``a``.

    Args:
        events_a, n_a: events and patients in the control arm (integer-valued, any broadcastable shape).
        events_b, n_b: events and patients in the treatment arm.
        n_max: static upper bound on ``n_b``; sets the summed support ``0..n_max`` (the arm's maximum sample
            size is a good choice). Tables with ``n_b > n_max`` get a NaN p-value.
        alternative: ``"greater"`` (H1: the treatment's odds of an event are higher; P(X >= x_obs)), ``"less"``
            (P(X <= x_obs)) or ``"two-sided"`` (sum of all tables at most as probable as the observed one).

    Returns:
        `TestResult` with the statistic = treatment events ``x_obs`` (the conditional statistic) and the exact
        p-value. Equals ``scipy.stats.fisher_exact([[e_b, n_b - e_b], [e_a, n_a - e_a]], alternative)``.
    """
    check_alternative(alternative)
    if not isinstance(n_max, int) or n_max < 1:
        raise ConfigError("n_max", f"must be a positive int, got {n_max!r}")
    ea, na, eb, nb = (as_float(x) for x in (events_a, n_a, events_b, n_b))
    return TestResult(
        jnp.broadcast_to(eb, jnp.broadcast_shapes(ea.shape, na.shape, eb.shape, nb.shape)),
        _fisher(ea, na, eb, nb, n_max, alternative),
    )
