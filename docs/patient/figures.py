"""Figures of the patient model: ``python docs/patient/figures.py OUTDIR``.

* ``trajectories.png``: every state over 28 days for the behaviours (``sepsim.models.BEHAVIOURS``: the five, MALS
  as a persistent and a resolving course).
* ``endotypes.png``: screening ferritin vs mHLA-DR of 10,000 virtual patients with the ImmunoSep cut-offs
  (4420 ng/mL, 5000 AB/C).

Both cohort figures draw from the refitted posterior of the population model restricted to ImmunoSep's infection
types (:data:`COHORT`, as ``conf/population/immunosep.yaml``).
* ``survival_by_endotype.png``: placebo survival and the share still in the ICU to day 90 by screening endotype
  (4,000 patients, the calibration cohort ``stage_key(0, ...)``).

``python docs/patient/figures.py OUTDIR [NAME ...]`` makes only the named figures (``trajectories``,
``endotypes``, ``survival``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from sepsim import stage_key  # noqa: E402
from sepsim.models import (  # noqa: E402
    BEHAVIOURS,
    FERRITIN_MALS,
    HLA_DR_IP,
    N_PHYSIOLOGICAL,
    N_STATES,
    STATE_NAMES,
    STATE_UNITS,
    CohortConfig,
    Covariates,
    Placebo,
    reference_params,
    simulate_cohort,
    simulate_outcomes,
    solve_patient,
    to_physical,
)

__all__ = ["COHORT", "plot_trajectories", "plot_endotypes", "plot_survival", "main"]

# The population model's posterior restricted to ImmunoSep's infection types (IS-01, IS-22): the calibration cohort
COHORT = CohortConfig(source="posterior", inclusion={"infection_site": [0, 1, 2, 3]})


def plot_trajectories(path: Path) -> None:
    cov = Covariates(jnp.asarray(75.0), jnp.asarray(0.3), jnp.asarray(60.0), jnp.asarray(150.0))
    ts = jnp.linspace(-47.0, 28 * 24.0, 400)
    fig, axes = plt.subplots(3, 6, figsize=(22, 10))
    for name, over in BEHAVIOURS.items():
        x = np.asarray(to_physical(solve_patient(reference_params(**over), cov, Placebo(), ts).ys))
        for i, ax in enumerate(axes.flat[:N_STATES]):
            ax.plot(np.asarray(ts) / 24.0, np.maximum(x[:, i], 1e-6) if i < N_PHYSIOLOGICAL else x[:, i], label=name)
    labels = [*(f"{n} [{u}]" for n, u in zip(STATE_NAMES, STATE_UNITS, strict=True))]
    labels += ["cumulative death hazard", "cumulative infection hazard"]
    for i, ax in enumerate(axes.flat[:N_STATES]):
        ax.set_title(labels[i], fontsize=9)
        ax.axvline(0.0, color="grey", lw=0.5)
        if i in (0, 1, 3, 4, 5, 6, 7, 8, 13):
            ax.set_yscale("log")  # positive states (pathogen floored at 1e-6 for display)
        elif i >= N_PHYSIOLOGICAL:
            ax.set_yscale("symlog", linthresh=1e-2)
        ax.set_xlabel("days since randomisation")
    axes.flat[8].axhline(FERRITIN_MALS, color="k", ls="--", lw=0.8)
    axes.flat[9].axhline(HLA_DR_IP, color="k", ls="--", lw=0.8)
    for ax in axes.flat[N_STATES:]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=8)
    fig.suptitle("Virtual patient: qualitative behaviours (placebo, infection onset at day -2)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_endotypes(path: Path, n: int = 10_000) -> dict[str, float]:
    cohort = simulate_cohort(n, key=stage_key(2024, "cohort"), config=COHORT)
    out = simulate_outcomes(cohort, [Placebo()], key=stage_key(2024, "outcomes"), chunk_size=2500)
    fer, hla, endo = out.screen_ferritin.values, out.screen_hla_dr.values, out.endotype.values
    fig, ax = plt.subplots(figsize=(7, 6))
    colours = {"MALS": "tab:red", "immunoparalysis": "tab:blue", "unclassified": "tab:grey"}
    shares = {}
    for e, c in colours.items():
        m = endo == e
        shares[e] = float(m.mean())
        ax.scatter(hla[m], fer[m], s=2, alpha=0.4, color=c, label=f"{e} ({100 * m.mean():.1f}%)")
    ax.axhline(FERRITIN_MALS, color="k", ls="--", lw=1)
    ax.axvline(HLA_DR_IP, color="k", ls="--", lw=1)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("mHLA-DR at screening [AB/C] (flow cytometry, with assay error)")
    ax.set_ylabel("ferritin at screening [ng/mL] (with assay error)")
    ax.set_title(
        f"ImmunoSep endotypes of {n} virtual patients (calibrated posterior,\nImmunoSep infection types; "
        "IS-02: MALS ~7%, SII ~34%)",
        fontsize=10,
    )
    ax.legend(markerscale=5)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return shares


def plot_survival(path: Path, n: int = 4000, days: int = 90) -> dict[str, float]:
    """Placebo survival (no censoring before the horizon) and share in the ICU by screening endotype."""
    cohort = simulate_cohort(n, key=stage_key(0, "cohort"), config=COHORT)
    out = simulate_outcomes(cohort, [Placebo()], key=stage_key(0, "outcomes"), days=days, progress=False)
    o = out.sel(arm="placebo")
    t = np.linspace(0.0, days, 4 * days + 1)
    death = np.nan_to_num(o.death_day.values, nan=np.inf)
    t_icu = np.nan_to_num(o.icu_discharge_day.values, nan=np.inf)
    colours = {"unclassified": "tab:grey", "immunoparalysis": "tab:blue", "MALS": "tab:red"}
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(12, 5))
    at90 = {}
    for e, c in colours.items():
        m = out.endotype.values == e
        surv = (death[m][:, None] > t[None, :]).mean(axis=0)
        icu = ((death[m][:, None] > t[None, :]) & (t_icu[m][:, None] > t[None, :])).mean(axis=0)
        at90[e] = float(surv[-1])
        ax.step(
            t,
            surv,
            where="post",
            color=c,
            label=f"{e} (n = {m.sum()}): day 28 {surv[4 * 28]:.2f}, day 90 {surv[-1]:.2f}",
        )
        bx.step(t, icu, where="post", color=c, label=e)
    ax.axvline(28.0, color="k", ls=":", lw=0.8)
    ax.set_ylim(0.0, 1.0)
    ax.set_xlabel("days since randomisation")
    ax.set_ylabel("survival (placebo)")
    ax.legend(fontsize=8)
    ax.set_title("Placebo survival by screening endotype")
    bx.set_ylim(0.0, 1.0)
    bx.set_xlabel("days since randomisation")
    bx.set_ylabel("share alive and still in the ICU")
    bx.legend(fontsize=8)
    bx.set_title("ICU occupancy (discharge when O <= o_ready, then 1/day)")
    fig.suptitle(
        f"{n} virtual patients of the calibrated posterior (ImmunoSep infection types), cohort/outcome seed 0;\n"
        "after ICU discharge the post-acute hazard applies"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return at90


def main(outdir: str, *names: str) -> None:
    jax.config.update("jax_enable_x64", True)  # figures are made in float64, like the tests
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    names = names or ("trajectories", "endotypes", "survival")
    if "trajectories" in names:
        plot_trajectories(out / "trajectories.png")
    if "endotypes" in names:
        print(plot_endotypes(out / "endotypes.png"))
    if "survival" in names:
        print(plot_survival(out / "survival_by_endotype.png"))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "docs/figures/patient", *sys.argv[2:])
