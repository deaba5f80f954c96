"""The top of the report: the study's question, its population, endpoint and design in words, and one sentence per
key comparison with its Monte-Carlo interval (also the ``key_comparisons`` of ``summary.json``)."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

from ._decisions import StratumDecisions
from ._mc import fmt, fmt_interval

__all__ = ["ENDPOINT_WORDS", "endpoint_words", "design_sentences", "key_comparisons", "study_header"]

# What each outcome variable of the mechanistic outcome table means (sepsim/models/_outcomes.py; sources there).
ENDPOINT_WORDS = {
    "responder": "responder: mean SOFA over days 2-9 at least 1.4 points below baseline (ImmunoSep primary, "
    "calibration_targets.yaml IS-05)",
    "dead_28d": "death by day 28",
    "dead_60d": "death by day 60",
    "dead_90d": "death by day 90",
    "dead_365d": "death by day 365",
    "ordinal_day28": "day-28 ordinal scale (0 dead, 1 alive with organ support, 2 alive without)",
    "osfd_21": "organ-support-free days to day 21 (-1 = death)",
}

_RULES = {
    "fixed": "fixed (equal) randomisation",
    "thompson": "response-adaptive randomisation (Thompson sampling on P(best))",
    "sqrt_control": "response-adaptive randomisation with square-root control allocation",
    "thall_wathen": "response-adaptive randomisation (Thall-Wathen)",
    "trippa": "response-adaptive randomisation (Trippa)",
}


def endpoint_words(endpoint: Mapping[str, Any] | None, higher_is_better: bool) -> str:
    """The endpoint in words: what it measures, its kind and its direction."""
    endpoint = dict(endpoint or {})
    variable = str(endpoint.get("variable") or endpoint.get("name") or "the outcome")
    what = ENDPOINT_WORDS.get(variable, variable)
    kind = str(endpoint.get("kind") or "binary")
    direction = "higher is better" if higher_is_better else "lower is better"
    return f"{what} ({kind}; {direction})"


def design_sentences(design: Mapping[str, Any]) -> list[str]:
    """The design in words: arms, strata, allocation, looks and decision thresholds."""
    if not design:
        return []
    out = []
    arms, control = list(design.get("arms") or []), design.get("control")
    out.append(
        f"Arms: {', '.join(arms)}" + (f"; control {control}." if control else "; no common control (all compared).")
    )
    strata, per = design.get("strata"), design.get("stratum_arms")
    if strata and per:
        parts = [f"{s}: {' vs '.join(a)}" for s, a in zip(strata, per, strict=False)]
        out.append("Arms randomised per stratum: " + "; ".join(parts) + ".")
    elif strata:
        out.append(f"Strata: {', '.join(map(str, strata))} (every arm in every stratum).")
    alloc = dict(design.get("allocation") or {})
    rule = str(alloc.get("rule", "fixed"))
    words = _RULES.get(rule, rule)
    if alloc.get("fixed_ratio"):
        words += f" in the ratio {':'.join(fmt(r) for r in alloc['fixed_ratio'])}"
    elif rule == "fixed":
        n_equal = max((len(a) for a in per), default=0) if per else len(arms)
        words += " (" + ":".join(["1"] * max(n_equal, 2)) + (" within stratum" if strata else "") + ")"
    if alloc.get("block_factor"):  # each block holds block_factor x ratio patients of each arm (design.py)
        n_arms = max((len(a) for a in per), default=0) if per else len(arms)
        ratio = alloc.get("fixed_ratio") or [1] * n_arms
        where = " per stratum" if strata else ""
        words += f", permuted blocks of {int(alloc['block_factor']) * int(sum(ratio[:n_arms]))}{where}"
    limits = [
        f"{k[:3]}imum {fmt(alloc[f'{k[:3]}_prob'])}" for k in ("minimum", "maximum") if alloc.get(f"{k[:3]}_prob")
    ]
    out.append(f"Allocation: {words}" + (f" (allocation probability {', '.join(limits)})" if limits else "") + ".")
    looks = [int(n) for n in design.get("look_n") or []]
    if looks:
        n_looks = len(looks)
        out.append(
            f"Analyses: {n_looks} look{'s' if n_looks > 1 else ''} after {', '.join(map(str, looks))} patients with "
            f"outcome data; at most {looks[-1]} patients."
        )
    stop = dict(design.get("stopping") or {})
    rules = []
    if stop.get("superiority") is not None:
        rules.append(f"superiority when P({'arm is better than control' if control else 'arm is best'}) > "
                     f"{fmt(stop['superiority'], 7)}")  # fmt: skip
    if stop.get("inferiority") is not None:
        rules.append(f"inferiority (arm dropped) when that probability < {fmt(stop['inferiority'], 7)}")
    if stop.get("futility_prob") is not None:
        rules.append(
            f"futility when P(not better by {fmt(stop.get('futility_margin'))}) > {fmt(stop['futility_prob'])}"
        )
    if stop.get("equivalence_prob") is not None:
        rules.append(
            f"equivalence when P(within {fmt(stop.get('equivalence_margin'))}) > {fmt(stop['equivalence_prob'])}"
        )
    if rules:
        where = " (decided separately in each stratum)" if stop.get("per_stratum") else ""
        out.append("Decisions" + where + ": " + "; ".join(rules) + ".")
    return out


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _difference(d: StratumDecisions, comparators: Sequence[str], margin: float | None) -> str:
    """The true difference of each comparator to the control, and whether it is below the design's futility margin
    (an effect the design itself calls not worth finding)."""
    control = d.true_mean[str(d.control)]
    diffs = {a: d.true_mean[a] - control for a in comparators}
    text = "; true difference " + ", ".join(f"{a} {v:+.3g}" for a, v in diffs.items())
    if margin is not None and 0 < max(abs(v) for v in diffs.values()) < margin:
        text += f", below the design's futility margin {fmt(margin)}: nearly null"
    return text


def key_comparisons(
    decisions: Sequence[StratumDecisions], outcome: str, *, margin: float | None = None
) -> list[dict[str, Any]]:
    """One entry per (stratum, non-control arm vs control), or per stratum without a control: its sentence and
    its numbers (``efficacy``, ``harm``: :class:`~sepsim.report._mc.Estimate` as JSON). ``margin``: the design's
    futility margin; a true difference below it is called nearly null."""
    out = []
    for d in decisions:
        where = f"In stratum {d.stratum}" if len(decisions) > 1 or d.stratum not in ("all", "") else "Overall"
        if d.control is None:
            best = d.best_arm or "none (tie)"
            text = (
                f"{where}, the truly best arm is {best} (true {outcome}: "
                + ", ".join(f"{a} {fmt(v)}" for a, v in d.true_mean.items())
                + f"); an arm is declared superior in {fmt_interval(d.efficacy, percent=True)} of trials "
                f"({d.efficacy_meaning})."
            )
            out.append({"stratum": d.stratum, "text": text, "efficacy": d.efficacy.to_json(),
                        "efficacy_meaning": d.efficacy_meaning})  # fmt: skip
            continue
        comparators = [a for a in d.arms if a != d.control]
        truth = ", ".join(f"{a} {fmt(d.true_mean[a])}" for a in [d.control, *comparators])
        label = {"power": "the power", "type-I error": "the type-I error"}.get(
            d.efficacy_meaning, "a false efficacy claim: no arm is truly better"
        )
        arms_txt = " or ".join(comparators)
        text = (
            f"{where}, {arms_txt} vs {d.control} (true {outcome}: {truth}{_difference(d, comparators, margin)}): "
            f"{arms_txt} is declared superior in "
            f"{fmt_interval(d.efficacy, percent=True)} of simulated trials ({label}); the control is declared "
            f"superior (harm) in {_pct(d.harm.mean) if d.harm else '-'}."
        )
        out.append({
            "stratum": d.stratum, "comparison": f"{arms_txt} vs {d.control}", "text": text,
            "efficacy": d.efficacy.to_json(), "efficacy_meaning": d.efficacy_meaning,
            "harm": d.harm.to_json() if d.harm else None,
        })  # fmt: skip
    return out


def study_header(
    config: Mapping[str, Any],
    *,
    n_trials: int,
    population: Sequence[str],
    endpoint: str,
    design: Sequence[str],
    comparisons: Sequence[Mapping[str, Any]],
    seed: Any,
) -> str:
    """HTML of the report's first screen."""
    name = str(config.get("name") or "sepsim run")
    question = str(config.get("description") or "").strip()
    e = html.escape
    items = "".join(f"<li>{e(str(c['text']))}</li>" for c in comparisons)
    return (
        f"<h1>{e(name)}</h1>"
        + (f'<p class="question">{e(question)}</p>' if question else "")
        + '<div class="facts">'
        + f"<p><b>Population.</b> {' '.join(e(p) for p in population)}</p>"
        + f"<p><b>Endpoint.</b> {e(endpoint)}.</p>"
        + f"<p><b>Design.</b> {' '.join(e(s) for s in design)}</p>"
        + f"<p><b>Simulation.</b> {n_trials} simulated trials (seed {e(str(seed))}).</p></div>"
        + f'<h2>Key comparisons</h2><ul class="key">{items}</ul>'
    )
