"""The clinical course after randomisation: ICU discharge, ward stay, acute and post-acute death, to 1 year.

The ODE runs over the acute phase (at most :data:`ACUTE_DAYS`); everything after it is closed form, with common
random numbers per patient (the same draws under every arm):

* **ICU discharge.** A patient is *ready* on day interval ``[j, j+1)`` when the organ-dysfunction state is at or
  below ``o_ready`` at both ends (no organ support left; clinical_course.md 1-2). Discharge comes at rate
  ``k_icu_discharge`` while ready: ``t_icu`` is where ``k_icu_discharge x (ready time so far)`` crosses the patient's
  Exp(1) draw ``crn_discharge``. After the ODE horizon the last day's readiness holds.
* **Death.** One Exp(1) draw ``crn_death`` per patient (the cohort's) against one cumulative hazard: the acute
  hazard of the ODE up to ICU discharge (linear between daily values; after the ODE horizon extrapolated at the
  last day's rate), then the post-acute hazard ``HR (h_late s + h_early tau (1 - exp(-s/tau)))``, ``s`` = days
  since ICU discharge, ``HR = exp(beta_age (age - 70)/10 + beta_charlson (charlson - 2))`` (clinical_course.md 3).
  So the acute (SOFA-driven) hazard stops at discharge and mortality after it follows the cited post-ICU curve.
* **Hospital discharge.** Ward stay after ICU discharge ``ward_stay_mean x crn_ward`` (Exp(1)); a death before
  the end of the ward stay is an in-hospital death.

All times are days since randomisation; ``inf`` internally where the event does not happen before the horizon.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import numpy as np
from jaxtyping import Array, Key

from .._keys import item_keys

__all__ = ["ACUTE_DAYS", "CourseParams", "Course", "course_draws", "clinical_course", "post_acute_cumhaz"]

ACUTE_DAYS = 90  # the ODE never runs longer than this; later days are closed form
_DRAW_TAGS = {"discharge": 0x5EC0_0001, "ward": 0x5EC0_0002}


class CourseParams(NamedTuple):
    """Post-acute parameters (patient.yaml, "clinical course after the acute phase"); arrays broadcast per patient."""

    o_ready: Any
    k_icu_discharge: Any
    ward_stay_mean: Any
    h_post_early: Any
    tau_post: Any
    h_post_late: Any
    hazard_ratio: Any  # per patient: exp(beta_age (age - 70)/10 + beta_charlson (charlson - 2))


class Course(NamedTuple):
    """Event times per (patient, arm), days since randomisation (``inf``: not before the horizon)."""

    icu_discharge: np.ndarray
    hospital_discharge: np.ndarray
    death: np.ndarray
    death_in_icu: np.ndarray  # bool


def course_draws(key: Key[Array, ""], patients: np.ndarray, name: str) -> np.ndarray:
    """One Exp(1) draw per global patient index, from ``fold_in(fold_in(key, tag), patient)``: the same for a
    patient whatever the arm, chunking or cohort subset (``name``: ``"discharge"`` or ``"ward"``)."""
    keys = item_keys(jax.random.fold_in(key, _DRAW_TAGS[name]), patients)
    return np.asarray(jax.vmap(lambda k: jax.random.exponential(k, ()))(keys))


def post_acute_cumhaz(s: Any, cp: CourseParams) -> Any:
    """Cumulative post-ICU death hazard ``s`` days after ICU discharge (0 at ``s = 0``)."""
    s = np.maximum(s, 0.0)
    return cp.hazard_ratio * (cp.h_post_late * s + cp.h_post_early * cp.tau_post * -np.expm1(-s / cp.tau_post))


def _first_crossing(cum: np.ndarray, target: np.ndarray, slope_after: np.ndarray) -> np.ndarray:
    """First t (days) where the piecewise-linear ``cum`` (daily values, day 0..T) reaches ``target``; beyond day T
    ``cum`` continues with ``slope_after`` per day (``inf`` if it never gets there)."""
    n_t = cum.shape[-1]
    above = cum >= target[..., None]
    hit = above.any(axis=-1)
    j = np.maximum(np.where(hit, above.argmax(axis=-1), 1), 1)
    lo = np.take_along_axis(cum, (j - 1)[..., None], -1)[..., 0]
    hi = np.take_along_axis(cum, j[..., None], -1)[..., 0]
    with np.errstate(invalid="ignore", divide="ignore"):  # failed solves carry NaN; flagged by solver_ok
        inside = (j - 1) + np.clip((target - lo) / np.maximum(hi - lo, 1e-300), 0.0, 1.0)
        after = (n_t - 1) + (target - cum[..., -1]) / np.where(slope_after > 0, slope_after, np.nan)
    after = np.where(np.isfinite(after), after, np.inf)
    return np.where(hit, inside, after)


def _interp(cum: np.ndarray, t: np.ndarray) -> np.ndarray:
    """``cum`` (daily, day 0..T) at times ``t`` (finite), extrapolated linearly after T at the last day's slope."""
    n_t = cum.shape[-1]
    tc = np.clip(t, 0.0, n_t - 1.0)
    j = np.minimum(np.floor(tc).astype(int), n_t - 2)
    lo = np.take_along_axis(cum, j[..., None], -1)[..., 0]
    hi = np.take_along_axis(cum, (j + 1)[..., None], -1)[..., 0]
    slope = cum[..., -1] - cum[..., -2]
    return lo + (tc - j) * (hi - lo) + np.maximum(t - (n_t - 1.0), 0.0) * slope


def icu_discharge_day(organ: np.ndarray, draw: np.ndarray, cp: CourseParams) -> np.ndarray:
    """ICU discharge time from the daily organ-dysfunction state ``organ`` (..., day 0..T) and Exp(1) ``draw``."""
    ok = organ <= np.asarray(cp.o_ready)[..., None]  # o_ready per (patient, 1) -> (patient, 1, 1)
    ready = (ok[..., :-1] & ok[..., 1:]).astype(float)  # ready on [j, j+1) when O <= o_ready at both ends
    cum = np.concatenate([np.zeros(ready.shape[:-1] + (1,)), np.cumsum(ready, axis=-1)], axis=-1)
    need = draw / cp.k_icu_discharge  # days of readiness needed
    return _first_crossing(cum, need, ok[..., -1].astype(float))


def clinical_course(
    organ: np.ndarray,
    lam_death: np.ndarray,
    crn_death: np.ndarray,
    crn_discharge: np.ndarray,
    crn_ward: np.ndarray,
    cp: CourseParams,
    horizon: float,
) -> Course:
    """Event times of every (patient, arm).

    Args:
        organ: organ-dysfunction state, (patient, arm, day 0..T), T <= horizon.
        lam_death: acute cumulative death hazard from the ODE, same shape.
        crn_death, crn_discharge, crn_ward: Exp(1) draws per patient.
        cp: parameters; ``hazard_ratio`` per patient.
        horizon: days; events after it are ``inf``.
    """
    col = lambda a: np.asarray(a)[:, None] if np.ndim(a) else a  # noqa: E731 (per-patient -> (patient, 1))
    cp = CourseParams(*(col(v) for v in cp))
    e_death, e_dis, e_ward = crn_death[:, None], crn_discharge[:, None], crn_ward[:, None]
    t_icu = icu_discharge_day(organ, np.broadcast_to(e_dis, organ.shape[:-1]), cp)
    slope = np.maximum(lam_death[..., -1] - lam_death[..., -2], 0.0)
    t_acute = _first_crossing(lam_death, np.broadcast_to(e_death, organ.shape[:-1]), slope)
    in_icu = t_acute < t_icu
    # discharged alive: the remaining budget of the Exp(1) draw is spent by the post-acute hazard
    lam_at_dis = _interp(lam_death, np.where(np.isfinite(t_icu), t_icu, 0.0))
    remaining = e_death - lam_at_dis
    s_max = np.maximum(horizon - np.where(np.isfinite(t_icu), t_icu, horizon), 0.0)
    dies_later = ~in_icu & np.isfinite(t_icu) & (post_acute_cumhaz(s_max, cp) >= remaining)
    lo, hi = np.zeros_like(s_max), s_max.copy()
    for _ in range(60):  # bisection on the monotone cumulative hazard: 2^-60 of the horizon
        mid = 0.5 * (lo + hi)
        up = post_acute_cumhaz(mid, cp) >= remaining
        hi, lo = np.where(up, mid, hi), np.where(up, lo, mid)
    death = np.where(in_icu, t_acute, np.where(dies_later, t_icu + hi, np.inf))
    death = np.where(death <= horizon, death, np.inf)
    t_icu = np.where((t_icu <= horizon) & ~in_icu, t_icu, np.inf)
    t_hosp = t_icu + cp.ward_stay_mean * e_ward
    t_hosp = np.where((t_hosp < death) & (t_hosp <= horizon), t_hosp, np.inf)
    return Course(t_icu, t_hosp, death, np.isfinite(death) & ~np.isfinite(t_icu))
