"""CF attributes of every netCDF sepsim writes, so that each opens with plain ``xr.open_dataset`` and explains itself.

* every data variable gets a ``long_name``, every numeric one ``units`` (``"1"`` for counts, shares and flags;
  ``"d"`` for days: never a ``"since"`` phrase, which CF readers decode as dates);
* decision and outcome codes get ``flag_values``/``flag_meanings`` from the enums in
  :mod:`sepsim.platform._results.codes`;
* the tables of names (:data:`KNOWN`: the cohort and outcome-table variables) and :func:`annotate` live in the light
  :mod:`sepsim._cf_attrs` (the stage cache uses them); they are re-exported here;
* integer sentinels (``-1``: no decision, no arm) become the ``_FillValue`` of their variable in ``results.nc``;
* swept hydra keys become plain dimension names (:func:`plain_name`).

Attributes a producer already set are kept (``setdefault``); only missing ones are added.
"""

from __future__ import annotations

import re

import numpy as np
import xarray as xr

from .._cf_attrs import KNOWN as KNOWN
from .._cf_attrs import annotate as annotate
from ..platform._results.schema import DOMAIN_RESULTS_SCHEMA, RESULTS_SCHEMA

__all__ = ["annotate", "annotate_results", "annotate_oc", "plain_name", "KNOWN", "check_cf"]

_SENTINELS = ("decision_look", "superior_arm", "final_control", "stratum_superior_arm", "domain_superior_arm")


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
