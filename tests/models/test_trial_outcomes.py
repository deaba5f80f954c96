"""Definitions of the trial outcomes on hand-built trajectories (``_trial_outcomes.py``)."""

import numpy as np
import pytest

from sepsim.models._trial_outcomes import (
    INFECTION_RESPONSE,
    PATHOGEN_CLEARED,
    infection_response,
    organ_support,
    support_free_days,
)

INF = np.inf


def _course(organ_days, in_icu_days):
    organ = np.asarray(organ_days, float)[None, None, :]
    in_icu = np.asarray(in_icu_days, bool)[None, None, :]
    return organ, in_icu


def test_organ_support_needs_icu_and_dysfunction_above_readiness():
    organ, in_icu = _course([9, 6, 4, 3, 2, 5], [1, 1, 1, 1, 0, 0])
    np.testing.assert_array_equal(organ_support(organ, in_icu, np.array([3.5]))[0, 0], [1, 1, 1, 0, 0, 0])


@pytest.mark.parametrize(
    ("support_days", "death", "hosp", "horizon", "expected"),
    [
        (5, INF, 30.0, 90.0, 16),  # 5 supported days, discharged alive: 21 - 5
        (0, INF, INF, 90.0, 21),  # never supported
        (21, INF, INF, 90.0, 0),  # supported through day 20, alive
        (3, 40.0, INF, 90.0, -1),  # in-hospital death by day 90
        (3, 40.0, 30.0, 90.0, 18),  # died at home after hospital discharge: not an in-hospital death
        (3, 95.0, INF, 365.0, 18),  # in-hospital death after day 90: not -1
        (3, 12.0, INF, 28.0, -1),  # shorter horizon: death by it
    ],
)
def test_support_free_days(support_days, death, hosp, horizon, expected):
    support = (np.arange(29) < support_days)[None, None, :]
    out = support_free_days(support, np.array([[death]]), np.array([[hosp]]), horizon)
    assert out[0, 0] == expected


def test_support_free_days_needs_day_20():
    with pytest.raises(ValueError, match="day 20"):
        support_free_days(np.zeros((1, 1, 15), bool), np.array([[INF]]), np.array([[INF]]), 14.0)


@pytest.mark.parametrize(
    ("pathogen", "death", "infection", "label"),
    [
        (1e-6, INF, INF, "resolution"),
        (10 * PATHOGEN_CLEARED, INF, INF, "failure"),  # persistence at day 15
        (1e-6, 9.0, INF, "failure"),  # death by day 15
        (1e-6, INF, 11.0, "superinfection"),
        (1e-6, INF, 20.0, "resolution"),  # ICU-acquired infection after day 15
        (10 * PATHOGEN_CLEARED, INF, 11.0, "failure"),  # failure outranks superinfection
    ],
)
def test_infection_response(pathogen, death, infection, label):
    code = infection_response(np.array([[pathogen]]), np.array([[death]]), np.array([[infection]]))
    assert INFECTION_RESPONSE[code[0, 0]] == label
