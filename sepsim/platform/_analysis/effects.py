"""Decisions from a normal (Laplace) posterior of arm effects on the log-odds scale: the shared part of the
proportional-odds, logistic and hierarchical analyses.

Each of those analyses reduces a look's data to ``theta``, one effect per arm on the log-odds scale (the reference
arm's is 0), with a posterior that is normal, ``N(mean, cov)``, or close to it, and ``chol`` a factor with
``chol @ chol.T = cov``. Larger ``theta`` means more events (binary) or higher categories (ordinal); with
``higher_is_better=False`` a smaller ``theta`` is better.

- P(better than control), P(equivalent), P(futile): exact under the normal posterior (``Phi`` of the standardised
  difference, with the covariance between the two arms). Margins are on the log odds ratio scale.
- P(best) and P(all equivalent): exact for two arms; for more, the fraction of ``M`` fixed draws from the posterior
  normal in which an arm is best. ``method="quadrature"`` uses a fixed scrambled Sobol point set (M = 4096,
  deterministic; against 4,000,000 draws over 20 random 3-5-arm posteriors the largest error was 3.6e-3, the
  median 1.2e-3; 16384 points would halve it at 4 times the memory), ``method="draws"`` ``n_draws``
  pseudo-random draws from the look's key (Monte-Carlo SD ``sqrt(p (1 - p) / n_draws)`` <= 0.007 at 5000).

Concurrent controls (``design.concurrent_controls`` with a late arm): a subclass adds ``pair_mean``/``pair_sd`` to
the context, each arm's log odds ratio against its own concurrent control data from a separate two-arm fit (arm
``k`` vs the control patients randomised while ``k`` was open). While the design's control is the control,
P(better), P(equivalent) and P(futile) come from that pairwise posterior; P(best), P(all equivalent) and
comparisons with another control use the joint all-data fit. These are the semantics of the beta-binomial
analysis's ``n_control``/``events_control``.
"""

from __future__ import annotations

import functools
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import ndtr
from jaxtyping import Array, Bool, Float, Int, Key

from .base import AbstractAnalysis

__all__ = ["EffectsAnalysis", "N_SOBOL"]

N_SOBOL = 4096  # points of the deterministic ("quadrature") posterior sample for P(best) with > 2 arms


@functools.lru_cache(maxsize=16)
def _sobol_normals(m: int, d: int) -> np.ndarray:
    """``(m, d)`` standard normal points from a scrambled Sobol sequence (fixed seed: deterministic)."""
    from scipy.stats import norm, qmc

    u = qmc.Sobol(d, scramble=True, seed=20251121).random(m)  # pyright: ignore[reportCallIssue]
    return norm.ppf(np.clip(u, 1e-12, 1 - 1e-12))


class EffectsAnalysis(AbstractAnalysis):
    """Base class: subclasses implement ``prepare`` returning a context with ``mean``, ``cov``, ``chol`` (arm
    effects) and, from this class's ``_sample``, ``z`` (standard normal points) when there are more than 2 arms."""

    higher_is_better: bool = eqx.field(static=True)
    method: str = eqx.field(static=True, default="quadrature")
    n_draws: int = eqx.field(static=True, default=5000)
    equivalence_margin: float = eqx.field(static=True, default=0.0)
    futility_margin: float = eqx.field(static=True, default=0.0)
    control_arm: int = eqx.field(static=True, default=-1)
    prior_sd: float = eqx.field(static=True, default=10.0)

    def posterior_mean(self, n: Float[Array, "..."], events: Float[Array, "..."]) -> Float[Array, "..."]:
        """Per-arm summary reported as ``estimate``: the Beta(1, 1) posterior mean event rate (binary models)."""
        return (1.0 + events) / (2.0 + n)

    def _sample(self, ctx: dict[str, Any], key: Key[Array, ""] | None) -> dict[str, Any]:
        k = ctx["mean"].shape[-1]
        if k > 2:
            if self.method == "draws":
                assert key is not None, "posterior draws need a key"
                ctx["z"] = jax.random.normal(key, (self.n_draws, k), dtype=ctx["mean"].dtype)
            else:
                ctx["z"] = jnp.asarray(_sobol_normals(N_SOBOL, k), dtype=ctx["mean"].dtype)
        return ctx

    # ---- pairwise (exact under the normal posterior) -----------------------------------------------------------
    def _diff(self, ctx: dict[str, Any], c: Int[Array, ""]) -> tuple[Array, Array]:
        """Mean and sd of ``theta_k - theta_c`` for every arm ``k``."""
        mean, cov = ctx["mean"], ctx["cov"]
        var = jnp.diagonal(cov) + cov[c, c] - 2.0 * cov[:, c]
        return mean - mean[c], jnp.sqrt(jnp.maximum(var, 1e-300))

    def _p_greater(self, ctx: dict[str, Any], c: Int[Array, ""], delta: float = 0.0) -> Float[Array, " arm"]:
        """``P(theta_k - theta_c > delta)`` for every arm ``k``."""
        d, sd = self._diff(ctx, c)
        return ndtr((d - delta) / sd)

    def vs_control(
        self, ctx: dict[str, Any], active: Bool[Array, " arm"], control: Int[Array, ""]
    ) -> tuple[Float[Array, " arm"], Float[Array, " arm"], Float[Array, " arm"]]:
        """(P(better), P(equivalent), P(futile)) of each active arm against ``control`` (NaN for the control)."""
        k = ctx["mean"].shape[-1]
        control = jnp.asarray(control).astype(jnp.int32)
        c = jnp.maximum(control, 0)
        up0 = self._p_greater(ctx, c)
        pb = up0 if self.higher_is_better else 1.0 - up0
        m, mf = self.equivalence_margin, self.futility_margin
        pe = self._p_greater(ctx, c, -m) - self._p_greater(ctx, c, m)
        pf = 1.0 - self._p_greater(ctx, c, mf) if self.higher_is_better else self._p_greater(ctx, c, -mf)
        if "pair_mean" in ctx:  # concurrent controls: only while the design's own control is the control
            own = control == self.control_arm
            pb, pe, pf = (jnp.where(own, x, y) for x, y in zip(self._vs_concurrent(ctx), (pb, pe, pf), strict=True))
        keep = active & (jnp.arange(k, dtype=jnp.int32) != control) & (control >= 0)
        pb, pe, pf = (jnp.where(keep, x, jnp.nan) for x in (pb, pe, pf))
        return pb, pe, pf

    def _vs_concurrent(self, ctx: dict[str, Any]) -> tuple[Array, Array, Array]:
        """(P(better), P(equivalent), P(futile)) of each arm against its concurrent controls (pairwise normal)."""
        d, sd = ctx["pair_mean"], jnp.maximum(ctx["pair_sd"], 1e-150)

        def up(delta):
            return ndtr((d - delta) / sd)

        m, mf = self.equivalence_margin, self.futility_margin
        pb = up(0.0) if self.higher_is_better else 1.0 - up(0.0)
        pe = up(-m) - up(m)
        pf = 1.0 - up(mf) if self.higher_is_better else up(-mf)
        return pb, pe, pf

    # ---- P(best), P(all equivalent) ----------------------------------------------------------------------------
    def _draws(self, ctx: dict[str, Any]) -> Float[Array, "draw arm"]:
        return ctx["mean"][None, :] + ctx["z"] @ ctx["chol"].T

    def p_best(self, ctx: dict[str, Any], active: Bool[Array, " arm"]) -> Float[Array, " arm"]:
        """P(arm is best) among ``active`` arms (0 elsewhere)."""
        mean = ctx["mean"]
        k = mean.shape[-1]
        if k == 2:  # exact: P(arm 1 better than arm 0), against the design's control when it is one of them
            ref = max(self.control_arm, 0)
            up = self._p_greater(ctx, jnp.asarray(ref, jnp.int32))[1 - ref]
            p_other = up if self.higher_is_better else 1.0 - up
            both = jnp.stack([1.0 - p_other, p_other]) if ref == 0 else jnp.stack([p_other, 1.0 - p_other])
            return jnp.where(jnp.all(active), both, active.astype(mean.dtype))
        sign = 1.0 if self.higher_is_better else -1.0
        v = jnp.where(active[None, :], sign * self._draws(ctx), -jnp.inf)
        best = jax.nn.one_hot(jnp.argmax(v, axis=1), k, dtype=mean.dtype)
        return jnp.where(active, jnp.mean(best, axis=0), 0.0)

    def p_all_equivalent(self, ctx: dict[str, Any], active: Bool[Array, " arm"]) -> Float[Array, ""]:
        """P(all ``active`` arms within ``equivalence_margin`` of one another on the log-odds scale)."""
        mean = ctx["mean"]
        m = self.equivalence_margin
        if mean.shape[-1] == 2:
            p = (
                self._p_greater(ctx, jnp.asarray(0, jnp.int32), -m)[1]
                - self._p_greater(ctx, jnp.asarray(0, jnp.int32), m)[1]
            )
            return jnp.where(jnp.all(active), p, 1.0)
        d = self._draws(ctx)
        hi = jnp.max(jnp.where(active[None, :], d, -jnp.inf), axis=1)
        lo = jnp.min(jnp.where(active[None, :], d, jnp.inf), axis=1)
        return jnp.mean((hi - lo < m).astype(mean.dtype))


def embed_effects(
    beta: Float[Array, " m"], beta_cov: Float[Array, "m m"], ref: int, k: int
) -> tuple[Float[Array, " arm"], Float[Array, "arm arm"], Float[Array, "arm arm"]]:
    """Arm effects ``theta`` (``theta_ref = 0``) in arm order from the effects of the other arms (in arm order with
    ``ref`` left out): mean, covariance and a Cholesky factor (zero row and column for ``ref``)."""
    others = np.asarray([j for j in range(k) if j != ref])
    mean = jnp.zeros((k,), beta.dtype).at[others].set(beta)
    cov = jnp.zeros((k, k), beta.dtype).at[np.ix_(others, others)].set(beta_cov)
    jitter = 1e-12 * jnp.eye(beta_cov.shape[0], dtype=beta.dtype) * jnp.max(jnp.diagonal(beta_cov))
    chol = jnp.zeros((k, k), beta.dtype).at[np.ix_(others, others)].set(jnp.linalg.cholesky(beta_cov + jitter))
    return mean, cov, chol
