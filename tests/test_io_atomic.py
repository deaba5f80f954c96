"""Atomic writes (the SIGKILL-mid-write test is in tests/report/test_report.py)."""

from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from sepsim._io import atomic_path, atomic_to_netcdf, atomic_write_json, atomic_write_text


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
