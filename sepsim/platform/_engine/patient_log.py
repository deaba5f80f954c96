"""``patient_log``: the engine's trials with every patient's arm, arrival day and outcome flag (for audits).

Runs exactly the trials of :func:`sepsim.platform.run_trials` with the same key (trial ``i`` uses
``index_keys(key, i, 1)``), keeping per-patient arrays that the results Dataset does not hold.
"""

from __future__ import annotations

import jax
import numpy as np
import xarray as xr
from jaxtyping import Array, Key

from ..._keys import index_keys
from .._design.design import TrialDesign
from .._outcomes.table import PotentialOutcomes
from .run import _as_design, _to_dataset, make_trial_function

__all__ = ["patient_log"]


def patient_log(
    outcomes: PotentialOutcomes, design: TrialDesign | dict, *, n_trials: int, key: Key[Array, ""]
) -> xr.Dataset:
    """Simulate ``n_trials`` trials and return :func:`run_trials`'s Dataset with per-patient records added.

    Added variables: ``patient_arm`` (trial, patient; index into ``design.arms``, -1 = never randomised),
    ``patient_has_outcome`` (trial, patient; False for dropouts), ``patient_outcome`` (trial,
    patient; the outcome the patient got, whether or not it was observed), ``patient_stratum`` (trial, patient;
    index into the strata, -1 = never randomised), ``patient_arrival`` (trial, patient; days,
    accrual mode only) and, with concurrent controls, ``n_concurrent_control`` (trial, look, arm): the control
    patients with outcomes that each arm's comparison used at each look; for Bayesian designs with a control,
    ``p_better_control`` (trial, look, arm; pooled designs) or (trial, look, stratum, arm) (``per_stratum``):
    each arm's P(better than the design's control) at each look, for the arms in play (NaN elsewhere), with
    concurrent controls where the design uses them.
    """
    design = _as_design(design)
    fn, plan = make_trial_function(design, outcomes, record_patients=True)  # the engine's own compiled function
    res = jax.device_get(fn(index_keys(key, 0, n_trials)))
    res = jax.tree_util.tree_map(np.asarray, res)
    ds = _to_dataset(res, design, plan, outcomes, start=0, seed=None)
    for name in ("patient_arm", "patient_has_outcome", "patient_outcome", "patient_stratum", "patient_arrival"):
        if name in res:
            ds[name] = (("trial", "patient"), res[name])
    if "n_concurrent_control" in res["per_look"]:
        ds["n_concurrent_control"] = (
            ("trial", "look", "arm"),
            res["per_look"]["n_concurrent_control"].astype(np.int64),
        )
    if "p_better_control" in res["per_look"]:
        pbc = res["per_look"]["p_better_control"].astype(np.float64)  # (trial, look, unit, arm)
        if plan.per_stratum:
            ds["p_better_control"] = (("trial", "look", "stratum", "arm"), pbc)
        else:
            ds["p_better_control"] = (("trial", "look", "arm"), pbc[:, :, 0, :])
    return ds
