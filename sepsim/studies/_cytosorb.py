"""The ``cytosorb`` study: an adsorber RCT in mechanically ventilated septic patients with lung injury (Schädler et
al. 2017, PLoS One 12:e0187015: CytoSorb 6 h/day for up to 7 days vs standard care, n = 97 analysed; IL-6
elimination, organ function, 60-day mortality; mechanistic_models.md, CytoSorb table).

Eligibility. The model has neither a ventilation state nor a respiratory SOFA component: one organ-dysfunction
state ``O`` drives SOFA and organ support. The closest defined criterion is **organ support at randomisation**
(day 0, ``O > o_ready``: invasive or non-invasive ventilation, high-flow oxygen or vasopressors still needed;
``sepsim/models/_trial_outcomes.py``) in patients with a **lung source** (CAP, HAP or VAP, set by
``population.inclusion.infection_site`` in the experiment), standing in for acute lung injury [U: proxy].

Course. Per arm and day: the geometric mean IL-6 and the mean SOFA of the patients alive, the share alive, and
the paired contrast (same patients under both arms): mean log IL-6 ratio device / standard care with its 95%
confidence interval (Student t over patients alive in both arms).
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from jaxtyping import Bool
from scipy.stats import t as student_t

__all__ = ["ventilated_at_randomisation", "cytosorb_course"]


def ventilated_at_randomisation(table: xr.Dataset) -> Bool[np.ndarray, " patient"]:
    """Organ support on day 0 (the same under every arm: treatment starts at randomisation)."""
    support = table["organ_support"].transpose("patient", "arm", "day").values
    return np.asarray(support[:, 0, 0], dtype=bool)


def cytosorb_course(table: xr.Dataset, *, control: str, device: str, last_day: int = 14) -> xr.Dataset:
    """IL-6, SOFA and survival over days 0..``last_day`` per arm, and the paired IL-6 contrast (CF Dataset)."""
    last_day = min(last_day, table.sizes["day"] - 1)
    sub = table.isel(day=slice(0, last_day + 1))
    il6 = sub["state_il6"].transpose("patient", "arm", "day").values
    sofa = sub["sofa"].transpose("patient", "arm", "day").values
    alive = sub["alive"].transpose("patient", "arm", "day").values
    arms = [str(a) for a in table["arm"].values]
    log_il6 = np.where(alive, np.log(il6), np.nan)
    n_alive = alive.sum(axis=0)  # (arm, day)
    with np.errstate(invalid="ignore"):
        gmean = np.exp(np.nanmean(log_il6, axis=0))
        sd = np.nanstd(log_il6, axis=0, ddof=1)
        half = student_t.ppf(0.975, np.maximum(n_alive - 1, 1)) * sd / np.sqrt(np.maximum(n_alive, 1))
        sofa_mean = np.nanmean(np.where(alive, sofa, np.nan), axis=0)
    c, d = arms.index(control), arms.index(device)
    both = alive[:, c] & alive[:, d]
    ratio = np.where(both, log_il6[:, d] - log_il6[:, c], np.nan)
    m = both.sum(axis=0)
    with np.errstate(invalid="ignore"):
        r_mean = np.nanmean(ratio, axis=0)
        r_half = student_t.ppf(0.975, np.maximum(m - 1, 1)) * np.nanstd(ratio, axis=0, ddof=1) / np.sqrt(m)
    ad, d_ = ("arm", "day"), ("day",)
    return xr.Dataset(
        {
            "il6_geometric_mean": (ad, gmean, {"units": "pg/mL", "long_name": "geometric mean IL-6, patients alive"}),
            "il6_gm_lower": (ad, np.exp(np.log(gmean) - half), {"units": "pg/mL", "long_name": "95% CI, lower"}),
            "il6_gm_upper": (ad, np.exp(np.log(gmean) + half), {"units": "pg/mL", "long_name": "95% CI, upper"}),
            "sofa_mean": (ad, sofa_mean, {"units": "points", "long_name": "mean observed SOFA, patients alive"}),
            "alive_share": (ad, alive.mean(axis=0), {"units": "1", "long_name": "share of the pool alive"}),
            "il6_ratio": (d_, np.exp(r_mean), {"units": "1", "long_name": f"geometric mean IL-6 ratio {device} / "
                                               f"{control}, same patients alive under both"}),
            "il6_ratio_lower": (d_, np.exp(r_mean - r_half), {"units": "1", "long_name": "95% CI, lower"}),
            "il6_ratio_upper": (d_, np.exp(r_mean + r_half), {"units": "1", "long_name": "95% CI, upper"}),
        },
        coords={"arm": arms, "day": np.arange(last_day + 1)},
        attrs={"Conventions": "CF-1.10", "title": "CytoSorb RCT: IL-6 and organ function over time",
               "n_patients": int(table.sizes["patient"])},
    )  # fmt: skip
