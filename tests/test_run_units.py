"""Runs and sweeps as units (issue 13, items 4 and 5): the manifest marks a run complete, a run clears the
temporary files of killed writers, and a sweep killed with SIGKILL resumes into its own directory, redoing only
the missing points, to the same merged result as an uninterrupted sweep."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import xarray as xr

from sepsim._errors import DataFileError
from sepsim._io import remove_stale_tmp
from sepsim._rundir import MANIFEST, begin_run, check_complete, finish_run, finished_summary
from sepsim.collect import collect


def _dead_pid() -> int:
    """The pid of a process that has exited (so no live writer owns a temporary file named after it)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _tmp_name(target: str, pid: int, host: str | None = None) -> str:
    host = (host or socket.gethostname()).replace("-", "_")
    return f".{target}.{host}-{pid}.abc123.tmp"


def test_stale_tmp_of_dead_writers_removed_live_and_foreign_kept(tmp_path: Path):
    dead, live = _dead_pid(), os.getppid()
    names = {
        "dead": _tmp_name("oc.nc", dead),
        "live": _tmp_name("oc.nc", live),
        "other_host": _tmp_name("oc.nc", dead, host="elsewhere.cluster"),
        "not_ours": ".notes.tmp",
    }
    for name in names.values():
        (tmp_path / name).write_bytes(b"x" * 10)
    removed = remove_stale_tmp(tmp_path)
    assert [p.name for p in removed] == [names["dead"]]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(v for k, v in names.items() if k != "dead")


def _fake_run(run: Path, config: str) -> None:
    run.mkdir(parents=True, exist_ok=True)
    (run / "config.yaml").write_text(config)
    (run / "summary.json").write_text('{"seed": 1}\n')
    (run / "oc.nc").write_bytes(b"numbers")


def test_manifest_marks_a_run_complete_and_a_new_run_unmarks_it(tmp_path: Path):
    run = tmp_path / "run"
    _fake_run(run, "seed: 1\n")
    finish_run(run, "seed: 1\n")
    assert set(check_complete(run)["files"]) == {"config.yaml", "summary.json", "oc.nc"}
    assert finished_summary(run, "seed: 1\n") == {"seed": 1}
    assert finished_summary(run, "seed: 2\n") is None  # another config: not this run, redo it
    (run / _tmp_name("results.nc", _dead_pid())).write_bytes(b"half")
    begin_run(run)  # a new run into the same directory (e.g. seed 2 over seed 1)
    assert not (run / MANIFEST).exists() and not list(run.glob(".*.tmp"))
    with pytest.raises(DataFileError, match="incomplete run"):  # and, if it got that far, run 2 never started
        check_complete(run)


def test_manifest_detects_a_changed_file(tmp_path: Path):
    run = tmp_path / "run"
    _fake_run(run, "seed: 1\n")
    finish_run(run, "seed: 1\n")
    (run / "oc.nc").write_bytes(b"numberz")  # same size, other bytes
    with pytest.raises(DataFileError, match="differs from the run's manifest"):
        check_complete(run)
    assert finished_summary(run, "seed: 1\n") is None


SMALL = [
    "experiment=adaptr",
    "n_trials=20",
    "design.look_n=[100,200]",
    "design.enrolment.randomised_n=null",
    "scenario.n_patients=2000",
    "runtime.progress=log",
    "runtime.cache=false",  # every point computes: the resumed sweep must not borrow numbers from a cache
    "runtime.figures=false",
]


def _sweep_cmd(sweep_dir: str) -> list[str]:
    exe = Path(sys.executable).with_name("sepsim")
    return [str(exe), "-m", *SMALL, "seed=1,2,3", f"hydra.sweep.dir={sweep_dir}"]


def _env() -> dict[str, str]:
    return {**os.environ, "JAX_PLATFORMS": "cpu"}


@pytest.mark.slow  # three sweeps of three points (~2 min on 2 cores)
def test_sigkilled_sweep_resumes_in_its_directory_to_the_same_result(tmp_path: Path):
    proc = subprocess.Popen(
        _sweep_cmd("sw"),
        cwd=tmp_path,
        env=_env(),
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    first = tmp_path / "sw" / "0" / MANIFEST
    second = tmp_path / "sw" / "1" / "config.yaml"  # the second point has started writing its run directory
    deadline = time.monotonic() + 300
    while not second.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert first.exists() and second.exists(), "the sweep never reached its second point"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (tmp_path / "sw" / "2" / MANIFEST).exists(), "the sweep finished before it was killed"
    with pytest.raises(DataFileError, match="incomplete run"):  # and, if it got that far, run 2 never started
        collect(tmp_path / "sw")
    stamp = first.stat().st_mtime_ns

    resumed = subprocess.run(_sweep_cmd("sw"), cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert resumed.stdout.count("already holds this run, complete") >= 1
    assert first.stat().st_mtime_ns == stamp  # the finished point was not redone
    assert not list((tmp_path / "sw").rglob(".*.tmp"))
    merged, _ = collect(tmp_path / "sw")

    whole = subprocess.run(_sweep_cmd("ref"), cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=600)
    assert whole.returncode == 0, whole.stderr[-3000:]
    reference, _ = collect(tmp_path / "ref")
    assert merged.sizes["seed"] == 3
    xr.testing.assert_identical(merged.drop_attrs(), reference.drop_attrs())
