"""Figures of the interventions: ``python -m sepsim.models.interventions._figures OUTDIR``.

Writes ``drug_exposure.png`` (plasma concentration per therapy, default regimen, 70-kg reference patient),
``device_extraction.png`` (extraction ratio and clearance over time per device) and ``exposure_with_cytosorb.png``
(drug exposure with and without continuous CytoSorb).
"""

from __future__ import annotations

import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from .._effects import Covariates
from ._arm import Combination
from ._drivers import along, simulate
from .adsorbers import AN69ST, HVHF, PMMA, CytoSorb, OXiris, Toraymyxin
from .therapies import (
    GMCSF,
    Anakinra,
    AntiPD1,
    AntiPDL1,
    IgMEnrichedIVIG,
    InterferonGamma,
    Interleukin7,
    PolyclonalIVIG,
    ThymosinAlpha1,
    Ulinastatin,
    Vancomycin,
)

__all__ = ["main"]


def _cov() -> Covariates:
    return Covariates(*(jnp.asarray(x) for x in (70.0, 0.30, 80.0, 150.0)))


def drug_exposure(path: Path) -> None:
    import matplotlib.pyplot as plt

    cov = _cov()
    drugs = [
        (Anakinra(), 8 * 24), (InterferonGamma(), 16 * 24), (GMCSF(), 9 * 24), (Interleukin7(), 30 * 24),
        (Interleukin7(route="iv", n_doses=6), 30 * 24), (ThymosinAlpha1(), 8 * 24), (AntiPD1(), 28 * 24),
        (AntiPDL1(), 28 * 24), (PolyclonalIVIG(), 14 * 24), (IgMEnrichedIVIG(), 14 * 24), (Ulinastatin(), 6 * 24),
        (Vancomycin(), 8 * 24),
    ]  # fmt: skip
    fig, axes = plt.subplots(3, 4, figsize=(16, 10))
    for ax, (drug, horizon) in zip(axes.flat, drugs, strict=True):
        ts = jnp.linspace(0.0, float(horizon), 1201)
        c = np.asarray(along(lambda t, z, d=drug: d.concentration(z, cov), simulate(drug, cov, ts)))
        unit = "kIU/L" if drug.amount_unit == "kIU" else "ng/mL"
        label = drug.name + (f" ({drug.route})" if hasattr(drug, "route") else "")
        ax.plot(np.asarray(ts) / 24.0, c)
        ax.set(title=label, xlabel="day", ylabel=f"plasma conc. ({unit})")
        if c.max() / max(c[c > 0].min() if np.any(c > 0) else 1.0, 1e-30) > 1e3:
            ax.set_yscale("log")
            ax.set_ylim(max(c.max() * 1e-4, 1e-6), c.max() * 2)
    fig.suptitle("Drug exposure, default regimens, 70 kg, CrCl 80 mL/min")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def device_extraction(path: Path) -> None:
    import matplotlib.pyplot as plt

    cov = _cov()
    devices = [
        (CytoSorb(qb_ml_min=150.0, days=3), "il6", "CytoSorb Qb 150, IL-6"),
        (CytoSorb(qb_ml_min=250.0, days=3), "il6", "CytoSorb Qb 250, IL-6"),
        (CytoSorb(mode="sessions", days=3), "il6", "CytoSorb 6 h/day, IL-6"),
        (OXiris(), "endotoxin", "oXiris, endotoxin"),
        (OXiris(), "il6", "oXiris, IL-6"),
        (Toraymyxin(), "endotoxin", "Toraymyxin, endotoxin"),
        (PMMA(), "il6", "PMMA, IL-6"),
        (AN69ST(), "il6", "AN69ST, IL-6"),
        (HVHF(), "il6", "HVHF 70 mL/kg/h, IL-6"),
    ]
    ts = jnp.linspace(0.0, 72.0, 1441)
    fig, axes = plt.subplots(1, 2, figsize=(15, 5.5))
    for dev, solute, label in devices:
        tr = simulate(dev, cov, ts)
        e = np.asarray(along(lambda t, z, d=dev, s=solute: d.extraction(t, z, s), tr))
        cl = np.asarray(along(lambda t, z, d=dev, s=solute: d.clearance_l_h(t, z, cov, s), tr)) / 0.06
        axes[0].plot(np.asarray(ts), e, label=label)
        axes[1].plot(np.asarray(ts), cl, label=label)
    axes[0].set(xlabel="hours", ylabel="adsorptive extraction ratio", title="Extraction (resets at cartridge change)")
    axes[1].set(xlabel="hours", ylabel="device clearance (mL/min)", title="Clearance = Qp x E + Quf x SC")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def exposure_with_cytosorb(path: Path) -> None:
    import matplotlib.pyplot as plt

    cov = _cov()
    drugs = [Anakinra(), InterferonGamma(), GMCSF(), Interleukin7(route="iv", n_doses=2), Vancomycin(), AntiPD1()]
    ts = jnp.linspace(0.0, 72.0, 1441)
    fig, axes = plt.subplots(2, 3, figsize=(15, 8))
    for ax, drug in zip(axes.flat, drugs, strict=True):
        alone = np.asarray(along(lambda t, z, d=drug: d.concentration(z, cov), simulate(drug, cov, ts)))
        arm = Combination(therapies=(drug,), device=CytoSorb(days=3))
        tr = simulate(arm, cov, ts)
        both = np.asarray(along(lambda t, z, a=arm, d=drug: a.drug_concentrations(z, cov)[d.name], tr))
        auc = np.trapezoid(both, np.asarray(ts)) / np.trapezoid(alone, np.asarray(ts))
        ax.plot(np.asarray(ts), alone, label="alone")
        ax.plot(np.asarray(ts), both, label=f"with CytoSorb (AUC x{auc:.2f})")
        ax.set(title=drug.name, xlabel="hours", ylabel="plasma conc. (ng/mL)")
        ax.legend(fontsize=8)
    fig.suptitle("Drug exposure with and without continuous CytoSorb (Qb 200 mL/min, changes at 12, 24, 48 h)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    """Write the three figures into ``argv[0]`` (default ``docs/figures/interventions``)."""
    import matplotlib

    matplotlib.use("Agg")
    jax.config.update("jax_enable_x64", True)
    args = sys.argv[1:] if argv is None else argv
    out = Path(args[0] if args else "docs/figures/interventions")
    out.mkdir(parents=True, exist_ok=True)
    drug_exposure(out / "drug_exposure.png")
    device_extraction(out / "device_extraction.png")
    exposure_with_cytosorb(out / "exposure_with_cytosorb.png")
    print(f"wrote figures to {out}")


if __name__ == "__main__":
    main()
