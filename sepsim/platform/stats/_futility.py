"""Non-binding futility boundaries by beta-spending, with the drift (sample size) that gives the target power.

Efficacy boundaries ``b_k`` come from `group_sequential_bounds` (computed as if there were no futility stop, so
ignoring the futility boundary never inflates the type-I error: non-binding). Futility boundaries ``a_k`` spend
``beta(t_k) - beta(t_{k-1})`` of the type-II error under the alternative drift ``delta``
(``E[Z_k] = delta sqrt(t_k)``): ``P_delta(a_j < Z_j < b_j, j < k; Z_k <= a_k) = beta(t_k) - beta(t_{k-1})``,
and ``delta`` is solved so that the last boundaries meet (``a_K = b_K``); then the power is ``1 - beta``. The ratio
of the maximum information to that of a fixed design is ``(delta / (z_alpha + z_beta))^2``. Computed by the
recursive integration of `_gsd`. Source: Jennison & Turnbull (2000), ch. 7.3; gsDesign ``test.type = 4``
(Anderson, gsDesign manual, "non-binding lower bound").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from jaxtyping import Float
from scipy import stats

from ..._errors import ConfigError
from ._gsd import _GRID_R, _check_common, _check_fractions, _Recursion, group_sequential_bounds
from ._spending import SPENDING_FUNCTIONS, alpha_spending, brent_root

__all__ = ["FutilityDesign", "group_sequential_futility"]


class FutilityDesign(NamedTuple):
    """Efficacy and non-binding futility boundaries with the drift that gives power ``1 - beta``.

    Attributes:
        z_efficacy: efficacy critical values ``b_k`` (reject H0 when ``Z_k >= b_k``).
        z_futility: futility critical values ``a_k`` (stop for futility when ``Z_k <= a_k``; ``a_K = b_K``).
        drift: ``E[Z]`` at full information under the alternative.
        inflation: maximum information relative to a fixed design with the same alpha and power.
        cumulative_alpha: efficacy crossing probability under H0 by look (ignoring futility).
        cumulative_beta: futility crossing probability under the alternative by look (sums to ``beta``).
        info_fractions: information fractions ``t_k``.
    """

    z_efficacy: Float[np.ndarray, " K"]
    z_futility: Float[np.ndarray, " K"]
    drift: float
    inflation: float
    cumulative_alpha: Float[np.ndarray, " K"]
    cumulative_beta: Float[np.ndarray, " K"]
    info_fractions: Float[np.ndarray, " K"]


def _futility_given_drift(t, b, beta_spent, drift, r):
    """Futility bounds spending ``beta_spent`` at ``drift``; returns (a, shortfall at the last look)."""
    increments = np.diff(np.concatenate([[0.0], beta_spent]))
    rec = _Recursion(t, drift, r)
    a = np.empty(t.size)
    for k in range(t.size):
        if k == t.size - 1:
            _, lo = rec.crossing(b[k], np.inf)
            return a, lo - increments[k]
        mean = drift * np.sqrt(t[k])

        def excess(x, inc=increments[k]):
            return rec.crossing(x, np.inf)[1] - inc

        lo_bracket = mean - 40.0
        if increments[k] <= 0.0 or excess(lo_bracket) >= 0.0:
            a[k] = -np.inf
        elif excess(b[k]) <= 0.0:
            a[k] = b[k]  # the futility boundary may not pass the efficacy boundary
        else:
            a[k] = brent_root(excess, lo_bracket, b[k], xtol=1e-13)
        rec.advance(a[k], b[k])
    raise AssertionError("unreachable")


def group_sequential_futility(
    info_fractions: Sequence[float] | np.ndarray | int,
    *,
    alpha: float = 0.025,
    beta: float = 0.1,
    spending: str = "ld_obf",
    gamma: float | None = None,
    beta_spending: str = "ld_obf",
    beta_gamma: float | None = None,
) -> FutilityDesign:
    """One-sided efficacy boundaries with non-binding futility boundaries from a beta-spending function.

    Args:
        info_fractions: number of equally spaced looks, or fractions strictly increasing in (0, 1] ending at 1.
        alpha: one-sided type-I error in (0, 0.5).
        beta: type-II error in (0, 0.5) (power ``1 - beta``).
        spending, gamma: efficacy design, as in `group_sequential_bounds`.
        beta_spending, beta_gamma: beta-spending function (``"ld_obf"``, ``"ld_pocock"`` or ``"hsd"`` with
            ``beta_gamma``).

    Returns:
        `FutilityDesign`.

    Example:
        >>> d = group_sequential_futility(3, spending="hsd", gamma=-4, beta_spending="hsd", beta_gamma=-2)
        >>> d.z_futility.round(2)  # gsDesign default design (test.type = 4)
        array([-0.24,  0.94,  2.  ])
    """
    t = _check_fractions(info_fractions)
    _check_common(alpha, 1)
    if t[-1] != 1.0:
        raise ConfigError("info_fractions", f"must end at 1 for a futility design, got {t.tolist()}")
    if not (isinstance(beta, (int, float, np.floating)) and 0.0 < beta < 0.5):
        raise ConfigError("beta", f"must be a number in (0, 0.5), got {beta!r}")
    if beta_spending not in SPENDING_FUNCTIONS:
        raise ConfigError("beta_spending", f"unknown {beta_spending!r}; allowed: {SPENDING_FUNCTIONS}")
    eff = group_sequential_bounds(t, alpha=alpha, spending=spending, gamma=gamma, sided=1)
    beta_spent = alpha_spending(t, alpha=float(beta), spending=beta_spending, gamma=beta_gamma)
    fixed = stats.norm.isf(alpha) + stats.norm.isf(beta)

    def shortfall(drift):
        return _futility_given_drift(t, eff.z, beta_spent, drift, _GRID_R)[1]

    drift = brent_root(shortfall, 0.5 * fixed, 3.0 * fixed, xtol=1e-12)
    a, _ = _futility_given_drift(t, eff.z, beta_spent, drift, _GRID_R)
    a[-1] = eff.z[-1]
    cumulative_beta = np.cumsum(_lower_crossings(t, a, eff.z, drift))
    return FutilityDesign(eff.z, a, float(drift), float((drift / fixed) ** 2), eff.cumulative_alpha, cumulative_beta, t)


def _lower_crossings(t, a, b, drift, r=_GRID_R):
    rec = _Recursion(t, drift, r)
    out = np.empty(t.size)
    for k in range(t.size):
        out[k] = rec.crossing(a[k], np.inf)[1]
        if k + 1 < t.size:
            rec.advance(a[k], b[k])
    return out
