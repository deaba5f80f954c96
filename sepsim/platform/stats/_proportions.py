"""Two-proportion z test (pooled) and Pearson's chi-square for 2x2 tables, vectorised in JAX.

Arm ``a`` is the control, arm ``b`` the treatment; inputs broadcast against each other, so the functions work on
arrays of trials and looks directly and under ``jit``/``vmap``. Source: Agresti (2013), "Categorical Data
Analysis", 3rd ed., sec. 3.2 (z for two proportions, Pearson X^2 = z^2 for a 2x2 table).
"""

from __future__ import annotations

import jax.numpy as jnp
from jax.scipy.special import erfc
from jaxtyping import ArrayLike

from ._common import TestResult, as_float, z_p_value

__all__ = ["two_proportion_z", "chi_square_2x2"]


def two_proportion_z(
    events_a: ArrayLike,
    n_a: ArrayLike,
    events_b: ArrayLike,
    n_b: ArrayLike,
    *,
    alternative: str = "greater",
) -> TestResult:
    """Pooled two-proportion z test of ``p_b`` against ``p_a``.

    ``z = (p_b - p_a) / sqrt(p (1 - p) (1/n_a + 1/n_b))`` with the pooled proportion ``p``; ``z = 0`` where the
    pooled variance is 0 (no events or all events) or an arm is empty.

    Args:
        events_a, n_a: events and patients in the control arm (any broadcastable shape).
        events_b, n_b: events and patients in the treatment arm.
        alternative: ``"greater"`` (H1: ``p_b > p_a``), ``"less"`` or ``"two-sided"``.

    Returns:
        `TestResult` with the z statistic and its normal p-value.
    """
    ea, na, eb, nb = (as_float(x) for x in (events_a, n_a, events_b, n_b))
    ok = (na > 0) & (nb > 0)
    na_, nb_ = jnp.where(ok, na, 1.0), jnp.where(ok, nb, 1.0)
    p = (ea + eb) / (na_ + nb_)
    var = p * (1.0 - p) * (1.0 / na_ + 1.0 / nb_)
    good = ok & (var > 0)
    z = jnp.where(good, (eb / nb_ - ea / na_) / jnp.sqrt(jnp.where(good, var, 1.0)), 0.0)
    return TestResult(z, z_p_value(z, alternative))


def chi_square_2x2(events_a: ArrayLike, n_a: ArrayLike, events_b: ArrayLike, n_b: ArrayLike) -> TestResult:
    """Pearson's chi-square for the 2x2 table (arm x event), no continuity correction, 1 degree of freedom.

    Equals ``scipy.stats.chi2_contingency(table, correction=False)`` and the square of the pooled z.

    Returns:
        `TestResult` with ``X^2 = sum (O - E)^2 / E`` and its upper-tail chi-square(1) p-value (two-sided).
    """
    ea, na, eb, nb = (as_float(x) for x in (events_a, n_a, events_b, n_b))
    n = na + nb
    m1 = ea + eb
    m0 = n - m1
    obs = jnp.stack([ea, na - ea, eb, nb - eb])
    ok_n = n > 0
    n_ = jnp.where(ok_n, n, 1.0)
    exp = jnp.stack([na * m1, na * m0, nb * m1, nb * m0]) / n_[None, ...]  # explicit broadcast over the 4 cells
    pos = exp > 0
    x2 = jnp.sum(jnp.where(pos, (obs - exp) ** 2 / jnp.where(pos, exp, 1.0), 0.0), axis=0)
    x2 = jnp.where(ok_n & jnp.all(pos, axis=0), x2, 0.0)
    return TestResult(x2, erfc(jnp.sqrt(x2 / 2.0)))
