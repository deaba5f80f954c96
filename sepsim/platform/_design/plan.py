"""The static plan of a simulation: everything about a design and an outcome table that fixes array shapes.

Built once on the host from a validated :class:`~sepsim.platform.TrialDesign` and a
:class:`~sepsim.platform.PotentialOutcomes`; hashable, so it is a static argument of the jitted trial function.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np

from ..._errors import ConfigError
from .._outcomes.table import PotentialOutcomes
from .design import TrialDesign

__all__ = [
    "AllocationPlan",
    "ArmSchedulePlan",
    "EnrolmentPlan",
    "Plan",
    "StoppingPlan",
    "StreamPlan",
    "make_plan",
    "plan_tables",
]

# analysis models that compare each arm with its concurrent controls (README_engine.md, "Platform trial")
CONCURRENT_MODELS = ("beta_binomial", "proportional_odds", "logistic", "hierarchical")


@dataclass(frozen=True)
class EnrolmentPlan:
    """When patients are randomised and when their outcomes count: the window and bin sizes of the patient stream."""

    rand_n: tuple[int, ...] | None  # randomised by each look; None in accrual mode
    accrual_per_day: float | None
    delay_days: float
    dropout_prob: float
    w_r0: int  # patients in the first randomisation window
    w_r: int  # the largest later window
    bins0: int  # looks the first window's patients can first count at
    bins: int  # the same for later windows


@dataclass(frozen=True)
class StreamPlan:
    """Who the next patient is: the outcome table's eligible patients, the stratum mix and the time trend."""

    stratified: bool  # draw the stratum first (mix drift or per-stratum stopping)
    mix_start: tuple[float, ...]
    mix_end: tuple[float, ...]
    time_trend_logit: float
    big_table: bool  # > 65536 eligible patients: a full 32-bit word per patient draw
    n_table: int  # eligible patients
    identity_order: bool = False  # every patient eligible and already grouped by stratum: order[i] == i


@dataclass(frozen=True)
class AllocationPlan:
    block_factor: int
    ratio: tuple[float, ...]
    burn_in_n: int
    within_strata: bool

    @property
    def max_block(self) -> int:
        return max(1, self.block_factor * int(sum(self.ratio)))


@dataclass(frozen=True)
class ArmSchedulePlan:
    """When arms enter and leave (see ``_engine/arm_schedule.py``)."""

    start_window: tuple[int, ...]
    stop_look: tuple[int, ...]
    start_day: tuple[float, ...] | None = None  # calendar entry/exit
    stop_day: tuple[float, ...] | None = None
    max_active: int = 0  # rule-based entry: cap on active arms (0 = none)

    @property
    def calendar(self) -> bool:
        return self.start_day is not None

    @property
    def any(self) -> bool:
        """Whether any arm enters late or leaves by schedule."""
        return any(x > 0 for x in self.start_window) or any(x >= 0 for x in self.stop_look) or self.calendar


@dataclass(frozen=True)
class StoppingPlan:
    superiority: float | None
    inferiority: float | None
    equivalence_prob: float | None
    futility_prob: float | None
    equivalence_only_first: bool = False  # equivalence/futility only against the original control (adaptr)
    futility_only_first: bool = False
    observed_info: bool = False  # frequentist bounds at observed information fractions (_decisions/gsd_observed)
    spending: str = ""
    gamma: float = 0.0


@dataclass(frozen=True)
class Plan:
    """The shapes and switches of one design on one table; the details are grouped in sub-plans."""

    n_arms: int
    n_strata: int
    n_looks: int
    n_max: int
    look_n: tuple[int, ...]
    control: int
    eligible: tuple[tuple[bool, ...], ...]  # (stratum, arm)
    per_stratum: bool
    concurrent: bool
    enrolment: EnrolmentPlan
    stream: StreamPlan
    allocation: AllocationPlan
    arms: ArmSchedulePlan
    stopping: StoppingPlan
    record_patients: bool = False  # also return each patient's arm, arrival and outcome flag (patient_log)

    @property
    def n_units(self) -> int:
        return self.n_strata if self.per_stratum else 1


def eligible_mask(design: TrialDesign, outcomes: PotentialOutcomes) -> np.ndarray:
    """(patient,) bool: the table's patients who pass the design's screening rules."""
    ok = np.ones(outcomes.n_patients, dtype=bool)
    for i, rule in enumerate(design.enrolment.eligibility):
        key = f"design.enrolment.eligibility[{i}].biomarker"
        if outcomes.biomarkers is None or rule.biomarker not in outcomes.biomarker_names:
            raise ConfigError(
                key, f"{rule.biomarker!r} is not a biomarker of the table {list(outcomes.biomarker_names)}"
            )
        x = np.asarray(outcomes.biomarkers)[:, outcomes.biomarker_names.index(rule.biomarker)]
        ok &= {">=": x >= rule.threshold, ">": x > rule.threshold, "<=": x <= rule.threshold, "<": x < rule.threshold}[
            rule.op
        ]
    if not ok.any():
        raise ConfigError("design.enrolment.eligibility", "no patient of the table is eligible")
    return ok


def _look_bins(look_n: tuple[int, ...], rand_n: tuple[int, ...] | None) -> tuple[int, int]:
    """How many consecutive looks the patients of one randomisation window can first be counted at (window 0,
    later windows). In accrual mode the windows are random: every look."""
    if rand_n is None:
        return len(look_n), len(look_n)
    first = np.searchsorted(np.asarray(look_n), np.arange(look_n[-1]), side="right")
    edges = [0, *rand_n]
    spans = [len(set(first[lo:hi].tolist())) or 1 for lo, hi in zip(edges, edges[1:], strict=False)]
    return spans[0], max(spans[1:] + [1])


def make_plan(design: TrialDesign, outcomes: PotentialOutcomes) -> Plan:
    """Check that the design and the outcome table fit together, and fix the static shapes."""
    missing = [a for a in design.arms if a not in outcomes.arms]
    if missing:
        raise ConfigError("design.arms", f"arms {missing} are not in the outcome table (has {list(outcomes.arms)})")
    strata = list(design.strata) if design.strata is not None else list(outcomes.strata)
    if strata != list(outcomes.strata):
        raise ConfigError("design.strata", f"must equal the outcome table's strata {list(outcomes.strata)}")
    a_n, s_n = len(design.arms), len(strata)
    ln = tuple(int(x) for x in design.look_n)
    n_max = ln[-1]
    enr = design.enrolment
    if enr.accrual_per_day is None:
        rn = tuple(int(x) for x in (enr.randomised_n or ln))
        w_r0 = rn[0]
        w_r = max([b - a for a, b in zip(rn, rn[1:], strict=False)] + [1])
    else:
        rn = None
        w_r0 = w_r = n_max
    bins0, bins = _look_bins(ln, rn)
    if design.stratum_arms is not None:
        elig = tuple(tuple(a in arms for a in design.arms) for arms in design.stratum_arms)
    else:
        elig = tuple(tuple(True for _ in design.arms) for _ in strata)
    start = tuple(design.arm_start_look or [0] * a_n)
    if design.max_active_arms is not None:  # the control and the first listed arms start, the rest wait
        first = ([design.control] if design.control else []) + [a for a in design.arms if a != design.control]
        start = tuple(0 if first.index(a) < design.max_active_arms else len(ln) + 1 for a in design.arms)
    stop = tuple(design.arm_stop_look or [-1] * a_n)
    sc = design.scenario
    elig_pat = eligible_mask(design, outcomes)
    s_idx = np.asarray(outcomes.stratum)[elig_pat]
    mix0 = np.bincount(s_idx, minlength=s_n) / s_idx.shape[0]
    m_start = np.asarray(sc.stratum_mix_start if sc.stratum_mix_start is not None else mix0, dtype=np.float64)
    m_end = np.asarray(sc.stratum_mix_end if sc.stratum_mix_end is not None else mix0, dtype=np.float64)
    drift = sc.stratum_mix_start is not None
    if sc.time_trend_logit != 0.0 and (outcomes.latent_u is None or outcomes.rates is None):
        raise ConfigError("design.scenario.time_trend_logit", "needs outcomes from binary_scenario (latent uniforms)")
    counts = np.bincount(s_idx, minlength=s_n)
    stratified = s_n > 1 and (drift or design.stopping.per_stratum)
    if stratified and np.any((counts == 0) & ((m_start > 0) | (m_end > 0))):
        raise ConfigError("design.scenario.stratum_mix_start", "a stratum with weight > 0 has no patients")
    st = design.stopping
    ctrl = design.arms.index(design.control) if design.control is not None else -1
    late = any(s > 0 for s in start) or any(d > 0 for d in (design.arm_start_day or []))
    concurrent = bool(design.concurrent_controls) and ctrl >= 0 and late
    an = design.analysis
    if concurrent and (
        an.model not in CONCURRENT_MODELS or (an.method == "frequentist" and an.test == "cmh") or an.covariates
    ):
        raise ConfigError(
            "design.concurrent_controls",
            f"not supported with model {an.model!r}, the 'cmh' test or covariates: set it to false",
        )
    calendar = design.arm_start_day is not None or design.arm_stop_day is not None
    return Plan(
        n_arms=a_n,
        n_strata=s_n,
        n_looks=len(ln),
        n_max=n_max,
        look_n=ln,
        control=ctrl,
        eligible=elig,
        per_stratum=bool(st.per_stratum),
        concurrent=concurrent,
        enrolment=EnrolmentPlan(
            rand_n=rn,
            accrual_per_day=enr.accrual_per_day,
            delay_days=float(enr.outcome_delay_days),
            dropout_prob=float(enr.dropout_prob),
            w_r0=w_r0,
            w_r=w_r,
            bins0=bins0,
            bins=bins,
        ),
        stream=StreamPlan(
            stratified=bool(stratified),
            mix_start=tuple(float(x) for x in m_start / m_start.sum()),
            mix_end=tuple(float(x) for x in m_end / m_end.sum()),
            time_trend_logit=float(sc.time_trend_logit),
            big_table=int(elig_pat.sum()) > 65536,
            n_table=int(elig_pat.sum()),
            identity_order=bool(elig_pat.all() and np.all(np.diff(np.asarray(outcomes.stratum)) >= 0)),
        ),
        allocation=AllocationPlan(
            block_factor=int(design.allocation.block_factor),
            ratio=tuple(float(r) for r in (design.allocation.fixed_ratio or [1.0] * a_n)),
            burn_in_n=int(design.allocation.burn_in_n),
            within_strata=bool(design.allocation.within_strata) and s_n > 1,
        ),
        arms=ArmSchedulePlan(
            start_window=start,
            stop_look=stop,
            start_day=tuple(float(x) for x in (design.arm_start_day or [0.0] * a_n)) if calendar else None,
            stop_day=tuple(float(x) for x in (design.arm_stop_day or [-1.0] * a_n)) if calendar else None,
            max_active=int(design.max_active_arms or 0),
        ),
        stopping=StoppingPlan(
            superiority=st.superiority,
            inferiority=st.inferiority,
            equivalence_prob=st.equivalence_prob,
            futility_prob=st.futility_prob,
            equivalence_only_first=bool(st.equivalence_only_first),
            futility_only_first=bool(st.futility_only_first),
            observed_info=an.information == "observed",
            spending=str(an.spending),
            gamma=float(an.gamma or 0.0),
        ),
    )


def plan_tables(design: TrialDesign, outcomes: PotentialOutcomes) -> dict[str, jnp.ndarray]:
    """The outcome table as device arrays, columns in the design's arm order; ``order`` lists the eligible
    patients grouped by stratum (``offsets``/``counts`` per stratum)."""
    cols = [outcomes.arms.index(a) for a in design.arms]
    s = np.asarray(outcomes.stratum)
    elig = np.flatnonzero(eligible_mask(design, outcomes))
    order = elig[np.argsort(s[elig], kind="stable")]  # eligible patients, grouped by stratum
    counts = np.bincount(s[elig], minlength=len(outcomes.strata))
    offsets = np.concatenate([[0], np.cumsum(counts)[:-1]])
    t = {
        "outcome": jnp.asarray(outcomes.outcome)[:, jnp.asarray(cols)],
        "stratum": jnp.asarray(outcomes.stratum, dtype=jnp.int32),
        "order": jnp.asarray(order, dtype=jnp.int32),
        "offsets": jnp.asarray(offsets, dtype=jnp.int32),
        "counts": jnp.asarray(counts, dtype=jnp.int32),
    }
    if outcomes.latent_u is not None and outcomes.rates is not None:
        t["latent_u"] = jnp.asarray(outcomes.latent_u)
        t["rates"] = jnp.asarray(outcomes.rates)[:, jnp.asarray(cols)]
    return t
