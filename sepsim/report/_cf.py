"""CF attributes of every netCDF sepsim writes, so that each opens with plain ``xr.open_dataset`` and explains itself.

* every data variable gets a ``long_name``, every numeric one ``units`` (``"1"`` for counts, shares and flags;
  ``"d"`` for days: never a ``"since"`` phrase, which CF readers decode as dates);
* decision and outcome codes get ``flag_values``/``flag_meanings`` from the enums in
  :mod:`sepsim.platform._results.codes`;
* integer sentinels (``-1``: no decision, no arm) become the ``_FillValue`` of their variable in ``results.nc``;
* swept hydra keys become plain dimension names (:func:`plain_name`).

Attributes a producer already set are kept (``setdefault``); only missing ones are added.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np
import xarray as xr

from ..platform._results.codes import ArmDecision, TrialOutcome
from ..platform._results.schema import DOMAIN_RESULTS_SCHEMA, RESULTS_SCHEMA

__all__ = ["annotate", "annotate_results", "annotate_oc", "plain_name", "KNOWN", "check_cf"]

_DECISION_FLAGS = {
    "flag_values": np.array([int(d) for d in ArmDecision], dtype=np.int8),
    "flag_meanings": " ".join(d.name.lower() for d in ArmDecision),
}
_OUTCOME_FLAGS = {
    "flag_values": np.array([int(o) for o in TrialOutcome], dtype=np.int8),
    "flag_meanings": " ".join(o.name.lower() for o in TrialOutcome),
}
_CODES = {
    "arm_decision": _DECISION_FLAGS,
    "trial_outcome": _OUTCOME_FLAGS,
    "stratum_outcome": _OUTCOME_FLAGS,
    "domain_outcome": _OUTCOME_FLAGS,
}
_SENTINELS = ("decision_look", "superior_arm", "final_control", "stratum_superior_arm", "domain_superior_arm")
_DAYS = ("look_time",)

# Variables of the cohort and outcome tables (sepsim/models) that their producers leave without a long name.
KNOWN: dict[str, dict[str, str]] = {
    "alive": {"long_name": "alive on the day", "units": "1"},
    "in_icu": {"long_name": "alive in the ICU on the day", "units": "1"},
    "died_in_icu": {"long_name": "died in the ICU by the horizon", "units": "1"},
    "died_in_hospital": {"long_name": "died in hospital by the horizon", "units": "1"},
    "responder": {"long_name": "mean SOFA over days 2-9 at least 1.4 points below baseline (IS-05)", "units": "1"},
    "sofa_baseline": {"long_name": "SOFA score at randomisation (day 0)", "units": "points"},
    "sofa_day9": {"long_name": "SOFA score on day 9 (NaN: dead)", "units": "points"},
    "sofa": {"long_name": "observed SOFA score (NaN: dead)"},
    "secondary_infection": {"long_name": "ICU-acquired infection by the horizon", "units": "1"},
    "solver_ok": {"long_name": "ODE solve succeeded", "units": "1"},
    "solver_steps": {"long_name": "accepted ODE solver steps", "units": "1"},
    "endotype": {"long_name": "endotype measured at screening (IS-04 rule)"},
    "endotype_true": {"long_name": "endotype of the true biomarker values (no assay error)"},
    "t_screen_h": {"long_name": "time from sepsis onset to screening", "units": "h"},
    "onset_to_screen_h": {"long_name": "time from sepsis onset to screening", "units": "h"},
    "weight_kg": {"long_name": "body weight", "units": "kg"},
    "age": {"long_name": "age", "units": "year"},
    "hematocrit": {"long_name": "haematocrit", "units": "1"},
    "crcl_ml_min": {"long_name": "creatinine clearance", "units": "mL/min"},
    "platelets": {"long_name": "platelet count", "units": "10^3/uL"},
    "male": {"long_name": "male sex (1) or female (0)", "units": "1"},
    "charlson": {"long_name": "Charlson comorbidity index", "units": "1"},
    "diabetes": {"long_name": "diabetes mellitus (1 yes, 0 no)", "units": "1"},
    "igg_g_l": {"long_name": "serum IgG", "units": "g/L"},
    "shock": {"long_name": "septic shock at baseline (1 yes, 0 no)", "units": "1"},
    "infection_site": {"long_name": "site of infection"},
    "organ_support_days": {"long_name": "days alive in the ICU with organ support, to the horizon"},
    "infection_response_d15": {"long_name": "clinical infection response at day 15 (test of cure)"},
    "organ_support": {"units": "1"},
    "sae": {"units": "1"},
    "ventilation": {"long_name": "invasive mechanical ventilation on the day", "units": "1"},
    "vasopressor": {"long_name": "vasopressor infusion on the day", "units": "1"},
    "ventilation_days": {"long_name": "days on invasive ventilation, to the horizon", "units": "d"},
    "vasopressor_days": {"long_name": "days on vasopressors, to the horizon", "units": "d"},
    "vfd_28": {"long_name": "ventilator-free days to day 28, 0 = dead by day 28", "units": "d"},
    "vasopressor_free_days_28": {"long_name": "vasopressor-free days to day 28, 0 = dead by day 28", "units": "d"},
    "shock_baseline": {"long_name": "vasopressor at randomisation (day 0)", "units": "1"},
    "hla_dr_pct_positive": {"long_name": "HLA-DR+ monocytes (calibrated conversion from AB/C)", "units": "%"},
    "hla_dr_mfi": {"long_name": "monocyte HLA-DR MFI (anchor study's instrument units)", "units": "1"},
    "screen_hla_dr_pct_positive": {"long_name": "HLA-DR+ monocytes measured at screening", "units": "%"},
    "screen_hla_dr_mfi": {"long_name": "monocyte HLA-DR MFI measured at screening", "units": "1"},
    "apache_ii": {"long_name": "APACHE II score at baseline", "units": "points"},
    "apache_ii_pred_mortality": {"long_name": "APACHE II predicted hospital mortality", "units": "1"},
    "saps_ii": {"long_name": "SAPS II score at baseline", "units": "points"},
    "saps_ii_pred_mortality": {"long_name": "SAPS II predicted hospital mortality", "units": "1"},
}
_PREFIXES = (  # (name prefix, attributes) for families of variables
    ("state_", {"long_name": "model state {rest} at the end of the day"}),
    ("screen_", {"long_name": "{rest} measured at screening (with assay error)"}),
    ("true_", {"long_name": "true {rest} at screening (no assay error)"}),
    ("dead_", {"long_name": "dead by day {rest}", "units": "1"}),
    ("crn_", {"long_name": "common random number for {rest} (same in every arm)", "units": "1"}),
    ("ae_", {"long_name": "therapy safety event {rest}", "units": "1"}),
)


def _fill(var: xr.Variable, name: str, known: Mapping[str, Mapping[str, str]]) -> None:
    attrs = var.attrs
    for k, v in known.get(name, {}).items():
        attrs.setdefault(k, v)
    for prefix, template in _PREFIXES:
        if name.startswith(prefix):
            rest = name[len(prefix) :].replace("_", " ").removesuffix("d") if prefix == "dead_" else name[len(prefix) :]
            for k, v in template.items():
                attrs.setdefault(k, v.format(rest=rest.replace("_", " ")))
    attrs.setdefault("long_name", name.replace("_", " "))
    kind = np.dtype(var.dtype).kind
    if kind in "biuf" and "flag_values" not in attrs:
        attrs.setdefault("units", "1")
    if isinstance(attrs.get("flag_values"), str):  # "0 1 2" -> numbers, as CF wants
        attrs["flag_values"] = np.array([int(v) for v in re.findall(r"-?\d+", attrs["flag_values"])], dtype=np.int8)


_SCHEMA_NAMES = {name: {"long_name": var.doc} for name, var in {**DOMAIN_RESULTS_SCHEMA, **RESULTS_SCHEMA}.items()}


def annotate(ds: xr.Dataset, known: Mapping[str, Mapping[str, str]] | None = None) -> xr.Dataset:
    """A shallow copy of ``ds`` with CF ``long_name``/``units`` added where missing (data variables and coords),
    from ``known``, the outcome-table names (:data:`KNOWN`) and the results schema; codes get their flags."""
    table = {**_SCHEMA_NAMES, **KNOWN, **(known or {})}
    for name in _DAYS:
        table[name] = {**table.get(name, {}), "units": "d"}
    out = ds.copy()  # shallow: new Variable objects with copied attrs, shared data
    for name, var in out.variables.items():
        if name in _CODES and "flag_values" not in var.attrs:
            var.attrs.update(_CODES[str(name)])
            var.attrs.pop("units", None)
        _fill(var, str(name), table)
    return out


def annotate_results(results: xr.Dataset) -> xr.Dataset:
    """``results.nc``: long names from the results schema, flags for codes, ``_FillValue`` for the -1 sentinels."""
    schema = DOMAIN_RESULTS_SCHEMA if "domain" in results.dims else RESULTS_SCHEMA
    out = annotate(results, {name: {"long_name": var.doc} for name, var in schema.items()})
    for name in _SENTINELS:
        if name in out and np.dtype(out[name].dtype).kind in "iu":
            out[name].encoding["_FillValue"] = np.array(-1, dtype=out[name].dtype)
            out[name].attrs["long_name"] = str(out[name].attrs["long_name"]).replace("(-1: none)", "(fill: none)")
    return out


def annotate_oc(oc: xr.Dataset) -> xr.Dataset:
    """``oc.nc``: units of every figure and what the ``stat`` coordinate holds."""
    from ._summary import units_of

    known = {str(n): {"units": units_of(str(n))} for n in oc.data_vars}
    known["stat"] = {"long_name": "estimate, its Monte-Carlo SE, and the 95% Monte-Carlo interval (lo, hi)"}
    return annotate(oc, known)


def plain_name(key: str) -> str:
    """A hydra override key as a plain netCDF name (``design.stopping.superiority`` ->
    ``design_stopping_superiority``)."""
    return re.sub(r"[^0-9A-Za-z_]", "_", key).strip("_") or "parameter"


def check_cf(ds: xr.Dataset) -> list[str]:
    """What keeps ``ds`` from being self-describing: variables without ``long_name``, numeric ones without
    ``units`` (or with flags), ``units`` with ``since``. Empty when all is well."""
    problems = []
    for name, var in ds.data_vars.items():
        if "long_name" not in var.attrs:
            problems.append(f"{name}: no long_name")
        numeric = np.dtype(var.dtype).kind in "biufm"
        if numeric and "units" not in var.attrs and "flag_values" not in var.attrs:
            problems.append(f"{name}: no units")
        if " since " in f" {var.attrs.get('units', '')} ":
            problems.append(f"{name}: units {var.attrs['units']!r} contain 'since'")
    return problems
