"""One simulated trial as an array program: a patient stream, randomisation windows, and a ``lax.scan`` over looks.

Patients are numbered in order of randomisation, ``0 .. N-1`` (N = ``look_n[-1]``). Look ``k`` sees the outcomes of
patients ``< look_n[k]`` (outcomes complete in randomisation order) and happens when ``rand_n[k]`` patients are
randomised. Each step of the scan analyses look ``k`` (:func:`~sepsim.platform._engine.look.analyse_look`), then
randomises window ``k+1`` (:func:`~sepsim.platform._engine.window.randomise_window`) and adds the outcomes that
complete before look ``k+1``. The scan carries a :class:`~sepsim.platform._engine.carry.TrialCarry`.

Random numbers: one key per trial (from the global trial index), split by purpose (patient bits, permuted blocks,
analysis keys per look).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from .._allocation.base import AbstractAllocationRule
from .._analysis.base import AbstractAnalysis
from .._design.plan import Plan
from .arm_schedule import window_days
from .carry import PatientLog, Records, TrialCarry, init_counts, init_spend, init_units
from .look import analyse_look, initial_allocation
from .window import _U32, TrialSetup, next_window, randomise_window, sched_open, stream_words

__all__ = ["simulate_trial", "setup_trial"]


def setup_trial(
    plan: Plan,
    rule: AbstractAllocationRule,
    analysis: AbstractAnalysis,
    tables: dict,
    key: jax.Array,
    thresholds: dict[str, jax.Array],
) -> TrialSetup:
    """Split the trial's key, draw its patient bits and (accrual mode) its calendar: arrivals, look times and the
    number randomised at each look."""
    n_max, l_n, fdt = plan.n_max, plan.n_looks, tables["outcome"].dtype
    enr = plan.enrolment
    k_bits, k_block, k_look = jax.random.split(key, 3)
    words = stream_words(plan)
    bits = jax.random.bits(k_bits, (n_max, len(words)), dtype=jnp.uint32)
    look_n = jnp.asarray(plan.look_n, dtype=jnp.int32)
    arrival = t_first = t_last = None
    if enr.accrual_per_day is not None:
        u_arr = (bits[:, words["arrival"]].astype(fdt) + 0.5) * _U32
        arrival = jnp.cumsum(-jnp.log(u_arr) / enr.accrual_per_day)
        look_time = arrival[look_n - 1] + enr.delay_days
        rand_n = jnp.minimum(jnp.searchsorted(arrival, look_time, side="right").astype(jnp.int32), n_max)
        rand_n = jnp.maximum(rand_n, look_n).at[-1].set(n_max)
    else:
        rand_n = jnp.asarray(enr.rand_n, dtype=jnp.int32)
        look_time = jnp.full((l_n,), jnp.nan, dtype=fdt)
    if plan.arms.calendar:  # arms open and close at calendar days (see arm_schedule.py)
        t_first, t_last = window_days(arrival, rand_n)  # type: ignore[arg-type]
    return TrialSetup(
        plan, rule, analysis, tables, thresholds, bits, words, k_block, k_look, look_n, rand_n, arrival,
        look_time, t_first, t_last,
    )  # fmt: skip


def initial_carry(ts: TrialSetup) -> TrialCarry:
    """The state before the first look, with the first window randomised at the fixed ratio."""
    plan, fdt, needs = ts.plan, ts.fdt, ts.analysis.needs
    a_n, s_n, l_n, n_max = plan.n_arms, plan.n_strata, plan.n_looks, plan.n_max
    start_window = jnp.asarray(plan.arms.start_window, dtype=jnp.int32)
    act0 = jnp.asarray(plan.eligible) & sched_open(ts, 0, start_window)[None, :]  # (S, A)
    records = patients = None
    if needs.records:
        zi = jnp.zeros((n_max,), dtype=jnp.int32)
        records = Records(arm=zi, pid=zi, y=jnp.zeros((n_max,), fdt), w=jnp.zeros((n_max,), fdt))
    if plan.record_patients:
        patients = PatientLog(
            arm=jnp.full((n_max,), -1, dtype=jnp.int32),
            has_y=jnp.zeros((n_max,), dtype=bool),
            outcome=jnp.zeros((n_max,), dtype=fdt),
            stratum=jnp.full((n_max,), -1, dtype=jnp.int32),
        )
    carry = TrialCarry(
        pend=init_counts(
            (l_n,), a_n, s_n, fdt, sq=needs.sum_squares, n_cat=needs.n_categories, concurrent=plan.concurrent
        ),
        seen=init_counts((), a_n, s_n, fdt, sq=needs.sum_squares, n_cat=needs.n_categories, concurrent=plan.concurrent),
        alloc=initial_allocation(plan, act0, fdt).T,  # (A, S)
        open_strata=jnp.ones((s_n,), bool),
        block_count=jnp.zeros((s_n,), jnp.int32),
        block_epoch=jnp.zeros((s_n,), jnp.int32),
        units=init_units(plan.n_units, a_n, plan.control, l_n),
        done=jnp.asarray(False),
        n_rand=ts.rand_n[0],
        start_w=start_window,
        spend=init_spend(plan.n_units, a_n, fdt) if plan.stopping.observed_info else None,
        records=records,
        patients=patients,
    )
    enr = plan.enrolment
    return randomise_window(ts, carry, 0, ts.rand_n[0], enr.w_r0, 0, enr.bins0)


def look_step(ts: TrialSetup, c: TrialCarry, k) -> tuple[TrialCarry, dict[str, Any]]:
    """One step of the scan: analyse look ``k``, then randomise the next window."""
    plan = ts.plan
    l_n, s_n = plan.n_looks, plan.n_strata
    r = analyse_look(ts, c, k)
    un2 = r.units
    stratum_stopped = un2.stopped if plan.per_stratum else jnp.broadcast_to(un2.stopped[0], (s_n,))
    done = c.done | jnp.all(un2.stopped)
    was_done = c.done
    final_look = k == l_n - 1  # nobody is randomised after the last look
    changed = jnp.any(r.active_sa != (c.alloc > 0), axis=0)  # blocks restart when a stratum's open arms change
    c2 = c._replace(
        seen=r.seen,
        units=un2,
        alloc=jnp.where(was_done, c.alloc, r.alloc_sa),
        open_strata=~stratum_stopped,
        block_epoch=c.block_epoch + changed.astype(jnp.int32),
        block_count=jnp.where(changed, 0, c.block_count),
        done=done,
        start_w=jnp.where(r.act_u[0] & r.waiting, k + 1, c.start_w),  # arms admitted by rule
        spend=r.spend if plan.stopping.observed_info else c.spend,
    )
    closed = was_done | done | final_look
    p_unit = jnp.where(was_done, jnp.nan, jnp.where(r.in_play, r.p_unit, jnp.nan))
    out = dict(
        n=r.n_as,
        events=r.ev_as,
        alloc_prob=jnp.where(closed, 0.0, r.alloc_sa),
        active=jnp.where(closed, False, r.active_sa),
        n_randomised=c.n_rand,
    )
    # a frequentist unit reports z statistics, in their own output
    out["z_unit" if ts.analysis.needs.frequentist else "p_best_unit"] = p_unit
    if r.seen.cat is not None:
        out["counts"] = r.seen.cat
    if plan.stopping.observed_info:
        out["efficacy_bound"] = r.bound
    if plan.record_patients and plan.concurrent:
        out["n_concurrent_control"] = r.seen.cc.sum(1)  # type: ignore[union-attr]
    if ts.log_p_better:
        out["p_better_control"] = jnp.where(was_done, jnp.nan, r.p_log)  # (U, A)
    # randomise the next window and collect outcomes completing before the next look
    lo_r, hi_r, go, n_next = next_window(ts.rand_n, k, done, l_n)
    c2 = randomise_window(ts, c2, lo_r, hi_r, plan.enrolment.w_r, k + 1, plan.enrolment.bins)
    return c2._replace(n_rand=jnp.where(go, n_next, c.n_rand)), out


def simulate_trial(
    plan: Plan,
    rule: AbstractAllocationRule,
    analysis: AbstractAnalysis,
    tables: dict,
    key: jax.Array,
    thresholds: dict[str, jax.Array],
) -> dict[str, Any]:
    """Simulate one trial; returns per-look and per-trial arrays (see :func:`sepsim.platform.run_trials`)."""
    ts = setup_trial(plan, rule, analysis, tables, key, thresholds)
    l_n = plan.n_looks
    looks = jnp.arange(l_n, dtype=jnp.int32)
    c_end, per_look = jax.lax.scan(lambda c, k: look_step(ts, c, k), initial_carry(ts), looks)
    un = c_end.units
    trial_stop = jnp.max(un.stop_look)
    after = looks > trial_stop
    for name in ("n", "events", "counts"):  # frozen at the look the trial stopped
        if name in per_look:
            last = per_look[name][trial_stop]
            per_look[name] = jnp.where(after.reshape((-1,) + (1,) * last.ndim), last[None], per_look[name])
    per_look["n_randomised"] = jnp.where(after, per_look["n_randomised"][trial_stop], per_look["n_randomised"])
    n_total = per_look["n_randomised"][trial_stop]
    # final analysis with every randomised patient (adaptr's post_ests_all)
    n_all = jnp.sum(c_end.pend.n, axis=0)
    ev_all = jnp.sum(c_end.pend.ev, axis=0)
    out = dict(
        per_look=per_look,
        units=un,
        n_all=n_all,
        events_all=ev_all,
        estimate=analysis.posterior_mean(n_all, ev_all),
        n_total=n_total,
        events_total=jnp.sum(ev_all),
        trial_stop_look=trial_stop,
        look_time=ts.look_time,
    )
    if c_end.patients is not None:
        p = c_end.patients
        out.update(patient_arm=p.arm, patient_has_outcome=p.has_y, patient_outcome=p.outcome, patient_stratum=p.stratum)
        if ts.arrival is not None:
            out["patient_arrival"] = ts.arrival
    return out
