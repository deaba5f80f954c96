"""The figures quoted in README_patient.md for the observation models (``_observations.py``), from one run.

``python docs/patient/observation_check.py N SEED`` simulates N patients of the unselected
posterior population under placebo for 28 days (cohort ``stage_key(SEED, "cohort")``, outcomes
``stage_key(SEED, "outcomes")``) and prints: the calibrated vasopressor-at-randomisation share against its target,
the predictions (ventilation at randomisation among patients in shock vs EPISS; support days; % HLA-DR+ by
endotype) and the baseline severity scores against the model's own mortality.
"""

from __future__ import annotations

import sys

import numpy as np
import xarray as xr
from scipy.stats import mannwhitneyu

from sepsim import stage_key
from sepsim.models import CohortConfig, Placebo, simulate_cohort, simulate_outcomes
from sepsim.models._support_kinds import SHOCK_SHARE

__all__ = ["observation_figures"]


def _auroc(score: np.ndarray, event: np.ndarray) -> float:
    """AUROC = Mann-Whitney U / (n_event n_other) (ties count one half)."""
    pos, neg = score[event], score[~event]
    return float(mannwhitneyu(pos, neg).statistic / pos.size / neg.size)


def observation_figures(t: xr.Dataset) -> dict[str, float]:
    """Summary figures of a placebo outcome table with a horizon of at least 28 days."""
    p = t.isel(arm=0)
    shock = p.shock_baseline.values
    dead = p.dead_28d.values
    vent0 = p.ventilation.values[:, 0]
    alive = ~dead
    out = {
        f"vasopressor at randomisation (target {SHOCK_SHARE:.3f})": shock.mean(),
        "ventilated at randomisation, all": vent0.mean(),
        "ventilated at randomisation | shock (EPISS 0.839)": vent0[shock].mean(),
        "ventilation days, mean": p.ventilation_days.values.mean(),
        "vasopressor days, mean": p.vasopressor_days.values.mean(),
        "organ-support days, mean": p.organ_support_days.values.mean(),
        "VFD-28 median, 28-day survivors": np.median(p.vfd_28.values[alive]),
        "vasopressor-free days median, 28-day survivors": np.median(p.vasopressor_free_days_28.values[alive]),
        "shock covariate agrees with shock_baseline": (t.shock.values.astype(bool) == shock).mean(),
    }
    for e in ("unclassified", "MALS", "immunoparalysis"):
        out[f"screening % HLA-DR+ median, {e}"] = np.median(t.screen_hla_dr_pct_positive.values[t.endotype == e])
    for s in ("apache_ii", "saps_ii"):
        out[f"{s} median"] = np.median(t[s].values)
        out[f"{s} predicted mortality, mean"] = t[f"{s}_pred_mortality"].values.mean()
        out[f"{s} AUROC for 28-day death"] = _auroc(t[s].values.astype(float), dead)
    out["28-day mortality"] = dead.mean()
    return {k: float(v) for k, v in out.items()}


if __name__ == "__main__":  # float64: simulate_cohort / simulate_outcomes scope it themselves
    n, seed = int(sys.argv[1]), int(sys.argv[2])
    cohort = simulate_cohort(n, key=stage_key(seed, "cohort"), config=CohortConfig(source="posterior"))
    table = simulate_outcomes(cohort, [Placebo()], key=stage_key(seed, "outcomes"), days=28, progress=False)
    for k, v in observation_figures(table).items():
        print(f"{k:55s} {v:.3f}")
