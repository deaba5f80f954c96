"""Why the drugs' PD constants are not latent per-patient parameters: at the ImmunoSep doses both drugs already sit
at their pharmacodynamic ceiling, so a per-patient PD sensitivity could not move the primary endpoint.

Usage: ``.venv/bin/python docs/population/drug_ceiling.py [N] [SEED]`` (default 3000 patients, seed 1).
Draws N screened virtual patients (ImmunoSep infection types) from the shipped posterior and simulates each under
placebo, the study regimens (anakinra 200 mg IV q8h x 15 d; rhIFN-gamma 100 ug SC q48h x 8 doses; IS-16..IS-18)
and the same regimens at the most potent end of every PD constant's documented range (anakinra ``ka_ng_ml`` 2 ng/mL,
10x below its default; rhIFN-gamma ``ec50_ng_ml`` 0.005 ng/mL and ``hla_emax`` 10): the responder rate (IS-05
definition) and 28-day mortality by measured endotype, with binomial Monte-Carlo SEs. README_population.md quotes
the output.
"""

from __future__ import annotations

import sys

import numpy as np

from sepsim import stage_key
from sepsim.config import build_arms
from sepsim.models import CohortConfig, simulate_cohort, simulate_outcomes

ARMS = {
    "placebo": {},
    "anakinra": {"therapies": [{"name": "anakinra", "n_doses": 45}]},
    "anakinra, ka 2 ng/mL": {"therapies": [{"name": "anakinra", "n_doses": 45, "ka_ng_ml": 2.0}]},
    "rhIFN-gamma": {"therapies": [{"name": "interferon_gamma", "n_doses": 8}]},
    "rhIFN-gamma, EC50 0.005, Emax 10": {
        "therapies": [{"name": "interferon_gamma", "n_doses": 8, "ec50_ng_ml": 0.005, "hla_emax": 10.0}]
    },
}


def main(n: int = 3000, seed: int = 1) -> None:
    cohort = simulate_cohort(
        n,
        key=stage_key(seed, "cohort"),
        config=CohortConfig(source="posterior", inclusion={"infection_site": [0, 1, 2, 3]}),
    )
    out = simulate_outcomes(cohort, build_arms(ARMS), key=stage_key(seed, "outcomes"), days=28, progress=False)
    endo = np.asarray(out["endotype"].values).astype(str)
    print(f"{n} screened virtual patients, seed {seed}; responders (IS-05) and 28-day deaths, % (MC SE)")
    print("| endotype (n) | arm | responders | 28-day mortality |")
    print("|---|---|---|---|")
    for e in ("MALS", "immunoparalysis"):
        keep = endo == e
        for arm in ARMS:
            cells = []
            for var in ("responder", "dead_28d"):
                p = float(np.mean(out[var].sel(arm=arm).values[keep]))
                cells.append(f"{100 * p:.1f} ({100 * np.sqrt(p * (1 - p) / keep.sum()):.1f})")
            print(f"| {e} ({keep.sum()}) | {arm} | {cells[0]} | {cells[1]} |")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
