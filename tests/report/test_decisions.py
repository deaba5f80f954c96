"""Decision quantities over each stratum's own arms: best arm, efficacy (power / type-I error / false claim), harm,
with Wilson MC intervals checked against scipy; published-number z; Kaplan-Meier against the exact estimator."""

import json
import math

import numpy as np
import pytest
from scipy.stats import binomtest

from sepsim.platform._results.codes import ArmDecision
from sepsim.report import PublishedNumber, compare_published, stratum_decisions, synthetic_results
from sepsim.report._cohort import _km
from sepsim.report._html import decision_tables
from sepsim.report._study import key_comparisons

ARMS = ["placebo", "anakinra", "ifn_gamma"]
DESIGN = {
    "arms": ARMS,
    "control": "placebo",
    "strata": ["MALS", "immunoparalysis"],
    "stratum_arms": [["placebo", "anakinra"], ["placebo", "ifn_gamma"]],
}


def _results(truth, decisions):
    """Toy results with an ImmunoSep-like design and hand-set final decisions ``{(stratum, arm): trials}``."""
    res = synthetic_results(n_trials=40, true_mean=truth, control_arm="placebo", higher_is_better=1, seed=1)
    res.attrs["design"] = json.dumps(DESIGN)
    dec = np.zeros((40, 3, 2), dtype=np.int64)
    for (stratum, arm), trials in decisions.items():
        dec[trials, ARMS.index(arm), DESIGN["strata"].index(stratum)] = ArmDecision.SUPERIOR
    return res.assign(arm_decision=(("trial", "arm", "stratum"), dec))


def test_own_arms_best_arm_efficacy_and_harm():
    # ifn_gamma is best of all in MALS but never randomised there; anakinra likewise in immunoparalysis
    truth = {
        "MALS": {"placebo": 0.2, "anakinra": 0.4, "ifn_gamma": 0.9},
        "immunoparalysis": {"placebo": 0.2, "anakinra": 0.9, "ifn_gamma": 0.35},
    }
    res = _results(truth, {("MALS", "anakinra"): range(10), ("MALS", "placebo"): range(10, 13),
                           ("immunoparalysis", "ifn_gamma"): range(5)})  # fmt: skip
    mals, ip = stratum_decisions(res)
    assert mals.arms == ("placebo", "anakinra") and ip.arms == ("placebo", "ifn_gamma")
    assert mals.best_arm == "anakinra" and ip.best_arm == "ifn_gamma"
    assert set(mals.p_decision) == {"placebo", "anakinra"}  # no row for the arm not randomised
    assert mals.efficacy_meaning == "power" and mals.better_than_control == ("anakinra",)
    for est, k in ((mals.efficacy, 10), (mals.harm, 3), (ip.efficacy, 5)):
        ci = binomtest(k, 40).proportion_ci(method="wilson")
        assert est.mean == k / 40 and est.mcse == pytest.approx(math.sqrt(k / 40 * (1 - k / 40) / 40))
        assert (est.q025, est.q975) == pytest.approx((ci.low, ci.high), abs=1e-12)
    page = decision_tables([mals, ip], res)
    mals_table = page.split("<h3>stratum MALS</h3>")[1].split("<h3>")[0]
    assert "anakinra" in mals_table and "ifn_gamma" not in mals_table
    text = key_comparisons([mals, ip], "responder")[0]["text"]
    assert "anakinra vs placebo" in text and "25.0%" in text and "(the power)" in text
    assert "true difference anakinra +0.2" in text and "nearly null" not in text
    near = key_comparisons([ip], "responder", margin=0.2)[0]["text"]
    assert "ifn_gamma +0.15, below the design's futility margin 0.2: nearly null" in near


def test_efficacy_is_named_by_the_truth():
    null = {s: {a: 0.3 for a in ARMS} for s in DESIGN["strata"]}
    harmful = {s: {"placebo": 0.4, "anakinra": 0.2, "ifn_gamma": 0.2} for s in DESIGN["strata"]}
    assert {d.efficacy_meaning for d in stratum_decisions(_results(null, {}))} == {"type-I error"}
    assert stratum_decisions(_results(null, {}))[0].best_arm is None  # a tie: no truly best arm
    d = stratum_decisions(_results(harmful, {}))[0]
    assert d.efficacy_meaning == "false efficacy claim" and d.best_arm == "placebo" and d.best_declared is None


def test_published_z_and_verdict():
    pub = PublishedNumber.share("MALS anakinra responders", 12, 25, "IS-06")
    assert pub.se == pytest.approx(math.sqrt(0.48 * 0.52 / 25))
    same = compare_published(pub, 0.48, 0.01)
    assert same.z == 0.0 and same.verdict == "consistent"
    far = compare_published(pub, 0.2, 0.03)
    assert far.z == pytest.approx(-0.28 / math.hypot(0.03, pub.se))
    assert far.verdict == "differs"  # |z| = 2.68
    assert compare_published(pub, 0.1, 0.0).verdict == "differs strongly"


def test_kaplan_meier_without_early_censoring_is_the_empirical_survival():
    rng = np.random.default_rng(0)
    death = np.where(rng.random(200) < 0.4, rng.integers(1, 28, 200).astype(float), np.nan)
    x, surv, lo, hi = _km(death, 28.0)
    for t, s, a, b in zip(x[1:-1], surv[1:-1], lo[1:-1], hi[1:-1], strict=True):
        exact = 1.0 - np.sum(death <= t) / death.size
        half = 1.959963984540054 * math.sqrt(exact * (1 - exact) / death.size)  # Greenwood = binomial here
        assert s == pytest.approx(exact, abs=1e-12)
        assert (a, b) == pytest.approx((max(0.0, exact - half), min(1.0, exact + half)), abs=1e-12)
    assert x[-1] == 28.0 and surv[-1] == surv[-2]


def test_the_immunosep_design_in_words():
    from sepsim.report._study import design_sentences

    stopping = {"superiority": 0.99, "futility_prob": 0.9, "futility_margin": 0.05, "per_stratum": True}
    design = {**DESIGN, "look_n": [140, 280], "allocation": {"rule": "fixed", "block_factor": 2}, "stopping": stopping}
    text = " ".join(design_sentences(design))
    assert "MALS: placebo vs anakinra; immunoparalysis: placebo vs ifn_gamma" in text
    assert "(1:1 within stratum), permuted blocks of 4 per stratum" in text  # block_factor x ratio of each arm
    assert "2 looks after 140, 280 patients" in text and "at most 280 patients" in text
    assert "superiority when P(arm is better than control) > 0.99" in text
    assert "futility when P(not better by 0.05) > 0.9" in text and "separately in each stratum" in text
