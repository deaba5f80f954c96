"""Files and report section of the ``immunosep`` study: ``immunosep_table.csv``, ``immunosep_table.nc`` (CF) and a
section per stratum (placebo and active with 95% intervals over simulated trials, difference, P(significant),
the pool's truth, and the published calibration numbers with a combined-SE z)."""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import Any

import xarray as xr

from .._io import atomic_to_netcdf, atomic_write_text
from ._section import add_section, fmt_interval, fmt_share, html_table

__all__ = ["write_immunosep"]

_Z_CONSISTENT = 2.0  # |z| below this: consistent with the published number


def _published_cell(ds: xr.Dataset, q: str, s: str, arm: str) -> str:
    e, n = (
        int(ds["published_events"].sel(quantity=q, stratum=s, arm=arm)),
        int(ds["published_n"].sel(quantity=q, stratum=s, arm=arm)),
    )
    if n <= 0:
        return ""
    z = float(ds["z_published"].sel(quantity=q, stratum=s, arm=arm))
    verdict = "consistent" if math.isfinite(z) and abs(z) < _Z_CONSISTENT else "differs"
    return f"{arm}: {e}/{n} ({fmt_share(e / n)}), z = {z:+.1f} ({verdict})"


def _stratum_table(ds: xr.Dataset, stratum: str) -> str:
    rows = []
    for q in ds["quantity"].values:
        sel = ds.sel(quantity=q, stratum=stratum)
        cells = [html.escape(str(sel["quantity_long_name"].values))]
        for arm in ("placebo", "active"):
            a = sel.sel(arm=arm)
            cells.append(fmt_interval(a.proportion_mean, a.proportion_q025, a.proportion_q975))
        cells.append(fmt_interval(sel.difference_mean, sel.difference_q025, sel.difference_q975))
        p, se = float(sel.p_significant), float(sel.p_significant_mcse)
        cells.append(f"{p:.3f} <small>({se:.3f})</small>" if math.isfinite(p) else "&ndash;")
        cells.append(f"{fmt_share(sel.true_proportion.sel(arm='placebo'))} / "
                     f"{fmt_share(sel.true_proportion.sel(arm='active'))}")  # fmt: skip
        pub = [c for c in (_published_cell(ds, q, stratum, a) for a in ("placebo", "active")) if c]
        cells.append("<br>".join(pub))
        rows.append(cells)
    active = str(ds["active_arm"].sel(stratum=stratum).values)
    n_p, n_a = (float(ds.n_mean.sel(stratum=stratum, arm=a).isel(quantity=0)) for a in ("placebo", "active"))
    head = f"<h3>{html.escape(stratum)}: {html.escape(active)} vs placebo (mean n {n_a:.0f} vs {n_p:.0f})</h3>"
    header = ["quantity", "placebo", html.escape(active), "difference", "P(significant) (MC SE)", "truth (pool)",
              "published (calibration targets)"]  # fmt: skip
    return head + html_table(header, rows)


def write_immunosep(run_dir: Path, table: xr.Dataset, settings: dict[str, Any]) -> list[Path]:
    """Write the table files and the report section; returns the paths written."""
    nc = atomic_to_netcdf(table, run_dir / "immunosep_table.nc")
    frame = table.drop_vars(["quantity_long_name"]).to_dataframe().reset_index()
    csv = run_dir / "immunosep_table.csv"
    atomic_write_text(csv, frame.to_csv(index=False, float_format="%.6g"))
    alpha = settings["alpha"]
    intro = (
        f"<p>Each cell: the observed proportion over {table.attrs['n_trials']} simulated trials of the design's "
        f"final analysis (every randomised patient), mean and [2.5%, 97.5%] quantiles; difference = active - "
        f"placebo; P(significant) = share of trials where the two-sided Fisher exact test gives p &lt; {alpha} "
        "(the standard test that reproduces ImmunoSep's printed P values, IS-05/IS-06), with its Monte-Carlo SE; "
        "truth = the proportion "
        "in the whole eligible pool. Published numbers are the calibration targets only (IS-05, IS-06, IS-08p); "
        "z = (simulated mean - published) / combined SE, 'consistent' where |z| &lt; 2. Files: "
        "<code>immunosep_table.csv</code>, <code>immunosep_table.nc</code>.</p>"
    )
    body = intro + "".join(_stratum_table(table, str(s)) for s in table["stratum"].values)
    section = add_section(run_dir, "immunosep", "ImmunoSep main results table (simulated trial replicates)", body)
    return [nc, csv, section]
