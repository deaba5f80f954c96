"""One look of one trial: count the outcomes complete by the look, analyse each unit, decide, and allocate.

A unit is the whole trial, or one stratum with ``stopping.per_stratum``. Each unit's tables are analysed by the
design's :class:`~sepsim.platform._analysis.base.AbstractAnalysis` (or its z statistics computed, frequentist),
decisions follow :func:`~sepsim.platform._decisions.decide.decide_unit` (adaptr semantics), and the allocation
rule gives the next window's probabilities, per stratum.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple, cast

import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float, Int

from .._allocation.base import AbstractAllocationRule, AllocationInputs
from .._allocation.fixed import FixedAllocation
from .._analysis.frequentist import FrequentistAnalysis
from .._decisions.decide import UnitState, decide_unit
from .._decisions.frequentist import decide_frequentist
from .._decisions.gsd_observed import observed_fractions, spend_bounds
from .._design.plan import Plan
from .arm_schedule import admit_waiting, continue_while_waiting
from .carry import Counts, TrialCarry
from .window import TrialSetup, sched_open

__all__ = ["LookResult", "allocate", "allocate_next", "analyse_look", "initial_allocation"]


def allocate(
    plan: Plan,
    rule: AbstractAllocationRule,
    p_best: Float[Array, " arm"],
    p_better: Float[Array, " arm"],
    act: Bool[Array, " arm"],
    control: Int[Array, ""],
    n_arm: Float[Array, " arm"],
    n_unit: Float[Array, " arm"],
) -> Float[Array, " arm"]:
    """The rule's allocation probabilities (the fixed ratio until ``burn_in_n`` outcomes are in)."""
    fdt = p_best.dtype
    info = jnp.minimum(jnp.sum(n_unit) / plan.n_max, 1.0).astype(fdt)
    inp = AllocationInputs(p_best, p_better, act, control, n_arm, info)
    adaptive = rule(inp)
    if plan.allocation.burn_in_n <= 0:
        return adaptive
    fixed = FixedAllocation(ratio=plan.allocation.ratio)(inp)
    return jnp.where(jnp.sum(n_unit) < plan.allocation.burn_in_n, fixed, adaptive)


def allocate_next(
    plan: Plan,
    rule: AbstractAllocationRule,
    analysis: Any,
    ctx: Any,
    p_best: Float[Array, " arm"],
    act: Bool[Array, " arm"],
    control: Int[Array, ""],
    n: Float[Array, " arm"],
) -> tuple[Float[Array, " arm"], Float[Array, " arm"]]:
    """``(p_better, alloc)``: one unit's next allocation among the ``act`` arms after its look (``ctx``, the
    analysis' prepared look); P(better than ``control``) is computed only for rules that read it
    (``rule.needs_p_better``), else ``p_best`` fills its slot. Shared by the single-domain and factorial engines."""
    p_better = analysis.vs_control(ctx, act, control)[0] if rule.needs_p_better else p_best
    return p_better, allocate(plan, rule, p_best, p_better, act, control, n, n)


def initial_allocation(plan: Plan, act: Bool[Array, "*unit arm"], fdt) -> Float[Array, "*unit arm"]:
    """The fixed-ratio allocation of the first window among the ``act`` arms."""
    dummy = jnp.zeros((plan.n_arms,), dtype=fdt)
    rule = FixedAllocation(ratio=plan.allocation.ratio)

    def one(a):
        return rule(AllocationInputs(dummy, dummy, a, jnp.asarray(plan.control), dummy, jnp.asarray(0.0)))

    return jax.vmap(one)(act) if act.ndim == 2 else one(act)


class UnitInputs(NamedTuple):
    """One look's inputs of each unit (leading axis: unit)."""

    n: Array
    ev: Array
    sq: Array
    ncc: Array
    evcc: Array
    in_play: Array  # arms analysed and decided at this look
    grid_arms: Array  # arms the analysis covers (those in play and those that enter next)
    units: UnitState
    keys: Array
    n_strata: Array
    ev_strata: Array
    extra: dict[str, Any]  # model-specific tables


class LookResult(NamedTuple):
    seen: Counts
    units: UnitState
    active_sa: Bool[Array, "arm stratum"]
    alloc_sa: Float[Array, "arm stratum"]
    in_play: Bool[Array, "unit arm"]
    p_unit: Float[Array, "unit arm"]  # the look's first P(best), or z statistics (frequentist)
    p_log: Float[Array, "unit arm"]  # the patient log's P(better than the design's control)
    act_u: Bool[Array, "unit arm"]
    waiting: Bool[Array, " arm"]
    spend: Any
    bound: Any
    n_as: Float[Array, "arm stratum"]
    ev_as: Float[Array, "arm stratum"]


def _next_arms(plan: Plan, garms, st2: UnitState, nxt_open, waiting, k):
    """Arms in play for the next window."""
    act_next = garms & nxt_open & (st2.decision == 0) & ~st2.stopped
    return admit_waiting(plan, act_next, waiting, k) if plan.arms.max_active else act_next


def _frequentist_unit(ts: TrialSetup, k, thr, nxt_open, waiting, x: UnitInputs, u):
    plan = ts.plan
    fa = cast(FrequentistAnalysis, ts.analysis)
    extra = dict(n_control=x.ncc, total_control=x.evcc) if plan.concurrent else {}
    z = fa.statistics(x.n, x.ev, total_sq=x.sq, n_strata=x.n_strata, total_strata=x.ev_strata, **extra)
    st2, act2 = decide_frequentist(plan, fa, z, x.in_play, x.units, k, u, thr)
    if plan.arms.max_active:
        st2 = continue_while_waiting(plan, x.units, st2, x.in_play, jnp.any(waiting), k, frequentist=True)
    act_next = _next_arms(plan, x.grid_arms, st2, nxt_open, waiting, k) if plan.arms.any else act2
    zero = jnp.zeros_like(x.n)
    alloc = allocate(plan, ts.rule, zero, zero, act_next, st2.control, x.n, x.n)
    return st2, act_next, z, alloc, zero, zero, zero


def _bayes_unit(ts: TrialSetup, k, nxt_open, waiting, records, x: UnitInputs, u):
    plan, analysis = ts.plan, ts.analysis
    needs = analysis.needs
    extra = dict(x.extra)
    if plan.concurrent:
        extra.update(n_control=x.ncc, events_control=x.evcc)
    if needs.sum_squares:
        extra["total_sq"] = x.sq
    if needs.strata:
        extra.update(n_strata=x.n_strata, events_strata=x.ev_strata)
    if records is not None:
        extra["records"] = records
    ctx = analysis.prepare(x.n, x.ev, x.grid_arms, key=x.keys, **extra)
    st2, act2, pb_first, pb_final = decide_unit(plan, analysis, ctx, x.in_play, x.units, k, ts.thresholds)
    if plan.arms.max_active:
        st2 = continue_while_waiting(plan, x.units, st2, x.in_play, jnp.any(waiting), k, frequentist=False)
    if plan.arms.any:  # arms that open for the next window join; arms the schedule closes leave
        act_next = _next_arms(plan, x.grid_arms, st2, nxt_open, waiting, k)
        pb_final = analysis.p_best(ctx, act_next)
    else:
        act_next = act2
    p_better, alloc = allocate_next(plan, ts.rule, analysis, ctx, pb_final, act_next, st2.control, x.n)
    p_log = pb_first
    if ts.log_p_better:  # audit: P(better than the design's control) of the arms in play at this look
        p_log = analysis.vs_control(ctx, x.in_play, jnp.asarray(plan.control, jnp.int32))[0]
    return st2, act_next, pb_first, alloc, pb_final, p_better, p_log


def _model_tables(ts: TrialSetup, c: TrialCarry, k, seen: Counts, n_u, ev_u, ncc_u, evcc_u, elig_u):
    """Model-specific inputs of each unit (leading axis: unit) and the per-patient records."""
    plan, analysis, needs = ts.plan, ts.analysis, ts.analysis.needs
    ux: dict[str, Any] = {}
    for cat, kw in ((seen.cat, "counts"), (seen.cccat, "counts_control")):
        if cat is not None:  # (A, S, C)
            ux[kw] = jnp.transpose(cat, (1, 0, 2)) if plan.per_stratum else jnp.sum(cat, axis=1)[None]
    if needs.across_units:
        cc = dict(n_control=ncc_u, events_control=evcc_u) if plan.concurrent else {}
        ux["across"] = analysis.across_units(n_u, ev_u, elig_u, **cc)
    if needs.strata and plan.concurrent:  # (stratum, arm) tables of each arm's concurrent controls
        if plan.per_stratum:
            ux.update(n_control_strata=ncc_u[:, None, :], events_control_strata=evcc_u[:, None, :])
        else:
            ux.update(n_control_strata=seen.cc.T[None], events_control_strata=seen.evcc.T[None])  # type: ignore[union-attr]
    records = None
    if c.records is not None:  # patients whose outcome is complete by look k
        r, tables = c.records, ts.tables
        done_k = (jnp.arange(plan.n_max, dtype=jnp.int32) < ts.look_n[k]).astype(ts.fdt)
        records = dict(
            arm=r.arm, y=r.y, w=r.w * done_k, stratum=tables["stratum"][r.pid], x=tables["covariates"][r.pid]
        )
    return ux, records


def _stratum_allocation(ts: TrialSetup, kk, un2: UnitState, active_sa, n_as, ev_as, sq_as, n_u, pb_u, pbetter_u):
    """Pooled decisions: each stratum's allocation, from its own data with ``within_strata``."""
    plan, analysis = ts.plan, ts.analysis
    u_n, s_n = plan.n_units, plan.n_strata
    ctrl = un2.control[0]
    if not (plan.allocation.within_strata and not analysis.needs.frequentist):
        return jax.vmap(lambda act: allocate(plan, ts.rule, pb_u[0], pbetter_u[0], act, ctrl, n_u[0], n_u[0]))(
            active_sa.T
        ).T

    def strat_alloc(n, ev, sq, act, key):
        ctx = analysis.prepare(n, ev, act, key=key, **({"total_sq": sq} if analysis.needs.sum_squares else {}))
        pb = analysis.p_best(ctx, act)
        p_better = analysis.vs_control(ctx, act, ctrl)[0] if ts.needs_p_better else pb
        return allocate(plan, ts.rule, pb, p_better, act, ctrl, n, n_u[0])

    skeys = jax.vmap(lambda i: jax.random.fold_in(kk, u_n + i))(jnp.arange(s_n, dtype=jnp.int32))
    return jax.vmap(strat_alloc)(n_as.T, ev_as.T, sq_as.T, active_sa.T, skeys).T


def analyse_look(ts: TrialSetup, c: TrialCarry, k) -> LookResult:
    """Analyse look ``k``: decisions of every unit and the next window's allocation per (arm, stratum)."""
    plan = ts.plan
    u_n, l_n = plan.n_units, plan.n_looks
    eligible = jnp.asarray(plan.eligible)  # (S, A)
    un: UnitState = c.units
    kk = jax.random.fold_in(ts.k_look, k)
    # the counts first seen at look k are final by step k (later windows hold patients with index >= rand_n[k] >=
    # look_n[k]), so each step adds one slice of the pending table instead of summing all looks
    seen = jax.tree_util.tree_map(lambda s, p: s + p[k], c.seen, c.pend)
    zeros_as = jnp.zeros((plan.n_arms, plan.n_strata), dtype=ts.fdt)
    as_tables = [x if x is not None else zeros_as for x in (seen.n, seen.ev, seen.cc, seen.evcc, seen.sq)]
    n_as, ev_as, _, _, sq_as = as_tables
    n_u, ev_u, ncc_u, evcc_u, sq_u = (x.T if plan.per_stratum else x.sum(1)[None] for x in as_tables)
    thr_k, spend_next, bound_u = ts.thresholds, None, None
    if plan.stopping.observed_info:  # boundaries at each comparison's observed information fraction
        n_ctrl = ncc_u if plan.concurrent else jnp.broadcast_to(n_u[:, plan.control, None], n_u.shape)
        t_now = jax.vmap(observed_fractions)(n_u, n_ctrl, ts.thresholds["i_max"])

        def spend(s, t, a):
            sp = plan.stopping
            return spend_bounds(s, t, a, k == l_n - 1, spending=sp.spending, gamma=sp.gamma)

        bound_u, spend_next = jax.vmap(spend)(c.spend, t_now, ts.thresholds["alpha_unit"])
        thr_k = dict(ts.thresholds, efficacy_z=jnp.broadcast_to(bound_u[:, None, :], (u_n, l_n, plan.n_arms)))
    elig_u = eligible if plan.per_stratum else jnp.any(eligible, axis=0)[None]
    # (written out twice, not through a shared "undecided" mask: sharing it changed XLA's CPU fusions and cost 15%
    # per trial on the adaptr design, benchmarks/bench_trials.md)
    in_play = elig_u & sched_open(ts, k, c.start_w)[None, :] & (un.decision == 0) & ~un.stopped[:, None]
    nxt_open = sched_open(ts, k + 1, c.start_w)
    grid_arms = in_play | (elig_u & nxt_open[None, :] & (un.decision == 0) & ~un.stopped[:, None])
    waiting = c.start_w > k + 1  # max_active_arms: not yet entered
    if plan.arms.max_active:
        grid_arms = grid_arms | (elig_u & waiting[None, :])
    ux, records = _model_tables(ts, c, k, seen, n_u, ev_u, ncc_u, evcc_u, elig_u)
    keys = jax.vmap(lambda i: jax.random.fold_in(kk, i))(jnp.arange(u_n, dtype=jnp.int32))
    if plan.per_stratum:  # per-stratum tables of each unit (for CMH): the unit's own stratum
        ns_u, evs_u = n_u[:, None, :], ev_u[:, None, :]
    else:
        ns_u, evs_u = n_as.T[None], ev_as.T[None]
    x = UnitInputs(n_u, ev_u, sq_u, ncc_u, evcc_u, in_play, grid_arms, un, keys, ns_u, evs_u, ux)
    if ts.analysis.needs.frequentist:
        unit = functools.partial(_frequentist_unit, ts, k, thr_k, nxt_open, waiting)
    else:
        unit = functools.partial(_bayes_unit, ts, k, nxt_open, waiting, records)
    un2, act_u, pb_u, alloc_u, pbest_u, pbetter_u, plog_u = jax.vmap(unit)(x, jnp.arange(u_n))
    if plan.per_stratum:  # per-stratum activity and allocation
        active_sa, alloc_sa = act_u.T, alloc_u.T  # (A, S)
    else:
        active_sa = (act_u[0][None, :] & eligible).T
        alloc_sa = _stratum_allocation(ts, kk, un2, active_sa, n_as, ev_as, sq_as, n_u, pbest_u, pbetter_u)
    alloc_sa = jnp.where(active_sa, alloc_sa, 0.0)
    return LookResult(
        seen, un2, active_sa, alloc_sa, in_play, pb_u, plog_u, act_u, waiting, spend_next, bound_u, n_as, ev_as
    )
