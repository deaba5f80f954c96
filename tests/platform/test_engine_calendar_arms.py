"""Arms entering and leaving at calendar days (per-patient restriction of the allocation) and by rule
(``max_active_arms``), with concurrent controls recounted from the per-patient log."""

import numpy as np
import pytest

from sepsim._errors import ConfigError
from sepsim._keys import stage_key
from sepsim.platform import binary_scenario, design_from_dict, patient_log

ARMS = ["control", "A", "B", "late"]
START = [0.0, 0.0, 30.0, 60.0]  # days
STOP = [-1.0, 90.0, -1.0, -1.0]
CALENDAR = dict(
    arms=ARMS,
    control="control",
    look_n=[100, 200, 300, 400],
    higher_is_better=False,
    arm_start_day=START,
    arm_stop_day=STOP,
    allocation=dict(rule="fixed", fixed_ratio=[2.0, 1.0, 1.0, 1.0]),
    stopping=dict(superiority=0.995, inferiority=0.01),
    enrolment=dict(accrual_per_day=2.0, outcome_delay_days=28.0, dropout_prob=0.05),
)


@pytest.fixture(scope="module")
def calendar_log():
    out = binary_scenario([0.35, 0.3, 0.25, 0.35], 20_000, key=stage_key(11, "cohort"), arms=ARMS)
    return patient_log(out, CALENDAR, n_trials=40, key=stage_key(12, "trials"))


def _concurrent_recount(log, t, look_n, opened):
    """Control patients with an outcome among the first look_n[k] who were randomised while each arm was open
    (``opened[i, a]``), by look: the brute-force version of the engine's running counts."""
    arm, has_y = log["patient_arm"].values[t], log["patient_has_outcome"].values[t]
    out = np.zeros((len(look_n), opened.shape[1]), dtype=np.int64)
    for k, n in enumerate(look_n):
        c = (arm[:n] == 0) & has_y[:n]
        out[k] = (c[:, None] & opened[:n]).sum(axis=0)
    return out


def test_no_patient_outside_an_arms_calendar_window(calendar_log):
    arm, arr = calendar_log["patient_arm"].values, calendar_log["patient_arrival"].values
    assert np.all(np.diff(arr, axis=1) >= 0)
    for a, (lo, hi) in enumerate(zip(START, STOP, strict=True)):
        sel = arm == a
        assert sel.sum() > 100
        assert arr[sel].min() >= lo
        if hi >= 0:
            assert arr[sel].max() < hi
    # patients arriving before day 30 could only get the control or A, and both got some of them
    early = (arr < 30.0) & (arm >= 0)
    assert set(np.unique(arm[early]).tolist()) == {0, 1}
    # the arms did receive the patients who arrived while they were open (not only a few)
    assert np.mean(arm[(arr >= 60.0) & (arr < 90.0)] == 3) > 0.05


def test_engine_counts_match_the_patient_log(calendar_log):
    arm, has_y = calendar_log["patient_arm"].values, calendar_log["patient_has_outcome"].values
    n = calendar_log["n"].values[:, :, :, 0]
    look_n = CALENDAR["look_n"]
    for t in range(arm.shape[0]):
        for k in range(calendar_log["trial_stop_look"].values[t] + 1):
            recount = np.bincount(arm[t, : look_n[k]][has_y[t, : look_n[k]]], minlength=4)
            np.testing.assert_array_equal(n[t, k], recount)


def test_calendar_concurrent_controls_recount(calendar_log):
    arr = calendar_log["patient_arrival"].values
    start, stop = np.asarray(START), np.asarray(STOP)
    ncc = calendar_log["n_concurrent_control"].values
    for t in range(6):
        opened = (arr[t][:, None] >= start) & ((stop < 0) | (arr[t][:, None] < stop))
        expect = _concurrent_recount(calendar_log, t, CALENDAR["look_n"], opened)
        last = calendar_log["trial_stop_look"].values[t]
        np.testing.assert_array_equal(ncc[t, : last + 1], expect[: last + 1])
        assert expect[last, 3] < expect[last, 0]  # the late arm saw fewer controls than the control total


# Rule-based entry: five arms, at most three active (control + two); A and B are harmful and leave early, then C
# and D enter in listed order as places free up (the trial goes on while arms wait, even with the control alone).
RULE_ARMS = ["control", "A", "B", "C", "D"]
LOOKS_RULE = [100, 200, 300, 400, 500, 600]
RULE = dict(
    arms=RULE_ARMS,
    control="control",
    look_n=LOOKS_RULE,
    higher_is_better=False,
    max_active_arms=3,
    allocation=dict(rule="fixed"),
    stopping=dict(superiority=0.999, inferiority=0.05),
)


@pytest.fixture(scope="module")
def rule_runs():
    out = binary_scenario([0.3, 0.6, 0.6, 0.3, 0.3], 20_000, key=stage_key(13, "cohort"), arms=RULE_ARMS)
    log = patient_log(out, RULE, n_trials=40, key=stage_key(14, "trials"))
    return log, log


def test_rule_based_entry_at_the_look_after_a_drop(rule_runs):
    ds, _ = rule_runs
    active = ds.active.values[:, :, :, 0]  # (trial, look, arm): arms in play for the next window
    dec = ds.arm_decision.values[:, :, 0]
    dlook = ds.decision_look.values[:, :, 0]
    assert np.all(active.sum(axis=2) <= 3)
    n_checked = 0
    for t in range(active.shape[0]):
        dropped = [a for a in (1, 2) if dec[t, a] in (2, 3, 4)]
        if not dropped:
            assert not active[t, :, 3:].any()  # nobody leaves, nobody enters
            continue
        first_drop = min(dlook[t, a] for a in dropped)
        first_c = np.flatnonzero(active[t, :, 3])
        if ds.trial_stop_look.values[t] > first_drop:
            assert first_c.size and first_c[0] == first_drop  # C enters exactly at the drop look
            n_checked += 1
        assert not active[t, :first_drop, 3:].any()
        assert np.all(ds.n.values[t, : first_drop + 1, 3, 0] == 0)  # C has no outcomes before it entered
    assert n_checked >= 10
    # both first arms gone at the same look: the control alone does not end the trial, C and D both enter
    both = (dec[:, 1] == 2) & (dec[:, 2] == 2) & (dlook[:, 1] == dlook[:, 2]) & (dlook[:, 1] < len(LOOKS_RULE) - 1)
    assert both.sum() >= 5
    for t in np.flatnonzero(both):
        d = dlook[t, 1]
        assert ds.trial_stop_look.values[t] > d
        assert active[t, d, 3] and active[t, d, 4] and active[t, d, 0]
        assert not (dec[t, 0] == 1 and dlook[t, 0] == d)  # the control is not superior for being left alone


def test_rule_based_concurrent_controls_recount(rule_runs):
    ds, log = rule_runs
    rand_n = log["n_randomised"].values
    window = np.stack([np.searchsorted(rand_n[t], np.arange(600), side="right") for t in range(rand_n.shape[0])])
    active = ds.active.values[:, :, :, 0]
    for t in range(8):
        # first window of each arm: after the first look at which it is active (0 for the starting arms)
        first = np.array(
            [0 if a < 3 else (np.argmax(active[t, :, a]) + 1 if active[t, :, a].any() else 99) for a in range(5)]
        )
        opened = window[t][:, None] >= first[None, :]
        expect = _concurrent_recount(log, t, RULE["look_n"], opened)
        last = log["trial_stop_look"].values[t]
        np.testing.assert_array_equal(log["n_concurrent_control"].values[t, : last + 1], expect[: last + 1])


@pytest.mark.parametrize(
    ("change", "key"),
    [
        (dict(enrolment={}), "design.arm_start_day"),
        (dict(control=None, allocation=dict(rule="thompson")), "design.arm_start_day"),
        (dict(arm_start_day=[0.0, 0.0, -1.0, 60.0]), "design.arm_start_day"),
        (dict(arm_start_day=[5.0, 0.0, 30.0, 60.0]), "design.arm_start_day"),
        (dict(arm_stop_day=[-1.0, 90.0, 20.0, -1.0]), "design.arm_stop_day"),
        (dict(arm_start_look=[0, 0, 1, 2]), "design.arm_start_day"),
        (dict(arm_stop_day=None, arm_start_day=None, max_active_arms=1), "design.max_active_arms"),
        (dict(max_active_arms=3), "design.max_active_arms"),
    ],
)
def test_calendar_and_rule_validation(change, key):
    with pytest.raises(ConfigError, match=key):
        design_from_dict(dict(CALENDAR, **change))
