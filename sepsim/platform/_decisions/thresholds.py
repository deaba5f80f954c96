"""The numeric thresholds a trial function receives as traced values: the stopping rules' probabilities and,
for frequentist designs, the efficacy and futility boundaries."""

from __future__ import annotations

import numpy as np

from .._analysis.frequentist import efficacy_bounds
from .._design.design import TrialDesign
from .._design.plan import Plan

__all__ = ["design_thresholds", "frequentist_bounds"]


def design_thresholds(design: TrialDesign) -> dict[str, float]:
    """Numeric thresholds of the stopping rules the design switches on (passed to the jitted trial function as
    traced values, so changing them does not recompile)."""
    st = design.stopping
    names = ("superiority", "inferiority", "equivalence_prob", "futility_prob")
    return {n: float(getattr(st, n)) for n in names if getattr(st, n) is not None}


def frequentist_bounds(design: TrialDesign, plan: Plan) -> dict[str, np.ndarray]:
    """Efficacy boundaries ``(unit, look)`` (Bonferroni over each unit's non-control arms: per stratum with
    ``stopping.per_stratum``, else over the design's arms) and futility bounds ``(look,)``."""
    an = design.analysis
    elig = np.asarray(plan.eligible)  # (S, A)
    others = np.arange(plan.n_arms) != plan.control
    if plan.per_stratum:
        m = tuple(int(np.sum(row & others)) for row in elig)
    else:
        m = (int(np.sum(elig.any(axis=0) & others)),)
    bounds = efficacy_bounds(plan.look_n, m, alpha=float(an.alpha), spending=an.spending, gamma=an.gamma)
    fut = an.futility_z if an.futility_z is not None else [-np.inf] * plan.n_looks
    out = {"efficacy_z": np.asarray(bounds, dtype=np.float64), "futility_z": np.asarray(fut, dtype=np.float64)}
    if plan.stopping.observed_info:  # per-comparison alpha and planned final information (see _gsd_observed)
        out["alpha_unit"] = float(an.alpha) / np.maximum(np.asarray(m, dtype=np.float64), 1.0)
        ratio = np.asarray(plan.allocation.ratio, dtype=np.float64)
        n_plan = plan.n_max * ratio / ratio.sum()
        i_max = 1.0 / (1.0 / n_plan + 1.0 / n_plan[plan.control])
        out["i_max"] = np.broadcast_to(i_max, (len(m), plan.n_arms)).copy()
    return out
