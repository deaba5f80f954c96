"""Invariances: permuting arm labels permutes results; identical arms get symmetric allocation under RAR."""

import jax.numpy as jnp
import numpy as np
import pytest

from sepsim._keys import stage_key
from sepsim.platform import ThallWathenAllocation, ThompsonAllocation, binary_scenario, prob_best_quadrature, run_trials
from sepsim.platform._allocation.base import AllocationInputs

RAR = dict(
    arms=["A", "B", "C"],
    look_n=[60, 120, 180, 240, 300],
    higher_is_better=True,
    allocation=dict(rule="thompson", min_prob=0.1, soften_power=0.5),
    stopping=dict(superiority=0.98, inferiority=0.02),
)


def test_prob_best_and_allocation_are_permutation_equivariant():
    rng = np.random.default_rng(1)
    a = 1.0 + rng.integers(5, 60, size=4).astype(float)
    b = 1.0 + rng.integers(40, 120, size=4).astype(float)
    act = jnp.asarray([True, True, False, True])
    perm = np.array([2, 0, 3, 1])
    p = np.asarray(prob_best_quadrature(jnp.asarray(a), jnp.asarray(b), act, higher_is_better=True))
    pp = np.asarray(prob_best_quadrature(jnp.asarray(a[perm]), jnp.asarray(b[perm]), act[perm], higher_is_better=True))
    np.testing.assert_allclose(pp, p[perm], atol=1e-13)
    for rule in (ThompsonAllocation(min_prob=0.1, soften_power=0.5), ThallWathenAllocation(max_prob=0.6)):

        def alloc(idx, rule=rule):
            inp = AllocationInputs(
                jnp.asarray(p[idx]),
                jnp.full(4, jnp.nan),
                act[idx],
                jnp.asarray(-1, jnp.int32),
                jnp.zeros(4),
                jnp.asarray(0.5),
            )
            return np.asarray(rule(inp))

        np.testing.assert_allclose(alloc(perm), alloc(np.arange(4))[perm], atol=1e-13)


@pytest.fixture(scope="module")
def null_rar():
    out = binary_scenario([0.3, 0.3, 0.3], 20_000, key=stage_key(7, "cohort"))
    return run_trials(out, RAR, n_trials=1500, key=stage_key(8, "trials"))


def test_identical_arms_get_symmetric_allocation(null_rar):
    # averaged over trials, each arm's allocation probability and P(best) are 1/3 at every look (arms exchangeable)
    for var in ("alloc_prob", "p_best"):
        x = null_rar[var].values
        x = x[..., 0] if x.ndim == 4 else np.nan_to_num(x, nan=0.0)  # P(best) of a dropped arm: 0
        running = null_rar.active.values[..., 0].any(-1)  # looks after which the trial still enrols
        for look in range(4):
            v = x[running[:, look], look]
            m, se = v.mean(axis=0), v.std(axis=0) / np.sqrt(v.shape[0])
            assert np.all(np.abs(m - 1 / 3) < 4 * se + 1e-12), (var, look, m, se)
    # and each arm is declared superior equally often
    sup = null_rar.superior_arm.values
    counts = np.array([(sup == k).sum() for k in range(3)])
    expected = counts.sum() / 3
    assert np.all(np.abs(counts - expected) < 4 * np.sqrt(expected) + 1)


def test_permuting_arm_labels_permutes_results(null_rar):
    # relabel the arms of a non-null table: design order (B, C, A) of the same patients; the distribution of the
    # results follows the labels (exact per trial only up to which arm the assignment uniform falls on)
    rates = {"A": 0.2, "B": 0.3, "C": 0.4}
    out = binary_scenario(list(rates.values()), 20_000, key=stage_key(9, "cohort"), arms=list(rates))
    ds1 = run_trials(out, RAR, n_trials=1500, key=stage_key(10, "trials"))
    ds2 = run_trials(out, dict(RAR, arms=["B", "C", "A"]), n_trials=1500, key=stage_key(11, "trials"))
    for arm in "ABC":
        p1 = float(np.mean(ds1.superior_arm.values == list(ds1.arm.values).index(arm)))
        p2 = float(np.mean(ds2.superior_arm.values == list(ds2.arm.values).index(arm)))
        se = np.sqrt((p1 * (1 - p1) + p2 * (1 - p2)) / 1500) + 1e-3
        assert abs(p1 - p2) < 4 * se, (arm, p1, p2)
        n1 = ds1.n_final.sel(arm=arm).mean().item()
        n2 = ds2.n_final.sel(arm=arm).mean().item()
        sd = np.sqrt((ds1.n_final.sel(arm=arm).var().item() + ds2.n_final.sel(arm=arm).var().item()) / 1500)
        assert abs(n1 - n2) < 4 * sd
    np.testing.assert_allclose(ds2.true_mean.values[:, 0], [0.3, 0.4, 0.2])
    # the better arm (C) wins most often and receives most patients under RAR
    wins = [np.mean(ds1.superior_arm.values == k) for k in range(3)]
    assert wins[2] > 5 * max(wins[:2])
    n_mean = ds1.n_final.mean(("trial", "stratum")).values
    assert n_mean[2] > n_mean[1] > n_mean[0]
