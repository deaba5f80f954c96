"""Frequentist group-sequential analysis: each active arm against the control, with alpha-spending boundaries.

Boundaries are computed once per design (:func:`efficacy_bounds`, NumPy/SciPy) with
:func:`sepsim.platform.stats.group_sequential_bounds` at the planned information fractions
``look_n / look_n[-1]``; the family-wise one-sided ``alpha`` is split equally across the non-control arms of an
analysis unit (Bonferroni; Dmitrienko, Tamhane & Bretz 2010, "Multiple Testing Problems in Pharmaceutical
Statistics", sec. 2.6). At each look :meth:`FrequentistAnalysis.statistics` gives one z per arm, signed so that a
positive z favours the arm over the control (respecting ``higher_is_better``):

- ``z``: pooled two-proportion z (binary) or the difference-of-means z with pooled variance (normal model);
- ``chisq``: the signed square root of Pearson's X^2 (equal to the pooled z for a 2x2 table);
- ``fisher``: the one-sided exact conditional p-value ``p`` mapped to ``z = Phi^-1(1 - p)``, so ``z >= z_k`` is
  exactly ``p <= 1 - Phi(z_k)`` (the boundary's nominal level);
- ``cmh``: the signed Cochran–Mantel–Haenszel z over the strata of the unit.

Decisions (:mod:`sepsim.platform._decisions.frequentist`) compare these with the boundaries.
"""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import ndtri
from jaxtyping import Array, Bool, Float, Int, Key

from ..stats import (
    chi_square_2x2,
    cochran_mantel_haenszel,
    fisher_exact_2x2,
    group_sequential_bounds,
    mean_and_variance,
    mean_difference_z,
    two_proportion_z,
)
from .base import AbstractAnalysis, AnalysisNeeds

__all__ = ["FrequentistAnalysis", "efficacy_bounds"]


def efficacy_bounds(
    look_n: tuple[int, ...], n_comparisons: tuple[int, ...], *, alpha: float, spending: str, gamma: float | None
) -> tuple[tuple[float, ...], ...]:
    """Efficacy z boundaries ``(unit, look)``: ``alpha / n_comparisons[u]`` spent at ``look_n / look_n[-1]``."""
    t = np.asarray(look_n, dtype=np.float64) / look_n[-1]
    cache: dict[int, tuple[float, ...]] = {}
    out = []
    for m in n_comparisons:
        if m not in cache:
            b = group_sequential_bounds(t, alpha=alpha / max(m, 1), spending=spending, gamma=gamma)
            cache[m] = tuple(float(z) for z in b.z)
        out.append(cache[m])
    return tuple(out)


class FrequentistAnalysis(AbstractAnalysis):
    """Group-sequential tests of every arm against the control (see the module docstring).

    Attributes:
        higher_is_better: sign of the z statistics (positive = the arm is better than the control).
        test: "z", "chisq", "fisher" or "cmh".
        model: "beta_binomial" (binary outcome) or "normal" (continuous outcome; "z" only).
        n_max: maximum sample size (bounds the support of Fisher's test).
        control_arm: the design's control arm.
        has_futility: whether the design has futility bounds.

    The boundaries themselves (:func:`efficacy_bounds`, ``analysis.futility_z``) are traced inputs of the trial
    function (``thresholds["efficacy_z"]``, ``thresholds["futility_z"]``), so designs that differ only in
    ``alpha``, spending function or look-wise bounds share one compilation.
    """

    higher_is_better: bool = eqx.field(static=True)
    test: str = eqx.field(static=True)
    model: str = eqx.field(static=True)
    n_max: int = eqx.field(static=True)
    control_arm: int = eqx.field(static=True)
    has_futility: bool = eqx.field(static=True, default=False)

    @property
    def needs(self) -> AnalysisNeeds:
        return AnalysisNeeds(frequentist=True, sum_squares=self.model == "normal")

    def prepare(
        self,
        n: Float[Array, " arm"],
        total: Float[Array, " arm"],
        active: Bool[Array, " arm"],
        *,
        key: Key[Array, ""] | None = None,
        **tables: Any,
    ) -> dict[str, Any]:
        """The look's context: ``z``, the signed statistic of every arm against the control (:meth:`statistics`)."""
        del active, key
        return {"z": self.statistics(n, total, **tables)}

    def p_best(self, ctx: dict[str, Any], active: Bool[Array, " arm"]) -> Float[Array, " arm"]:
        raise TypeError("a frequentist analysis has no P(best): its decisions compare ctx['z'] with the boundaries")

    def vs_control(
        self, ctx: dict[str, Any], active: Bool[Array, " arm"], control: Int[Array, ""]
    ) -> tuple[Float[Array, " arm"], Float[Array, " arm"], Float[Array, " arm"]]:
        raise TypeError("a frequentist analysis has no posterior comparison: it decides on ctx['z'] (statistics)")

    def statistics(
        self,
        n: Float[Array, " arm"],
        total: Float[Array, " arm"],
        *,
        total_sq: Float[Array, " arm"] | None = None,
        n_strata: Float[Array, "stratum arm"] | None = None,
        total_strata: Float[Array, "stratum arm"] | None = None,
        n_control: Float[Array, " arm"] | None = None,
        total_control: Float[Array, " arm"] | None = None,
    ) -> Float[Array, " arm"]:
        """Signed z of each arm against the control (0 for the control itself).

        Args:
            n, total: patients and sum of outcomes (events for binary outcomes) per arm.
            total_sq: sum of squared outcomes per arm (normal model).
            n_strata, total_strata: the same per stratum (``cmh``).
            n_control, total_control: per arm, the (concurrent) control data it is compared with.
        """
        c = self.control_arm
        n_c = n[c] if n_control is None else n_control
        e_c = total[c] if total_control is None else total_control
        n_c, e_c = jnp.broadcast_to(n_c, n.shape), jnp.broadcast_to(e_c, n.shape)
        sign = 1.0 if self.higher_is_better else -1.0
        if self.model == "normal":
            assert total_sq is not None, "the normal model needs total_sq"
            mean, var = mean_and_variance(total, total_sq, n)
            z = mean_difference_z(mean[c], var[c], n[c], mean, var, n, pooled=True).statistic
        elif self.test == "z":
            z = two_proportion_z(e_c, n_c, total, n).statistic
        elif self.test == "chisq":
            x2 = chi_square_2x2(e_c, n_c, total, n).statistic
            diff = total / jnp.maximum(n, 1.0) - e_c / jnp.maximum(n_c, 1.0)
            z = jnp.sign(diff) * jnp.sqrt(x2)
        elif self.test == "fisher":
            alt = "greater" if self.higher_is_better else "less"
            p = fisher_exact_2x2(e_c, n_c, total, n, n_max=self.n_max, alternative=alt).p_value
            return jnp.where(jnp.arange(n.shape[-1]) == c, 0.0, -ndtri(jnp.clip(p, 1e-300, 1.0)))
        else:  # cmh over strata (axis 0)
            assert n_strata is not None and total_strata is not None, "cmh needs the (stratum, arm) tables"
            z = cochran_mantel_haenszel(
                total_strata[:, c][:, None], n_strata[:, c][:, None], total_strata, n_strata, axis=0
            ).statistic
        z = sign * z
        return jnp.where(jnp.arange(n.shape[-1]) == c, 0.0, z)

    def posterior_mean(self, n: Float[Array, "..."], events: Float[Array, "..."]) -> Float[Array, "..."]:
        """The observed mean per arm (NaN where an arm has no patients)."""
        return jnp.where(n > 0, events / jnp.maximum(n, 1.0), jnp.nan)
