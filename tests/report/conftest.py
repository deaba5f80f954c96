"""Fixtures of the report tests: a small outcome table shaped like ``sepsim.models.simulate_outcomes``'s."""

import numpy as np
import pytest
import xarray as xr

from sepsim.report import CohortView

ARMS = ("placebo", "anakinra", "ifn_gamma")


def outcome_table(n: int = 90, days: int = 28, seed: int = 3) -> xr.Dataset:
    """Virtual patients under every arm: endotype from ferritin / mHLA-DR (IS-04 rule), a responder endpoint with
    known per-arm rates, deaths (NaN = alive at the horizon) and daily trajectories."""
    rng = np.random.default_rng(seed)
    fer = np.exp(rng.normal(np.log(1500.0), 1.2, n))
    hla = np.exp(rng.normal(np.log(7000.0), 0.6, n))
    endo = np.where(fer > 4420, "MALS", np.where(hla < 5000, "immunoparalysis", "unclassified"))
    day = np.arange(days + 1)
    shape = (n, len(ARMS), day.size)
    death = np.where(rng.random((n, len(ARMS))) < 0.3, rng.integers(1, days, (n, len(ARMS))).astype(float), np.nan)
    alive = day[None, None, :] < np.nan_to_num(death, nan=np.inf)[:, :, None]
    responder = rng.random((n, len(ARMS))) < np.array([0.2, 0.4, 0.3])[None, :]
    traj = lambda scale: scale * np.exp(-day / 7.0)[None, None, :] * rng.lognormal(0.0, 0.3, shape)
    sofa = np.where(alive, np.round(9 * np.exp(-day / 10.0))[None, None, :] + rng.integers(0, 3, shape), np.nan)
    pad, pa = ("patient", "arm", "day"), ("patient", "arm")
    return xr.Dataset(
        {
            "state_il6": (pad, traj(300.0), {"units": "pg/mL"}),
            "state_il10": (pad, traj(30.0), {"units": "pg/mL"}),
            "state_tnf": (pad, traj(10.0), {"units": "pg/mL"}),
            "state_hla_dr": (pad, 20000.0 - traj(15000.0), {"units": "AB/C"}),
            "state_lymphocytes": (pad, 1.5 - traj(0.9), {"units": "10^3/uL"}),
            "sofa": (pad, sofa, {"units": "points"}),
            "death_day": (pa, death, {"units": "d", "long_name": "death; NaN: alive at the horizon"}),
            "responder": (pa, responder),
            "endotype": ("patient", endo),
            "screen_ferritin": ("patient", fer),
            "screen_hla_dr": ("patient", hla),
        },
        coords={"patient": np.arange(n), "arm": list(ARMS), "day": day},
        attrs={"days": days},
    )


def cohort_view(table: xr.Dataset, max_n: int = 40) -> CohortView:
    keep = np.isin(table["endotype"].values, ["MALS", "immunoparalysis"])
    return CohortView(
        table=table,
        eligible=table.isel(patient=np.flatnonzero(keep)),
        endpoint="responder",
        stratum="endotype",
        n_simulated=table.sizes["patient"],
        solver_failures=0,
        max_n=max_n,
        stratum_arms={"MALS": ["placebo", "anakinra"], "immunoparalysis": ["placebo", "ifn_gamma"]},
    )


@pytest.fixture(scope="session")
def cohort() -> CohortView:
    return cohort_view(outcome_table())


@pytest.fixture(scope="session")
def make_cohort():
    """``make_cohort(max_n)``: the same table with another maximum sample size."""
    return lambda max_n: cohort_view(outcome_table(), max_n)
