"""Calibrate a decision threshold to a target type-I error, reusing common random numbers.

adaptr's ``calibrate_trial`` fits a Gaussian process over the threshold; here the same trial keys (hence the same
patients, allocations and posterior draws) are re-run at each candidate threshold, which makes P(superiority) a
non-increasing step function of the threshold, so plain bisection finds it.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import jax
import numpy as np
from jaxtyping import Array, Key

from ..._errors import ConfigError
from ..._keys import index_keys
from .._design.design import TrialDesign, design_from_dict
from .._engine.run import default_chunk, make_trial_function
from .._outcomes.table import PotentialOutcomes

__all__ = ["CalibrationResult", "calibrate_threshold"]


class CalibrationResult(NamedTuple):
    """Result of :func:`calibrate_threshold`.

    Attributes:
        threshold: the smallest superiority threshold (within ``tol``) whose P(superiority) is <= target.
        probability: P(superiority) at ``threshold`` on the calibration trials.
        mc_se: its binomial Monte-Carlo standard error.
        history: (threshold, probability) of every evaluation, in order.
    """

    threshold: float
    probability: float
    mc_se: float
    history: list[tuple[float, float]]


def calibrate_threshold(
    outcomes: PotentialOutcomes,
    design: TrialDesign | dict[str, Any],
    *,
    n_trials: int,
    key: Key[Array, ""],
    target: float = 0.05,
    search: tuple[float, float] = (0.9, 1.0),
    symmetric: bool = True,
    tol: float = 1e-6,
    chunk_size: int | None = None,
) -> CalibrationResult:
    """Bisection on the superiority threshold ``s`` (and inferiority ``1 - s`` when ``symmetric``, as adaptr's
    default calibration) so that P(trial stops for superiority) <= ``target`` on ``n_trials`` trials of the
    scenario in ``outcomes`` (normally a null scenario). Every evaluation reuses the same trial keys.
    """
    design = design if isinstance(design, TrialDesign) else design_from_dict(design)
    design.validate()
    if design.analysis.method == "frequentist":
        raise ConfigError("design.analysis.method", "frequentist designs control alpha by their boundaries")
    if design.stopping.superiority is None:
        raise ConfigError("design.stopping.superiority", "must be set (any value) to be calibrated")
    if symmetric and design.stopping.inferiority is None:
        raise ConfigError("design.stopping.inferiority", "must be set (any value) for symmetric calibration")
    if not 0.0 < target < 1.0:
        raise ConfigError("target", "must be in (0, 1)")
    lo, hi = float(search[0]), float(search[1])
    if not 0.0 <= lo < hi <= 1.0:
        raise ConfigError("search", "must be (lo, hi) with 0 <= lo < hi <= 1")
    fn, _ = make_trial_function(design, outcomes)
    chunk = int(chunk_size or default_chunk(design, n_trials))
    key_chunks = [index_keys(key, s, chunk) for s in range(0, n_trials, chunk)]
    history: list[tuple[float, float]] = []

    def p_sup(s: float) -> float:
        thr = {"superiority": s}
        if symmetric:
            thr["inferiority"] = 1.0 - s
        wins = 0
        for i, keys in enumerate(key_chunks):
            size = min(chunk, n_trials - i * chunk)
            out = np.asarray(jax.device_get(fn(keys, thr)["units"].outcome))[:size, 0]
            wins += int(np.sum(out == 1))
        p = wins / n_trials
        history.append((s, p))
        return p

    p_lo, p_hi = p_sup(lo), p_sup(hi)
    if p_hi > target:
        raise ConfigError("search", f"P(superiority) at the upper end {hi} is {p_hi:.4f} > target {target}")
    if p_lo <= target:
        hi, p_hi = lo, p_lo
    else:
        for _ in range(int(math.ceil(math.log2(max((hi - lo) / tol, 1.0))))):
            mid = 0.5 * (lo + hi)
            p_mid = p_sup(mid)
            if p_mid > target:
                lo = mid
            else:
                hi, p_hi = mid, p_mid
    se = math.sqrt(max(p_hi * (1.0 - p_hi), 1e-12) / n_trials)
    return CalibrationResult(threshold=hi, probability=p_hi, mc_se=se, history=history)
