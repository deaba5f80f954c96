"""Beta–binomial posterior probabilities for binary outcomes.

Each arm ``k`` has a Beta(a_k, b_k) posterior (prior Beta(a0, b0) plus events / non-events). The trial engine needs,
at every look and for the active arms only:

- P(arm k is best) and P(arm k is worst) (highest or lowest event rate, as the design says),
- P(arm k better than a control arm), P(|theta_k - theta_c| < margin), P(theta_k not better than control by d),
- P(all active arms within a margin of one another) (adaptr's ``prob_all_equi``).

Two ways are offered: quadrature on a grid over the joint support (fast, deterministic, jit/vmap friendly), and
posterior draws (adaptr's method, for like-for-like comparisons). The pairwise probability also has an exact closed
form for integer shape parameters (Evan Miller's sum; checked against trial_oracles.md: Beta(11, 41) vs Beta(21, 31)
gives 0.9847663020).

Quadrature. Integrals of the form ``int f_k(x) prod_j G_j(x) dx`` are computed on a uniform grid covering every
active arm's mean +- ``width_sd`` posterior SDs (clipped to [0, 1]) by the trapezoid rule with Euler–Maclaurin end
corrections (they vanish where the integrand does at both ends; where the grid is clipped at 0 or 1 and a density
is not zero there they keep the rule fourth order). The CDFs at the nodes are the cumulative trapezoid of the
density with the first two Euler–Maclaurin corrections (sixth order; :func:`_cdf_operator`); CDFs at shifted
points use cubic Hermite interpolation with the density as the slope.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Bool, Float, Key
from scipy.special import betaln as _np_betaln

__all__ = [
    "prob_greater_exact",
    "BetaGrid",
    "beta_grid",
    "prob_best_quadrature",
    "prob_best_draws",
    "prob_better_quadrature",
    "prob_all_equivalent_quadrature",
    "prob_all_equivalent_draws",
    "prob_vs_control_draws",
    "prob_vs_control_quadrature",
]


def prob_greater_exact(a_a: int, b_a: int, a_b: int, b_b: int) -> float:
    """Exact P(theta_B > theta_A) for theta_A ~ Beta(a_a, b_a), theta_B ~ Beta(a_b, b_b), integer ``a_b``.

    Closed form (Evan Miller, "Formulas for Bayesian A/B testing", 2015):
    ``sum_{i=0}^{a_b-1} B(a_a+i, b_a+b_b) / ((b_b+i) B(1+i, b_b) B(a_a, b_a))``, summed in log space.
    NumPy float64; a reference for the quadrature, not used on the hot path.
    """
    if int(a_b) != a_b or a_b < 1:
        raise ValueError(f"a_b must be a positive integer for the closed form, got {a_b!r}")
    i = np.arange(int(a_b), dtype=np.float64)
    log_terms = _np_betaln(a_a + i, b_a + b_b) - np.log(b_b + i) - _np_betaln(1.0 + i, b_b) - _np_betaln(a_a, b_a)
    m = log_terms.max()
    return float(np.exp(m) * np.exp(log_terms - m).sum())


class BetaGrid(NamedTuple):
    """Densities and CDFs of K Beta posteriors on one shared uniform grid (inactive arms carry zeros)."""

    x: Float[Array, " g"]
    h: Float[Array, ""]
    pdf: Float[Array, "arm g"]
    cdf: Float[Array, "arm g"]


def _stencil(offsets: np.ndarray, order: int) -> np.ndarray:
    """Finite-difference weights of the ``order``-th derivative at 0 from values at ``offsets`` (units of h)."""
    vander = np.vander(offsets.astype(float), len(offsets), increasing=True).T
    rhs = np.zeros(len(offsets))
    rhs[order] = float(np.prod(np.arange(1, order + 1)))
    return np.linalg.solve(vander, rhs)


@functools.lru_cache(maxsize=16)
def _cdf_operator(n: int) -> np.ndarray:
    """(n, n) matrix M with ``cdf = h * M @ pdf``: the cumulative trapezoid with the first two Euler–Maclaurin
    corrections, ``int_{x_0}^{x_i} f = h sum' f - h^2/12 [f']_0^i + h^4/720 [f^(3)]_0^i + O(h^6)``
    (Abramowitz & Stegun 23.1.30), with f' (fourth order) and f^(3) (second order) by five-point differences,
    one-sided near the ends. Sixth order where the density vanishes at both ends of the grid; where the grid is
    clipped at 0 or 1 and the density is not zero there (few events), the one-sided end terms keep it fourth
    order instead of the trapezoid's second (tests/platform/test_posterior_binary.py)."""
    if n < 5:
        raise ValueError(f"n_grid must be >= 5, got {n}")
    c = np.tril(np.ones((n, n))) - 0.5 * np.eye(n)
    c[:, 0] -= 0.5
    c[0, :] = 0.0
    d1 = np.zeros((n, n))  # f' in units of 1/h
    d3 = np.zeros((n, n))  # f^(3) in units of 1/h^3
    for i in range(n):
        idx = np.arange(min(max(i - 2, 0), n - 5), min(max(i - 2, 0), n - 5) + 5)
        d1[i, idx] = _stencil(idx - i, 1)
        d3[i, idx] = _stencil(idx - i, 3)
    return c - (d1 - d1[0:1, :]) / 12.0 + (d3 - d3[0:1, :]) / 720.0


@functools.lru_cache(maxsize=16)
def _integral_weights(n: int) -> np.ndarray:
    """Weights w with ``int_{x_0}^{x_{n-1}} y = h * w @ y``: the last row of :func:`_cdf_operator` (the trapezoid
    rule plus the same end corrections)."""
    return _cdf_operator(n)[-1].copy()


def _masked_bounds(a, b, active, width_sd):
    s = a + b
    mean = a / s
    sd = jnp.sqrt(a * b / (s * s * (s + 1.0)))
    lo = jnp.min(jnp.where(active, mean - width_sd * sd, 1.0))
    hi = jnp.max(jnp.where(active, mean + width_sd * sd, 0.0))
    lo = jnp.clip(lo, 0.0, 1.0)
    hi = jnp.clip(hi, 0.0, 1.0)
    hi = jnp.maximum(hi, lo + 1e-6)
    return lo, hi


def beta_grid(
    a: Float[Array, " arm"],
    b: Float[Array, " arm"],
    active: Bool[Array, " arm"],
    *,
    n_grid: int = 129,
    width_sd: float = 9.0,
) -> BetaGrid:
    """Densities and fourth-order CDFs of Beta(a_k, b_k) on a uniform grid over the active arms' joint support.

    Shape parameters must be >= 1 (true for a Beta(1, 1) prior or any prior with a0, b0 >= 1) so the densities are
    finite at 0 and 1.
    """
    lo, hi = _masked_bounds(a, b, active, width_sd)
    t = jnp.linspace(0.0, 1.0, n_grid, dtype=a.dtype)
    x = lo + (hi - lo) * t
    h = (hi - lo) / (n_grid - 1)
    xc = jnp.clip(x, 1e-300, 1.0)
    # (arm, g) layout: XLA on CPU runs the batched products below several times faster this way round
    lx = jnp.log(xc)[None, :]
    l1x = jnp.log1p(-jnp.clip(x, 0.0, 1.0 - 1e-16))[None, :]
    lbeta = jax.scipy.special.betaln(a, b)
    # (a - 1) log x with a == 1 at x == 0 is 0 * -inf: guard it.
    ta = jnp.where(a[:, None] == 1.0, 0.0, (a[:, None] - 1.0) * lx)
    tb = jnp.where(b[:, None] == 1.0, 0.0, (b[:, None] - 1.0) * l1x)
    pdf_t = jnp.where(active[:, None], jnp.exp(ta + tb - lbeta[:, None]), 0.0)
    cdf_t = h * (pdf_t @ jnp.asarray(_cdf_operator(n_grid).T, dtype=pdf_t.dtype))
    # the grid starts width_sd SDs below every active mean (or at 0): the mass below it is negligible (or zero)
    cdf_t = jnp.where(active[:, None], jnp.clip(cdf_t, 0.0, 1.0), 1.0)
    return BetaGrid(x=x, h=h, pdf=pdf_t, cdf=cdf_t)


def _trapz(y: Float[Array, "... g"], h) -> Float[Array, "..."]:
    """``int y`` over the grid: the trapezoid rule with Euler–Maclaurin end corrections (:func:`_integral_weights`;
    the corrections vanish where ``y`` does at both ends)."""
    return h * (y @ jnp.asarray(_integral_weights(y.shape[-1]), dtype=y.dtype))


def _cdf_shifted(grid: BetaGrid, shift: float, rows: Array | None = None) -> Float[Array, "... g"]:
    """CDFs at ``grid.x + shift`` by cubic Hermite interpolation (slopes = densities), of every arm or of the
    arm ``rows`` (an index) only.

    All query points share one fractional offset, so the interpolation reads one contiguous slice of ``g + 1``
    nodes of the CDFs and densities plus one set of Hermite weights. The table is node-major, (node, table x arm),
    so that slice is one contiguous block: under ``vmap`` the per-trial slice becomes an XLA gather, and on CPU a
    gather of contiguous rows is 2.6x cheaper than the arm-major layout's strided one (benchmarks/bench_trials.md,
    issue 14 part 2). Beyond the grid the CDF is 0 or 1 and the density 0.
    """
    cdf, pdf = (grid.cdf, grid.pdf) if rows is None else (grid.cdf[rows][None], grid.pdf[rows][None])
    n_arm, g = cdf.shape
    u = shift / grid.h
    m = jnp.floor(u)
    t = u - m
    m = jnp.clip(m, -g - 1, g + 1).astype(jnp.int32)
    pad = g + 2
    zeros = jnp.zeros((pad, n_arm), cdf.dtype)
    ones = jnp.ones((pad, n_arm), cdf.dtype)
    both = jnp.concatenate(
        [jnp.concatenate([zeros, cdf.T, ones], axis=0), jnp.concatenate([zeros, (pdf * grid.h).T, zeros], axis=0)],
        axis=1,
    )  # (node, [cdf | h * pdf] x arm)
    win = jax.lax.dynamic_slice(both, (pad + m, jnp.int32(0)), (g + 1, 2 * n_arm))
    f0, f1, d0, d1 = win[:-1, :n_arm].T, win[1:, :n_arm].T, win[:-1, n_arm:].T, win[1:, n_arm:].T
    t2, t3 = t * t, t * t * t
    val = (2 * t3 - 3 * t2 + 1) * f0 + (t3 - 2 * t2 + t) * d0 + (-2 * t3 + 3 * t2) * f1 + (t3 - t2) * d1
    val = jnp.clip(val, 0.0, 1.0)
    return val if rows is None else val[0]


def _tiny(dtype) -> float:
    """A floor for divisors: 1e-300 in float64; float32's smallest normal number (1e-300 is 0 in float32)."""
    return 1e-300 if jnp.dtype(dtype) == jnp.float64 else float(jnp.finfo(dtype).tiny)


def _leave_one_out_product(v: Float[Array, "arm g"]) -> Float[Array, "arm g"]:
    """``out[k] = prod_{j != k} v[j]`` (K is small)."""
    k = v.shape[0]
    eye = jnp.eye(k, dtype=bool)
    return jnp.prod(jnp.where(eye[:, :, None], 1.0, v[None, :, :]), axis=1)


def prob_best_quadrature(
    a: Float[Array, " arm"],
    b: Float[Array, " arm"],
    active: Bool[Array, " arm"],
    *,
    higher_is_better: bool,
    n_grid: int = 129,
    grid: BetaGrid | None = None,
) -> Float[Array, " arm"]:
    """P(arm k has the best rate among the active arms); 0 for inactive arms; sums to 1 over active arms.

    ``higher_is_better=False`` (an undesirable outcome such as death) makes the lowest rate best. P(worst) is
    ``prob_best_quadrature(..., higher_is_better=not higher_is_better)``.
    """
    if grid is None:
        grid = beta_grid(a, b, active, n_grid=n_grid)
    beat = jnp.where(active[:, None], grid.cdf if higher_is_better else 1.0 - grid.cdf, 1.0)
    p = _trapz(grid.pdf * _leave_one_out_product(beat), grid.h)
    p = jnp.where(active, jnp.clip(p, 0.0, 1.0), 0.0)  # grids may be built for a superset of ``active``
    return p / jnp.maximum(jnp.sum(p), _tiny(p.dtype))


def prob_better_quadrature(
    a: Float[Array, " arm"],
    b: Float[Array, " arm"],
    control: Array,
    active: Bool[Array, " arm"],
    *,
    higher_is_better: bool,
    n_grid: int = 129,
) -> Float[Array, " arm"]:
    """P(theta_k better than theta_control) for each arm (NaN for the control and for inactive arms)."""
    return prob_vs_control_quadrature(a, b, control, active, higher_is_better=higher_is_better, n_grid=n_grid)[0]


def prob_vs_control_quadrature(
    a: Float[Array, " arm"],
    b: Float[Array, " arm"],
    control: Array,
    active: Bool[Array, " arm"],
    *,
    higher_is_better: bool,
    equivalence_margin: float = 0.0,
    futility_margin: float = 0.0,
    n_grid: int = 129,
    grid: BetaGrid | None = None,
) -> tuple[Float[Array, " arm"], Float[Array, " arm"], Float[Array, " arm"]]:
    """(P(better than control), P(|diff| < equivalence_margin), P(futile)) per arm, adaptr ``prob_better`` semantics.

    Futility (adaptr): P(s * (theta_control - theta_k) < futility_margin) with s = -1 if higher is better else 1,
    i.e. the probability that the arm is not better than the control by at least ``futility_margin``.
    NaN for the control arm and inactive arms.
    """
    if grid is None:
        grid = beta_grid(a, b, active, n_grid=n_grid)
    fc = grid.cdf[control]  # (g,)
    pdf = grid.pdf
    better = fc[None, :] if higher_is_better else 1.0 - fc[None, :]
    p_better = _trapz(pdf * better, grid.h)
    cdf_plus = _cdf_shifted(grid, equivalence_margin, control)
    cdf_minus = _cdf_shifted(grid, -equivalence_margin, control)
    p_equiv = _trapz(pdf * (cdf_plus - cdf_minus)[None, :], grid.h)
    if higher_is_better:  # P(theta_k - theta_c < d) = P(theta_c > theta_k - d)
        fut = 1.0 - _cdf_shifted(grid, -futility_margin, control)
    else:  # P(theta_c - theta_k < d) = P(theta_c < theta_k + d)
        fut = _cdf_shifted(grid, futility_margin, control)
    p_fut = _trapz(pdf * fut[None, :], grid.h)
    keep = active & (jnp.arange(a.shape[-1], dtype=jnp.int32) != jnp.asarray(control).astype(jnp.int32))
    nan = jnp.asarray(jnp.nan, dtype=a.dtype)
    clip = lambda p: jnp.where(keep, jnp.clip(p, 0.0, 1.0), nan)
    return clip(p_better), clip(p_equiv), clip(p_fut)


def prob_all_equivalent_quadrature(
    a: Float[Array, " arm"],
    b: Float[Array, " arm"],
    active: Bool[Array, " arm"],
    *,
    margin: float,
    n_grid: int = 129,
    grid: BetaGrid | None = None,
) -> Float[Array, ""]:
    """P(max_k theta_k - min_k theta_k < margin) over the active arms.

    Derivation: the event splits by which arm holds the minimum, so
    ``P = sum_k int f_k(x) prod_{j != k} (F_j(x + margin) - F_j(x)) dx``.
    """
    if grid is None:
        grid = beta_grid(a, b, active, n_grid=n_grid)
    shifted = _cdf_shifted(grid, margin)
    window = jnp.where(active[:, None], shifted - grid.cdf, 1.0)
    p = jnp.sum(jnp.where(active, _trapz(grid.pdf * _leave_one_out_product(window), grid.h), 0.0))
    return jnp.clip(p, 0.0, 1.0)


def _draws(key, a, b, n_draws):
    return jax.random.beta(key, a, b, shape=(n_draws, a.shape[-1]), dtype=a.dtype)


def prob_best_draws(
    a: Float[Array, " arm"],
    b: Float[Array, " arm"],
    active: Bool[Array, " arm"],
    *,
    key: Key[Array, ""] | None,
    higher_is_better: bool,
    n_draws: int = 5000,
    draws: Float[Array, "draw arm"] | None = None,
) -> Float[Array, " arm"]:
    """P(arm k best) as the share of posterior draws in which arm k wins (adaptr ``prob_best``; ties -> first)."""
    if draws is None:
        draws = _draws(key, a, b, n_draws)
    fill = -jnp.inf if higher_is_better else jnp.inf
    m = jnp.where(active[None, :], draws, fill)
    win = jnp.argmax(m, axis=1) if higher_is_better else jnp.argmin(m, axis=1)
    counts = jnp.sum(win[:, None].astype(jnp.int32) == jnp.arange(a.shape[-1], dtype=jnp.int32)[None, :], axis=0)
    return jnp.where(active, counts.astype(a.dtype) / draws.shape[0], 0.0)


def prob_all_equivalent_draws(
    a: Float[Array, " arm"],
    b: Float[Array, " arm"],
    active: Bool[Array, " arm"],
    *,
    key: Key[Array, ""] | None,
    margin: float,
    n_draws: int = 5000,
    draws: Float[Array, "draw arm"] | None = None,
) -> Float[Array, ""]:
    """Share of draws with (max - min) over active arms < margin (adaptr ``prob_all_equi``)."""
    if draws is None:
        draws = _draws(key, a, b, n_draws)
    hi = jnp.max(jnp.where(active[None, :], draws, -jnp.inf), axis=1)
    lo = jnp.min(jnp.where(active[None, :], draws, jnp.inf), axis=1)
    return jnp.mean((hi - lo < margin).astype(a.dtype))


def prob_vs_control_draws(
    a: Float[Array, " arm"],
    b: Float[Array, " arm"],
    control: Array,
    active: Bool[Array, " arm"],
    *,
    key: Key[Array, ""] | None,
    higher_is_better: bool,
    equivalence_margin: float = 0.0,
    futility_margin: float = 0.0,
    n_draws: int = 5000,
    draws: Float[Array, "draw arm"] | None = None,
) -> tuple[Float[Array, " arm"], Float[Array, " arm"], Float[Array, " arm"]]:
    """Draw-based (P(better), P(equivalent), P(futile)) vs the control, as adaptr ``prob_better``."""
    if draws is None:
        draws = _draws(key, a, b, n_draws)
    c = draws[:, control][:, None]
    better = draws > c if higher_is_better else draws < c
    equiv = jnp.abs(draws - c) < equivalence_margin
    sign = -1.0 if higher_is_better else 1.0
    fut = sign * (c - draws) < futility_margin
    keep = active & (jnp.arange(a.shape[-1], dtype=jnp.int32) != jnp.asarray(control).astype(jnp.int32))
    nan = jnp.asarray(jnp.nan, dtype=a.dtype)
    mean = lambda e: jnp.where(keep, jnp.mean(e.astype(a.dtype), axis=0), nan)
    return mean(better), mean(equiv), mean(fut)
