"""Continuous endpoint (normal model) in the trial engine: scenario, Bayesian posterior, frequentist z path.

Monte-Carlo budgets: 3 MC SE with fixed seeds. Two-arm designs use simple 1:1 randomisation (the control arm's
size is Binomial(N, 1/2); analytic power is averaged over it).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from sepsim._errors import ConfigError
from sepsim._keys import stage_key
from sepsim.platform import NormalAnalysis, design_from_dict, normal_scenario, run_trials

SD = 3.0  # SOFA-change points; illustrative
N = 200  # 100 per arm
N_TRIALS = 3000


def _design(method, *, look_n=(N,), stopping=None, **analysis):
    return dict(
        arms=["ctl", "trt"],
        control="ctl",
        look_n=list(look_n),
        higher_is_better=False,  # a larger SOFA increase is worse
        stopping=stopping or dict(superiority=None, inferiority=None),
        analysis=dict(model="normal", method=method, **analysis),
    )


def test_normal_scenario_common_random_numbers():
    out = normal_scenario([[1.0, 0.2], [2.0, 1.5]], [SD, 2.0], 4000, key=stage_key(1, "cohort"), arms=["c", "t"])
    y, s = np.asarray(out.outcome), np.asarray(out.stratum)
    z = (y[:, 0] - np.where(s == 0, 1.0, 2.0)) / SD
    np.testing.assert_allclose((y[:, 1] - np.where(s == 0, 0.2, 1.5)) / 2.0, z, atol=1e-12)
    assert abs(z.mean()) < 3 / np.sqrt(4000) and abs(z.std() - 1) < 0.05
    np.testing.assert_allclose(out.true_mean(), [[1.0, 2.0], [0.2, 1.5]])
    with pytest.raises(ConfigError):
        normal_scenario([0.0, 1.0], 0.0, 10, key=stage_key(1, "cohort"))


def test_two_arm_p_best_equals_exact_student_t():
    # nested Gauss–Hermite P(best) against the exact Student-t P(better) (normal_difference_unknown_variance)
    rng = np.random.default_rng(0)
    act = jnp.ones(2, dtype=bool)
    for hib in (True, False):
        an = NormalAnalysis(higher_is_better=hib)

        @jax.jit
        def both(n, tot, sq, an=an):
            ctx = an.prepare(n, tot, act, total_sq=sq)
            return an.p_best(ctx, act), an.vs_control(ctx, act, 0)[0]

        for n0 in (3, 10, 100):
            n = jnp.asarray([n0, n0 + 2], dtype=float)
            ys = [rng.normal(rng.normal(0, 0.5), 2.0, int(k)) for k in n]
            pb, pbetter = both(n, jnp.asarray([y.sum() for y in ys]), jnp.asarray([(y * y).sum() for y in ys]))
            assert float(pb[1]) == pytest.approx(float(pbetter[1]), abs=1e-6)
            assert float(pb.sum()) == pytest.approx(1.0, abs=1e-9)
    # three arms: against 400,000 posterior draws (MC SE <= 0.0008)
    an = NormalAnalysis(higher_is_better=True)
    n, tot, sq = jnp.asarray([20.0, 25, 30]), jnp.asarray([0.0, 10, 12]), jnp.asarray([80.0, 100, 130])
    act = jnp.ones(3, dtype=bool)
    ctx = an.prepare(n, tot, act, total_sq=sq)
    pb = np.asarray(an.p_best(ctx, act))
    tau = rng.gamma(float(ctx["shape"]), 1 / float(ctx["rate"]), 400_000)
    sd = 1 / np.sqrt(tau)[:, None] / np.sqrt(np.asarray(ctx["kappa"]))[None]
    mu = np.asarray(ctx["loc"])[None] + sd * rng.standard_normal((400_000, 3))
    mc = np.bincount(mu.argmax(axis=1), minlength=3) / 400_000
    np.testing.assert_allclose(pb, mc, atol=3 * np.sqrt(0.25 / 400_000))


@pytest.fixture(scope="module")
def null_bayes():
    out = normal_scenario([0.0, 0.0], SD, 50_000, key=stage_key(2, "cohort"), arms=["ctl", "trt"])
    return run_trials(out, _design("quadrature"), n_trials=N_TRIALS, key=stage_key(2, "trials"))


def test_null_posterior_probability_is_uniform(null_bayes):
    # under H0 (and a flat prior) P(trt better) = 1 - one-sided t-test p-value: Uniform(0, 1)
    p = null_bayes.p_best.isel(look=-1, arm=1).values
    assert np.all(np.isfinite(p))
    se = np.sqrt(1 / 12 / p.size)  # 0.0053 at 3000 trials
    assert abs(p.mean() - 0.5) < 3 * se
    assert stats.kstest(p, "uniform").pvalue > 0.001
    assert np.all(null_bayes.trial_outcome.values == 0)


@pytest.fixture(scope="module")
def z_runs():
    design = _design("frequentist", test="z", alpha=0.025)
    res = {}
    for name, effect in (("null", 0.0), ("alt", -1.0)):
        out = normal_scenario([0.0, effect], SD, 50_000, key=stage_key(3, "cohort"), arms=["ctl", "trt"])
        res[name] = run_trials(out, design, n_trials=N_TRIALS, key=stage_key(3, f"trials-{name}"))
    return res


def test_z_path_size_and_power_match_normal_theory(z_runs):
    # analytic power of the one-sided z test given the arm sizes: Phi(|delta| / (sd sqrt(1/n_c + 1/n_t)) - z_0.975)
    # (known variance; the estimated variance changes it by < 0.002 at ~100 per arm), averaged over n_c
    for name, delta in (("null", 0.0), ("alt", 1.0)):
        ds = z_runs[name]
        assert np.all(ds.n_final.sum(("arm", "stratum")).values == N)
        k = np.arange(10, N - 9)
        w = stats.binom.pmf(k, N, 0.5)
        power = stats.norm.cdf(delta / (SD * np.sqrt(1 / k + 1 / (N - k))) - stats.norm.ppf(0.975))
        exact = float(np.sum(w * power) / np.sum(w))
        rate = float(np.mean(ds.trial_outcome.values == 1))
        se = np.sqrt(exact * (1 - exact) / N_TRIALS)  # 0.0029 (null), 0.0085 (power 0.54)
        assert abs(rate - exact) < 3 * se, (name, rate, exact, se)
    # the estimate is the arm mean; events hold the sum of outcomes
    ds = z_runs["alt"]
    np.testing.assert_allclose(ds.estimate.values, ds.events_final.values / ds.n_final.values, rtol=1e-12)


def test_normal_config_errors():
    with pytest.raises(ConfigError) as e:
        design_from_dict(_design("frequentist", test="fisher"))
    assert e.value.key == "design.analysis.test"
    with pytest.raises(ConfigError) as e:
        design_from_dict(_design("draws"))
    assert e.value.key == "design.analysis.method"
    ok = _design("quadrature", stopping=dict(futility_prob=0.9, futility_margin=1.5))  # outcome-scale margin
    assert design_from_dict(ok).stopping.futility_margin == 1.5
