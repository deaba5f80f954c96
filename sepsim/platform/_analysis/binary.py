"""The per-look analysis the stopping step consumes: Beta–binomial posterior probabilities per arm.

The engine talks to an analysis through two calls, so another analysis (e.g. a frequentist group-sequential
z-test from :mod:`sepsim.platform.stats`) can be plugged in with the same shapes:

- ``prepare(n, events, active, key=...)`` -> a context (posterior parameters plus a quadrature grid or draws),
  computed once per look from ``(n, events)`` per arm;
- ``evaluate(ctx, active, control)`` -> :class:`LookProbabilities` for a subset of arms and a control. The engine
  calls it again after arms are dropped or the control changes; with a grid or draws this is cheap.

Thresholds in :class:`~sepsim.platform.StoppingConfig` are compared with these probabilities (adaptr semantics).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float, Int, Key

from ..stats._posterior_binary import (
    beta_grid,
    prob_all_equivalent_draws,
    prob_all_equivalent_quadrature,
    prob_best_draws,
    prob_best_quadrature,
    prob_vs_control_draws,
    prob_vs_control_quadrature,
)
from .base import AbstractAnalysis, AnalysisNeeds

__all__ = ["LookProbabilities", "BetaBinomialAnalysis"]


class LookProbabilities(NamedTuple):
    """Probabilities at one look (NaN where not defined)."""

    p_best: Float[Array, " arm"]
    p_better: Float[Array, " arm"]
    p_equivalent: Float[Array, " arm"]
    p_futile: Float[Array, " arm"]
    p_all_equivalent: Float[Array, ""]


class BetaBinomialAnalysis(AbstractAnalysis):
    """Beta(prior_a, prior_b) prior, binomial likelihood; probabilities by quadrature or posterior draws."""

    higher_is_better: bool = eqx.field(static=True)
    method: str = eqx.field(static=True, default="quadrature")
    n_grid: int = eqx.field(static=True, default=65)
    n_draws: int = eqx.field(static=True, default=5000)
    prior_a: float = eqx.field(static=True, default=1.0)
    prior_b: float = eqx.field(static=True, default=1.0)
    equivalence_margin: float = eqx.field(static=True, default=0.0)
    futility_margin: float = eqx.field(static=True, default=0.0)
    need_control: bool = eqx.field(static=True, default=False)
    need_all_equivalent: bool = eqx.field(static=True, default=False)
    control_arm: int = eqx.field(static=True, default=-1)

    @property
    def needs(self) -> AnalysisNeeds:
        return AnalysisNeeds()

    def posterior(self, n: Float[Array, " arm"], events: Float[Array, " arm"]):
        return self.prior_a + events, self.prior_b + (n - events)

    def posterior_mean(self, n: Float[Array, "..."], events: Float[Array, "..."]) -> Float[Array, "..."]:
        return (self.prior_a + events) / (self.prior_a + self.prior_b + n)

    def prepare(
        self,
        n: Float[Array, " arm"],
        events: Float[Array, " arm"],
        active: Bool[Array, " arm"],
        *,
        key: Key[Array, ""],
        n_control: Float[Array, " arm"] | None = None,
        events_control: Float[Array, " arm"] | None = None,
    ) -> dict[str, Any]:
        """Posterior parameters plus a grid (quadrature) or draws; ``n_control``/``events_control`` give, per arm,
        the (concurrent) control data its comparison with the control uses."""
        a, b = self.posterior(n, events)
        ctx: dict[str, Any] = {"a": a, "b": b}
        if n_control is not None and events_control is not None:
            ctx["a_c"], ctx["b_c"] = self.posterior(n_control, events_control)
        if self.method == "quadrature":
            ctx["grid"] = beta_grid(a, b, active, n_grid=self.n_grid)
        else:
            k1, k2 = jax.random.split(key)
            ctx["draws"] = jax.random.beta(k1, a, b, shape=(self.n_draws, a.shape[-1]), dtype=a.dtype)
            if "a_c" in ctx:
                ctx["draws_c"] = jax.random.beta(k2, ctx["a_c"], ctx["b_c"], shape=(self.n_draws, a.shape[-1]))
        return ctx

    def p_best(self, ctx: dict[str, Any], active: Bool[Array, " arm"]) -> Float[Array, " arm"]:
        """P(arm is best) among ``active`` arms (0 elsewhere)."""
        a, b = ctx["a"], ctx["b"]
        if self.method == "quadrature":
            return prob_best_quadrature(a, b, active, higher_is_better=self.higher_is_better, grid=ctx["grid"])
        return prob_best_draws(a, b, active, key=None, higher_is_better=self.higher_is_better, draws=ctx["draws"])

    def p_all_equivalent(self, ctx: dict[str, Any], active: Bool[Array, " arm"]) -> Float[Array, ""]:
        """P(all ``active`` arms within ``equivalence_margin`` of one another)."""
        a, b, m = ctx["a"], ctx["b"], self.equivalence_margin
        if self.method == "quadrature":
            return prob_all_equivalent_quadrature(a, b, active, margin=m, grid=ctx["grid"])
        return prob_all_equivalent_draws(a, b, active, key=None, margin=m, draws=ctx["draws"])

    def vs_control(
        self, ctx: dict[str, Any], active: Bool[Array, " arm"], control: Int[Array, ""]
    ) -> tuple[Float[Array, " arm"], Float[Array, " arm"], Float[Array, " arm"]]:
        """(P(better), P(equivalent), P(futile)) of each active arm against ``control`` (NaN for the control)."""
        a, b = ctx["a"], ctx["b"]
        k = a.shape[-1]
        hib = self.higher_is_better
        control = jnp.asarray(control).astype(jnp.int32)
        c = jnp.maximum(control, 0)
        if self.method == "quadrature":
            pb, pe, pf = prob_vs_control_quadrature(
                a,
                b,
                c,
                active,
                higher_is_better=hib,
                equivalence_margin=self.equivalence_margin,
                futility_margin=self.futility_margin,
                grid=ctx["grid"],
            )
        else:
            pb, pe, pf = prob_vs_control_draws(
                a,
                b,
                c,
                active,
                key=None,
                higher_is_better=hib,
                equivalence_margin=self.equivalence_margin,
                futility_margin=self.futility_margin,
                draws=ctx["draws"],
            )
        if "a_c" in ctx:  # concurrent controls: only while the design's own control arm is the control
            cb, ce, cf = self._concurrent(ctx)
            own = control == self.control_arm
            pb, pe, pf = (jnp.where(own, x, y) for x, y in ((cb, pb), (ce, pe), (cf, pf)))
        keep = active & (jnp.arange(k, dtype=jnp.int32) != control) & (control >= 0)
        pb, pe, pf = (jnp.where(keep, x, jnp.nan) for x in (pb, pe, pf))
        return pb, pe, pf

    def evaluate(self, ctx: dict[str, Any], active: Bool[Array, " arm"], control: Int[Array, ""]) -> LookProbabilities:
        """Every probability at once (NaN where the design does not need it)."""
        a = ctx["a"]
        k = a.shape[-1]
        nan = jnp.full((k,), jnp.nan, dtype=a.dtype)
        pb = pe = pf = nan
        if self.need_control:
            pb, pe, pf = self.vs_control(ctx, active, control)
        p_all = self.p_all_equivalent(ctx, active) if self.need_all_equivalent else jnp.asarray(jnp.nan, a.dtype)
        return LookProbabilities(self.p_best(ctx, active), pb, pe, pf, p_all)

    def _concurrent(self, ctx):
        """Each arm against its own (concurrent) control data."""
        if self.method == "quadrature":
            return self._concurrent_quadrature(ctx["a"], ctx["b"], ctx["a_c"], ctx["b_c"])
        d, ctrl = ctx["draws"], ctx["draws_c"]
        better = d > ctrl if self.higher_is_better else d < ctrl
        equiv = jnp.abs(d - ctrl) < self.equivalence_margin
        sign = -1.0 if self.higher_is_better else 1.0
        fut = sign * (ctrl - d) < self.futility_margin
        return tuple(jnp.mean(x.astype(d.dtype), axis=0) for x in (better, equiv, fut))

    def _concurrent_quadrature(self, a, b, a_c, b_c):
        """Each arm against its own (concurrent) control posterior: one two-arm grid per arm."""

        def one(ak, bk, ac, bc):
            aa = jnp.stack([ak, ac])
            bb = jnp.stack([bk, bc])
            both = jnp.ones((2,), dtype=bool)
            r = prob_vs_control_quadrature(
                aa,
                bb,
                jnp.asarray(1),
                both,
                higher_is_better=self.higher_is_better,
                equivalence_margin=self.equivalence_margin,
                futility_margin=self.futility_margin,
                n_grid=self.n_grid,
            )
            return r[0][0], r[1][0], r[2][0]

        return jax.vmap(one)(a, b, a_c, b_c)
