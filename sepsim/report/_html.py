"""``report.html``: one self-contained page (inline CSS, figures embedded as base64 PNG, no scripts)."""

from __future__ import annotations

import base64
import datetime
import html
import json
import math
import sys
from collections.abc import Iterable, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import xarray as xr
import yaml

from ._summary import to_plain

__all__ = ["render_html", "package_versions"]

PACKAGES = ("sepsim", "jax", "jaxlib", "numpy", "scipy", "xarray", "h5netcdf", "matplotlib", "numpyro", "diffrax")
_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2em auto;max-width:1100px;
color:#222;line-height:1.4}
h1{font-size:1.6em}h2{font-size:1.25em;border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.8em}
table{border-collapse:collapse;margin:.6em 0;font-size:.9em}
th,td{border:1px solid #ddd;padding:.25em .6em;text-align:right}th{background:#f3f3f3}
td:first-child,th:first-child{text-align:left}
pre{background:#f7f7f7;padding:.8em;overflow:auto;font-size:.85em}
figure{margin:1em 0}figcaption{font-size:.85em;color:#555}img{max-width:100%}
.note{font-size:.85em;color:#555}
"""


def package_versions(packages: Iterable[str] = PACKAGES) -> dict[str, str]:
    """Installed versions of the packages that shape the results (``"not installed"`` where absent)."""
    out = {"python": sys.version.split()[0]}
    for name in packages:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def _fmt(x: Any) -> str:
    try:
        x = float(x)
    except (TypeError, ValueError):
        return html.escape(str(x))
    return "&ndash;" if not math.isfinite(x) else f"{x:.4g}"


def _cell(da: xr.DataArray) -> str:
    """``estimate (mcse)`` of a figure with a ``stat`` dimension."""
    est, se = da.sel(stat="estimate").item(), da.sel(stat="mcse").item()
    return f"{_fmt(est)} <small>({_fmt(se)})</small>"


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    head = "".join(f"<th>{h}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _interval_rows(oc: xr.Dataset, items: Sequence[tuple[str, xr.DataArray]]) -> list[list[str]]:
    rows = []
    for label, da in items:
        est, se, lo, hi = (da.sel(stat=s).item() for s in ("estimate", "mcse", "lo", "hi"))
        rows.append([html.escape(label), _fmt(est), _fmt(se), f"[{_fmt(lo)}, {_fmt(hi)}]"])
    return rows


def _is_ordinal(results: xr.Dataset) -> bool:
    """An ordinal (proportional-odds) run: "events" are sums of outcome categories, means are mean categories."""
    return "n_category" in results


def _words(results: xr.Dataset) -> dict[str, str]:
    if _is_ordinal(results):
        return {"events": "sum of outcome categories", "per_patient": "mean outcome category", "mean": "mean category"}
    return {"events": "events", "per_patient": "events per patient", "mean": "mean"}


def _categories(results: xr.Dataset) -> str:
    """Ordinal runs: share of each outcome category per arm over all patients with an outcome at the stop look."""
    stop = results["trial_stop_look"].clip(0, results.sizes["look"] - 1)
    at_stop = results["n_category"].isel(look=stop).sum("trial")  # (arm, stratum, category)
    parts = []
    cats = [str(c) for c in range(results.sizes["category"])]
    for s in [str(v) for v in results["stratum"].values]:
        rows = []
        for a in [str(v) for v in results["arm"].values]:
            counts = at_stop.sel(arm=a, stratum=s).values.astype(float)
            total = counts.sum()
            rows.append([html.escape(a), *[_fmt(c / total if total else float("nan")) for c in counts]])
        parts.append(f"<h3>stratum {html.escape(s)}</h3>" + _table(["arm", *[f"P(category {c})" for c in cats]], rows))
    note = (
        '<p class="note">Observed share of each outcome category (0 = worst when higher is better) among the '
        "patients with an outcome at each trial's last look, pooled over trials.</p>"
    )
    return note + "".join(parts)


def _calendar(results: xr.Dataset) -> str:
    """Arm windows of a calendar-day platform (``arm_start_day``/``arm_stop_day``) and the looks' calendar days."""
    try:
        design = json.loads(results.attrs.get("design", "") or "{}")
    except (TypeError, json.JSONDecodeError):
        return ""
    start, stop = design.get("arm_start_day"), design.get("arm_stop_day")
    if not start or "look_time" not in results:
        return ""
    arms = list(design.get("arms") or [str(a) for a in results["arm"].values])
    stop = stop or [-1] * len(arms)
    rows = [
        [html.escape(a), _fmt(b), "never" if e is None or e < 0 else _fmt(e)]
        for a, b, e in zip(arms, start, stop, strict=True)
    ]
    running = results["look"] <= results["trial_stop_look"]
    day = results["look_time"].where(running)
    look_rows = [
        [str(int(n)), _fmt(day.isel(look=k).mean().item()), _fmt(running.isel(look=k).mean().item())]
        for k, n in enumerate(results["look_n"].values)
    ]
    return (
        '<p class="note">A patient is randomised among the arms open on his arrival day; an arm that opens later '
        "is compared with the control patients who arrived while it was open (concurrent controls).</p>"
        + _table(["arm", "opens on day", "stops recruiting on day"], rows)
        + _table(["look (patients with outcome)", "mean calendar day", "share of trials reaching it"], look_rows)
    )


def _headline(oc: xr.Dataset, results: xr.Dataset | None = None) -> str:
    w = _words(results) if results is not None else _words(xr.Dataset())
    meaning = oc.attrs.get("p_superiority_meaning", "")
    items = [
        (f"P(any arm declared superior) ({meaning})", oc["p_superiority"]),
        ("P(conclusive: superiority, equivalence or futility)", oc["p_conclusive"]),
        *[(f"P(trial stops: {o})", oc["p_outcome"].sel(outcome=o)) for o in [str(v) for v in oc["outcome"].values]],
        ("expected sample size", oc["sample_size_mean"]),
        *[
            (f"sample size, {100 * q:g}% quantile", oc["sample_size_quantile"].sel(quantile=q))
            for q in oc["quantile"].values
        ],
        (f"expected {w['events']} in the trial", oc["events_total_mean"]),
        (f"expected {w['per_patient']} in the trial", oc["events_per_patient_mean"]),
    ]
    return _table(["figure", "estimate", "MC SE", "95% MC interval"], _interval_rows(oc, items))


def _per_stratum(oc: xr.Dataset, results: xr.Dataset | None = None) -> str:
    w = _words(results) if results is not None else _words(xr.Dataset())
    strata = [str(s) for s in oc["stratum"].values]
    rows = [
        ["truly best arm", *[html.escape(str(oc["best_arm"].sel(stratum=s).item()) or "none (tie)") for s in strata]]
    ]
    names = [
        ("P(any arm superior)", "p_superiority_stratum"),
        ("ideal design percentage", "idp"),
        ("P(best arm selected)", "p_select_best"),
        ("share of patients on best arm (mean)", "best_share_mean"),
        ("P(more patients on an inferior arm than on the best)", "p_more_on_inferior"),
        ("expected patients", "sample_size_stratum_mean"),
        (f"expected {w['events']}", "events_stratum_mean"),
        (f"expected {w['per_patient']}", "events_per_patient_stratum_mean"),
        ("RMSE of the selected arm's estimate", "rmse_selected"),
        ("RMSE of the selected arm's effect vs control", "rmse_te_selected"),
    ]
    rows += [[label, *[_cell(oc[name].sel(stratum=s)) for s in strata]] for label, name in names]
    for sel in [str(v) for v in oc["selection"].values]:
        rows.append(
            [f"P(select {html.escape(sel)})", *[_cell(oc["p_select"].sel(stratum=s, selection=sel)) for s in strata]]
        )
    return _table(["figure: estimate (MC SE)", *[html.escape(s) for s in strata]], rows)


def _per_arm(results: xr.Dataset, oc: xr.Dataset) -> str:
    parts = []
    decisions = [str(d) for d in oc["decision"].values if str(d) != "none"]
    for s in [str(v) for v in oc["stratum"].values]:
        rows = []
        for a in [str(v) for v in oc["arm"].values]:
            o = oc.sel(stratum=s, arm=a)
            rows.append(
                [
                    html.escape(a),
                    _fmt(results["true_mean"].sel(arm=a, stratum=s).item()),
                    _cell(o["sample_size_arm_mean"]),
                    *[_cell(o["p_decision"].sel(decision=d)) for d in decisions],
                    _cell(o["bias"]),
                    _cell(o["rmse"]),
                    _cell(o["bias_te"]),
                    _cell(o["rmse_te"]),
                ]
            )
        header = [
            "arm",
            f"true {_words(results)['mean']}",
            "E[patients]",
            *[f"P({d})" for d in decisions],
            "bias",
            "RMSE",
        ]
        parts.append(f"<h3>stratum {html.escape(s)}</h3>" + _table([*header, "bias (effect)", "RMSE (effect)"], rows))
    return "".join(parts)


def _figures(run_dir: Path, figures: dict[str, tuple[str, Path]]) -> str:
    out = []
    for name, (title, path) in figures.items():
        rel = Path(path).relative_to(run_dir).as_posix() if Path(path).is_relative_to(run_dir) else str(path)
        data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
        out.append(
            f'<figure id="fig-{html.escape(name)}"><img alt="{html.escape(title)}" '
            f'src="data:image/png;base64,{data}"><figcaption>{html.escape(title)} '
            f'(<a href="{html.escape(rel)}">{html.escape(rel)}</a>)</figcaption></figure>'
        )
    return "".join(out)


def _pre(text: str) -> str:
    return f"<pre>{html.escape(text)}</pre>"


def render_html(
    run_dir: Path,
    results: xr.Dataset,
    oc: xr.Dataset,
    *,
    figures: dict[str, tuple[str, Path]],
    config: dict,
    extra: dict | None = None,
) -> str:
    """The report page: OC tables with MC SEs, the embedded figures, the resolved config as YAML, versions."""
    n_trials = oc.attrs.get("n_trials", results.sizes["trial"])
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    versions = package_versions()
    design = results.attrs.get("design", "")
    try:
        design = json.dumps(json.loads(design), indent=2)
    except (TypeError, json.JSONDecodeError):
        design = str(design)
    sections = [
        f"<h1>sepsim run report: {html.escape(Path(run_dir).name)}</h1>",
        f'<p class="note">{n_trials} simulated trials; seed {html.escape(str(results.attrs.get("seed")))}; '
        f"control arm {html.escape(str(results.attrs.get('control_arm', '') or 'none'))}; higher is better: "
        f"{bool(int(results.attrs.get('higher_is_better', 0)))}; written {stamp}.</p>",
        '<p class="note">Every figure is a Monte-Carlo estimate over the simulated trials with its Monte-Carlo '
        f"standard error (MC SE) and a 95% Monte-Carlo interval: {html.escape(str(oc.attrs.get('mc_intervals')))}. "
        f"Definitions: {html.escape(str(oc.attrs.get('source')))}; selection strategy "
        f"&ldquo;{html.escape(str(oc.attrs.get('select_strategy')))}&rdquo;.</p>",
        "<h2>Headline operating characteristics</h2>",
        _headline(oc, results),
        "<h2>Per stratum</h2>",
        _per_stratum(oc, results),
        "<h2>Per arm</h2>",
        _per_arm(results, oc),
        *(["<h2>Outcome categories</h2>", _categories(results)] if _is_ordinal(results) else []),
        *(["<h2>Calendar time</h2>", cal] if (cal := _calendar(results)) else []),
        "<h2>Figures</h2>",
        _figures(Path(run_dir), figures),
        "<h2>Resolved configuration</h2>",
        _pre(yaml.safe_dump(to_plain(config), sort_keys=False, allow_unicode=True)),
        "<h2>Design (from the results)</h2>",
        _pre(design),
    ]
    if extra:
        sections += ["<h2>Extra</h2>", _pre(json.dumps(to_plain(extra), indent=2))]
    sections += [
        "<h2>Package versions</h2>",
        _table(["package", "version"], [[k, html.escape(v)] for k, v in versions.items()]),
    ]
    body = "\n".join(sections)
    title = html.escape(f"sepsim report: {Path(run_dir).name}")
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f"<style>{_CSS}</style></head><body>\n{body}\n</body></html>\n"
    )
