"""The trial engine's XLA options (``engine_compiler_options``: the elemental IR emitters on a CPU, issue 14): they
reach the engine's executables, an XLA that refuses them falls back to its defaults, and the results are those of
XLA's defaults."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sepsim import stage_key
from sepsim._keys import index_keys
from sepsim.platform import binary_scenario, design_from_dict
from sepsim.platform._engine import run as run_mod
from sepsim.platform._engine import shard

DESIGNS = {
    "adaptr-like": dict(
        arms=["A", "B", "C"],
        look_n=[60, 120, 180],
        higher_is_better=False,
        allocation=dict(rule="thompson", min_prob=0.2),
        stopping=dict(superiority=0.95, inferiority=0.05, equivalence_prob=0.8, equivalence_margin=0.1),
    ),
    "frequentist z": dict(
        arms=["ctl", "trt"],
        control="ctl",
        look_n=[100, 200],
        higher_is_better=False,
        analysis=dict(method="frequentist", test="z", alpha=0.025, spending="obf"),
    ),
    "logistic": dict(
        arms=["ctl", "trt"],
        control="ctl",
        look_n=[100, 200],
        higher_is_better=False,
        allocation=dict(rule="fixed"),
        analysis=dict(model="logistic", prior_sd=10.0),
        stopping=dict(superiority=0.9, inferiority=None),
    ),
}


@pytest.fixture
def restore_options():
    saved = shard._CPU_OPTIONS
    yield
    shard._CPU_OPTIONS = saved
    shard._options_for.cache_clear()
    run_mod._compiled.cache_clear()


def _use(options: dict) -> None:
    shard._CPU_OPTIONS = options
    shard._options_for.cache_clear()
    run_mod._compiled.cache_clear()


def test_the_options_are_known_to_this_xla_on_a_cpu():
    assert jax.default_backend() == "cpu"
    assert shard.engine_compiler_options() == {"xla_cpu_use_fusion_emitters": False}


def test_an_option_this_xla_refuses_falls_back_to_its_defaults(restore_options):
    _use({"xla_cpu_no_such_option": True})
    assert shard.engine_compiler_options() is None
    fn = shard.over_trial_devices(lambda t, k, thr: k * 2.0)
    assert float(fn(None, jnp.ones(3), None)[0]) == 2.0


def test_the_options_reach_the_engine_executable(restore_options, monkeypatch):  # restored after the patch
    # an option XLA does not know makes the compile fail: so what engine_compiler_options says is what is compiled,
    # by run_trials' function and by patient_log's
    from sepsim.platform import patient_log

    monkeypatch.setattr(shard, "_options_for", lambda backend: (("xla_cpu_no_such_option", True),))
    run_mod._compiled.cache_clear()
    design = design_from_dict(DESIGNS["adaptr-like"])
    outcomes = binary_scenario([0.35, 0.25, 0.3], 3000, key=stage_key(5, "cohort"), arms=list(design.arms))
    fn, _ = run_mod.make_trial_function(design, outcomes)
    with pytest.raises(Exception, match="xla_cpu_no_such_option"):
        fn(index_keys(stage_key(6, "trials"), 0, 4))
    with pytest.raises(Exception, match="xla_cpu_no_such_option"):
        patient_log(outcomes, design, n_trials=4, key=stage_key(6, "trials"))


@pytest.mark.parametrize("name", list(DESIGNS))
def test_results_equal_those_compiled_with_xla_defaults(name, restore_options):
    design = design_from_dict(DESIGNS[name])
    rates = [0.35, 0.25, 0.3][: len(design.arms)]
    outcomes = binary_scenario(rates, 3000, key=stage_key(5, "cohort"), arms=list(design.arms))
    keys = index_keys(stage_key(6, "trials"), 0, 64)
    fn, _ = run_mod.make_trial_function(design, outcomes)
    engine = jax.device_get(fn(keys))
    _use({})
    assert shard.engine_compiler_options() is None
    fn_default, _ = run_mod.make_trial_function(design, outcomes)
    default = jax.device_get(fn_default(keys))
    leaves = list(zip(jax.tree_util.tree_leaves(engine), jax.tree_util.tree_leaves(default), strict=True))
    assert len(leaves) > 8
    for a, b in leaves:
        a, b = np.asarray(a), np.asarray(b)
        if a.dtype.kind == "f":
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15, equal_nan=True)
        else:
            np.testing.assert_array_equal(a, b)
    decided = np.asarray(engine["units"].outcome)
    assert np.any(decided != decided.flat[0])  # the trials end differently: the comparison is not of one outcome
