"""``summary.json``: headline operating characteristics, each with its Monte-Carlo interval.

Every figure is written as ``{"value": v, "mcse": e, "ci95": [lo, hi]}`` (``null`` where undefined, e.g. the ideal
design percentage when no arm was ever selected). ``headline`` holds the figures a designer reads first;
``operating_characteristics`` holds every figure of the OC Dataset, nested by its coordinates.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence, Set
from typing import Any

import numpy as np
import xarray as xr

__all__ = ["summarise", "interval", "to_plain"]

SCHEMA = "sepsim.summary/1"


def _num(x: Any) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


def interval(da: xr.DataArray) -> dict[str, Any]:
    """``{"value", "mcse", "ci95": [lo, hi]}`` from a DataArray whose only dimension is ``stat``."""
    get = lambda s: _num(da.sel(stat=s).item())
    return {"value": get("estimate"), "mcse": get("mcse"), "ci95": [get("lo"), get("hi")]}


def _nested(da: xr.DataArray) -> Any:
    """Nest a figure with a ``stat`` dim into dicts keyed by its other coordinates (in dimension order)."""
    dims = [d for d in da.dims if d != "stat"]
    if not dims:
        return interval(da)
    return {_key(v): _nested(da.isel({dims[0]: i})) for i, v in enumerate(da[dims[0]].values)}


def _key(value: Any) -> str:
    if isinstance(value, float | np.floating):
        return f"{float(value):g}"
    return str(value.item() if isinstance(value, np.generic) else value)


def to_plain(obj: Any) -> Any:
    """Turn configs and attributes into JSON/YAML-safe Python (dicts, lists, str, numbers, bool, None)."""
    if isinstance(obj, Mapping):  # dict, omegaconf DictConfig (values resolved on access)
        return {str(k): to_plain(v) for k, v in obj.items()}
    if isinstance(obj, Sequence | Set) and not isinstance(obj, str | bytes):  # list, tuple, ListConfig
        return [to_plain(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_plain(obj.tolist())
    if isinstance(obj, np.generic):
        return to_plain(obj.item())
    if isinstance(obj, bool) or obj is None or isinstance(obj, int | str):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    return str(obj)


def summarise(
    results: xr.Dataset, oc: xr.Dataset, *, config: dict | None = None, extra: dict | None = None
) -> dict[str, Any]:
    """The content of ``summary.json`` (strict JSON: no NaN), from the results and their OC Dataset."""
    arms = [str(a) for a in oc["arm"].values]
    strata = [str(s) for s in oc["stratum"].values]
    try:
        design = json.loads(results.attrs.get("design", "") or "null")
    except (TypeError, json.JSONDecodeError):
        design = str(results.attrs.get("design"))
    truth = results["true_mean"].transpose("arm", "stratum").values
    headline = {
        "p_superiority": interval(oc["p_superiority"]),
        "p_conclusive": interval(oc["p_conclusive"]),
        **{f"p_stop_{o}": interval(oc["p_outcome"].sel(outcome=o)) for o in [str(v) for v in oc["outcome"].values]},
        "expected_sample_size": interval(oc["sample_size_mean"]),
        "median_sample_size": interval(oc["sample_size_quantile"].sel(quantile=0.5)),
        "expected_events_total": interval(oc["events_total_mean"]),
        "expected_events_per_patient": interval(oc["events_per_patient_mean"]),
    }
    per_stratum = {}
    for s in strata:
        o = oc.sel(stratum=s)
        per_stratum[s] = {
            "best_arm": str(o["best_arm"].item()) or None,
            "null_scenario": bool(o["null_scenario"].item()),
            "p_superiority": interval(o["p_superiority_stratum"]),
            "idp": interval(o["idp"]),
            "p_select_best": interval(o["p_select_best"]),
            "best_share_mean": interval(o["best_share_mean"]),
            "p_more_on_inferior": interval(o["p_more_on_inferior"]),
            "expected_sample_size": interval(o["sample_size_stratum_mean"]),
            "rmse_selected": interval(o["rmse_selected"]),
        }
    return to_plain(
        {
            "schema": SCHEMA,
            "n_trials": int(oc.attrs.get("n_trials", results.sizes["trial"])),
            "seed": results.attrs.get("seed"),
            "higher_is_better": int(oc.attrs.get("higher_is_better", results.attrs.get("higher_is_better", 0))),
            "control_arm": str(results.attrs.get("control_arm", "") or "") or None,
            "p_superiority_meaning": oc.attrs.get("p_superiority_meaning"),
            "select_strategy": oc.attrs.get("select_strategy"),
            "mc_intervals": oc.attrs.get("mc_intervals"),
            "arms": arms,
            "strata": strata,
            "look_n": results["look_n"].values.tolist(),
            "true_mean": {s: {a: float(truth[i, j]) for i, a in enumerate(arms)} for j, s in enumerate(strata)},
            "design": design,
            "headline": headline,
            "per_stratum": per_stratum,
            "operating_characteristics": {name: _nested(da) for name, da in oc.data_vars.items() if "stat" in da.dims},
            "config": config or {},
            "extra": extra or {},
        }
    )
