"""Trial batches shared with worker processes (``processes``; sepsim/platform/_engine/batches.py, issue 14): the
results are identical to one process, for the single-design and the factorial engine, in float64 and float32, on
one or two host devices; a failing worker is reported, never silently dropped; bad values are refused."""

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
import xarray as xr

from sepsim import stage_key
from sepsim._errors import ConfigError
from sepsim.platform import binary_scenario, design_from_dict, domain_combinations, run_trials
from sepsim.platform._engine import batches

ROOT = Path(__file__).resolve().parents[2]

DESIGN = dict(
    arms=["C", "A", "B"],
    control="C",
    look_n=[40, 80, 120],
    higher_is_better=False,
    allocation=dict(rule="thompson", min_prob=0.15),
    stopping=dict(superiority=0.9, inferiority=0.1, futility_prob=0.8, futility_margin=0.05),
)
FACTORIAL = dict(
    look_n=[60, 120],
    higher_is_better=False,
    domains=[
        dict(name="drug", arms=["none", "anakinra"], control="none", stopping=dict(superiority=0.95, inferiority=0.02)),
        dict(name="device", arms=["none", "cytosorb"], control="none", allocation=dict(rule="fixed")),
    ],
)
COMBOS = domain_combinations(design_from_dict(FACTORIAL).domains)


def _outcomes(factorial: bool = False):
    if factorial:
        return binary_scenario([0.4, 0.3, 0.35, 0.25], 1500, key=stage_key(3, "cohort"), arms=COMBOS)
    return binary_scenario([0.4, 0.25, 0.3], 1500, key=stage_key(3, "cohort"))


def _run(design, outcomes, n: int = 1200, **kw) -> xr.Dataset:
    return run_trials(
        outcomes, design_from_dict(design), n_trials=n, key=stage_key(4, "trials"), chunk_size=200, progress=False, **kw
    )


@pytest.fixture
def workers_only(monkeypatch):
    """Once workers are started, this process takes no batch: every batch is computed by a worker (this process is
    otherwise free to finish them all before a worker has started, once the trial function is compiled)."""
    claim = batches._Batches.claim
    monkeypatch.setattr(
        batches._Batches, "claim", lambda self, here=False: None if here and self.started else claim(self, here)
    )


def _same_in_workers(caplog, design, outcomes, n: int = 1200, *logged: str) -> None:
    """``processes=2`` gives the Dataset of one process, and the log says what the workers did."""
    one = _run(design, outcomes, n=n)
    with caplog.at_level(logging.INFO, logger="sepsim"):
        two = _run(design, outcomes, n=n, processes=2)
    xr.testing.assert_identical(one, two)
    for text in logged:
        assert text in caplog.text


def test_batches_from_this_process_and_workers_identical_to_one(monkeypatch, caplog):
    """The mixed path: this process computes one batch (once workers are started it would otherwise go on until a
    worker delivers, or finish them all), the workers the other five; gathered by number."""
    claim = batches._Batches.claim
    monkeypatch.setattr(
        batches._Batches,
        "claim",
        lambda self, here=False: None if here and self.started and self.next >= 1 else claim(self, here),
    )
    _same_in_workers(caplog, DESIGN, _outcomes(), 1200, "5 of 6 batches in worker processes")


def test_workers_alone_identical_to_one(workers_only, caplog):
    _same_in_workers(caplog, DESIGN, _outcomes(), 1200, "6 of 6 batches in worker processes")


def test_blocked_design_in_processes(workers_only, caplog):
    """Permuted blocks: the slot by stable ranks (no sort, whose comparator XLA cannot serialize) in the workers."""
    blocked = dict(DESIGN, allocation=dict(rule="fixed", block_factor=2))
    _same_in_workers(caplog, blocked, _outcomes(), 1200, "6 of 6 batches in worker processes")


def test_program_when_the_executable_cannot_be_serialized(workers_only, monkeypatch, caplog):
    """Where XLA refuses to serialize the executable, the workers get the program (jax.export) and compile it."""

    def refuse(*_a, **_k):
        raise RuntimeError("UNIMPLEMENTED: `LessThan` is not serializable.")

    monkeypatch.setattr(batches.serialize_executable, "serialize", refuse)
    batches._EXECUTABLES.clear()
    _same_in_workers(
        caplog, DESIGN, _outcomes(), 1200, "the workers compile the program", "6 of 6 batches in worker processes"
    )


def test_factorial_engine_in_processes(workers_only, caplog):
    _same_in_workers(caplog, FACTORIAL, _outcomes(factorial=True), 600, "3 of 3 batches in worker processes")


def test_auto_starts_workers_only_when_the_run_is_long(monkeypatch, caplog):
    monkeypatch.setattr(batches, "available_cores", lambda: 2)
    with caplog.at_level(logging.INFO, logger="sepsim"):
        short = _run(DESIGN, _outcomes(), processes="auto")  # well under SPAWN_AFTER_S: this process alone
    assert "worker processes" not in caplog.text
    monkeypatch.setattr(batches, "SPAWN_AFTER_S", 0.0)  # any run pays: workers start after the second batch
    with caplog.at_level(logging.INFO, logger="sepsim"):
        long = _run(DESIGN, _outcomes(), processes="auto")
    assert "batches in worker processes" in caplog.text
    xr.testing.assert_identical(short, long)


def test_a_failing_worker_is_an_error(workers_only, tmp_path, monkeypatch):
    script = tmp_path / "dies.py"
    script.write_text("import sys\nsys.exit(3)\n")
    monkeypatch.setattr(batches, "_WORKER", script)
    with pytest.raises(RuntimeError, match=r"worker process stopped \(exit code 3\)"):
        _run(DESIGN, _outcomes(), processes=2)


def test_a_worker_error_carries_its_traceback(workers_only, tmp_path, monkeypatch):
    script = tmp_path / "raises.py"  # reads the job like a worker, then answers the first batch with an error
    script.write_text(
        "import pickle, sys\n"
        "inp, out = sys.stdin.buffer, sys.stdout.buffer\n"
        "pickle.load(inp); pickle.load(inp); kind, i, _ = pickle.load(inp)\n"
        "pickle.dump(('error', i, 'Traceback: ValueError: boom'), out); out.flush()\n"
    )
    monkeypatch.setattr(batches, "_WORKER", script)
    with pytest.raises(RuntimeError, match="(?s)failed on batch .*boom"):
        _run(DESIGN, _outcomes(), processes=2)


@pytest.mark.parametrize("bad", [0, -1, 1.5, "two", True, None])
def test_bad_processes_refused(bad):
    with pytest.raises(ConfigError, match="processes"):
        _run(DESIGN, _outcomes(), processes=bad)


SCRIPT = r"""
import json, sys, jax
jax.config.update("jax_enable_x64", sys.argv[1] == "float64")
from sepsim import stage_key
from sepsim._errors import ConfigError
from sepsim.platform import binary_scenario, design_from_dict, run_trials
from sepsim.platform._engine import batches
claim = batches._Batches.claim
batches._Batches.claim = lambda self, here=False: None if here and self.started else claim(self, here)
design = design_from_dict(json.loads(sys.argv[2]))
outcomes = binary_scenario([0.4, 0.25, 0.3], 1500, key=stage_key(3, "cohort"))
run = lambda p: run_trials(outcomes, design, n_trials=800, key=stage_key(4, "trials"), chunk_size=200,
                           progress=False, processes=p)
one = run(1)
try:
    two, refused = run(2), ""
except ConfigError as err:
    two, refused = run("auto"), str(err)
print(json.dumps(dict(devices=len(jax.devices()), identical=bool(one.identical(two)), refused=refused)))
"""


@pytest.mark.parametrize(("precision", "devices"), [("float32", 1), ("float64", 2)])
def test_settings_and_devices(precision, devices):
    """float32 (x64 off) in the caller: the workers compute the same trials (in float64 they would give other
    posterior probabilities). Two forced host devices: an explicit worker count is refused ("auto" runs here)."""
    env = dict(os.environ, JAX_PLATFORMS="cpu", XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}")
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, precision, json.dumps(DESIGN)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert res["devices"] == devices
    assert res["identical"]
    assert ("2 host devices" in res["refused"]) == (devices == 2)
