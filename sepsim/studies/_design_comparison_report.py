"""Files, figure and report section of the ``design_comparison`` study: ``design_comparison.csv``/``.nc`` and
``figures/design_comparison.png`` (power and expected sample size per design, grouped by scenario, with
Monte-Carlo intervals)."""

from __future__ import annotations

import html
import math
from pathlib import Path

import numpy as np
import xarray as xr
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .._io import atomic_savefig, atomic_to_netcdf, atomic_write_text
from ._section import add_section, embed_png, html_table

__all__ = ["write_design_comparison"]


def _plot(ds: xr.Dataset, path: Path) -> Path:
    fig = Figure(figsize=(10.0, 3.6))
    FigureCanvasAgg(fig)
    ax_p, ax_n = fig.subplots(1, 2)
    designs, scenarios = list(ds["design"].values), list(ds["scenario"].values)
    width = 0.8 / len(designs)
    x = np.arange(len(scenarios))
    for i, d in enumerate(designs):
        p = ds["p_superiority"].sel(design=d).values
        se = ds["p_superiority_mcse"].sel(design=d).values
        ax_p.bar(x + i * width, p, width, yerr=1.96 * se, capsize=3, label=str(d))
        ax_n.bar(x + i * width, ds["sample_size_mean"].sel(design=d).values, width,
                 yerr=1.96 * ds["sample_size_mean_mcse"].sel(design=d).values, capsize=3, label=str(d))  # fmt: skip
    for ax, title in ((ax_p, "P(active declared superior)"), (ax_n, "expected sample size")):
        ax.set_xticks(x + width * (len(designs) - 1) / 2, scenarios)
        ax.set_title(title)
    ax_p.set_ylim(0, 1)
    ax_p.legend(fontsize=8)
    fig.tight_layout()
    return atomic_savefig(fig, path, dpi=110)


def _cell(ds: xr.Dataset, name: str, design: str, scenario: str, digits: int = 3) -> str:
    v = float(ds[name].sel(design=design, scenario=scenario))
    se = float(ds[f"{name}_mcse"].sel(design=design, scenario=scenario))
    if not math.isfinite(v):
        return "&ndash;"
    return f"{v:.{digits}f}" + (f" <small>({se:.{digits}f})</small>" if math.isfinite(se) else "")


def write_design_comparison(run_dir: Path, ds: xr.Dataset) -> list[Path]:
    nc = atomic_to_netcdf(ds, run_dir / "design_comparison.nc")
    csv = run_dir / "design_comparison.csv"
    atomic_write_text(csv, ds.to_dataframe().reset_index().to_csv(index=False, float_format="%.6g"))
    fig = _plot(ds, run_dir / "figures" / "design_comparison.png")
    rows = []
    for d in ds["design"].values:
        for s in ds["scenario"].values:
            rows.append([html.escape(str(d)), html.escape(str(s)), _cell(ds, "p_superiority", d, s),
                         _cell(ds, "p_control_superior", d, s), _cell(ds, "sample_size_mean", d, s, 0),
                         _cell(ds, "active_share", d, s), _cell(ds, "bias_te", d, s, 4),
                         _cell(ds, "rmse_te", d, s, 4)])  # fmt: skip
    header = ["design", "scenario", "P(active superior)", "P(control superior)", "E[N]",
              f"share on {html.escape(ds.attrs['active_arm'])}", "bias of effect", "RMSE of effect"]  # fmt: skip
    body = (
        f"<p>{ds.attrs['n_trials']} trials per cell, every cell on the same patients with the same trial keys; "
        "Monte-Carlo SE in brackets. Scenarios change the patient stream (time trend in the log odds, drifting "
        "endotype mix), designs change allocation, analysis and stopping. Files: <code>design_comparison.csv</code>, "
        "<code>design_comparison.nc</code>.</p>"
        + html_table(header, rows)
        + embed_png(fig, "Left: P(active declared superior) per design and scenario; right: expected sample size; "
                         "error bars: 95% Monte-Carlo intervals.")
    )  # fmt: skip
    section = add_section(run_dir, "design_comparison", "Designs side by side on the same patients", body)
    return [nc, csv, fig, section]
