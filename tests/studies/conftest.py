"""A synthetic mechanistic outcome table (the variables the studies read), cheap enough for the default suite."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

ARMS = ["placebo", "anakinra", "ifn_gamma"]


def synthetic_table(n: int = 4000, days: int = 90, seed: int = 3, effect: float = 0.0) -> xr.Dataset:
    """``n`` eligible patients (25% MALS, 75% immunoparalysis) under three arms, daily states to ``days``.

    Binary read-outs are Bernoulli with arm-independent latent uniforms (common random numbers); ``effect`` adds to
    the responder probability of each stratum's matched arm (anakinra in MALS, rhIFN-gamma in immunoparalysis).
    """
    rng = np.random.default_rng(seed)
    endotype = np.where(rng.random(n) < 0.25, "MALS", "immunoparalysis")
    u = rng.random((n, 1))
    base = np.full((n, 3), 0.2)
    matched = np.where(endotype == "MALS", 1, 2)
    base[np.arange(n), matched] += effect
    responder = u < base
    death = np.where(rng.random((n, 1)) < 0.4, rng.uniform(0.5, days, (n, 1)), np.nan) * np.ones((1, 3))
    day = np.arange(days + 1)
    alive = day[None, None, :] < np.nan_to_num(death, nan=np.inf)[:, :, None]
    sofa = np.where(alive, rng.integers(0, 15, (n, 1, days + 1)) * np.ones((1, 3, 1)), np.nan)
    hla = rng.lognormal(np.log(6000), 0.5, (n, 1, days + 1)) * np.ones((1, 3, 1))
    fer = rng.lognormal(np.log(2000), 1.0, (n, 1, days + 1)) * np.ones((1, 3, 1))
    infection = np.where(rng.random((n, 3)) < 0.2, rng.uniform(0, 28, (n, 3)), np.nan)
    pa, pad = ("patient", "arm"), ("patient", "arm", "day")
    flags = {k: (pa, (rng.random((n, 1)) < p) * np.ones((1, 3), bool)) for k, p in (("sae", 0.7),)}
    return xr.Dataset(
        {
            "responder": (pa, responder),
            "dead_28d": (pa, np.nan_to_num(death, nan=np.inf) <= 28),
            "dead_90d": (pa, np.nan_to_num(death, nan=np.inf) <= 90),
            "death_day": (pa, death),
            "sofa": (pad, sofa),
            "alive": (pad, alive),
            "state_hla_dr": (pad, hla),
            "state_ferritin": (pad, fer),
            "infection_day": (pa, infection),
            "ae_anemia": (pa, np.zeros((n, 3), bool) | (np.arange(3) == 1)[None] & (u < 0.1)),
            "ae_bleeding": (pa, np.zeros((n, 3), bool) | (np.arange(3) == 2)[None] & (u < 0.1)),
            **flags,
            "endotype": ("patient", endotype),
        },
        coords={"patient": np.arange(n), "arm": ARMS, "day": day},
        attrs={"days": days},
    )


@pytest.fixture(scope="session")
def immunosep_pool() -> xr.Dataset:
    return synthetic_table()
