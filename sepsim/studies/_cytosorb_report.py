"""Files, figure and report section of the ``cytosorb`` study: ``cytosorb_course.csv``/``.nc`` and
``figures/cytosorb_course.png`` (IL-6 and SOFA over time by arm with 95% confidence bands, and the paired IL-6
ratio), plus the pool's 60-day mortality per arm beside the trials' operating characteristics."""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
import xarray as xr
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .._io import atomic_savefig, atomic_to_netcdf, atomic_write_text
from ._section import add_section, embed_png, fmt_share, html_table

__all__ = ["write_cytosorb", "plot_cytosorb_course"]

_SHOWN_DAYS = (0, 1, 2, 3, 5, 7, 10, 14)


def plot_cytosorb_course(course: xr.Dataset, path: Path) -> Path:
    """Three panels: geometric mean IL-6 (log scale), mean SOFA, paired IL-6 ratio; bands are 95% CIs."""
    fig = Figure(figsize=(12.0, 3.6))
    FigureCanvasAgg(fig)
    ax_il6, ax_sofa, ax_ratio = fig.subplots(1, 3)
    day = course["day"].values
    for arm in course["arm"].values:
        a = course.sel(arm=arm)
        (line,) = ax_il6.plot(day, a.il6_geometric_mean, marker="o", ms=3, label=str(arm))
        ax_il6.fill_between(day, a.il6_gm_lower, a.il6_gm_upper, color=line.get_color(), alpha=0.2)
        ax_sofa.plot(day, a.sofa_mean, marker="o", ms=3, color=line.get_color(), label=str(arm))
    ax_il6.set(yscale="log", xlabel="day", ylabel="IL-6, pg/mL (geometric mean)", title="IL-6, patients alive")
    ax_sofa.set(xlabel="day", ylabel="SOFA points", title="mean SOFA, patients alive")
    ax_ratio.plot(day, course.il6_ratio, marker="o", ms=3, color="k")
    ax_ratio.fill_between(day, course.il6_ratio_lower, course.il6_ratio_upper, color="k", alpha=0.15)
    ax_ratio.axhline(1.0, color="grey", lw=0.8, ls="--")
    ax_ratio.set(xlabel="day", ylabel="ratio", title=str(course.il6_ratio.attrs["long_name"]).split(",")[0])
    ax_il6.legend(fontsize=8)
    fig.tight_layout()
    return atomic_savefig(fig, path, dpi=110)


def write_cytosorb(run_dir: Path, course: xr.Dataset, mortality: dict[str, float], n_pool: int) -> list[Path]:
    """Write the course files, the figure and the report section; returns the paths written."""
    nc = atomic_to_netcdf(course, run_dir / "cytosorb_course.nc")
    csv = run_dir / "cytosorb_course.csv"
    atomic_write_text(csv, course.to_dataframe().reset_index().to_csv(index=False, float_format="%.6g"))
    fig = plot_cytosorb_course(course, run_dir / "figures" / "cytosorb_course.png")
    arms = [str(a) for a in course["arm"].values]
    rows = []
    for d in (x for x in _SHOWN_DAYS if x in course["day"].values):
        c = course.sel(day=d)
        cells = [str(d)]
        cells += [f"{float(c.il6_geometric_mean.sel(arm=a)):.0f}" for a in arms]
        cells.append(f"{float(c.il6_ratio):.2f} <small>[{float(c.il6_ratio_lower):.2f}, "
                     f"{float(c.il6_ratio_upper):.2f}]</small>")  # fmt: skip
        cells += [f"{float(c.sofa_mean.sel(arm=a)):.1f}" for a in arms]
        cells += [fmt_share(float(c.alive_share.sel(arm=a))) for a in arms]
        rows.append(cells)
    header = ["day", *(f"IL-6 {html.escape(a)}" for a in arms), "IL-6 ratio [95% CI]",
              *(f"SOFA {html.escape(a)}" for a in arms), *(f"alive {html.escape(a)}" for a in arms)]  # fmt: skip
    deaths = ", ".join(f"{html.escape(a)} {fmt_share(v)}" for a, v in mortality.items())
    body = (
        f"<p>{n_pool} eligible virtual patients (lung source, organ support at randomisation: the model's closest "
        "criterion to mechanical ventilation with lung injury; see docs/studies/cytosorb.md), each under both arms. "
        f"60-day mortality in the pool: {deaths}; the trials' power and decisions on it are in the sections above. "
        "IL-6 and SOFA: patients alive that day; ratio: same patients alive under both arms, geometric mean with "
        "95% confidence interval.</p>"
        + html_table(header, rows)
        + embed_png(fig, "IL-6 (log scale) and SOFA over time by arm, shaded: 95% CI of the geometric mean; "
                         "right: paired IL-6 ratio device / standard care with 95% CI (dashed: no difference).")
    )  # fmt: skip
    section = add_section(run_dir, "cytosorb", "CytoSorb RCT: IL-6 over time, organ function, 60-day mortality", body)
    return [nc, csv, fig, section]


def pool_mortality(table: xr.Dataset, variable: str) -> dict[str, float]:
    """Share of the pool dead by the variable's day, per arm."""
    values = np.asarray(table[variable].transpose("patient", "arm").values, dtype=float)
    return {str(a): float(values[:, i].mean()) for i, a in enumerate(table["arm"].values)}
