"""Strata, biomarker-guided assignment, per-stratum decisions, blocks, accrual, delay, dropout, platform entry."""

import numpy as np
import pytest
import xarray as xr

from sepsim._errors import ConfigError
from sepsim._keys import stage_key
from sepsim.platform import binary_scenario, from_dataset, run_trials

# ImmunoSep-style: the endotype decides which active arm a patient may get (MALS -> anakinra vs placebo,
# immunoparalysis -> interferon-gamma vs placebo); 28-day mortality, lower is better.
IMMUNOSEP = dict(
    arms=["placebo", "anakinra", "ifng"],
    control="placebo",
    look_n=[80, 160, 240, 320],
    higher_is_better=False,
    strata=["MALS", "immunoparalysis"],
    stratum_arms=[["placebo", "anakinra"], ["placebo", "ifng"]],
    allocation=dict(rule="fixed", block_factor=2),
    stopping=dict(superiority=0.99, inferiority=0.01, futility_prob=0.9, futility_margin=0.0, per_stratum=True),
)


@pytest.fixture(scope="module")
def immunosep():
    out = binary_scenario(
        [[0.45, 0.25, 0.45], [0.40, 0.40, 0.40]],
        20_000,
        key=stage_key(1, "cohort"),
        arms=["placebo", "anakinra", "ifng"],
        strata=["MALS", "immunoparalysis"],
        stratum_probs=[0.3, 0.7],
    )
    return run_trials(out, IMMUNOSEP, n_trials=120, key=stage_key(2, "trials"))


def test_biomarker_guided_assignment(immunosep):
    nf = immunosep.n_final
    assert int(nf.sel(arm="ifng", stratum="MALS").max()) == 0
    assert int(nf.sel(arm="anakinra", stratum="immunoparalysis").max()) == 0
    assert not immunosep.active.sel(arm="ifng", stratum="MALS").any()
    assert np.all(immunosep.arm_decision.sel(arm="ifng", stratum="MALS").values == 0)


def test_permuted_blocks_keep_strata_balanced(immunosep):
    # 1:1 blocks of 4 within each stratum: randomised counts never differ by more than 2 (an unfinished block),
    # while the trial runs without decisions (after a drop the blocks restart with the remaining arms)
    n = immunosep.n_final.values
    running = immunosep.trial_outcome.values == 0
    undecided = np.all(immunosep.arm_decision.values == 0, axis=(1, 2))
    sel = running & undecided
    assert sel.sum() > 10
    assert np.abs(n[sel, 0, 0] - n[sel, 1, 0]).max() <= 2
    assert np.abs(n[sel, 0, 1] - n[sel, 2, 1]).max() <= 2


def test_per_stratum_decisions_and_enrichment(immunosep):
    so = immunosep.stratum_outcome.values
    # anakinra works in MALS (0.25 vs 0.45): most MALS strata stop for superiority; none in the null stratum
    assert np.mean(so[:, 0] == 1) > 0.5
    assert np.mean(so[:, 1] == 1) < 0.2
    win = so[:, 0] == 1
    assert np.all(immunosep.stratum_superior_arm.values[win, 0] == 1)
    # a stopped stratum enrols nobody more: its counts are frozen after its stop look
    n = immunosep.n.values
    for t in np.flatnonzero(immunosep.stratum_stop_look.values[:, 0] < 3):
        s = immunosep.stratum_stop_look.values[t, 0]
        assert np.all(n[t, s:, :, 0] == n[t, s, :, 0])
        assert not immunosep.active.values[t, s:, :, 0].any()
    assert immunosep.p_best_stratum.dims == ("trial", "look", "arm", "stratum")


PLATFORM = dict(
    arms=["control", "A", "B", "late"],
    control="control",
    look_n=[100, 200, 300, 400, 500],
    higher_is_better=False,
    arm_start_look=[0, 0, 0, 2],
    allocation=dict(rule="sqrt_control", min_prob=0.1),
    stopping=dict(superiority=0.99, inferiority=0.01),
    enrolment=dict(accrual_per_day=2.0, outcome_delay_days=28.0, dropout_prob=0.1),
)


@pytest.fixture(scope="module")
def platform():
    out = binary_scenario([0.3, 0.3, 0.3, 0.3], 20_000, key=stage_key(3, "cohort"), arms=PLATFORM["arms"])
    return run_trials(out, PLATFORM, n_trials=200, key=stage_key(4, "trials"))


def test_accrual_and_outcome_delay(platform):
    nr, ln, lt = platform.n_randomised.values, platform.look_n.values, platform.look_time.values
    run = platform.trial_outcome.values == 0
    seen = np.arange(5)[None, :] <= platform.trial_stop_look.values[:, None]
    assert np.all((nr >= ln[None, :])[seen]) and np.all(nr[:, -1][run] == 500)
    assert np.all(np.diff(lt, axis=1) > 0)
    # 28 days of follow-up at 2 patients/day: about 56 patients randomised but not yet followed at each look
    lag = (nr - ln)[:, :-1][seen[:, :-1]].mean()
    assert 45 < lag < 67
    # look k happens when patient look_n[k] completes follow-up: mean time = look_n / rate + delay
    np.testing.assert_allclose(lt[run].mean(axis=0), ln / 2.0 + 28.0, rtol=0.05)


def test_dropout(platform):
    share = platform.n_final.sum(("arm", "stratum")).values.sum() / platform.n_total.values.sum()
    se = np.sqrt(0.09 / platform.n_total.values.sum())
    assert abs(share - 0.9) < 4 * se


def test_platform_entry_and_sqrt_control(platform):
    late = platform.n.sel(arm="late").values[..., 0]
    assert np.all(late[:, :2] == 0)
    act = platform.active.sel(arm="late").values[..., 0]
    assert not act[:, :1].any()  # opens after look 1 (randomisation window 2)
    # with control + A + B open (k = 2) and nothing dropped, the control share is sqrt(2) / (sqrt(2) + 2)
    a0 = platform.alloc_prob.values[:, 0, :, 0]
    nodrop = np.all(platform.active.values[:, 0, :3, 0], axis=1)
    np.testing.assert_allclose(a0[nodrop, 0], np.sqrt(2) / (np.sqrt(2) + 2), atol=1e-12)
    # with the late arm open (k = 3) the share is sqrt(3) / (sqrt(3) + 3) while the control is unchanged
    a1 = platform.alloc_prob.values[:, 1, :, 0]
    all_on = np.all(platform.active.values[:, 1, :, 0], axis=1) & (platform.final_control.values == 0)
    np.testing.assert_allclose(a1[all_on, 0], np.sqrt(3) / (np.sqrt(3) + 3), atol=1e-12)


def test_from_dataset():
    rng = np.random.default_rng(0)
    y = rng.uniform(size=(50, 3)) < 0.3
    ds = xr.Dataset(
        {
            "death_28d": (("patient", "arm"), y.astype(float)),
            "endotype": (("patient",), rng.choice(["MALS", "immunoparalysis"], size=50)),
            "ferritin": (("patient",), rng.lognormal(7, 1, size=50)),
        },
        coords={"arm": ["placebo", "anakinra", "ifng"]},
    )
    po = from_dataset(ds, endpoint="death_28d", stratum="endotype", biomarkers=["ferritin"])
    assert po.arms == ("placebo", "anakinra", "ifng") and po.strata == ("MALS", "immunoparalysis")
    np.testing.assert_array_equal(np.asarray(po.outcome), y.astype(float))
    assert po.biomarkers.shape == (50, 1)
    with pytest.raises(ConfigError) as e:
        from_dataset(ds, endpoint="death_90d")
    assert e.value.key == "endpoint"


@pytest.mark.slow
@pytest.mark.parametrize("rule", ["thall_wathen", "trippa", "thompson"])
def test_other_rules_and_rar_within_strata(rule):
    out = binary_scenario(
        [[0.3, 0.2, 0.3], [0.3, 0.3, 0.2]], 20_000, key=stage_key(5, "cohort"), strata=["MALS", "other"]
    )
    d = dict(
        arms=["A", "B", "C"],
        control="A",
        look_n=[100, 200, 300, 400],
        strata=["MALS", "other"],
        allocation=dict(rule=rule, burn_in_n=150, within_strata=True, min_prob=0.1),
        stopping=dict(superiority=0.99, inferiority=0.01),
    )
    ds = run_trials(out, d, n_trials=200, key=stage_key(6, "trials"))
    alloc = ds.alloc_prob.values  # (trial, look, arm, stratum)
    act = ds.active.values
    sums = alloc.sum(axis=2)
    assert np.all(np.isclose(sums, 1.0) | (sums == 0.0))
    assert np.all(alloc[~act] == 0.0)
    # burn-in: equal allocation after the first look (100 outcomes, fewer than burn_in_n = 150)
    all_on = act[:, 0].all(axis=(1, 2))
    assert all_on.mean() > 0.8
    np.testing.assert_allclose(alloc[all_on, 0], 1 / 3, atol=1e-12)
    # within strata: later allocations differ between the strata (each follows its own best arm)
    later = alloc[:, 2]
    assert np.mean(np.abs(later[:, :, 0] - later[:, :, 1]).sum(-1) > 0.05) > 0.5


def test_screening_on_biomarkers():
    # ferritin > 4420 ng/mL (the MALS cut-off) screens patients in; the ineligible ones (who would all have the
    # event) must never enter, and the stream keeps the eligible mix
    rng = np.random.default_rng(2)
    n = 4000
    ferritin = rng.lognormal(7.5, 1.2, size=n)
    eligible = ferritin > 4420.0
    y = np.where(eligible[:, None], rng.uniform(size=(n, 2)) < 0.3, 1.0)
    ds = xr.Dataset(
        {"death_28d": (("patient", "arm"), y.astype(float)), "ferritin": (("patient",), ferritin)},
        coords={"arm": ["placebo", "anakinra"]},
    )
    po = from_dataset(ds, endpoint="death_28d", biomarkers=["ferritin"])
    d = dict(
        arms=["placebo", "anakinra"],
        look_n=[50, 100],
        allocation=dict(rule="fixed"),
        enrolment=dict(eligibility=[dict(biomarker="ferritin", op=">", threshold=4420.0)]),
    )
    res = run_trials(po, d, n_trials=40, key=stage_key(7, "trials"))
    rate = res.events_total.values.sum() / res.n_total.values.sum()
    assert 0.2 < rate < 0.4  # ineligible patients (rate 1) never enrolled
    assert res.attrs["screened_per_enrolled"] == pytest.approx(n / eligible.sum())
    with pytest.raises(ConfigError) as e:
        run_trials(
            po,
            dict(d, enrolment=dict(eligibility=[dict(biomarker="mhla_dr", op="<", threshold=5000.0)])),
            n_trials=2,
            key=stage_key(7, "trials"),
        )
    assert e.value.key == "design.enrolment.eligibility[0].biomarker"
