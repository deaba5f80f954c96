"""Decision quantities of each stratum, over the arms actually randomised there.

A stratum's own arms are those the design randomises in it (``stratum_arms`` of the design, else the arms that
received a patient in some trial); arms never randomised in a stratum have no row in its tables. Over those arms:

* **truly best arm**: the arm with the best true mean (``None`` when several tie);
* **efficacy**: P(some non-control arm of the stratum is declared superior). It is the *power* where a non-control
  arm is truly better than the control, the *type-I error* where all arms are equal, and a *false efficacy claim*
  where no non-control arm is better (the control is best); without a control arm, P(some arm declared superior);
* **harm**: P(the control arm is declared superior), kept apart from efficacy;
* per arm: P(each final decision), expected patients, bias of the final estimate.

Every probability is a share of simulated trials with its binomial MC SE and Wilson 95% interval.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import xarray as xr

from ..platform._results.codes import ArmDecision
from ._mc import Estimate, mean_over_trials, proportion

__all__ = ["StratumDecisions", "stratum_decisions", "design_of", "DEFINITIONS"]

DEFINITIONS = {
    "efficacy": "share of simulated trials in which a non-control arm is declared superior in the stratum",
    "power": "efficacy where a non-control arm of the stratum is truly better than the control",
    "type-I error": "efficacy where every arm of the stratum has the same true mean",
    "false efficacy claim": "efficacy where no non-control arm is truly better than the control",
    "harm": "share of simulated trials in which the control arm is declared superior (the comparators are worse)",
    "truly best arm": "the arm with the best true mean among the arms randomised in the stratum ('tie' if shared)",
    "expected patients": "mean over simulated trials of the patients randomised (MC interval: normal)",
    "bias": "mean over trials of the final estimate minus the true mean",
    "MC interval": "95% Monte-Carlo interval of the estimate over the simulated trials (Wilson for shares, "
    "normal for means); it shrinks as n_trials grows and says nothing about a single trial's uncertainty",
}


@dataclass(frozen=True)
class StratumDecisions:
    """Decision quantities of one stratum (see the module docstring)."""

    stratum: str
    arms: tuple[str, ...]
    control: str | None
    true_mean: dict[str, float]
    best_arm: str | None
    better_than_control: tuple[str, ...]
    efficacy: Estimate
    efficacy_meaning: str
    harm: Estimate | None
    p_decision: dict[str, dict[str, Estimate]]  # arm -> decision name -> share of trials
    patients: dict[str, Estimate]  # arm -> expected patients
    bias: dict[str, Estimate]  # arm -> bias of the final estimate
    best_declared: Estimate | None  # P(the truly best arm is declared superior); None if no non-control best


def design_of(results: xr.Dataset) -> dict:
    """The design the results were simulated under (``results.attrs["design"]``; ``{}`` if absent)."""
    try:
        design = json.loads(results.attrs.get("design", "") or "{}")
    except (TypeError, json.JSONDecodeError):
        return {}
    return design if isinstance(design, dict) else {}


def _final_n(results: xr.Dataset) -> np.ndarray:
    """(trial, arm, stratum) patients randomised by the end."""
    if "n_final" in results:
        return results["n_final"].transpose("trial", "arm", "stratum").values.astype(float)
    stop = np.clip(results["trial_stop_look"].values.astype(int), 0, results.sizes["look"] - 1)
    n = results["n"].transpose("trial", "look", "arm", "stratum").values.astype(float)
    return np.take_along_axis(n, stop[:, None, None, None], axis=1)[:, 0]


def _own_arms(results: xr.Dataset, design: dict, stratum: str, n_final: np.ndarray) -> tuple[str, ...]:
    arms = [str(a) for a in results["arm"].values]
    strata = [str(s) for s in results["stratum"].values]
    listed, per = design.get("strata"), design.get("stratum_arms")
    if per and listed and stratum in [str(s) for s in listed]:
        own = set(per[[str(s) for s in listed].index(stratum)])
        return tuple(a for a in arms if a in own)
    s = strata.index(stratum)
    return tuple(a for i, a in enumerate(arms) if n_final[:, i, s].sum() > 0) or tuple(arms)


def stratum_decisions(results: xr.Dataset) -> list[StratumDecisions]:
    """Decision quantities of every stratum of a per-trial results Dataset."""
    arms = [str(a) for a in results["arm"].values]
    strata = [str(s) for s in results["stratum"].values]
    hib = bool(int(results.attrs.get("higher_is_better", 0)))
    control = str(results.attrs.get("control_arm", "") or "") or None
    design = design_of(results)
    n_final = _final_n(results)
    decision = results["arm_decision"].transpose("trial", "arm", "stratum").values.astype(int)
    estimate = results["estimate"].transpose("trial", "arm", "stratum").values.astype(float)
    truth = results["true_mean"].transpose("arm", "stratum").values.astype(float)
    out = []
    for s, stratum in enumerate(strata):
        own = _own_arms(results, design, stratum, n_final)
        idx = [arms.index(a) for a in own]
        true = {a: float(truth[i, s]) for a, i in zip(own, idx, strict=True)}
        signed = {a: (v if hib else -v) for a, v in true.items()}
        scale = max(1.0, max(abs(v) for v in true.values()))
        top = max(signed.values())
        tied = [a for a, v in signed.items() if v >= top - 1e-12 * scale]
        best = tied[0] if len(tied) == 1 else None
        ctrl = control if control in own else None
        comparators = [a for a in own if a != ctrl]
        better = tuple(a for a in comparators if ctrl and signed[a] > signed[ctrl] + 1e-12 * scale)
        superior = decision[:, :, s] == ArmDecision.SUPERIOR
        efficacy = proportion(superior[:, [arms.index(a) for a in comparators]].any(axis=1))
        null = len(tied) == len(own)
        if ctrl is None:
            meaning = "type-I error" if null else "power"
        else:
            meaning = "power" if better else ("type-I error" if null else "false efficacy claim")
        harm = proportion(superior[:, arms.index(ctrl)]) if ctrl else None
        p_decision = {
            a: {d.name.lower(): proportion(decision[:, i, s] == d) for d in ArmDecision}
            for a, i in zip(own, idx, strict=True)
        }
        patients = {a: mean_over_trials(n_final[:, i, s], "patients") for a, i in zip(own, idx, strict=True)}
        units = "difference in the outcome's mean"
        bias = {a: mean_over_trials(estimate[:, i, s] - truth[i, s], units) for a, i in zip(own, idx, strict=True)}
        best_declared = proportion(superior[:, arms.index(best)]) if best is not None and best != ctrl else None
        out.append(
            StratumDecisions(
                stratum, own, ctrl, true, best, better, efficacy, meaning, harm, p_decision, patients, bias,
                best_declared,
            )
        )  # fmt: skip
    return out


def decisions_dataset(decisions: list[StratumDecisions]) -> xr.Dataset:
    """The per-stratum decision quantities as variables to store beside the OCs (``oc.nc``), so that a merged sweep
    carries them: ``efficacy`` and ``harm`` (``stratum``, ``stat``), ``efficacy_meaning``, ``truly_best_arm``."""
    stat = ["estimate", "mcse", "lo", "hi"]
    row = lambda e: [e.mean, e.mcse, e.q025, e.q975] if e is not None else [np.nan] * 4
    strata = [d.stratum for d in decisions]
    return xr.Dataset(
        {
            "efficacy": (("stratum", "stat"), np.array([row(d.efficacy) for d in decisions]),
                         {"long_name": DEFINITIONS["efficacy"], "units": "1"}),
            "harm": (("stratum", "stat"), np.array([row(d.harm) for d in decisions]),
                     {"long_name": DEFINITIONS["harm"], "units": "1"}),
            "efficacy_meaning": (("stratum",), np.array([d.efficacy_meaning for d in decisions]),
                                 {"long_name": "what efficacy is in the stratum: power, type-I error or false "
                                  "efficacy claim"}),
            "truly_best_arm": (("stratum",), np.array([d.best_arm or "" for d in decisions]),
                               {"long_name": "truly best arm among the stratum's own arms ('' for a tie)"}),
        },
        coords={"stratum": strata, "stat": stat},
    )  # fmt: skip
