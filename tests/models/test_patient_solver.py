"""Numerics of the patient model: scipy reference, explicit vs implicit, recompilation, positivity, failures."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sepsim._keys import stage_key
from sepsim.models import (
    ConstantEffectArm,
    Placebo,
    SolverConfig,
    make_batch_solver,
    reference_params,
    simulate_cohort,
    simulate_outcomes,
    solve_patient,
    to_physical,
)
from sepsim.models._effects import Covariates
from sepsim.models._patient_rhs import STATE_NAMES
from sepsim.models._reference import reference_solve

COV = Covariates(jnp.asarray(75.0), jnp.asarray(0.3), jnp.asarray(60.0), jnp.asarray(150.0))
PANEL = [{}, {"kpg": 0.6, "k_abx": 0.01}, {"a_il10": 8.0, "kdn": 0.8}, {"a_il1": 250.0}, {"a_il10": 60.0}]
# + an ICU-acquired infection on day ~1 (Lambda_inf reaches the draw 0.02): the switch, the seeded secondary
# pathogen and its antibiotic start t_abx_2 later are integrated by both solvers
INFECTED = {"crn_infection": 0.02}
# Below this physical value a state is biologically zero (e.g. 1e-9 x 10^6 pathogens/mL = 1 per litre); relative
# error is measured against max(|reference|, floor) so that a cleared pathogen decaying to 1e-100 is not compared.
FLOOR = 1e-9


TIGHT = SolverConfig(rtol=1e-11, atol=1e-12, max_steps=100_000)
_solve_tight = jax.jit(lambda p, t: solve_patient(p, COV, Placebo(), t, TIGHT))
_solve_ex = jax.jit(lambda p, t: solve_patient(p, COV, Placebo(), t, SolverConfig(solver="tsit5")))
_solve_im = jax.jit(lambda p, t: solve_patient(p, COV, Placebo(), t, SolverConfig(solver="kvaerno5")))


@pytest.mark.parametrize("over", [*PANEL, INFECTED])
def test_matches_scipy_radau(over):
    """Relative error < 1e-4 on every state at daily points vs scipy Radau (rtol 1e-10, atol 1e-14)."""
    p = reference_params(**over)
    t = 24.0 * np.arange(29.0)
    ref, _ = reference_solve(p, t)
    sol = _solve_tight(p, jnp.asarray(t))
    assert bool(sol.ok)
    x = np.asarray(to_physical(sol.ys))
    rel = np.abs(x - ref) / np.maximum(np.abs(ref), FLOOR)
    assert rel.max() < 1e-4, rel.max(axis=0)
    if over is INFECTED:  # the case does exercise the infection: the secondary pathogen rose above its inoculum
        assert ref[:, STATE_NAMES.index("secondary_pathogen")].max() > p.p_inoc_2


@pytest.mark.slow  # Kvaerno5 compile ~10 s
def test_explicit_vs_implicit():
    """Tsit5 needs no more accepted steps than Kvaerno5 and neither fails: the system is not stiff enough to
    pay for an implicit method (justifies the default, see _solve.py)."""
    t = jnp.asarray(24.0 * np.arange(29.0))
    for over in PANEL:
        p = reference_params(**over)
        ex, im = _solve_ex(p, t), _solve_im(p, t)
        assert bool(ex.ok) and bool(im.ok)
        assert int(ex.steps) <= 1.5 * int(im.steps), (over, int(ex.steps), int(im.steps))
        assert int(ex.rejected) < 0.5 * int(ex.steps)
        np.testing.assert_allclose(to_physical(ex.ys)[:, 11], to_physical(im.ys)[:, 11], rtol=1e-3)


def _batch_inputs(cohort, days=28):
    from sepsim.models._outcomes import _chunk_inputs

    return _chunk_inputs(cohort, slice(0, cohort.sizes["patient"]), cohort.sizes["patient"], days)


def test_no_recompilation_for_new_batch():
    from sepsim.models import _solve

    solve = make_batch_solver(Placebo(), SolverConfig())
    c = simulate_cohort(48, key=stage_key(1, "cohort"))
    jax.block_until_ready(solve(*_batch_inputs(c)))  # compiled here, or already by another test of this shape
    before = _solve.TRACES["Placebo"]
    for seed in (2, 3):  # new batches, a new solver object and a differently named placebo: no retrace
        again = make_batch_solver(Placebo(name=f"placebo{seed}"), SolverConfig())
        jax.block_until_ready(again(*_batch_inputs(simulate_cohort(48, key=stage_key(seed, "cohort")))))
    assert _solve.TRACES["Placebo"] == before
    # the counter is live: a new batch shape is traced (lowered only, not compiled) and counted
    _solve._batch_shared.lower(Placebo(), SolverConfig(), *_batch_inputs(simulate_cohort(3, key=stage_key(1, "c"))))
    assert _solve.TRACES["Placebo"] == before + 1
    # make_batch_solver(max_traces=1) guards a private compile: a second shape must raise
    guarded = make_batch_solver(Placebo(), SolverConfig(), max_traces=1)
    eqx.filter_eval_shape(guarded, *_batch_inputs(simulate_cohort(2, key=stage_key(1, "c"))))
    with pytest.raises(RuntimeError):
        eqx.filter_eval_shape(guarded, *_batch_inputs(simulate_cohort(3, key=stage_key(1, "c"))))


def _check_positive(out):
    assert out.attrs["solver_failures"] == int((~out.solver_ok).sum())
    ok = out.solver_ok.sel(arm="placebo").values
    for name in [v for v in out.data_vars if v.startswith("state_")]:
        v = out[name].sel(arm="placebo").values[ok]
        assert np.isfinite(v).all() and (v >= 0).all(), name
        if name not in ("state_pathogen", "state_secondary_pathogen"):  # a cleared pathogen may underflow
            assert (v > 0).all(), name  # exp(log P) to 0.0; its log stays finite


def test_positivity_and_no_nan():
    """48 patients across the parameter ranges (the same batch shape as the outcome tests: one shared compile):
    every solve succeeds, no NaN, all states positive."""
    c = simulate_cohort(48, key=stage_key(7, "cohort"))
    out = simulate_outcomes(c, [Placebo()], key=stage_key(7, "outcomes"), progress=False)
    _check_positive(out)
    assert out.attrs["solver_failures"] == 0


@pytest.mark.slow
def test_positivity_and_no_nan_2000():
    """2,000 patients across the parameter ranges: every solve succeeds, no NaN, all states positive."""
    c = simulate_cohort(2000, key=stage_key(7, "cohort"))
    out = simulate_outcomes(c, [Placebo()], key=stage_key(7, "outcomes"), chunk_size=1000, progress=False)
    _check_positive(out)
    assert out.attrs["solver_failures"] <= 2  # counted and flagged, never dropped; ~0.05% seen


def test_failures_are_flagged_not_dropped():
    # 4 of 48 patients with an undefined growth rate: their solves fail (NaN steps until max_steps); the batch
    # shape is the outcome tests' one (shared compile). The max_steps=10 version is marked slow (own compile).
    c = simulate_cohort(48, key=stage_key(3, "cohort"))
    c["kpg"] = c["kpg"].where(np.arange(48) >= 4)
    with pytest.warns(RuntimeWarning, match="4 of 48 patient-arm solves failed"):
        out = simulate_outcomes(c, [Placebo()], key=stage_key(3, "outcomes"), progress=False)
    assert out.sizes["patient"] == 48
    np.testing.assert_array_equal(out.solver_ok.values[:, 0], np.arange(48) >= 4)
    assert out.attrs["solver_failures"] == 4


@pytest.mark.slow
def test_failures_are_flagged_not_dropped_max_steps():
    c = simulate_cohort(4, key=stage_key(3, "cohort"))
    with pytest.warns(RuntimeWarning, match="4 of 4 patient-arm solves failed"):
        out = simulate_outcomes(
            c, [Placebo()], key=stage_key(3, "outcomes"), solver=SolverConfig(max_steps=10), progress=False
        )
    assert out.sizes["patient"] == 4
    assert not out.solver_ok.any() and out.attrs["solver_failures"] == 4


def test_chunking_does_not_change_results():
    # 48 patients in one chunk (the outcome tests' compiled shape and arm) vs chunks of 20 (last one padded)
    c = simulate_cohort(48, key=stage_key(5, "cohort"))
    arms = [ConstantEffectArm("kill", pathogen_kill=0.5, il1_block=0.9)]
    a = simulate_outcomes(c, arms, key=stage_key(5, "outcomes"), chunk_size=48, progress=False)
    b = simulate_outcomes(c, arms, key=stage_key(5, "outcomes"), chunk_size=20, progress=False)
    for v in ("sofa", "death_day", "state_ferritin", "responder", "endotype"):
        np.testing.assert_array_equal(a[v].values, b[v].values)
    # cohort draws do not depend on the cohort size either
    c2 = simulate_cohort(4, key=stage_key(5, "cohort"), start=44)
    np.testing.assert_array_equal(c2["kpg"].values, c["kpg"].values[44:])


@pytest.mark.slow
def test_100k_patients_no_nan():
    c = simulate_cohort(100_000, key=stage_key(11, "cohort"))
    out = simulate_outcomes(c, [Placebo()], key=stage_key(11, "outcomes"), chunk_size=1000)
    ok = out.solver_ok.values[:, 0]
    print("solver failures:", out.attrs["solver_failures"])
    assert ok.mean() > 0.999
    assert np.isfinite(out.state_organ_dysfunction.values[ok]).all()


_solve_lean_arm = eqx.filter_jit(lambda p, arm, t: solve_patient(p, COV, arm, t, SolverConfig()))
_solve_dfx_arm = eqx.filter_jit(lambda p, arm, t: solve_patient(p, COV, arm, t, SolverConfig(solver="diffrax_tsit5")))


def test_lean_tsit5_matches_diffrax_tsit5():
    """The lean batched Tsit5 (default) reproduces diffrax's Tsit5 + PIDController + jump_ts: the same accepted and
    rejected step counts (up to 2 steps of rounding drift) and the same states to 1e-6 relative, on the panel at the
    default tolerances, across the interior jumps of the right-hand side (randomisation, arm start and stop)."""
    t = jnp.asarray(np.concatenate([[-7.5], 24.0 * np.arange(29.0)]))  # screening draw, then daily
    arm = ConstantEffectArm("kill", pathogen_kill=0.5, start=6.0, stop=54.0)  # jumps at t = 0 (hazards), 6, 54 h
    for over in PANEL:
        p = reference_params(**over)
        a, b = _solve_lean_arm(p, arm, t), _solve_dfx_arm(p, arm, t)
        assert bool(a.ok) and bool(b.ok) and int(a.result) == 0
        assert abs(int(a.steps) - int(b.steps)) <= 2 and abs(int(a.rejected) - int(b.rejected)) <= 2, over
        xa, xb = np.asarray(to_physical(a.ys)), np.asarray(to_physical(b.ys))
        rel = np.abs(xa - xb) / np.maximum(np.abs(xb), FLOOR)
        assert rel.max() < 1e-6, (over, rel.max(axis=0))


_SHARDED_SCRIPT = """
import jax, numpy as np
jax.config.update("jax_enable_x64", True)
from sepsim._keys import stage_key
from sepsim.models import Placebo, SolverConfig, make_batch_solver, simulate_cohort
from sepsim.models._outcomes import _chunk_inputs
from sepsim.models._solve import _solve_lean, shard_patients
assert len(jax.devices()) == 2
inputs = _chunk_inputs(simulate_cohort(6, key=stage_key(4, "cohort")), slice(0, 6), 6, 28)
a = make_batch_solver(Placebo(), SolverConfig())(*shard_patients(inputs))  # shard_map: one loop per device
b = jax.jit(lambda p, c, t: _solve_lean(p, c, Placebo(), t, SolverConfig()))(*inputs)  # one loop, one device
assert bool(a.ok.all()) and bool(b.ok.all())
# per-patient step control is independent; only rounding differs (XLA vectorises 3 and 6 lanes differently)
np.testing.assert_allclose(np.asarray(a.ys), np.asarray(b.ys), rtol=1e-8, atol=1e-10)
assert np.abs(np.asarray(a.steps) - np.asarray(b.steps)).max() <= 2
print("SHARDED-OK")
"""


def test_sharded_batch_equals_single_loop(tmp_path):
    """With 2 XLA CPU devices the batch runs one independent loop per device (shard_map); every patient's result is
    the one of a single loop over the whole batch up to rounding (no dependence on the batch split)."""
    import os
    import pathlib
    import subprocess
    import sys

    import sepsim

    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2", JAX_PLATFORMS="cpu")
    root = str(pathlib.Path(sepsim.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join([root, env.get("PYTHONPATH", "")])
    out = subprocess.run([sys.executable, "-c", _SHARDED_SCRIPT], env=env, capture_output=True, text=True)
    assert "SHARDED-OK" in out.stdout, out.stderr[-3000:]
