"""Bayesian logistic regression with treatment, covariates and stratum effects, by a Laplace approximation.

``logit P(y_i = 1) = x_i' beta`` with independent normal priors ``beta_j ~ N(m_j, s_j^2)``; the log-posterior is
strictly concave, so damped Newton (fixed iteration count, jit/vmap-able) finds the mode and the posterior is
approximated by ``N(mode, (-H)^-1)``. Weights allow aggregated binomial rows (``y`` = proportion, weight = trials)
and padding to a fixed maximum number of patients (weight 0). Source: Gelman et al. (2013), "Bayesian Data
Analysis", 3rd ed., sec. 16.2 and 13.3 (Laplace / normal approximation).
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.scipy.special import erfc
from jaxtyping import Array, ArrayLike, Bool, Float, Int

from ._common import as_float
from ._newton import newton_maximize

__all__ = [
    "LaplaceFit",
    "TreatmentEffectPosterior",
    "logistic_laplace",
    "logistic_treatment_posterior",
    "logistic_design_matrix",
]


class LaplaceFit(NamedTuple):
    """Normal approximation ``N(mode, cov)`` to a posterior, and whether Newton converged."""

    mode: Float[Array, "... p"]
    cov: Float[Array, "... p p"]
    converged: Bool[Array, "..."]


class TreatmentEffectPosterior(NamedTuple):
    """Laplace posterior of the treatment log odds ratio(s).

    Attributes:
        mean: posterior mode = Laplace mean, shape ``(..., n_effects)``.
        sd: Laplace posterior sd.
        prob_positive: ``P(effect > 0)`` (the treatment raises the odds of ``y = 1``).
        converged: Newton's gradient criterion met.
    """

    mean: Float[Array, "... m"]
    sd: Float[Array, "... m"]
    prob_positive: Float[Array, "... m"]
    converged: Bool[Array, "..."]


def _log_posterior(beta, x, y, w, prior_mean, prior_sd):
    eta = x @ beta
    loglik = jnp.sum(w * (y * eta - jnp.logaddexp(0.0, eta)))
    return loglik - 0.5 * jnp.sum(((beta - prior_mean) / prior_sd) ** 2)


def logistic_laplace(
    design: Float[Array, "n p"],
    y: Float[Array, " n"],
    *,
    weights: Float[Array, " n"] | None = None,
    prior_mean: ArrayLike = 0.0,
    prior_sd: ArrayLike = 10.0,
    n_iter: int = 30,
) -> LaplaceFit:
    """Laplace approximation to the posterior of a logistic regression (one data set; vmap for many).

    Args:
        design: design matrix ``(n, p)`` (include the intercept column yourself).
        y: outcomes in [0, 1] (0/1, or proportions with ``weights`` = numbers of trials).
        weights: per-row weights (default 1; 0 drops a padded row).
        prior_mean, prior_sd: normal prior per coefficient (scalars or ``(p,)``).
        n_iter: fixed number of Newton iterations.

    Returns:
        `LaplaceFit` with the posterior mode, covariance ``(-H)^-1`` and the convergence flag.
    """
    x, yy = as_float(design), as_float(y)
    w = jnp.ones_like(yy) if weights is None else as_float(weights)
    m, s = as_float(prior_mean), as_float(prior_sd)
    return _laplace(x, yy, w, m, s, n_iter)


@functools.partial(jax.jit, static_argnames=("n_iter",))
def _laplace(x, y, w, m, s, n_iter):
    res = newton_maximize(lambda b: _log_posterior(b, x, y, w, m, s), jnp.zeros(x.shape[-1], x.dtype), n_iter=n_iter)
    return LaplaceFit(res.mode, jnp.linalg.inv(-res.hessian), res.converged)


def logistic_design_matrix(
    treatment: Float[Array, "n ..."],
    *,
    covariates: Float[Array, "n q"] | None = None,
    stratum: Int[Array, " n"] | None = None,
    n_strata: int = 1,
) -> Float[Array, "n p"]:
    """Columns: intercept, treatment indicator(s), covariates, stratum dummies for strata ``1..n_strata-1``."""
    t = as_float(treatment)
    cols = [jnp.ones((t.shape[0], 1), t.dtype), t.reshape(t.shape[0], -1)]
    if covariates is not None:
        cols.append(as_float(covariates).reshape(t.shape[0], -1))
    if stratum is not None and n_strata > 1:
        cols.append(jax.nn.one_hot(jnp.asarray(stratum), n_strata, dtype=t.dtype)[:, 1:])
    return jnp.concatenate(cols, axis=1)


def logistic_treatment_posterior(
    y: Float[Array, " n"],
    treatment: Float[Array, "n ..."],
    *,
    covariates: Float[Array, "n q"] | None = None,
    stratum: Int[Array, " n"] | None = None,
    n_strata: int = 1,
    weights: Float[Array, " n"] | None = None,
    prior_sd_treatment: float = 10.0,
    prior_sd_other: float = 10.0,
    n_iter: int = 30,
) -> TreatmentEffectPosterior:
    """Posterior of the treatment log odds ratio(s) adjusted for covariates and strata (Laplace).

    Args:
        y: binary outcomes ``(n,)`` (1 = event modelled, e.g. 28-day survival).
        treatment: ``(n,)`` indicator of the treatment arm, or ``(n, m)`` indicators of ``m`` treatment arms
            against a common control.
        covariates: optional ``(n, q)`` covariates (centre them for a well-conditioned intercept).
        stratum: optional stratum index per patient in ``0..n_strata-1`` (fixed stratum effects, stratum 0 the
            reference).
        n_strata: number of strata (static).
        weights: per-patient weights (0 drops padded patients, so batches can share one maximum size).
        prior_sd_treatment, prior_sd_other: sds of the normal priors (mean 0) on the treatment effects and on the
            other coefficients.
        n_iter: Newton iterations.

    Returns:
        `TreatmentEffectPosterior` for the treatment column(s).
    """
    x = logistic_design_matrix(treatment, covariates=covariates, stratum=stratum, n_strata=n_strata)
    m = 1 if jnp.ndim(treatment) == 1 else jnp.shape(treatment)[1]
    sd = jnp.full((x.shape[1],), prior_sd_other, x.dtype).at[1 : 1 + m].set(prior_sd_treatment)
    fit = logistic_laplace(x, y, weights=weights, prior_sd=sd, n_iter=n_iter)
    mean = fit.mode[1 : 1 + m]
    se = jnp.sqrt(jnp.diag(fit.cov)[1 : 1 + m])
    return TreatmentEffectPosterior(mean, se, 0.5 * erfc(-mean / (se * 1.4142135623730951)), fit.converged)
