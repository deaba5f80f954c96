"""Binary outcome in the trial engine: logistic regression with arm effects, stratum effects and optional numeric
covariates, by a Laplace approximation (damped Newton; :func:`sepsim.platform.stats.logistic_laplace`).

``logit P(y = 1) = b0 + sum_k beta_k [arm = k] + x' g + sum_s gamma_s [stratum = s]`` with independent
``N(0, prior_sd^2)`` priors; ``beta_k`` is the adjusted log odds ratio of arm ``k`` against the control. Without
covariates the (arm, stratum) event counts are sufficient (aggregated binomial rows, weight = patients); with
covariates the engine keeps one record per randomised patient (arm, table row, outcome) in the scan carry and the
fit gives weight 0 to patients whose outcome is not complete at the look. Covariates are the outcome table's
biomarkers named in ``analysis.covariates``, centred and scaled to unit SD over the table.

Concurrent controls (strata only, no covariates): with ``n_control_strata``/``events_control_strata`` ((stratum,
arm): the control patients randomised while each arm was open) each arm is also fitted against its own concurrent
controls, ``logit P = b0 + beta [arm] + gamma_stratum`` on the 2 x S aggregated rows (control's concurrent
rows, arm's rows; same priors; vmapped over arms); the mode and sd of ``beta`` are the context's
``pair_mean``/``pair_sd`` (see :mod:`._analysis_effects`).
"""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Bool, Float, Key

from ..stats import logistic_design_matrix, logistic_laplace
from .base import AnalysisNeeds
from .effects import EffectsAnalysis, embed_effects

__all__ = ["LogisticAnalysis"]


class LogisticAnalysis(EffectsAnalysis):
    """Logistic regression; ``prepare`` needs ``n_strata``/``events_strata`` ((stratum, arm) tables) without
    covariates, ``records`` (per-patient ``arm``, ``y``, ``w``, ``stratum``, ``x``) with them."""

    n_covariates: int = eqx.field(static=True, default=0)
    n_strata: int = eqx.field(static=True, default=1)
    n_iter: int = eqx.field(static=True, default=30)

    @property
    def needs(self) -> AnalysisNeeds:
        # without covariates: the unit's (stratum, arm) tables; with covariates: per-patient records
        return AnalysisNeeds(strata=self.n_covariates == 0, records=self.n_covariates > 0)

    def prepare(
        self,
        n: Float[Array, " arm"],
        events: Float[Array, " arm"],
        active: Bool[Array, " arm"],
        *,
        key: Key[Array, ""] | None = None,
        n_strata: Float[Array, "stratum arm"] | None = None,
        events_strata: Float[Array, "stratum arm"] | None = None,
        records: dict[str, Array] | None = None,
        n_control: Float[Array, " arm"] | None = None,
        events_control: Float[Array, " arm"] | None = None,
        n_control_strata: Float[Array, "stratum arm"] | None = None,
        events_control_strata: Float[Array, "stratum arm"] | None = None,
    ) -> dict[str, Any]:
        """Laplace posterior of the adjusted log odds ratios of the arms against the control; with
        ``n_control_strata``/``events_control_strata`` also each arm's pairwise fit against its concurrent
        controls (``n_control``/``events_control``, their stratum totals, are not used)."""
        del active, n_control, events_control
        k = n.shape[-1]
        c = self.control_arm
        others = np.asarray([j for j in range(k) if j != c])
        if records is None:  # aggregated binomial rows, one per (stratum, arm)
            assert n_strata is not None and events_strata is not None, "needs.strata: the (stratum, arm) tables"
            s_n = n_strata.shape[0]
            arm = jnp.tile(jnp.arange(k, dtype=jnp.int32), s_n)
            stratum = jnp.repeat(jnp.arange(s_n, dtype=jnp.int32), k)
            w = n_strata.reshape(-1)
            y = jnp.where(w > 0, events_strata.reshape(-1) / jnp.maximum(w, 1.0), 0.0)
            cov_x = None
        else:
            arm, stratum, w, y, cov_x = records["arm"], records["stratum"], records["w"], records["y"], records["x"]
            s_n = self.n_strata
        treat = jax.nn.one_hot(arm, k, dtype=n.dtype)[:, others]
        x = logistic_design_matrix(treat, covariates=cov_x, stratum=stratum, n_strata=s_n)
        fit = logistic_laplace(
            x, y, weights=w, prior_sd=jnp.full((x.shape[1],), self.prior_sd, n.dtype), n_iter=self.n_iter
        )
        mean, cov, chol = embed_effects(fit.mode[1:k], fit.cov[1:k, 1:k], c, k)
        ctx = dict(mean=mean, cov=cov, chol=chol, converged=fit.converged)
        if n_control_strata is not None and events_control_strata is not None and records is None:
            assert n_strata is not None and events_strata is not None
            ctx["pair_mean"], ctx["pair_sd"] = self.pairwise(
                n_strata, events_strata, n_control_strata, events_control_strata
            )
        return self._sample(ctx, key)

    def pairwise(
        self,
        n_strata: Float[Array, "stratum arm"],
        events_strata: Float[Array, "stratum arm"],
        n_control_strata: Float[Array, "stratum arm"],
        events_control_strata: Float[Array, "stratum arm"],
    ) -> tuple[Float[Array, " arm"], Float[Array, " arm"]]:
        """Each arm's stratum-adjusted log odds ratio (mode, sd) from the two-arm fit against its own controls."""
        s_n = n_strata.shape[0]
        dt = n_strata.dtype
        treat = jnp.repeat(jnp.asarray([0.0, 1.0], dt), s_n)[:, None]
        stratum = jnp.tile(jnp.arange(s_n, dtype=jnp.int32), 2)
        x = logistic_design_matrix(treat, stratum=stratum, n_strata=s_n)
        prior = jnp.full((x.shape[1],), self.prior_sd, dt)

        def one(n_arm, ev_arm, n_ctl, ev_ctl):
            w = jnp.concatenate([n_ctl, n_arm])
            ev = jnp.concatenate([ev_ctl, ev_arm])
            y = jnp.where(w > 0, ev / jnp.maximum(w, 1.0), 0.0)
            fit = logistic_laplace(x, y, weights=w, prior_sd=prior, n_iter=self.n_iter)
            return fit.mode[1], jnp.sqrt(fit.cov[1, 1])

        return jax.vmap(one, in_axes=1)(n_strata, events_strata, n_control_strata, events_control_strata)
