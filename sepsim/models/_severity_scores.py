"""APACHE II and SAPS II: the published point tables and mortality equations, exactly (vectorised numpy).

Tables as in clinical_course.md 5: APACHE II (Knaus 1985) [V], SAPS II (Le Gall 1993, as coded in MIT-LCP
mimic-code ``sapsii.sql``) [V]. Inputs are the worst values of the first 24 h; arrays broadcast together.
Interval edges follow the tables: a band ``a-b`` holds ``a <= x < next band``. Where the printed APACHE II table
leaves gaps between bands (e.g. temperature 38.9-39), the value belongs to the band whose lower edge it has passed.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from jaxtyping import Float

__all__ = [
    "apache_ii_aps",
    "apache_ii_age_points",
    "apache_ii",
    "apache_ii_pred_mortality",
    "saps_ii",
    "saps_ii_pred_mortality",
    "APACHE_SEPSIS_WEIGHT",
]

# diagnostic-category weight of sepsis (cardiovascular failure from sepsis) [V clinical_course.md 5]
APACHE_SEPSIS_WEIGHT = 0.113


def _bands(x: Any, edges: tuple[float, ...], points: tuple[int, ...]) -> np.ndarray:
    """Points of the band ``x`` falls in: ``points[i]`` for ``edges[i-1] <= x < edges[i]`` (``np.digitize``)."""
    assert len(points) == len(edges) + 1
    return np.asarray(points)[np.digitize(np.asarray(x, dtype=np.float64), edges, right=False)]


def apache_ii_aps(
    temp_c: Any,
    map_mmhg: Any,
    heart_rate: Any,
    resp_rate: Any,
    fio2: Any,
    pao2_mmhg: Any,
    aado2_mmhg: Any,
    ph: Any,
    sodium: Any,
    potassium: Any,
    creatinine_mg_dl: Any,
    acute_renal_failure: Any,
    hematocrit_pct: Any,
    wbc: Any,
    gcs: Any,
) -> np.ndarray:
    """Acute Physiology Score (12 variables, 0-60). Oxygenation: A-aDO2 points when ``fio2 >= 0.5``, else PaO2
    points; creatinine points doubled in acute renal failure; GCS points = 15 - GCS."""
    pts = _bands(temp_c, (30, 32, 34, 36, 38.5, 39, 41), (4, 3, 2, 1, 0, 1, 3, 4))
    pts = pts + _bands(map_mmhg, (50, 70, 110, 130, 160), (4, 2, 0, 2, 3, 4))
    pts = pts + _bands(heart_rate, (40, 55, 70, 110, 140, 180), (4, 3, 2, 0, 2, 3, 4))
    pts = pts + _bands(resp_rate, (6, 10, 12, 25, 35, 50), (4, 2, 1, 0, 1, 3, 4))
    aa = _bands(aado2_mmhg, (200, 350, 500), (0, 2, 3, 4))
    pa = _bands(pao2_mmhg, (55, 61, 70.0000001), (4, 3, 1, 0))  # PaO2 > 70: 0; 61-70: 1; 55-60: 3; < 55: 4
    pts = pts + np.where(np.asarray(fio2) >= 0.5, aa, pa)
    pts = pts + _bands(ph, (7.15, 7.25, 7.33, 7.5, 7.6, 7.7), (4, 3, 2, 0, 1, 3, 4))
    pts = pts + _bands(sodium, (111, 120, 130, 150, 155, 160, 180), (4, 3, 2, 0, 1, 2, 3, 4))
    pts = pts + _bands(potassium, (2.5, 3.0, 3.5, 5.5, 6.0, 7.0), (4, 2, 1, 0, 1, 3, 4))
    cr = _bands(creatinine_mg_dl, (0.6, 1.5, 2.0, 3.5), (2, 0, 2, 3, 4))
    pts = pts + np.where(np.asarray(acute_renal_failure, bool), 2 * cr, cr)
    pts = pts + _bands(hematocrit_pct, (20, 30, 46, 50, 60), (4, 2, 0, 1, 2, 4))
    pts = pts + _bands(wbc, (1, 3, 15, 20, 40), (4, 2, 0, 1, 2, 4))
    return pts + (15 - np.asarray(gcs, dtype=np.int64))


def apache_ii_age_points(age: Any) -> np.ndarray:
    """<= 44: 0; 45-54: 2; 55-64: 3; 65-74: 5; >= 75: 6 (completed years)."""
    return _bands(np.floor(np.asarray(age, dtype=np.float64)), (45, 55, 65, 75), (0, 2, 3, 5, 6))


def apache_ii(aps: Any, age: Any, chronic_health: Any, elective_postoperative: Any = False) -> np.ndarray:
    """APACHE II = APS + age points + chronic-health points (5 non-operative or emergency post-operative, 2 elective
    post-operative, when a severe organ insufficiency or immunocompromise is present); 0-71."""
    chronic = np.where(np.asarray(elective_postoperative, bool), 2, 5) * np.asarray(chronic_health, bool)
    return np.asarray(aps) + apache_ii_age_points(age) + chronic


def apache_ii_pred_mortality(
    score: Any, emergency_surgery: Any = False, category_weight: float = APACHE_SEPSIS_WEIGHT
) -> Float[np.ndarray, "..."]:
    """Hospital death risk: ``logit R = -3.517 + 0.146 APACHE II + 0.603 (emergency surgery) + category weight``."""
    logit = -3.517 + 0.146 * np.asarray(score, np.float64) + 0.603 * np.asarray(emergency_surgery, bool)
    return 1.0 / (1.0 + np.exp(-(logit + category_weight)))


def saps_ii(
    age: Any,
    heart_rate: Any,
    sbp_mmhg: Any,
    temp_c: Any,
    ventilated: Any,
    pf_ratio: Any,
    urine_ml_d: Any,
    bun_mg_dl: Any,
    wbc: Any,
    potassium: Any,
    sodium: Any,
    bicarbonate: Any,
    bilirubin_mg_dl: Any,
    gcs: Any,
    chronic_points: Any,
    admission_points: Any,
) -> np.ndarray:
    """SAPS II points. ``chronic_points``: AIDS 17, haematological malignancy 10, metastatic cancer 9, else 0;
    ``admission_points``: scheduled surgical 0, medical 6, unscheduled surgical 8. PaO2/FiO2 scores only in
    ventilated (or CPAP) patients."""
    pts = _bands(np.floor(np.asarray(age, dtype=np.float64)), (40, 60, 70, 75, 80), (0, 7, 12, 15, 16, 18))
    pts = pts + _bands(heart_rate, (40, 70, 120, 160), (11, 2, 0, 4, 7))
    pts = pts + _bands(sbp_mmhg, (70, 100, 200), (13, 5, 0, 2))
    pts = pts + _bands(temp_c, (39,), (0, 3))
    pts = pts + np.where(np.asarray(ventilated, bool), _bands(pf_ratio, (100, 200), (11, 9, 6)), 0)
    pts = pts + _bands(urine_ml_d, (500, 1000), (11, 4, 0))
    pts = pts + _bands(bun_mg_dl, (28, 84), (0, 6, 10))
    pts = pts + _bands(wbc, (1, 20), (12, 0, 3))
    pts = pts + _bands(potassium, (3, 5), (3, 0, 3))
    pts = pts + _bands(sodium, (125, 145), (5, 0, 1))
    pts = pts + _bands(bicarbonate, (15, 20), (6, 3, 0))
    pts = pts + _bands(bilirubin_mg_dl, (4, 6), (0, 4, 9))
    pts = pts + _bands(gcs, (6, 9, 11, 14), (26, 13, 7, 5, 0))
    return pts + np.asarray(chronic_points) + np.asarray(admission_points)


def saps_ii_pred_mortality(score: Any) -> Float[np.ndarray, "..."]:
    """Hospital death risk: ``logit = -7.7631 + 0.0737 S + 0.9971 ln(S + 1)``."""
    s = np.asarray(score, np.float64)
    return 1.0 / (1.0 + np.exp(-(-7.7631 + 0.0737 * s + 0.9971 * np.log1p(s))))
