"""Allocation rules against the exact numbers of trial_oracles.md and a line-by-line port of adaptr's
``reallocate_probs`` (INCEPTdk/adaptr, R/prob_funs.R)."""

import math
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import yaml

from sepsim.platform import (
    AllocationInputs,
    FixedAllocation,
    SqrtControlAllocation,
    ThallWathenAllocation,
    ThompsonAllocation,
    TrippaAllocation,
    apply_limits,
)
from sepsim.platform._allocation.fixed import block_assign

ORACLE = yaml.safe_load((Path(__file__).resolve().parents[1] / "oracles" / "allocation_rules.yaml").read_text())

EPS = math.sqrt(np.finfo(float).eps)


def _inputs(p_best, *, control=-1, active=None, p_better=None, n_arm=None, info=0.5):
    k = len(p_best)
    f = lambda x: jnp.asarray(x, dtype=jnp.float64)
    return AllocationInputs(
        p_best=f(p_best),
        p_better=f(p_better if p_better is not None else [np.nan] * k),
        active=jnp.asarray(active if active is not None else [True] * k),
        control=jnp.asarray(control, dtype=jnp.int32),
        n_arm=f(n_arm if n_arm is not None else [0.0] * k),
        info_frac=f(info),
    )


def _adaptr_reallocate(probs_best, fixed, mins, maxs, soften=1.0):
    """Python port of adaptr ``reallocate_probs`` (no control matching)."""
    pb = np.asarray(probs_best, float)
    fixed, mins, maxs = (np.asarray(x, float) for x in (fixed, mins, maxs))
    rescale = lambda x: x / x.sum()
    if np.all(np.isnan(np.concatenate([fixed, mins, maxs]))):
        return rescale(pb**soften)
    if np.all(~np.isnan(fixed)):
        return rescale(fixed)
    final = fixed.copy()
    while abs(np.nansum(final) - 1) > EPS:
        total_rem = 1 - np.nansum(final)
        rem = np.isnan(final)
        rem_sum = pb[rem].sum()
        factor = pb / rem_sum if rem_sum > 0 else 1 / rem.sum()
        tmp = np.where(rem, total_rem * factor, final)
        if soften < 1:
            tmp[rem] = total_rem * rescale(tmp[rem] ** soften)
        lo = ~np.isnan(mins) & rem & (tmp < mins)
        tmp[lo] = final[lo] = mins[lo]
        hi = ~np.isnan(maxs) & rem & (tmp > maxs)
        tmp[hi] = final[hi] = maxs[hi]
        if abs(tmp.sum() - 1) <= EPS:
            final = tmp
        if not np.any(np.isnan(final)) and abs(final.sum() - 1) > EPS:
            final = rescale(final)
    return final


@pytest.mark.parametrize("k, share", sorted(ORACLE["sqrt_control_share"].items()))
def test_sqrt_control_shares(k, share):
    # tests/oracles/allocation_rules.yaml: sqrt(k) / (sqrt(k) + k) for k non-control arms (identical P(best) elsewhere)
    rule = SqrtControlAllocation(soften_power=0.0)
    p = np.asarray(rule(_inputs([1.0 / (k + 1)] * (k + 1), control=0)))
    assert abs(p[0] - share) < 5e-6
    assert abs(p[0] - math.sqrt(k) / (math.sqrt(k) + k)) < 1e-12
    np.testing.assert_allclose(p[1:], (1 - p[0]) / k, atol=1e-12)


def test_sqrt_control_share_follows_active_arms():
    rule = SqrtControlAllocation(soften_power=0.0)
    p = np.asarray(rule(_inputs([0.2] * 5, control=2, active=[True, False, True, True, False])))
    assert p[1] == 0.0 and p[4] == 0.0
    assert abs(p[2] - math.sqrt(2) / (math.sqrt(2) + 2)) < 1e-12


def test_thall_wathen_power():
    pb = np.array([0.1, 0.3, 0.6])
    for n, big_n in ((100, 1000), (500, 1000), (1000, 1000)):
        c = n / (2 * big_n)
        p = np.asarray(ThallWathenAllocation()(_inputs(pb, info=n / big_n)))
        np.testing.assert_allclose(p, pb**c / np.sum(pb**c), atol=1e-12)


def test_trippa_formula():
    # the published defaults (tests/oracles/allocation_rules.yaml) are TrippaAllocation's defaults
    a, b, eta0 = (ORACLE["trippa_defaults"][k] for k in ("a", "b", "eta0"))
    p_better = np.array([np.nan, 0.7, 0.4, 0.9])
    n_arm = np.array([100.0, 120.0, 90.0, 140.0])
    frac = 0.4
    p = np.asarray(TrippaAllocation()(_inputs([0.25] * 4, control=0, p_better=p_better, n_arm=n_arm, info=frac)))
    gamma = a * frac**b
    w = p_better[1:] ** gamma
    w = w / w.sum()
    w0 = math.exp(eta0 * frac * (n_arm[1:].max() - n_arm[0])) / (4 - 1)
    ref = np.concatenate([[w0], w])
    np.testing.assert_allclose(p, ref / ref.sum(), atol=1e-12)


def test_thompson_is_p_best():
    pb = np.array([0.2, 0.5, 0.3])
    np.testing.assert_allclose(np.asarray(ThompsonAllocation()(_inputs(pb))), pb, atol=1e-15)


@pytest.mark.parametrize("seed", range(8))
def test_limits_match_adaptr_port(seed):
    rng = np.random.default_rng(seed)
    k = int(rng.integers(2, 6))
    pb = rng.dirichlet(np.full(k, 0.3))
    mins = np.where(rng.uniform(size=k) < 0.7, 0.5 / k, np.nan)
    maxs = np.where(rng.uniform(size=k) < 0.3, 1.5 / k, np.nan)
    fixed = np.full(k, np.nan)
    if seed % 3 == 0:
        fixed[0] = 1.0 / (k + 1)
        mins[0] = maxs[0] = np.nan
    soften = [1.0, 0.5, 0.0][seed % 3]
    ref = _adaptr_reallocate(pb, fixed, mins, maxs, soften)
    got = apply_limits(
        jnp.asarray(pb),
        jnp.ones(k, bool),
        fixed=jnp.asarray(fixed),
        min_prob=jnp.asarray(mins),
        max_prob=jnp.asarray(maxs),
        soften_power=soften,
    )
    np.testing.assert_allclose(np.asarray(got), ref, atol=1e-10)


def test_min_prob_example_from_adaptr_readme_design():
    # P(best) = (0.162, 0.092, 0.745) with minimum 0.2: B is raised to 0.2, then A, leaving C 0.6
    rule = ThompsonAllocation(min_prob=0.2)
    p = np.asarray(rule(_inputs([0.16241168, 0.09232137, 0.74526696])))
    np.testing.assert_allclose(p, [0.2, 0.2, 0.6], atol=1e-12)


def test_fixed_ratio_renormalises_over_active_arms():
    rule = FixedAllocation(ratio=(2.0, 1.0, 1.0))
    p = np.asarray(rule(_inputs([0.3] * 3, active=[True, False, True])))
    np.testing.assert_allclose(p, [2 / 3, 0.0, 1 / 3], atol=1e-15)


def test_permuted_block_is_a_permutation():
    counts = jnp.asarray([2, 1, 1], dtype=jnp.int32)  # ratio 2:1:1, block of 4
    open_arms = jnp.asarray([True, True, True])
    for b in range(5):
        key = jax.random.fold_in(jax.random.key(0), b)
        arms = [int(block_assign(counts, open_arms, jnp.int32(i), key=key, max_block=8)) for i in range(4)]
        assert sorted(arms) == [0, 0, 1, 2]
    closed = jnp.asarray([True, False, True])
    key = jax.random.key(3)
    arms = [int(block_assign(counts, closed, jnp.int32(i), key=key, max_block=8)) for i in range(3)]
    assert sorted(arms) == [0, 0, 2]


def test_block_slot_by_ranks_is_the_stable_argsort_slot(monkeypatch):
    """``block_assign`` picks the slot by stable ranks (no sort) for blocks up to ``_RANK_MAX_BLOCK`` slots: the
    same arm as the stable argsort it replaced, for every position, on 500 random blocks (4 arms, ratios 1-3, some
    arms closed) whose priorities take 4 values only, so ties are common."""
    from sepsim.platform._allocation import fixed

    rng = np.random.default_rng(7)
    n = 500
    ratio = jnp.asarray(rng.integers(1, 4, (n, 4)), dtype=jnp.int32)
    open_arms = jnp.asarray(rng.random((n, 4)) < 0.7).at[:, 0].set(True)
    keys = jax.random.split(jax.random.key(7), n)
    pos = jnp.arange(16, dtype=jnp.int32)
    uniform = jax.random.uniform
    monkeypatch.setattr(jax.random, "uniform", lambda key, shape, dtype: jnp.floor(uniform(key, shape, dtype) * 4) / 4)

    def arms():
        one = lambda r, o, k, p: fixed.block_assign(r, o, p, key=k, max_block=16)  # noqa: E731
        per_block = jax.vmap(one, in_axes=(None, None, None, 0))
        return np.asarray(jax.jit(jax.vmap(per_block, in_axes=(0, 0, 0, None)))(ratio, open_arms, keys, pos))

    by_ranks = arms()
    monkeypatch.setattr(fixed, "_RANK_MAX_BLOCK", 0)  # every block through the argsort branch
    by_sort = arms()
    assert by_ranks.shape == (n, 16)
    np.testing.assert_array_equal(by_ranks, by_sort)
