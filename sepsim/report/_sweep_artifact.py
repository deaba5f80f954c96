"""The report of a merged sweep of a study's own per-run artifact (``sepsim-collect --artifact X.nc --report``).

:func:`~sepsim.report._sweep.write_sweep_report` reads operating characteristics (``oc.nc``); a study such as
``thresholds`` writes its own quantities per run (``thresholds.nc``: endotype mix, misclassification harm, power per
stratum). This report draws every numeric variable of such a merged artifact against the swept parameters: a heat
map per variable (and per value of its other dimension, e.g. the stratum) when two parameters are swept, a line
otherwise. A variable ``<name>_mcse`` next to ``<name>`` is its Monte-Carlo standard error: the lines get 95% error
bars (+-1.96 MCSE) and the heat-map cells print the estimate +- that half-width.
"""

from __future__ import annotations

import html
import itertools
import textwrap
from pathlib import Path

import numpy as np
import xarray as xr

from .._errors import DataFileError
from .._io import atomic_write_text
from ._figures import _figure, _save
from ._html import _figures, page
from ._sweep import _positions, _swept

__all__ = ["write_artifact_sweep_report", "artifact_panels"]

_Z95 = 1.959963984540054


def artifact_panels(merged: xr.Dataset) -> list[tuple[str, xr.DataArray, xr.DataArray | None]]:
    """``(label, values, mcse or None)`` for every numeric variable and every value of its non-swept dimension."""
    swept = _swept(merged)
    panels = []
    for name, da in merged.data_vars.items():
        if str(name).endswith("_mcse") or not np.issubdtype(da.dtype, np.number):
            continue
        other = [d for d in da.dims if d not in swept]
        if len(other) > 1 or any(s not in da.dims for s in swept):
            continue
        err = merged.get(f"{name}_mcse")
        values = [None] if not other else merged[other[0]].values.tolist()
        for v in values:
            at = {} if v is None else {other[0]: v}
            label = f"{name}{'' if v is None else f' [{v}]'}: {da.attrs.get('long_name', '')}".rstrip(": ")
            label = "\n".join(textwrap.wrap(label, 52)[:3])
            panels.append((label, da.sel(at), None if err is None else err.sel(at)))
    return panels


def _heatmap(ax, merged: xr.Dataset, swept: list[str], label: str, da: xr.DataArray, err) -> None:
    xs, ys = (merged[s].values.tolist() for s in swept)
    grid = da.transpose(*swept).values.astype(float)
    half = None if err is None else _Z95 * err.transpose(*swept).values.astype(float)
    im = ax.imshow(grid.T, origin="lower", aspect="auto", cmap="viridis")
    ax.figure.colorbar(im, ax=ax, shrink=0.8)
    for (i, _), (j, _) in itertools.product(enumerate(xs), enumerate(ys)):
        text = f"{grid[i, j]:.3g}" + ("" if half is None else f"\n\u00b1{half[i, j]:.2g}")
        light = im.norm(grid[i, j]) > 0.6  # viridis is light at the top: dark text there
        ax.text(i, j, text, ha="center", va="center", fontsize=7, color="black" if light else "white")
    ax.set_xticks(range(len(xs)), [str(x) for x in xs])
    ax.set_yticks(range(len(ys)), [str(y) for y in ys])
    ax.set_xlabel(str(merged[swept[0]].attrs.get("long_name", swept[0])))
    ax.set_ylabel(str(merged[swept[1]].attrs.get("long_name", swept[1])))
    ax.set_title(label, fontsize=9)


def _line(ax, merged: xr.Dataset, swept: list[str], label: str, da: xr.DataArray, err) -> None:
    x_name, others = swept[0], swept[1:]
    x, ticks = _positions(merged[x_name].values.tolist())
    for combo in itertools.product(*[merged[o].values.tolist() for o in others]):
        at = dict(zip(others, combo, strict=True))
        y = da.sel(at).values.astype(float)
        yerr = None if err is None else _Z95 * err.sel(at).values.astype(float)
        ax.errorbar(x, y, yerr=yerr, marker="o", capsize=3, label=", ".join(f"{k}={v}" for k, v in at.items()) or None)
    if ticks:
        ax.set_xticks(x, ticks)
    ax.set_xlabel(str(merged[x_name].attrs.get("long_name", x_name)))
    ax.set_title(label, fontsize=9)
    if others:
        ax.legend(fontsize=7)


def write_artifact_sweep_report(merged: xr.Dataset, out_dir: str | Path) -> Path:
    """Write ``report.html`` and ``figures/artifact.png`` of a merged per-run artifact into ``out_dir``.

    Raises:
        DataFileError: if ``merged`` records no swept dimensions or has no numeric variable over them.
    """
    out_dir = Path(out_dir)
    swept = _swept(merged)
    panels = artifact_panels(merged)
    if not panels:
        raise DataFileError(str(merged.attrs.get("source", out_dir)), "no numeric variable over the swept dimensions")
    heat = len(swept) == 2
    cols = 3
    rows = -(-len(panels) // cols)
    fig, axes = _figure(1, width=4.6 * cols, height=3.6 * rows)
    axes[0].remove()
    for k, (label, da, err) in enumerate(panels):
        ax = fig.add_subplot(rows, cols, k + 1)
        (_heatmap if heat else _line)(ax, merged, swept, label, da, err)
    path = _save(fig, out_dir / "figures" / "artifact.png")
    caption = (
        "Each panel: one quantity of the study's per-run file over the swept parameters"
        + (" (cell: estimate, and +- the half-width of its 95% Monte-Carlo interval where the file gives an MCSE)."
           if heat else "; error bars: 95% Monte-Carlo intervals where the file gives an MCSE.")
    )  # fmt: skip
    keys = str(merged.attrs.get("swept_keys", ",".join(swept))).split(",")
    title = str(merged.attrs.get("title", "merged sweep"))
    body = [
        f"<h1>Sweep over {html.escape(', '.join(keys))}: {html.escape(title)}</h1>",
        f'<p class="question">{int(merged.attrs.get("n_runs", 0)) or "several"} runs merged from '
        f"{html.escape(str(merged.attrs.get('source', '')))}.</p>",
        _figures(out_dir, {"artifact": ("Quantities against the swept parameters", path, caption)}),
    ]
    report = out_dir / "report.html"
    atomic_write_text(report, page(f"sepsim sweep: {title}", body))
    return report
