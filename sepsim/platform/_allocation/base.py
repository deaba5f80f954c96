"""Allocation rules: the abstract base and adaptr's softening / minimum / maximum limits.

A rule maps what the analysis knows at a look (:class:`AllocationInputs`) to raw weights for each arm and,
optionally, fixed probabilities for some arms. :func:`apply_limits` then turns them into allocation probabilities
exactly as adaptr's ``reallocate_probs`` (INCEPTdk/adaptr, ``R/prob_funs.R``): softening power on the non-fixed
probabilities, then minimum/maximum limits applied iteratively until everything sums to one.
"""

from __future__ import annotations

import abc
from typing import ClassVar, NamedTuple

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float, Int

__all__ = ["AbstractAllocationRule", "AllocationInputs", "apply_limits"]

_EPS = 1.4901161193847656e-08  # .Machine$double.eps^0.5, adaptr's tolerance


def _tolerance(dtype) -> float:
    """adaptr's tolerance for "the probabilities sum to 1", the square root of the machine epsilon
    (``.Machine$double.eps^0.5``), taken for the precision computed in: 1.49e-8 (:data:`_EPS`) in float64, 3.45e-4
    in float32. float64's tolerance in float32 is below the rounding of a sum of three probabilities (~6e-8): the
    limits loop then often never finished and left NaN allocation probabilities (3,538 of 10,000 float32
    adaptr-design trials ended differently from float64; ``tests/platform/test_engine_float32.py``,
    ``benchmarks/bench_trials.md``)."""
    return _EPS if jnp.dtype(dtype) == jnp.float64 else float(jnp.finfo(dtype).eps) ** 0.5


class AllocationInputs(NamedTuple):
    """What an allocation rule may use at a look (one analysis unit: the whole trial or one stratum).

    Attributes:
        p_best: P(arm is best) among the active arms (0 for inactive arms).
        p_better: P(arm better than the control) (NaN for the control / inactive arms / no control).
        active: arms that may receive patients after this look.
        control: index of the current control arm (-1 when none).
        n_arm: patients with outcome data per arm.
        info_frac: n / N, patients with outcome data over the maximum sample size.
    """

    p_best: Float[Array, " arm"]
    p_better: Float[Array, " arm"]
    active: Bool[Array, " arm"]
    control: Int[Array, ""]
    n_arm: Float[Array, " arm"]
    info_frac: Float[Array, ""]


class AbstractAllocationRule(eqx.Module):
    """Base of all allocation rules.

    Subclasses implement :meth:`weights`, returning ``(weights, fixed)``: non-negative weights for the arms whose
    probability is not fixed, and fixed probabilities (NaN where not fixed). :meth:`__call__` applies adaptr's
    limits and returns allocation probabilities summing to 1 over the active arms. A rule that reads
    ``AllocationInputs.p_better`` sets ``needs_p_better``: only then do the engines compute P(better than control)
    for it (otherwise they pass P(best) in that slot).
    """

    needs_p_better: ClassVar[bool] = False
    min_prob: float | None = eqx.field(static=True, default=None)
    max_prob: float | None = eqx.field(static=True, default=None)
    soften_power: float = eqx.field(static=True, default=1.0)

    @abc.abstractmethod
    def weights(self, inp: AllocationInputs) -> tuple[Float[Array, " arm"], Float[Array, " arm"]]:
        raise NotImplementedError

    def limits_apply_to(self, inp: AllocationInputs) -> Bool[Array, " arm"]:
        """Arms whose probability the min/max limits constrain (all active arms by default)."""
        return inp.active

    def __call__(self, inp: AllocationInputs) -> Float[Array, " arm"]:
        w, fixed = self.weights(inp)
        lim = self.limits_apply_to(inp)
        nan = jnp.full_like(w, jnp.nan)
        mn = nan if self.min_prob is None else jnp.where(lim, self.min_prob, jnp.nan)
        mx = nan if self.max_prob is None else jnp.where(lim, self.max_prob, jnp.nan)
        return apply_limits(w, inp.active, fixed=fixed, min_prob=mn, max_prob=mx, soften_power=self.soften_power)


def _rescale(x, mask):
    x = jnp.where(mask, x, 0.0)
    s = jnp.sum(x)
    n = jnp.maximum(jnp.sum(mask), 1).astype(x.dtype)
    return jnp.where(s > 0, x / jnp.where(s > 0, s, 1.0), jnp.where(mask, 1.0 / n, 0.0))


def apply_limits(
    weights: Float[Array, " arm"],
    active: Bool[Array, " arm"],
    *,
    fixed: Float[Array, " arm"],
    min_prob: Float[Array, " arm"],
    max_prob: Float[Array, " arm"],
    soften_power: float = 1.0,
) -> Float[Array, " arm"]:
    """adaptr's ``reallocate_probs`` for the active arms (0 for inactive ones). NaN in ``fixed``/``min_prob``/
    ``max_prob`` means "no restriction" for that arm."""
    k = weights.shape[-1]
    tol = _tolerance(weights.dtype)
    w = jnp.where(active, jnp.maximum(weights, 0.0), 0.0)
    is_fixed = active & ~jnp.isnan(fixed)
    any_restriction = jnp.any(active & ~(jnp.isnan(fixed) & jnp.isnan(min_prob) & jnp.isnan(max_prob)))
    # 1. no restrictions: rescale(p ^ soften)
    plain = _rescale(jnp.power(w, soften_power), active)
    # 2. all fixed: rescale(fixed)
    all_fixed = jnp.all(is_fixed | ~active)
    only_fixed = _rescale(jnp.where(is_fixed, fixed, 0.0), active)
    # 3. iterative limits
    final = jnp.where(is_fixed, fixed, jnp.nan)
    for _ in range(k + 1):
        remaining = active & jnp.isnan(final)
        total_rem = 1.0 - jnp.sum(jnp.where(active & ~remaining, final, 0.0))
        rem_sum = jnp.sum(jnp.where(remaining, w, 0.0))
        n_rem = jnp.maximum(jnp.sum(remaining), 1).astype(w.dtype)
        factor = jnp.where(rem_sum > 0, w / jnp.where(rem_sum > 0, rem_sum, 1.0), 1.0 / n_rem)
        tmp = jnp.where(remaining, total_rem * factor, final)
        if soften_power < 1.0:
            tmp = jnp.where(
                remaining, total_rem * _rescale(jnp.power(jnp.where(remaining, tmp, 0.0), soften_power), remaining), tmp
            )
        tmp = jnp.where(active, tmp, 0.0)
        lo = ~jnp.isnan(min_prob) & remaining & (tmp < min_prob)
        tmp = jnp.where(lo, min_prob, tmp)
        final = jnp.where(lo, min_prob, final)
        hi = ~jnp.isnan(max_prob) & remaining & (tmp > max_prob)
        tmp = jnp.where(hi, max_prob, tmp)
        final = jnp.where(hi, max_prob, final)
        done = jnp.abs(jnp.sum(jnp.where(active, tmp, 0.0)) - 1.0) <= tol
        final = jnp.where(done & active, tmp, final)
        complete = ~jnp.any(active & jnp.isnan(final))
        off = jnp.abs(jnp.sum(jnp.where(active, final, 0.0)) - 1.0) > tol
        final = jnp.where(complete & off, _rescale(jnp.where(active, final, 0.0), active), final)
    limited = jnp.where(active, final, 0.0)
    return jnp.where(~any_restriction, plain, jnp.where(all_fixed, only_fixed, limited))
