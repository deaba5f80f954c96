"""Atomic writes: a writer killed mid-write leaves the old file or the new one, never a torn one."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from sepsim._io import atomic_path, atomic_to_netcdf, atomic_write_json, atomic_write_text

WRITER = textwrap.dedent(
    """
    import sys, time
    from sepsim._io import atomic_path
    target, marker = sys.argv[1], sys.argv[2]
    with atomic_path(target) as tmp, open(tmp, "wb") as fh:
        for i in range(200):
            fh.write(b"N" * 10_000)
            fh.flush()
            if i == 5:
                open(marker, "w").close()   # tell the test we are mid-write
            time.sleep(0.05)
    """
)


def test_killed_writer_leaves_old_file_intact(tmp_path: Path):
    target, marker = tmp_path / "results.bin", tmp_path / "started"
    target.write_bytes(b"OLD" * 1000)
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(target), str(marker)])
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert proc.poll() is None, "writer exited before it was killed"
        assert time.monotonic() < deadline, "writer never started"
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert target.read_bytes() == b"OLD" * 1000
    # the dead writer's temporary file is the only leftover, and it is hidden beside the target
    assert all(p.name.startswith(".results.bin.") for p in tmp_path.iterdir() if p not in (target, marker))


def test_completed_write_replaces_file(tmp_path: Path):
    target = tmp_path / "x.txt"
    target.write_text("old")
    atomic_write_text(target, "new")
    assert target.read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.txt"]


def test_exception_inside_write_keeps_old_and_cleans_up(tmp_path: Path):
    target = tmp_path / "x.json"
    atomic_write_json(target, {"a": 1})
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("partial")
        raise RuntimeError("boom")
    assert target.read_text().strip().startswith("{")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.json"]


def test_netcdf_roundtrip(tmp_path: Path):
    ds = xr.Dataset({"v": (("trial", "arm"), np.arange(6.0).reshape(3, 2))}, coords={"arm": ["a", "b"]})
    atomic_to_netcdf(ds, tmp_path / "r.nc")
    with xr.open_dataset(tmp_path / "r.nc", engine="h5netcdf") as back:
        xr.testing.assert_identical(back.load(), ds)
