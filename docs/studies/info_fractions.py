"""Observed vs planned information fractions in frequentist platform designs, and the resulting type-I error.

Run: ``PYTHONPATH=. python docs/studies/info_fractions.py`` (about 2 minutes on 2 CPU cores); the printed table is in
sepsim/platform/README_engine.md ("Information fractions").
"""

import jax
import numpy as np

from sepsim import stage_key
from sepsim.platform import binary_scenario, run_trials

N_TRIALS = 20_000
ARMS = ["control", "A", "B"]
BASE = dict(arms=ARMS, control="control", look_n=[300, 600, 900], higher_is_better=False, allocation=dict(rule="fixed"))
OBF = dict(method="frequentist", alpha=0.025, spending="obf")
CASES = {
    "1:1:1": dict(BASE, analysis=OBF),
    "2:1:1 (control 2)": dict(BASE, allocation=dict(rule="fixed", fixed_ratio=[2.0, 1.0, 1.0]), analysis=OBF),
    "1:1:1, futility_z 0 at looks 1-2": dict(BASE, analysis=dict(OBF, futility_z=[0.0, 0.0, -10.0])),
    "B enters after look 0 (concurrent controls)": dict(BASE, arm_start_look=[0, 0, 1], analysis=OBF),
}
# the same with Lan-DeMets OBF-type spending at each comparison's observed information fraction
OBS = dict(method="frequentist", alpha=0.025, spending="ld_obf", information="observed")
CASES.update(
    {
        f"{name} [observed, ld_obf]": dict(
            design, analysis=dict(OBS, **{k: v for k, v in design["analysis"].items() if k == "futility_z"})
        )
        for name, design in list(CASES.items())
    }
)


def information(n: np.ndarray, arm: int) -> np.ndarray:
    """Information of ``arm`` against the control (arm 0), up to the common variance: 1 / (1/n_a + 1/n_c)."""
    return 1.0 / (1.0 / np.maximum(n[..., arm], 1) + 1.0 / np.maximum(n[..., 0], 1))


def main() -> None:
    jax.config.update("jax_enable_x64", True)
    out = binary_scenario([0.3, 0.3, 0.3], 50_000, key=stage_key(5, "cohort"), arms=ARMS)
    for name, design in CASES.items():
        ds = run_trials(out, design, n_trials=N_TRIALS, key=stage_key(6, "trials"))
        n = ds.n.sum("stratum").values  # (trial, look, arm)
        dec = ds.arm_decision.values[:, :, 0]
        fwer = np.mean(ds.trial_outcome.values == 1)
        per_arm = [np.mean(dec[:, a] == 1) for a in (1, 2)]
        fractions = []
        for a in (1, 2):
            info = information(n, a)
            kept = dec[:, a] != 3  # not dropped for futility
            fractions.append(np.round((info[kept] / info[kept, -1:]).mean(axis=0), 3).tolist())
        se = np.sqrt(fwer * (1 - fwer) / N_TRIALS)
        print(f"{name}: FWER {fwer:.4f} (SE {se:.4f}); per comparison {per_arm[0]:.4f}, {per_arm[1]:.4f}")
        print(f"    observed information fractions A {fractions[0]}, B {fractions[1]}")


if __name__ == "__main__":
    main()
