"""The numpyro model of the calibration: hyper-priors, importance weights over the library, target likelihoods.

Monte-Carlo error of every simulated statistic is in the likelihood: a statistic estimated from ``ess``
effective virtual patients (Kish effective sample size of the importance weights within the target's population)
has a Beta(p ess, (1 - p) ess) uncertainty, so a binomial count at the published ``n`` is beta-binomial and a
multinomial count Dirichlet-multinomial. When ``ess`` >> ``n`` they reduce to the plain binomial / multinomial.
Medians are order-statistic counts: ``P(#{SOFA <= v-1} <= below) P(#{SOFA <= v} >= at_or_below)`` with binomial
counts (the two events are treated as independent; Monte-Carlo error is reported, not modelled, for this row).

ESS floor: the Monte-Carlo error term flattens the likelihood where few library patients carry weight, which would
let the sampler drift there. A soft wall ``-0.5 (log(floor / ess)_+ / 0.25)^2`` on every fitted target's
population ESS keeps ``phi`` where the library can evaluate it (about -3.8 at half the floor); the rounds then
move the library to the posterior, so the wall is inactive at convergence (reported: ``ess.<id>`` per draw).
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
from jax.scipy.special import betainc, logsumexp

from .._latent import HyperPrior, LatentSpace, Population, log_density, sample_hyper
from ._library import Library
from ._targets import CompiledTarget

__all__ = [
    "LibraryArrays",
    "calibration_model",
    "ess_floor_penalty",
    "site_name",
    "target_statistics",
    "weighted_statistic",
]

_EPS = 1e-6


class LibraryArrays(NamedTuple):
    theta: Any
    x: Any
    log_q: Any


def site_name(target_id: str) -> str:
    """A netCDF-safe variable name for a target id (``IS-06/MALS/anakinra`` -> ``IS-06.MALS.anakinra``)."""
    return re.sub(r"[^A-Za-z0-9_.+-]", ".", target_id)


def library_arrays(lib: Library) -> LibraryArrays:
    return LibraryArrays(jnp.asarray(lib.theta), jnp.asarray(lib.x), jnp.asarray(lib.log_q))


def log_weights(pop: Population, arrays: LibraryArrays) -> Any:
    """``log p(theta_i | phi, x_i) - log q(theta_i | x_i)`` for every library patient."""
    return log_density(pop, arrays.theta, arrays.x) - arrays.log_q


def weighted_statistic(lw: Any, mask: Any, y: Any) -> tuple[Any, Any]:
    """Self-normalised weighted mean of the columns ``y`` over ``mask`` and its Kish effective sample size."""
    lwm = jnp.where(mask, lw, -jnp.inf)
    a = lwm - jnp.max(lwm)
    w = jnp.exp(a)
    p = (w @ y) / jnp.sum(w)
    ess = jnp.exp(2 * logsumexp(a) - logsumexp(2 * a))
    return p, ess


def _probs(t: CompiledTarget, p: Any) -> Any:
    if t.target.statistic == "endotype_enrolled":
        r = t.target.enrolled_fraction
        head = r * p[:-1]
        return jnp.concatenate([head, (1.0 - jnp.sum(head))[None]])
    if t.target.kind == "multinomial":
        return p / jnp.sum(p)
    return p


def target_statistics(pop: Population, arrays: LibraryArrays, compiled: tuple[CompiledTarget, ...]) -> list:
    """(probabilities, ess) of every target at ``phi``."""
    lw = log_weights(pop, arrays)
    out = []
    for t in compiled:
        p, ess = weighted_statistic(lw, jnp.asarray(t.mask), jnp.asarray(t.y))
        out.append((_probs(t, p), ess))
    return out


def _log_binom_cdf(k: Any, n: int, p: Any) -> Any:
    """log P(K <= k), K ~ Binomial(n, p) (regularised incomplete beta)."""
    return jnp.log(jnp.clip(betainc(n - k, k + 1.0, 1.0 - p), 1e-300, 1.0))


def median_log_likelihood(t: CompiledTarget, p: Any) -> Any:
    below, at_or_below = t.target.counts
    n = t.target.n
    f_lo, f_hi = jnp.clip(p[0], _EPS, 1 - _EPS), jnp.clip(p[1], _EPS, 1 - _EPS)
    upper = jnp.log1p(-jnp.exp(_log_binom_cdf(at_or_below - 1.0, n, f_hi)) + 1e-300)
    return _log_binom_cdf(float(below), n, f_lo) + upper


def ess_floor_penalty(ess: Any, floor: float) -> Any:
    """Soft wall on a target population's weight ESS below ``floor`` (module docstring); 0 at or above it."""
    if floor <= 0:
        return jnp.zeros(())
    gap = jnp.maximum(jnp.log(floor) - jnp.log(jnp.maximum(ess, 1e-12)), 0.0)
    return -0.5 * jnp.square(gap / 0.25)


def calibration_model(
    space: LatentSpace,
    prior: HyperPrior,
    arrays: LibraryArrays,
    compiled: tuple[CompiledTarget, ...],
    ess_floor: float = 0.0,
) -> None:
    """numpyro model: ``phi`` ~ hyper-prior; each fitted target's count | ``phi`` as in the module docstring."""
    pop = sample_hyper(space, prior)
    lw = log_weights(pop, arrays)
    a = lw - jnp.max(lw)
    numpyro.deterministic("weight_ess", jnp.exp(2 * logsumexp(a) - logsumexp(2 * a)))
    for t, (p, ess) in zip(compiled, target_statistics(pop, arrays, compiled), strict=True):
        name = site_name(t.target.id)
        numpyro.deterministic(f"sim.{name}", p)
        numpyro.deterministic(f"ess.{name}", ess)
        if not t.target.fit:
            continue
        numpyro.factor(f"ess_floor.{name}", ess_floor_penalty(ess, ess_floor))
        if t.target.kind == "binomial":
            q = jnp.clip(p[0], _EPS, 1 - _EPS)
            d = dist.BetaBinomial(q * ess, (1 - q) * ess, t.target.n)
            numpyro.sample(f"obs.{name}", d, obs=jnp.asarray(t.target.counts[0], dtype=jnp.float64))
        elif t.target.kind == "multinomial":
            q = jnp.clip(p, _EPS, 1.0)
            d = dist.DirichletMultinomial(q / jnp.sum(q) * ess, total_count=t.target.n)
            numpyro.sample(f"obs.{name}", d, obs=jnp.asarray(t.target.counts, dtype=jnp.float64))
        else:
            numpyro.factor(f"obs.{name}", median_log_likelihood(t, p))


def predictive_counts(t: CompiledTarget, p: np.ndarray, ess: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Replicate observations at the published ``n`` (including Monte-Carlo error), one per draw of ``p``.

    binomial: the count; multinomial: the category counts; median: the sample median of ``n`` SOFA values
    (three cells: <= v-1, = v, > v, reported as v-1, v, v+1: enough to say whether the median equals v).
    """
    n = t.target.n
    if t.target.kind == "binomial":
        q = np.clip(p[:, 0], _EPS, 1 - _EPS)
        return rng.binomial(n, rng.beta(q * ess, (1 - q) * ess))
    if t.target.kind == "multinomial":
        q = np.clip(p, _EPS, 1.0)
        q = q / q.sum(1, keepdims=True)
        g = rng.gamma(q * ess[:, None])
        probs = g / g.sum(1, keepdims=True)
        return np.stack([rng.multinomial(n, pr) for pr in probs])
    f_lo, f_hi = np.clip(p[:, 0], 0, 1), np.clip(p[:, 1], 0, 1)
    cells = np.stack([f_lo, np.maximum(f_hi - f_lo, 0), np.maximum(1 - f_hi, 0)], 1)
    cells = cells / cells.sum(1, keepdims=True)
    counts = np.stack([rng.multinomial(n, c) for c in cells])
    cum = np.cumsum(counts, 1)
    lo_rank, hi_rank = (n - 1) // 2, n // 2  # 0-based ranks of the middle order statistics
    v = t.target.value
    vals = np.array([v - 1, v, v + 1])
    med = 0.5 * (vals[(cum <= lo_rank).sum(1)] + vals[(cum <= hi_rank).sum(1)])
    return med
