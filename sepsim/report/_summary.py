"""``summary.json``: headline operating characteristics, each with its Monte-Carlo interval.

Every number is written as ``{"mean", "q025", "q975", "mcse", "units"}``: the Monte-Carlo estimate, its 95% MC
interval, its MC standard error and its units (``null`` where undefined, e.g. the ideal design percentage when no
arm was ever selected). ``headline`` holds the figures a designer reads first, ``per_stratum`` the decision
quantities over each stratum's own arms, ``key_comparisons`` one sentence per comparison;
``operating_characteristics`` holds every figure of the OC Dataset, nested by its coordinates. The keys are
documented in the README ("summary.json").
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence, Set
from typing import Any

import numpy as np
import xarray as xr

from ..platform._results.codes import ArmDecision
from ._decisions import StratumDecisions
from ._mc import proportion

__all__ = ["summarise", "interval", "to_plain", "units_of"]

SCHEMA = "sepsim.summary/2"
_UNITS = (  # (prefix of an OC figure's name, its units)
    ("p_", "1"), ("idp", "percent"), ("sample_size", "patients"), ("best_share", "1"), ("share", "1"),
    ("events_per_patient", "outcome per patient"), ("events", "outcome sum (events)"), ("bias", "outcome units"),
    ("rmse", "outcome units"), ("estimate", "outcome units"),
)  # fmt: skip


def units_of(name: str) -> str:
    """Units of an operating-characteristics figure, from its name."""
    return next((u for prefix, u in _UNITS if name.startswith(prefix)), "1")


def _num(x: Any) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


def interval(da: xr.DataArray, units: str | None = None) -> dict[str, Any]:
    """``{"mean", "q025", "q975", "mcse", "units"}`` from a DataArray whose only dimension is ``stat``."""
    get = lambda s: _num(da.sel(stat=s).item())
    units = units if units is not None else units_of(str(da.name or ""))
    return {"mean": get("estimate"), "q025": get("lo"), "q975": get("hi"), "mcse": get("mcse"), "units": units}


def _nested(da: xr.DataArray, units: str | None = None) -> Any:
    """Nest a figure with a ``stat`` dim into dicts keyed by its other coordinates (in dimension order)."""
    units = units if units is not None else units_of(str(da.name or ""))
    dims = [d for d in da.dims if d != "stat"]
    if not dims:
        return interval(da, units)
    return {_key(v): _nested(da.isel({dims[0]: i}), units) for i, v in enumerate(da[dims[0]].values)}


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
    results: xr.Dataset,
    oc: xr.Dataset,
    *,
    config: Mapping | None = None,
    extra: dict | None = None,
    decisions: Sequence[StratumDecisions] = (),
    comparisons: Sequence[Mapping[str, Any]] = (),
    provenance: Mapping[str, Any] | None = None,
    cohort: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The content of ``summary.json`` (strict JSON: no NaN), from the results and their OC Dataset."""
    arms = [str(a) for a in oc["arm"].values]
    strata = [str(s) for s in oc["stratum"].values]
    try:
        design = json.loads(results.attrs.get("design", "") or "null")
    except (TypeError, json.JSONDecodeError):
        design = str(results.attrs.get("design"))
    truth = results["true_mean"].transpose("arm", "stratum").values
    efficacy_any = proportion(
        np.any([_efficacy_hits(results, d) for d in decisions], axis=0) if decisions else np.zeros(0, bool)
    )
    headline = {
        "p_efficacy_any_stratum": efficacy_any.to_json(),
        "p_conclusive": interval(oc["p_conclusive"]),
        **{f"p_stop_{o}": interval(oc["p_outcome"].sel(outcome=o)) for o in [str(v) for v in oc["outcome"].values]},
        "expected_sample_size": interval(oc["sample_size_mean"]),
        "median_sample_size": interval(oc["sample_size_quantile"].sel(quantile=0.5), "patients"),
        "expected_events_total": interval(oc["events_total_mean"]),
        "expected_events_per_patient": interval(oc["events_per_patient_mean"]),
    }
    per_stratum = {d.stratum: _stratum_json(d) for d in decisions}
    cfg = to_plain(config or {})
    return to_plain(
        {
            "schema": SCHEMA,
            "study": {"name": cfg.get("name"), "description": cfg.get("description")},
            "n_trials": int(oc.attrs.get("n_trials", results.sizes["trial"])),
            "seed": results.attrs.get("seed"),
            "higher_is_better": int(oc.attrs.get("higher_is_better", results.attrs.get("higher_is_better", 0))),
            "control_arm": str(results.attrs.get("control_arm", "") or "") or None,
            "select_strategy": oc.attrs.get("select_strategy"),
            "mc_intervals": oc.attrs.get("mc_intervals"),
            "arms": arms,
            "strata": strata,
            "look_n": results["look_n"].values.tolist(),
            "true_mean": {s: {a: float(truth[i, j]) for i, a in enumerate(arms)} for j, s in enumerate(strata)},
            "design": design,
            "headline": headline,
            "per_stratum": per_stratum,
            "key_comparisons": list(comparisons),
            "cohort": dict(cohort) if cohort else None,
            "operating_characteristics": {name: _nested(da) for name, da in oc.data_vars.items() if "stat" in da.dims},
            "provenance": dict(provenance or {}),
            "config": cfg,
            "extra": extra or {},
        }
    )


def _efficacy_hits(results: xr.Dataset, d: StratumDecisions) -> np.ndarray:
    """(trial,) a non-control arm of the stratum declared superior."""
    arms = [str(a) for a in results["arm"].values]
    dec = results["arm_decision"].sel(stratum=d.stratum).transpose("trial", "arm").values
    idx = [arms.index(a) for a in d.arms if a != d.control]
    return (dec[:, idx] == int(ArmDecision.SUPERIOR)).any(axis=1)


def _stratum_json(d: StratumDecisions) -> dict[str, Any]:
    return {
        "arms": list(d.arms),
        "control": d.control,
        "true_mean": d.true_mean,
        "best_arm": d.best_arm,
        "better_than_control": list(d.better_than_control),
        "efficacy": d.efficacy.to_json(),
        "efficacy_meaning": d.efficacy_meaning,
        "harm": d.harm.to_json() if d.harm else None,
        "p_best_declared_superior": d.best_declared.to_json() if d.best_declared else None,
        "expected_patients": {a: e.to_json() for a, e in d.patients.items()},
        "p_decision": {a: {k: e.to_json() for k, e in v.items()} for a, v in d.p_decision.items()},
        "bias": {a: e.to_json() for a, e in d.bias.items()},
    }
