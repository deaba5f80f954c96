"""Outcomes that sepsis trials report, each with its definition and observation model (numpy, per patient and arm).

* **Organ support** (day ``d``): alive, in the ICU and organ dysfunction above the discharge-readiness level
  (``O(d) > o_ready``): the same rule that keeps a patient in the ICU (:mod:`._course`), i.e. invasive or
  non-invasive ventilation, high-flow oxygen or vasopressors/inotropes are still needed (REMAP-CAP's organ support,
  clinical_course.md 4). Which kind (invasive ventilation, vasopressors) is an observation model: ``_support_kinds.py``.
* **Organ-support-free days to day 21** (REMAP-CAP ordinal, clinical_course.md 4): ``-1`` for an in-hospital death
  by day 90 (by the horizon when it is shorter); otherwise ``21 -`` the number of days ``0..20`` with organ support
  (days after ICU discharge count as alive and support-free).
* **Clinical infection response at day 15** (test of cure, clinical_course.md 4): ``failure`` (dead by day 15, or
  pathogen still above :data:`PATHOGEN_CLEARED` on day 15: persistence), else ``superinfection`` (an ICU-acquired
  infection by day 15), else ``resolution``. Every death by day 15 counts as failure: the model cannot separate
  deaths the infection contributed to [U].
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "INFECTION_RESPONSE",
    "PATHOGEN_CLEARED",
    "organ_support",
    "support_free_days",
    "infection_response",
]

INFECTION_RESPONSE = ("resolution", "failure", "superinfection")
PATHOGEN_CLEARED = 1e-3  # 10^6 cells/mL (1,000/mL): below culture positivity of a clinical sample [U]


def organ_support(organ: np.ndarray, in_icu: np.ndarray, o_ready: np.ndarray) -> np.ndarray:
    """Organ support on each day: (patient, arm, day) bool; ``o_ready`` per patient."""
    return in_icu & (organ > np.asarray(o_ready)[:, None, None])


def support_free_days(
    support: np.ndarray, death: np.ndarray, hospital_discharge: np.ndarray, horizon: float
) -> np.ndarray:
    """Organ-support-free days to day 21 (-1 = in-hospital death by day 90); needs days 0..20 of ``support``.

    ``death`` and ``hospital_discharge`` in days (``inf``: none before the horizon), shape (patient, arm).
    """
    if support.shape[-1] < 21:
        raise ValueError("organ-support-free days need daily support to day 20")
    free = 21 - support[..., :21].sum(axis=-1)
    in_hospital_death = np.isfinite(death) & (death <= min(90.0, horizon)) & ~(hospital_discharge < death)
    return np.where(in_hospital_death, -1, free).astype(np.int16)


def infection_response(pathogen_day15: np.ndarray, death: np.ndarray, infection: np.ndarray) -> np.ndarray:
    """Code into :data:`INFECTION_RESPONSE` at day 15 (TOC), shape (patient, arm)."""
    failure = (death <= 15.0) | (pathogen_day15 > PATHOGEN_CLEARED)
    superinfection = infection <= 15.0
    return np.where(failure, 1, np.where(superinfection, 2, 0)).astype(np.int8)
