"""When arms may receive patients: calendar-time entry/exit and rule-based entry (a cap on active arms).

Used by :func:`sepsim.platform._engine.trial.simulate_trial`.

- **Calendar time** (``design.arm_start_day`` / ``arm_stop_day``, accrual mode): arm ``a`` is open to a patient
  arriving at day ``t`` when ``start_day[a] <= t < stop_day[a]`` (``stop_day < 0``: never closes). An arm takes
  part in a randomisation window (the patients between two looks) when it is open for part of it; within the
  window each patient's allocation probabilities are restricted to the arms open at his arrival and renormalised.
- **Rule-based entry** (``design.max_active_arms``): at most that many arms (the control included) are active; the
  others wait in listed order and enter at the look at which an active arm leaves (dropped for inferiority,
  futility or equivalence, or closed by the schedule), receiving patients from the next randomisation window.
  Entry looks are carried per trial (``start_w``: the first randomisation window of each arm). While arms wait,
  a unit left with a single arm in play does not stop (:func:`continue_while_waiting`).
"""

from __future__ import annotations

import jax.numpy as jnp
from jaxtyping import Array, Bool, Float, Int

from .._decisions.decide import UnitState
from .._design.plan import Plan

__all__ = [
    "window_days",
    "open_at_day",
    "window_open_by_day",
    "restrict_to_open",
    "admit_waiting",
    "continue_while_waiting",
]


def window_days(
    arrival: Float[Array, " patient"], rand_n: Int[Array, " look"]
) -> tuple[Float[Array, " look"], Float[Array, " look"]]:
    """Arrival day of the first and of the last patient of each randomisation window (window ``j`` holds
    patients ``rand_n[j-1] <= i < rand_n[j]``)."""
    n = arrival.shape[0]
    lo = jnp.concatenate([jnp.zeros((1,), jnp.int32), rand_n[:-1]])
    return arrival[jnp.clip(lo, 0, n - 1)], arrival[jnp.clip(rand_n - 1, 0, n - 1)]


def open_at_day(plan: Plan, t: Float[Array, "*batch"]) -> Bool[Array, "*batch arm"]:
    """Arms open (by calendar day) to a patient arriving at day ``t``."""
    start = jnp.asarray(plan.arms.start_day, dtype=t.dtype)
    stop = jnp.asarray(plan.arms.stop_day, dtype=t.dtype)
    t = t[..., None]
    lead = (1,) * (t.ndim - 1)  # explicit broadcasting over the batch dims (no rank promotion)
    start, stop = start.reshape(*lead, -1), stop.reshape(*lead, -1)
    return (start <= t) & ((stop < 0) | (t < stop))


def window_open_by_day(plan: Plan, t_first: Float[Array, ""], t_last: Float[Array, ""]) -> Bool[Array, " arm"]:
    """Arms open for part of a window whose patients arrive between ``t_first`` and ``t_last``."""
    start = jnp.asarray(plan.arms.start_day, dtype=t_first.dtype)
    stop = jnp.asarray(plan.arms.stop_day, dtype=t_first.dtype)
    return (start <= t_last) & ((stop < 0) | (stop > t_first))


def restrict_to_open(
    probs: Float[Array, "patient arm"], open_pat: Bool[Array, "patient arm"]
) -> Float[Array, "patient arm"]:
    """Each patient's allocation probabilities restricted to the arms open at his arrival, renormalised. A patient
    for whom no arm with positive probability is open keeps the unrestricted probabilities (this needs every
    active arm, the control included, to be closed by calendar; see README_engine.md)."""
    p = jnp.where(open_pat, probs, 0.0)
    tot = jnp.sum(p, axis=1, keepdims=True)
    return jnp.where(tot > 0, p / jnp.where(tot > 0, tot, 1.0), probs)


def admit_waiting(
    plan: Plan,
    act_next: Bool[Array, " arm"],
    waiting: Bool[Array, " arm"],
    look: Int[Array, ""],
) -> Bool[Array, " arm"]:
    """Arms active in the next window after admitting waiting arms (in listed order) into the free places of
    ``plan.arms.max_active``; nobody enters after the last look or once the unit has stopped (``act_next`` empty)."""
    free = plan.arms.max_active - jnp.sum(act_next, dtype=jnp.int32)
    rank = jnp.cumsum(waiting, dtype=jnp.int32)
    enter = waiting & (rank <= free) & jnp.any(act_next) & (look + 1 < plan.n_looks)
    return act_next | enter


def continue_while_waiting(
    plan: Plan,
    old: UnitState,
    new: UnitState,
    in_play: Bool[Array, " arm"],
    any_waiting: Bool[Array, ""],
    look: Int[Array, ""],
    *,
    frequentist: bool,
) -> UnitState:
    """With arms waiting to enter (``max_active_arms``), a unit does not stop because only one arm is left in
    play (Bayesian: the last arm standing, e.g. the control after the others were dropped; frequentist: no
    non-control arm left): the stop is undone, the remaining arm stays (as the control, if it became one) and
    waiting arms enter. Other stops (e.g. superiority among several arms without a control) stand."""
    ar = jnp.arange(in_play.shape[-1], dtype=jnp.int32)
    newly = ~old.stopped & new.stopped & any_waiting & (look < plan.n_looks - 1)
    if frequentist:
        lonely = ~jnp.any(in_play & (new.decision == 0) & (ar != plan.control))
        revert = newly & lonely
        decision, decision_look, superior = new.decision, new.decision_look, new.superior
    else:
        left = in_play & ((new.decision == 0) | (ar == new.superior))
        revert = newly & (jnp.sum(left, dtype=jnp.int32) == 1)
        undo = revert & (ar == new.superior)  # the last arm standing is not declared superior
        decision = jnp.where(undo, old.decision, new.decision)
        decision_look = jnp.where(undo, old.decision_look, new.decision_look)
        superior = jnp.where(revert, old.superior, new.superior)
    return UnitState(
        decision=decision,
        decision_look=decision_look,
        control=new.control,
        stopped=jnp.where(revert, old.stopped, new.stopped),
        outcome=jnp.where(revert, old.outcome, new.outcome),
        superior=superior,
        stop_look=jnp.where(revert, old.stop_look, new.stop_look),
    )
