"""Randomising one window of patients: who they are, which arm each gets, their outcomes, and where those count.

Randomisation window ``j`` holds patients ``rand_n[j-1] <= i < rand_n[j]``; they are randomised with the
allocation probabilities fixed after look ``j-1``. Windows are processed as fixed-size slices (sizes from the
plan), so the cost per look does not grow with N. Per-patient uniforms come from 32-bit words (upper/lower 16 bits
for the assignment and the patient draw when the table has <= 65536 patients).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float, Int

from .._allocation.base import AbstractAllocationRule
from .._allocation.fixed import block_assign
from .._analysis.base import AbstractAnalysis
from .._design.plan import Plan
from .arm_schedule import open_at_day, restrict_to_open, window_open_by_day
from .carry import Counts, PatientLog, Records, TrialCarry

__all__ = ["TrialSetup", "draw_index", "next_window", "randomise_window", "sched_open", "slice_window"]

_U16 = 1.0 / 65536.0
_U32 = 1.0 / 4294967296.0


@dataclass(frozen=True)
class TrialSetup:
    """What one trial's look steps share: the static plan, rule and analysis, and the trial's random streams and
    calendar (traced arrays; built once per trial by :func:`~sepsim.platform._engine.trial.simulate_trial`)."""

    plan: Plan
    rule: AbstractAllocationRule
    analysis: AbstractAnalysis
    tables: dict[str, Any]
    thresholds: dict[str, Array]
    bits: Array  # (patient, word) uint32
    words: dict[str, int]  # column of each purpose in ``bits``
    k_block: Array
    k_look: Array
    look_n: Int[Array, " look"]
    rand_n: Int[Array, " look"]
    arrival: Float[Array, " patient"] | None  # accrual mode
    look_time: Float[Array, " look"]
    t_first: Float[Array, " look"] | None  # calendar mode: first/last arrival day of each window
    t_last: Float[Array, " look"] | None

    @property
    def fdt(self):
        return self.tables["outcome"].dtype

    @property
    def needs_p_better(self) -> bool:
        return self.rule.needs_p_better

    @property
    def log_p_better(self) -> bool:
        """The patient log also reports each look's P(better than the design's control) (Bayesian, a control)."""
        return self.plan.record_patients and not self.analysis.needs.frequentist and self.plan.control >= 0


def stream_words(plan: Plan) -> dict[str, int]:
    names = ["main"]
    if plan.stream.big_table:
        names.append("pid")
    if plan.stream.stratified:
        names.append("stratum")
    if plan.enrolment.dropout_prob > 0:
        names.append("dropout")
    if plan.enrolment.accrual_per_day is not None:
        names.append("arrival")
    return {n: i for i, n in enumerate(names)}


def slice_window(n_max: int, lo, hi, width: int):
    """``(start, idx, mask)``: a fixed-width slice of patient indices holding ``lo <= i < hi``."""
    lo, hi = jnp.asarray(lo, dtype=jnp.int32), jnp.asarray(hi, dtype=jnp.int32)
    # keep XLA from constant-folding the (large, static) first window at compile time
    lo, hi = jax.lax.optimization_barrier((lo, hi))
    start = jnp.clip(lo, 0, n_max - width)
    idx = start + jnp.arange(width, dtype=jnp.int32)
    return start, idx, (idx >= lo) & (idx < hi)


def next_window(rand_n: Int[Array, " look"], k, done, n_looks: int):
    """``(lo, hi, n_rand)`` of the window randomised after look ``k``: empty once the trial is done or after the
    last look; ``n_rand`` is then left at the current count."""
    kn = jnp.minimum(k + 1, n_looks - 1)
    go = ~done & (k + 1 < n_looks)
    return rand_n[k], jnp.where(go, rand_n[kn], rand_n[k]), go, rand_n[kn]


def sched_open(ts: TrialSetup, window, start_w: Int[Array, " arm"]) -> Bool[Array, " arm"]:
    """Arms open (by the platform schedule) in randomisation window ``window``; ``start_w``: each arm's first
    window (carried: with ``max_active_arms`` arms enter by rule)."""
    plan = ts.plan
    stop_look = jnp.asarray(plan.arms.stop_look, dtype=jnp.int32)
    is_open = (start_w <= window) & ((stop_look < 0) | (stop_look >= window))
    if plan.arms.calendar:
        j = jnp.clip(window, 0, plan.n_looks - 1)
        is_open = is_open & window_open_by_day(plan, ts.t_first[j], ts.t_last[j])  # type: ignore[index]
    return is_open


def _add64(hi, lo, x_hi, x_lo):
    """(hi, lo) + (x_hi, x_lo) as 64-bit unsigned integers held in two uint32 words."""
    low = lo + x_lo
    return hi + x_hi + (low < lo).astype(jnp.uint32), low


def draw_index(bits: Array, n_bits: int, n, n_max: int, fdt) -> Int[Array, "..."]:
    """The index ``floor((bits + 1/2) / 2**n_bits * n)`` among ``n`` (``bits``: uniform ``n_bits``-bit integers in
    uint32; ``n``: an int or an int32 array, at most ``n_max``).

    Computed exactly in 32-bit integer arithmetic (16 x 16-bit partial products and a carry), so the draw does not
    depend on the float precision: float32 and float64 runs draw the same patients. It is the number the float
    formula ``(bits + 0.5) * 2**-n_bits * n`` gives in float64 wherever that product is exact (``n_max < 2**20``
    with 32-bit draws; always with 16-bit draws); a 32-bit draw among 2**20 or more patients keeps the float
    formula in float64, so the results of earlier versions stand (float32 then draws the exact index, which the
    rounded float64 product misses in about n / 2**52 of the draws)."""
    if fdt == jnp.float64 and n_bits == 32 and n_max >= 2**20:
        u = (bits.astype(fdt) + 0.5) * _U32
        return jnp.minimum((u * jnp.asarray(n).astype(fdt)).astype(jnp.int32), jnp.asarray(n) - 1)
    u32 = jnp.uint32
    a = bits.astype(u32)
    nn = jnp.asarray(n).astype(u32)
    a_hi, a_lo, n_hi, n_lo = a >> 16, a & 0xFFFF, nn >> 16, nn & 0xFFFF
    p_mid1, p_mid2 = a_hi * n_lo, a_lo * n_hi  # each < 2**32
    hi, lo = a_hi * n_hi, a_lo * n_lo  # a * n = hi * 2**32 + lo, before the middle terms
    for p in (p_mid1, p_mid2):
        hi, lo = _add64(hi, lo, p >> 16, p << 16)
    hi, lo = (hi << 1) | (lo >> 31), lo << 1  # 2 a n
    hi, lo = _add64(hi, lo, jnp.zeros_like(hi), jnp.broadcast_to(nn, lo.shape))  # (2 a + 1) n
    shift = n_bits + 1  # floor((2 a + 1) n / 2**(n_bits + 1))
    q = (hi >> (shift - 32)) if shift >= 32 else ((hi << (32 - shift)) | (lo >> shift))
    return jnp.minimum(q.astype(jnp.int32), jnp.asarray(n, dtype=jnp.int32) - 1)


def _draw_patients(ts: TrialSetup, c: TrialCarry, w, t):
    """Table rows and strata of the window's patients, and their assignment uniforms."""
    plan, tables, fdt, words = ts.plan, ts.tables, ts.fdt, ts.words
    sp, s_n = plan.stream, plan.n_strata
    main = w[:, words["main"]]
    u_assign = ((main >> 16).astype(fdt) + 0.5) * _U16
    # the patient draw: the lower 16 bits of the main word, or a word of its own among more than 65536 patients
    pat_bits, n_bits = (w[:, words["pid"]], 32) if sp.big_table else (main & 0xFFFF, 16)
    if sp.stratified:
        mix0, mix1 = jnp.asarray(sp.mix_start, dtype=fdt), jnp.asarray(sp.mix_end, dtype=fdt)
        mix = mix0[None, :] + (mix1 - mix0)[None, :] * t[:, None]
        mix = jnp.where(c.open_strata[None, :], mix, 0.0)
        cdf = jnp.cumsum(mix, axis=1)
        u_s = ((w[:, words["stratum"]].astype(fdt) + 0.5) * _U32)[:, None] * cdf[:, -1:]
        strat = jnp.minimum(jnp.sum(u_s > cdf, axis=1), s_n - 1).astype(jnp.int32)
        cnt = tables["counts"][strat]
        j = draw_index(pat_bits, n_bits, cnt, sp.n_table, fdt)
        pid = tables["order"][tables["offsets"][strat] + j]
    else:
        pid = draw_index(pat_bits, n_bits, sp.n_table, sp.n_table, fdt)
        if not sp.identity_order:  # (a gather from the table costs ~0.1 us per patient on CPU)
            pid = tables["order"][pid]
        strat = tables["stratum"][pid] if s_n > 1 else jnp.zeros_like(pid)
    return pid, strat, u_assign


def _assign_arms(ts: TrialSetup, c: TrialCarry, probs, strat, m, u_assign, cdf_s=None):
    """Each patient's arm (permuted blocks or independent draws) and the updated block counts; ``cdf_s``: the
    cumulative allocation probabilities of each stratum, (stratum, arm), when every patient of a stratum has the
    same probabilities (a cumulative sum per stratum instead of per patient)."""
    plan = ts.plan
    a_n, s_n, ap = plan.n_arms, plan.n_strata, plan.allocation
    if ap.block_factor <= 0:
        cdf = jnp.cumsum(probs, axis=1) if cdf_s is None else cdf_s[strat]  # (W, A)
        arm = jnp.minimum(jnp.sum(u_assign[:, None] * cdf[:, -1:] > cdf, axis=1, dtype=jnp.int32), a_n - 1)
        return arm, c.block_count
    ratio_counts = jnp.asarray([int(round(r)) * ap.block_factor for r in ap.ratio], dtype=jnp.int32)
    oh = jax.nn.one_hot(strat, s_n, dtype=jnp.int32) * m[:, None].astype(jnp.int32)
    if s_n == 1:  # rank among the window's patients (avoids XLA constant-folding a large cumsum)
        mi = m.astype(jnp.int32)
        before = jnp.cumsum(mi, dtype=jnp.int32) - mi
    else:
        before = jnp.sum((jnp.cumsum(oh, axis=0, dtype=jnp.int32) - oh) * oh, axis=1, dtype=jnp.int32)
    rank = before + c.block_count[strat]
    open_as = probs > 0
    size = jnp.maximum(jnp.sum(jnp.where(open_as, ratio_counts[None, :], 0), axis=1, dtype=jnp.int32), 1)
    block_id = rank // size

    def one(s, e, b, op, pos):
        kb = jax.random.fold_in(jax.random.fold_in(jax.random.fold_in(ts.k_block, s), e), b)
        return block_assign(ratio_counts, op, pos, key=kb, max_block=ap.max_block)

    arm = jax.vmap(one)(strat, c.block_epoch[strat], block_id, open_as, rank)
    return arm, c.block_count + jnp.sum(oh, axis=0, dtype=jnp.int32)


def _patient_outcomes(ts: TrialSetup, w, pid, strat, arm, t):
    """Outcomes (with the time trend) and the outcome-present flag (dropout)."""
    plan, tables, fdt = ts.plan, ts.tables, ts.fdt
    if plan.stream.time_trend_logit != 0.0:
        rate = tables["rates"][strat, arm]
        logit = jnp.log(rate) - jnp.log1p(-rate) + plan.stream.time_trend_logit * t
        y = (tables["latent_u"][pid] < jax.nn.sigmoid(logit)).astype(fdt)
    else:
        # one index into the flattened (patient x arm) table: a 1-d gather is cheaper on CPU than a 2-d one
        y = tables["outcome"].reshape(-1)[pid * plan.n_arms + arm]
    has_y = jnp.ones((w.shape[0],), dtype=bool)
    if plan.enrolment.dropout_prob > 0:
        has_y = (w[:, ts.words["dropout"]].astype(fdt) + 0.5) * _U32 >= plan.enrolment.dropout_prob
    return y, has_y


def _add_counts(ts: TrialSetup, pend: Counts, lo, idx, m, arm, strat, y, has_y, conc, n_bins: int) -> Counts:
    """Add the window's outcomes to the pending (look, arm, stratum) tables.

    Each patient's outcome first counts at the first look whose look_n exceeds its index. A window's patients fall
    into at most ``n_bins`` consecutive looks (from the plan), so the counts are binned relative to the window's
    first look and then placed into the (look, arm, stratum) table."""
    plan, fdt = ts.plan, ts.fdt
    a_n, s_n, l_n = plan.n_arms, plan.n_strata, plan.n_looks
    n_cat = ts.analysis.needs.n_categories
    fl0 = jnp.searchsorted(ts.look_n, lo, side="right").astype(jnp.int32)
    rel = jnp.searchsorted(ts.look_n, idx, side="right").astype(jnp.int32) - fl0
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

    def by_cat(binner):
        return jnp.stack([binner(oh_d * (y == c).astype(fdt)[:, None]) for c in range(n_cat)], axis=-1)

    out = pend._replace(n=pend.n + binned(oh_d), ev=pend.ev + binned(oh_d * y[:, None]))
    if pend.sq is not None:
        out = out._replace(sq=pend.sq + binned(oh_d * (y * y)[:, None]))
    if pend.cat is not None:
        out = out._replace(cat=pend.cat + by_cat(binned))
    if pend.cc is not None and pend.evcc is not None:  # concurrent controls
        is_c = (arm == plan.control).astype(fdt)
        oh_s = jax.nn.one_hot(strat, s_n, dtype=fdt)

        def binned_cc(weights):  # (W, D) -> (L, A, S): control patients counted for each arm
            per_bin = jnp.einsum("wd,wa,ws->das", weights * is_c[:, None], conc.astype(fdt), oh_s)
            return (place.T @ per_bin.reshape(n_bins, a_n * s_n)).reshape(l_n, a_n, s_n)

        out = out._replace(cc=pend.cc + binned_cc(oh_d), evcc=pend.evcc + binned_cc(oh_d * y[:, None]))
        if pend.cccat is not None:  # ordinal: the concurrent controls' category counts, per arm
            out = out._replace(cccat=pend.cccat + by_cat(binned_cc))
    return out


def _put(old: Array, start, m, val) -> Array:
    width = m.shape[0]
    cur = jax.lax.dynamic_slice(old, (start,), (width,))
    return jax.lax.dynamic_update_slice(old, jnp.where(m, val, cur), (start,))


def randomise_window(ts: TrialSetup, c: TrialCarry, lo, hi, width: int, window, n_bins: int) -> TrialCarry:
    """Randomise patients ``lo <= i < hi`` (a slice of ``width``) in randomisation window ``window``."""
    plan = ts.plan
    n_max = plan.n_max
    start, idx, m = slice_window(n_max, lo, hi, width)
    w = jax.lax.dynamic_slice(ts.bits, (start, jnp.int32(0)), (width, len(ts.words)))
    t = idx.astype(ts.fdt) / max(n_max - 1, 1)
    pid, strat, u_assign = _draw_patients(ts, c, w, t)
    # barrier: the first window's allocation is a compile-time constant, and XLA would otherwise constant-fold
    # the block bookkeeping over (trials, window, arms) at compile time (seconds per compilation)
    alloc_sa = jax.lax.optimization_barrier(c.alloc).T  # (S, A)
    probs = alloc_sa[strat]  # (W, A)
    open_pat = cdf_s = None
    if plan.arms.calendar:  # each patient only among the arms open at his arrival
        open_pat = open_at_day(plan, ts.arrival[idx])  # type: ignore[index]
        probs = restrict_to_open(probs, open_pat)
    else:
        cdf_s = jnp.cumsum(alloc_sa, axis=1)
    arm, block_count = _assign_arms(ts, c, probs, strat, m, u_assign, cdf_s)
    y, has_y = _patient_outcomes(ts, w, pid, strat, arm, t)
    conc = None
    if plan.concurrent:
        # control patients randomised while each arm was open (window >= the arm's first window; by calendar:
        # arrived while the arm was open)
        conc = open_pat if open_pat is not None else jnp.broadcast_to(window >= c.start_w, (width, plan.n_arms))
    pend = _add_counts(ts, c.pend, lo, idx, m, arm, strat, y, has_y, conc, n_bins)
    out = c._replace(pend=pend, block_count=block_count)
    if c.records is not None:  # arm, table row, outcome and outcome-present flag of each randomised patient
        r = c.records
        out = out._replace(
            records=Records(
                arm=_put(r.arm, start, m, arm),
                pid=_put(r.pid, start, m, pid),
                y=_put(r.y, start, m, y),
                w=_put(r.w, start, m, has_y.astype(ts.fdt)),
            )
        )
    if c.patients is not None:
        p = c.patients
        out = out._replace(
            patients=PatientLog(
                arm=_put(p.arm, start, m, arm),
                has_y=_put(p.has_y, start, m, has_y),
                outcome=_put(p.outcome, start, m, y),
                stratum=_put(p.stratum, start, m, strat),
            )
        )
    return out
