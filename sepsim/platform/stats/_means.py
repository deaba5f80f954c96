"""z test for a difference of means (pooled or unpooled variance), vectorised in JAX.

``z = (mean_b - mean_a) / se`` with ``se^2 = s_p^2 (1/n_a + 1/n_b)`` (pooled,
``s_p^2 = ((n_a - 1) s_a^2 + (n_b - 1) s_b^2) / (n_a + n_b - 2)``) or ``se^2 = s_a^2/n_a + s_b^2/n_b`` (unpooled,
Welch). The statistic equals Student's / Welch's t; the p-value is from the normal reference distribution
(large-sample z test). Source: Armitage, Berry & Matthews (2002), "Statistical Methods in Medical Research", 4.3.
"""

from __future__ import annotations

import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float

from ._common import TestResult, as_float, z_p_value

__all__ = ["mean_difference_z", "mean_and_variance"]


def mean_and_variance(
    total: ArrayLike, total_sq: ArrayLike, n: ArrayLike
) -> tuple[Float[Array, "..."], Float[Array, "..."]]:
    """Sample mean and unbiased variance (ddof = 1) from the running sums ``sum y``, ``sum y^2`` and ``n``.

    The variance is 0 where ``n < 2``.
    """
    s, s2, n = (as_float(x) for x in (total, total_sq, n))
    n1 = jnp.where(n > 0, n, 1.0)
    mean = s / n1
    var = jnp.where(n > 1, (s2 - n1 * mean * mean) / jnp.where(n > 1, n - 1.0, 1.0), 0.0)
    return mean, jnp.maximum(var, 0.0)


def mean_difference_z(
    mean_a: ArrayLike,
    var_a: ArrayLike,
    n_a: ArrayLike,
    mean_b: ArrayLike,
    var_b: ArrayLike,
    n_b: ArrayLike,
    *,
    pooled: bool = True,
    alternative: str = "greater",
) -> TestResult:
    """z test of ``mean_b - mean_a`` from arm means, sample variances (ddof = 1) and sizes.

    Args:
        mean_a, var_a, n_a: control mean, unbiased variance and size (broadcastable).
        mean_b, var_b, n_b: treatment mean, variance and size.
        pooled: pooled variance (Student) or not (Welch).
        alternative: ``"greater"`` (H1: ``mu_b > mu_a``), ``"less"`` or ``"two-sided"``.

    Returns:
        `TestResult` with z (0 where the standard error is 0) and the normal p-value.
    """
    ma, va, na, mb, vb, nb = (as_float(x) for x in (mean_a, var_a, n_a, mean_b, var_b, n_b))
    na_, nb_ = jnp.where(na > 0, na, 1.0), jnp.where(nb > 0, nb, 1.0)
    if pooled:
        dof = na + nb - 2.0
        sp2 = ((na - 1.0) * va + (nb - 1.0) * vb) / jnp.where(dof > 0, dof, 1.0)
        se2 = sp2 * (1.0 / na_ + 1.0 / nb_)
    else:
        se2 = va / na_ + vb / nb_
    good = (se2 > 0) & (na > 0) & (nb > 0)
    z = jnp.where(good, (mb - ma) / jnp.sqrt(jnp.where(good, se2, 1.0)), 0.0)
    return TestResult(z, z_p_value(z, alternative))
