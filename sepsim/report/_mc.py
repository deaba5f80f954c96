"""Monte-Carlo summaries the report computes itself: a proportion over trials (Wilson interval) and a mean.

Every summary is an :class:`Estimate` (``mean``, ``mcse``, ``q025``, ``q975``: the 95% Monte-Carlo interval, and
``units``), the form of every headline number in ``summary.json``.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np
import xarray as xr

__all__ = ["Estimate", "proportion", "mean_over_trials", "from_stat", "fmt", "fmt_interval"]

Z95 = 1.959963984540054  # standard-normal 97.5% quantile


class Estimate(NamedTuple):
    """A Monte-Carlo estimate with its MC standard error and 95% MC interval ``[q025, q975]``."""

    mean: float
    mcse: float
    q025: float
    q975: float
    units: str

    def to_json(self) -> dict[str, Any]:
        """``{mean, q025, q975, mcse, units}`` with ``null`` where undefined (strict JSON)."""
        num = lambda x: float(x) if x is not None and math.isfinite(float(x)) else None
        return {
            "mean": num(self.mean),
            "q025": num(self.q025),
            "q975": num(self.q975),
            "mcse": num(self.mcse),
            "units": self.units,
        }


def proportion(hits: np.ndarray, units: str = "1") -> Estimate:
    """Share of True over trials with its binomial MC SE and Wilson 95% interval (exact ends at 0 and 1)."""
    x = np.asarray(hits, dtype=bool).ravel()
    n = x.size
    if n == 0:
        return Estimate(math.nan, math.nan, math.nan, math.nan, units)
    p = float(x.mean())
    z2 = Z95**2
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = Z95 * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    lo = 0.0 if p == 0.0 else max(0.0, centre - half)
    hi = 1.0 if p == 1.0 else min(1.0, centre + half)
    return Estimate(p, math.sqrt(p * (1 - p) / n), lo, hi, units)


def mean_over_trials(values: np.ndarray, units: str) -> Estimate:
    """Mean over trials (NaN ignored), MC SE ``sd / sqrt(n)``, normal 95% interval."""
    x = np.asarray(values, dtype=float).ravel()
    x = x[np.isfinite(x)]
    if x.size == 0:
        return Estimate(math.nan, math.nan, math.nan, math.nan, units)
    m = float(x.mean())
    se = float(x.std(ddof=1) / math.sqrt(x.size)) if x.size > 1 else math.nan
    return Estimate(m, se, m - Z95 * se, m + Z95 * se, units)


def from_stat(da: xr.DataArray, units: str) -> Estimate:
    """An :class:`Estimate` from an operating-characteristics figure whose only dimension is ``stat``."""
    get = lambda s: float(da.sel(stat=s).item())
    return Estimate(get("estimate"), get("mcse"), get("lo"), get("hi"), units)


def fmt(x: Any, digits: int = 3) -> str:
    """A number for the page (``–`` where undefined)."""
    try:
        x = float(x)
    except (TypeError, ValueError):
        return str(x)
    return "\u2013" if not math.isfinite(x) else f"{x:.{digits}g}"


def fmt_interval(e: Estimate, *, percent: bool = False) -> str:
    """``0.45 (95% MC interval 0.42-0.48)``, or in percent."""
    if percent:
        f = lambda x: "\u2013" if not math.isfinite(x) else f"{100 * x:.1f}%"
        return f"{f(e.mean)} (95% MC interval {f(e.q025)}\u2013{f(e.q975)})"
    return f"{fmt(e.mean)} (95% MC interval {fmt(e.q025)}\u2013{fmt(e.q975)})"
