"""Concurrent controls for the log-odds models (proportional odds): each late arm is compared with the control
patients randomised while it was open, by a separate two-arm fit; checked against stand-alone fits on counts
recomputed from the per-patient log."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sepsim._errors import ConfigError
from sepsim._keys import stage_key
from sepsim.platform import binary_scenario, design_from_dict, ordinal_scenario, patient_log
from sepsim.platform._analysis.ordinal import ProportionalOddsAnalysis
from sepsim.platform._design.plan import make_plan
from sepsim.platform.stats import (
    hierarchical_effects,
    log_odds_ratio_estimates,
    logistic_treatment_posterior,
    proportional_odds_posterior,
)

P0 = [0.2, 0.3, 0.3, 0.2]  # control category probabilities (illustrative 4-level ordinal scale)
ARMS = ["ctl", "A", "B"]
LOOK_N = [120, 240, 360]
LATE = dict(
    arms=ARMS,
    control="ctl",
    look_n=LOOK_N,
    higher_is_better=True,
    arm_start_look=[0, 0, 1],  # B opens after the first look
    concurrent_controls=True,
    allocation=dict(rule="fixed"),
    analysis=dict(model="proportional_odds"),
    stopping=dict(superiority=0.99, inferiority=0.02),
)


@pytest.fixture(scope="module")
def late_log():
    out = ordinal_scenario(P0, [1.0, 1.0, 1.6], 20_000, key=stage_key(21, "cohort"), arms=ARMS)
    return patient_log(out, LATE, n_trials=24, key=stage_key(22, "trials"))


def _category_counts(y, sel, n_cat=4):
    return np.bincount(y[sel].astype(int), minlength=n_cat).astype(float)


def test_concurrent_p_better_equals_pairwise_fit_on_recounted_data(late_log):
    arm = late_log["patient_arm"].values
    has_y = late_log["patient_has_outcome"].values
    y = late_log["patient_outcome"].values
    pbc = late_log["p_better_control"].values  # (trial, look, arm)
    ncc = late_log["n_concurrent_control"].values
    stop = late_log["trial_stop_look"].values
    tables, where = [], []
    for t in range(arm.shape[0]):
        for k in range(stop[t] + 1):
            n = LOOK_N[k]
            seen = has_y[t, :n]
            ctl = seen & (arm[t, :n] == 0)
            conc = ctl & (np.arange(n) >= LOOK_N[0])  # B's window starts at patient look_n[0] (no accrual clock)
            assert ncc[t, k, 2] == conc.sum() and ncc[t, k, 1] == ctl.sum()
            for a, c_sel in ((1, ctl), (2, conc)):
                if np.isfinite(pbc[t, k, a]):
                    trt = seen & (arm[t, :n] == a)
                    tables.append([_category_counts(y[t, :n], c_sel), _category_counts(y[t, :n], trt)])
                    where.append((t, k, a))
    t_i, k_i, a_i = np.asarray(where).T
    # B is never in play at look 0 and is at look 1 of every trial still running
    assert not np.isfinite(pbc[:, 0, 2]).any() and np.isfinite(pbc[:, 1, 2][stop >= 1]).all()
    assert np.sum(a_i == 2) > 20 and np.sum(a_i == 1) > 30
    ref = np.asarray(proportional_odds_posterior(jnp.asarray(np.asarray(tables))).prob_or_gt_1)[:, 0]
    np.testing.assert_allclose(pbc[t_i, k_i, a_i], ref, rtol=0, atol=1e-8)
    # the late arm's concurrent comparison differs from an all-controls comparison (the check can fail)
    assert np.sum(ncc[:, 1:, 2] < ncc[:, 1:, 1]) > 0


def test_two_arm_pairwise_fit_equals_the_joint_fit():
    # no late arm: the concurrent controls are all the controls, and with two arms the pairwise fit is the joint
    # fit, so every probability coincides with the non-concurrent analysis
    an = ProportionalOddsAnalysis(higher_is_better=True, equivalence_margin=0.2, futility_margin=0.1, control_arm=0)
    counts = jnp.asarray([[30.0, 41, 37, 22], [25, 33, 44, 38]])
    both = jnp.ones((2,), bool)
    z2 = jnp.zeros(2)

    @jax.jit
    def probs(cc):  # one compilation: the plain analysis and the concurrent one for each control table in cc
        def one(ctx):
            return an.vs_control(ctx, both, jnp.asarray(0)), an.p_best(ctx, both)

        plain = one(an.prepare(z2, z2, both, counts=counts))
        return plain, jax.vmap(lambda c: one(an.prepare(z2, z2, both, counts=counts, counts_control=c)))(cc)

    other = jnp.asarray([[0.0, 0, 0, 0], [5, 5, 5, 5]])
    (p0, plain), (pc, pbc) = probs(jnp.stack([counts[jnp.asarray([0, 0])], other]))
    p1, pb1, p2, pb2 = [x[0] for x in pc], pbc[0], [x[1] for x in pc], pbc[1]
    for a, b in zip(p0, p1, strict=True):
        np.testing.assert_allclose(np.asarray(b)[1], np.asarray(a)[1], rtol=0, atol=1e-12)
    assert 0.5 < float(p0[0][1]) < 0.999
    # with other control data the pairwise probabilities move, and P(best) (joint, all data) does not
    assert abs(float(p2[0][1]) - float(p0[0][1])) > 0.05
    np.testing.assert_allclose(pb2, plain, rtol=0, atol=1e-14)
    np.testing.assert_allclose(pb1, plain, rtol=0, atol=1e-14)


def test_concurrent_controls_rejected_with_covariates():
    out = ordinal_scenario(P0, [1.0, 1.0, 1.0], 500, key=stage_key(25, "cohort"), arms=ARMS)
    make_plan(design_from_dict(LATE), out)  # accepted for the ordinal model
    bad = design_from_dict(dict(LATE, analysis=dict(model="logistic", covariates=["x"])))
    with pytest.raises(ConfigError, match="concurrent_controls"):
        make_plan(bad, out)


# ---- binary outcome with strata: logistic (pooled decisions) and hierarchical (per-stratum decisions) ----------
RATES = [[0.35, 0.35, 0.25], [0.25, 0.25, 0.2]]  # (stratum, arm) 28-day mortality, illustrative
BINARY = dict(
    arms=ARMS,
    control="ctl",
    look_n=LOOK_N,
    higher_is_better=False,
    strata=["S0", "S1"],
    arm_start_look=[0, 0, 1],
    concurrent_controls=True,
    allocation=dict(rule="fixed"),
    stopping=dict(superiority=0.99, inferiority=0.02),
)


def _binary_log(model, **stopping):
    out = binary_scenario(RATES, 20_000, key=stage_key(31, "cohort"), arms=ARMS, strata=["S0", "S1"])
    d = dict(BINARY, analysis=dict(model=model), stopping=dict(BINARY["stopping"], **stopping))
    return patient_log(out, d, n_trials=16, key=stage_key(32, "trials"))


def _strata_tables(log, t, k):
    """(stratum, arm) patients and events with outcomes by look k, and each arm's concurrent controls."""
    n = LOOK_N[k]
    arm, s = log["patient_arm"].values[t, :n], log["patient_stratum"].values[t, :n]
    seen, y = log["patient_has_outcome"].values[t, :n], log["patient_outcome"].values[t, :n]
    opened = np.stack([np.ones(n, bool), np.ones(n, bool), np.arange(n) >= LOOK_N[0]], axis=1)  # (patient, arm)
    tab = np.zeros((2, 2, 3))  # (n/events, stratum, arm)
    cc = np.zeros((2, 2, 3))
    for j in range(2):
        for a in range(3):
            sel = seen & (s == j) & (arm == a)
            tab[:, j, a] = sel.sum(), y[sel].sum()
            c_sel = seen & (s == j) & (arm == 0) & opened[:, a]
            cc[:, j, a] = c_sel.sum(), y[c_sel].sum()
    return tab, cc


@pytest.mark.slow
def test_logistic_concurrent_p_better_equals_pairwise_fit_on_recounted_data():
    log = _binary_log("logistic")
    pbc, stop = log["p_better_control"].values, log["trial_stop_look"].values
    rows, where = [], []
    for t in range(pbc.shape[0]):
        for k in range(stop[t] + 1):
            tab, cc = _strata_tables(log, t, k)
            for a in (1, 2):
                if np.isfinite(pbc[t, k, a]):
                    w = np.concatenate([cc[0, :, a], tab[0, :, a]])
                    ev = np.concatenate([cc[1, :, a], tab[1, :, a]])
                    rows.append((w, np.where(w > 0, ev / np.maximum(w, 1), 0.0)))
                    where.append((t, k, a))
    assert sum(a == 2 for _, _, a in where) > 10
    treat = jnp.asarray([[0.0], [0], [1], [1]])
    stratum = jnp.asarray([0, 1, 0, 1], dtype=jnp.int32)
    fit = jax.jit(
        jax.vmap(
            lambda w, y: logistic_treatment_posterior(y, treat, stratum=stratum, n_strata=2, weights=w).prob_positive
        )
    )
    w, y = (jnp.asarray(np.stack(x)) for x in zip(*rows, strict=True))
    ref = 1.0 - np.asarray(fit(w, y))[:, 0]  # lower mortality is better
    t_i, k_i, a_i = np.asarray(where).T
    np.testing.assert_allclose(pbc[t_i, k_i, a_i], ref, rtol=0, atol=1e-8)


@pytest.mark.slow
def test_hierarchical_concurrent_p_better_equals_recounted_posterior():
    log = _binary_log("hierarchical", inferiority=None, per_stratum=True)
    pbc, stop = log["p_better_control"].values, log["trial_stop_look"].values  # (trial, look, stratum, arm)
    n_checked = 0
    for t in range(pbc.shape[0]):
        for k in range(stop[t] + 1):
            tab, cc = _strata_tables(log, t, k)
            est, se = log_odds_ratio_estimates(cc[1], cc[0], tab[1], tab[0])
            ok = (tab[0] > 0) & (cc[0] > 0) & (np.arange(3) != 0)[None, :]
            post = hierarchical_effects(np.where(ok, est, 0.0).T, np.where(ok, se, 1000.0).T, tau_scale=0.5)
            ref = 1.0 - np.asarray(post.prob_positive).T  # (stratum, arm); lower mortality is better
            fin = np.isfinite(pbc[t, k])
            np.testing.assert_allclose(pbc[t, k][fin], ref[fin], rtol=0, atol=1e-8)
            n_checked += int(fin[:, 2].sum())
    assert n_checked > 10
