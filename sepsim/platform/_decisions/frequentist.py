"""The stopping step of a frequentist group-sequential design at one look for one analysis unit.

Every active non-control arm whose z (positive = better than the control) reaches the efficacy boundary of the
look is declared superior (decision 1) and leaves; with ``futility_z``, an arm at or below the futility bound is
dropped as futile (decision 3; non-binding: the efficacy bounds ignore it). The control never changes. The unit
stops when no non-control arm is left or at the last look; its outcome is 1 (superiority) if any arm was declared
superior, else 3 (futility) if every non-control arm was dropped for futility before the end, else 0 (maximum
sample size).
``superior`` is the arm with the largest z among those declared superior at the first look where any was.
"""

from __future__ import annotations

import jax.numpy as jnp
from jaxtyping import Array, Bool, Float, Int

from .._analysis.frequentist import FrequentistAnalysis
from .._design.plan import Plan
from .._results.codes import ArmDecision, TrialOutcome
from .decide import UnitState

__all__ = ["decide_frequentist"]


def decide_frequentist(
    plan: Plan,
    analysis: FrequentistAnalysis,
    z: Float[Array, " arm"],
    active: Bool[Array, " arm"],
    state: UnitState,
    look: Int[Array, ""],
    unit: Int[Array, ""],
    thresholds: dict[str, Float[Array, "..."]],
) -> tuple[UnitState, Bool[Array, " arm"]]:
    """One look's decisions; returns the new state and the arms still in play. ``thresholds["efficacy_z"]``
    holds the efficacy bounds ``(unit, look)`` and ``thresholds["futility_z"]`` the futility bounds ``(look,)``."""
    k = active.shape[-1]
    ar = jnp.arange(k, dtype=jnp.int32)
    ctrl = plan.control
    bounds = thresholds["efficacy_z"][unit, look]
    others = active & (ar != ctrl)
    sup = others & (z >= bounds)
    dec0 = state.decision
    dec = jnp.where(sup, ArmDecision.SUPERIOR, dec0)
    act = active & ~sup
    if analysis.has_futility:
        fut = others & ~sup & (z <= thresholds["futility_z"][look])
        dec = jnp.where(fut, ArmDecision.FUTILE, dec)
        act = act & ~fut
    any_sup = jnp.any(dec == ArmDecision.SUPERIOR)
    none_left = ~jnp.any(act & (ar != ctrl))
    stop = none_left | (look == plan.n_looks - 1)
    outcome = jnp.where(
        stop,
        jnp.where(any_sup, TrialOutcome.SUPERIORITY, jnp.where(none_left, TrialOutcome.FUTILITY, TrialOutcome.MAX)),
        TrialOutcome.MAX,
    )
    first_sup = (state.superior < 0) & jnp.any(sup)
    superior = jnp.where(first_sup, jnp.argmax(jnp.where(sup, z, -jnp.inf)).astype(jnp.int32), state.superior)
    frozen = state.stopped
    dec = jnp.where(frozen, dec0, dec)
    new = UnitState(
        decision=dec,
        decision_look=jnp.where(dec != dec0, look, state.decision_look),
        control=state.control,
        stopped=frozen | stop,
        outcome=jnp.where(frozen, state.outcome, outcome).astype(jnp.int32),
        superior=jnp.where(frozen, state.superior, superior).astype(jnp.int32),
        stop_look=jnp.where(~frozen & stop, look, state.stop_look),
    )
    return new, jnp.where(frozen | stop, False, act)
