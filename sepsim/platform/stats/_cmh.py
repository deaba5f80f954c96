"""Cochran–Mantel–Haenszel test of a common odds ratio across strata, vectorised in JAX.

For stratum ``k`` with treatment events ``x_k``, arm sizes ``n_ak``, ``n_bk``, total events ``m_k`` and
``N_k = n_ak + n_bk``: ``E[x_k] = n_bk m_k / N_k`` and
``V_k = n_ak n_bk m_k (N_k - m_k) / (N_k^2 (N_k - 1))`` (hypergeometric, conditional on the margins);
``Z = sum_k (x_k - E[x_k]) / sqrt(sum_k V_k)`` and ``CMH = Z^2`` (no continuity correction).
Source: Mantel & Haenszel (1959, J Natl Cancer Inst 22:719); Agresti (2013), sec. 6.4.2.
"""

from __future__ import annotations

import jax.numpy as jnp
from jaxtyping import ArrayLike

from ._common import TestResult, as_float, z_p_value

__all__ = ["cochran_mantel_haenszel"]


def cochran_mantel_haenszel(
    events_a: ArrayLike,
    n_a: ArrayLike,
    events_b: ArrayLike,
    n_b: ArrayLike,
    *,
    axis: int = -1,
    alternative: str = "greater",
) -> TestResult:
    """Signed Cochran–Mantel–Haenszel statistic over strata on ``axis``.

    Strata with fewer than 2 patients or a zero margin add nothing. ``Z = 0`` when no stratum is informative.

    Args:
        events_a, n_a: control events and patients per stratum (strata on ``axis``).
        events_b, n_b: treatment events and patients per stratum.
        axis: the strata axis.
        alternative: ``"greater"`` (treatment has more events), ``"less"`` or ``"two-sided"`` (then the p-value
            is that of the chi-square ``Z^2`` with 1 degree of freedom).

    Returns:
        `TestResult` with the signed ``Z`` (``CMH = Z**2``) and its p-value.
    """
    ea, na, eb, nb = jnp.broadcast_arrays(*(as_float(x) for x in (events_a, n_a, events_b, n_b)))
    n = na + nb
    m = ea + eb
    ok = n > 1.0
    n_ = jnp.where(ok, n, 2.0)
    expected = jnp.where(ok, nb * m / n_, eb)
    var = jnp.where(ok, na * nb * m * (n_ - m) / (n_ * n_ * (n_ - 1.0)), 0.0)
    num = jnp.sum(eb - expected, axis=axis)
    v = jnp.sum(var, axis=axis)
    good = v > 0
    z = jnp.where(good, num / jnp.sqrt(jnp.where(good, v, 1.0)), 0.0)
    return TestResult(z, z_p_value(z, alternative))
