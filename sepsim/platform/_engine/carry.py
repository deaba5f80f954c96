"""The typed state of one simulated trial, carried through the ``lax.scan`` over looks (like diffrax's ``State``).

Fields a design does not use are ``None`` (an empty pytree), so the carry's structure is fixed by the static
:class:`~sepsim.platform._design.plan.Plan` and the analysis's :class:`~sepsim.platform._analysis.base.Needs`.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float, Int

from .._decisions.decide import UnitState
from .._decisions.gsd_observed import init_spend_state

__all__ = ["Counts", "PatientLog", "Records", "TrialCarry", "init_counts", "init_units"]


class Counts(NamedTuple):
    """Outcome counts by (arm, stratum): per look of first appearance (pending, leading ``look`` axis) or running
    totals complete by the current look (seen). ``None``: not used by this design."""

    n: Float[Array, "*look arm stratum"]
    ev: Float[Array, "*look arm stratum"]
    sq: Float[Array, "*look arm stratum"] | None = None  # continuous outcomes: sums of squares
    cat: Float[Array, "*look arm stratum cat"] | None = None  # ordinal: counts per category
    cc: Float[Array, "*look arm stratum"] | None = None  # concurrent controls of each arm
    evcc: Float[Array, "*look arm stratum"] | None = None
    cccat: Float[Array, "*look arm stratum cat"] | None = None


class Records(NamedTuple):
    """Per-patient records for covariate models: arm, table row, outcome and outcome-present weight."""

    arm: Int[Array, " patient"]
    pid: Int[Array, " patient"]
    y: Float[Array, " patient"]
    w: Float[Array, " patient"]


class PatientLog(NamedTuple):
    """Each randomised patient's arm, outcome flag, outcome and stratum (``record_patients``)."""

    arm: Int[Array, " patient"]
    has_y: Bool[Array, " patient"]
    outcome: Float[Array, " patient"]
    stratum: Int[Array, " patient"]


class TrialCarry(NamedTuple):
    pend: Counts  # (look, arm, stratum): outcomes by the look at which they first count
    seen: Counts  # (arm, stratum): outcomes complete by the current look
    alloc: Float[Array, "arm stratum"]  # allocation probabilities of the next window
    open_strata: Bool[Array, " stratum"]
    block_count: Int[Array, " stratum"]  # patients in the current permuted-block sequence
    block_epoch: Int[Array, " stratum"]  # restarts of the block sequence (the set of open arms changed)
    units: UnitState  # decisions of each analysis unit (leading axis: unit)
    done: Bool[Array, ""]
    n_rand: Int[Array, ""]
    start_w: Int[Array, " arm"]  # each arm's first randomisation window (rule-based entry moves it)
    spend: object = None  # observed-information alpha spending (_decisions/gsd_observed)
    records: Records | None = None
    patients: PatientLog | None = None


def init_counts(lead: tuple[int, ...], a_n: int, s_n: int, dtype, *, sq: bool, n_cat: int, concurrent: bool) -> Counts:
    z = jnp.zeros((*lead, a_n, s_n), dtype=dtype)
    zc = jnp.zeros((*lead, a_n, s_n, n_cat), dtype=dtype) if n_cat else None
    return Counts(
        n=z,
        ev=z,
        sq=z if sq else None,
        cat=zc,
        cc=z if concurrent else None,
        evcc=z if concurrent else None,
        cccat=zc if concurrent and n_cat else None,
    )


def init_units(u_n: int, a_n: int, control: int, l_n: int) -> UnitState:
    return UnitState(
        decision=jnp.zeros((u_n, a_n), dtype=jnp.int32),
        decision_look=jnp.full((u_n, a_n), -1, dtype=jnp.int32),
        control=jnp.full((u_n,), control, dtype=jnp.int32),
        stopped=jnp.zeros((u_n,), dtype=bool),
        outcome=jnp.zeros((u_n,), dtype=jnp.int32),
        superior=jnp.full((u_n,), -1, dtype=jnp.int32),
        stop_look=jnp.full((u_n,), l_n - 1, dtype=jnp.int32),
    )


def init_spend(u_n: int, a_n: int, dtype):
    return jax.tree_util.tree_map(lambda x: jnp.broadcast_to(x, (u_n, *x.shape)), init_spend_state(a_n, dtype))
