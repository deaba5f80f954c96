"""The stopping step at one look for one analysis unit (the whole trial, or one stratum): adaptr semantics.

Reproduces INCEPTdk/adaptr ``R/run_trial.R``:

- no common control: drop every arm with P(best) < inferiority, recompute P(best) among the rest, repeat; then
  superiority if max P(best) > superiority (trial stops); then equivalence if P(all active arms within the
  margin) > equivalence_prob (trial stops);
- common control: drop arms with P(better than control) < inferiority; if some arm's P(better) > superiority, the
  best of them becomes the new control and the old control is dropped as inferior, and the checks run again;
  otherwise drop arms equivalent to the control, then futile arms; when one arm is left the unit stops (superiority,
  unless the others left for equivalence or futility). With ``equivalence_only_first`` (``futility_only_first``)
  those checks run only while the original control is the control (adaptr switches them off for good when a new
  control is declared).

Decision codes: 0 none, 1 superior, 2 inferior/dropped, 3 futile, 4 equivalent. Unit outcomes: 0 running/max,
1 superiority, 2 equivalence, 3 futility.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float, Int

from .._analysis.base import AbstractAnalysis
from .._design.plan import Plan
from .._results.codes import ArmDecision, TrialOutcome

__all__ = ["UnitState", "decide_unit"]


class UnitState(NamedTuple):
    decision: Int[Array, " arm"]
    decision_look: Int[Array, " arm"]
    control: Int[Array, ""]
    stopped: Bool[Array, ""]
    outcome: Int[Array, ""]
    superior: Int[Array, ""]
    stop_look: Int[Array, ""]


def _no_control(plan: Plan, thr, analysis, ctx, act, dec, p):
    k = act.shape[-1]
    if plan.stopping.inferiority is not None:

        def drop_inferior(_, c):
            act, dec, p = c
            drop = act & (p < thr["inferiority"])
            act = act & ~drop
            return act, jnp.where(drop, ArmDecision.INFERIOR, dec), analysis.p_best(ctx, act)

        act, dec, p = jax.lax.fori_loop(0, k - 1, drop_inferior, (act, dec, p))
    best = jnp.argmax(jnp.where(act, p, -1.0)).astype(jnp.int32)
    stop = jnp.asarray(False)
    outcome = jnp.asarray(TrialOutcome.MAX, dtype=jnp.int32)
    superior = jnp.asarray(-1, dtype=jnp.int32)
    if plan.stopping.superiority is not None:
        is_sup = jnp.any(act) & (p[best] > thr["superiority"])
        dec = jnp.where(is_sup & (jnp.arange(k, dtype=jnp.int32) == best), ArmDecision.SUPERIOR, dec)
        stop, superior = is_sup, jnp.where(is_sup, best, -1)
        outcome = jnp.where(is_sup, TrialOutcome.SUPERIORITY, TrialOutcome.MAX)
    if plan.stopping.equivalence_prob is not None:
        p_all = analysis.p_all_equivalent(ctx, act)
        is_eq = ~stop & jnp.any(act) & (p_all > thr["equivalence_prob"])
        dec = jnp.where(is_eq & act, ArmDecision.EQUIVALENT, dec)
        stop = stop | is_eq
        outcome = jnp.where(is_eq, TrialOutcome.EQUIVALENCE, outcome)
    return act, dec, stop, outcome, superior, p


class _ControlLoop(NamedTuple):
    act: Array
    dec: Array
    ctrl: Array
    pb: Array
    pe: Array
    pf: Array
    run: Array
    eq_stop: Array
    fut_stop: Array
    brk: Array
    superior: Array


def _with_control(plan: Plan, thr, analysis, ctx, act, dec, ctrl):
    k = act.shape[-1]
    ar = jnp.arange(k, dtype=jnp.int32)
    false = jnp.asarray(False)

    def one_round(_, c: _ControlLoop) -> _ControlLoop:
        act, dec, ctrl, run = c.act, c.dec, c.ctrl, c.run
        others = act & (ar != ctrl)
        if plan.stopping.inferiority is not None:
            inf = run & others & (c.pb < thr["inferiority"])
            dec = jnp.where(inf, ArmDecision.INFERIOR, dec)
            act = act & ~inf
            others = others & ~inf
        if plan.stopping.superiority is not None:
            sup_mask = others & (c.pb > thr["superiority"])
            any_sup = run & jnp.any(sup_mask)
            new_c = jnp.argmax(jnp.where(sup_mask, c.pb, -1.0)).astype(jnp.int32)
        else:
            any_sup, new_c = false, ctrl
        # a superior arm becomes the new control; the old control is dropped as inferior
        dec = jnp.where(any_sup & (ar == ctrl), ArmDecision.INFERIOR, dec)
        act = act & ~(any_sup & (ar == ctrl))
        ctrl = jnp.where(any_sup, new_c, ctrl)
        rest = run & ~any_sup
        first = ctrl == plan.control  # the original control (a dropped control never returns)
        eq_stop, fut_stop = c.eq_stop, c.fut_stop
        eqv = jnp.zeros_like(act)
        if plan.stopping.equivalence_prob is not None:
            eqv = rest & act & (ar != ctrl) & (c.pe > thr["equivalence_prob"])
            eqv = eqv & first if plan.stopping.equivalence_only_first else eqv
            dec = jnp.where(eqv, ArmDecision.EQUIVALENT, dec)
            act = act & ~eqv
            eq_stop = eq_stop | (rest & jnp.any(eqv) & (jnp.sum(act) == 1))
        if plan.stopping.futility_prob is not None:
            fut = rest & act & (ar != ctrl) & (c.pf > thr["futility_prob"]) & ~eqv
            fut = fut & first if plan.stopping.futility_only_first else fut
            dec = jnp.where(fut, ArmDecision.FUTILE, dec)
            act = act & ~fut
            fut_stop = fut_stop | (rest & ~eq_stop & jnp.any(fut) & (jnp.sum(act) == 1))
        last = run & (jnp.sum(act) == 1)
        last_arm = jnp.argmax(act).astype(jnp.int32)
        won = last & ~(eq_stop | fut_stop)
        dec = jnp.where(won & (ar == last_arm), ArmDecision.SUPERIOR, dec)
        superior = jnp.where(won, last_arm, c.superior)
        run = run & any_sup & ~last
        # with a new control, compare again (the grid or draws are reused)
        nb, ne, nf = analysis.vs_control(ctx, act, ctrl)
        pb, pe, pf = (jnp.where(run, n, o) for n, o in ((nb, c.pb), (ne, c.pe), (nf, c.pf)))
        return _ControlLoop(act, dec, ctrl, pb, pe, pf, run, eq_stop, fut_stop, c.brk | last, superior)

    pb, pe, pf = analysis.vs_control(ctx, act, ctrl)
    init = _ControlLoop(act, dec, ctrl, pb, pe, pf, jnp.asarray(True), false, false, false, jnp.asarray(-1, jnp.int32))
    c = jax.lax.fori_loop(0, k, one_round, init)
    outcome = jnp.where(
        c.brk,
        jnp.where(
            c.eq_stop,
            TrialOutcome.EQUIVALENCE,
            jnp.where(c.fut_stop, TrialOutcome.FUTILITY, TrialOutcome.SUPERIORITY),
        ),
        TrialOutcome.MAX,
    )
    return c.act, c.dec, c.brk, outcome, c.superior, c.ctrl


def decide_unit(
    plan: Plan,
    analysis: AbstractAnalysis,
    ctx: dict,
    active: Bool[Array, " arm"],
    state: UnitState,
    look: Int[Array, ""],
    thresholds: dict[str, Float[Array, ""]],
) -> tuple[UnitState, Bool[Array, " arm"], Float[Array, " arm"], Float[Array, " arm"]]:
    """One look's decisions. Returns the new state, the arms still in play, the first P(best) of the look (the
    one reported) and P(best) among the arms left after the decisions (what allocation uses). ``thresholds``
    holds the numeric values of the rules the plan switches on (traced, so calibration does not recompile)."""
    first = analysis.p_best(ctx, active)
    dec0 = state.decision
    if plan.control < 0:
        act, dec, stop, outcome, superior, p_final = _no_control(plan, thresholds, analysis, ctx, active, dec0, first)
        ctrl = state.control
    else:
        act, dec, stop, outcome, superior, ctrl = _with_control(
            plan, thresholds, analysis, ctx, active, dec0, state.control
        )
        p_final = analysis.p_best(ctx, act)
    frozen = state.stopped
    dec = jnp.where(frozen, dec0, dec)
    changed = dec != dec0
    new = UnitState(
        decision=dec,
        decision_look=jnp.where(changed, look, state.decision_look),
        control=jnp.where(frozen, state.control, ctrl),
        stopped=frozen | stop,
        outcome=jnp.where(frozen, state.outcome, outcome),
        superior=jnp.where(frozen, state.superior, superior),
        stop_look=jnp.where(~frozen & stop, look, state.stop_look),
    )
    act = jnp.where(frozen | stop, False, act)
    return new, act, first, p_final
