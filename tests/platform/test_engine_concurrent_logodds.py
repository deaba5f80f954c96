"""Concurrent controls for the log-odds models (proportional odds): each late arm is compared with the control
patients randomised while it was open, by a separate two-arm fit; checked against stand-alone fits on counts
recomputed from the per-patient log."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sepsim._errors import ConfigError
from sepsim._keys import stage_key
from sepsim.platform import design_from_dict, ordinal_scenario, patient_log
from sepsim.platform._analysis_ordinal import ProportionalOddsAnalysis
from sepsim.platform._plan import make_plan
from sepsim.platform.analyses import proportional_odds_posterior

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
