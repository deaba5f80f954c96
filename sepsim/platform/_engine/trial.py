"""One simulated trial as an array program: a patient stream, randomisation windows, and a ``lax.scan`` over looks.

Patients are numbered in order of randomisation, ``0 .. N-1`` (N = ``look_n[-1]``). Look ``k`` sees the outcomes of
patients ``< look_n[k]`` (outcomes complete in randomisation order) and happens when ``rand_n[k]`` patients are
randomised. Randomisation window ``j`` holds patients ``rand_n[j-1] <= i < rand_n[j]``; they are randomised with the
allocation probabilities fixed after look ``j-1``. Each step of the scan analyses look ``k``, then randomises window
``k+1`` and adds the outcomes that complete before look ``k+1``. Windows are processed as fixed-size slices (sizes
from the plan), so the cost per look does not grow with N.

Random numbers: one key per trial (from the global trial index), split by purpose; per-patient uniforms come from
32-bit words (upper/lower 16 bits for the assignment and the patient draw when the table has <= 65536 patients).
"""

from __future__ import annotations

from typing import Any, cast

import jax
import jax.numpy as jnp

from .._allocation.base import AbstractAllocationRule, AllocationInputs
from .._allocation.fixed import FixedAllocation, block_assign
from .._allocation.trippa import TrippaAllocation
from .._analysis.base import AbstractAnalysis
from .._analysis.frequentist import FrequentistAnalysis
from .._decisions.decide import UnitState, decide_unit
from .._decisions.frequentist import decide_frequentist
from .._decisions.gsd_observed import init_spend_state, observed_fractions, spend_bounds
from .._design.plan import Plan
from .arm_schedule import (
    admit_waiting,
    continue_while_waiting,
    open_at_day,
    restrict_to_open,
    window_days,
    window_open_by_day,
)

__all__ = ["simulate_trial"]

_U16 = 1.0 / 65536.0
_U32 = 1.0 / 4294967296.0


def _words(plan: Plan) -> dict[str, int]:
    names = ["main"]
    if plan.big_table:
        names.append("pid")
    if plan.stratified_stream:
        names.append("stratum")
    if plan.dropout_prob > 0:
        names.append("dropout")
    if plan.accrual_per_day is not None:
        names.append("arrival")
    return {n: i for i, n in enumerate(names)}


def _window(n_max: int, lo, hi, width: int):
    lo, hi = jnp.asarray(lo, dtype=jnp.int32), jnp.asarray(hi, dtype=jnp.int32)
    # keep XLA from constant-folding the (large, static) first window at compile time
    lo, hi = jax.lax.optimization_barrier((lo, hi))
    start = jnp.clip(lo, 0, n_max - width)
    idx = start + jnp.arange(width, dtype=jnp.int32)
    return start, idx, (idx >= lo) & (idx < hi)


def simulate_trial(
    plan: Plan,
    rule: AbstractAllocationRule,
    analysis: AbstractAnalysis,
    tables: dict,
    key: jax.Array,
    thresholds: dict[str, jax.Array],
) -> dict[str, Any]:
    """Simulate one trial; returns per-look and per-trial arrays (see :func:`sepsim.platform.run_trials`)."""
    a_n, s_n, l_n, n_max, u_n = plan.n_arms, plan.n_strata, plan.n_looks, plan.n_max, plan.n_units
    fdt = tables["outcome"].dtype
    eligible = jnp.asarray(plan.eligible)  # (S, A)
    k_bits, k_block, k_look = jax.random.split(key, 3)
    words = _words(plan)
    bits = jax.random.bits(k_bits, (n_max, len(words)), dtype=jnp.uint32)
    look_n = jnp.asarray(plan.look_n, dtype=jnp.int32)
    mix0 = jnp.asarray(plan.mix_start, dtype=fdt)
    mix1 = jnp.asarray(plan.mix_end, dtype=fdt)
    fixed_rule = FixedAllocation(ratio=plan.ratio)
    ratio_counts = jnp.asarray([int(round(r)) * plan.block_factor for r in plan.ratio], dtype=jnp.int32)
    start_window = jnp.asarray(plan.start_window, dtype=jnp.int32)
    stop_look = jnp.asarray(plan.stop_look, dtype=jnp.int32)

    # ---- calendar time: arrivals, look times, randomised counts -------------------------------------------------
    if plan.accrual_per_day is not None:
        u_arr = (bits[:, words["arrival"]].astype(fdt) + 0.5) * _U32
        arrival = jnp.cumsum(-jnp.log(u_arr) / plan.accrual_per_day)
        look_time = arrival[look_n - 1] + plan.delay_days
        rand_n = jnp.minimum(jnp.searchsorted(arrival, look_time, side="right").astype(jnp.int32), n_max)
        rand_n = jnp.maximum(rand_n, look_n).at[-1].set(n_max)
    else:
        rand_n = jnp.asarray(plan.rand_n, dtype=jnp.int32)
        look_time = jnp.full((l_n,), jnp.nan, dtype=fdt)

    calendar = plan.start_day is not None  # arms open and close at calendar days (see _arm_schedule)
    has_schedule = any(x > 0 for x in plan.start_window) or any(x >= 0 for x in plan.stop_look) or calendar
    if calendar:
        t_first, t_last = window_days(arrival, rand_n)
    needs = analysis.needs  # the static record of what the analysis needs (see _analysis/base.py)
    freq = needs.frequentist
    freq_analysis = cast(FrequentistAnalysis, analysis)  # used only when freq
    needs_sq = needs.sum_squares  # continuous outcomes: sums of squares too
    needs_p_better = isinstance(rule, TrippaAllocation)
    # model-specific data (see README_engine.md, "Plugging in another analysis")
    n_cat = needs.n_categories  # ordinal: counts per (look, arm, stratum, category)
    needs_strata = needs.strata  # (stratum, arm) tables of the unit
    needs_records = needs.records  # per-patient records (covariate models)
    across_units = analysis.across_units if needs.across_units else None  # a posterior from all units' tables
    # the patient log also reports each look's P(better than the design's control) (Bayesian, with a control)
    log_p_better = plan.record_patients and not freq and plan.control >= 0

    def sched_open(window, start_w):
        """Arms open (by the platform schedule) in randomisation window ``window``; ``start_w``: each arm's first
        window (carried: with ``max_active_arms`` arms enter by rule)."""
        is_open = (start_w <= window) & ((stop_look < 0) | (stop_look >= window))
        if calendar:
            j = jnp.clip(window, 0, l_n - 1)
            is_open = is_open & window_open_by_day(plan, t_first[j], t_last[j])
        return is_open

    # ---- randomisation of one window -------------------------------------------------------------------------------
    def randomise(carry, lo, hi, width, window, n_bins):
        start, idx, m = _window(n_max, lo, hi, width)
        w = jax.lax.dynamic_slice(bits, (start, jnp.int32(0)), (width, len(words)))
        main = w[:, words["main"]]
        u_assign = ((main >> 16).astype(fdt) + 0.5) * _U16
        u_pat = ((main & 0xFFFF).astype(fdt) + 0.5) * _U16
        if plan.big_table:
            u_pat = (w[:, words["pid"]].astype(fdt) + 0.5) * _U32
        t = idx.astype(fdt) / max(n_max - 1, 1)
        if plan.stratified_stream:
            mix = mix0[None, :] + (mix1 - mix0)[None, :] * t[:, None]
            mix = jnp.where(carry["open_strata"][None, :], mix, 0.0)
            cdf = jnp.cumsum(mix, axis=1)
            u_s = ((w[:, words["stratum"]].astype(fdt) + 0.5) * _U32)[:, None] * cdf[:, -1:]
            strat = jnp.minimum(jnp.sum(u_s > cdf, axis=1), s_n - 1).astype(jnp.int32)
            cnt = tables["counts"][strat]
            j = jnp.minimum((u_pat * cnt.astype(fdt)).astype(jnp.int32), cnt - 1)
            pid = tables["order"][tables["offsets"][strat] + j]
        else:
            pid = jnp.minimum((u_pat * plan.n_table).astype(jnp.int32), plan.n_table - 1)
            if not plan.identity_order:  # (a gather from the table costs ~0.1 us per patient on CPU)
                pid = tables["order"][pid]
            strat = tables["stratum"][pid] if s_n > 1 else jnp.zeros_like(pid)
        # barrier: the first window's allocation is a compile-time constant, and XLA would otherwise constant-fold
        # the block bookkeeping over (trials, window, arms) at compile time (seconds per compilation)
        probs = jax.lax.optimization_barrier(carry["alloc"]).T[strat]  # (W, A)
        if calendar:  # each patient only among the arms open at his arrival
            open_pat = open_at_day(plan, arrival[idx])
            probs = restrict_to_open(probs, open_pat)
        if plan.block_factor > 0:
            oh = jax.nn.one_hot(strat, s_n, dtype=jnp.int32) * m[:, None].astype(jnp.int32)
            if s_n == 1:  # rank among the window's patients (avoids XLA constant-folding a large cumsum)
                mi = m.astype(jnp.int32)
                before = jnp.cumsum(mi, dtype=jnp.int32) - mi
            else:
                before = jnp.sum((jnp.cumsum(oh, axis=0, dtype=jnp.int32) - oh) * oh, axis=1, dtype=jnp.int32)
            rank = before + carry["block_count"][strat]
            open_as = probs > 0
            ratio_pat = ratio_counts[None, :]
            size = jnp.maximum(jnp.sum(jnp.where(open_as, ratio_pat, 0), axis=1, dtype=jnp.int32), 1)
            block_id = rank // size

            def one(s, e, b, op, pos):
                kb = jax.random.fold_in(jax.random.fold_in(jax.random.fold_in(k_block, s), e), b)
                return block_assign(ratio_counts, op, pos, key=kb, max_block=plan.max_block)

            arm = jax.vmap(one)(strat, carry["block_epoch"][strat], block_id, open_as, rank)
            carry = dict(carry, block_count=carry["block_count"] + jnp.sum(oh, axis=0, dtype=jnp.int32))
        else:
            cdf = jnp.cumsum(probs, axis=1)
            arm = jnp.minimum(jnp.sum(u_assign[:, None] * cdf[:, -1:] > cdf, axis=1), a_n - 1).astype(jnp.int32)
        if plan.time_trend_logit != 0.0:
            rate = tables["rates"][strat, arm]
            logit = jnp.log(rate) - jnp.log1p(-rate) + plan.time_trend_logit * t
            y = (tables["latent_u"][pid] < jax.nn.sigmoid(logit)).astype(fdt)
        else:
            y = tables["outcome"][pid, arm]
        has_y = jnp.ones((width,), dtype=bool)
        if plan.dropout_prob > 0:
            has_y = (w[:, words["dropout"]].astype(fdt) + 0.5) * _U32 >= plan.dropout_prob

        # Each patient's outcome first counts at the first look whose look_n exceeds its index. A window's
        # patients fall into at most ``n_bins`` consecutive looks (from the plan), so the counts are binned
        # relative to the window's first look and then placed into the (look, arm, stratum) table.
        fl0 = jnp.searchsorted(look_n, lo, side="right").astype(jnp.int32)
        rel = jnp.searchsorted(look_n, idx, side="right").astype(jnp.int32) - fl0
        wgt = (m & has_y).astype(fdt)
        oh_c = jax.nn.one_hot(arm * s_n + strat, a_n * s_n, dtype=fdt)  # (W, A*S)
        if n_bins == 1:
            oh_d = wgt[:, None]
        else:
            oh_d = jax.nn.one_hot(rel, n_bins, dtype=fdt) * wgt[:, None]  # (W, D)
        place = jax.nn.one_hot(fl0 + jnp.arange(n_bins, dtype=jnp.int32), l_n, dtype=fdt)  # (D, L)

        def binned(weights):  # (W, D) -> (L, A, S)
            if n_bins == 1:
                per_bin = jnp.sum(weights * oh_c, axis=0)[None]
            else:
                per_bin = jnp.einsum("wd,wc->dc", weights, oh_c)
            return (place.T @ per_bin).reshape(l_n, a_n, s_n)

        out = dict(
            carry,
            pend_n=carry["pend_n"] + binned(oh_d),
            pend_ev=carry["pend_ev"] + binned(oh_d * y[:, None]),
        )
        if needs_sq:
            out["pend_sq"] = carry["pend_sq"] + binned(oh_d * (y * y)[:, None])
        if n_cat:
            cats = [binned(oh_d * (y == c).astype(fdt)[:, None]) for c in range(n_cat)]
            out["pend_cat"] = carry["pend_cat"] + jnp.stack(cats, axis=-1)
        if needs_records:  # arm, table row, outcome and outcome-present flag of each randomised patient

            def put(name, val):
                cur = jax.lax.dynamic_slice(carry[name], (start,), (width,))
                return jax.lax.dynamic_update_slice(carry[name], jnp.where(m, val, cur), (start,))

            out.update(rec_arm=put("rec_arm", arm), rec_pid=put("rec_pid", pid), rec_y=put("rec_y", y))
            out["rec_w"] = put("rec_w", has_y.astype(fdt))
        if plan.concurrent:
            # control patients randomised while each arm was open (window >= the arm's first window; by calendar:
            # arrived while the arm was open)
            conc = open_pat if calendar else jnp.broadcast_to(window >= carry["start_w"], (width, a_n))
            is_c = (arm == plan.control).astype(fdt)
            oh_s = jax.nn.one_hot(strat, s_n, dtype=fdt)

            def binned_cc(weights):  # (W, D) -> (L, A, S): control patients counted for each arm
                per_bin = jnp.einsum("wd,wa,ws->das", weights * is_c[:, None], conc.astype(fdt), oh_s)
                return (place.T @ per_bin.reshape(n_bins, a_n * s_n)).reshape(l_n, a_n, s_n)

            out["pend_cc"] = carry["pend_cc"] + binned_cc(oh_d)
            out["pend_evcc"] = carry["pend_evcc"] + binned_cc(oh_d * y[:, None])
            if n_cat:  # ordinal: the concurrent controls' category counts, per arm
                cats_cc = [binned_cc(oh_d * (y == c).astype(fdt)[:, None]) for c in range(n_cat)]
                out["pend_cccat"] = carry["pend_cccat"] + jnp.stack(cats_cc, axis=-1)
        if plan.record_patients:
            for name, v in (("pat_arm", arm), ("pat_y", has_y), ("pat_out", y), ("pat_strat", strat)):
                old = jax.lax.dynamic_slice(carry[name], (start,), (width,))
                out[name] = jax.lax.dynamic_update_slice(carry[name], jnp.where(m, v, old), (start,))
        return out

    # ---- allocation ------------------------------------------------------------------------------------------------
    def allocate(p_best, p_better, act, control, n_arm, n_unit):
        info = jnp.minimum(jnp.sum(n_unit) / n_max, 1.0).astype(fdt)
        inp = AllocationInputs(p_best, p_better, act, control, n_arm, info)
        adaptive = rule(inp)
        if plan.burn_in_n <= 0:
            return adaptive
        return jnp.where(jnp.sum(n_unit) < plan.burn_in_n, fixed_rule(inp), adaptive)

    # ---- initial state ---------------------------------------------------------------------------------------------
    open0 = sched_open(0, start_window)
    act0 = eligible & open0[None, :]  # (S, A)
    dummy = jnp.zeros((a_n,), dtype=fdt)
    init_alloc = jax.vmap(
        lambda a: fixed_rule(AllocationInputs(dummy, dummy, a, jnp.asarray(plan.control), dummy, jnp.asarray(0.0)))
    )(act0).T  # (A, S)
    zeros_las = jnp.zeros((l_n, a_n, s_n), dtype=fdt)
    units = UnitState(
        decision=jnp.zeros((u_n, a_n), dtype=jnp.int32),
        decision_look=jnp.full((u_n, a_n), -1, dtype=jnp.int32),
        control=jnp.full((u_n,), plan.control, dtype=jnp.int32),
        stopped=jnp.zeros((u_n,), dtype=bool),
        outcome=jnp.zeros((u_n,), dtype=jnp.int32),
        superior=jnp.full((u_n,), -1, dtype=jnp.int32),
        stop_look=jnp.full((u_n,), l_n - 1, dtype=jnp.int32),
    )
    carry = dict(
        pend_n=zeros_las,
        pend_ev=zeros_las,
        pend_cc=zeros_las,
        pend_evcc=zeros_las,
        alloc=init_alloc,
        open_strata=jnp.ones((s_n,), bool),
        block_count=jnp.zeros((s_n,), jnp.int32),
        block_epoch=jnp.zeros((s_n,), jnp.int32),
        units=units,
        done=jnp.asarray(False),
        n_rand=rand_n[0],
        start_w=start_window,
    )
    if plan.observed_info:
        carry["spend"] = jax.tree_util.tree_map(
            lambda x: jnp.broadcast_to(x, (u_n, *x.shape)), init_spend_state(a_n, fdt)
        )
    if plan.record_patients:
        carry["pat_arm"] = jnp.full((n_max,), -1, dtype=jnp.int32)
        carry["pat_y"] = jnp.zeros((n_max,), dtype=bool)
        carry["pat_out"] = jnp.zeros((n_max,), dtype=fdt)
        carry["pat_strat"] = jnp.full((n_max,), -1, dtype=jnp.int32)
    if needs_sq:
        carry["pend_sq"] = zeros_las
    if n_cat:
        carry["pend_cat"] = jnp.zeros((l_n, a_n, s_n, n_cat), dtype=fdt)
        if plan.concurrent:
            carry["pend_cccat"] = jnp.zeros((l_n, a_n, s_n, n_cat), dtype=fdt)
    if needs_records:
        zi = jnp.zeros((n_max,), dtype=jnp.int32)
        carry.update(rec_arm=zi, rec_pid=zi, rec_y=jnp.zeros((n_max,), fdt), rec_w=jnp.zeros((n_max,), fdt))
    carry = randomise(carry, 0, rand_n[0], plan.w_r0, 0, plan.bins0)

    looks = jnp.arange(l_n, dtype=jnp.int32)

    # Running (arm, stratum) counts of outcomes complete by the current look: the counts first seen at look k are
    # final by step k (later windows hold patients with index >= rand_n[k] >= look_n[k]), so each step adds one
    # slice of the pending table instead of summing all looks.
    count_names = ("pend_n", "pend_ev") + (("pend_cc", "pend_evcc") if plan.concurrent else ())
    count_names += ("pend_sq",) if needs_sq else ()
    zeros_as = jnp.zeros((a_n, s_n), dtype=fdt)
    carry["seen"] = {name: zeros_as for name in count_names}
    if n_cat:
        cat_names = ("pend_cat",) + (("pend_cccat",) if plan.concurrent else ())
        count_names += cat_names
        carry["seen"].update({name: jnp.zeros((a_n, s_n, n_cat), dtype=fdt) for name in cat_names})

    def unit_counts(c, k):
        seen = {name: c["seen"][name] + c[name][k] for name in count_names}
        cs = [seen.get(name, zeros_as) for name in ("pend_n", "pend_ev", "pend_cc", "pend_evcc", "pend_sq")]
        if plan.per_stratum:
            return seen, cs, [x.T for x in cs]  # (U=S, A)
        return seen, cs, [x.sum(1)[None] for x in cs]

    def unit_eligible():
        return eligible if plan.per_stratum else jnp.any(eligible, axis=0)[None]

    def step(c, k):
        un: UnitState = c["units"]
        kk = jax.random.fold_in(k_look, k)
        seen_k, (n_as, ev_as, ncc_as, evcc_as, sq_as), (n_u, ev_u, ncc_u, evcc_u, sq_u) = unit_counts(c, k)
        thr_k = thresholds
        if plan.observed_info:  # boundaries at each comparison's observed information fraction
            n_ctrl = ncc_u if plan.concurrent else jnp.broadcast_to(n_u[:, plan.control, None], n_u.shape)
            t_now = jax.vmap(observed_fractions)(n_u, n_ctrl, thresholds["i_max"])

            def spend(s, t, a):
                return spend_bounds(s, t, a, k == l_n - 1, spending=plan.spending, gamma=plan.gamma)

            bound_u, spend_next = jax.vmap(spend)(c["spend"], t_now, thresholds["alpha_unit"])
            thr_k = dict(thresholds, efficacy_z=jnp.broadcast_to(bound_u[:, None, :], (u_n, l_n, a_n)))
        elig_u = unit_eligible()
        in_play = elig_u & sched_open(k, c["start_w"])[None, :] & (un.decision == 0) & ~un.stopped[:, None]
        nxt_open = sched_open(k + 1, c["start_w"])
        grid_arms = in_play | (elig_u & nxt_open[None, :] & (un.decision == 0) & ~un.stopped[:, None])
        waiting = c["start_w"] > k + 1  # max_active_arms: not yet entered
        if plan.max_active:
            grid_arms = grid_arms | (elig_u & waiting[None, :])

        def next_arms(garms, st2):  # arms in play for the next window
            act_next = garms & nxt_open & (st2.decision == 0) & ~st2.stopped
            return admit_waiting(plan, act_next, waiting, k) if plan.max_active else act_next

        # model-specific inputs of each unit (leading axis: unit)
        ux = {}
        if n_cat:
            for name, kw in (("pend_cat", "counts"), ("pend_cccat", "counts_control")):
                if name in seen_k:
                    cat = seen_k[name]  # (A, S, C)
                    ux[kw] = jnp.transpose(cat, (1, 0, 2)) if plan.per_stratum else jnp.sum(cat, axis=1)[None]
        if across_units is not None:
            cc = dict(n_control=ncc_u, events_control=evcc_u) if plan.concurrent else {}
            ux["across"] = across_units(n_u, ev_u, elig_u, **cc)
        if needs_strata and plan.concurrent:  # (stratum, arm) tables of each arm's concurrent controls
            if plan.per_stratum:
                ux.update(n_control_strata=ncc_u[:, None, :], events_control_strata=evcc_u[:, None, :])
            else:
                ux.update(n_control_strata=ncc_as.T[None], events_control_strata=evcc_as.T[None])
        records = None
        if needs_records:  # patients whose outcome is complete by look k
            done_k = (jnp.arange(n_max, dtype=jnp.int32) < look_n[k]).astype(fdt)
            records = dict(
                arm=c["rec_arm"],
                y=c["rec_y"],
                w=c["rec_w"] * done_k,
                stratum=tables["stratum"][c["rec_pid"]],
                x=tables["covariates"][c["rec_pid"]],
            )

        def unit_frequentist(n, ev, sq, ncc, evcc, act, garms, st, key, ns, evs, u, ux):
            extra = dict(n_control=ncc, total_control=evcc) if plan.concurrent else {}
            z = freq_analysis.statistics(n, ev, total_sq=sq, n_strata=ns, total_strata=evs, **extra)
            st2, act2 = decide_frequentist(plan, freq_analysis, z, act, st, k, u, thr_k)
            if plan.max_active:
                st2 = continue_while_waiting(plan, st, st2, act, jnp.any(waiting), k, frequentist=True)
            act_next = next_arms(garms, st2) if has_schedule else act2
            zero = jnp.zeros_like(n)
            return st2, act_next, z, allocate(zero, zero, act_next, st2.control, n, n), zero, zero, zero

        def unit(n, ev, sq, ncc, evcc, act, garms, st, key, ns, evs, u, ux):
            extra = dict(ux)
            if plan.concurrent:
                extra.update(n_control=ncc, events_control=evcc)
            if needs_sq:
                extra["total_sq"] = sq
            if needs_strata:
                extra.update(n_strata=ns, events_strata=evs)
            if records is not None:
                extra["records"] = records
            ctx = analysis.prepare(n, ev, garms, key=key, **extra)
            st2, act2, pb_first, pb_final = decide_unit(plan, analysis, ctx, act, st, k, thresholds)
            if plan.max_active:
                st2 = continue_while_waiting(plan, st, st2, act, jnp.any(waiting), k, frequentist=False)
            if has_schedule:  # arms that open for the next window join; arms the schedule closes leave
                act_next = next_arms(garms, st2)
                pb_final = analysis.p_best(ctx, act_next)
            else:
                act_next = act2
            p_better = analysis.vs_control(ctx, act_next, st2.control)[0] if needs_p_better else pb_final
            alloc = allocate(pb_final, p_better, act_next, st2.control, n, n)
            p_log = pb_first
            if log_p_better:  # audit: P(better than the design's control) of the arms in play at this look
                p_log = analysis.vs_control(ctx, act, jnp.asarray(plan.control, jnp.int32))[0]
            return st2, act_next, pb_first, alloc, pb_final, p_better, p_log

        keys = jax.vmap(lambda i: jax.random.fold_in(kk, i))(jnp.arange(u_n, dtype=jnp.int32))
        if plan.per_stratum:  # per-stratum tables of each unit (for CMH): the unit's own stratum
            ns_u, evs_u = n_u[:, None, :], ev_u[:, None, :]
        else:
            ns_u, evs_u = n_as.T[None], ev_as.T[None]
        un2, act_u, pb_u, alloc_u, pbest_u, pbetter_u, plog_u = jax.vmap(unit_frequentist if freq else unit)(
            n_u, ev_u, sq_u, ncc_u, evcc_u, in_play, grid_arms, un, keys, ns_u, evs_u, jnp.arange(u_n), ux
        )
        # per-stratum activity and allocation
        if plan.per_stratum:
            active_sa = act_u.T  # (A, S)
            alloc_sa = alloc_u.T
        else:
            active_sa = (act_u[0][None, :] & eligible).T
            if plan.within_strata and not freq:
                n_s, ev_s, sq_s = n_as.T, ev_as.T, sq_as.T

                def strat_alloc(n, ev, sq, act, key):
                    ctx = analysis.prepare(n, ev, act, key=key, **({"total_sq": sq} if needs_sq else {}))
                    pb = analysis.p_best(ctx, act)
                    p_better = analysis.vs_control(ctx, act, un2.control[0])[0] if needs_p_better else pb
                    return allocate(pb, p_better, act, un2.control[0], n, n_u[0])

                skeys = jax.vmap(lambda i: jax.random.fold_in(kk, u_n + i))(jnp.arange(s_n, dtype=jnp.int32))
                alloc_sa = jax.vmap(strat_alloc)(n_s, ev_s, sq_s, active_sa.T, skeys).T
            else:

                def strat_alloc_fixed(act):
                    return allocate(pbest_u[0], pbetter_u[0], act, un2.control[0], n_u[0], n_u[0])

                alloc_sa = jax.vmap(strat_alloc_fixed)(active_sa.T).T
        alloc_sa = jnp.where(active_sa, alloc_sa, 0.0)
        stratum_stopped = un2.stopped if plan.per_stratum else jnp.broadcast_to(un2.stopped[0], (s_n,))
        done = c["done"] | jnp.all(un2.stopped)
        was_done = c["done"]
        final_look = k == l_n - 1  # nobody is randomised after the last look
        # blocks restart when a stratum's set of open arms changes
        changed = jnp.any(active_sa != (c["alloc"] > 0), axis=0)
        c2: dict[str, Any] = dict(
            c,
            seen=seen_k,
            units=un2,
            alloc=jnp.where(was_done, c["alloc"], alloc_sa),
            open_strata=~stratum_stopped,
            block_epoch=c["block_epoch"] + changed.astype(jnp.int32),
            block_count=jnp.where(changed, 0, c["block_count"]),
            done=done,
            start_w=jnp.where(act_u[0] & waiting, k + 1, c["start_w"]),  # arms admitted by rule
        )
        if plan.observed_info:
            c2["spend"] = spend_next
        out = dict(
            n=n_as,
            events=ev_as,
            alloc_prob=jnp.where(was_done | done | final_look, 0.0, alloc_sa),
            p_best_unit=jnp.where(in_play, pb_u, jnp.nan),
            active=jnp.where(was_done | done | final_look, False, active_sa),
            n_randomised=c["n_rand"],
        )
        if n_cat:
            out["counts"] = seen_k["pend_cat"]
        out["p_best_unit"] = jnp.where(was_done, jnp.nan, out["p_best_unit"])
        if freq:  # a frequentist unit reports z statistics, in their own output
            out["z_unit"] = out.pop("p_best_unit")
        if plan.observed_info:
            out["efficacy_bound"] = bound_u
        if plan.record_patients and plan.concurrent:
            out["n_concurrent_control"] = seen_k["pend_cc"].sum(1)
        if log_p_better:
            out["p_better_control"] = jnp.where(was_done, jnp.nan, plog_u)  # (U, A)
        # randomise the next window and collect outcomes completing before the next look
        kn = jnp.minimum(k + 1, l_n - 1)
        go = ~done & (k + 1 < l_n)
        lo_r, hi_r = rand_n[k], jnp.where(go, rand_n[kn], rand_n[k])
        c2 = randomise(c2, lo_r, hi_r, plan.w_r, k + 1, plan.bins)
        c2["n_rand"] = jnp.where(go, rand_n[kn], c["n_rand"])
        return c2, out

    c_end, per_look = jax.lax.scan(step, carry, jnp.arange(l_n, dtype=jnp.int32))
    un: UnitState = c_end["units"]
    trial_stop = jnp.max(un.stop_look)
    after = looks > trial_stop
    for name in ("n", "events") + (("counts",) if n_cat else ()):
        last = per_look[name][trial_stop]
        per_look[name] = jnp.where(after.reshape((-1,) + (1,) * last.ndim), last[None], per_look[name])
    per_look["n_randomised"] = jnp.where(after, per_look["n_randomised"][trial_stop], per_look["n_randomised"])
    n_total = per_look["n_randomised"][trial_stop]
    # final analysis with every randomised patient (adaptr's post_ests_all)
    n_all = jnp.sum(c_end["pend_n"], axis=0)
    ev_all = jnp.sum(c_end["pend_ev"], axis=0)
    return dict(
        per_look=per_look,
        units=un,
        n_all=n_all,
        events_all=ev_all,
        estimate=analysis.posterior_mean(n_all, ev_all),
        n_total=n_total,
        events_total=jnp.sum(ev_all),
        trial_stop_look=trial_stop,
        look_time=look_time,
        **(
            _patients(plan, c_end, arrival if plan.accrual_per_day is not None else None)
            if plan.record_patients
            else {}
        ),
    )


def _patients(plan: Plan, c_end: dict, arrival) -> dict:
    out = dict(
        patient_arm=c_end["pat_arm"],
        patient_has_outcome=c_end["pat_y"],
        patient_outcome=c_end["pat_out"],
        patient_stratum=c_end["pat_strat"],
    )
    if arrival is not None:
        out["patient_arrival"] = arrival
    return out
