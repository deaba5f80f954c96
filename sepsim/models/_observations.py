"""Observation models added to the outcome table: organ-support kinds, mHLA-DR read-outs, baseline severity scores.

Each draws its own common random numbers (``fold_in`` tags of its module), per global patient index and shared by
every arm, so nothing here changes an outcome that existed before (``dead_28d``, ``sofa``, ...) for the same seed.
Definitions and sources: ``_support_kinds.py``, ``_hla_dr_assay.py``, ``_severity_baseline.py``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr
from jaxtyping import Array, Key

from ._hla_dr_assay import HLA_DR_CONVERSION, hla_dr_mfi, hla_dr_percent_positive
from ._severity_baseline import baseline_severity, severity_draws
from ._support_kinds import FREE_DAYS_HORIZON, free_days, involvement_draws, organ_involvement, support_kinds

__all__ = ["add_observations"]

_PA, _PAD = ("patient", "arm"), ("patient", "arm", "day")


def add_observations(ds: xr.Dataset, covariates: dict[str, Any], key: Key[Array, ""]) -> xr.Dataset:
    """Add the observation-model variables to an outcome table that already holds ``organ_support``.

    ``covariates``: per patient ``age``, ``platelets``, ``hematocrit``, ``charlson`` and ``shock`` (None: absent).
    """
    patients = ds["patient"].values
    death = np.nan_to_num(ds.death_day.values, nan=np.inf)
    organ = ds.state_organ_dysfunction.values
    cv, resp = organ_involvement(involvement_draws(key, patients), covariates.get("shock"))
    vent, vaso = support_kinds(organ, ds.organ_support.values, cv, resp)
    ds["ventilation"] = (_PAD, vent, {"long_name": "invasive mechanical ventilation on the day", "units": "1"})
    ds["vasopressor"] = (_PAD, vaso, {"long_name": "vasopressor infusion on the day", "units": "1"})
    ds["ventilation_days"] = (
        _PA,
        vent.sum(axis=-1).astype(np.int16),
        _days("days on invasive ventilation, to the horizon"),
    )
    ds["vasopressor_days"] = (_PA, vaso.sum(axis=-1).astype(np.int16), _days("days on vasopressors, to the horizon"))
    if int(ds.attrs["days"]) >= FREE_DAYS_HORIZON:  # dead by day 28 must be observable
        ds["vfd_28"] = (_PA, free_days(vent, death), _days("ventilator-free days to day 28, 0 = dead by day 28"))
        free = _days("vasopressor-free days to day 28, 0 = dead by day 28")
        ds["vasopressor_free_days_28"] = (_PA, free_days(vaso, death), free)
    shock0, vent0 = vaso[:, 0, 0], vent[:, 0, 0]  # day 0 precedes every arm's action: identical in every arm
    ds["shock_baseline"] = ("patient", shock0, {"long_name": "vasopressor at randomisation (day 0)", "units": "1"})

    alive = ds.alive.values
    abc = np.where(alive, ds.state_hla_dr.values, np.nan)
    conv = {f"conversion_{k}": float(v) for k, v in HLA_DR_CONVERSION._asdict().items()}
    pct, mfi = {"units": "%", **conv}, {"units": "1", "note": "instrument units of the anchor study", **conv}
    ds["hla_dr_pct_positive"] = (_PAD, hla_dr_percent_positive(abc), pct)  # true AB/C, NaN after death
    ds["hla_dr_mfi"] = (_PAD, hla_dr_mfi(abc), mfi)
    ds["screen_hla_dr_pct_positive"] = ("patient", hla_dr_percent_positive(ds.screen_hla_dr.values), pct)
    ds["screen_hla_dr_mfi"] = ("patient", hla_dr_mfi(ds.screen_hla_dr.values), mfi)

    # O at randomisation precedes every arm's action: arm 0's, or another arm's where arm 0's solve failed (NaN)
    o0 = np.where(np.isfinite(organ[:, 0, 0]), organ[:, 0, 0], np.fmax.reduce(organ[:, :, 0], axis=1))
    scores = baseline_severity(o0, covariates, cv, resp, shock0, vent0, severity_draws(key, patients))
    for name, value in scores._asdict().items():
        ds[name] = ("patient", value)
    return ds


def _days(long_name: str) -> dict[str, str]:
    return {"units": "d", "long_name": long_name}
