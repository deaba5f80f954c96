"""Files and report section of the ``platform`` study: ``platform_comparison.csv``/``.nc`` and a section with one
table per design (P(declared superior) and expected patients per arm and stratum) beside the pool's true rates."""

from __future__ import annotations

import html
import math
from pathlib import Path

import xarray as xr

from .._io import atomic_to_netcdf, atomic_write_text
from ._section import add_section, fmt_share, html_table

__all__ = ["write_platform"]


def _cell(ds: xr.Dataset, design: str, stratum: str, arm: str) -> str:
    p = float(ds["p_superior"].sel(design=design, stratum=stratum, arm=arm))
    if not math.isfinite(p):
        return ""
    se = float(ds["p_superior_mcse"].sel(design=design, stratum=stratum, arm=arm))
    n = float(ds["patients_mean"].sel(design=design, stratum=stratum, arm=arm))
    return f"{p:.3f} <small>({se:.3f}); n {n:.0f}</small>"


def write_platform(run_dir: Path, ds: xr.Dataset) -> list[Path]:
    nc = atomic_to_netcdf(ds, run_dir / "platform_comparison.nc")
    csv = run_dir / "platform_comparison.csv"
    atomic_write_text(csv, ds.to_dataframe().reset_index().to_csv(index=False, float_format="%.6g"))
    strata, arms = [str(s) for s in ds["stratum"].values], [str(a) for a in ds["arm"].values]
    truth = html_table(
        ["arm", *map(html.escape, strata)],
        [[html.escape(a), *(fmt_share(float(ds["true_rate"].sel(stratum=s, arm=a))) for s in strata)] for a in arms],
    )
    parts = [
        f"<p>{ds.attrs['n_trials']} trials per design on the same patients and trial keys. Cells: P(arm declared "
        "superior to placebo) (Monte-Carlo SE); n = expected patients on the arm. Empty: the arm is not randomised "
        "there; placebo 'superior' means every active arm of the stratum was dropped. "
        "'platform' is the run's design (biomarker strata, RAR within strata); 'all' pools the strata "
        f"(all-comers: one analysis over everyone). True {html.escape(ds.attrs['endpoint'])} in the pool:</p>" + truth
    ]
    for d in ds["design"].values:
        size = float(ds["sample_size_mean"].sel(design=d))
        rows = [[html.escape(a), *(_cell(ds, str(d), s, a) for s in strata)] for a in arms]
        parts.append(f"<h3>{html.escape(str(d))} (expected size {size:.0f})</h3>")
        parts.append(html_table(["arm", *map(html.escape, strata)], rows))
    section = add_section(run_dir, "platform", "Precision platform vs fixed allocation vs all-comers", "".join(parts))
    return [nc, csv, section]
