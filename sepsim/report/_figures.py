"""Report figures: one function per figure, each writes a PNG atomically and returns its path.

Figures are built with :class:`matplotlib.figure.Figure` directly (no pyplot, so no global figure registry and no
interactive backend); PNGs are rendered by the Agg canvas.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import xarray as xr
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .._io import atomic_savefig
from ._decisions import _final_n, stratum_decisions
from ._mc import Z95 as _Z95
from ._mc import proportion

__all__ = [
    "plot_allocation",
    "plot_sample_size",
    "plot_stopping",
    "plot_decisions",
    "plot_expected_n",
    "plot_patients_per_arm",
    "plot_decision_shares",
    "figures_for",
    "FIGURES",
]

_MAX_PANELS = 6  # strata shown; the rest are in the tables
_OUTCOMES = ("max", "superiority", "equivalence", "futility")
_OUTCOME_COLOURS = ("#4c72b0", "#dd8452", "#55a868", "#c44e52")
_DECISIONS = ("none", "superior", "inferior", "futile", "equivalent")
_DECISION_COLOURS = ("#bbbbbb", "#1b9e77", "#d95f02", "#7570b3", "#e7298a")


def _figure(n_panels: int = 1, *, width: float = 5.0, height: float = 3.6) -> tuple[Figure, list]:
    fig = Figure(figsize=(width * n_panels, height), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, n_panels, squeeze=False)[0]
    return fig, list(axes)


def _mcse(a: np.ndarray) -> np.ndarray:
    """Monte-Carlo SE of the mean over trials (axis 0), NaNs ignored (NaN where fewer than two values)."""
    n = np.sum(np.isfinite(a), axis=0)
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.where(n > 1, np.nanstd(a, axis=0, ddof=1) / np.sqrt(n), np.nan)


def _figure_grid(n_rows: int, n_cols: int, *, width: float, height: float) -> tuple[Figure, list]:
    fig = Figure(figsize=(width * n_cols, height * n_rows), layout="constrained")
    FigureCanvasAgg(fig)
    return fig, [list(r) for r in fig.subplots(n_rows, n_cols, squeeze=False, sharex=True)]


def _save(fig: Figure, path: str | Path) -> Path:
    return atomic_savefig(fig, Path(path), dpi=110)


def _x_looks(results: xr.Dataset) -> np.ndarray:
    return np.asarray(results["look_n"].values, dtype=float)


def _strata(results: xr.Dataset) -> list[str]:
    return [str(s) for s in results["stratum"].values][:_MAX_PANELS]


def _look_ticks(ax, results: xr.Dataset) -> None:
    """Calendar-time runs (``look_time``): label each look with its patients and its mean calendar day."""
    if "look_time" not in results:
        return
    running = (results["look"] <= results["trial_stop_look"]).transpose("trial", "look").values
    days = np.where(running, results["look_time"].transpose("trial", "look").values, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mean_day = np.nanmean(days, axis=0)
    if not np.isfinite(mean_day).any():  # looks by patient count only (no accrual model): nothing to add
        return
    x = _x_looks(results)
    labels = [f"{int(n)}\nday {d:.0f}" if np.isfinite(d) else f"{int(n)}" for n, d in zip(x, mean_day, strict=True)]
    ax.set_xticks(x, labels, fontsize=7)
    ax.set_xlabel(ax.get_xlabel() + " (mean calendar day)")


def _continuing(results: xr.Dataset) -> xr.DataArray:
    """(trial, look) mask: the trial goes on after this look (it randomises more patients)."""
    return results["look"] < results["trial_stop_look"]


def _carried(results: xr.Dataset, name: str) -> np.ndarray:
    """A cumulative (trial, look, arm, stratum) variable held at its stop-look value after the trial stopped."""
    n_looks = results.sizes["look"]
    stop = np.clip(results["trial_stop_look"].values.astype(int), 0, n_looks - 1)
    look_idx = np.minimum(np.arange(n_looks)[None, :], stop[:, None])  # (trial, look)
    values = results[name].transpose("trial", "look", "arm", "stratum").values
    return np.take_along_axis(values, look_idx[:, :, None, None], axis=1)


def plot_allocation(results: xr.Dataset, path: str | Path) -> Path:
    """Mean allocation probability per arm after each look, with 10-90% bands, over the trials that go on.

    A trial that stops at a look (and every trial at the last look) randomises nobody after it, so its zero
    allocation is left out there rather than averaged in (which would pull every arm's mean down).
    """
    strata = _strata(results)
    fig, axes = _figure(len(strata))
    x = _x_looks(results)
    alloc = results["alloc_prob"].where(_continuing(results))
    for ax, stratum in zip(axes, strata, strict=True):
        for arm in results["arm"].values:
            a = alloc.sel(arm=arm, stratum=stratum).transpose("trial", "look").values
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # looks where no trial is running: NaN
                mean = np.nanmean(a, axis=0) if np.isfinite(a).any() else np.full(x.shape, np.nan)
                lo, hi = (np.nanquantile(a, q, axis=0) if np.isfinite(a).any() else mean for q in (0.1, 0.9))
            (line,) = ax.plot(x, mean, marker="o", ms=3, label=str(arm))
            ax.fill_between(x, lo, hi, color=line.get_color(), alpha=0.18, lw=0)
            half = _Z95 * _mcse(a)
            ax.errorbar(x, mean, yerr=half, fmt="none", ecolor=line.get_color(), capsize=2, lw=0.8)
        ax.set(xlabel="patients with outcome at look", ylabel="allocation probability", ylim=(0, 1))
        ax.set_title(f"allocation after each look, trials going on ({stratum})", fontsize=10)
        _look_ticks(ax, results)
        ax.legend(fontsize=8)
    return _save(fig, path)


def plot_sample_size(results: xr.Dataset, path: str | Path) -> Path:
    """Mean cumulative patients per arm (summed over strata) against the look, with 10-90% bands."""
    fig, (ax,) = _figure()
    x = _x_looks(results)
    n = _carried(results, "n").sum(axis=3).astype(float)  # (trial, look, arm)
    for i, arm in enumerate(results["arm"].values):
        a = n[:, :, i]
        (line,) = ax.plot(x, a.mean(axis=0), marker="o", ms=3, label=str(arm))
        ax.fill_between(x, *np.quantile(a, [0.1, 0.9], axis=0), color=line.get_color(), alpha=0.18, lw=0)
        ax.errorbar(x, a.mean(axis=0), yerr=_Z95 * _mcse(a), fmt="none", ecolor=line.get_color(), capsize=2, lw=0.8)
    ax.set(xlabel="planned patients with outcome at look", ylabel="cumulative patients on arm")
    _look_ticks(ax, results)
    ax.set_title("cumulative sample size per arm (mean, 10-90%)", fontsize=10)
    ax.legend(fontsize=8)
    return _save(fig, path)


def plot_stopping(results: xr.Dataset, path: str | Path) -> Path:
    """Distribution of the look at which trials stopped, stacked by trial outcome."""
    fig, (ax,) = _figure()
    n_looks = results.sizes["look"]
    stop = np.clip(results["trial_stop_look"].values.astype(int), 0, n_looks - 1)
    outcome = results["trial_outcome"].values.astype(int)
    labels = [str(int(v)) for v in results["look_n"].values]
    bottom = np.zeros(n_looks)
    for code, (name, colour) in enumerate(zip(_OUTCOMES, _OUTCOME_COLOURS, strict=True)):
        share = np.bincount(stop[outcome == code], minlength=n_looks) / stop.size
        if share.any():
            ax.bar(np.arange(n_looks), share, bottom=bottom, color=colour, label=name)
            bottom += share
    est = [proportion(stop == k) for k in range(n_looks)]
    err = np.array([[e.mean - e.q025 for e in est], [e.q975 - e.mean for e in est]])
    ax.errorbar(np.arange(n_looks), [e.mean for e in est], yerr=err, fmt="none", ecolor="k", capsize=3, lw=0.8)
    ax.set_xticks(np.arange(n_looks), labels, rotation=90 if n_looks > 10 else 0, fontsize=8)
    ax.set(xlabel="look (planned patients with outcome)", ylabel="share of trials")
    ax.set_title("stopping look", fontsize=10)
    ax.legend(fontsize=8)
    return _save(fig, path)


def plot_decisions(oc: xr.Dataset, path: str | Path) -> Path:
    """Probability of each final decision per arm (stacked), one panel per stratum, from the OC Dataset."""
    strata = [str(s) for s in oc["stratum"].values][:_MAX_PANELS]
    fig, axes = _figure(len(strata), height=4.0)
    arms = [str(a) for a in oc["arm"].values]
    p = oc["p_decision"].sel(stat="estimate")
    for ax, stratum in zip(axes, strata, strict=True):
        left = np.zeros(len(arms))
        for name, colour in zip(_DECISIONS, _DECISION_COLOURS, strict=True):
            share = p.sel(stratum=stratum, decision=name).values
            ax.barh(np.arange(len(arms)), share, left=left, color=colour, label=name)
            left += share
        ax.set_yticks(np.arange(len(arms)), arms)
        ax.set(xlabel="probability", xlim=(0, 1))
        ax.set_title(f"final decision per arm ({stratum})", fontsize=10)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=8, loc="outside lower center", ncols=len(_DECISIONS))
    return _save(fig, path)


def plot_expected_n(results: xr.Dataset, oc: xr.Dataset, path: str | Path) -> Path:
    """Histogram of the trials' sample sizes with the expected sample size and its 95% Monte-Carlo interval."""
    fig, (ax,) = _figure()
    n_total = results["n_total"].values.astype(float)
    values, counts = np.unique(n_total, return_counts=True)
    if values.size <= 20:  # a few possible sizes (group-sequential looks): one bar per size
        width = 0.3 * (np.min(np.diff(values)) if values.size > 1 else max(values[0], 1.0) * 0.1)
        ax.bar(values, counts, width=width, color="#4c72b0", alpha=0.85)
    else:
        ax.hist(n_total, bins=40, color="#4c72b0", alpha=0.85)
    est, lo, hi = (oc["sample_size_mean"].sel(stat=s).item() for s in ("estimate", "lo", "hi"))
    ax.axvline(est, color="k", lw=1.5, label=f"E[N] = {est:.1f}")
    ax.axvspan(lo, hi, color="k", alpha=0.15, label="95% MC interval")
    ax.set(xlabel="patients randomised", ylabel="trials")
    ax.set_title("sample size", fontsize=10)
    ax.legend(fontsize=8)
    return _save(fig, path)


def plot_patients_per_arm(results: xr.Dataset, path: str | Path) -> Path:
    """Patients randomised per arm in each stratum (its own arms only): spread over trials and the mean with its
    95% Monte-Carlo interval."""
    decisions = stratum_decisions(results)[:_MAX_PANELS]
    fig, axes = _figure(len(decisions), width=4.2, height=3.4)
    n_final = _final_n(results)
    arms = [str(a) for a in results["arm"].values]
    strata = [str(s) for s in results["stratum"].values]
    for ax, d in zip(axes, decisions, strict=True):
        s = strata.index(d.stratum)
        data = [n_final[:, arms.index(a), s] for a in d.arms]
        ax.boxplot(data, whis=(2.5, 97.5), showfliers=False, widths=0.5)
        x = np.arange(1, len(d.arms) + 1)
        est = [d.patients[a] for a in d.arms]
        err = np.array([[e.mean - e.q025 for e in est], [e.q975 - e.mean for e in est]])
        ax.errorbar(x, [e.mean for e in est], yerr=err, fmt="o", color="#c44e52", ms=4, capsize=4, label="mean")
        ax.set_xticks(x, list(d.arms), fontsize=8)
        ax.set(ylabel="patients randomised")
        ax.set_title(f"patients per arm ({d.stratum})", fontsize=10)
        ax.legend(fontsize=8)
    return _save(fig, path)


def plot_decision_shares(results: xr.Dataset, path: str | Path) -> Path:
    """Share of trials ending with each decision per arm (own arms of each stratum), with Wilson 95% MC intervals."""
    decisions = stratum_decisions(results)[:_MAX_PANELS]
    fig, axes = _figure(len(decisions), width=4.6, height=3.2)
    names = [n for n in _DECISIONS if n != "none"]
    height = 0.8 / len(names)
    for ax, d in zip(axes, decisions, strict=True):
        y = np.arange(len(d.arms))
        for k, (name, colour) in enumerate(zip(names, _DECISION_COLOURS[1:], strict=True)):
            est = [d.p_decision[a][name] for a in d.arms]
            err = np.array([[e.mean - e.q025 for e in est], [e.q975 - e.mean for e in est]])
            ax.barh(y + (k - 1.5) * height, [e.mean for e in est], height=height, color=colour, label=name,
                    xerr=err, error_kw={"lw": 0.8, "capsize": 2})  # fmt: skip
        ax.set_yticks(y, list(d.arms), fontsize=8)
        for sep in y[:-1] + 0.5:
            ax.axhline(sep, color="#dddddd", lw=0.8)
        ax.invert_yaxis()  # each arm's bars read top-down in the legend's order
        ax.set(xlabel="share of trials", xlim=(0, 1))
        ax.set_title(f"final decision per arm ({d.stratum})", fontsize=10)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=8, loc="outside lower center", ncols=len(names))
    return _save(fig, path)


def _adaptive(results: xr.Dataset) -> bool:
    """Allocation that changes over looks (some trial's allocation probabilities differ between looks)."""
    a = results["alloc_prob"].where(_continuing(results)).transpose("trial", "look", "arm", "stratum").values
    if results.sizes["look"] < 2:
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        spread = np.nanmax(a, axis=1) - np.nanmin(a, axis=1)
    return bool(np.nanmax(spread, initial=0.0) > 1e-9)


def figures_for(results: xr.Dataset) -> dict[str, tuple[str, str, Callable]]:
    """The figures of a run: name -> (title, caption, draw(results, oc, path)); allocation over time only where the
    allocation adapts (a fixed design's allocation is a constant)."""
    out = dict(FIGURES)
    if not _adaptive(results):
        out.pop("allocation")
    return out


FIGURES: dict[str, tuple[str, str, Callable]] = {
    "allocation": (
        "Allocation over time",
        "Mean allocation probability per arm after each look over the trials still running; error bars: 95% "
        "Monte-Carlo interval of the mean; bands: 10-90% of trials (spread between trials).",
        lambda r, oc, p: plot_allocation(r, p),
    ),
    "patients": (
        "Patients per arm and stratum",
        "Boxes: spread of the patients randomised to each arm over the simulated trials (whiskers 2.5-97.5%); red: "
        "the mean with its 95% Monte-Carlo interval. Arms not randomised in a stratum are left out.",
        lambda r, oc, p: plot_patients_per_arm(r, p),
    ),
    "decisions": (
        "Decision probabilities per arm",
        "Share of simulated trials ending with each decision for each arm of the stratum (the rest: no decision); "
        "error bars: Wilson 95% Monte-Carlo intervals.",
        lambda r, oc, p: plot_decision_shares(r, p),
    ),
    "stopping": (
        "Stopping look",
        "Share of trials stopping at each look, by reason; error bars: Wilson 95% Monte-Carlo interval of the "
        "share stopping at the look.",
        lambda r, oc, p: plot_stopping(r, p),
    ),
    "sample_size": (
        "Cumulative sample size per arm",
        "Mean cumulative patients per arm (all strata) by look; error bars: 95% Monte-Carlo interval of the mean; "
        "bands: 10-90% of trials (spread between trials).",
        lambda r, oc, p: plot_sample_size(r, p),
    ),
    "expected_n": (
        "Sample-size distribution",
        "Histogram of the trials' sample sizes; black line and grey band: the expected sample size and its 95% "
        "Monte-Carlo interval.",
        lambda r, oc, p: plot_expected_n(r, oc, p),
    ),
}
"""Figure name -> (title, caption, function of (results, oc, path)); ``write_report`` draws those of
:func:`figures_for`."""
