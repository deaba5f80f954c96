"""Frequentist boundaries at observed information fractions (``analysis.information: observed``)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sepsim._errors import ConfigError
from sepsim._keys import stage_key
from sepsim.platform import binary_scenario, design_from_dict, run_trials
from sepsim.platform._decisions.gsd_observed import init_spend_state, observed_fractions
from sepsim.platform._decisions.gsd_observed import spend_bounds as _spend_bounds
from sepsim.platform.stats import group_sequential_bounds

spend_bounds = jax.jit(_spend_bounds, static_argnames=("spending", "gamma"))


def _bounds(fractions, spending, gamma, alpha=0.025):
    st = init_spend_state(1, jnp.float64)
    out = []
    for k, t in enumerate(fractions):
        final = jnp.asarray(k == len(fractions) - 1)
        b, st = spend_bounds(st, jnp.asarray([t]), jnp.asarray(alpha), final, spending=spending, gamma=gamma)
        out.append(float(b[0]))
    return np.asarray(out), float(st.spent[0])


@pytest.mark.parametrize(("spending", "gamma"), [("ld_obf", None), ("ld_pocock", None), ("hsd", -4.0), ("hsd", 1.0)])
@pytest.mark.parametrize("fractions", [[1 / 3, 2 / 3, 1.0], [0.2, 0.5, 0.9], [0.25, 0.262, 0.8, 1.2]])
def test_spend_bounds_match_group_sequential_bounds(spending, gamma, fractions):
    b, spent = _bounds(fractions, spending, gamma or 0.0)
    t = np.minimum(np.asarray(fractions), 1.0)
    t[-1] = 1.0  # the last look spends what is left
    ref = group_sequential_bounds(t, alpha=0.025, spending=spending, gamma=gamma).z
    np.testing.assert_allclose(b, ref, atol=5e-5)
    assert spent == pytest.approx(0.025, abs=1e-9)


def test_no_new_information_spends_nothing():
    b, _ = _bounds([0.4, 0.4, 1.0], "ld_obf", 0.0)
    assert np.isinf(b[1])
    np.testing.assert_allclose(
        b[[0, 2]], group_sequential_bounds([0.4, 1.0], alpha=0.025, spending="ld_obf").z, atol=5e-5
    )


ARMS = ["control", "A", "B"]
DESIGN = dict(
    arms=ARMS,
    control="control",
    look_n=[300, 600, 900],
    higher_is_better=False,
    arm_start_look=[0, 0, 1],  # B enters after the first look: its information lags the plan
    allocation=dict(rule="fixed"),
    analysis=dict(
        method="frequentist", alpha=0.025, spending="ld_obf", information="observed", futility_z=[-1.0, -1.0, -10.0]
    ),
)


@pytest.fixture(scope="module")
def observed():
    out = binary_scenario([0.3, 0.3, 0.25], 50_000, key=stage_key(7, "cohort"), arms=ARMS)
    return run_trials(out, DESIGN, n_trials=400, key=stage_key(8, "trials"))


def test_engine_bounds_recomputed_from_the_counts(observed):
    """Each trial's boundaries equal the spending recursion run on its own counts (concurrent controls for B)."""
    ds = observed
    n = ds.n.sum("stratum").values  # (trial, look, arm)
    plan_n = 900 / 3
    i_max = 1.0 / (1.0 / plan_n + 1.0 / plan_n)
    stop = ds.trial_stop_look.values
    checked = 0
    for t in range(40):
        st = init_spend_state(3, jnp.float64)
        for k in range(stop[t] + 1):
            n_c = np.full(3, n[t, k, 0], dtype=np.float64)
            n_c[2] = n[t, k, 0] - n[t, 0, 0]  # B's concurrent controls: randomised after look 0
            t_now = observed_fractions(jnp.asarray(n[t, k], jnp.float64), jnp.asarray(n_c), jnp.full(3, i_max))
            b, st = spend_bounds(st, t_now, jnp.asarray(0.0125), jnp.asarray(k == 2), spending="ld_obf", gamma=0.0)
            np.testing.assert_allclose(ds.efficacy_bound.values[t, k, 1:], np.asarray(b)[1:], rtol=1e-9)
            checked += 1
    assert checked >= 60
    assert np.all(np.isinf(ds.efficacy_bound.values[:, 0, 2]))  # B has no information at look 0


def test_engine_decisions_follow_the_observed_bounds(observed):
    ds = observed
    z, b = ds.z_statistic.values, ds.efficacy_bound.values
    dec, dlook = ds.arm_decision.values[:, :, 0], ds.decision_look.values[:, :, 0]
    assert np.sum(dec[:, 2] == 1) >= 10  # B works (0.25 vs 0.3)
    for a in (1, 2):
        for t in np.flatnonzero(dec[:, a] == 1):
            k = dlook[t, a]
            assert z[t, k, a] >= b[t, k, a]
            assert not np.any(z[t, :k, a] >= b[t, :k, a])  # (z is NaN before B enters)


@pytest.mark.slow
def test_observed_information_type1_error():
    """Null, B entering late, futility dropping: each comparison's size is alpha / 2 within 3 MC SE."""
    out = binary_scenario([0.3, 0.3, 0.3], 50_000, key=stage_key(9, "cohort"), arms=ARMS)
    n_trials = 20_000
    ds = run_trials(out, DESIGN, n_trials=n_trials, key=stage_key(10, "trials"))
    dec = ds.arm_decision.values[:, :, 0]
    for a in (1, 2):
        p = np.mean(dec[:, a] == 1)
        se = np.sqrt(0.0125 * 0.9875 / n_trials)
        assert abs(p - 0.0125) < 3 * se, (a, p)


@pytest.mark.parametrize(
    ("analysis", "key"),
    [
        (dict(method="quadrature", information="observed"), "design.analysis.information"),
        (dict(method="frequentist", spending="obf", information="observed"), "design.analysis.information"),
        (dict(method="frequentist", spending="ld_obf", information="sometimes"), "design.analysis.information"),
    ],
)
def test_observed_information_validation(analysis, key):
    with pytest.raises(ConfigError, match=key):
        design_from_dict(dict(DESIGN, analysis=analysis))
