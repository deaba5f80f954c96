"""Per-therapy predictions of the patient model: ``python docs/patient/predictions.py [N] [SEED] [DAYS]``.

``python docs/patient/predictions.py clearance [N] [SEED]`` dissects the adsorber direction instead: constant
first-order clearance 0.1/h for 7 days of IL-10 only, of TNF + IL-1b + IL-6 only, and of all four (28 days).
``python docs/patient/predictions.py attributable [N] [SEED]``: deaths attributable to ICU-acquired infections (the
same placebo patients with and without their infection draws, 90 days).

Solves ``N`` virtual patients of the calibrated ImmunoSep population (:data:`COHORT`, the refitted posterior,
as ``conf/population/immunosep.yaml``; cohort ``stage_key(SEED, "cohort")``, outcomes ``stage_key(SEED, "outcomes")``)
under placebo and every shipped therapy/device regimen (the ``conf/therapy`` and ``conf/adsorber`` settings, with
ImmunoSep's 15-day anakinra), and prints one markdown row per arm: 28-day mortality in all-comers and within each
screening endotype, ImmunoSep responders among enrolled (MALS or immunoparalysis), 90-day mortality, ICU-acquired
infection, organ-support-free days and serious adverse events, then each arm's 28-day mortality difference from
placebo with its paired Monte-Carlo SE. Nothing here is fitted: the population model's likelihood holds the placebo
targets and ImmunoSep's responders to anakinra in MALS and rhIFN-gamma in immunoparalysis (IS-06; read-out in
``calibration.py`` beside this file), through patient parameters only; every other cell is a prediction.
"""

from __future__ import annotations

import sys

import numpy as np
import xarray as xr

from sepsim import stage_key
from sepsim.config import build_arms  # the study-label wrapper: the arm coordinate carries the regimen's name
from sepsim.models import CohortConfig, ConstantEffectArm, Placebo, simulate_cohort, simulate_outcomes

# The population model's posterior restricted to ImmunoSep's infection types (IS-01, IS-22): the calibration cohort
# of calibration.py and the CLI's default population (conf/population/immunosep.yaml).
COHORT = CohortConfig(source="posterior", inclusion={"infection_site": [0, 1, 2, 3]})

__all__ = ["COHORT", "REGIMENS", "prediction_rows", "difference_rows", "clearance_rows", "attributable_rows"]

# arm name -> arm_from_config spec (the regimens of conf/therapy and conf/adsorber)
REGIMENS = {
    "anakinra_15d": {"therapies": [{"name": "anakinra", "n_doses": 45}]},
    "interferon_gamma": {"therapies": ["interferon_gamma"]},
    "gm_csf": {"therapies": ["gm_csf"]},
    "interleukin7": {"therapies": ["interleukin7"]},
    "interleukin7_iv": {"therapies": [{"name": "interleukin7", "route": "iv", "n_doses": 6}]},
    "anti_pd1": {"therapies": ["anti_pd1"]},
    "thymosin_alpha1": {"therapies": ["thymosin_alpha1"]},
    "ivig": {"therapies": ["ivig"]},
    "igm_ivig": {"therapies": ["igm_ivig"]},
    "ulinastatin_ta1": {"therapies": ["ulinastatin", "thymosin_alpha1"]},
    "cytosorb_sessions": {
        "adsorber": {"name": "cytosorb", "mode": "sessions", "hours_per_day": 6.0, "qb_ml_min": 250.0}
    },
    "toraymyxin": {"adsorber": {"name": "toraymyxin", "qb_ml_min": 100.0}},
}


def _pct(x: np.ndarray) -> str:
    return f"{100 * x.mean():.1f}" if x.size else "-"


def prediction_rows(out: xr.Dataset) -> list[str]:
    """Markdown rows (header first) of ``out`` (every arm of one outcome table)."""
    endo = out.endotype.values
    enrolled = (endo == "MALS") | (endo == "immunoparalysis")
    head = (
        "| arm | 28-d mortality all | unclassified | MALS | immunoparalysis | responders enrolled | 90-d mortality | "
        "ICU-acquired infection | OSFD-21 mean | SAE |"
    )
    rows = [head, "|" + "---|" * 10]
    for arm in out.arm.values:
        o = out.sel(arm=arm)
        ok = o.solver_ok.values
        d28 = o.dead_28d.values
        cells = [_pct(d28[ok])] + [_pct(d28[ok & (endo == e)]) for e in ("unclassified", "MALS", "immunoparalysis")]
        cells += [_pct(o.responder.values[ok & enrolled]), _pct(o.dead_90d.values[ok])]
        cells += [_pct(o.secondary_infection.values[ok]), f"{o.osfd_21.values[ok].mean():.1f}", _pct(o.sae.values[ok])]
        rows.append(f"| {arm} | " + " | ".join(cells) + " |")
    return rows


def difference_rows(out: xr.Dataset) -> list[str]:
    """Markdown rows: each arm's 28-day mortality minus placebo's, in points, with its paired Monte-Carlo SE (the
    same patients and draws under both arms: SE from the discordant pairs), all-comers and within each endotype."""
    endo = out.endotype.values
    groups = {"all": np.ones(endo.shape, bool)} | {e: endo == e for e in ("unclassified", "MALS", "immunoparalysis")}
    base = out.sel(arm="placebo")
    rows = ["| arm | " + " | ".join(f"28-d mortality - placebo, {g} (SE)" for g in groups) + " |", "|" + "---|" * 5]
    for arm in out.arm.values[1:]:
        o = out.sel(arm=arm)
        cells = []
        for m in groups.values():
            ok = m & o.solver_ok.values & base.solver_ok.values
            d = o.dead_28d.values[ok].astype(float) - base.dead_28d.values[ok].astype(float)
            cells.append(f"{100 * d.mean():+.1f} ({100 * d.std(ddof=1) / np.sqrt(d.size):.1f})")
        rows.append(f"| {arm} | " + " | ".join(cells) + " |")
    return rows


def main(n: int = 2000, seed: int = 0, days: int = 90) -> None:
    cohort = simulate_cohort(n, key=stage_key(seed, "cohort"), config=COHORT)  # float64 whatever the JAX setting
    arms = [Placebo(), *build_arms(REGIMENS)]
    out = simulate_outcomes(cohort, arms, key=stage_key(seed, "outcomes"), days=days, progress=False)
    counts = {e: int((out.endotype.values == e).sum()) for e in ("unclassified", "MALS", "immunoparalysis")}
    print(
        f"n = {n} (endotypes {counts}), seed {seed}, horizon {days} d; percentages; solver failures "
        f"{int((~out.solver_ok.values).sum())}"
    )
    print("\n".join(prediction_rows(out)))
    print("\n".join(difference_rows(out)))


def clearance_rows(n: int = 2000, seed: int = 0, k: float = 0.1) -> list[str]:
    """28-day mortality (all, by endotype), MALS responders, MALS damage and median HLA-DR on day 3, ICU-acquired
    infection, under placebo and constant cytokine clearances ``k`` (1/h) for 7 days."""
    cohort = simulate_cohort(n, key=stage_key(seed, "cohort"), config=COHORT)  # float64 whatever the JAX setting
    pro = {"clearance_tnf": k, "clearance_il1b": k, "clearance_il6": k}
    arms = [
        Placebo(),
        ConstantEffectArm("il10_only", clearance_il10=k, stop=24.0 * 7),
        ConstantEffectArm("proinflammatory_only", **pro, stop=24.0 * 7),
        ConstantEffectArm("all_four", **pro, clearance_il10=k, stop=24.0 * 7),
    ]
    out = simulate_outcomes(cohort, arms, key=stage_key(seed, "outcomes"), days=28, progress=False)
    endo, mals = out.endotype.values, out.endotype.values == "MALS"
    rows = [
        "| arm | 28-d mortality all | unclassified | MALS | immunoparalysis | MALS responders | MALS damage day 3 "
        "(median) | HLA-DR day 3 (median) | ICU-acquired infection |",
        "|" + "---|" * 9,
    ]
    for arm in out.arm.values:
        o = out.sel(arm=arm)
        d28 = o.dead_28d.values
        cells = [_pct(d28)] + [_pct(d28[endo == e]) for e in ("unclassified", "MALS", "immunoparalysis")]
        cells += [_pct(o.responder.values[mals]), f"{np.median(o.state_damage.values[mals, 3]):.2f}"]
        cells += [f"{np.median(o.state_hla_dr.values[:, 3]):.0f}", _pct(o.secondary_infection.values)]
        rows.append(f"| {arm} | " + " | ".join(cells) + " |")
    return rows


def attributable_rows(n: int = 2000, seed: int = 0) -> list[str]:
    """Deaths attributable to ICU-acquired infections (van Vught's preventable fraction): the same placebo patients
    with their infection draws and with every ``crn_infection`` beyond the horizon (no infection), 90 days."""
    cohort = simulate_cohort(n, key=stage_key(seed, "cohort"), config=COHORT)  # float64 whatever the JAX setting
    never = cohort.copy(deep=True)
    never["crn_infection"][:] = 1000.0  # patient.yaml reference value: never reached
    run = lambda c: simulate_outcomes(c, [Placebo()], key=stage_key(seed, "outcomes"), days=90, progress=False)  # noqa: E731
    a, b = run(cohort).sel(arm="placebo"), run(never).sel(arm="placebo")
    inf, endo = a.secondary_infection.values, a.endotype.values
    rows = ["| day | deaths with / without infections | excess deaths (MC SE) | infections | per infection | "
            "share of deaths |", "|---|---|---|---|---|---|"]  # fmt: skip
    for d in ("dead_28d", "dead_90d"):
        with_, without = int(a[d].values.sum()), int(b[d].values.sum())
        ex = with_ - without
        # paired (same patients, same draws): SE of the excess count from the discordant pairs
        up, down = int((a[d].values & ~b[d].values).sum()), int((~a[d].values & b[d].values).sum())
        se = np.sqrt(up + down - (up - down) ** 2 / a.sizes["patient"])
        rows.append(f"| {d} | {with_} / {without} | {ex} ({se:.1f}; +{up} -{down}) | {int(inf.sum())} | "
                    f"{ex / max(inf.sum(), 1):.3f} | {ex / max(with_, 1):.1%} |")  # fmt: skip
    for e in ("unclassified", "MALS", "immunoparalysis"):
        m = endo == e
        ex = int(a.dead_28d.values[m].sum() - b.dead_28d.values[m].sum())
        rows.append(f"| dead_28d, {e} | | {ex} | {int(inf[m].sum())} | | |")
    return rows


if __name__ == "__main__":
    if sys.argv[1:2] == ["clearance"]:
        print("\n".join(clearance_rows(*(int(a) for a in sys.argv[2:4]))))
    elif sys.argv[1:2] == ["attributable"]:
        print("\n".join(attributable_rows(*(int(a) for a in sys.argv[2:4]))))
    else:
        main(*(int(a) for a in sys.argv[1:4]))
