"""The virtual-cohort section of a mechanistic run: who the virtual patients are and what the dynamics predict.

From the run's own outcome table (every virtual patient under every arm, ``sepsim.models.simulate_outcomes``):
the screening flow and pool per stratum, the true rate of the endpoint per arm and stratum (the truth the trials are
judged against), the endotype scatter with the classification cut-offs, Kaplan-Meier curves by arm and mean
trajectories of cytokines, mHLA-DR, lymphocytes and SOFA by arm and stratum.
"""

from __future__ import annotations

import html
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ._figures import _figure, _figure_grid, _save
from ._html import _table
from ._mc import Z95, Estimate, fmt
from ._published import PUBLISHED, Comparison, compare, comparison_table

__all__ = ["CohortView", "cohort_section", "true_rates", "FERRITIN_CUT", "HLA_DR_CUT"]

FERRITIN_CUT = 4420.0  # ng/mL; MALS above it (calibration_targets.yaml IS-04)
HLA_DR_CUT = 5000.0  # AB/C; immunoparalysis below it with ferritin <= 4420 (IS-04)
TRAJECTORIES = (  # (variable of the outcome table, label, log scale)
    ("state_il6", "IL-6 (pg/mL)", True),
    ("state_il10", "IL-10 (pg/mL)", True),
    ("state_tnf", "TNF (pg/mL)", True),
    ("state_hla_dr", "mHLA-DR (AB/C)", False),
    ("state_lymphocytes", "lymphocytes (10^3/\u00b5L)", False),
    ("sofa", "SOFA (points, survivors)", False),
)
_POOL_NOTE_RATIO = 5.0  # pool / maximum sample size below which the report says trials share patients


@dataclass(frozen=True)
class CohortView:
    """What the report needs to describe a mechanistic run's virtual cohort.

    Attributes:
        table: the outcome table of every solved virtual patient (dims ``patient``, ``arm``, ``day``), before
            screening.
        eligible: the same for the patients the design enrols (the trials' pool).
        endpoint: the endpoint variable (e.g. ``"responder"``).
        stratum: the stratum variable (e.g. ``"endotype"``), or None.
        n_simulated: virtual patients simulated (before solver failures).
        solver_failures: patients excluded because a solve failed.
        max_n: the design's maximum sample size (its last look).
        stratum_arms: the arms randomised in each stratum (None: every arm everywhere); the others are left out
            of the stratum's tables and figures.
    """

    table: xr.Dataset
    eligible: xr.Dataset
    endpoint: str
    stratum: str | None
    n_simulated: int
    solver_failures: int
    max_n: int
    stratum_arms: Mapping[str, Sequence[str]] | None = None

    def arms(self, stratum: str) -> list[str]:
        """The arms randomised in ``stratum``, in the table's order."""
        every = [str(a) for a in self.eligible["arm"].values]
        if self.stratum_arms is None or stratum not in self.stratum_arms:
            return every
        return [a for a in every if a in set(self.stratum_arms[stratum])]


def _strata(view: CohortView) -> list[str]:
    if view.stratum is None or view.stratum not in view.eligible:
        return ["all"]
    return sorted({str(v) for v in view.eligible[view.stratum].values})


def _in_stratum(ds: xr.Dataset, view: CohortView, stratum: str) -> xr.Dataset:
    if stratum == "all" or view.stratum is None:
        return ds
    return ds.isel(patient=np.flatnonzero(np.asarray(ds[view.stratum].values).astype(str) == stratum))


def true_rates(view: CohortView) -> dict[str, dict[str, Estimate]]:
    """Stratum -> arm -> mean of the endpoint over the stratum's pool, with its binomial (finite-pool) SE."""
    out: dict[str, dict[str, Estimate]] = {}
    for s in _strata(view):
        sub = _in_stratum(view.eligible, view, s)
        out[s] = {}
        for a in view.arms(s):
            y = np.asarray(sub[view.endpoint].sel(arm=a).values, dtype=float)
            n = max(y.size, 1)
            m = float(np.nanmean(y)) if y.size else math.nan
            se = float(np.nanstd(y, ddof=1) / math.sqrt(n)) if y.size > 1 else math.nan
            out[s][a] = Estimate(m, se, m - Z95 * se, m + Z95 * se, "1")
    return out


def population_sentences(view: CohortView) -> list[str]:
    """The screening flow in words."""
    n_pool = view.eligible.sizes["patient"]
    per = ", ".join(f"{s} {_in_stratum(view.eligible, view, s).sizes['patient']}" for s in _strata(view))
    text = [
        f"{view.n_simulated} virtual patients simulated under every arm"
        + (f" ({view.solver_failures} excluded after a failed solve)" if view.solver_failures else "")
        + f"; {n_pool} eligible at screening ({per})."
    ]
    if n_pool < _POOL_NOTE_RATIO * view.max_n:
        text.append(
            f"Each trial draws its up to {view.max_n} patients without replacement from this pool of {n_pool}, so "
            f"trials share patients (two trials have about {100 * view.max_n / n_pool:.0f}% of their patients in "
            "common): the Monte-Carlo intervals describe trials on this finite pool and understate the spread over "
            "fresh virtual populations; simulate more patients (population.n_patients) to shrink that."
        )
    return text


def plot_endotypes(view: CohortView, path: Path) -> Path:
    """Screening ferritin vs mHLA-DR of every simulated patient, coloured by endotype, with the IS-04 cut-offs."""
    fig, (ax,) = _figure(width=6.0, height=4.2)
    t = view.table
    fer = np.asarray(t["screen_ferritin"].values, dtype=float)
    hla = np.asarray(t["screen_hla_dr"].values, dtype=float)
    labels = np.asarray(t["endotype"].values).astype(str) if "endotype" in t else np.full(fer.size, "all")
    for lab in sorted(set(labels)):
        k = labels == lab
        ax.scatter(fer[k], hla[k], s=6, alpha=0.6, label=f"{lab} ({k.sum()})")
    ax.axvline(FERRITIN_CUT, color="k", lw=1, ls="--")
    ax.plot([ax.get_xlim()[0], FERRITIN_CUT], [HLA_DR_CUT, HLA_DR_CUT], color="k", lw=1, ls=":")
    ax.set(xscale="log", yscale="log", xlabel="ferritin at screening (ng/mL)", ylabel="mHLA-DR at screening (AB/C)")
    ax.set_title("endotypes at screening (cut-offs: ferritin 4420, mHLA-DR 5000)", fontsize=10)
    ax.legend(fontsize=8, markerscale=2)
    return _save(fig, path)


def _km(death_day: np.ndarray, horizon: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Kaplan-Meier survival (NaN = alive at the horizon, administratively censored there) with Greenwood 95% band."""
    d = np.asarray(death_day, dtype=float)
    times = np.unique(d[np.isfinite(d)])
    n = d.size
    s, var_sum, surv, lo, hi = 1.0, 0.0, [1.0], [1.0], [1.0]
    for t in times:
        at_risk = np.sum(~(d < t))  # NaN counts as at risk
        deaths = np.sum(d == t)
        s *= 1.0 - deaths / at_risk
        if at_risk > deaths:
            var_sum += deaths / (at_risk * (at_risk - deaths))
        half = Z95 * s * math.sqrt(var_sum)
        surv.append(s)
        lo.append(max(0.0, s - half))
        hi.append(min(1.0, s + half))
    x = np.concatenate([[0.0], times, [horizon]]) if n else np.array([0.0, horizon])
    surv, lo, hi = (np.append(v, v[-1]) for v in (np.array(surv), np.array(lo), np.array(hi)))
    return x, surv, lo, hi


def plot_survival(view: CohortView, path: Path) -> Path:
    """Kaplan-Meier survival by arm in each stratum's pool, with Greenwood 95% pointwise bands."""
    strata = _strata(view)
    fig, axes = _figure(len(strata), width=4.6, height=3.6)
    horizon = float(view.eligible.attrs.get("days", np.nanmax(view.eligible["day"].values)))
    for ax, s in zip(axes, strata, strict=True):
        sub = _in_stratum(view.eligible, view, s)
        for a in view.arms(s):
            x, surv, lo, hi = _km(sub["death_day"].sel(arm=a).values, horizon)
            (line,) = ax.step(x, surv, where="post", label=a)
            ax.fill_between(x, lo, hi, step="post", color=line.get_color(), alpha=0.15, lw=0)
        ax.set(xlabel="days after randomisation", ylabel="survival", ylim=(0, 1.02), xlim=(0, horizon))
        ax.set_title(f"survival, {s} (n = {sub.sizes['patient']})", fontsize=10)
        ax.legend(fontsize=8)
    return _save(fig, path)


def plot_trajectories(view: CohortView, path: Path) -> Path:
    """Mean daily trajectory per arm (rows: variables, columns: strata) with the 95% interval of the mean."""
    rows = [r for r in TRAJECTORIES if r[0] in view.eligible]
    strata = _strata(view)
    fig, axes = _figure_grid(len(rows), len(strata), width=4.2, height=2.3)
    days = np.asarray(view.eligible["day"].values, dtype=float)
    for j, s in enumerate(strata):
        sub = _in_stratum(view.eligible, view, s)
        for i, (var, label, log) in enumerate(rows):
            ax = axes[i][j]
            for a in view.arms(s):
                y = np.asarray(sub[var].sel(arm=a).transpose("patient", "day").values, dtype=float)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    n = np.sum(np.isfinite(y), axis=0)
                    m = np.nanmean(y, axis=0)
                    se = np.nanstd(y, axis=0, ddof=1) / np.sqrt(np.maximum(n, 1))
                (line,) = ax.plot(days, m, lw=1.3, label=a)
                lo = np.clip(m - Z95 * se, 1e-12, None) if log else m - Z95 * se
                ax.fill_between(days, lo, m + Z95 * se, color=line.get_color(), alpha=0.18, lw=0)
            if log:
                ax.set_yscale("log")
            ax.set_ylabel(label, fontsize=8)
            ax.tick_params(labelsize=7)
            if i == 0:
                ax.set_title(f"{s} (n = {sub.sizes['patient']})", fontsize=9)
                ax.legend(fontsize=7)
            if i == len(rows) - 1:
                ax.set_xlabel("day", fontsize=8)
    return _save(fig, path)


COHORT_FIGURES = {
    "endotypes": (
        "Endotypes at screening",
        "Measured ferritin and mHLA-DR of every simulated virtual patient (assay error included); dashed: ferritin "
        "4420 ng/mL (MALS above), dotted: mHLA-DR 5000 AB/C (immunoparalysis below, with ferritin at most 4420); "
        "IS-04.",
        plot_endotypes,
        ("screen_ferritin", "screen_hla_dr"),
    ),
    "survival": (
        "Kaplan-Meier survival by arm",
        "Every eligible virtual patient under each arm randomised in the stratum (potential outcomes with common "
        "random numbers); bands: Greenwood 95% pointwise intervals over the pool's patients; alive at the horizon: "
        "censored.",
        plot_survival,
        ("death_day",),
    ),
    "trajectories": (
        "Mean trajectories by arm and stratum",
        "Daily mean over the stratum's eligible virtual patients under each arm; bands: 95% interval of the mean "
        "(normal, over patients). SOFA is averaged over the patients alive on the day.",
        plot_trajectories,
        ("day",),
    ),
}


def cohort_tables(view: CohortView) -> str:
    """True rates per arm and stratum with pool sizes, and mortality per arm where the table has it."""
    rates = true_rates(view)
    e = html.escape
    rows = []
    mort = [v for v in ("dead_28d", "dead_90d") if v in view.eligible]
    for s, per_arm in rates.items():
        sub = _in_stratum(view.eligible, view, s)
        for a, est in per_arm.items():
            extra = [fmt(float(np.mean(sub[v].sel(arm=a).values))) for v in mort]
            rows.append([e(s), str(sub.sizes["patient"]), e(a), f"{fmt(est.mean)} <small>({fmt(est.mcse)})</small>",
                         *extra])  # fmt: skip
    header = ["stratum", "pool (patients)", "arm", f"true {e(view.endpoint)} rate (SE)",
              *[f"{v[5:-1]}-day mortality" for v in mort]]  # fmt: skip
    note = (
        '<p class="note">The true rate is the mean of the endpoint over every patient of the stratum\'s pool under '
        "the arm: the truth the trials are judged against. SE: binomial standard error of that pool mean as an "
        "estimate of the model population's rate.</p>"
    )
    return _table(header, rows) + note


def published_comparisons(view: CohortView) -> list[Comparison]:
    """ImmunoSep's published numbers (IS-06 responder rates, IS-02 endotype mix) beside this cohort's, where the
    run has that endpoint and those strata."""
    out = []
    if view.endpoint == "responder":
        rates = true_rates(view)
        for (s, a), pub in PUBLISHED["immunosep_responder"].items():
            if s in rates and a in rates[s]:
                out.append(compare(pub, rates[s][a].mean, rates[s][a].mcse))
    if view.stratum and view.stratum in view.table:
        labels = np.asarray(view.table[view.stratum].values).astype(str)
        for s, pub in PUBLISHED["immunosep_endotype_share"].items():
            if s in set(labels):
                p = float(np.mean(labels == s))
                out.append(compare(pub, p, math.sqrt(p * (1 - p) / labels.size)))
    return out


def cohort_section(view: CohortView, run_dir: Path) -> tuple[str, dict[str, tuple[str, Path, str]], dict[str, Any]]:
    """HTML, figures ``name -> (title, path, caption)`` and ``summary.json`` part of the virtual-cohort section."""
    figures = {}
    for name, (title, caption, draw, needs) in COHORT_FIGURES.items():
        if all(v in view.eligible or v in view.eligible.dims for v in needs):
            figures[f"cohort_{name}"] = (title, draw(view, run_dir / "figures" / f"cohort_{name}.png"), caption)
    comparisons = published_comparisons(view)
    body = (
        "<p>" + " ".join(html.escape(t) for t in population_sentences(view)) + "</p>"
        + cohort_tables(view)
        + (("<h3>Published numbers beside the simulated ones</h3>" + comparison_table(comparisons))
           if comparisons else "")
    )  # fmt: skip
    rates = true_rates(view)
    summary = {
        "n_simulated": view.n_simulated,
        "solver_failures": view.solver_failures,
        "n_eligible": int(view.eligible.sizes["patient"]),
        "pool_per_stratum": {s: int(_in_stratum(view.eligible, view, s).sizes["patient"]) for s in _strata(view)},
        "true_rate": {s: {a: e.to_json() for a, e in per.items()} for s, per in rates.items()},
        "published_comparisons": [c.to_json() for c in comparisons],
    }
    return body, figures, summary
