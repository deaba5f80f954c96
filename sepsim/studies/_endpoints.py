"""ImmunoSep secondary end points read from the mechanistic outcome table (``sepsim.models.simulate_outcomes``).

What the table already holds is used as is: ``responder`` (primary, IS-05), ``dead_28d``/``dead_90d``, ``sae``
(ICH E2A), ``ae_anemia``/``ae_bleeding`` (IS-14 signals). Defined here, from the table's daily states:

* **SOFA response by day D** (ImmunoSep Table 2, "≥1.4-point decrease of mean SOFA score d 2 to 15"; primary end
  point for D = 9, IS-05): alive on day D and the mean over days 2..D of ``SOFA(0) - SOFA(d)`` at least 1.4 points,
  days after death counting as no decrease: the table's own ``responder`` rule, which D = 9 reproduces exactly.
* **Reversal of immune dysfunction by day 28** (ImmunoSep SAP, IS-04: "HLA-DR > 8000 with ferritin < 4420"):
  alive on some day 1..28 with ``state_hla_dr`` > 8000 AB/C and ``state_ferritin`` < 4420 ng/mL. The model's daily
  true states are used; the trial measured on scheduled visits in a sub-study (125 patients, eTable 10) [U].
* **Superinfection by day 15**: an ICU-acquired infection (``infection_day``) on or before day 15 (the table's
  infection-response code ranks failure above superinfection, so it is not used here).
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from jaxtyping import Bool

__all__ = ["REVERSAL_HLA_DR", "REVERSAL_FERRITIN", "sofa_response", "immune_dysfunction_reversal", "superinfection_by"]

RESPONSE_DROP = 1.4  # SOFA points [V IS-05]
REVERSAL_HLA_DR = 8000.0  # AB/C [V IS-04, SAP]
REVERSAL_FERRITIN = 4420.0  # ng/mL [V IS-04, SAP]


def _death(ds: xr.Dataset) -> np.ndarray:
    return np.nan_to_num(np.asarray(ds["death_day"].values, dtype=np.float64), nan=np.inf)


def _need_days(ds: xr.Dataset, day: int, what: str) -> None:
    if ds.sizes["day"] <= day:
        raise ValueError(f"{what} needs daily outcomes to day {day}; the table ends on day {ds.sizes['day'] - 1}")


def sofa_response(ds: xr.Dataset, last_day: int) -> Bool[np.ndarray, "patient arm"]:
    """Alive on ``last_day`` and mean SOFA over days 2..``last_day`` at least 1.4 points below day 0."""
    _need_days(ds, last_day, "sofa_response")
    sofa = np.asarray(ds["sofa"].transpose("patient", "arm", "day").values, dtype=np.float64)
    drop = sofa[:, :, [0]] - sofa[:, :, 2 : last_day + 1]
    mean_drop = np.where(np.isnan(drop), 0.0, drop).mean(axis=2)
    return (_death(ds) > float(last_day)) & (mean_drop >= RESPONSE_DROP)


def immune_dysfunction_reversal(ds: xr.Dataset, by_day: int = 28) -> Bool[np.ndarray, "patient arm"]:
    """Alive on some day 1..``by_day`` with mHLA-DR > 8000 AB/C and ferritin < 4420 ng/mL (ImmunoSep SAP)."""
    _need_days(ds, by_day, "immune_dysfunction_reversal")
    days = slice(1, by_day + 1)
    hla = ds["state_hla_dr"].transpose("patient", "arm", "day").values[:, :, days]
    fer = ds["state_ferritin"].transpose("patient", "arm", "day").values[:, :, days]
    alive = ds["alive"].transpose("patient", "arm", "day").values[:, :, days]
    return np.any(alive & (hla > REVERSAL_HLA_DR) & (fer < REVERSAL_FERRITIN), axis=2)


def superinfection_by(ds: xr.Dataset, day: float = 15.0) -> Bool[np.ndarray, "patient arm"]:
    """An ICU-acquired infection on or before ``day``."""
    t = np.nan_to_num(np.asarray(ds["infection_day"].transpose("patient", "arm").values, np.float64), nan=np.inf)
    return t <= day
