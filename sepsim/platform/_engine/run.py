"""``run_trials``: many simulated trials of one design on one outcome table, as an xarray Dataset."""

from __future__ import annotations

import dataclasses
import functools
import json
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr
from jaxtyping import Array, Key

from ..._errors import ConfigError
from ..._keys import index_keys
from .._allocation.factory import make_allocation_rule
from .._analysis.effects import N_SOBOL
from .._analysis.factory import EFFECT_MODELS, effects_tables, make_analysis
from .._analysis.frequentist import FrequentistAnalysis
from .._decisions.thresholds import design_thresholds, frequentist_bounds
from .._design.design import TrialDesign, design_from_dict, design_to_json
from .._design.plan import Plan, make_plan, plan_tables
from .._outcomes.table import PotentialOutcomes
from .._results.codes import ArmDecision, TrialOutcome
from .._results.schema import RESULTS_SCHEMA, check_results
from .batches import Batched, check_processes, run_batches
from .domains import DomainsPlan, run_domain_trials
from .domains import _plan as domains_plan
from .shard import over_trial_devices, trial_device_count
from .trial import simulate_trial

__all__ = ["run_trials", "make_trial_function", "plan_trials"]


def plan_trials(design: TrialDesign, outcomes: PotentialOutcomes) -> Plan | DomainsPlan:
    """The static plan of ``design`` on ``outcomes`` (a factorial design: one plan per domain), with the engine's
    checks of the design against the table (raise :class:`~sepsim._errors.ConfigError` before any simulation)."""
    return domains_plan(design, outcomes) if design.domains else make_plan(design, outcomes)


def make_trial_function(design: TrialDesign, outcomes: PotentialOutcomes, *, record_patients: bool = False):
    """``(fn, plan)`` where ``fn(keys, thresholds=None)`` simulates one trial per key (jitted, vmapped over the
    keys); ``thresholds`` overrides stopping thresholds by name (see :func:`design_thresholds`);
    ``fn.batched(thresholds=None)`` is the same call as a :class:`~.batches.Batched` (what ``run_batches`` runs).
    ``record_patients``: every trial also returns its patients' arms, strata and outcomes (``patient_log``)."""
    plan = make_plan(design, outcomes)
    if record_patients:
        plan = dataclasses.replace(plan, record_patients=True)
    tables = plan_tables(design, outcomes)
    rule = make_allocation_rule(design.allocation, plan.n_arms)
    analysis = make_analysis(design, plan, outcomes)
    tables.update(effects_tables(design, outcomes))
    fn, traces = _compiled(plan, rule, analysis)
    default: dict[str, Any] = dict(design_thresholds(design))
    if isinstance(analysis, FrequentistAnalysis):  # boundaries are traced too: designs differing in them share code
        default.update(frequentist_bounds(design, plan))

    def batched(thresholds=None) -> Batched:
        thr = dict(default, **(thresholds or {}))
        thr = {k: jnp.asarray(v, dtype=tables["outcome"].dtype) for k, v in thr.items() if k in default}
        return Batched(fn, (tables,), (thr,))

    def call(keys, thresholds=None):
        return batched(thresholds)(keys)

    call.traces = traces  # type: ignore[attr-defined]
    call.batched = batched  # type: ignore[attr-defined]
    return call, plan


@functools.lru_cache(maxsize=32)
def _compiled(plan: Plan, rule, analysis):
    """One jitted, vmapped trial function per (plan, rule, analysis): designs that differ only in names or in
    threshold values share it (and its compilations)."""
    one = functools.partial(simulate_trial, plan, rule, analysis)
    traces = [0]

    def batched(tables, keys, thr):
        traces[0] += 1  # runs only while tracing: counts compilations
        return jax.vmap(lambda k: one(tables, k, thr))(keys)

    return over_trial_devices(batched), traces  # split over the local devices (shard.py)


# Trials per batch with quadrature on a CPU: a look's (trial, arm, node) arrays then stay in the core's L2 cache.
# On 2 cores (AMD EPYC, 1 MiB L2 per core; `benchmarks/bench_trials.py --batches`, 2026-12-07) batches of 256-768
# adaptr-design trials cost 100-107 us of CPU per trial against 131 us in batches of 2000, and 8000 cost 158 us.
CPU_QUADRATURE_CHUNK = 512


def default_chunk(design: TrialDesign, n_trials: int) -> int:
    """Trials per batch. The Beta-binomial model with quadrature on a CPU: ``n_trials`` split into equal batches of
    at most :data:`CPU_QUADRATURE_CHUNK` (the last batch is padded to the batch size, so equal batches waste least);
    with posterior draws (or the log-odds models' Sobol sample with more than two arms), few enough that one look's
    draws (chunk x n_draws x arms) stay near 100 MB; otherwise (other models, or an accelerator: raise ``chunk_size``
    there, README_engine.md "Several devices") 2000. Results do not depend on the batch size beyond rounding."""
    an = design.analysis
    sobol = an.model in EFFECT_MODELS and len(design.arms) > 2 and an.method == "quadrature"
    if an.method == "draws" or sobol:
        per_trial = (N_SOBOL if sobol else an.n_draws) * len(design.arms) * 8 * 4
        return max(1, min(n_trials, 2000, int(1e8 // per_trial)))
    if an.model != "beta_binomial" or jax.default_backend() != "cpu":  # the small batch is measured for this case
        return min(n_trials, 2000)
    n_batches = -(-n_trials // CPU_QUADRATURE_CHUNK)
    return -(-n_trials // n_batches)


def _as_design(design: Any) -> TrialDesign:
    if isinstance(design, TrialDesign):
        return design.validate()
    return design_from_dict(design)


def run_trials(
    outcomes: PotentialOutcomes,
    design: TrialDesign | dict,
    *,
    n_trials: int,
    key: Key[Array, ""],
    chunk_size: int | None = None,
    start: int = 0,
    progress: bool | None = None,
    seed: int | None = None,
    processes: int | str = 1,
) -> xr.Dataset:
    """Simulate ``n_trials`` trials of ``design`` on patients drawn from ``outcomes``.

    Trial ``i`` uses the key ``index_keys(key, start + i, 1)``, so results do not depend on ``chunk_size``.

    Args:
        outcomes: the potential-outcome table.
        design: a :class:`TrialDesign` or a plain dict for :func:`design_from_dict`.
        n_trials: number of trial replicates.
        key: root key of the trial stage (e.g. ``stage_key(seed, "trials")``).
        chunk_size: trials per compiled batch (default :func:`default_chunk`).
        start: global index of the first trial (for sharded or resumed runs).
        progress: True a bar, False plain log lines, None a bar only on a terminal (``sepsim._progress``).
        seed: stored in the ``seed`` attribute.
        processes: 1 (this process only), N (the batches shared with N worker processes, each pinned to a CPU core;
            a CPU backend with one device) or ``"auto"`` (one worker per available core, once the run is long
            enough to repay their start; ``batches.py``). Results are identical whatever the number.

    Returns:
        The per-trial results Dataset (dims ``trial``, ``look``, ``arm``, ``stratum``; see README_engine.md).
    """
    design = _as_design(design)
    processes = check_processes(processes)
    if not isinstance(n_trials, int) or n_trials < 1:
        raise ConfigError("n_trials", f"must be a positive integer, got {n_trials!r}")
    chunk = int(chunk_size or default_chunk(design, n_trials))
    if chunk < 1:
        raise ConfigError("chunk_size", "must be a positive integer")
    chunk = -(-chunk // trial_device_count()) * trial_device_count()  # whole batches per device (see shard.py)
    if design.domains:  # factorial platform: one randomisation and analysis per domain
        return run_domain_trials(
            outcomes,
            design,
            n_trials=n_trials,
            key=key,
            chunk_size=chunk,
            start=start,
            progress=progress,
            seed=seed,
            processes=processes,
        )
    need = int(design.look_n[-1])
    if outcomes.n_patients < need:  # trials draw patients from the pool; a smaller pool would repeat patients
        raise ConfigError(
            "n_patients",
            f"the outcome pool holds {outcomes.n_patients} patients, fewer than the design's maximum sample size "
            f"design.look_n[-1] = {need}; give at least {need}",
        )
    fn, plan = make_trial_function(design, outcomes)
    # every batch's keys at once (one dispatch, not one per batch); the last batch is padded to full size (one
    # compilation) with the keys of the trials after the last
    all_keys = index_keys(key, start, -(-n_trials // chunk) * chunk)
    res = run_batches(
        fn.batched(),  # type: ignore[attr-defined]
        all_keys,
        n_trials=n_trials,
        chunk=chunk,
        progress=progress,
        processes=processes,
    )
    return _to_dataset(res, design, plan, outcomes, start=start, seed=seed)


def _to_dataset(res, design: TrialDesign, plan: Plan, outcomes: PotentialOutcomes, *, start: int, seed) -> xr.Dataset:
    pl = res["per_look"]
    un = res["units"]
    t_n = pl["n"].shape[0]
    strata = list(outcomes.strata)
    elig = np.asarray(plan.eligible).T  # (A, S)
    tls = ("trial", "look", "arm", "stratum")
    frequentist = "z_unit" in pl  # z statistics instead of P(best) (reported as z_statistic below)
    pb_unit = np.full(pl["z_unit"].shape, np.nan) if frequentist else pl["p_best_unit"]
    if plan.per_stratum:
        dec = np.transpose(un.decision, (0, 2, 1))
        dlook = np.transpose(un.decision_look, (0, 2, 1))
        p_best = pb_unit[:, :, 0, :] if plan.n_strata == 1 else np.full(pl["n"].shape[:3], np.nan)
        s_out = un.outcome
        out_ = TrialOutcome
        trial_outcome = np.where(
            np.any(s_out == out_.SUPERIORITY, axis=1),
            out_.SUPERIORITY,
            np.where(
                np.all(s_out == out_.EQUIVALENCE, axis=1),
                out_.EQUIVALENCE,
                np.where(np.all(s_out == out_.FUTILITY, axis=1), out_.FUTILITY, out_.MAX),
            ),
        )
        superior = un.superior[:, 0] if plan.n_strata == 1 else np.full((t_n,), -1)
    else:
        dec = np.where(elig[None], un.decision[:, 0, :, None], ArmDecision.NONE)
        dlook = np.where(elig[None], un.decision_look[:, 0, :, None], -1)
        p_best = pb_unit[:, :, 0, :]
        trial_outcome = un.outcome[:, 0]
        superior = un.superior[:, 0]
    ds = xr.Dataset(
        {
            "look_n": (("look",), np.asarray(plan.look_n, dtype=np.int64)),
            "n": (tls, pl["n"].astype(np.int64)),
            "events": (tls, pl["events"].astype(np.float64)),
            "alloc_prob": (tls, pl["alloc_prob"].astype(np.float64)),
            "p_best": (("trial", "look", "arm"), p_best.astype(np.float64)),
            "active": (tls, pl["active"].astype(bool)),
            "arm_decision": (("trial", "arm", "stratum"), dec.astype(np.int64)),
            "decision_look": (("trial", "arm", "stratum"), dlook.astype(np.int64)),
            "trial_stop_look": (("trial",), res["trial_stop_look"].astype(np.int64)),
            "trial_outcome": (("trial",), trial_outcome.astype(np.int64)),
            "superior_arm": (("trial",), superior.astype(np.int64)),
            "estimate": (("trial", "arm", "stratum"), res["estimate"].astype(np.float64)),
            "n_total": (("trial",), res["n_total"].astype(np.int64)),
            "events_total": (("trial",), res["events_total"].astype(np.float64)),
            "true_mean": (("arm", "stratum"), _true_mean(design, outcomes)),
            # additions beyond the contract
            "n_randomised": (("trial", "look"), pl["n_randomised"].astype(np.int64)),
            "look_time": (("trial", "look"), res["look_time"].astype(np.float64)),
            "n_final": (("trial", "arm", "stratum"), res["n_all"].astype(np.int64)),
            "events_final": (("trial", "arm", "stratum"), res["events_all"].astype(np.float64)),
            "final_control": (("trial",), un.control[:, 0].astype(np.int64)),
        },
        coords={
            "trial": np.arange(start, start + t_n, dtype=np.int64),
            "look": np.arange(plan.n_looks, dtype=np.int64),
            "arm": list(design.arms),
            "stratum": strata,
        },
        attrs={
            "higher_is_better": int(bool(design.higher_is_better)),
            "control_arm": design.control or "",
            "design": design_to_json(design),
            "seed": -1 if seed is None else int(seed),
            "screened_per_enrolled": float(outcomes.n_patients / plan.stream.n_table),
        },
    )
    if "counts" in pl:  # ordinal: patients per category
        ds["n_category"] = (tls + ("category",), pl["counts"].astype(np.int64))
    if plan.per_stratum:
        ds["p_best_stratum"] = (tls, np.transpose(pb_unit, (0, 1, 3, 2)).astype(np.float64))
        ds["stratum_outcome"] = (("trial", "stratum"), un.outcome.astype(np.int64))
        ds["stratum_stop_look"] = (("trial", "stratum"), un.stop_look.astype(np.int64))
        ds["stratum_superior_arm"] = (("trial", "stratum"), un.superior.astype(np.int64))
    if frequentist:
        z = pl["z_unit"]
        if plan.per_stratum:
            ds["z_statistic"] = (tls, np.transpose(z, (0, 1, 3, 2)).astype(np.float64))
        else:
            ds["z_statistic"] = (("trial", "look", "arm"), z[:, :, 0, :].astype(np.float64))
        ds.attrs["efficacy_z"] = json.dumps(frequentist_bounds(design, plan)["efficacy_z"].tolist())
        if "efficacy_bound" in pl:  # information: observed (per trial, look and arm; inf = nothing spent)
            ds["efficacy_bound"] = (("trial", "look", "arm"), pl["efficacy_bound"][:, :, 0, :].astype(np.float64))
    check_results(ds, RESULTS_SCHEMA, strict=True)  # the results contract (sepsim/platform/_results/schema.py)
    return ds


def _true_mean(design: TrialDesign, outcomes: PotentialOutcomes) -> np.ndarray:
    tm = outcomes.true_mean()
    cols = [outcomes.arms.index(a) for a in design.arms]
    return tm[cols, :].astype(np.float64)
