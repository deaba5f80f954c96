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


def test_the_options_reach_the_engine_executable(monkeypatch):
    # an option XLA does not know makes the compile fail: so what engine_compiler_options says is what is compiled
    monkeypatch.setattr(shard, "_options_for", lambda backend: (("xla_cpu_no_such_option", True),))
    fn = shard.over_trial_devices(lambda t, k, thr: k * 2.0)
    with pytest.raises(Exception, match="xla_cpu_no_such_option"):
        fn(None, jnp.ones(3), None)


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


# ---- batches at once on a CPU (map_batches) ----------------------------------------------------------------------


def test_map_batches_yields_in_order_with_at_most_workers_in_flight():
    import threading
    import time

    lock, state = threading.Lock(), {"now": 0, "most": 0}

    def run(i):
        with lock:
            state["now"] += 1
            state["most"] = max(state["most"], state["now"])
        time.sleep(0.01 * (i % 3))  # finish out of order
        with lock:
            state["now"] -= 1
        return i * i

    assert list(shard.map_batches(run, range(12), workers=3)) == [i * i for i in range(12)]
    assert 2 <= state["most"] <= 3
    assert list(shard.map_batches(run, range(5), workers=1)) == [i * i for i in range(5)]


def test_map_batches_passes_on_a_batch_error():
    def run(i):
        if i == 3:
            raise ValueError("batch 3")
        return i

    got = []
    with pytest.raises(ValueError, match="batch 3"):
        for r in shard.map_batches(run, range(8), workers=2):
            got.append(r)
    assert got == [0, 1, 2]


def test_batch_workers_is_one_per_usable_core_on_a_cpu():
    import os

    assert shard.batch_workers() == max(1, min(len(os.sched_getaffinity(0)), shard.MAX_CPU_BATCH_WORKERS))


@pytest.mark.parametrize("name", ["adaptr-like", "factorial"])
def test_run_trials_gives_the_same_dataset_with_batches_at_once(name, monkeypatch):
    import xarray as xr

    from sepsim.platform import run_trials

    if name == "factorial":
        from sepsim.platform import domain_combinations

        design = dict(
            look_n=[60, 120],
            higher_is_better=False,
            domains=[
                dict(name="i", arms=["p", "a"], control="p", stopping=dict(superiority=0.9, inferiority=0.1)),
                dict(name="d", arms=["n", "c"], control="n", stopping=dict(superiority=0.9, inferiority=0.1)),
            ],
        )
        arms = list(domain_combinations(design_from_dict(design).domains))
    else:
        design, arms = DESIGNS[name], ["A", "B", "C"]
    outcomes = binary_scenario([0.35, 0.25, 0.3, 0.2][: len(arms)], 3000, key=stage_key(5, "cohort"), arms=arms)
    runs = {}
    for workers in (1, 3):
        monkeypatch.setattr(shard, "batch_workers", lambda w=workers: w)
        runs[workers] = run_trials(outcomes, design, n_trials=50, key=stage_key(7, "trials"), chunk_size=8)
    xr.testing.assert_identical(runs[1], runs[3])  # 7 batches (the last padded), three at once
