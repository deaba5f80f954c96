"""``report.html``: one self-contained page (inline CSS, figures embedded as base64 PNG, no scripts)."""

from __future__ import annotations

import base64
import datetime
import html
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import xarray as xr
import yaml

from ._decisions import DEFINITIONS, StratumDecisions
from ._mc import Estimate, fmt
from ._provenance import package_versions
from ._sections import ReportSection
from ._summary import to_plain

__all__ = ["render_html", "package_versions", "page"]

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2em auto;max-width:1100px;
padding:0 1.2em;color:#222;line-height:1.4}
h1{font-size:1.6em}h2{font-size:1.25em;border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.8em}
table{border-collapse:collapse;margin:.6em 0;font-size:.9em}
th,td{border:1px solid #ddd;padding:.25em .6em;text-align:right}th{background:#f3f3f3}
td:first-child,th:first-child{text-align:left}
pre{background:#f7f7f7;padding:.8em;overflow:auto;font-size:.85em}
figure{margin:1em 0}figcaption{font-size:.85em;color:#555}img{max-width:100%}
.note{font-size:.85em;color:#555}
.question{font-size:1.15em;color:#333;margin:.2em 0 1em}
.facts p{margin:.35em 0}
ul.key li{margin:.35em 0}
.wide{overflow-x:auto;max-width:100%}
details{margin:1.5em 0;border:1px solid #ddd;padding:.4em .8em}summary{cursor:pointer;font-weight:600}
dl.defs dt{font-weight:600;margin-top:.4em}dl.defs dd{margin-left:1.5em}
"""


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
    return f'<div class="wide"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


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


def _headline(oc: xr.Dataset, results: xr.Dataset, efficacy_any: Estimate | None) -> str:
    w = _words(results)
    rows = []
    if efficacy_any is not None:
        rows.append(["P(efficacy claimed in at least one stratum)", _fmt(efficacy_any.mean), _fmt(efficacy_any.mcse),
                     f"[{_fmt(efficacy_any.q025)}, {_fmt(efficacy_any.q975)}]"])  # fmt: skip
    items = [
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
    return _table(["figure", "estimate", "MC SE", "95% MC interval"], rows + _interval_rows(oc, items))


def _est(e: Estimate | None, *, percent: bool = False) -> str:
    if e is None:
        return "&ndash;"
    if percent:
        return f"{100 * e.mean:.1f}% <small>[{100 * e.q025:.1f}, {100 * e.q975:.1f}]</small>"
    return f"{fmt(e.mean)} <small>[{fmt(e.q025)}, {fmt(e.q975)}]</small>"


def decision_tables(decisions: Sequence[StratumDecisions], results: xr.Dataset) -> str:
    """Per stratum: its own arms, truth, efficacy (named power / type-I error / false claim), harm, and per arm
    the decision shares, expected patients and bias, each with its 95% MC interval."""
    e = html.escape
    mean_word = _words(results)["mean"]
    summary_rows = [
        ["arms randomised", *[e(", ".join(d.arms)) for d in decisions]],
        ["control", *[e(d.control or "none") for d in decisions]],
        ["truly best arm", *[e(d.best_arm or "none (tie)") for d in decisions]],
        ["arms truly better than control", *[e(", ".join(d.better_than_control) or "none") for d in decisions]],
        ["efficacy: P(a non-control arm declared superior)", *[_est(d.efficacy, percent=True) for d in decisions]],
        ["efficacy means", *[e(d.efficacy_meaning) for d in decisions]],
        ["harm: P(control declared superior)", *[_est(d.harm, percent=True) for d in decisions]],
        ["P(truly best arm declared superior)", *[_est(d.best_declared, percent=True) for d in decisions]],
    ]
    parts = [_table(["per stratum: estimate [95% MC interval]", *[e(d.stratum) for d in decisions]], summary_rows)]
    names = ["superior", "inferior", "futile", "equivalent"]
    for d in decisions:
        rows = [
            [e(a), _fmt(d.true_mean[a]), _est(d.patients[a]), *[_est(d.p_decision[a][k], percent=True) for k in names],
             _est(d.bias[a])]
            for a in d.arms
        ]  # fmt: skip
        header = ["arm", f"true {mean_word}", "E[patients]", *[f"P({k})" for k in names], "bias of estimate"]
        parts.append(f"<h3>stratum {e(d.stratum)}</h3>" + _table(header, rows))
    return "".join(parts)


def definitions() -> str:
    """The decision quantities, defined."""
    items = "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>" for k, v in DEFINITIONS.items())
    return f'<dl class="defs">{items}</dl>'


def _figures(run_dir: Path, figures: Mapping[str, tuple]) -> str:
    """Embedded figures; values ``(title, path)`` or ``(title, path, caption)``."""
    out = []
    for name, item in figures.items():
        title, path = item[0], item[1]
        caption = item[2] if len(item) > 2 else ""
        rel = Path(path).relative_to(run_dir).as_posix() if Path(path).is_relative_to(run_dir) else str(path)
        data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
        out.append(
            f'<figure id="fig-{html.escape(name)}"><img alt="{html.escape(title)}" '
            f'src="data:image/png;base64,{data}"><figcaption><b>{html.escape(title)}.</b> {html.escape(caption)} '
            f'(<a href="{html.escape(rel)}">{html.escape(rel)}</a>)</figcaption></figure>'
        )
    return "".join(out)


def _pre(text: str) -> str:
    return f"<pre>{html.escape(text)}</pre>"


def appendix(results: xr.Dataset, *, config: Mapping, extra: dict | None, provenance: Mapping[str, Any]) -> str:
    """The machine dumps, collapsed: config, design, extra, git commit and package versions."""
    design = results.attrs.get("design", "")
    try:
        design = json.dumps(json.loads(design), indent=2)
    except (TypeError, json.JSONDecodeError):
        design = str(design)
    git = dict(provenance.get("git") or {})
    commit = str(git.get("commit") or "unknown (not a git checkout)") + (" (uncommitted changes)" if git.get("dirty")
                                                                            else "")  # fmt: skip
    versions = dict(provenance.get("versions") or package_versions())
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    parts = [
        f"<p>Written {stamp}; sepsim git commit <code>{html.escape(commit)}</code>.</p>",
        "<h3>Resolved configuration</h3>",
        _pre(yaml.safe_dump(to_plain(config), sort_keys=False, allow_unicode=True)),
        "<h3>Design (from the results)</h3>",
        _pre(design),
    ]
    if extra:
        parts += ["<h3>Run details</h3>", _pre(json.dumps(to_plain(extra), indent=2))]
    parts += ["<h3>Package versions</h3>", _table(["package", "version"],
                                                 [[k, html.escape(v)] for k, v in versions.items()])]  # fmt: skip
    return (
        "<details><summary>Appendix: configuration, design, run details, versions, git commit</summary>"
        + "".join(parts)
        + "</details>"
    )


def page(title: str, body: Sequence[str]) -> str:
    """A complete self-contained HTML page."""
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{html.escape(title)}</title>'
        f"<style>{_CSS}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n"
    )


def render_html(
    run_dir: Path,
    results: xr.Dataset,
    oc: xr.Dataset,
    *,
    header: str,
    decisions: Sequence[StratumDecisions],
    efficacy_any: Estimate | None,
    figures: Mapping[str, tuple],
    config: Mapping,
    extra: dict | None = None,
    provenance: Mapping[str, Any],
    sections: Sequence[ReportSection] = (),
) -> str:
    """The report page: the study header, decision quantities, OC tables, figures, the study's own sections, and
    the collapsed appendix."""
    run_dir = Path(run_dir)
    n_trials = oc.attrs.get("n_trials", results.sizes["trial"])
    body = [
        header,
        "<h2>Decisions per stratum</h2>",
        f'<p class="note">Over each stratum\'s own arms (arms not randomised there are left out); shares of '
        f"{n_trials} simulated trials with 95% Monte-Carlo intervals in brackets.</p>",
        decision_tables(decisions, results),
        "<h3>What the numbers mean</h3>",
        definitions(),
        "<h2>Trial-level operating characteristics</h2>",
        _headline(oc, results, efficacy_any),
        *(["<h2>Outcome categories</h2>", _categories(results)] if _is_ordinal(results) else []),
        *(["<h2>Calendar time</h2>", cal] if (cal := _calendar(results)) else []),
        "<h2>Figures</h2>",
        _figures(run_dir, figures),
    ]
    for section in sections:
        figs = {f"{section.title}-{i}": (f.title, f.path, f.caption) for i, f in enumerate(section.figures)}
        body += [f"<h2>{html.escape(section.title)}</h2>", section.html, _figures(run_dir, figs)]
    body.append(appendix(results, config=config, extra=extra, provenance=provenance))
    name = str(config.get("name") or run_dir.name)
    return page(f"sepsim: {name}", body)
