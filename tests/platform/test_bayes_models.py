"""Bayesian analyses (normal, proportional odds, logistic, hierarchical) against independent numerical posteriors."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate, optimize, stats
from scipy.special import expit, log_expit

from sepsim._errors import ConfigError
from sepsim.platform.stats import (
    hierarchical_effects,
    log_odds_ratio_estimates,
    logistic_design_matrix,
    logistic_laplace,
    logistic_treatment_posterior,
    normal_difference_known_variance,
    normal_difference_unknown_variance,
    proportional_odds_posterior,
)
from sepsim.platform.stats._normal_model import _student_t_sf

# ----------------------------------------------------------------------------------------------------------- normal


def _grid_moments(logdens, grid):
    w = np.exp(logdens - logdens.max())
    w /= w.sum()
    m = (w * grid).sum()
    return m, np.sqrt((w * (grid - m) ** 2).sum())


def test_normal_known_variance_matches_grid_posterior():
    rng = np.random.default_rng(11)
    sigma, m0, s0, delta = 1.5, 0.2, 0.8, 0.1
    ya, yb = rng.normal(0.0, sigma, 12), rng.normal(0.6, sigma, 9)
    post = normal_difference_known_variance(
        12, ya.mean(), 9, yb.mean(), sigma=sigma, delta=delta, prior_mean=m0, prior_sd=s0
    )
    grid = np.linspace(-5, 5, 200_001)
    moments = []
    for y in (ya, yb):
        logd = stats.norm.logpdf(grid, m0, s0) + stats.norm.logpdf(y[:, None], grid[None, :], sigma).sum(0)
        moments.append(_grid_moments(logd, grid))
    mean = moments[1][0] - moments[0][0]
    sd = np.hypot(moments[0][1], moments[1][1])
    np.testing.assert_allclose([post.mean, post.scale], [mean, sd], rtol=1e-7)
    np.testing.assert_allclose(post.prob_greater, stats.norm.sf(delta, mean, sd), rtol=1e-7)
    assert np.isinf(post.df)
    # an empty arm keeps its prior
    empty = normal_difference_known_variance(0, 123.0, 9, yb.mean(), sigma=sigma, prior_mean=m0, prior_sd=s0)
    np.testing.assert_allclose(empty.mean, moments[1][0] - m0, rtol=1e-7)


def test_student_t_tail():
    t = np.linspace(-8, 8, 81)
    for df in (0.5, 3.0, 17.5, 400.0):
        np.testing.assert_allclose(_student_t_sf(jnp.asarray(t), df), stats.t.sf(t, df), rtol=1e-10, atol=1e-15)


def test_normal_unknown_variance_matches_quadrature_over_sigma():
    rng = np.random.default_rng(12)
    ya, yb = rng.normal(1.0, 2.0, 8), rng.normal(2.0, 2.0, 11)
    m0, k0, a0, b0, delta = 0.5, 0.3, 2.0, 3.0, 0.4
    post = normal_difference_unknown_variance(
        8, ya.mean(), ((ya - ya.mean()) ** 2).sum(), 11, yb.mean(), ((yb - yb.mean()) ** 2).sum(),
        delta=delta, prior_mean=m0, prior_kappa=k0, prior_shape=a0, prior_rate=b0,
    )  # fmt: skip

    def log_marginal(y, s2):  # y_j ~ N(m0 1, s2 (I + 11'/k0)) after integrating mu_j out
        n = y.size
        return stats.multivariate_normal.logpdf(y, np.full(n, m0), s2 * (np.eye(n) + np.ones((n, n)) / k0))

    def log_post_s2(s2):
        return stats.invgamma.logpdf(s2, a0, scale=b0) + log_marginal(ya, s2) + log_marginal(yb, s2)

    ref_lp = log_post_s2(4.0)

    def cond_prob(s2):  # given sigma^2 the mean posteriors are normal with prior sd sigma / sqrt(k0)
        p = normal_difference_known_variance(
            8, ya.mean(), 11, yb.mean(), sigma=np.sqrt(s2), delta=delta, prior_mean=m0, prior_sd=np.sqrt(s2 / k0)
        )
        return float(p.prob_greater)

    num = integrate.quad(
        lambda s2: np.exp(log_post_s2(s2) - ref_lp) * cond_prob(s2), 0, np.inf, epsabs=0, epsrel=1e-11, limit=200
    )[0]
    den = integrate.quad(lambda s2: np.exp(log_post_s2(s2) - ref_lp), 0, np.inf, epsabs=0, epsrel=1e-11, limit=200)[0]
    np.testing.assert_allclose(post.prob_greater, num / den, rtol=1e-7)
    np.testing.assert_allclose(post.df, 2 * a0 + 19)


def test_normal_models_vectorise():
    f = jax.jit(jax.vmap(lambda m: normal_difference_unknown_variance(10, 0.0, 9.0, 10, m, 9.0).prob_greater))
    p = f(jnp.linspace(-1, 1, 5))
    assert p.shape == (5,) and np.all(np.diff(p) > 0)
    np.testing.assert_allclose(p[2], 0.5, atol=1e-12)


# ------------------------------------------------------------------------------------------- proportional odds

_PO_COUNTS = np.array([[12.0, 20, 18], [7, 19, 24]])


def _po_grid_posterior(counts, prior_sd=10.0):
    """Brute-force posterior of beta on a 3-D grid (alpha_1, alpha_2, beta), written out in NumPy."""
    b = np.linspace(-1.5, 2.5, 121)[:, None, None]
    a1 = np.linspace(-3.5, 0.5, 121)[None, :, None]
    a2 = np.linspace(-1.5, 2.5, 121)[None, None, :]
    lp = log_expit(a1) + log_expit(-a1) + log_expit(a2) + log_expit(-a2) - 0.5 * (b / prior_sd) ** 2
    for k, eta in enumerate((0.0, b)):
        f1, f2 = expit(a1 - eta), expit(a2 - eta)
        cells = (np.log(f1), np.log(np.clip(f2 - f1, 1e-300, None)), log_expit(eta - a2))
        lp = lp + sum(counts[k, c] * cells[c] for c in range(3))
    lp = np.where(a2 > a1, lp, -np.inf)
    w = np.exp(lp - lp.max())
    w /= w.sum()
    wb = w.sum(axis=(1, 2))
    assert max(wb[0], wb[-1], w.sum(axis=(0, 2))[[0, -1]].max(), w.sum(axis=(0, 1))[[0, -1]].max()) < 1e-6
    bb = b[:, 0, 0]
    mean = (wb * bb).sum()
    return mean, np.sqrt((wb * (bb - mean) ** 2).sum()), wb[bb > 0].sum() + 0.5 * wb[bb == 0].sum()


def test_proportional_odds_laplace_matches_brute_force_posterior():
    post = proportional_odds_posterior(jnp.asarray(_PO_COUNTS), reference="control")
    mean, sd, prob = _po_grid_posterior(_PO_COUNTS)
    assert bool(post.converged[()])
    # Laplace error budget for 50 patients per arm: mode vs mean within 5% of a posterior sd, sd within 3%
    assert abs(post.log_or_mean[0] - mean) < 0.05 * sd
    assert abs(post.log_or_sd[0] / sd - 1) < 0.03
    assert abs(post.prob_or_gt_1[0] - prob) < 0.01


def test_proportional_odds_mirror_symmetry_and_batching():
    rng = np.random.default_rng(3)
    counts = rng.integers(0, 15, size=(6, 3, 5)).astype(float)  # 6 trials, 3 arms, 5 categories (with zeros)
    f = jax.jit(eqx.debug.assert_max_traces(lambda c: proportional_odds_posterior(c), max_traces=1))
    post = f(jnp.asarray(counts))
    assert post.log_or_mean.shape == (6, 2) and post.cutpoints.shape == (6, 4)
    assert bool(jnp.all(post.converged))
    # reversing the category order negates every log odds ratio exactly
    mirror = f(jnp.asarray(counts[..., ::-1]))
    np.testing.assert_allclose(mirror.log_or_mean, -post.log_or_mean, atol=1e-8)
    np.testing.assert_allclose(mirror.log_or_sd, post.log_or_sd, rtol=1e-8)
    np.testing.assert_allclose(mirror.cutpoints, -post.cutpoints[..., ::-1], atol=1e-8)
    # batch elements are fitted independently
    swapped = f(jnp.asarray(counts[[1, 0, 2, 3, 4, 5]]))
    np.testing.assert_allclose(np.asarray(swapped.log_or_mean)[[1, 0]], post.log_or_mean[:2], rtol=1e-10)
    # (2, 3) tables share the compiled fit of the other tests
    assert proportional_odds_posterior(jnp.array([[30.0, 15, 5], [5, 15, 30]])).prob_or_gt_1[0] > 0.999
    null = proportional_odds_posterior(jnp.array([[10.0, 20, 10], [10, 20, 10]]))
    np.testing.assert_allclose(null.prob_or_gt_1, 0.5, atol=1e-10)  # identical arms, symmetric prior


def test_proportional_odds_average_reference_is_symmetric_in_arms():
    counts = jnp.asarray(_PO_COUNTS)
    ctl = proportional_odds_posterior(counts, reference="control")
    avg = proportional_odds_posterior(counts)
    swapped = proportional_odds_posterior(counts[::-1], reference="average")
    np.testing.assert_allclose(swapped.log_or_mean, -avg.log_or_mean, atol=1e-8)
    np.testing.assert_allclose(swapped.log_or_sd, avg.log_or_sd, rtol=1e-8)
    # with 50 patients per arm and 3 categories the prior's placement barely matters
    assert abs(avg.log_or_mean[0] - ctl.log_or_mean[0]) < 0.05 * ctl.log_or_sd[0]


def test_proportional_odds_null_calibration():
    # 800 null trials, 23 categories (organ-support-free days -1..21), 300 patients per arm. With the symmetric
    # ("average") prior, z = mean / sd is exactly symmetric about 0 under the null: |mean z| < 3 MC SE. Its sd is
    # close to 1 (Laplace and prior effects plus 3 MC SE of an sd, 3 / sqrt(2 * 800) = 0.075: budget 0.1).
    # The control-arm Dirichlet visibly biases z here (documented in the docstring).
    rng = np.random.default_rng(8)
    probs = rng.dirichlet(np.ones(23))
    counts = jnp.asarray(np.stack([rng.multinomial(300, probs, size=800) for _ in range(2)], axis=1).astype(float))
    post = proportional_odds_posterior(counts)
    z = np.asarray(post.log_or_mean / post.log_or_sd)[:, 0]
    assert bool(jnp.all(post.converged))
    assert abs(z.mean()) < 3 * z.std() / np.sqrt(z.size)
    assert abs(z.std() - 1.0) < 0.1


def test_proportional_odds_bad_counts():
    with pytest.raises(ConfigError) as err:
        proportional_odds_posterior(jnp.ones((1, 4)))
    assert err.value.key == "counts"
    with pytest.raises(ConfigError) as err:
        proportional_odds_posterior(jnp.ones((2, 4)), reference="pooled")
    assert err.value.key == "reference"


@pytest.mark.slow
def test_proportional_odds_against_numpyro_nuts():
    import numpyro
    import numpyro.distributions as dist
    from numpyro.infer import MCMC, NUTS

    counts = np.array([[6.0, 9, 14, 11, 10], [3, 8, 12, 14, 13]])
    arm = np.repeat([0, 0, 0, 0, 0, 1, 1, 1, 1, 1], counts.ravel().astype(int))
    y = np.concatenate([np.repeat(np.arange(5), counts[k].astype(int)) for k in range(2)])

    def model():
        pi = numpyro.sample("pi", dist.Dirichlet(jnp.ones(5)))
        cut = jax.scipy.special.logit(jnp.cumsum(pi)[:-1])
        beta = numpyro.sample("beta", dist.Normal(0.0, 10.0))
        numpyro.sample("y", dist.OrderedLogistic(beta * jnp.asarray(arm, float), cut), obs=jnp.asarray(y))

    mcmc = MCMC(NUTS(model), num_warmup=1000, num_samples=8000, num_chains=1, progress_bar=False)
    with jax.numpy_dtype_promotion("standard"):  # numpyro's internals mix int and float
        mcmc.run(jax.random.key(7))
    beta = np.asarray(mcmc.get_samples()["beta"])
    post = proportional_odds_posterior(jnp.asarray(counts), reference="control")
    ess = float(numpyro.diagnostics.effective_sample_size(beta[None, :]))
    mc_se = beta.std() / np.sqrt(ess)
    # Laplace bias budget (5% of a posterior sd) plus 3 Monte-Carlo SE of the NUTS mean
    assert abs(post.log_or_mean[0] - beta.mean()) < 0.05 * beta.std() + 3 * mc_se
    assert abs(post.log_or_sd[0] / beta.std() - 1) < 0.05
    assert abs(post.prob_or_gt_1[0] - (beta > 0).mean()) < 0.02


# ---------------------------------------------------------------------------------------------------- logistic


def _logistic_data(seed, n=300):
    rng = np.random.default_rng(seed)
    t = rng.integers(0, 2, n).astype(float)
    x = rng.normal(size=(n, 2))
    st = rng.integers(0, 3, n)
    eta = -0.4 + 0.6 * t + x @ np.array([0.5, -0.3]) + np.array([0.0, 0.4, -0.4])[st]
    y = (rng.uniform(size=n) < expit(eta)).astype(float)
    return y, t, x, st


def test_logistic_mode_and_covariance_match_scipy_map():
    y, t, x, st = _logistic_data(21)
    design = np.asarray(
        logistic_design_matrix(jnp.asarray(t), covariates=jnp.asarray(x), stratum=jnp.asarray(st), n_strata=3)
    )
    assert design.shape == (300, 6)
    prior_sd = np.array([5.0, 2.0, 5.0, 5.0, 5.0, 5.0])

    def neg_log_post(b):
        eta = design @ b
        return -np.sum(y * eta - np.logaddexp(0, eta)) + 0.5 * np.sum((b / prior_sd) ** 2)

    def grad(b):
        return -design.T @ (y - expit(design @ b)) + b / prior_sd**2

    ref = optimize.minimize(neg_log_post, np.zeros(6), jac=grad, method="BFGS", options={"gtol": 1e-11}).x
    fit = logistic_laplace(jnp.asarray(design), jnp.asarray(y), prior_sd=jnp.asarray(prior_sd))
    assert bool(fit.converged)
    np.testing.assert_allclose(fit.mode, ref, atol=1e-6)
    p = expit(design @ ref)
    cov = np.linalg.inv(design.T @ (design * (p * (1 - p))[:, None]) + np.diag(prior_sd**-2.0))
    np.testing.assert_allclose(fit.cov, cov, rtol=1e-5)
    eff = logistic_treatment_posterior(
        jnp.asarray(y),
        jnp.asarray(t),
        covariates=jnp.asarray(x),
        stratum=jnp.asarray(st),
        n_strata=3,
        prior_sd_treatment=2.0,
        prior_sd_other=5.0,
    )
    np.testing.assert_allclose(eff.mean, ref[1:2], atol=1e-6)
    np.testing.assert_allclose(eff.sd, np.sqrt(cov[1, 1]), rtol=1e-5)
    np.testing.assert_allclose(eff.prob_positive, stats.norm.sf(0, ref[1], np.sqrt(cov[1, 1])), rtol=1e-5)


def test_logistic_laplace_matches_two_dimensional_grid_posterior():
    rng = np.random.default_rng(22)
    n = 160
    t = np.repeat([0.0, 1.0], n // 2)
    y = (rng.uniform(size=n) < np.where(t > 0, 0.45, 0.3)).astype(float)
    eff = logistic_treatment_posterior(jnp.asarray(y), jnp.asarray(t), prior_sd_treatment=2.5, prior_sd_other=2.5)
    a = np.linspace(-3, 1.5, 451)[:, None]
    b = np.linspace(-2, 3, 501)[None, :]
    e1, e0 = y[t > 0].sum(), y[t == 0].sum()
    lp = e0 * log_expit(a) + (n / 2 - e0) * log_expit(-a) + e1 * log_expit(a + b) + (n / 2 - e1) * log_expit(-a - b)
    lp += -0.5 * (a / 2.5) ** 2 - 0.5 * (b / 2.5) ** 2
    i, j = np.unravel_index(np.argmax(lp), lp.shape)
    assert abs(eff.mean[0] - b[0, j]) < 0.01  # the Laplace centre is the joint mode (grid step 0.01)
    w = np.exp(lp - lp.max()).sum(axis=0)
    w /= w.sum()
    mean = (w * b[0]).sum()
    sd = np.sqrt((w * (b[0] - mean) ** 2).sum())
    # Laplace budget for 80 patients per arm and a log-OR near 1.3 (skewed): mode vs mean within 10% of a
    # posterior sd, sd within 3%
    assert abs(eff.mean[0] - mean) < 0.1 * sd
    assert abs(eff.sd[0] / sd - 1) < 0.03
    assert abs(eff.prob_positive[0] - w[b[0] > 0].sum()) < 0.01


def test_logistic_aggregated_padded_and_batched():
    y, t, _, st = _logistic_data(23, n=120)
    full = logistic_treatment_posterior(jnp.asarray(y), jnp.asarray(t), stratum=jnp.asarray(st), n_strata=3)
    # binomial rows (one per arm x stratum cell) give the same posterior
    cells = [(a, s) for a in (0.0, 1.0) for s in range(3)]
    n_c = np.array([np.sum((t == a) & (st == s)) for a, s in cells], float)
    e_c = np.array([y[(t == a) & (st == s)].sum() for a, s in cells])
    agg = logistic_treatment_posterior(
        jnp.asarray(e_c / n_c),
        jnp.array([a for a, _ in cells]),
        stratum=jnp.array([s for _, s in cells]),
        n_strata=3,
        weights=jnp.asarray(n_c),
    )
    np.testing.assert_allclose(agg.mean, full.mean, rtol=1e-9)
    np.testing.assert_allclose(agg.sd, full.sd, rtol=1e-9)
    # padding with zero-weight rows changes nothing
    pad = logistic_treatment_posterior(
        jnp.concatenate([jnp.asarray(y), jnp.ones(30)]), jnp.concatenate([jnp.asarray(t), jnp.ones(30)]),
        stratum=jnp.concatenate([jnp.asarray(st), jnp.zeros(30, int)]), n_strata=3,
        weights=jnp.concatenate([jnp.ones(120), jnp.zeros(30)]),
    )  # fmt: skip
    np.testing.assert_allclose(pad.mean, full.mean, rtol=1e-9)
    # vmap over simulated trials
    ys = jnp.stack([jnp.asarray(_logistic_data(s, n=120)[0]) for s in range(4)])
    batched = jax.jit(jax.vmap(lambda yy: logistic_treatment_posterior(yy, jnp.asarray(t)).prob_positive))(ys)
    single = logistic_treatment_posterior(ys[2], jnp.asarray(t)).prob_positive
    assert batched.shape == (4, 1)
    np.testing.assert_allclose(batched[2], single, rtol=1e-10)


# ------------------------------------------------------------------------------------------------ hierarchical


def test_hierarchical_limits_pool_and_separate():
    y = jnp.array([0.6, 0.1, -0.3, 0.2])
    se = jnp.array([0.3, 0.4, 0.5, 0.25])
    pooled = hierarchical_effects(y, se, tau_grid=0.0, mu_prior_sd=1e4)
    w = 1 / se**2
    np.testing.assert_allclose(pooled.mean, jnp.sum(w * y) / jnp.sum(w), rtol=1e-6)
    np.testing.assert_allclose(pooled.sd, 1 / jnp.sqrt(jnp.sum(w)), rtol=1e-6)
    separate = hierarchical_effects(y, se, tau_grid=1e4)
    np.testing.assert_allclose(separate.mean, y, atol=1e-6)
    np.testing.assert_allclose(separate.sd, se, rtol=1e-6)
    np.testing.assert_allclose(separate.prob_positive, stats.norm.sf(0, y, se), rtol=1e-6)
    # the default prior shrinks toward the common mean: between the two limits
    mid = hierarchical_effects(y, se)
    assert np.all(np.abs(mid.mean - pooled.mean) <= np.abs(y - pooled.mean) + 1e-12)
    np.testing.assert_allclose(mid.tau_weights.sum(), 1.0, rtol=1e-12)


def _brute_hierarchical(y, se, scale, m0=0.0, s0=10.0):
    """P(theta_s > 0) by a 2-D grid over (mu, tau) with the half-normal density, conditioning on both."""
    tau = ((np.arange(1000) + 0.5) * 6 * scale / 1000)[:, None, None]  # midpoint rule
    mu = np.linspace(-3, 3, 801)[None, :, None]
    lp = stats.halfnorm.logpdf(tau, scale=scale) + stats.norm.logpdf(mu, m0, s0)
    lp = lp + stats.norm.logpdf(y, mu, np.sqrt(se**2 + tau**2)).sum(axis=-1, keepdims=True)
    w = np.exp(lp - lp.max())
    w /= w.sum()
    prec = 1 / se**2 + 1 / tau**2
    mean = (y / se**2 + mu / tau**2) / prec
    return (w * stats.norm.sf(0, mean, 1 / np.sqrt(prec))).sum(axis=(0, 1)), (w * mean).sum(axis=(0, 1))


def test_hierarchical_matches_brute_force_integration():
    y, se = np.array([0.5, 0.1, -0.2]), np.array([0.3, 0.4, 0.5])
    prob, mean = _brute_hierarchical(y, se, 0.5)
    fine = hierarchical_effects(jnp.asarray(y), jnp.asarray(se), tau_scale=0.5, n_grid=2000)
    np.testing.assert_allclose(fine.prob_positive, prob, atol=2e-4)
    np.testing.assert_allclose(fine.mean, mean, atol=2e-4)
    default = hierarchical_effects(jnp.asarray(y), jnp.asarray(se), tau_scale=0.5)
    np.testing.assert_allclose(default.prob_positive, prob, atol=3e-3)


def test_log_odds_ratio_estimates_and_batching():
    est, se = log_odds_ratio_estimates(jnp.array([3, 0]), jnp.array([20, 10]), jnp.array([8, 10]), jnp.array([20, 10]))
    np.testing.assert_allclose(est[0], np.log(8.5 * 17.5 / (12.5 * 3.5)), rtol=1e-12)
    np.testing.assert_allclose(se[0], np.sqrt(1 / 8.5 + 1 / 12.5 + 1 / 3.5 + 1 / 17.5), rtol=1e-12)
    assert np.all(np.isfinite(est)) and np.all(np.isfinite(se))
    ys = jnp.asarray(np.random.default_rng(4).normal(size=(7, 3)))
    out = jax.jit(lambda yy: hierarchical_effects(yy, jnp.full((7, 3), 0.4)))(ys)
    assert out.prob_positive.shape == (7, 3) and out.tau_weights.shape == (7, 64)
    np.testing.assert_allclose(out.mean[5], hierarchical_effects(ys[5], jnp.full(3, 0.4)).mean, rtol=1e-12)
