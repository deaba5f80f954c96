"""How much the potential-outcome table depends on ``chunk_size``: the ODE solver's rounding.

Every draw is keyed by the global patient index, so only the batched solver's arithmetic can depend on how the
cohort is chunked (XLA vectorises a batch shape's lanes differently). This simulates one cohort under two arms at
two chunk sizes and prints, per variable that differs, the largest absolute and relative difference; integer,
boolean and string variables must be identical (the script exits 1 otherwise).

Usage: ``python docs/patient/chunk_rounding.py [N_PATIENTS] [CHUNK_A] [CHUNK_B]`` (default 30 12 30, 60 days,
placebo and anakinra + CytoSorb; about a minute on 2 cores, most of it compiling).
"""

from __future__ import annotations

import sys

import numpy as np


def main(argv: list[str]) -> int:
    import jax

    jax.config.update("jax_enable_x64", True)
    from sepsim._keys import stage_key
    from sepsim.models import simulate_cohort, simulate_outcomes
    from sepsim.models.interventions import arm_from_config

    n, chunk_a, chunk_b = (int(a) for a in (argv + ["30", "12", "30"][len(argv) :])[:3])
    cohort = simulate_cohort(n, key=stage_key(5, "cohort"))
    arms = [arm_from_config("placebo"), arm_from_config({"therapy": "anakinra", "adsorber": "cytosorb"})]
    kw = dict(key=stage_key(5, "outcomes"), days=60, progress=False)
    a = simulate_outcomes(cohort, arms, chunk_size=chunk_a, **kw)
    b = simulate_outcomes(cohort, arms, chunk_size=chunk_b, **kw)
    exact = True
    print(f"{n} patients, 2 arms, 60 days: chunks of {chunk_a} against {chunk_b}")
    for name in a.data_vars:
        x, y = a[name].values, b[name].values
        if x.dtype.kind != "f":
            if not np.array_equal(x, y):
                print(f"{name:34s} DIFFERS in {int(np.sum(x != y))} entries")
                exact = False
            continue
        if np.array_equal(x, y, equal_nan=True):
            continue
        d = np.abs(x - y)
        rel = d / np.maximum(np.abs(x), np.finfo(float).tiny)
        print(f"{name:34s} max abs {np.nanmax(d):.2e}  max rel {np.nanmax(rel):.2e}")
    print("integer, boolean and string variables identical:", exact)
    return 0 if exact else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
