"""Per-stratum decisions with borrowing across strata: normal-normal hierarchical model of the log odds ratios.

In each stratum ``s`` and for each arm ``k`` the empirical log odds ratio against the control
(:func:`sepsim.platform.stats.log_odds_ratio_estimates`: Haldane–Anscombe 0.5 correction, Woolf standard error)
is the data of :func:`sepsim.platform.stats.hierarchical_effects`: ``theta_sk ~ N(mu_k, tau_k^2)``,
``mu_k ~ N(0, prior_sd^2)``, ``tau_k ~ half-normal(tau_scale)`` on a 64-node grid (BDA3 sec. 5.4). The engine
computes this posterior once per look from every stratum's table (``across_units``) and hands each stratum's
slice to that stratum's decisions. Strata where an arm is not allowed or has no data (or no control data) enter
with a standard error of 1000 (no information). P(better than the design's control) is the exact mixture
probability over the tau grid; other comparisons (margins, a changed control, P(best) with > 2 arms) use the
normal with the posterior mean and sd of each ``theta_sk``, arms treated as independent.

Concurrent controls: with ``n_control``/``events_control`` ((stratum, arm): the control patients of the stratum
randomised while each arm was open) each arm's per-stratum log odds ratio is estimated against those instead of
all the stratum's controls; the whole posterior (and so every probability above) is then relative to each arm's
concurrent controls. The model is already a separate one per arm (``mu_k``, ``tau_k``), so this is the pairwise
fit.
"""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float, Int, Key

from ..stats import hierarchical_effects, log_odds_ratio_estimates
from .base import AnalysisNeeds
from .effects import EffectsAnalysis

__all__ = ["HierarchicalAnalysis"]

_NO_INFO_SE = 1000.0  # standard error given to strata without data for an arm (log odds ratio scale)


class HierarchicalAnalysis(EffectsAnalysis):
    """Hierarchical borrowing of each arm's log odds ratio across strata (per-stratum decision units)."""

    tau_scale: float = eqx.field(static=True, default=0.5)
    n_grid: int = eqx.field(static=True, default=64)

    @property
    def needs(self) -> AnalysisNeeds:
        return AnalysisNeeds(across_units=True)

    def across_units(
        self,
        n: Float[Array, "stratum arm"],
        events: Float[Array, "stratum arm"],
        eligible: Bool[Array, "stratum arm"],
        *,
        n_control: Float[Array, "stratum arm"] | None = None,
        events_control: Float[Array, "stratum arm"] | None = None,
    ) -> dict[str, Float[Array, "stratum arm"]]:
        """The borrowed posterior of every stratum's log odds ratios, from all strata's (stratum, arm) tables;
        ``n_control``/``events_control``: each arm's own (concurrent) control data, default the control column."""
        c = self.control_arm
        k = n.shape[-1]
        if n_control is None or events_control is None:
            n_control, events_control = n[:, c : c + 1], events[:, c : c + 1]
        est, se = log_odds_ratio_estimates(events_control, n_control, events, n)
        ok = eligible & (n > 0) & (n_control > 0) & (jnp.arange(k) != c)[None, :]
        est = jnp.where(ok, est, 0.0)
        se = jnp.where(ok, se, _NO_INFO_SE)
        post = hierarchical_effects(
            est.T, se.T, tau_scale=self.tau_scale, n_grid=self.n_grid, mu_prior_sd=self.prior_sd
        )
        is_c = (jnp.arange(k) == c)[None, :]
        return dict(
            mean=jnp.where(is_c, 0.0, post.mean.T),
            sd=jnp.where(is_c, 0.0, post.sd.T),
            prob=jnp.where(is_c, 0.5, post.prob_positive.T),
        )

    def prepare(
        self,
        n: Float[Array, " arm"],
        events: Float[Array, " arm"],
        active: Bool[Array, " arm"],
        *,
        key: Key[Array, ""] | None = None,
        across: dict[str, Float[Array, " arm"]],
        n_control: Float[Array, " arm"] | None = None,
        events_control: Float[Array, " arm"] | None = None,
    ) -> dict[str, Any]:
        """This stratum's slice of the borrowed posterior (independent normals with its means and sds); concurrent
        controls enter through ``across`` (``n_control``/``events_control`` are not used here)."""
        del n, events, active, n_control, events_control
        sd = across["sd"]
        ctx = dict(mean=across["mean"], cov=jnp.diag(sd * sd), chol=jnp.diag(sd), prob=across["prob"])
        return self._sample(ctx, key)

    def _p_greater(self, ctx: dict[str, Any], c: Int[Array, ""], delta: float = 0.0) -> Float[Array, " arm"]:
        approx = super()._p_greater(ctx, c, delta)
        if delta != 0.0:
            return approx
        return jnp.where(c == self.control_arm, ctx["prob"], approx)
