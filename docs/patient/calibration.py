"""Placebo calibration read-out of the patient model: ``python docs/patient/calibration.py [N] [SEED] [THERAPY]``.

Simulates ``N`` virtual patients of the calibrated population (:data:`COHORT`: the posterior of the population
model, ImmunoSep's infection types, as ``conf/population/immunosep.yaml``; cohort ``stage_key(SEED, "cohort")``,
outcomes ``stage_key(SEED, "outcomes")``, placebo, 365 days: the ODE over 90 days, the course after it closed form)
and prints the numbers of the calibration table in README_patient.md ("Calibration") with exact binomial 95%
intervals (Clopper-Pearson).
Targets: /work/shared/science/calibration_targets.yaml.
With ``THERAPY`` (e.g. ``anakinra``), the same patients are also solved under
``arm_from_config({"therapies": [THERAPY]})`` and its rows are printed beside placebo: a prediction, never a target.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
import xarray as xr
from scipy.stats import beta

from sepsim import stage_key
from sepsim.models import CohortConfig, Placebo, simulate_cohort, simulate_outcomes
from sepsim.models.interventions import arm_from_config

__all__ = ["COHORT", "clopper_pearson", "placebo_outcomes", "calibration_table"]

# The population the calibration targets were measured in: the refitted posterior of the population model
# (sepsim.models.population), restricted to ImmunoSep's infection types CAP, HAP, VAP, primary bacteraemia (IS-01,
# IS-22), exactly conf/population/immunosep.yaml (the default population of the CLI).
COHORT = CohortConfig(source="posterior", inclusion={"infection_site": [0, 1, 2, 3]})


def clopper_pearson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Exact binomial interval for ``k`` successes out of ``n``."""
    a = (1.0 - level) / 2.0
    lo = 0.0 if k == 0 else float(beta.ppf(a, k, n - k + 1))
    hi = 1.0 if k == n else float(beta.ppf(1.0 - a, k + 1, n - k))
    return lo, hi


def placebo_outcomes(n: int, seed: int = 0, arms: Any = None) -> xr.Dataset:
    """Outcomes of ``n`` patients of cohort seed ``seed`` under placebo (and optional further arms)."""
    cohort = simulate_cohort(n, key=stage_key(seed, "cohort"), config=COHORT)  # float64 whatever the JAX setting
    arms = [Placebo()] if arms is None else [Placebo(), *arms]
    return simulate_outcomes(cohort, arms, key=stage_key(seed, "outcomes"), days=365, chunk_size=1000, progress=False)


def _share(mask: np.ndarray, within: np.ndarray | None = None) -> str:
    within = np.ones_like(mask, bool) if within is None else within
    k, n = int((mask & within).sum()), int(within.sum())
    if n == 0:
        return "0/0"
    lo, hi = clopper_pearson(k, n)
    return f"{k}/{n} = {100 * k / n:.1f}% ({100 * lo:.1f}-{100 * hi:.1f})"


def calibration_table(out: xr.Dataset, arm: str = "placebo") -> dict[str, str]:
    """The README calibration rows for one arm of ``out`` (endotypes are the screening classification)."""
    o = out.sel(arm=arm)
    ok = o.solver_ok.values
    endo = out.endotype.values
    dead, resp = o.dead_28d.values & ok, o.responder.values & ok
    mals, ip, unc = endo == "MALS", endo == "immunoparalysis", endo == "unclassified"
    enrolled = mals | ip  # ImmunoSep enrolled only MALS or immunoparalysis: its arm-level targets refer to them
    alive28 = ~dead
    sofa0 = o.sofa_baseline.values
    q = np.nanpercentile(sofa0, [25, 50, 75])
    fall = (o.state_ferritin.values[:, 3] <= 0.85 * out.true_ferritin.values) & ok  # from screening to day 3
    rows = {
        "MALS ~7% (IS-02)": _share(mals),
        "immunoparalysis ~34% (IS-02)": _share(ip),
        "unclassified ~53-59% (IS-02)": _share(unc),
        "all-comers 28-day mortality": _share(dead),
        "all-comers responders": _share(resp),
        "enrolled (MALS or immunoparalysis) 28-day mortality 49.7% (IS-08p)": _share(dead, enrolled),
        "enrolled responders 17.9% (IS-05)": _share(resp, enrolled),
        "MALS responders 17.4% (IS-06)": _share(resp, mals),
        "MALS 28-day mortality ~60-80% (MA-01)": _share(dead, mals),
        "immunoparalysis responders 18.0% (IS-06)": _share(resp, ip),
        "unclassified 28-day mortality": _share(dead, unc),
        "immunoparalysis 28-day mortality": _share(dead, ip),
        "median baseline SOFA 9 (IQR 7-11)": f"{q[1]:.0f} (IQR {q[0]:.0f}-{q[2]:.0f})",
        "dead by day 1": _share((o.death_day.values <= 1.0) & ok),
        "[prediction] all-comers 60 / 90 / 365-day mortality": " / ".join(
            _share(o[f"dead_{d}d"].values & ok) for d in (60, 90, 365)
        ),
        "[prediction] died in ICU / in hospital": f"{_share(o.died_in_icu.values & ok)} / "
        f"{_share(o.died_in_hospital.values & ok)}",
        "[prediction] ICU / hospital LOS after randomisation, 28-day survivors, median (IQR), d": " / ".join(
            "{:.1f} ({:.1f}-{:.1f})".format(*np.percentile(o[v].values[alive28 & ok], [50, 25, 75]))
            for v in ("icu_los_d", "hospital_los_d")
        ),
        "[prediction] survivors' SOFA day 0 / 7 / 14 / 28, mean": " / ".join(
            f"{np.nanmean(o.sofa.values[alive28 & ok, d]):.1f}" for d in (0, 7, 14, 28)
        ),
        "[prediction] deaths after ICU discharge, among patients discharged alive": _share(
            np.isfinite(o.death_day.values) & np.isfinite(o.icu_discharge_day.values) & ok,
            np.isfinite(o.icu_discharge_day.values),
        ),
        "ICU-acquired infection by day 28": _share(o.secondary_infection.values & ok),
        "median screening ALC, 10^3/uL (Drewry 2014: 0.7 at onset)": f"{np.median(out.screen_lymphocytes.values):.2f}",
        "median screening IL-6, pg/mL (PMC6219151: ~400-500 at admission)": f"{np.median(out.screen_il6.values):.0f}",
        "MALS ferritin falls >= 15% by day 3": _share(fall, mals),
        "ferritin falls < 15% by day 3 among 10-day deaths (MA-03: sensitivity > 90%)": _share(
            ~fall, (o.death_day.values <= 10.0) & ok
        ),
        "solver failures": f"{int((~ok).sum())}/{ok.size}",
    }
    return rows


def main(n: int = 4000, seed: int = 0, therapy: str | None = None) -> None:
    if therapy is None:
        out = placebo_outcomes(n, seed)
        for k, v in calibration_table(out).items():
            print(f"| {k} | {v} |")
        return
    arm = arm_from_config({"therapies": [therapy]})
    out = placebo_outcomes(n, seed, arms=[arm])
    name = str(out.arm.values[1])
    pla, trt = calibration_table(out), calibration_table(out, arm=name)
    print(f"| row | placebo | {name} |")
    for k in pla:
        print(f"| {k} | {pla[k]} | {trt[k]} |")


if __name__ == "__main__":  # float64: simulate_cohort / simulate_outcomes scope it themselves
    args = sys.argv[1:]
    main(*(int(a) for a in args[:2]), *args[2:3])
