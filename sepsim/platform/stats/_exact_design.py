"""Exact operating characteristics of a fixed two-arm design with a binary outcome.

The rejection probability is ``sum_{x_a, x_b} Bin(x_a; n_a, p_a) Bin(x_b; n_b, p_b) 1[test rejects at (x_a, x_b)]``,
summed over all ``(n_a + 1)(n_b + 1)`` outcomes, so type-I error (``p_a = p_b``) and power are exact: no
Monte-Carlo error. Tests: Fisher's exact (conditional hypergeometric; two-sided by the "probability no larger than
observed" rule of ``scipy.stats.fisher_exact`` / R ``fisher.test``), Pearson's chi-square without correction, and
the pooled z. Source: Agresti (2013), "Categorical Data Analysis", 3rd ed., sec. 3.5; Fleiss, Levin & Paik (2003),
"Statistical Methods for Rates and Proportions", ch. 4.
"""

from __future__ import annotations

import numpy as np
from jaxtyping import Float
from scipy import stats

from ..._errors import ConfigError

__all__ = ["exact_rejection_probability", "rejection_region"]

_TESTS = ("fisher", "chisq", "z")
_REL_TOL = 1e-7  # two-sided Fisher tie tolerance, as R fisher.test


def _fisher_p_values(n_a: int, n_b: int, direction: str, sided: int) -> np.ndarray:
    """Fisher p-values for every table: array ``(n_a + 1, n_b + 1)`` indexed by ``(x_a, x_b)``."""
    n = n_a + n_b
    xa, xb = np.meshgrid(np.arange(n_a + 1), np.arange(n_b + 1), indexing="ij")
    m = xa + xb
    if sided == 1:
        if direction == "greater":
            return stats.hypergeom.sf(xb - 1, n, n_b, m)
        return stats.hypergeom.cdf(xb, n, n_b, m)
    p = np.empty((n_a + 1, n_b + 1))
    for total in range(n + 1):
        lo, hi = max(0, total - n_a), min(n_b, total)
        support = np.arange(lo, hi + 1)
        pmf = stats.hypergeom.pmf(support, n, n_b, total)
        order = np.sort(pmf)
        cum = np.cumsum(order)
        idx = np.searchsorted(order, pmf * (1.0 + _REL_TOL), side="right") - 1
        p[total - support, support] = np.minimum(cum[idx], 1.0)
    return p


def _pooled_z(n_a: int, n_b: int) -> np.ndarray:
    xa, xb = np.meshgrid(np.arange(n_a + 1), np.arange(n_b + 1), indexing="ij")
    pool = (xa + xb) / (n_a + n_b)
    var = pool * (1.0 - pool) * (1.0 / n_a + 1.0 / n_b)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = (xb / n_b - xa / n_a) / np.sqrt(var)
    return np.where(var > 0, z, 0.0)


def rejection_region(
    n_control: int,
    n_treatment: int,
    *,
    test: str = "fisher",
    alpha: float = 0.025,
    sided: int = 1,
    direction: str = "greater",
) -> np.ndarray:
    """Boolean array ``(n_control + 1, n_treatment + 1)``: does the test reject at ``(x_control, x_treatment)``?

    Arguments as in `exact_rejection_probability`.
    """
    _validate(n_control, n_treatment, test, alpha, sided, direction)
    if test == "fisher":
        p = _fisher_p_values(n_control, n_treatment, direction, sided)
    else:  # Pearson X^2 = z^2 for a 2x2 table, so "chisq" and "z" share the statistic
        z = _pooled_z(n_control, n_treatment)
        if sided == 2:
            p = stats.chi2.sf(z * z, 1) if test == "chisq" else 2.0 * stats.norm.sf(np.abs(z))
        else:
            p = stats.norm.sf(z) if direction == "greater" else stats.norm.cdf(z)
    return p <= alpha


def exact_rejection_probability(
    n_control: int,
    n_treatment: int,
    p_control,
    p_treatment,
    *,
    test: str = "fisher",
    alpha: float = 0.025,
    sided: int = 1,
    direction: str = "greater",
) -> Float[np.ndarray, "..."]:
    """Exact probability that a fixed two-arm design rejects H0 (type-I error when the rates are equal, else power).

    Args:
        n_control, n_treatment: arm sizes (positive ints).
        p_control, p_treatment: true event probabilities (scalars or broadcastable arrays, e.g. a power curve).
        test: ``"fisher"`` (exact conditional), ``"chisq"`` (Pearson, no correction) or ``"z"`` (pooled z).
            One-sided ``"chisq"`` is the signed root of X^2, i.e. the pooled z.
        alpha: reject when the p-value is at most ``alpha`` (one-sided level when ``sided=1``).
        sided: 1 or 2.
        direction: for ``sided=1``, ``"greater"`` (H1: ``p_treatment > p_control``, e.g. response) or ``"less"``
            (H1: ``p_treatment < p_control``, e.g. mortality).

    Returns:
        The rejection probability, shape of the broadcast ``p_control``, ``p_treatment``.

    Example:
        >>> round(float(exact_rejection_probability(50, 50, 0.3, 0.3, test="fisher", alpha=0.025)), 4) <= 0.025
        True
    """
    reject = rejection_region(n_control, n_treatment, test=test, alpha=alpha, sided=sided, direction=direction)
    pa, pb = np.broadcast_arrays(np.asarray(p_control, dtype=np.float64), np.asarray(p_treatment, dtype=np.float64))
    for name, p in (("p_control", pa), ("p_treatment", pb)):
        if not np.all((p >= 0.0) & (p <= 1.0)):
            raise ConfigError(name, "event probabilities must lie in [0, 1]")
    xa, xb = np.arange(n_control + 1), np.arange(n_treatment + 1)
    fa = stats.binom.pmf(xa, n_control, pa[..., None])  # (..., n_a + 1)
    fb = stats.binom.pmf(xb, n_treatment, pb[..., None])  # (..., n_b + 1)
    return np.einsum("...i,ij,...j->...", fa, reject.astype(np.float64), fb)


def _validate(n_a, n_b, test, alpha, sided, direction) -> None:
    for name, n in (("n_control", n_a), ("n_treatment", n_b)):
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
            raise ConfigError(name, f"must be a positive int, got {n!r}")
    if test not in _TESTS:
        raise ConfigError("test", f"must be one of {_TESTS}, got {test!r}")
    if not (isinstance(alpha, (int, float, np.floating)) and 0.0 < alpha < 1.0):
        raise ConfigError("alpha", f"must be a number in (0, 1), got {alpha!r}")
    if sided not in (1, 2):
        raise ConfigError("sided", f"must be 1 or 2, got {sided!r}")
    if direction not in ("greater", "less"):
        raise ConfigError("direction", f"must be 'greater' or 'less', got {direction!r}")
