"""Frequentist group-sequential looks in the trial engine: size, power, boundaries, CMH, futility, validation.

Monte-Carlo budgets: a rejection rate p estimated from n trials has MC SE sqrt(p (1 - p) / n); every comparison
with an exact value allows 3 MC SE (fixed seeds). Two-arm designs use simple 1:1 randomisation, so the control
arm's size is Binomial(N, 1/2); the exact rejection probability is `exact_rejection_probability` (exact binomial
sums for fixed arm sizes) averaged over that distribution. Patients are drawn with replacement from the outcome
table, so the true rates are the table's column means.
"""

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from scipy import stats

from sepsim._errors import ConfigError
from sepsim._keys import stage_key
from sepsim.platform import binary_scenario, design_from_dict, run_trials
from sepsim.platform.stats import (
    cochran_mantel_haenszel,
    crossing_probabilities,
    exact_rejection_probability,
    group_sequential_bounds,
    two_proportion_z,
)

N_FIXED = 200  # 100 per arm
N_TRIALS = 4000


def _two_arm(test, *, look_n=(N_FIXED,), higher_is_better=True, spending="obf", **analysis):
    return dict(
        arms=["ctl", "trt"],
        control="ctl",
        look_n=list(look_n),
        higher_is_better=higher_is_better,
        analysis=dict(method="frequentist", test=test, alpha=0.025, spending=spending, **analysis),
    )


def _table(p_ctl, p_trt, seed=1):
    return binary_scenario([p_ctl, p_trt], 50_000, key=stage_key(seed, "cohort"), arms=["ctl", "trt"])


def _rates(out):
    return np.asarray(out.outcome).mean(axis=0)


def _exact_randomised(n_total, pc, pt, **kw):
    """Exact rejection probability of a fixed design with Binomial(n_total, 1/2) control patients."""
    k = np.arange(1, n_total)
    w = stats.binom.pmf(k, n_total, 0.5)
    keep = w > 1e-12
    return (
        sum(
            wi * float(exact_rejection_probability(int(ki), int(n_total - ki), pc, pt, **kw))
            for ki, wi in zip(k[keep], w[keep], strict=True)
        )
        / w[keep].sum()
    )


def _check(rate, exact, n):
    se = np.sqrt(exact * (1 - exact) / n)
    assert abs(rate - exact) < 3 * se, (rate, exact, se)


# (test, higher_is_better, null rate, alternative treatment rate)
CASES = [("z", True, 0.30, 0.45), ("chisq", True, 0.30, 0.45), ("fisher", False, 0.40, 0.25)]


@pytest.fixture(scope="module", params=CASES, ids=[c[0] for c in CASES])
def fixed_runs(request):
    test, hib, p0, p1 = request.param
    design = _two_arm(test, higher_is_better=hib)
    res = {}
    for name, rates in (("null", (p0, p0)), ("alt", (p0, p1))):
        out = _table(*rates)
        ds = run_trials(out, design, n_trials=N_TRIALS, key=stage_key(2, f"{test}-{name}"))
        res[name] = (ds, _rates(out))
    return test, hib, res


def test_fixed_design_size_and_power_match_exact(fixed_runs):
    # exact: sum over all (x_ctl, x_trt) of binomial probabilities x rejection indicator
    test, hib, res = fixed_runs
    for name, (ds, (pc, pt)) in res.items():
        assert np.all(ds.n_final.sum(("arm", "stratum")).values == N_FIXED)
        exact = _exact_randomised(
            N_FIXED, pc, pt, test="z" if test == "chisq" else test, alpha=0.025, direction="greater" if hib else "less"
        )
        rate = float(np.mean(ds.trial_outcome.values == 1))
        if name == "null":
            assert exact < 0.03
        else:
            assert 0.5 < exact < 0.95
        _check(rate, exact, N_TRIALS)
        assert np.all(ds.superior_arm.values[ds.trial_outcome.values == 1] == 1)
        assert np.all(np.isnan(ds.p_best.values))


def test_reported_z_is_the_pooled_z(fixed_runs):
    test, hib, res = fixed_runs
    if test == "fisher":
        pytest.skip("Fisher's z is Phi^-1(1 - p)")
    ds = res["alt"][0]
    ev = ds.events.isel(look=0).sum("stratum").values
    n = ds.n.isel(look=0).sum("stratum").values
    z = np.asarray(two_proportion_z(ev[:, 0], n[:, 0], ev[:, 1], n[:, 1]).statistic)
    np.testing.assert_allclose(ds.z_statistic.isel(look=0, arm=1).values, z if hib else -z, atol=1e-9)
    bound = json.loads(ds.attrs["efficacy_z"])[0][0]
    assert bound == pytest.approx(stats.norm.isf(0.025), abs=1e-8)
    np.testing.assert_array_equal(ds.trial_outcome.values == 1, ds.z_statistic.isel(look=0, arm=1).values >= bound)


# rpact's getDesignGroupSequential() defaults: O'Brien-Fleming, 3 looks, one-sided alpha 0.025
OBF = yaml.safe_load((Path(__file__).resolve().parents[1] / "oracles" / "group_sequential.yaml").read_text())[
    "obf_three_looks"
]

# ---- group-sequential: 3 looks ------------------------------------------------------------------------------------
GSD_LOOKS = (400, 800, 1200)  # 200, 400, 600 per arm at p = 0.4: z close to normal


def _gsd_null(n_trials):
    out = _table(0.4, 0.4)
    return run_trials(out, _two_arm("z", look_n=GSD_LOOKS), n_trials=n_trials, key=stage_key(3, "gsd-null"))


def _check_gsd_null(ds):
    bounds = json.loads(ds.attrs["efficacy_z"])[0]
    np.testing.assert_allclose(bounds, OBF["critical_z"], atol=1e-6)  # rpact defaults
    rate = float(np.mean(ds.trial_outcome.values == 1))
    _check(rate, 0.025, ds.sizes["trial"])
    # per-look first crossings against the spent alpha (0.00026, 0.00690, 0.01784)
    per_look = crossing_probabilities(bounds, np.asarray(GSD_LOOKS) / GSD_LOOKS[-1])
    sup = ds.trial_outcome.values == 1
    for k in range(3):
        _check(float(np.mean(sup & (ds.trial_stop_look.values == k))), per_look[k], ds.sizes["trial"])
    # a trial that stops early crossed at its stop look; the sample size follows
    early = sup & (ds.trial_stop_look.values < 2)
    k = ds.trial_stop_look.values[early]
    z = ds.z_statistic.values[early, k, 1]
    assert np.all(z >= np.asarray(bounds)[k])
    np.testing.assert_array_equal(ds.n_total.values[early], np.asarray(GSD_LOOKS)[k])
    assert np.all(ds.n_total.values[~early] == GSD_LOOKS[-1])


def test_obf_three_looks_type_one_error():
    # 20,000 trials (about 5 s with the compilation): MC SE sqrt(0.025 * 0.975 / 20000) = 0.0011
    _check_gsd_null(_gsd_null(20_000))


@pytest.fixture(scope="module")
def gsd_alt():
    out = _table(0.4, 0.5)
    key = stage_key(4, "gsd-alt")  # the same trial keys for both designs: common random numbers
    obf = run_trials(out, _two_arm("z", look_n=GSD_LOOKS), n_trials=3000, key=key)
    poc = run_trials(out, _two_arm("z", look_n=GSD_LOOKS, spending="pocock"), n_trials=3000, key=key)
    return obf, poc


def test_pocock_stops_earlier_than_obf(gsd_alt):
    obf, poc = gsd_alt
    # common random numbers: identical data up to the earlier stop
    same = np.minimum(obf.trial_stop_look.values, poc.trial_stop_look.values)
    for t in range(50):
        k = same[t]
        np.testing.assert_array_equal(obf.events.values[t, k], poc.events.values[t, k])
    d = obf.trial_stop_look.values - poc.trial_stop_look.values
    se = d.std(ddof=1) / np.sqrt(d.size)
    assert d.mean() > 3 * se, (d.mean(), se)
    # the expected sample size under the alternative is smaller with Pocock, power a little lower
    assert poc.n_total.mean() < obf.n_total.mean()
    p_obf, p_poc = (float(np.mean(x.trial_outcome.values == 1)) for x in (obf, poc))
    t = np.asarray(GSD_LOOKS) / GSD_LOOKS[-1]
    drift = 0.1 / np.sqrt(0.45 * 0.55 * 2 / 600)  # E[Z] at the end (pooled variance under H1, approximate)
    for p_sim, spend in ((p_obf, "obf"), (p_poc, "pocock")):
        b = group_sequential_bounds(t, spending=spend).z
        assert abs(p_sim - crossing_probabilities(b, t, drift=drift).sum()) < 0.03  # normal approximation


# ---- strata, futility, validation -----------------------------------------------------------------------------------
def test_cmh_pools_strata():
    out = binary_scenario(
        [[0.2, 0.2], [0.5, 0.5]], 20_000, key=stage_key(5, "cohort"), arms=["ctl", "trt"], strata=["a", "b"]
    )
    design = _two_arm("cmh", look_n=(400,))
    design["strata"] = ["a", "b"]
    ds = run_trials(out, design, n_trials=300, key=stage_key(5, "trials"))
    n, ev = ds.n.isel(look=0).values, ds.events.isel(look=0).values  # (trial, arm, stratum)
    z = np.asarray(cochran_mantel_haenszel(ev[:, 0], n[:, 0], ev[:, 1], n[:, 1], axis=-1).statistic)
    np.testing.assert_allclose(ds.z_statistic.isel(look=0, arm=1).values, z, atol=1e-9)


@pytest.mark.slow
def test_per_stratum_units_one_z_per_stratum():
    out = binary_scenario(
        [[0.2, 0.2], [0.5, 0.5]], 20_000, key=stage_key(5, "cohort"), arms=["ctl", "trt"], strata=["a", "b"]
    )
    design = _two_arm("z", look_n=(200, 400))
    design.update(strata=["a", "b"], stopping=dict(per_stratum=True))
    ds = run_trials(out, design, n_trials=300, key=stage_key(5, "trials"))
    assert ds.z_statistic.dims == ("trial", "look", "arm", "stratum")
    n, ev = ds.n.isel(look=0).values, ds.events.isel(look=0).values
    z = np.asarray(two_proportion_z(ev[:, 0], n[:, 0], ev[:, 1], n[:, 1]).statistic)
    np.testing.assert_allclose(ds.z_statistic.isel(look=0, arm=1).values, z, atol=1e-9)


def test_futility_bound_and_three_arm_bonferroni():
    out = binary_scenario([0.3, 0.3, 0.3], 20_000, key=stage_key(6, "cohort"), arms=["ctl", "t1", "t2"])
    design = dict(
        arms=["ctl", "t1", "t2"],
        control="ctl",
        look_n=[300, 600, 900],
        higher_is_better=True,
        analysis=dict(method="frequentist", test="z", spending="ld_obf", futility_z=[0.0, 0.0, -10.0]),
    )
    ds = run_trials(out, design, n_trials=300, key=stage_key(6, "trials"))
    b = json.loads(ds.attrs["efficacy_z"])[0]
    np.testing.assert_allclose(b, group_sequential_bounds([1 / 3, 2 / 3, 1], alpha=0.0125, spending="ld_obf").z)
    z0 = ds.z_statistic.isel(look=0).values
    dec = ds.arm_decision.isel(stratum=0).values
    dlook = ds.decision_look.isel(stratum=0).values
    for a in (1, 2):
        np.testing.assert_array_equal((dec[:, a] == 3) & (dlook[:, a] == 0), z0[:, a] <= 0.0)
    both_futile = (z0[:, 1] <= 0) & (z0[:, 2] <= 0)
    np.testing.assert_array_equal(both_futile, (ds.trial_outcome.values == 3) & (ds.trial_stop_look.values == 0))
    assert 0.1 < both_futile.mean() < 0.5


@pytest.mark.parametrize(
    "patch, key",
    [
        (dict(control=None), "design.analysis.method"),
        (dict(analysis=dict(method="frequentist", test="t")), "design.analysis.test"),
        (dict(analysis=dict(method="frequentist", spending="haybittle")), "design.analysis.spending"),
        (dict(analysis=dict(method="frequentist", spending="hsd")), "design.analysis.gamma"),
        (dict(analysis=dict(method="frequentist", alpha=0.5)), "design.analysis.alpha"),
        (dict(analysis=dict(method="frequentist", futility_z=[0.0])), "design.analysis.futility_z"),
        (dict(allocation=dict(rule="thompson")), "design.allocation.rule"),
        (dict(stopping=dict(futility_prob=0.9, futility_margin=0.0)), "design.stopping.futility_prob"),
        (dict(analysis=dict(method="quadrature", futility_z=[0.0, 0.0])), "design.analysis.futility_z"),
    ],
)
def test_frequentist_config_errors(patch, key):
    d = _two_arm("z", look_n=(100, 200))
    for k, v in patch.items():
        d[k] = v if k != "analysis" else dict(d["analysis"], **v)
    with pytest.raises(ConfigError) as e:
        design_from_dict(d)
    assert e.value.key == key


def test_calibration_refuses_frequentist_designs():
    from sepsim.platform import calibrate_threshold

    with pytest.raises(ConfigError) as e:
        calibrate_threshold(_table(0.3, 0.3), _two_arm("z"), n_trials=10, key=stage_key(7, "trials"))
    assert e.value.key == "design.analysis.method"
