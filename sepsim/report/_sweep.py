"""The report of a merged sweep (``sepsim-collect --report``): operating characteristics against the swept
parameters, with Monte-Carlo error bars, a side-by-side design table, and heat maps when two parameters are swept.

Input: the merged ``oc.nc`` of a sweep (:func:`sepsim.collect.collect`), whose dimensions are the swept parameters
plus the OC dimensions. Efficacy per stratum is the run's ``efficacy`` (over the stratum's own arms, with its
meaning: power, type-I error or false efficacy claim; written by the pipeline); older files fall back to the
engine's ``p_superiority_stratum``.
"""

from __future__ import annotations

import html
import itertools
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from .._errors import DataFileError
from .._io import atomic_write_json, atomic_write_text
from ._figures import _figure, _save
from ._html import _figures, _table, definitions, page
from ._mc import fmt

__all__ = ["write_sweep_report", "sweep_points"]

_MARKERS = {
    "power": ("o", "power"),
    "type-I error": ("s", "type-I error"),
    "false efficacy claim": ("x", "false claim"),
}


def _swept(merged: xr.Dataset) -> list[str]:
    swept = [s for s in str(merged.attrs.get("swept", "")).split(",") if s]
    missing = [s for s in swept if s not in merged.dims]
    if not swept or missing:
        raise DataFileError(
            str(merged.attrs.get("source", "merged sweep")),
            "no swept dimensions recorded (attrs 'swept'); merge the sweep with sepsim-collect first",
        )
    return swept


def _efficacy(merged: xr.Dataset) -> tuple[xr.DataArray, xr.DataArray]:
    if "efficacy" in merged:
        return merged["efficacy"], merged["efficacy_meaning"].astype(str)
    null = merged["null_scenario"].astype(bool)
    return merged["p_superiority_stratum"], xr.where(null, "type-I error", "power")


def sweep_points(merged: xr.Dataset) -> list[dict[str, Any]]:
    """One entry per swept point: its parameters and, per stratum, efficacy (with meaning) and harm, and the
    expected sample size and P(conclusive), each ``{mean, q025, q975, mcse, units}``."""
    swept = _swept(merged)
    eff, meaning = _efficacy(merged)
    est = lambda da, units: {
        "mean": _num(da.sel(stat="estimate")), "q025": _num(da.sel(stat="lo")), "q975": _num(da.sel(stat="hi")),
        "mcse": _num(da.sel(stat="mcse")), "units": units,
    }  # fmt: skip
    out = []
    for values in itertools.product(*[merged[s].values.tolist() for s in swept]):
        at = dict(zip(swept, values, strict=True))
        strata = {}
        for s in [str(v) for v in merged["stratum"].values]:
            strata[s] = {
                "efficacy": est(eff.sel(at).sel(stratum=s), "1"),
                "efficacy_meaning": str(meaning.sel(at).sel(stratum=s).item()),
                **({"harm": est(merged["harm"].sel(at).sel(stratum=s), "1")} if "harm" in merged else {}),
            }
        out.append({
            "parameters": at,
            "expected_sample_size": est(merged["sample_size_mean"].sel(at), "patients"),
            "p_conclusive": est(merged["p_conclusive"].sel(at), "1"),
            "strata": strata,
        })  # fmt: skip
    return out


def _num(da: xr.DataArray) -> float | None:
    x = float(da.item())
    return x if np.isfinite(x) else None


def _cell(e: dict[str, Any]) -> str:
    if e["mean"] is None:
        return "&ndash;"
    return f"{fmt(e['mean'])} <small>[{fmt(e['q025'])}, {fmt(e['q975'])}]</small>"


def design_table(points: list[dict[str, Any]], swept: list[str]) -> str:
    """Every swept point side by side: its parameters, efficacy per stratum (with meaning), harm, E[N]."""
    strata = list(points[0]["strata"]) if points else []
    header = [*map(html.escape, swept)]
    for s in strata:
        header += [f"{html.escape(s)}: efficacy", f"{html.escape(s)}: means", f"{html.escape(s)}: harm"]
    header += ["E[N]", "P(conclusive)"]
    rows = []
    for p in points:
        row = [html.escape(str(v)) for v in p["parameters"].values()]
        for s in strata:
            d = p["strata"][s]
            row += [_cell(d["efficacy"]), html.escape(d["efficacy_meaning"]), _cell(d["harm"]) if "harm" in d else "-"]
        rows.append([*row, _cell(p["expected_sample_size"]), _cell(p["p_conclusive"])])
    return _table(header, rows)


def _positions(values: list) -> tuple[np.ndarray, list[str] | None]:
    try:
        return np.asarray(values, dtype=float), None
    except (TypeError, ValueError):
        return np.arange(len(values), dtype=float), [str(v) for v in values]


def plot_oc_curves(merged: xr.Dataset, path: Path) -> Path:
    """Efficacy per stratum and expected N against each swept parameter (other parameters: one line each), with
    95% Monte-Carlo error bars; marker shape says whether efficacy is power, type-I error or a false claim."""
    swept = _swept(merged)
    eff, meaning = _efficacy(merged)
    strata = [str(v) for v in merged["stratum"].values]
    panels: list[tuple[str, xr.DataArray, xr.DataArray | None, str]]
    panels = [(s, eff.sel(stratum=s), meaning.sel(stratum=s), "P(efficacy)") for s in strata]
    panels.append(("expected sample size", merged["sample_size_mean"], None, "patients"))
    fig, axes_flat = _figure(len(panels) * len(swept), width=4.0, height=3.3)
    axes = iter(axes_flat)
    for x_name in swept:
        others = [s for s in swept if s != x_name]
        x, labels = _positions(merged[x_name].values.tolist())
        for title, da, mean_of, ylabel in panels:
            ax = next(axes)
            for combo in itertools.product(*[merged[o].values.tolist() for o in others]):
                at = dict(zip(others, combo, strict=True))
                line = da.sel(at).transpose(x_name, "stat")
                m, lo, hi = (line.sel(stat=k).values for k in ("estimate", "lo", "hi"))
                label = ", ".join(f"{o}={v}" for o, v in at.items()) or None
                (h,) = ax.plot(x, m, lw=1, label=label)
                ax.errorbar(x, m, yerr=[m - lo, hi - m], fmt="none", ecolor=h.get_color(), capsize=3, lw=0.8)
                kinds = mean_of.sel(at).values.astype(str) if mean_of is not None else ["power"] * len(x)
                for xi, mi, kind in zip(x, m, kinds, strict=True):
                    marker = _MARKERS.get(str(kind), ("o", ""))[0]
                    ax.plot([xi], [mi], marker=marker, color=h.get_color(), ms=5, mfc="none" if marker == "s" else None)
            if labels:
                ax.set_xticks(x, labels, fontsize=7, rotation=20)
            ax.set_xlabel(x_name, fontsize=8)
            ax.set_ylabel(ylabel, fontsize=8)
            ax.set_title(title, fontsize=9)
            if others:
                ax.legend(fontsize=6)
    return _save(fig, path)


def plot_heatmaps(merged: xr.Dataset, path: Path) -> Path:
    """Two swept parameters: efficacy per stratum and expected N as heat maps, each cell annotated with its
    estimate and the half-width of its 95% MC interval."""
    a, b = _swept(merged)
    eff, meaning = _efficacy(merged)
    strata = [str(v) for v in merged["stratum"].values]
    maps: list[tuple[str, xr.DataArray, xr.DataArray | None]]
    maps = [(f"P(efficacy), {s}", eff.sel(stratum=s), meaning.sel(stratum=s)) for s in strata]
    maps.append(("expected sample size", merged["sample_size_mean"], None))
    fig, axes = _figure(len(maps), width=4.2, height=3.6)
    for ax, (title, da, mean_of) in zip(axes, maps, strict=True):
        grid = da.transpose(a, b, "stat")
        m = grid.sel(stat="estimate").values.astype(float)
        half = (grid.sel(stat="hi") - grid.sel(stat="lo")).values.astype(float) / 2
        im = ax.imshow(m.T, origin="lower", aspect="auto", cmap="viridis")
        fig.colorbar(im, ax=ax, shrink=0.8)
        for i, j in itertools.product(range(m.shape[0]), range(m.shape[1])):
            kind = f"\n{_MARKERS.get(str(mean_of.values[i, j]), ('', ''))[1]}" if mean_of is not None else ""
            ax.text(i, j, f"{fmt(m[i, j], 2)}\u00b1{fmt(half[i, j], 1)}{kind}", ha="center", va="center", fontsize=6,
                    color="w" if m[i, j] < np.nanmean(m) else "k")  # fmt: skip
        ax.set_xticks(range(m.shape[0]), [str(v) for v in merged[a].values], fontsize=7, rotation=20)
        ax.set_yticks(range(m.shape[1]), [str(v) for v in merged[b].values], fontsize=7)
        ax.set(xlabel=a, ylabel=b)
        ax.set_title(title, fontsize=9)
    return _save(fig, path)


def write_sweep_report(merged: xr.Dataset, out_dir: str | Path) -> Path:
    """Write ``report.html``, ``summary.json`` and ``figures/*.png`` of a merged sweep into ``out_dir``; returns
    the page's path.

    Raises:
        DataFileError: if ``merged`` is not a merged sweep of operating characteristics.
    """
    out_dir = Path(out_dir)
    need = ("sample_size_mean", "p_conclusive")
    if not isinstance(merged, xr.Dataset) or any(n not in merged for n in need) or "stratum" not in merged.dims:
        raise DataFileError(
            str(getattr(merged, "attrs", {}).get("source", out_dir)),
            f"not a merged sweep of oc.nc (needs {list(need)} and dim 'stratum'; merge with --artifact oc.nc)",
        )
    swept = _swept(merged)
    points = sweep_points(merged)
    figures: dict[str, tuple] = {
        "oc_curves": (
            "Operating characteristics against the swept parameters",
            "Efficacy per stratum (filled circle: power, open square: type-I error, cross: false efficacy claim) and "
            "the expected sample size at each swept point; error bars: 95% Monte-Carlo intervals.",
            plot_oc_curves(merged, out_dir / "figures" / "oc_curves.png"),
        )
    }
    if len(swept) == 2:
        figures["heatmaps"] = (
            "Heat maps over the two swept parameters",
            "Each cell: the estimate \u00b1 the half-width of its 95% Monte-Carlo interval (and what efficacy means "
            "there).",
            plot_heatmaps(merged, out_dir / "figures" / "heatmaps.png"),
        )
    figures = {k: (t, p, c) for k, (t, c, p) in figures.items()}
    keys = str(merged.attrs.get("swept_keys", ",".join(swept))).split(",")
    atomic_write_json(out_dir / "summary.json", {"schema": "sepsim.sweep_summary/1", "swept": swept,
                                                 "swept_keys": keys, "points": points})  # fmt: skip
    body = [
        f"<h1>Sweep over {html.escape(', '.join(keys))}</h1>",
        f'<p class="question">{len(points)} points ({int(merged.attrs.get("n_runs", len(points)))} runs) from '
        f"{html.escape(str(merged.attrs.get('source', '')))}.</p>",
        "<h2>Designs side by side</h2>",
        '<p class="note">Estimates with 95% Monte-Carlo intervals in brackets; "means" says whether efficacy is the '
        "power (a non-control arm truly better), the type-I error (all arms equal) or a false efficacy claim.</p>",
        design_table(points, swept),
        "<h2>Figures</h2>",
        _figures(out_dir, figures),
        "<h3>What the numbers mean</h3>",
        definitions(),
    ]
    path = out_dir / "report.html"
    atomic_write_text(path, page(f"sepsim sweep: {', '.join(keys)}", body))
    return path
