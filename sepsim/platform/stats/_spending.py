"""Alpha-spending functions for group-sequential designs.

Each function maps information fractions ``t`` in [0, 1] to the cumulative type-I error spent by ``t``; all equal
``alpha`` at ``t = 1`` and 0 at ``t = 0``. Sources: Lan & DeMets (1983, Biometrika 70:659), Hwang, Shih & DeCani
(1990, Stat Med 9:1439); Jennison & Turnbull (2000), "Group Sequential Methods with Applications to Clinical
Trials", ch. 7.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import SupportsFloat, cast

import numpy as np
from scipy import optimize, stats

from ..._errors import ConfigError

__all__ = ["alpha_spending", "brent_root", "SPENDING_FUNCTIONS", "CLASSICAL_DESIGNS"]

#: alpha-spending families (boundaries found look by look).
SPENDING_FUNCTIONS = ("ld_obf", "ld_pocock", "hsd")
#: classical (Wang–Tsiatis type) designs with one constant found for all looks together.
CLASSICAL_DESIGNS = ("obf", "pocock")


def alpha_spending(t, *, alpha: float, spending: str, gamma: float | None = None) -> np.ndarray:
    """Cumulative alpha spent at information fractions ``t``.

    Args:
        t: information fractions in [0, 1] (array-like).
        alpha: total type-I error spent at ``t = 1``.
        spending: ``"ld_obf"`` (Lan–DeMets O'Brien–Fleming type,
            ``2 (1 - Phi(Phi^-1(1 - alpha/2) / sqrt(t)))``), ``"ld_pocock"`` (Lan–DeMets Pocock type,
            ``alpha log(1 + (e - 1) t)``) or ``"hsd"`` (Hwang–Shih–DeCani,
            ``alpha (1 - exp(-gamma t)) / (1 - exp(-gamma))``, ``alpha t`` for ``gamma = 0``).
        gamma: the Hwang–Shih–DeCani parameter (required for ``"hsd"``; -4 resembles O'Brien–Fleming, 1 Pocock).

    Returns:
        Cumulative alpha spent, same shape as ``t``.
    """
    t = np.clip(np.asarray(t, dtype=np.float64), 0.0, 1.0)
    if spending == "ld_obf":
        zc = stats.norm.isf(alpha / 2.0)
        with np.errstate(divide="ignore"):
            out = 2.0 * stats.norm.sf(zc / np.sqrt(t))
        return np.where(t > 0, out, 0.0)
    if spending == "ld_pocock":
        return alpha * np.log1p((math.e - 1.0) * t)
    if spending == "hsd":
        if gamma is None or not np.isfinite(gamma):
            raise ConfigError("gamma", f"the 'hsd' spending function needs a finite gamma, got {gamma!r}")
        if gamma == 0:
            return alpha * t
        return alpha * np.expm1(-gamma * t) / np.expm1(-gamma)
    raise ConfigError("spending", f"unknown spending function {spending!r}; allowed: {SPENDING_FUNCTIONS}")


_RTOL = np.float64(1e-14)


def brent_root(f: Callable[[float], float], lo: SupportsFloat, hi: SupportsFloat, *, xtol: float) -> float:
    """The root of ``f`` in ``[lo, hi]`` by Brent's method (scipy's ``brentq``, ``rtol=1e-14``, 200 iterations)."""
    return float(cast(float, optimize.brentq(f, float(lo), float(hi), xtol=xtol, rtol=_RTOL, maxiter=200)))
