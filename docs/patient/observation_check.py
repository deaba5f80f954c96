"""The figures quoted in README_patient.md for the observation models (``_observations.py``), from one run.

``python docs/patient/observation_check.py N SEED`` simulates N patients of the unselected
posterior population (:data:`COHORT`: the refitted population model, every infection site, as
``conf/population/unselected.yaml``) under placebo for 28 days (cohort ``stage_key(SEED, "cohort")``, outcomes
``stage_key(SEED, "outcomes")``) and prints: the calibrated vasopressor-at-randomisation share against its target,
the predictions (ventilation at randomisation among patients in shock vs EPISS; support days; % HLA-DR+ by
endotype), the agreement of the population's ``shock`` covariate with the observed ``shock_baseline``, placebo
28-day mortality with and without ``shock`` (against the CCM 2021 cross-check, a prediction) and the baseline
severity scores against the model's own mortality. Shares carry their binomial Monte-Carlo SE.
"""

from __future__ import annotations

import sys

import numpy as np
import xarray as xr
from scipy.stats import mannwhitneyu

from sepsim import stage_key
from sepsim.models import CohortConfig, Placebo, simulate_cohort, simulate_outcomes

__all__ = ["COHORT", "SHOCK_SHARE", "observation_figures"]

# Every virtual patient of the refitted population model (no inclusion criteria): conf/population/unselected.yaml.
COHORT = CohortConfig(source="posterior")
# Vasopressor-at-randomisation target: CCM 2021 shock shares by place of acquisition (31.4 / 25.4 / 20.3%, ICU
# sepsis, PMC8508729, clinical_course.md 7) weighted with the cohort's site shares (0.301, README_patient.md).
SHOCK_SHARE = 0.301


def _se(p: float, n: int) -> float:
    """Binomial Monte-Carlo SE of a share ``p`` of ``n`` patients."""
    return float(np.sqrt(p * (1.0 - p) / max(n, 1)))


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
    }
    cov = t.shock.values.astype(bool)
    out["shock covariate agrees with shock_baseline"] = (cov == shock).mean()
    out["  (agreement if independent)"] = cov.mean() * shock.mean() + (1 - cov.mean()) * (1 - shock.mean())
    out["shock covariate share"] = cov.mean()
    out["P(shock_baseline | shock=1)"] = shock[cov].mean()
    out["P(shock_baseline | shock=0)"] = shock[~cov].mean()
    out["28-day mortality | shock=1 (CCM 2021 ICU mortality 24.9%)"] = dead[cov].mean()
    out["28-day mortality | shock=0"] = dead[~cov].mean()
    out["died in ICU by day 28 | shock=1"] = p.died_in_icu.values[cov].mean()
    out["died in ICU by day 28, all (CCM 2021 ICU mortality 12.9%)"] = p.died_in_icu.values.mean()
    for e in ("unclassified", "MALS", "immunoparalysis"):
        out[f"screening % HLA-DR+ median, {e}"] = np.median(t.screen_hla_dr_pct_positive.values[t.endotype == e])
    for s in ("apache_ii", "saps_ii"):
        out[f"{s} median"] = np.median(t[s].values)
        out[f"{s} predicted mortality, mean"] = t[f"{s}_pred_mortality"].values.mean()
        out[f"{s} AUROC for 28-day death"] = _auroc(t[s].values.astype(float), dead)
    out["28-day mortality"] = dead.mean()
    return {k: float(v) for k, v in out.items()}


def _denominator(t: xr.Dataset, name: str) -> int:
    """Patients behind a share printed by :func:`observation_figures` (for its Monte-Carlo SE)."""
    cov = t.shock.values.astype(bool)
    if "| shock=1" in name:
        return int(cov.sum())
    if "| shock=0" in name:
        return int((~cov).sum())
    if "| shock" in name:
        return int(t.isel(arm=0).shock_baseline.values.sum())
    return int(t.sizes["patient"])


if __name__ == "__main__":  # float64: simulate_cohort / simulate_outcomes scope it themselves
    n, seed = int(sys.argv[1]), int(sys.argv[2])
    cohort = simulate_cohort(n, key=stage_key(seed, "cohort"), config=COHORT)
    table = simulate_outcomes(cohort, [Placebo()], key=stage_key(seed, "outcomes"), days=28, progress=False)
    for k, v in observation_figures(table).items():
        share = 0.0 <= v <= 1.0 and not any(w in k for w in ("days", "median", "AUROC", "independent", "predicted"))
        se = f"  (MC SE {_se(v, _denominator(table, k)):.3f}, n = {_denominator(table, k)})" if share else ""
        print(f"{k:62s} {v:.3f}{se}")
