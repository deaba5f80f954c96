"""Ordinal endpoint (proportional-odds model, Laplace) in the trial engine.

Monte-Carlo budgets: 3 MC SE with fixed seeds. One compiled design serves the null and the alternative runs
(same table size and analysis), so the default tests compile the engine once.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sepsim._errors import ConfigError
from sepsim._keys import stage_key
from sepsim.platform import design_from_dict, ordinal_scenario, run_trials
from sepsim.platform._analysis.ordinal import ProportionalOddsAnalysis
from sepsim.platform.stats import proportional_odds_posterior

P0 = [0.2, 0.3, 0.3, 0.2]  # control category probabilities (illustrative 4-level ordinal scale)
N_TRIALS = 4000
DESIGN = dict(
    arms=["ctl", "trt"],
    control="ctl",
    look_n=[200, 400],
    higher_is_better=True,
    allocation=dict(rule="fixed"),
    analysis=dict(model="proportional_odds"),
    stopping=dict(superiority=0.99, inferiority=None),
)


def _table(odds_ratio, seed):
    return ordinal_scenario(P0, [1.0, odds_ratio], 20_000, key=stage_key(seed, "cohort"), arms=["ctl", "trt"])


@pytest.fixture(scope="module")
def runs():
    # 2000 trials (one chunk, the same compilation) suffice for the direction checks under the alternatives
    return {
        name: run_trials(_table(orr, 5), DESIGN, n_trials=n, key=stage_key(5, f"trials-{name}"))
        for name, orr, n in (("null", 1.0, N_TRIALS), ("alt", 1.8, 2000), ("harm", 1 / 1.8, 2000))
    }


def test_ordinal_scenario_is_proportional_odds():
    out = ordinal_scenario([P0, [0.4, 0.3, 0.2, 0.1]], [1.0, 2.0], 40_000, key=stage_key(1, "cohort"))
    y, s = np.asarray(out.outcome).astype(int), np.asarray(out.stratum)
    assert np.all(y[:, 1] >= y[:, 0])  # common random numbers: a larger OR never lowers a patient's category
    for j, p in enumerate((P0, [0.4, 0.3, 0.2, 0.1])):
        f0 = np.cumsum(p)[:-1]
        f1 = 1 / (1 + np.exp(-(np.log(f0 / (1 - f0)) - np.log(2.0))))
        for col, f in ((0, f0), (1, f1)):
            emp = np.array([np.mean(y[s == j, col] <= c) for c in range(3)])
            se = np.sqrt(f * (1 - f) / np.sum(s == j))
            assert np.all(np.abs(emp - f) < 4 * se), (j, col, emp, f)
    with pytest.raises(ConfigError):
        ordinal_scenario([0.5, 0.6], [1.0, 1.0], 10, key=stage_key(1, "cohort"))


def test_engine_probabilities_equal_standalone_laplace(runs):
    # the engine's P(best) of the treatment (= P(OR > 1), two arms) at every look, from its own category counts
    ds = runs["null"]
    counts = ds.n_category.sum("stratum").values  # (trial, look, arm, category)
    assert np.all(counts.sum(-1) == ds.n.sum("stratum").values)
    ref = np.asarray(proportional_odds_posterior(jnp.asarray(counts, dtype=float)).prob_or_gt_1)[..., 0]
    pb = ds.p_best.sel(arm="trt").values
    ok = np.isfinite(pb)
    assert ok[:, 0].all() and ok.sum() > N_TRIALS
    np.testing.assert_allclose(pb[ok], ref[ok], rtol=0, atol=1e-8)
    # events hold the sum of categories; the estimate is the mean category
    np.testing.assert_allclose(
        ds.estimate.values, ds.events_final.values / np.maximum(ds.n_final.values, 1), rtol=1e-12
    )


def _independent_rejection_rate(odds_ratio, n_trials, seed):
    """The same design simulated without the engine: 1:1 coin-flip randomisation, categories drawn from the
    scenario's category probabilities, the Laplace analysis at 200 and 400 patients, stop when P > 0.99."""
    rng = np.random.default_rng(seed)
    f0 = np.cumsum(P0)[:-1]
    f1 = 1 / (1 + np.exp(-(np.log(f0 / (1 - f0)) - np.log(odds_ratio))))
    pmf = [np.diff(np.concatenate([[0], f, [1]])) for f in (f0, f1)]
    arm = rng.integers(0, 2, (n_trials, 400))
    cat = np.where(arm == 0, rng.choice(4, (n_trials, 400), p=pmf[0]), rng.choice(4, (n_trials, 400), p=pmf[1]))
    counts = np.stack(
        [
            np.stack(
                [np.stack([np.sum((arm[:, :m] == a) & (cat[:, :m] == c), 1) for c in range(4)], -1) for a in (0, 1)], 1
            )
            for m in (200, 400)
        ],
        1,
    )  # (trial, look, arm, category)
    p = np.asarray(proportional_odds_posterior(jnp.asarray(counts, dtype=float)).prob_or_gt_1)[..., 0]
    return float(np.mean(np.any(p > 0.99, axis=1)))


def test_type_one_error_matches_independent_simulation(runs):
    # 2 looks, P(better) > 0.99: engine vs an independent simulation of the same design (4000 trials each;
    # rate ~0.015, SE of the difference ~0.0027)
    rate = float(np.mean(runs["null"].trial_outcome.values == 1))
    ref = _independent_rejection_rate(1.0, N_TRIALS, 11)
    se = np.sqrt(2 * ref * (1 - ref) / N_TRIALS)
    assert abs(rate - ref) < 3 * se, (rate, ref, se)
    assert 0.005 < rate < 0.03  # near the one-sided 0.01 per look (two looks, correlated)


def test_alternative_power_and_direction(runs):
    # higher categories are better: the arm that raises them (OR 1.8) is usually superior, the one that lowers
    # them (OR 1/1.8) never
    alt = runs["alt"]
    won = alt.trial_outcome.values == 1
    assert won.mean() > 0.5 and np.all(alt.superior_arm.values[won] == 1)
    assert float(np.mean(runs["harm"].trial_outcome.values == 1)) < 0.002


@pytest.mark.slow
def test_power_matches_independent_simulation(runs):
    rate = float(np.mean(runs["alt"].trial_outcome.values == 1))
    ref = _independent_rejection_rate(1.8, N_TRIALS, 12)
    se = np.sqrt(ref * (1 - ref) / N_TRIALS + ref * (1 - ref) / 2000)
    assert abs(rate - ref) < 3 * se, (rate, ref, se)


@pytest.mark.slow
def test_three_arm_p_best_sobol_accuracy():
    # P(best) with 3 arms from the fixed Sobol sample against 400,000 draws from the same Laplace normal
    counts = jnp.asarray([[30.0, 40, 20, 10], [20, 35, 30, 15], [25, 30, 30, 15]])
    act = jnp.ones(3, dtype=bool)
    up_an, down_an = (ProportionalOddsAnalysis(higher_is_better=h, control_arm=0, n_categories=4) for h in (1, 0))

    @jax.jit
    def probs(c):
        ctx = up_an.prepare(None, None, act, counts=c)
        return ctx, up_an.p_best(ctx, act), down_an.p_best(ctx, act), up_an.vs_control(ctx, act, 0)[0]

    ctx, pb_up, pb_down, better = probs(counts)
    # the embedded Laplace posterior is the analyses function's (arm 0 the reference)
    ref = proportional_odds_posterior(counts)
    np.testing.assert_allclose(ctx["mean"][1:], ref.log_or_mean, atol=1e-10)
    np.testing.assert_allclose(np.sqrt(np.diag(ctx["cov"]))[1:], ref.log_or_sd, atol=1e-10)
    np.testing.assert_allclose(better[1:], ref.prob_or_gt_1, atol=1e-10)  # exact Phi against the control
    th = np.random.default_rng(3).multivariate_normal(np.asarray(ctx["mean"]), np.asarray(ctx["cov"]), 400_000)
    for pb, sign in ((pb_up, 1), (pb_down, -1)):
        mc = np.bincount(np.argmax(sign * th, axis=1), minlength=3) / 400_000
        np.testing.assert_allclose(pb, mc, atol=3 * np.sqrt(0.25 / 400_000) + 2e-3)  # MC 0.0024 + Sobol error
        assert float(jnp.sum(pb)) == pytest.approx(1.0, abs=1e-12)


def test_ordinal_config_errors():
    bad = dict(DESIGN, analysis=dict(model="proportional_odds", method="frequentist"))
    with pytest.raises(ConfigError, match="design.analysis.method"):
        design_from_dict(bad)
    with pytest.raises(ConfigError, match="design.analysis.n_categories"):
        design_from_dict(dict(DESIGN, analysis=dict(model="beta_binomial", n_categories=3)))
    out = _table(1.0, 1)
    with pytest.raises(ConfigError, match="design.analysis.n_categories"):  # table holds categories 0..3
        run_trials(
            out,
            dict(DESIGN, analysis=dict(model="proportional_odds", n_categories=3)),
            n_trials=1,
            key=stage_key(1, "t"),
        )
    half = out.__class__(outcome=out.outcome + 0.5, stratum=out.stratum, arms=out.arms, strata=out.strata)
    with pytest.raises(ConfigError, match="integer categories"):
        run_trials(half, DESIGN, n_trials=1, key=stage_key(1, "t"))
    with pytest.raises(ConfigError, match="time_trend_logit"):
        design_from_dict(dict(DESIGN, scenario=dict(time_trend_logit=1.0)))


@pytest.mark.slow
def test_chunk_size_independence():
    out = _table(1.5, 6)
    a = run_trials(out, DESIGN, n_trials=10, key=stage_key(6, "trials"), chunk_size=10)
    b = run_trials(out, DESIGN, n_trials=10, key=stage_key(6, "trials"), chunk_size=4)
    for name in ("p_best", "n_category", "trial_outcome", "estimate"):
        np.testing.assert_array_equal(a[name].values, b[name].values)


def test_conf_design_example_composes():
    from sepsim.cli import compose_config

    cfg = compose_config(["experiment=adaptr", "design=ordinal_two_arm"])
    design = design_from_dict(cfg.design)
    assert design.analysis.model == "proportional_odds" and design.analysis.n_categories == 4
