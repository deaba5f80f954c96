"""Scenarios the engine must be able to show: RAR's bias under a time trend (Korn & Freidlin, Clin Trials
2022;19:158; Proschan & Evans, CID 2020) and a drifting endotype mix."""

import numpy as np
import pytest

from sepsim._keys import stage_key
from sepsim.platform import binary_scenario, run_trials

BASE = dict(
    arms=["A", "B"],
    look_n=[100, 200, 300, 400, 500, 600, 700, 800],
    higher_is_better=True,
    stopping=dict(superiority=0.99, inferiority=0.01),
    scenario=dict(time_trend_logit=2.0),
)


@pytest.mark.slow
def test_time_trend_biases_rar_but_not_fixed_allocation():
    out = binary_scenario([0.2, 0.2], 50_000, key=stage_key(1, "cohort"))
    n = 3000
    fixed = run_trials(out, dict(BASE, allocation=dict(rule="fixed")), n_trials=n, key=stage_key(2, "trials"))
    rar = run_trials(out, dict(BASE, allocation=dict(rule="thompson")), n_trials=n, key=stage_key(2, "trials"))

    def pooled_bias(ds):
        # estimate of the arm that received more patients minus that of the other: 0 without bias
        est, nf = ds.estimate.values[..., 0], ds.n_final.values[..., 0]
        more = np.argmax(nf, axis=1)
        d = est[np.arange(len(more)), more] - est[np.arange(len(more)), 1 - more]
        return d.mean(), d.std() / np.sqrt(len(d))

    b_fix, se_fix = pooled_bias(fixed)
    b_rar, se_rar = pooled_bias(rar)
    # with fixed 1:1 allocation both arms see the same calendar mix of patients: no bias
    assert abs(b_fix) < 4 * se_fix + 1e-3
    # under RAR the arm that ends up with more patients got them late, when rates were higher: biased upwards
    assert b_rar > b_fix + 4 * np.hypot(se_rar, se_fix)
    # and the type-I error of the superiority rule is inflated relative to fixed allocation
    p_fix = np.mean(fixed.trial_outcome.values == 1)
    p_rar = np.mean(rar.trial_outcome.values == 1)
    assert p_rar > p_fix


@pytest.mark.slow
def test_endotype_drift():
    out = binary_scenario(
        [[0.3, 0.3], [0.3, 0.3]], 20_000, key=stage_key(3, "cohort"), strata=["MALS", "other"], stratum_probs=[0.5, 0.5]
    )
    d = dict(
        arms=["A", "B"],
        look_n=[200, 400],
        strata=["MALS", "other"],
        allocation=dict(rule="fixed"),
        stopping=dict(superiority=None, inferiority=None),
        scenario=dict(stratum_mix_start=[0.1, 0.9], stratum_mix_end=[0.9, 0.1]),
    )
    ds = run_trials(out, d, n_trials=200, key=stage_key(4, "trials"))
    n = ds.n.values.sum(axis=2)  # (trial, look, stratum)
    first = n[:, 0, 0] / n[:, 0].sum(-1)  # MALS share of the first 200 patients: mix 0.1 -> 0.5, mean 0.3
    second = (n[:, 1, 0] - n[:, 0, 0]) / (n[:, 1].sum(-1) - n[:, 0].sum(-1))  # next 200: mean 0.7
    assert abs(first.mean() - 0.3) < 0.02 and abs(second.mean() - 0.7) < 0.02


@pytest.mark.slow
@pytest.mark.parametrize(("model", "n"), [("beta_binomial", 1000), ("logistic", 600)])
def test_concurrent_controls_protect_a_late_arm_from_a_time_trend(model, n):
    # null scenario, mortality rising over the trial (time_trend_logit 2); the late arm sees only late (sicker)
    # patients. Compared with all controls it looks harmful; compared with concurrent controls (for the logistic
    # model: a pairwise fit against them) it does not. Budget: 4 MC SE on the difference of two rates.
    # The logistic figures are quoted in README_engine.md (`pytest -m slow -k time_trend -s`).
    out = binary_scenario([0.2, 0.2, 0.2], 50_000, key=stage_key(5, "cohort"), arms=["control", "A", "late"])
    d = dict(
        arms=["control", "A", "late"],
        control="control",
        look_n=[200, 400, 600, 800, 1000],
        higher_is_better=False,
        arm_start_look=[0, 0, 2],
        allocation=dict(rule="fixed"),
        analysis=dict(model=model),
        stopping=dict(superiority=None, inferiority=0.05),
        scenario=dict(time_trend_logit=2.0),
    )
    conc = run_trials(out, dict(d, concurrent_controls=True), n_trials=n, key=stage_key(6, "trials"))
    allc = run_trials(out, dict(d, concurrent_controls=False), n_trials=n, key=stage_key(6, "trials"))
    p_conc = np.mean(conc.arm_decision.sel(arm="late").values[:, 0] == 2)
    p_all = np.mean(allc.arm_decision.sel(arm="late").values[:, 0] == 2)
    se = np.sqrt((p_conc * (1 - p_conc) + p_all * (1 - p_all)) / n)
    print(f"{model}: late arm dropped as inferior: all controls {p_all:.3f}, concurrent {p_conc:.3f}, SE {se:.4f}")
    assert p_all > p_conc + 4 * se, (p_all, p_conc)
    assert p_conc < 0.15, p_conc  # about the nominal rate of a 0.05 inferiority rule over three looks
