"""Hierarchical borrowing of a treatment effect across strata (normal-normal model, tau by quadrature).

Per stratum ``s`` an estimate ``y_s`` of the treatment log odds ratio with standard error ``se_s`` (normal
likelihood); ``theta_s ~ N(mu, tau^2)``, ``mu ~ N(m0, v0)``, ``tau`` with a prior on a grid of nodes. Given
``tau`` everything is Gaussian and exact (BDA3 sec. 5.4, eqs. 5.17-5.21):
``mu | tau, y ~ N(mu_hat, V_mu)``, ``theta_s | tau, y ~ N(B_s mu_hat + (1 - B_s) y_s,
(1 - B_s) se_s^2 + B_s^2 V_mu)`` with ``B_s = se_s^2 / (se_s^2 + tau^2)``; the grid weights are
``p(tau_k) N(y; m0 1, diag(se^2 + tau^2) + v0 11')``. ``tau = 0`` pools the strata completely; a huge ``tau``
analyses them separately. The default prior on ``tau`` is half-normal(``tau_scale``) represented by its quantiles
at the midpoints of ``n_grid`` equal-probability bins (equal prior weights).
Source: Gelman et al. (2013), "Bayesian Data Analysis", 3rd ed., sec. 5.4-5.5.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.scipy.special import erfc, ndtri
from jax.scipy.stats import multivariate_normal
from jaxtyping import Array, ArrayLike, Float

from ._common import as_float

__all__ = ["HierarchicalPosterior", "hierarchical_effects", "half_normal_tau_grid", "log_odds_ratio_estimates"]


class HierarchicalPosterior(NamedTuple):
    """Posterior of per-stratum effects under the hierarchical model.

    Attributes:
        mean: posterior mean of ``theta_s``, shape ``(..., S)``.
        sd: posterior sd of ``theta_s``.
        prob_positive: ``P(theta_s > 0 | y)`` (exact given the grid).
        mu_mean, mu_sd: posterior mean and sd of the common mean ``mu``.
        tau_weights: posterior weights of the ``tau`` grid nodes, shape ``(..., G)``.
    """

    mean: Float[Array, "... S"]
    sd: Float[Array, "... S"]
    prob_positive: Float[Array, "... S"]
    mu_mean: Float[Array, "..."]
    mu_sd: Float[Array, "..."]
    tau_weights: Float[Array, "... G"]


def half_normal_tau_grid(scale: float = 0.5, n_grid: int = 64) -> Float[Array, " G"]:
    """Quantiles of half-normal(``scale``) at probabilities ``(k - 1/2) / n_grid``; each node has prior weight 1/G."""
    q = (jnp.arange(n_grid).astype(jnp.result_type(float)) + 0.5) / n_grid
    return scale * ndtri(0.5 + 0.5 * q)


def log_odds_ratio_estimates(
    events_a: ArrayLike, n_a: ArrayLike, events_b: ArrayLike, n_b: ArrayLike
) -> tuple[Float[Array, "..."], Float[Array, "..."]]:
    """Empirical log odds ratio (treatment ``b`` vs control ``a``) and its standard error per stratum.

    Haldane–Anscombe correction (0.5 added to every cell), Woolf's variance ``sum 1 / cell``. Source: Agresti
    (2013), "Categorical Data Analysis", 3rd ed., sec. 3.1.
    """
    ea, na, eb, nb = (as_float(x) for x in (events_a, n_a, events_b, n_b))
    cells = (eb + 0.5, nb - eb + 0.5, ea + 0.5, na - ea + 0.5)
    est = jnp.log(cells[0]) - jnp.log(cells[1]) - jnp.log(cells[2]) + jnp.log(cells[3])
    return est, jnp.sqrt(sum(1.0 / c for c in cells))


def _one(y, se, tau, log_prior_w, m0, v0):
    s2 = se * se
    t2 = tau * tau
    n = y.shape[0]

    def given_tau(t2k):
        v = s2 + t2k
        v_mu = 1.0 / (1.0 / v0 + jnp.sum(1.0 / v))
        mu_hat = v_mu * (m0 / v0 + jnp.sum(y / v))
        b = s2 / v
        mean = b * mu_hat + (1.0 - b) * y
        var = (1.0 - b) * s2 + b * b * v_mu
        cov = jnp.diag(v) + v0 * jnp.ones((n, n), y.dtype)
        loglik = multivariate_normal.logpdf(y, jnp.full((n,), m0, y.dtype), cov)
        return mean, var, mu_hat, v_mu, loglik

    mean, var, mu_hat, v_mu, loglik = jax.vmap(given_tau)(t2)
    lw = log_prior_w + loglik
    w = jnp.exp(lw - jax.scipy.special.logsumexp(lw))
    sd = jnp.sqrt(var)
    prob = w @ (0.5 * erfc(-mean / (sd * 1.4142135623730951)))
    post_mean = w @ mean
    post_var = w @ (var + mean * mean) - post_mean * post_mean
    mu_mean = w @ mu_hat
    mu_var = w @ (v_mu + mu_hat * mu_hat) - mu_mean * mu_mean
    return post_mean, jnp.sqrt(jnp.maximum(post_var, 0.0)), prob, mu_mean, jnp.sqrt(jnp.maximum(mu_var, 0.0)), w


def hierarchical_effects(
    estimate: ArrayLike,
    se: ArrayLike,
    *,
    tau_grid: ArrayLike | None = None,
    tau_log_prior: ArrayLike | None = None,
    tau_scale: float = 0.5,
    n_grid: int = 64,
    mu_prior_mean: float = 0.0,
    mu_prior_sd: float = 10.0,
) -> HierarchicalPosterior:
    """Per-stratum posterior of a treatment effect that borrows strength across strata.

    Args:
        estimate: per-stratum effect estimates ``y_s`` (e.g. log odds ratios), shape ``(..., S)``.
        se: their standard errors, same shape.
        tau_grid: nodes for the between-stratum sd ``tau`` (default: `half_normal_tau_grid(tau_scale, n_grid)`).
            A single node conditions on that ``tau`` (``0`` pools, a huge value separates).
        tau_log_prior: log prior weight of each node (default equal weights, right for the default grid).
        tau_scale, n_grid: the default half-normal prior on ``tau`` and its number of nodes.
        mu_prior_mean, mu_prior_sd: normal prior on the common mean ``mu``.

    Returns:
        `HierarchicalPosterior`. jit/vmap-able; leading axes of ``estimate`` are batched.
    """
    y, s = jnp.broadcast_arrays(as_float(estimate), as_float(se))
    tau = half_normal_tau_grid(tau_scale, n_grid) if tau_grid is None else jnp.atleast_1d(as_float(tau_grid))
    lp = jnp.zeros_like(tau) if tau_log_prior is None else as_float(tau_log_prior)
    return HierarchicalPosterior(*_batch(y, s, tau, lp, as_float(mu_prior_mean), as_float(mu_prior_sd) ** 2))


@jax.jit
def _batch(y, s, tau, lp, m0, v0):
    fn = jnp.vectorize(lambda yy, ss: _one(yy, ss, tau, lp, m0, v0), signature="(s),(s)->(s),(s),(s),(),(),(g)")
    return fn(y, s)
