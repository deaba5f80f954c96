"""The per-trial results schema: every variable :func:`sepsim.platform.run_trials` returns, its dims and dtype.

Both engines check their Dataset against it before returning (:func:`check_results`, ``strict``: dtypes too), the
OCs' :func:`~sepsim.platform._operating.trials.validate_results` checks any Dataset handed to them (and so to the
report) against its ``required`` part (dims only: hand-made results may use other integer widths). Codes of
``arm_decision`` and the ``*_outcome`` variables: :mod:`sepsim.platform._results.codes`.

The factorial (domains) engine uses the same names with the unit dims ``(domain, domain_arm)`` in place of
``(arm, stratum)`` (:data:`DOMAIN_RESULTS_SCHEMA`).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import xarray as xr

from ..._errors import ConfigError

__all__ = ["ResultVar", "RESULTS_SCHEMA", "DOMAIN_RESULTS_SCHEMA", "check_results"]


class ResultVar(NamedTuple):
    """One per-trial results variable: ``dims`` in order, numpy dtype ``kind`` ("i" int, "f" float, "b" bool),
    whether every results Dataset has it, and what it holds."""

    dims: tuple[str, ...]
    kind: str
    required: bool
    doc: str


_TLAS = ("trial", "look", "arm", "stratum")
_TAS = ("trial", "arm", "stratum")

RESULTS_SCHEMA: dict[str, ResultVar] = {
    "look_n": ResultVar(("look",), "i", True, "patients with outcome data at each look (design)"),
    "n": ResultVar(_TLAS, "i", True, "patients with outcome data per arm and stratum at each look"),
    "events": ResultVar(_TLAS, "f", True, "sum of outcomes (events for a binary outcome) of those patients"),
    "alloc_prob": ResultVar(_TLAS, "f", True, "allocation probabilities for the next window (0 once stopped)"),
    "active": ResultVar(_TLAS, "b", False, "arms that may receive patients after the look"),
    "p_best": ResultVar(("trial", "look", "arm"), "f", False, "P(arm is best) at the look (NaN: frequentist)"),
    "arm_decision": ResultVar(_TAS, "i", True, "final decision per arm (ArmDecision codes)"),
    "decision_look": ResultVar(_TAS, "i", False, "look of the decision (-1: none)"),
    "trial_stop_look": ResultVar(("trial",), "i", True, "look at which the trial stopped"),
    "trial_outcome": ResultVar(("trial",), "i", True, "why the trial stopped (TrialOutcome codes)"),
    "superior_arm": ResultVar(("trial",), "i", False, "index of the arm declared superior (-1: none)"),
    "estimate": ResultVar(_TAS, "f", True, "final estimate of each arm's mean outcome (all randomised patients)"),
    "n_total": ResultVar(("trial",), "i", True, "patients randomised in the trial"),
    "events_total": ResultVar(("trial",), "f", True, "sum of their outcomes"),
    "true_mean": ResultVar(("arm", "stratum"), "f", True, "true mean outcome of each arm in each stratum"),
    "n_randomised": ResultVar(("trial", "look"), "i", False, "patients randomised by each look"),
    "look_time": ResultVar(("trial", "look"), "f", False, "calendar day of each look (NaN without accrual)"),
    "n_final": ResultVar(_TAS, "i", False, "patients randomised per arm and stratum by the end"),
    "events_final": ResultVar(_TAS, "f", False, "sum of their outcomes"),
    "final_control": ResultVar(("trial",), "i", False, "index of the control at the end (-1: none)"),
    "p_best_stratum": ResultVar(_TLAS, "f", False, "per-stratum P(best) (decisions per stratum)"),
    "stratum_outcome": ResultVar(("trial", "stratum"), "i", False, "per-stratum TrialOutcome code"),
    "stratum_stop_look": ResultVar(("trial", "stratum"), "i", False, "look at which the stratum stopped"),
    "stratum_superior_arm": ResultVar(("trial", "stratum"), "i", False, "per-stratum superior arm (-1: none)"),
    "n_category": ResultVar((*_TLAS, "category"), "i", False, "ordinal outcomes: patients per category"),
    "z_statistic": ResultVar(("trial", "look", "arm"), "f", False, "frequentist: z of each arm vs the control"),
    "efficacy_bound": ResultVar(("trial", "look", "arm"), "f", False, "observed-information efficacy bound"),
}

_TLDA = ("trial", "look", "domain", "domain_arm")
_TDA = ("trial", "domain", "domain_arm")

DOMAIN_RESULTS_SCHEMA: dict[str, ResultVar] = {
    "look_n": RESULTS_SCHEMA["look_n"],
    "n": ResultVar(_TLDA, "i", True, "patients with outcome data per domain arm at each look"),
    "events": ResultVar(_TLDA, "f", False, "sum of their outcomes"),
    "alloc_prob": ResultVar(_TLDA, "f", True, "allocation probabilities within each domain"),
    "active": ResultVar(_TLDA, "b", False, "domain arms that may receive patients after the look"),
    "p_best": ResultVar(_TLDA, "f", False, "P(domain arm is best within its domain)"),
    "arm_decision": ResultVar(_TDA, "i", True, "final decision per domain arm (ArmDecision codes)"),
    "decision_look": ResultVar(_TDA, "i", False, "look of the decision (-1: none)"),
    "trial_stop_look": RESULTS_SCHEMA["trial_stop_look"],
    "estimate": ResultVar(_TDA, "f", True, "final estimate of each domain arm's mean outcome"),
    "n_total": RESULTS_SCHEMA["n_total"],
    "n_randomised": RESULTS_SCHEMA["n_randomised"],
    "n_final": ResultVar(_TDA, "i", True, "patients randomised per domain arm by the end"),
    "events_final": ResultVar(_TDA, "f", True, "sum of their outcomes"),
    "final_control": ResultVar(("trial", "domain"), "i", False, "per-domain control at the end (-1: none)"),
    "domain_outcome": ResultVar(("trial", "domain"), "i", True, "per-domain TrialOutcome code"),
    "domain_stop_look": ResultVar(("trial", "domain"), "i", True, "look at which the domain stopped"),
    "domain_superior_arm": ResultVar(("trial", "domain"), "i", False, "per-domain superior arm (-1: none)"),
    "n_combination": ResultVar(("trial", "arm"), "i", False, "patients randomised to each combination"),
    "true_mean": ResultVar(("arm",), "f", False, "true mean outcome of each combination (added by the pipeline)"),
}


def check_results(results: xr.Dataset, schema: dict[str, ResultVar] = RESULTS_SCHEMA, *, strict: bool = False) -> None:
    """Raise :class:`ConfigError` naming the first variable that breaks ``schema``: a required variable missing,
    or a variable with other dims; ``strict`` (the engines' own output): dims in order, the dtype kind, and no
    variable outside the schema."""
    for name, var in schema.items():
        if name not in results.variables:
            if var.required:
                missing = sorted(n for n, v in schema.items() if v.required and n not in results.variables)
                raise ConfigError(f"results.{name}", f"variable missing; required variables missing: {missing}")
            continue
        dims = tuple(results[name].dims)
        if (dims != var.dims) if strict else (set(dims) != set(var.dims)):
            raise ConfigError(f"results.{name}", f"must have dims {var.dims}, got {dims}")
        if strict and np.dtype(results[name].dtype).kind != var.kind:
            raise ConfigError(f"results.{name}", f"must have dtype kind {var.kind!r}, got {results[name].dtype}")
    if strict:
        extra = sorted(str(n) for n in results.data_vars if n not in schema)
        if extra:
            raise ConfigError("results", f"variables outside the results schema: {extra}")
