"""Operating characteristics against hand-computed answers and an explicit Monte-Carlo error budget."""

import math

import numpy as np
import pytest
import scipy.stats
import xarray as xr

from sepsim._errors import ConfigError
from sepsim.platform._operating.trials import QUANTILES, operating_characteristics, validate_results
from sepsim.report._synthetic import synthetic_results

EST, MCSE, LO, HI = 0, 1, 2, 3


def make_results(
    *,
    true,
    decision=None,
    estimate=None,
    n_stop=None,
    stop=None,
    outcome=None,
    n_trials=None,
    n_looks=2,
    control="",
    hib=0,
    events_total=None,
    n_total=None,
):
    """A contract-conforming results Dataset from per-trial arrays (``(trial, arm, stratum)`` at the stop look)."""
    true = np.asarray(true, dtype=float)
    if true.ndim == 1:
        true = true[:, None]
    n_arms, n_strata = true.shape
    n_trials = n_trials or next(len(x) for x in (decision, estimate, n_stop, outcome, n_total) if x is not None)
    shape3 = (n_trials, n_arms, n_strata)
    decision = np.zeros(shape3, int) if decision is None else np.asarray(decision).reshape(shape3)
    estimate = np.broadcast_to(true, shape3).copy() if estimate is None else np.asarray(estimate).reshape(shape3)
    n_stop = np.full(shape3, 10) if n_stop is None else np.asarray(n_stop).reshape(shape3)
    stop = np.full(n_trials, n_looks - 1) if stop is None else np.asarray(stop)
    outcome = np.zeros(n_trials, int) if outcome is None else np.asarray(outcome)
    n = np.zeros((n_trials, n_looks, n_arms, n_strata), int)
    for t in range(n_trials):
        n[t, : stop[t]] = n_stop[t] // 2  # earlier looks: fewer patients
        n[t, stop[t] :] = n_stop[t]  # carried forward after the stop
    events = 0.25 * n
    n_total = n_stop.sum(axis=(1, 2)) if n_total is None else np.asarray(n_total)
    events_total = 0.25 * n_total if events_total is None else np.asarray(events_total, dtype=float)
    d4, d3 = ("trial", "look", "arm", "stratum"), ("trial", "arm", "stratum")
    return xr.Dataset(
        {
            "look_n": (("look",), 100 * (1 + np.arange(n_looks))),
            "n": (d4, n),
            "events": (d4, events),
            "alloc_prob": (d4, np.full(n.shape, 1.0 / n_arms)),
            "p_best": (("trial", "look", "arm"), np.full((n_trials, n_looks, n_arms), np.nan)),
            "active": (d4, np.ones(n.shape, bool)),
            "arm_decision": (d3, decision),
            "decision_look": (d3, np.where(decision > 0, 0, -1)),
            "trial_stop_look": (("trial",), stop),
            "trial_outcome": (("trial",), outcome),
            "superior_arm": (("trial",), np.where((decision == 1).any(axis=(1, 2)), 0, -1)),
            "estimate": (d3, estimate),
            "n_total": (("trial",), n_total),
            "events_total": (("trial",), events_total),
            "true_mean": (("arm", "stratum"), true),
        },
        coords={
            "arm": [f"arm{a}" for a in range(n_arms)],
            "stratum": ["all"] if n_strata == 1 else [f"s{s}" for s in range(n_strata)],
            "look": np.arange(n_looks),
            "trial": np.arange(n_trials),
        },
        attrs={"higher_is_better": hib, "control_arm": control, "design": "{}", "seed": 0},
    )


def test_probability_of_superiority_exact():
    decision = np.zeros((1000, 3, 1), int)
    decision[:50, 1, 0] = 1  # 50 of 1000 trials declare arm1 superior
    outcome = np.zeros(1000, int)
    outcome[:50] = 1
    outcome[50:80] = 3  # 30 futility stops
    oc = operating_characteristics(make_results(true=[0.3, 0.3, 0.3], decision=decision, outcome=outcome))
    p = oc["p_superiority"].values
    assert p[EST] == 0.05
    assert p[MCSE] == pytest.approx(math.sqrt(0.05 * 0.95 / 1000), rel=1e-12)
    ci = scipy.stats.binomtest(50, 1000).proportion_ci(confidence_level=0.95, method="wilson")
    assert (p[LO], p[HI]) == pytest.approx((ci.low, ci.high), rel=1e-9)
    assert oc["p_conclusive"].values[EST] == 0.08
    np.testing.assert_allclose(oc["p_outcome"].sel(stat="estimate").values, [0.92, 0.05, 0.0, 0.03])
    assert oc.attrs["p_superiority_meaning"] == "family-wise type-I error"
    assert oc["p_decision"].sel(arm="arm1", decision="superior", stat="estimate").item() == 0.05


def test_fwer_ignores_the_control_arm():
    decision = np.zeros((200, 3, 1), int)
    decision[:10, 0, 0] = 1  # control declared superior: not a type-I error of the experimental arms
    decision[10:14, 2, 0] = 1
    oc = operating_characteristics(make_results(true=[0.3, 0.3, 0.3], decision=decision, control="arm0"))
    assert oc["p_superiority"].values[EST] == 4 / 200
    no_control = operating_characteristics(make_results(true=[0.3, 0.3, 0.3], decision=decision))
    assert no_control["p_superiority"].values[EST] == 14 / 200


def _selection_decisions(n_arms=3):
    decision = np.zeros((10, n_arms, 1), int)
    decision[:6, 2, 0] = 1  # 6 trials select arm2
    decision[6:8, 1, 0] = 1  # 2 trials select arm1; 2 trials select none
    return decision


def test_ideal_design_percentage_hand_computed():
    decision = _selection_decisions()
    # E[y | selected] = (6 * 0.4 + 2 * 0.3) / 8 = 0.375; IDP = 100 (0.375 - 0.2) / (0.4 - 0.2) = 87.5.
    oc = operating_characteristics(make_results(true=[0.2, 0.3, 0.4], decision=decision, hib=1))
    assert oc["idp"].sel(stat="estimate").item() == pytest.approx(87.5, abs=1e-12)
    np.testing.assert_allclose(oc["p_select"].sel(stat="estimate").values[0], [0.0, 0.2, 0.6, 0.2])
    assert oc["p_select_best"].sel(stat="estimate").item() == 0.6
    low = operating_characteristics(make_results(true=[0.2, 0.3, 0.4], decision=decision, hib=0))
    assert low["idp"].sel(stat="estimate").item() == pytest.approx(12.5, abs=1e-12)
    assert low["best_arm"].item() == "arm0" and low["p_select_best"].sel(stat="estimate").item() == 0.0


def test_ideal_design_percentage_control_if_available():
    decision = _selection_decisions()
    decision[8, 0, 0] = 2  # control dropped in trial 8: no selection; trial 9 selects the control
    # E[y] = (6 * 0.4 + 2 * 0.3 + 1 * 0.2) / 9 = 3.2 / 9; IDP = 100 (3.2 / 9 - 0.2) / 0.2.
    res = make_results(true=[0.2, 0.3, 0.4], decision=decision, hib=1, control="arm0")
    oc = operating_characteristics(res, select_strategy="control if available")
    assert oc["idp"].sel(stat="estimate").item() == pytest.approx(100 * (3.2 / 9 - 0.2) / 0.2, abs=1e-12)
    np.testing.assert_allclose(oc["p_select"].sel(stat="estimate").values[0], [0.1, 0.2, 0.6, 0.1])
    idp = oc["idp"].values[0]
    assert idp[MCSE] > 0 and idp[LO] <= idp[EST] <= idp[HI]


def test_bias_and_rmse_exact():
    true = [0.3, 0.2]
    err = np.array([[0.1, 0.0], [-0.1, 0.1], [0.3, 0.1], [-0.1, -0.2]])  # (trial, arm)
    res = make_results(true=true, estimate=np.array(true) + err, control="arm0")
    oc = operating_characteristics(res)
    bias, rmse = oc["bias"].values[:, 0], oc["rmse"].values[:, 0]
    np.testing.assert_allclose(bias[:, EST], err.mean(axis=0), atol=1e-15)
    np.testing.assert_allclose(bias[:, MCSE], err.std(axis=0, ddof=1) / 2, rtol=1e-12)
    np.testing.assert_allclose(rmse[:, EST], np.sqrt((err**2).mean(axis=0)), rtol=1e-12)
    mse_mcse = (err**2).std(axis=0, ddof=1) / 2
    np.testing.assert_allclose(rmse[:, MCSE], mse_mcse / (2 * np.sqrt((err**2).mean(axis=0))), rtol=1e-12)
    te = err[:, 1] - err[:, 0]  # (est1 - est0) - (true1 - true0)
    assert oc["bias_te"].values[1, 0, EST] == pytest.approx(te.mean(), abs=1e-15)
    assert oc["rmse_te"].values[1, 0, EST] == pytest.approx(np.sqrt((te**2).mean()), rel=1e-12)
    assert np.isnan(oc["bias_te"].values[0, 0, EST])  # no effect of the control against itself


def test_rmse_of_the_selected_arm_as_adaptr():
    true = [0.3, 0.2]
    err = np.array([[0.1, 0.0], [-0.1, 0.1], [0.3, 0.2], [-0.1, -0.2]])
    decision = np.zeros((4, 2, 1), int)
    decision[0, 1, 0] = decision[2, 1, 0] = 1  # arm1 selected in trials 0 and 2
    res = make_results(true=true, estimate=np.array(true) + err, decision=decision, control="arm0")
    oc = operating_characteristics(res)
    assert oc["rmse_selected"].values[0, EST] == pytest.approx(np.sqrt((0.0**2 + 0.2**2) / 2), rel=1e-12)
    te = np.array([0.0 - 0.1, 0.2 - 0.3])
    assert oc["rmse_te_selected"].values[0, EST] == pytest.approx(np.sqrt((te**2).mean()), rel=1e-12)


def test_sample_size_mean_and_quantiles_match_numpy():
    rng = np.random.default_rng(7)
    n_stop = rng.integers(20, 200, size=(500, 2, 1))
    stop = rng.integers(0, 3, size=500)
    oc = operating_characteristics(make_results(true=[0.3, 0.2], n_stop=n_stop, stop=stop, n_looks=3))
    n_total = n_stop.sum(axis=(1, 2))
    mean = oc["sample_size_mean"].values
    assert mean[EST] == pytest.approx(n_total.mean(), rel=1e-12)
    assert mean[MCSE] == pytest.approx(n_total.std(ddof=1) / math.sqrt(500), rel=1e-12)
    q = oc["sample_size_quantile"]
    np.testing.assert_allclose(q.sel(stat="estimate").values, np.quantile(n_total, QUANTILES), rtol=1e-12)
    assert np.all(q.sel(stat="mcse").values > 0)
    assert np.all(q.sel(stat="lo").values <= q.sel(stat="hi").values)
    np.testing.assert_allclose(oc["sample_size_arm_mean"].values[:, 0, EST], n_stop[:, :, 0].mean(axis=0))
    stops = np.bincount(stop, minlength=3) / 500
    np.testing.assert_allclose(oc["p_stop_look"].sel(stat="estimate").values, stops)
    again = operating_characteristics(make_results(true=[0.3, 0.2], n_stop=n_stop, stop=stop, n_looks=3))
    xr.testing.assert_identical(oc, again)  # the bootstrap has a fixed seed


def test_bootstrap_mcse_of_the_median_matches_theory():
    # Median of N(0, 1) samples: asymptotic SE = sqrt(pi / 2) / sqrt(n). Budget: 30% (bootstrap noise).
    rng = np.random.default_rng(11)
    n_total = 1000 + 100 * rng.normal(size=2000)
    oc = operating_characteristics(make_results(true=[0.3, 0.2], n_total=n_total, n_trials=2000))
    se = oc["sample_size_quantile"].sel(quantile=0.5, stat="mcse").item()
    assert se == pytest.approx(100 * math.sqrt(math.pi / 2 / 2000), rel=0.3)


def test_allocation_to_the_best_arm_hand_computed():
    # Deaths (lower is better): arm1 is best. Per trial: patients on arm0, arm1, arm2 at the stop look.
    n_stop = np.array([[10, 30, 10], [30, 10, 20], [20, 20, 20], [0, 40, 0]])[:, :, None]
    oc = operating_characteristics(make_results(true=[0.3, 0.2, 0.25], n_stop=n_stop, stop=[0, 1, 1, 0]))
    shares = np.array([0.6, 1 / 6, 1 / 3, 1.0])
    share = oc["best_share_mean"].values[0]
    assert share[EST] == pytest.approx(shares.mean(), rel=1e-12)
    assert share[MCSE] == pytest.approx(shares.std(ddof=1) / 2, rel=1e-12)
    np.testing.assert_allclose(
        oc["best_share_quantile"].sel(stat="estimate").values[:, 0], np.quantile(shares, QUANTILES), rtol=1e-12
    )
    assert oc["p_more_on_inferior"].values[0, EST] == 0.25  # only trial 1 (30 and 20 > 10)
    other = operating_characteristics(make_results(true=[0.3, 0.2, 0.25], n_stop=n_stop), best_arm="arm0")
    assert other["best_arm"].item() == "arm0"
    assert other["best_share_mean"].values[0, EST] == pytest.approx(np.mean([0.2, 0.5, 1 / 3, 0.0]), rel=1e-12)


def test_patient_outcomes():
    n_total = np.array([100, 200, 300, 400])
    events_total = np.array([30.0, 40.0, 60.0, 100.0])
    res = make_results(true=[0.3, 0.2], n_total=n_total, events_total=events_total)
    oc = operating_characteristics(res)
    assert oc["events_total_mean"].values[EST] == 57.5
    assert oc["events_per_patient_mean"].values[EST] == pytest.approx(np.mean([0.3, 0.2, 0.2, 0.25]), rel=1e-12)
    assert oc["events_per_patient_stratum_mean"].values[0, EST] == pytest.approx(0.25, rel=1e-12)


def test_null_scenario_leaves_best_arm_figures_undefined():
    oc = operating_characteristics(make_results(true=[0.3, 0.3, 0.3], n_trials=50))
    assert oc["null_scenario"].item() and oc["best_arm"].item() == ""
    for name in ("best_share_mean", "p_more_on_inferior", "p_select_best", "idp"):
        assert np.all(np.isnan(oc[name].values)), name


def test_per_stratum_figures():
    true = np.array([[0.4, 0.2], [0.3, 0.2]])  # (arm, stratum): arm1 better in s0, null in s1
    decision = np.zeros((100, 2, 2), int)
    decision[:40, 1, 0] = 1
    decision[40:45, 1, 1] = 1
    oc = operating_characteristics(make_results(true=true, decision=decision, control="arm0"))
    np.testing.assert_allclose(oc["p_superiority_stratum"].sel(stat="estimate").values, [0.4, 0.05])
    assert oc["p_superiority"].values[EST] == 0.45
    assert list(oc["best_arm"].values) == ["arm1", ""]
    assert list(oc["null_scenario"].values) == [False, True]
    assert oc.attrs["p_superiority_meaning"] == "power"


def test_statistical_bias_and_rmse_within_mc_error():
    # Estimates = truth + N(0, s^2): bias within 3 MC SE of 0, RMSE within 3 MC SE of s, and the MC SE of the
    # RMSE near its theoretical value s / sqrt(2 T) (normal errors: Var(e^2) = 2 s^4).
    s, n_trials = 0.05, 4000
    rng = np.random.default_rng(2024)
    true = np.array([0.3, 0.25, 0.2])
    estimate = true[None, :] + s * rng.normal(size=(n_trials, 3))
    oc = operating_characteristics(make_results(true=true, estimate=estimate, control="arm0"))
    bias, rmse = oc["bias"].values[:, 0], oc["rmse"].values[:, 0]
    assert np.all(np.abs(bias[:, EST]) < 3 * bias[:, MCSE])
    assert np.all(np.abs(rmse[:, EST] - s) < 3 * rmse[:, MCSE])
    np.testing.assert_allclose(rmse[:, MCSE], s / math.sqrt(2 * n_trials), rtol=0.1)
    te = oc["rmse_te"].values[1:, 0]  # effect error = difference of two independent errors: sd s sqrt(2)
    assert np.all(np.abs(te[:, EST] - s * math.sqrt(2)) < 3 * te[:, MCSE])


def test_synthetic_engine_output_is_valid_and_coherent():
    res = synthetic_results(n_trials=60, seed=3)
    validate_results(res)
    oc = operating_characteristics(res)
    np.testing.assert_allclose(oc["p_decision"].sel(stat="estimate").sum("decision").values, 1.0)
    np.testing.assert_allclose(oc["p_select"].sel(stat="estimate").sum("selection").values, 1.0)
    np.testing.assert_allclose(oc["p_outcome"].sel(stat="estimate").sum("outcome").values, 1.0)
    assert oc["sample_size_mean"].values[EST] == pytest.approx(res["n_total"].values.mean())


@pytest.mark.parametrize(
    ("change", "key"),
    [
        (lambda r: r.drop_vars("estimate"), "results.estimate"),
        (lambda r: r.isel(trial=slice(0, 1)), "results.trial"),
        (lambda r: r.assign_attrs(higher_is_better="yes"), "results.attrs.higher_is_better"),
        (lambda r: r.assign_attrs(control_arm="nope"), "results.attrs.control_arm"),
        (lambda r: r.assign(n_total=r["n_total"].expand_dims(arm=r["arm"])), "results.n_total"),
        (lambda r: r.assign(trial_outcome=r["trial_outcome"] + 4), "results.trial_outcome"),
        (lambda r: r.assign(arm_decision=r["arm_decision"] - 1), "results.arm_decision"),
        (lambda r: r.assign(true_mean=r["true_mean"] * np.nan), "results.true_mean"),
        (lambda r: r.drop_dims("stratum"), "results.stratum"),
        (lambda r: r.to_array(), "results"),
    ],
)
def test_bad_results_name_the_variable(change, key):
    res = make_results(true=[0.3, 0.2], n_trials=5)
    with pytest.raises(ConfigError) as info:
        operating_characteristics(change(res))
    assert info.value.key == key


def test_bad_arguments_name_the_argument():
    res = make_results(true=[0.3, 0.2], n_trials=5)
    for kwargs, key in (({"best_arm": "x"}, "best_arm"), ({"select_strategy": "worst"}, "select_strategy")):
        with pytest.raises(ConfigError) as info:
            operating_characteristics(res, **kwargs)
        assert info.value.key == key


def test_final_counts_of_all_randomised_patients_are_used_where_present():
    n_stop = np.array([[10, 30], [20, 20]])[:, :, None]
    res = make_results(true=[0.3, 0.2], n_stop=n_stop)
    n_final = xr.DataArray(n_stop + np.array([5, 0])[None, :, None], dims=("trial", "arm", "stratum"))
    oc = operating_characteristics(res.assign(n_final=n_final, events_final=0.5 * n_final))
    np.testing.assert_allclose(oc["sample_size_arm_mean"].values[:, 0, EST], [20.0, 25.0])
    assert oc["events_per_patient_stratum_mean"].values[0, EST] == pytest.approx(0.5)
    with pytest.raises(ConfigError) as info:
        operating_characteristics(res.assign(n_final=n_final.isel(stratum=0), events_final=0.5 * n_final))
    assert info.value.key == "results.n_final"
