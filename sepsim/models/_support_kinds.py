"""Which organ support a patient needs: invasive ventilation and vasopressors told apart (an observation model).

The patient model has one organ-dysfunction state ``O`` (SOFA points). Which organs carry it is a per-patient
observation draw (common random numbers: ``fold_in(fold_in(key, tag), patient)``, the same under every arm and
independent of every other draw of the outcome table):

* **Organ involvement.** Cardiovascular with probability :data:`P_CARDIOVASCULAR` = 0.885 and respiratory with
  :data:`P_RESPIRATORY` = 0.804 (Dutch severe sepsis, 4,605 patients, clinical_course.md 7 [V]), independently
  [U]. A patient in septic shock at baseline (the population model's covariate ``shock``: vasopressor-dependent
  by the Sepsis-3 definition, clinical_course.md 7 [V]) is cardiovascularly involved by definition; the others with
  ``(P_CARDIOVASCULAR - s)/(1 - s)``, ``s`` = the population's shock share, so that the total stays 0.885 [D].
* **Support of an involved organ.** An organ fails (SOFA component >= 3, clinical_course.md 1 [V]) when the total
  ``O`` exceeds :data:`O_ORGAN_FAILURE`; a failing cardiovascular system needs a vasopressor (component 3 =
  noradrenaline, Vincent 1996 [V]), a failing respiratory system invasive ventilation (component 3 = PaO2/FiO2 < 200
  with respiratory support [V]; taken as invasive [U]). Both are kinds of organ support, so they count only on days
  with organ support (:func:`~sepsim.models._trial_outcomes.organ_support`: alive, in the ICU, ``O > o_ready``);
  organ support with neither is non-invasive ventilation, high-flow oxygen or an inotrope.
* **Shock at baseline** (``shock_baseline``, per patient): a vasopressor on day 0 (randomisation precedes every
  arm's action, so it is the same under every arm).
* **Ventilator-free days to day 28** (VFD-28, clinical_course.md 4 [V]): 0 if dead by day 28 (``dead_28d``) or
  ventilated on all of days 0-27, else 28 - ventilated days among days 0-27 (re-ventilation days included).
  **Vasopressor-free days to day 28**: the same construction for vasopressors [U: clinical_course.md 4].

:data:`O_ORGAN_FAILURE` is the one calibrated constant [C]: vasopressors at randomisation in ~30% of unselected
patients, the CCM 2021 shock shares by place of acquisition (31.4% community, 25.4% hospital, 20.3% ICU [V],
weighted with the cohort's site shares: :data:`SHOCK_SHARE`). Everything else (ventilation at onset among
patients in shock: 83.9% in EPISS, clinical_course.md 7) is a prediction.
"""

from __future__ import annotations

import zlib

import jax
import numpy as np
from jaxtyping import Array, Bool, Float, Int, Key

from .._keys import item_keys
from .population._covariates import SHOCK_BY_SITE, SITE_SHARES

__all__ = [
    "P_CARDIOVASCULAR",
    "P_RESPIRATORY",
    "O_ORGAN_FAILURE",
    "SHOCK_SHARE",
    "FREE_DAYS_HORIZON",
    "involvement_draws",
    "organ_involvement",
    "support_kinds",
    "free_days",
]

P_CARDIOVASCULAR = 0.885  # Dutch severe sepsis (4,605): cardiovascular dysfunction [V clinical_course.md 7]
P_RESPIRATORY = 0.804  # same cohort: respiratory dysfunction [V clinical_course.md 7]
SHOCK_SHARE = float(SITE_SHARES @ SHOCK_BY_SITE)  # 0.301: population share with shock at baseline [D]
O_ORGAN_FAILURE = 8.4  # SOFA points [C]: vasopressor on day 0 in ~30% of unselected patients (target 30.1%)
FREE_DAYS_HORIZON = 28  # VFD-28 [V clinical_course.md 4]
_TAG = zlib.crc32(b"observe:organ_involvement") & 0x7FFFFFFF


def involvement_draws(key: Key[Array, ""], patients: np.ndarray) -> Float[np.ndarray, "patient 2"]:
    """Two uniform draws per global patient index (cardiovascular, respiratory), the same under every arm."""
    keys = item_keys(jax.random.fold_in(key, _TAG), patients)
    return np.asarray(jax.vmap(lambda k: jax.random.uniform(k, (2,)))(keys))


def organ_involvement(
    u: Float[np.ndarray, "patient 2"], shock: Bool[np.ndarray, " patient"] | None = None
) -> tuple[Bool[np.ndarray, " patient"], Bool[np.ndarray, " patient"]]:
    """``(cardiovascular, respiratory)`` involvement from the draws ``u``; ``shock`` (baseline septic shock) forces
    cardiovascular involvement (None: no covariate, involvement with :data:`P_CARDIOVASCULAR`)."""
    u = np.asarray(u)
    if shock is None:
        cv = u[:, 0] < P_CARDIOVASCULAR
    else:
        p_rest = (P_CARDIOVASCULAR - SHOCK_SHARE) / (1.0 - SHOCK_SHARE)
        cv = np.asarray(shock, bool) | (u[:, 0] < p_rest)
    return cv, u[:, 1] < P_RESPIRATORY


def support_kinds(
    organ: Float[np.ndarray, "patient arm day"],
    support: Bool[np.ndarray, "patient arm day"],
    cardiovascular: Bool[np.ndarray, " patient"],
    respiratory: Bool[np.ndarray, " patient"],
    threshold: float = O_ORGAN_FAILURE,
) -> tuple[Bool[np.ndarray, "patient arm day"], Bool[np.ndarray, "patient arm day"]]:
    """``(ventilation, vasopressor)`` per day: organ support, the organ involved and ``O > threshold``."""
    failing = support & (organ > threshold)
    return failing & np.asarray(respiratory)[:, None, None], failing & np.asarray(cardiovascular)[:, None, None]


def free_days(
    on: Bool[np.ndarray, "patient arm day"], death: Float[np.ndarray, "patient arm"], horizon: int = FREE_DAYS_HORIZON
) -> Int[np.ndarray, "patient arm"]:
    """Days alive and free of the support ``on`` to day ``horizon`` (VFD-28 construction): 0 if dead by day
    ``horizon`` (``death <= horizon``; ``death`` in days, ``inf`` alive) or supported on every day
    ``0..horizon-1``, else ``horizon`` minus the supported days among them. Needs days ``0..horizon-1``."""
    if on.shape[-1] < horizon:
        raise ValueError(f"free days to day {horizon} need daily support on days 0..{horizon - 1}")
    free = horizon - on[..., :horizon].sum(axis=-1)
    return np.where(np.asarray(death) <= horizon, 0, free).astype(np.int16)
