"""The report of a factorial platform (``design.domains``): per-domain figures, ``summary.json`` and ``report.html``.

Same files as :func:`sepsim.report.write_report` for a single-domain run, from the per-domain operating
characteristics of :func:`sepsim.platform._operating.domains.domain_operating_characteristics`.
"""

from __future__ import annotations

import html
import json
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from .._io import atomic_write_json, atomic_write_text
from ._decisions import design_of
from ._figures import _DECISION_COLOURS, _DECISIONS, _Z95, _figure, _mcse, _save, plot_expected_n
from ._html import _cell, _figures, _fmt, _interval_rows, _table, appendix
from ._html import page as render_page
from ._provenance import provenance
from ._study import design_sentences
from ._summary import _nested, interval, to_plain

__all__ = ["write_domain_report", "summarise_domains"]

SCHEMA = "sepsim.summary.domains/1"


def _arms(oc: xr.Dataset, domain: str) -> list[tuple[int, str]]:
    names = oc["arm_name"].sel(domain=domain).values.astype(str)
    return [(i, n) for i, n in enumerate(names) if n]


def summarise_domains(results: xr.Dataset, oc: xr.Dataset, *, config=None, extra=None) -> dict[str, Any]:
    """The content of ``summary.json`` of a domains run (strict JSON)."""
    try:
        design = json.loads(results.attrs.get("design", "") or "null")
    except (TypeError, json.JSONDecodeError):
        design = str(results.attrs.get("design"))
    per_domain = {}
    for d in [str(v) for v in oc["domain"].values]:
        o = oc.sel(domain=d)
        arms = {}
        for i, name in _arms(oc, d):
            a = o.isel(domain_arm=i)
            arms[name] = {
                "true_mean": to_plain(float(a["true_mean_domain"].item())),
                "expected_patients": interval(a["sample_size_arm_mean"]),
                "share_of_patients": interval(a["share_arm_mean"]),
                "p_superior": interval(a["p_decision"].sel(decision="superior")),
                "p_inferior": interval(a["p_decision"].sel(decision="inferior")),
            }
        per_domain[d] = {
            "null_domain": bool(o["null_domain"].item()),
            "p_superiority_meaning": str(o["p_superiority_domain_meaning"].item()),
            "p_superiority": interval(o["p_superiority_domain"]),
            **{f"p_stop_{k}": interval(o["p_domain_outcome"].sel(outcome=k)) for k in oc["outcome"].values},
            "arms": arms,
        }
    headline = {
        "expected_sample_size": interval(oc["sample_size_mean"]),
        "median_sample_size": interval(oc["sample_size_quantile"].sel(quantile=0.5)),
        "expected_events_total": interval(oc["events_total_mean"]),
        "expected_events_per_patient": interval(oc["events_per_patient_mean"]),
        **{f"p_superiority_{d}": interval(oc["p_superiority_domain"].sel(domain=d)) for d in per_domain},
    }
    truth = results["true_mean"].values.tolist() if "true_mean" in results else None
    return to_plain(
        {
            "schema": SCHEMA,
            "n_trials": int(oc.attrs["n_trials"]),
            "seed": results.attrs.get("seed"),
            "higher_is_better": int(oc.attrs["higher_is_better"]),
            "domains": list(per_domain),
            "combinations": [str(a) for a in results["arm"].values],
            "true_mean_combination": dict(zip([str(a) for a in results["arm"].values], truth, strict=True))
            if truth
            else None,
            "truth": oc.attrs.get("truth"),
            "mc_intervals": oc.attrs.get("mc_intervals"),
            "look_n": results["look_n"].values.tolist(),
            "design": design,
            "headline": headline,
            "per_domain": per_domain,
            "operating_characteristics": {n: _nested(da) for n, da in oc.data_vars.items() if "stat" in da.dims},
            "config": config or {},
            "extra": extra or {},
        }
    )


def plot_domain_allocation(results: xr.Dataset, oc: xr.Dataset, path: Path) -> Path:
    """Mean allocation probability per domain arm after each look (running trials), one panel per domain."""
    domains = [str(v) for v in oc["domain"].values]
    fig, axes = _figure(len(domains))
    x = np.asarray(results["look_n"].values, dtype=float)
    running = (results["look"] < results["trial_stop_look"]).transpose("trial", "look").values
    for ax, d in zip(axes, domains, strict=True):
        for i, name in _arms(oc, d):
            a = results["alloc_prob"].sel(domain=d, domain_arm=i).transpose("trial", "look").values
            a = np.where(running, a, np.nan)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                mean = np.nanmean(a, axis=0)
                lo, hi = np.nanquantile(a, 0.1, axis=0), np.nanquantile(a, 0.9, axis=0)
            (line,) = ax.plot(x, mean, marker="o", ms=3, label=name)
            ax.fill_between(x, lo, hi, color=line.get_color(), alpha=0.18, lw=0)
            ax.errorbar(x, mean, yerr=_Z95 * _mcse(a), fmt="none", ecolor=line.get_color(), capsize=2, lw=0.8)
        ax.set(xlabel="patients with outcome at look", ylabel="allocation probability", ylim=(0, 1))
        ax.set_title(f"allocation after each look (domain {d})", fontsize=10)
        ax.legend(fontsize=8)
    return _save(fig, path)


def plot_domain_decisions(oc: xr.Dataset, path: Path) -> Path:
    """Probability of each final decision per arm, one panel per domain."""
    domains = [str(v) for v in oc["domain"].values]
    fig, axes = _figure(len(domains), height=3.2)
    p = oc["p_decision"]
    names = [n for n in _DECISIONS if n != "none"]
    height = 0.8 / len(names)
    for ax, d in zip(axes, domains, strict=True):
        arms = _arms(oc, d)
        y = np.arange(len(arms))
        for k, (name, colour) in enumerate(zip(names, _DECISION_COLOURS[1:], strict=True)):
            est = p.sel(domain=d, decision=name).isel(domain_arm=[i for i, _ in arms]).transpose("domain_arm", "stat")
            m, lo, hi = (est.sel(stat=q).values for q in ("estimate", "lo", "hi"))
            ax.barh(y + (k - 1.5) * height, m, height=height, color=colour, label=name,
                    xerr=[m - lo, hi - m], error_kw={"lw": 0.8, "capsize": 2})  # fmt: skip
        ax.invert_yaxis()
        ax.set_yticks(y, [n for _, n in arms])
        ax.set(xlabel="probability", xlim=(0, 1))
        ax.set_title(f"final decision per arm (domain {d})", fontsize=10)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=8, loc="outside lower center", ncols=len(_DECISIONS))
    return _save(fig, path)


def plot_domain_stopping(results: xr.Dataset, oc: xr.Dataset, path: Path) -> Path:
    """Share of trials in which each domain had stopped by each look (a domain that reaches the end never stops)."""
    fig, (ax,) = _figure()
    labels = [str(int(v)) for v in results["look_n"].values]
    x = np.arange(len(labels))
    stopped = results["domain_outcome"] > 0
    for d in [str(v) for v in oc["domain"].values]:
        look = results["domain_stop_look"].sel(domain=d).values
        hit = stopped.sel(domain=d).values
        cum = np.array([np.mean(hit & (look <= k)) for k in x])
        ax.plot(x, cum, marker="o", ms=3, label=d)
    ax.set_xticks(x, labels, fontsize=8)
    ax.set(xlabel="look (planned patients with outcome)", ylabel="share of trials with domain stopped", ylim=(0, 1))
    ax.set_title("domain stopping (superiority, equivalence or futility)", fontsize=10)
    ax.legend(fontsize=8)
    return _save(fig, path)


FIGURES = {  # name -> (title, caption, draw)
    "allocation": (
        "Allocation over time, per domain",
        "Mean allocation probability per domain arm after each look (running trials); error bars: 95% Monte-Carlo "
        "interval of the mean; bands: 10-90% of trials (spread between trials).",
        lambda r, oc, p: plot_domain_allocation(r, oc, p),
    ),
    "decisions": (
        "Decision probabilities per domain arm",
        "Share of simulated trials ending with each decision per domain arm (the rest: no decision); error bars: "
        "Wilson 95% Monte-Carlo intervals.",
        lambda r, oc, p: plot_domain_decisions(oc, p),
    ),
    "stopping": (
        "Domain stopping by look",
        "Share of trials in which each domain had stopped by each look (a share of simulated trials; its MC SE is "
        "at most 0.5/sqrt(n_trials)).",
        lambda r, oc, p: plot_domain_stopping(r, oc, p),
    ),
    "expected_n": (
        "Sample-size distribution",
        "Trials' sample sizes; black line and grey band: the expected sample size and its 95% Monte-Carlo interval.",
        lambda r, oc, p: plot_expected_n(r, oc, p),
    ),
}


def _domain_tables(oc: xr.Dataset) -> str:
    parts = []
    for d in [str(v) for v in oc["domain"].values]:
        o = oc.sel(domain=d)
        meaning = str(o["p_superiority_domain_meaning"].item())
        items = [(f"P(a non-control arm declared superior) ({meaning})", o["p_superiority_domain"])]
        items += [(f"P(domain ends: {k})", o["p_domain_outcome"].sel(outcome=k)) for k in oc["outcome"].values]
        head = _table(["figure", "estimate", "MC SE", "95% MC interval"], _interval_rows(oc, items))
        decisions = [str(k) for k in oc["decision"].values if str(k) != "none"]
        rows = []
        for i, name in _arms(oc, d):
            a = o.isel(domain_arm=i)
            rows.append(
                [
                    html.escape(name),
                    _fmt(a["true_mean_domain"].item()),
                    _cell(a["sample_size_arm_mean"]),
                    _cell(a["share_arm_mean"]),
                    *[_cell(a["p_decision"].sel(decision=k)) for k in decisions],
                    _cell(a["estimate_mean"]),
                ]
            )
        header = ["arm", "true rate (marginal)", "E[patients]", "share", *[f"P({k})" for k in decisions], "E[est]"]
        parts.append(f"<h3>domain {html.escape(d)}</h3>{head}{_table(header, rows)}")
    return "".join(parts)


def write_domain_report(
    run_dir: Path, results: xr.Dataset, oc: xr.Dataset, *, config: Mapping, extra: dict | None = None
) -> None:
    """Write figures, ``summary.json`` and ``report.html`` (last) of a domains run into ``run_dir``."""
    run_dir = Path(run_dir)
    prov = provenance()
    summary = summarise_domains(results, oc, config=config, extra=extra)
    summary["provenance"] = prov
    fig_dir = run_dir / "figures"
    figures = {
        name: (title, draw(results, oc, fig_dir / f"{name}.png"), caption)
        for name, (title, caption, draw) in FIGURES.items()
    }
    atomic_write_json(run_dir / "summary.json", summary)
    headline = [
        ("expected sample size", oc["sample_size_mean"]),
        ("median sample size", oc["sample_size_quantile"].sel(quantile=0.5)),
        ("expected events in the trial", oc["events_total_mean"]),
        ("expected events per patient", oc["events_per_patient_mean"]),
    ]
    combos = [str(a) for a in results["arm"].values]
    truth = results["true_mean"].values if "true_mean" in results else np.full(len(combos), np.nan)
    n_combo = results["n_combination"].mean("trial").values
    combo_rows = [[html.escape(c), _fmt(t), _fmt(n)] for c, t, n in zip(combos, truth, n_combo, strict=True)]
    name = str(config.get("name") or run_dir.name)
    question = str(config.get("description") or "").strip()
    design_words = " ".join(design_sentences(design_of(results)))
    sections = [
        f"<h1>{html.escape(name)} (factorial platform)</h1>",
        *([f'<p class="question">{html.escape(question)}</p>'] if question else []),
        f'<div class="facts"><p><b>Design.</b> {html.escape(design_words)}</p>'
        f"<p><b>Simulation.</b> {oc.attrs['n_trials']} simulated trials (seed "
        f"{html.escape(str(results.attrs.get('seed')))}); domains "
        f"{html.escape(', '.join(str(v) for v in oc['domain'].values))}, each analysing its own arms marginally; "
        f"true rates per domain arm are {html.escape(str(oc.attrs['truth']))}. MC intervals: "
        f"{html.escape(str(oc.attrs['mc_intervals']))}.</p></div>",
        "<h2>Headline operating characteristics</h2>",
        _table(["figure", "estimate", "MC SE", "95% MC interval"], _interval_rows(oc, headline)),
        "<h2>Per domain</h2>",
        _domain_tables(oc),
        "<h2>Combinations</h2>",
        _table(["combination", "true rate", "E[patients]"], combo_rows),
        "<h2>Figures</h2>",
        _figures(run_dir, figures),
        appendix(results, config=config, extra=extra, provenance=prov),
    ]
    page = render_page(f"sepsim: {name}", sections)
    atomic_write_text(run_dir / "report.html", page)
