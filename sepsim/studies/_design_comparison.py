"""The ``design_comparison`` study: several designs for one question, under several scenarios, side by side on the
same patients.

Every (design, scenario) pair runs on the run's own outcome table with the run's trial key
(``stage_key(seed, "trials")``): the same patient stream, the same keys, so differences between designs are not
Monte-Carlo noise between patient samples. A design entry replaces the named top-level keys of the run's design
(``allocation``, ``analysis``, ``stopping``, ...); a scenario entry is the design's ``scenario`` block (engine
semantics, ``sepsim/platform/README_engine.md``: ``time_trend_logit`` shifts every arm's log odds linearly over the
patient stream, Korn & Freidlin 2022; ``stratum_mix_start``/``stratum_mix_end`` drift the endotype mix).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from .._errors import ConfigError
from .._keys import stage_key

__all__ = ["compose_design", "design_comparison_table", "COMPARED"]

# (output name, OC variable, long name); per design and scenario, for the first non-control arm
COMPARED = (
    ("p_superiority", "p_superiority", "P(an arm declared superior to the control)"),
    ("p_control_superior", None, "P(the control declared superior: harm found)"),
    ("sample_size_mean", "sample_size_mean", "expected number of patients randomised"),
    ("active_share", None, "expected share of patients on the active arm"),
    ("bias_te", "bias_te", "bias of the estimated effect against the control (active arm)"),
    ("rmse_te", "rmse_te", "RMSE of the estimated effect against the control (active arm)"),
)


def compose_design(base: dict[str, Any], override: dict[str, Any], scenario: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``override``'s top-level keys replaced and ``scenario`` as the design's scenario block."""
    return {**base, **(override or {}), "scenario": dict(scenario or {})}


def _one(oc: xr.Dataset, active: str, control: str) -> dict[str, tuple[float, float]]:
    def pick(da: xr.DataArray) -> tuple[float, float]:
        if "stratum" in da.dims:
            da = da.isel(stratum=0)
        return float(da.sel(stat="estimate")), float(da.sel(stat="mcse"))

    out = {}
    for name, var, _ in COMPARED:
        if name == "p_control_superior":
            out[name] = pick(oc["p_decision"].sel(arm=control, decision="superior"))
        elif name == "active_share":
            n_arm, n = oc["sample_size_arm_mean"], oc["sample_size_mean"]
            est = pick(n_arm.sel(arm=active))[0] / pick(n)[0]
            out[name] = (est, np.nan)
        elif "arm" in oc[var].dims:
            out[name] = pick(oc[var].sel(arm=active))
        else:
            out[name] = pick(oc[var])
    return out


def design_comparison_table(
    outcomes: Any,
    base_design: dict[str, Any],
    designs: dict[str, dict[str, Any]],
    scenarios: dict[str, dict[str, Any]],
    *,
    n_trials: int,
    seed: int,
    processes: int | str = 1,
) -> xr.Dataset:
    """Operating characteristics of every (design, scenario) on ``outcomes`` with one trial key (CF Dataset)."""
    from ..platform import design_from_dict, run_trials
    from ..platform._operating.trials import operating_characteristics

    control = base_design.get("control")
    if control is None:
        raise ConfigError("design.control", "study design_comparison compares arms against a control")
    active = next(a for a in base_design["arms"] if a != control)
    key = stage_key(seed, "trials")  # the run's own trials: same patients and keys for every design
    est = np.full((len(COMPARED), len(designs), len(scenarios)), np.nan)
    se = np.full_like(est, np.nan)
    for i, (dname, override) in enumerate(designs.items()):
        for j, (sname, scenario) in enumerate(scenarios.items()):
            try:
                design = design_from_dict(compose_design(base_design, override, scenario))
            except ConfigError as err:
                raise ConfigError(f"study.designs.{dname}", f"with scenario {sname!r}: {err}") from None
            oc = operating_characteristics(
                run_trials(outcomes, design, n_trials=n_trials, key=key, progress=False, processes=processes)
            )
            for k, (value, mcse) in enumerate(_one(oc, active, control).values()):
                est[k, i, j], se[k, i, j] = value, mcse
    data = {}
    for k, (name, _, long_name) in enumerate(COMPARED):
        units = "1" if not name.startswith("sample") else "1"
        data[name] = (("design", "scenario"), est[k], {"long_name": long_name, "units": units})
        data[f"{name}_mcse"] = (
            ("design", "scenario"),
            se[k],
            {"long_name": f"Monte-Carlo SE of {name}", "units": units},
        )
    return xr.Dataset(
        data,
        coords={"design": list(designs), "scenario": list(scenarios)},
        attrs={"Conventions": "CF-1.10", "title": "Designs side by side on the same patients", "n_trials": n_trials,
               "active_arm": active, "control_arm": control},
    )  # fmt: skip
