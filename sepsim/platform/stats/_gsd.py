"""Group-sequential efficacy boundaries by recursive numerical integration.

The standardised statistics ``Z_1, ..., Z_K`` at information fractions ``t_1 < ... < t_K`` are multivariate normal
with ``corr(Z_i, Z_j) = sqrt(t_i / t_j)`` (Brownian motion, canonical joint distribution). The probability of first
crossing a boundary at each look is computed with the recursive integration of Armitage, McPherson & Rowe (1969,
J R Stat Soc A 132:235) on the grid and Simpson weights of Jennison & Turnbull (2000), "Group Sequential Methods
with Applications to Clinical Trials", ch. 19 (grid parameter ``r``; error about 1e-8 at ``r = 48``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from jaxtyping import Float
from scipy import special, stats

from ..._errors import ConfigError
from ._spending import CLASSICAL_DESIGNS, SPENDING_FUNCTIONS, alpha_spending, brent_root

__all__ = ["GroupSequentialBounds", "group_sequential_bounds", "crossing_probabilities"]

_GRID_R = 48  # Jennison & Turnbull (2000) sec. 19.2.1 recommend r = 16 for ~1e-6; 48 gives a margin.
_Z_MAX = 40.0
_SQRT_2PI = math.sqrt(2.0 * math.pi)  # search bracket for a boundary; P(Z > 40) underflows in float64.


class GroupSequentialBounds(NamedTuple):
    """Efficacy boundaries of a group-sequential design.

    Attributes:
        z: critical values, shape ``(K,)``; reject H0 at look k when ``Z_k >= z[k]`` (``|Z_k| >= z[k]`` when
            two-sided). ``inf`` where no alpha is spent at a look.
        cumulative_alpha: probability under H0 of crossing by look k, shape ``(K,)`` (both sides when two-sided).
        info_fractions: information fractions ``t_k``, shape ``(K,)``.
    """

    z: Float[np.ndarray, " K"]
    cumulative_alpha: Float[np.ndarray, " K"]
    info_fractions: Float[np.ndarray, " K"]


def _base_grid(r: int, mean: float) -> np.ndarray:
    """Jennison & Turnbull (2000) eq. 19.3: 6r - 1 points, dense near the mean, log-spaced in the tails."""
    i = np.arange(1, 6 * r, dtype=np.float64)
    x = np.empty_like(i)
    lo, mid, hi = i < r, (i >= r) & (i <= 5 * r), i > 5 * r
    x[lo] = -3.0 - 4.0 * np.log(r / i[lo])
    x[mid] = -3.0 + 3.0 * (i[mid] - r) / (2.0 * r)
    x[hi] = 3.0 + 4.0 * np.log(r / (6.0 * r - i[hi]))
    return x + mean


def _simpson_grid(lower: float, upper: float, r: int, mean: float) -> tuple[np.ndarray, np.ndarray]:
    """Grid points and Simpson weights on the continuation interval ``(lower, upper)`` (J&T eq. 19.4)."""
    x = _base_grid(r, mean)
    lo, hi = max(lower, x[0]), min(upper, x[-1])
    inner = x[(x > lo) & (x < hi)]
    odd = np.concatenate([[lo], inner, [hi]])
    z = np.empty(2 * odd.size - 1)
    z[0::2] = odd
    z[1::2] = 0.5 * (odd[:-1] + odd[1:])
    h = np.diff(odd)
    w = np.zeros_like(z)
    w[0:-1:2] += h / 6.0
    w[1::2] += 4.0 * h / 6.0
    w[2::2] += h / 6.0
    return z, w


class _Recursion:
    """The sub-density of ``Z_k`` on the continuation region, advanced look by look (drift ``theta * sqrt(t)``)."""

    def __init__(self, info: np.ndarray, drift: float, r: int):
        self.info, self.drift, self.r = info, drift, r
        self.k = 0
        self.z: np.ndarray | None = None
        self.wg: np.ndarray | None = None  # weights times density at the grid points

    def _conditional(self, k: int):
        """Mean and sd of ``Z_k sqrt(I_k)`` given ``z_{k-1}`` on the grid."""
        i0, i1 = self.info[k - 1], self.info[k]
        d = i1 - i0
        assert self.z is not None, "advance() the recursion before the second look"
        return self.z * math.sqrt(i0) + self.drift * d, math.sqrt(d), math.sqrt(i1)

    def crossing(self, lower: float, upper: float) -> tuple[float, float]:
        """P(first exit at the current look above ``upper``) and (below ``lower``), without advancing."""
        k = self.k
        if k == 0:
            m = self.drift * math.sqrt(self.info[0])
            return float(stats.norm.sf(upper - m)), float(stats.norm.cdf(lower - m))
        mu, sd, s1 = self._conditional(k)
        up = float(self.wg @ special.ndtr((mu - upper * s1) / sd))
        lo = float(self.wg @ special.ndtr((lower * s1 - mu) / sd))
        return up, lo

    def advance(self, lower: float, upper: float) -> None:
        """Restrict to ``(lower, upper)`` at the current look and move to the next."""
        k = self.k
        mean_k = self.drift * math.sqrt(self.info[k])
        z, w = _simpson_grid(lower, upper, self.r, mean_k)
        if k == 0:
            g = stats.norm.pdf(z - mean_k)
        else:
            mu, sd, s1 = self._conditional(k)
            x = (z[:, None] * s1 - mu[None, :]) / sd
            kern = np.exp(-0.5 * x * x) * (s1 / (sd * _SQRT_2PI))
            g = kern @ self.wg
        self.z, self.wg = z, w * g
        self.k += 1


def crossing_probabilities(
    z: Sequence[float] | np.ndarray,
    info_fractions: Sequence[float] | np.ndarray,
    *,
    drift: float = 0.0,
    sided: int = 1,
    r: int = _GRID_R,
) -> Float[np.ndarray, " K"]:
    """Probability of first crossing the efficacy boundary ``z`` at each look.

    Args:
        z: critical values ``z_k`` (``inf`` for none).
        info_fractions: information fractions ``t_k``, strictly increasing in (0, 1].
        drift: expected value of the final statistic ``Z`` at ``t = 1`` (``E[Z_k] = drift sqrt(t_k)``); 0 gives
            the type-I error, the design's drift gives power.
        sided: 1 (reject when ``Z_k >= z_k``) or 2 (``|Z_k| >= z_k``; both sides added).
        r: grid parameter of Jennison & Turnbull (2000), ch. 19.

    Returns:
        Per-look first-crossing probabilities, shape ``(K,)``; their cumulative sum is the overall probability.
    """
    t = _check_fractions(info_fractions)
    z = np.asarray(z, dtype=np.float64)
    if z.shape != t.shape:
        raise ConfigError("z", f"needs one critical value per look ({t.size}), got shape {z.shape}")
    rec = _Recursion(t, drift, r)
    out = np.empty(t.size)
    for k in range(t.size):
        lower = -z[k] if sided == 2 else -np.inf
        up, lo = rec.crossing(lower, z[k])
        out[k] = up + lo
        if k + 1 < t.size:
            rec.advance(lower, z[k])
    return out


def _check_fractions(info_fractions) -> np.ndarray:
    if isinstance(info_fractions, (int, np.integer)) and not isinstance(info_fractions, bool):
        if info_fractions < 1:
            raise ConfigError("info_fractions", f"number of looks must be >= 1, got {info_fractions}")
        return np.arange(1, info_fractions + 1, dtype=np.float64) / info_fractions
    try:
        t = np.asarray(info_fractions, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ConfigError("info_fractions", f"must be a number of looks or a sequence of floats: {err}") from None
    if t.ndim != 1 or t.size < 1:
        raise ConfigError("info_fractions", f"must be a non-empty 1-D sequence, got shape {t.shape}")
    if not np.all(np.isfinite(t)) or t[0] <= 0.0 or t[-1] > 1.0 or np.any(np.diff(t) <= 0.0):
        raise ConfigError("info_fractions", f"must be strictly increasing in (0, 1], got {t.tolist()}")
    return t


def _check_common(alpha, sided) -> None:
    if not (isinstance(alpha, (int, float, np.floating)) and 0.0 < alpha < 0.5):
        raise ConfigError("alpha", f"must be a number in (0, 0.5), got {alpha!r}")
    if sided not in (1, 2):
        raise ConfigError("sided", f"must be 1 or 2, got {sided!r}")


def _classical(t: np.ndarray, alpha: float, shape: np.ndarray, sided: int, r: int) -> np.ndarray:
    """Find C so that boundaries ``C * shape`` have total crossing probability ``alpha``."""

    def excess(c: float) -> float:
        return float(np.sum(crossing_probabilities(c * shape, t, sided=sided, r=r))) - alpha

    # bracket: at C = z_(alpha/sided) / max(shape) one look alone crosses with probability alpha; at
    # C = z_(alpha/(sided K)) / min(shape) Bonferroni bounds the total by alpha (margins for rounding)
    lo = 0.99 * stats.norm.isf(alpha / sided) / shape.max()
    hi = 1.01 * stats.norm.isf(alpha / (sided * t.size)) / shape.min()
    c = brent_root(excess, lo, hi, xtol=1e-13)
    return c * shape


def _spending_bounds(t: np.ndarray, spent: np.ndarray, sided: int, r: int) -> np.ndarray:
    """Look-by-look boundaries spending ``diff(spent)`` of alpha at each look."""
    increments = np.diff(np.concatenate([[0.0], spent]))
    rec = _Recursion(t, 0.0, r)
    z = np.empty(t.size)
    for k in range(t.size):

        def excess(b: float, target: float = increments[k]) -> float:
            up, lo = rec.crossing(-b if sided == 2 else -np.inf, b)
            return up + lo - target

        if increments[k] <= 0.0 or excess(_Z_MAX) >= 0.0:
            z[k] = np.inf
        else:
            z[k] = brent_root(excess, 0.0, _Z_MAX, xtol=1e-13)
        if k + 1 < t.size:
            rec.advance(-z[k] if sided == 2 else -np.inf, z[k])
    return z


def group_sequential_bounds(
    info_fractions: Sequence[float] | np.ndarray | int,
    *,
    alpha: float = 0.025,
    spending: str = "obf",
    gamma: float | None = None,
    sided: int = 1,
) -> GroupSequentialBounds:
    """Efficacy boundaries of a group-sequential design with type-I error ``alpha``.

    Args:
        info_fractions: number of equally spaced looks ``K``, or the information fractions ``t_k`` (strictly
            increasing in (0, 1]; the last is normally 1).
        alpha: total type-I error in (0, 0.5) (one-sided when ``sided=1``, both sides together when ``sided=2``).
        spending: ``"obf"`` classical O'Brien–Fleming (``z_k = C / sqrt(t_k)``, Wang–Tsiatis Delta = 0),
            ``"pocock"`` classical Pocock (``z_k = C``), or an alpha-spending function: ``"ld_obf"``,
            ``"ld_pocock"`` (Lan–DeMets types), ``"hsd"`` (Hwang–Shih–DeCani with parameter ``gamma``).
        gamma: Hwang–Shih–DeCani parameter (only for ``"hsd"``).
        sided: 1 or 2 (symmetric two-sided boundaries).

    Returns:
        A `GroupSequentialBounds`. Classical designs spend exactly ``alpha`` by ``t_K``; spending designs spend
        ``alpha(t_K)``, which is ``alpha`` when ``t_K = 1``.

    Example:
        >>> b = group_sequential_bounds(3)  # rpact getDesignGroupSequential() defaults
        >>> b.z.round(7)
        array([3.4710914, 2.4544323, 2.0040356])
    """
    t = _check_fractions(info_fractions)
    _check_common(alpha, sided)
    alpha = float(alpha)
    if spending in CLASSICAL_DESIGNS:
        shape = 1.0 / np.sqrt(t) if spending == "obf" else np.ones_like(t)
        z = _classical(t, alpha, shape, sided, _GRID_R)
    elif spending in SPENDING_FUNCTIONS:
        z = _spending_bounds(t, alpha_spending(t, alpha=alpha, spending=spending, gamma=gamma), sided, _GRID_R)
    else:
        allowed = CLASSICAL_DESIGNS + SPENDING_FUNCTIONS
        raise ConfigError("spending", f"unknown spending {spending!r}; allowed: {allowed}")
    cumulative = np.cumsum(crossing_probabilities(z, t, sided=sided, r=_GRID_R))
    return GroupSequentialBounds(z=z, cumulative_alpha=cumulative, info_fractions=t)
