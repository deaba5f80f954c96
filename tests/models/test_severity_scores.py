"""APACHE II and SAPS II (``_severity_scores.py``, ``_severity_baseline.py``) against hand-computed cases."""

import numpy as np
import pytest

from sepsim._keys import stage_key
from sepsim.models._severity_baseline import (
    IMPUTED,
    MISSING_SCORE,
    baseline_severity,
    coagulation_points,
    organ_components,
    severity_draws,
)
from sepsim.models._severity_scores import (
    apache_ii,
    apache_ii_age_points,
    apache_ii_aps,
    apache_ii_pred_mortality,
    saps_ii,
    saps_ii_pred_mortality,
)

NORMAL_APS = dict(  # every APACHE II physiology variable in its 0-point band
    temp_c=37.0, map_mmhg=90.0, heart_rate=80.0, resp_rate=16.0, fio2=0.21, pao2_mmhg=90.0, aado2_mmhg=20.0,
    ph=7.4, sodium=140.0, potassium=4.0, creatinine_mg_dl=1.0, acute_renal_failure=False, hematocrit_pct=40.0,
    wbc=8.0, gcs=15,
)  # fmt: skip


def test_apache_ii_hand_computed_case():
    sick = dict(
        temp_c=39.5, map_mmhg=60.0, heart_rate=125.0, resp_rate=30.0, fio2=0.3, pao2_mmhg=58.0, aado2_mmhg=0.0,
        ph=7.28, sodium=128.0, potassium=3.2, creatinine_mg_dl=2.5, acute_renal_failure=False, hematocrit_pct=28.0,
        wbc=22.0, gcs=12,
    )  # fmt: skip
    # 3 + 2 + 2 + 1 + 3 (PaO2 55-60) + 2 + 2 + 1 + 3 + 2 + 2 + (15 - 12) = 26
    assert apache_ii_aps(**sick) == 26
    assert apache_ii_aps(**{**sick, "acute_renal_failure": True}) == 29  # creatinine points doubled
    # FiO2 >= 0.5: A-aDO2 400 (3 points) replaces PaO2 (58 would give 3; 50 would give 4)
    assert apache_ii_aps(**{**sick, "fio2": 0.6, "pao2_mmhg": 50.0, "aado2_mmhg": 400.0}) == 26
    assert apache_ii_aps(**{**sick, "fio2": 0.6, "pao2_mmhg": 50.0, "aado2_mmhg": 520.0}) == 27
    assert apache_ii(26, 67.0, True) == 36 and apache_ii(26, 67.0, True, elective_postoperative=True) == 33
    # logit = -3.517 + 0.146 x 36 + 0.113 = 1.852
    assert apache_ii_pred_mortality(36) == pytest.approx(0.864362, abs=1e-6)
    assert apache_ii_aps(**NORMAL_APS) == 0 and apache_ii(0, 30.0, False) == 0
    assert apache_ii_pred_mortality(0) == pytest.approx(0.032171, abs=1e-6)  # logit -3.404
    assert apache_ii_pred_mortality(0, emergency_surgery=True) == pytest.approx(0.057270, abs=1e-6)  # -2.801


@pytest.mark.parametrize(
    ("name", "value", "points"),
    [
        ("temp_c", 41.0, 4), ("temp_c", 39.0, 3), ("temp_c", 38.5, 1), ("temp_c", 36.0, 0), ("temp_c", 35.99, 1),
        ("temp_c", 32.0, 2), ("temp_c", 29.9, 4), ("map_mmhg", 160.0, 4), ("map_mmhg", 110.0, 2),
        ("map_mmhg", 69.9, 2), ("map_mmhg", 49.0, 4), ("heart_rate", 180.0, 4), ("heart_rate", 54.0, 3),
        ("heart_rate", 39.0, 4), ("resp_rate", 50.0, 4), ("resp_rate", 11.0, 1), ("resp_rate", 6.0, 2),
        ("resp_rate", 5.0, 4), ("pao2_mmhg", 70.5, 0), ("pao2_mmhg", 70.0, 1), ("pao2_mmhg", 61.0, 1),
        ("pao2_mmhg", 55.0, 3), ("pao2_mmhg", 54.9, 4), ("ph", 7.7, 4), ("ph", 7.6, 3), ("ph", 7.5, 1),
        ("ph", 7.33, 0), ("ph", 7.32, 2), ("ph", 7.15, 3), ("ph", 7.14, 4), ("sodium", 180.0, 4),
        ("sodium", 155.0, 2), ("sodium", 150.0, 1), ("sodium", 129.0, 2), ("sodium", 111.0, 3),
        ("sodium", 110.0, 4), ("potassium", 7.0, 4), ("potassium", 6.0, 3), ("potassium", 5.5, 1),
        ("potassium", 3.4, 1), ("potassium", 2.5, 2), ("potassium", 2.4, 4), ("creatinine_mg_dl", 3.5, 4),
        ("creatinine_mg_dl", 1.5, 2), ("creatinine_mg_dl", 0.59, 2), ("hematocrit_pct", 60.0, 4),
        ("hematocrit_pct", 50.0, 2), ("hematocrit_pct", 46.0, 1), ("hematocrit_pct", 29.9, 2),
        ("hematocrit_pct", 19.9, 4), ("wbc", 40.0, 4), ("wbc", 15.0, 1), ("wbc", 2.9, 2), ("wbc", 0.9, 4),
        ("gcs", 3, 12),
    ],
)  # fmt: skip
def test_apache_ii_band_edges(name, value, points):
    assert apache_ii_aps(**{**NORMAL_APS, name: value}) == points


def test_apache_ii_age_points():
    np.testing.assert_array_equal(apache_ii_age_points([18, 44.9, 45, 54, 55, 64.99, 65, 74, 75, 95]),
                                  [0, 0, 2, 2, 3, 3, 5, 5, 6, 6])  # fmt: skip


def test_saps_ii_hand_computed_case():
    args = dict(
        age=72.0, heart_rate=130.0, sbp_mmhg=85.0, temp_c=39.2, ventilated=True, pf_ratio=150.0, urine_ml_d=800.0,
        bun_mg_dl=40.0, wbc=0.5, potassium=5.2, sodium=150.0, bicarbonate=17.0, bilirubin_mg_dl=5.0, gcs=8,
        chronic_points=9, admission_points=6,
    )  # fmt: skip
    # 15 + 4 + 5 + 3 + 9 + 4 + 6 + 12 + 3 + 1 + 3 + 4 + 13 + 9 + 6 = 97
    assert saps_ii(**args) == 97
    assert saps_ii(**{**args, "ventilated": False}) == 88  # PaO2/FiO2 scores only when ventilated
    normal = dict(
        age=30.0, heart_rate=80.0, sbp_mmhg=120.0, temp_c=37.0, ventilated=False, pf_ratio=400.0,
        urine_ml_d=2000.0, bun_mg_dl=15.0, wbc=8.0, potassium=4.0, sodium=140.0, bicarbonate=24.0,
        bilirubin_mg_dl=1.0, gcs=15, chronic_points=0, admission_points=0,
    )  # fmt: skip
    assert saps_ii(**normal) == 0
    edges = [("age", 40.0, 7), ("age", 79.9, 16), ("age", 80.0, 18), ("heart_rate", 39.0, 11),
             ("heart_rate", 160.0, 7), ("sbp_mmhg", 69.0, 13), ("sbp_mmhg", 200.0, 2), ("temp_c", 39.0, 3),
             ("urine_ml_d", 499.0, 11), ("bun_mg_dl", 84.0, 10), ("wbc", 20.0, 3), ("potassium", 5.0, 3),
             ("potassium", 2.9, 3), ("sodium", 124.0, 5), ("sodium", 145.0, 1), ("bicarbonate", 14.9, 6),
             ("bilirubin_mg_dl", 6.0, 9), ("gcs", 5, 26), ("gcs", 10, 7), ("gcs", 13, 5)]  # fmt: skip
    for name, value, points in edges:
        assert saps_ii(**{**normal, name: value}) == points, name
    assert saps_ii(**{**normal, "ventilated": True, "pf_ratio": 99.0}) == 11
    assert saps_ii(**{**normal, "ventilated": True, "pf_ratio": 200.0}) == 6


def test_saps_ii_mortality_equation():
    # Le Gall 1993: 29 points -> 10%, 40 -> 25%, 52 -> 50%, 64 -> 75%, 77 -> 90% (to the published rounding)
    np.testing.assert_allclose(saps_ii_pred_mortality([29, 40, 52, 64, 77]), [0.10, 0.25, 0.50, 0.75, 0.90], atol=0.01)
    # hand: logit(97) = -7.7631 + 0.0737 x 97 + 0.9971 ln 98 (4.584967) = 3.957472
    assert saps_ii_pred_mortality(97) == pytest.approx(1 / (1 + np.exp(-3.957472)), abs=1e-6)
    assert saps_ii_pred_mortality(0) == pytest.approx(1 / (1 + np.exp(7.7631)), rel=1e-12)


def test_organ_state_mapping():
    np.testing.assert_array_equal(coagulation_points([200, 150, 149, 100, 99, 50, 49, 20, 19]),
                                  [0, 0, 1, 1, 2, 2, 3, 3, 4])  # fmt: skip
    yes, no = np.array([True]), np.array([False])
    coag, comp = organ_components([9.0], [10.0], {"a": yes, "b": no})
    assert coag[0] == 4 and comp["a"][0] == 4.0 and comp["b"][0] == 0.0  # 9 - 4 = 5, capped at 4
    _, comp = organ_components([9.0], [120.0], {"a": yes, "b": yes, "c": no})
    assert comp["a"][0] == comp["b"][0] == 4.0  # (9 - 1) / 2


def _baseline(charlson=2.0, renal=False):
    draws = np.zeros((1, 3 + len(IMPUTED)))  # imputed variables at their centres
    draws[0, :3] = [0.1 if renal else 0.99, 0.99, 0.99]  # renal, hepatic, CNS involvement
    cov = {"age": np.array([70.0]), "platelets": np.array([120.0]), "hematocrit": np.array([0.30]),
           "charlson": np.array([charlson])}  # fmt: skip
    t = np.array([True])
    return baseline_severity(np.array([9.0]), cov, t, t, t, t, draws)


def test_baseline_scores_hand_computed():
    """O(0) 9, platelets 120 (coagulation 1), cardiovascular and respiratory involved: 4 points each, PaO2/FiO2 75
    ventilated at FiO2 0.6, on a vasopressor (MAP 55, SBP 85); imputed values at their centres."""
    s = _baseline()
    # APACHE II: MAP 55 (2) + A-aDO2 0.6 x 713 - 50 - 45 = 332.8 (2) + age 70 (5) = 9
    assert s.apache_ii[0] == 9
    # SAPS II: age 15 + SBP 5 + PaO2/FiO2 75 ventilated 11 + BUN 35 (6) + medical 6 = 43
    assert s.saps_ii[0] == 43
    assert s.apache_ii_pred_mortality[0] == pytest.approx(apache_ii_pred_mortality(9)[()], rel=1e-12)
    assert s.saps_ii_pred_mortality[0] == pytest.approx(saps_ii_pred_mortality(43)[()], rel=1e-12)
    s = _baseline(charlson=6.0)  # chronic health (5) and metastatic cancer (9)
    assert (s.apache_ii[0], s.saps_ii[0]) == (14, 52)
    # renal involved: (9 - 1)/3 = 2.667 per organ; creatinine 2.7 + 0.667 x 1.5 = 3.7 (4, doubled: ARF) and
    # urine 1500 - 0.667 x 1150 = 733 (SAPS 4); PaO2/FiO2 183 -> A-aDO2 267.8 (2), SAPS ventilated < 200 (9)
    s = _baseline(renal=True)
    assert (s.apache_ii[0], s.saps_ii[0]) == (17, 45)


def test_failed_solve_has_missing_scores_not_garbage():
    """A NaN baseline organ state (failed solve) gives MISSING_SCORE and NaN risk; the other patients are unchanged."""
    ok = _baseline()
    draws = np.zeros((2, 3 + len(IMPUTED)))
    draws[:, :3] = 0.99
    one = {"age": 70.0, "platelets": 120.0, "hematocrit": 0.30, "charlson": 2.0}
    cov = {k: np.array([v, v]) for k, v in one.items()}
    t = np.array([True, True])
    s = baseline_severity(np.array([np.nan, 9.0]), cov, t, t, t, t, draws)
    assert s.apache_ii[0] == MISSING_SCORE and s.saps_ii[0] == MISSING_SCORE
    assert np.isnan(s.apache_ii_pred_mortality[0]) and np.isnan(s.saps_ii_pred_mortality[0])
    assert (s.apache_ii[1], s.saps_ii[1]) == (ok.apache_ii[0], ok.saps_ii[0])


def test_severity_draws_per_global_patient():
    key = stage_key(5, "outcomes")
    full = severity_draws(key, np.arange(6))
    order = np.array([4, 1, 0, 5, 3, 2])  # same shape: one compile
    np.testing.assert_array_equal(severity_draws(key, order), full[order])
    assert full.shape == (6, 3 + len(IMPUTED))
