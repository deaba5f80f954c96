"""Ordinal outcome in the trial engine: proportional-odds (cumulative logit) model by a Laplace approximation.

The outcome table holds integer categories ``0 .. C-1``; the engine accumulates patients per (arm, category) and
:func:`sepsim.platform.stats.proportional_odds_posterior`'s Laplace fit (damped Newton, ``N(0, prior_sd^2)``
priors on the log odds ratios, flat Dirichlet on the category probabilities at the arms' average linear
predictor) gives the arms' log odds ratios for a *higher* category against the reference arm (the control, or
arm 0 without one), with their joint covariance. Decisions then follow
:class:`~sepsim.platform._analysis.effects.EffectsAnalysis`: P(better than control) is exactly ``Phi`` of the
standardised difference under the Laplace normal; "better" is a higher category with ``higher_is_better``.

Concurrent controls: with ``counts_control`` (per arm, the category counts of the control patients randomised while
that arm was open) each arm is also fitted against its own concurrent controls, a two-arm table
``[control's concurrent counts, arm's counts]`` with the same prior and reference (vmapped over arms); its log odds
ratio's mode and sd are the context's ``pair_mean``/``pair_sd`` (see :mod:`._analysis_effects`).
"""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Bool, Float, Key

from ..._errors import ConfigError
from ..stats._proportional_odds import proportional_odds_laplace
from .base import AnalysisNeeds
from .effects import EffectsAnalysis, embed_effects

__all__ = ["ProportionalOddsAnalysis", "ordinal_categories"]


class ProportionalOddsAnalysis(EffectsAnalysis):
    """Proportional-odds model; ``prepare`` needs ``counts``, patients per (arm, category)."""

    n_categories: int = eqx.field(static=True, default=2)
    n_iter: int = eqx.field(static=True, default=30)

    @property
    def needs(self) -> AnalysisNeeds:
        return AnalysisNeeds(n_categories=self.n_categories)

    def posterior_mean(self, n: Float[Array, "..."], events: Float[Array, "..."]) -> Float[Array, "..."]:
        """Mean category of each arm (``events`` holds the sum of categories)."""
        return events / jnp.maximum(n, 1.0)

    def prepare(
        self,
        n: Float[Array, " arm"],
        events: Float[Array, " arm"],
        active: Bool[Array, " arm"],
        *,
        key: Key[Array, ""] | None = None,
        counts: Float[Array, "arm cat"],
        counts_control: Float[Array, "arm cat"] | None = None,
        n_control: Float[Array, " arm"] | None = None,
        events_control: Float[Array, " arm"] | None = None,
    ) -> dict[str, Any]:
        """Laplace posterior of the arms' log odds ratios (reference arm first in the fit, as the analyses
        function expects), embedded back in arm order; with ``counts_control`` also each arm's pairwise fit
        against its concurrent controls (``n_control``/``events_control`` are not used)."""
        del n, events, active, n_control, events_control
        k = counts.shape[0]
        ref = max(self.control_arm, 0)
        perm = np.asarray([ref] + [j for j in range(k) if j != ref])
        beta, beta_cov, _, converged = proportional_odds_laplace(
            counts[perm],
            jnp.asarray(self.prior_sd, counts.dtype),
            jnp.asarray(1.0, counts.dtype),
            self.n_iter,
            "average",
        )
        mean, cov, chol = embed_effects(beta, beta_cov, ref, k)
        ctx = dict(mean=mean, cov=cov, chol=chol, converged=converged)
        if counts_control is not None:
            ctx["pair_mean"], ctx["pair_sd"] = self.pairwise(counts, counts_control)
        return self._sample(ctx, key)

    def pairwise(
        self, counts: Float[Array, "arm cat"], counts_control: Float[Array, "arm cat"]
    ) -> tuple[Float[Array, " arm"], Float[Array, " arm"]]:
        """Each arm's log odds ratio (mode, sd) from the two-arm fit against its own control data."""

        def one(arm_counts, ctrl_counts):
            beta, beta_cov, _, _ = proportional_odds_laplace(
                jnp.stack([ctrl_counts, arm_counts]),
                jnp.asarray(self.prior_sd, counts.dtype),
                jnp.asarray(1.0, counts.dtype),
                self.n_iter,
                "average",
            )
            return beta[0], jnp.sqrt(beta_cov[0, 0])

        return jax.vmap(one)(counts, counts_control)


def ordinal_categories(n_categories: int | None, outcome: np.ndarray) -> int:
    """Number of categories ``C``: ``analysis.n_categories`` or ``max + 1`` of the table; checks that every value
    is an integer in ``0 .. C-1``."""
    y = np.asarray(outcome, dtype=np.float64)
    key = "design.analysis.n_categories"
    bad = ~np.isfinite(y) | (y != np.round(y)) | (y < 0)
    if np.any(bad):
        i, a = np.argwhere(bad)[0]
        raise ConfigError(
            key,
            f"model 'proportional_odds' needs integer categories 0..C-1 in the outcome table; patient {i}, "
            f"arm column {a} holds {y[i, a]!r}",
        )
    c = int(n_categories) if n_categories is not None else int(y.max()) + 1
    if c < 2:
        raise ConfigError(key, f"needs at least 2 categories, the outcome table has {c}")
    if y.max() >= c:
        i, a = np.argwhere(y >= c)[0]
        raise ConfigError(key, f"is {c} but patient {i}, arm column {a} holds category {int(y[i, a])} (max {c - 1})")
    return c
