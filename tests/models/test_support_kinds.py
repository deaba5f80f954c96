"""Ventilation and vasopressors told apart (``_support_kinds.py``): definitions on hand-built trajectories."""

import numpy as np
import pytest

from sepsim._keys import stage_key
from sepsim.models._support_kinds import (
    O_ORGAN_FAILURE,
    P_CARDIOVASCULAR,
    P_RESPIRATORY,
    SHOCK_SHARE,
    free_days,
    involvement_draws,
    organ_involvement,
    support_kinds,
)


def test_involvement_shares_and_shock_forces_cardiovascular():
    # a grid of uniforms: the shares are exact up to the grid step (1/n)
    n = 10_000
    u = np.stack([(np.arange(n) + 0.5) / n, ((np.arange(n) * 7919) % n + 0.5) / n], 1)
    cv, resp = organ_involvement(u)
    assert abs(cv.mean() - P_CARDIOVASCULAR) <= 1 / n and abs(resp.mean() - P_RESPIRATORY) <= 1 / n
    # with baseline shock in the population share, the total cardiovascular share is still P_CARDIOVASCULAR
    shock = (np.arange(n) * 104729 % n) < round(SHOCK_SHARE * n)
    cv_s, resp_s = organ_involvement(u, shock)
    assert cv_s[shock].all()
    assert abs(cv_s.mean() - P_CARDIOVASCULAR) < 0.01
    np.testing.assert_array_equal(resp_s, resp)  # respiratory involvement does not depend on shock


def test_involvement_draws_are_per_global_patient():
    key = stage_key(3, "outcomes")
    full = involvement_draws(key, np.arange(10))
    order = np.array([7, 2, 9, 0, 1, 3, 4, 5, 6, 8])  # same shape: one compile
    np.testing.assert_array_equal(involvement_draws(key, order), full[order])
    assert full.shape == (10, 2) and np.all((full > 0) & (full < 1))


def test_support_kinds_need_support_involvement_and_failure():
    organ = np.array([[[9.0, 8.0, O_ORGAN_FAILURE, 12.0]]]).repeat(3, axis=0)  # (3 patients, 1 arm, 4 days)
    support = np.array([[[True, True, True, False]]]).repeat(3, axis=0)  # day 3: not supported (e.g. dead)
    cv, resp = np.array([True, False, True]), np.array([True, True, False])
    vent, vaso = support_kinds(organ, support, cv, resp)
    np.testing.assert_array_equal(vent[:, 0], [[1, 0, 0, 0], [1, 0, 0, 0], [0, 0, 0, 0]])
    np.testing.assert_array_equal(vaso[:, 0], [[1, 0, 0, 0], [0, 0, 0, 0], [1, 0, 0, 0]])
    assert not (vent & ~support).any() and not (vaso & ~support).any()


@pytest.mark.parametrize(
    ("on_days", "death", "expected"),
    [
        ([], np.inf, 28),  # never ventilated, alive
        ([0, 1, 2], np.inf, 25),
        ([0, 1, 5, 6], np.inf, 24),  # re-ventilation days count
        (list(range(28)), np.inf, 0),  # ventilated on every day 0..27
        ([0], 27.9, 0),  # dead by day 28
        ([0], 28.0, 0),  # dead on day 28 (dead_28d) -> 0
        ([0, 1], 28.5, 26),  # died after day 28: free days count
        ([30, 31], np.inf, 28),  # days after day 27 do not count
    ],
)
def test_free_days_definition(on_days, death, expected):
    on = np.zeros((1, 1, 40), bool)
    on[0, 0, on_days] = True
    assert free_days(on, np.array([[death]]))[0, 0] == expected


def test_free_days_need_day_27():
    with pytest.raises(ValueError, match="day 28"):
        free_days(np.zeros((1, 1, 27), bool), np.array([[np.inf]]))


@pytest.mark.slow  # 1,000 patients to day 10
def test_vasopressor_at_randomisation_matches_the_shock_share():
    """The calibrated threshold: vasopressor on day 0 in SHOCK_SHARE (30.1%) of unselected posterior patients,
    within 4 Monte-Carlo SE (an alarm if the organ-dysfunction dynamics move)."""
    from sepsim.models import CohortConfig, Placebo, simulate_cohort, simulate_outcomes

    n = 1000
    cohort = simulate_cohort(n, key=stage_key(7, "cohort"), config=CohortConfig(source="posterior"))
    t = simulate_outcomes(cohort, [Placebo()], key=stage_key(7, "outcomes"), days=10, progress=False)
    share = t.shock_baseline.values.mean()
    assert abs(share - SHOCK_SHARE) < 4 * np.sqrt(SHOCK_SHARE * (1 - SHOCK_SHARE) / n), share
