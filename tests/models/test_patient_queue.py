"""The lane-refill integrator (:func:`sepsim.models._rk.tsit5_queue`): bookkeeping against exact solutions and the
lock-step loop, and the patient solver with refill against fixed lock-step groups (placebo; a therapy plus an
adsorber)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sepsim._errors import ConfigError
from sepsim._keys import stage_key
from sepsim.models import Placebo, SolverConfig, make_batch_solver, simulate_cohort
from sepsim.models._rk import tsit5_batch, tsit5_queue
from sepsim.models.interventions import Anakinra, Combination, CytoSorb

# y' = -k y (one state per row of a 2-state system: y1 decays at k, y2 at k/2): exact exp(-k t)
RATES = np.array([0.3, 1.0, 0.05, 2.0, 0.7, 150.0, 0.2, 1.5, 0.9])  # 1/h; 150/h needs > MAX_STEPS explicit steps
T_END = np.array([10.0, 3.0, 20.0, 5.0, 8.0, 10.0, 1.0, 12.0, 6.0])  # h: patients finish at different iterations
MAX_STEPS = 300


def _problem():
    k = jnp.asarray(RATES)
    ts = jnp.asarray(T_END[:, None] * np.linspace(0.0, 1.0, 5)[None, :])  # includes a save at t0
    y0 = jnp.tile(jnp.asarray([[1.0, 2.0]]), (len(RATES), 1))
    return k, ts, y0


def _decay(t, y, k):
    return -jnp.stack([k, 0.5 * k]) * y  # state-major: (2, L)


KW = dict(rtol=1e-8, atol=1e-10, dt0=0.01, max_steps=MAX_STEPS)


@pytest.mark.parametrize(
    ("lanes", "refill_min"),
    [(3, 1), *(pytest.param(*lr, marks=pytest.mark.slow) for lr in [(3, 2), (4, 4), (2, 1)])],  # ~5 s each
)
def test_queue_matches_exact_and_lockstep(lanes, refill_min):
    """Every patient's row holds its own solution (exact to 1e-6) and step counts equal to the lock-step loop's,
    whatever the lane count and refill threshold; the patient that exceeds max_steps, and only it, is flagged."""
    k, ts, y0 = _problem()
    q = jax.jit(
        lambda k: tsit5_queue(_decay, y0, 0.0, ts, jnp.zeros((0,)), args=k, lanes=lanes, refill_min=refill_min, **KW)
    )(k)
    b = jax.jit(lambda k: tsit5_batch(lambda t, y: _decay(t, y, k), y0, 0.0, ts, jnp.zeros((0,)), **KW))(k)
    stiff = RATES > 100.0
    np.testing.assert_array_equal(np.asarray(q.status), stiff.astype(int))
    np.testing.assert_array_equal(np.asarray(q.accepted), np.asarray(b.accepted))
    np.testing.assert_array_equal(np.asarray(q.rejected), np.asarray(b.rejected))
    np.testing.assert_allclose(np.asarray(q.ys), np.asarray(b.ys), rtol=1e-13, atol=1e-15)
    exact = np.asarray(y0)[:, None, :] * np.exp(-RATES[:, None, None] * np.asarray(ts)[:, :, None] * [1.0, 0.5])
    np.testing.assert_allclose(np.asarray(q.ys)[~stiff], exact[~stiff], rtol=1e-6, atol=1e-11)
    assert int(q.accepted[stiff][0]) + int(q.rejected[stiff][0]) == MAX_STEPS
    # the refill did take place: fewer loop iterations than lanes running in lock-step groups would need
    steps = np.asarray(q.accepted + q.rejected)
    groups = sum(steps[i : i + lanes].max() for i in range(0, len(steps), lanes))
    if refill_min < lanes:
        assert int(q.iterations) < groups
    else:  # refill only when every lane is free: fixed lock-step groups
        assert int(q.iterations) == groups


def test_queue_one_lane_per_patient_is_lockstep():
    k, ts, y0 = _problem()
    q = jax.jit(lambda k: tsit5_queue(_decay, y0, 0.0, ts, jnp.zeros((0,)), args=k, **KW))(k)
    assert int(q.iterations) == int(np.max(np.asarray(q.accepted + q.rejected)))


def _inputs(n):
    from sepsim.models._outcomes import _chunk_inputs

    cohort = simulate_cohort(n, key=stage_key(3, "cohort"))
    return _chunk_inputs(cohort, slice(0, n), n, 28)


@pytest.mark.slow  # two compiles of the patient solver per arm, 25-50 s on 2 loaded cores
@pytest.mark.parametrize(
    "arm", [Placebo(), Combination(therapies=(Anakinra(),), device=CytoSorb(mode="sessions", qb_ml_min=250.0))]
)
def test_refill_equals_lockstep_groups(arm):
    """The default patient solver (lanes refilled from the batch) gives every patient the states and step counts
    of fixed lock-step groups (``refill=0``, the previous scheme): per-patient step control does not depend on
    which patients share the loop."""
    inputs = _inputs(14)
    a = make_batch_solver(arm, SolverConfig(lanes=4, refill=1))(*inputs)
    b = make_batch_solver(arm, SolverConfig(lanes=4, refill=0))(*inputs)
    assert bool(a.ok.all()) and bool(b.ok.all())
    np.testing.assert_array_equal(np.asarray(a.steps), np.asarray(b.steps))
    np.testing.assert_array_equal(np.asarray(a.rejected), np.asarray(b.rejected))
    # same arithmetic, compiled in two loop structures (XLA may contract a*b+c to an FMA differently): rounding
    np.testing.assert_allclose(np.asarray(a.ys), np.asarray(b.ys), rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize(("field", "value"), [("lanes", 0), ("refill", -1)])
def test_bad_lane_settings_are_rejected(field, value):
    with pytest.raises(ConfigError, match=f"solver.{field}"):
        make_batch_solver(Placebo(), SolverConfig(**{field: value}))
