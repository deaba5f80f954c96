"""Proportional-odds (cumulative logit) model for an ordinal outcome, by a Laplace approximation.

Arm ``k`` (0 = control) and ordered categories ``0, ..., C-1``:
``P(Y <= c | arm k) = logistic(alpha_c - beta_k)``, ``beta_0 = 0``, so ``exp(beta_k)`` is the odds ratio for a
*higher* category (REMAP-CAP's cumulative-logistic model on organ-support-free days, where higher is better:
Angus et al. 2020, Ann Am Thorac Soc 17:879; superiority when P(OR > 1) > 0.99).

Priors: ``beta_k ~ N(0, prior_sd^2)``; the category probabilities ``pi ~ Dirichlet(concentration)`` at a reference
linear predictor (the control arm, or by default the average of the arms: ``eta_k = beta_k - mean(beta)``),
carried to the cut-points ``alpha`` with its Jacobian ``prod_c f(alpha_c)`` (``f`` the logistic density).
Damped Newton runs from the pooled empirical cut-points in the unconstrained parametrisation
``(alpha_1, log(alpha_c - alpha_{c-1}), beta)``, where the mode stays interior when categories are empty; the
posterior of ``beta`` is approximated by the normal at that mode with the inverse negative Hessian (Laplace).
Counts per arm and category are sufficient statistics.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.scipy.special import erfc
from jaxtyping import Array, ArrayLike, Bool, Float

from ..._errors import ConfigError
from ._common import as_float
from ._newton import newton_maximize

__all__ = ["OrdinalPosterior", "proportional_odds_posterior", "proportional_odds_log_posterior"]

_FAR = 1e4  # stands in for the infinite outer cut-points (log-sigmoid is exactly 0 or -x there in float64)


class OrdinalPosterior(NamedTuple):
    """Laplace posterior of the log odds ratios ``beta_k`` of arms ``1..K-1`` against arm 0.

    Attributes:
        log_or_mean: posterior mode (= Laplace mean), shape ``(..., K-1)``.
        log_or_sd: Laplace posterior sd, shape ``(..., K-1)``.
        prob_or_gt_1: ``P(OR_k > 1) = Phi(mean / sd)``, shape ``(..., K-1)``.
        cutpoints: posterior mode of ``alpha`` (at the reference linear predictor), shape ``(..., C-1)``.
        converged: Newton's gradient criterion met, shape ``(...)``.
    """

    log_or_mean: Float[Array, "... arm_minus_1"]
    log_or_sd: Float[Array, "... arm_minus_1"]
    prob_or_gt_1: Float[Array, "... arm_minus_1"]
    cutpoints: Float[Array, "... cat_minus_1"]
    converged: Bool[Array, "..."]


def _log_cell_probs(cut: Float[Array, " c1"], eta: Float[Array, " k"]) -> Float[Array, "k c"]:
    """``log P(Y = c | eta)`` for each arm's linear predictor ``eta``; ``nan`` if ``cut`` is not increasing."""
    lo = jnp.concatenate([jnp.full((1,), -_FAR, cut.dtype), cut])[None, :] - eta[:, None]
    up = jnp.concatenate([cut, jnp.full((1,), _FAR, cut.dtype)])[None, :] - eta[:, None]
    return jax.nn.log_sigmoid(up) + jax.nn.log_sigmoid(-lo) + jnp.log(-jnp.expm1(lo - up))


def proportional_odds_log_posterior(
    params: Float[Array, " p"],
    counts: Float[Array, "arm cat"],
    prior_sd: ArrayLike,
    concentration: ArrayLike,
    reference: str = "control",
) -> Float[Array, ""]:
    """Unnormalised log-posterior at ``params = (alpha_1..alpha_{C-1}, beta_1..beta_{K-1})``.

    ``reference="control"`` puts the Dirichlet prior on the control arm's category probabilities;
    ``"average"`` on those at the average linear predictor of the arms (``eta_k = beta_k - mean(beta)``), which
    treats all arms alike (the log odds ratios ``beta_k`` keep their meaning).
    """
    n_cat = counts.shape[-1]
    cut, beta = params[: n_cat - 1], params[n_cat - 1 :]
    eta = jnp.concatenate([jnp.zeros((1,), params.dtype), beta])
    if reference == "average":
        eta = eta - jnp.mean(eta)
    logp = _log_cell_probs(cut, eta)
    loglik = jnp.sum(jnp.where(counts > 0, counts * logp, 0.0))
    # Dirichlet prior on the category probabilities at the reference linear predictor (eta = 0 after centring)
    log_prior_pi = jnp.sum((concentration - 1.0) * _log_cell_probs(cut, jnp.zeros((1,), params.dtype))[0])
    log_jac = jnp.sum(jax.nn.log_sigmoid(cut) + jax.nn.log_sigmoid(-cut))
    log_prior_beta = -0.5 * jnp.sum((beta / prior_sd) ** 2)
    out = loglik + log_prior_pi + log_jac + log_prior_beta
    return jnp.where(jnp.all(jnp.diff(cut) > 0), out, -jnp.inf)


def _cut_from_free(free: Float[Array, " c1"]) -> Float[Array, " c1"]:
    """``alpha_1 = u_1``, ``alpha_c = alpha_{c-1} + exp(u_c)``: increasing cut-points from free parameters."""
    return jnp.cumsum(jnp.concatenate([free[:1], jnp.exp(free[1:])]))


def proportional_odds_laplace(counts, prior_sd, concentration, n_iter, reference="control"):
    """Laplace fit for one ``(K, C)`` count table: mode and covariance of ``beta_1..beta_{K-1}`` (arm 0 the
    reference), cut-points at the mode and Newton's convergence flag (the trial engine needs the covariance)."""
    n_arm, n_cat = counts.shape
    pooled = jnp.sum(counts, axis=0) + 0.5
    cum = jnp.cumsum(pooled)[:-1] / jnp.sum(pooled)
    cut0 = jnp.log(cum) - jnp.log1p(-cum)
    u0 = jnp.concatenate([cut0[:1], jnp.log(jnp.diff(cut0))])
    x0 = jnp.concatenate([u0, jnp.zeros((n_arm - 1,), counts.dtype)])

    def log_post_free(x):
        # the Laplace approximation is made in the unconstrained parametrisation (log gaps between cut-points),
        # where the mode is interior even when categories are empty; Jacobian sum(u_2..u_{C-1}).
        u, beta = x[: n_cat - 1], x[n_cat - 1 :]
        params = jnp.concatenate([_cut_from_free(u), beta])
        return proportional_odds_log_posterior(params, counts, prior_sd, concentration, reference) + jnp.sum(u[1:])

    res = newton_maximize(log_post_free, x0, n_iter=n_iter)
    cov = jnp.linalg.inv(-res.hessian)
    beta_cov = cov[n_cat - 1 :, n_cat - 1 :]
    return res.mode[n_cat - 1 :], beta_cov, _cut_from_free(res.mode[: n_cat - 1]), res.converged


def _fit_one(counts, prior_sd, concentration, n_iter, reference="control"):
    mean, cov, cut, converged = proportional_odds_laplace(counts, prior_sd, concentration, n_iter, reference)
    sd = jnp.sqrt(jnp.diag(cov))
    prob = 0.5 * erfc(-mean / (sd * 1.4142135623730951))
    return mean, sd, prob, cut, converged


def proportional_odds_posterior(
    counts: ArrayLike,
    *,
    prior_sd: float = 10.0,
    concentration: float = 1.0,
    reference: str = "average",
    n_iter: int = 30,
) -> OrdinalPosterior:
    """Laplace posterior of the proportional-odds treatment effects from category counts.

    Args:
        counts: patients per arm and ordinal category, shape ``(..., K, C)`` with ``K >= 2`` arms (arm 0 the
            control) and ``C >= 2`` ordered categories (higher = better); leading axes (trials, looks) are batched.
        prior_sd: sd of the normal prior on each log odds ratio (a vague default; set it for the design).
        concentration: Dirichlet concentration (scalar or ``(C,)``, each >= 1) on the control category
            probabilities; 1 is uniform on the simplex.
        reference: where the Dirichlet prior sits: ``"average"`` (default; the average of the arms' linear
            predictors, symmetric in the arms) or ``"control"`` (the control arm, as REMAP-CAP). With many
            categories the flat Dirichlet acts like pseudo-counts; on the control arm alone it biases the log-OR
            (null simulation, 23 categories, 300 per arm: mean z = -0.39 with "control", 0.00 with "average").
        n_iter: Newton iterations (fixed, for jit).

    Returns:
        `OrdinalPosterior`. jit-able; vmap-able over leading axes.

    Example:
        >>> post = proportional_odds_posterior(jnp.array([[10.0, 20, 20], [5, 20, 25]]))
        >>> post.prob_or_gt_1.shape
        (1,)
    """
    c = as_float(counts)
    if c.ndim < 2 or c.shape[-2] < 2 or c.shape[-1] < 2:
        raise ConfigError("counts", f"must have shape (..., arms >= 2, categories >= 2), got {c.shape}")
    if reference not in ("control", "average"):
        raise ConfigError("reference", f"must be 'control' or 'average', got {reference!r}")
    return OrdinalPosterior(*_fit_batch(c, as_float(prior_sd), as_float(concentration), n_iter, reference))


@functools.partial(jax.jit, static_argnames=("n_iter", "reference"))
def _fit_batch(counts, prior_sd, concentration, n_iter, reference):
    fit = jnp.vectorize(
        lambda x: _fit_one(x, prior_sd, concentration, n_iter, reference), signature="(k,c)->(m),(m),(m),(d),()"
    )
    return fit(counts)
