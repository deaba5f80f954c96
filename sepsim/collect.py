"""Merge a hydra multirun into one xarray Dataset whose dimensions are the swept parameters.

Each run directory of a sweep (``MULTIRUN/0``, ``MULTIRUN/1``, ...) holds ``.hydra/overrides.yaml`` (the overrides
that made it) and its artifacts. The parameters that take more than one value across the runs are the sweep's
dimensions, under plain netCDF names (``design.stopping.superiority`` -> ``design_stopping_superiority``; the
override key is the dimension's ``long_name``); each run's artifact gets those as length-1 dimensions and the runs
are combined by coordinates. The merged file keeps the variables' CF attributes (``long_name``, ``units``, flags).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import xarray as xr
import yaml

from ._errors import DataFileError
from ._io import atomic_to_netcdf, open_artifact, remove_stale_tmp
from ._rundir import MANIFEST, check_complete
from .report._cf import plain_name

__all__ = ["collect", "read_overrides"]


def _parse_value(text: str) -> Any:
    value = yaml.safe_load(text)
    return value if isinstance(value, (int, float, str, bool)) else text


def read_overrides(run_dir: Path) -> dict[str, Any]:
    """``{key: value}`` from a run's ``.hydra/overrides.yaml`` (``+``/``++`` prefixes dropped)."""
    path = run_dir / ".hydra" / "overrides.yaml"
    if not path.is_file():
        raise DataFileError(str(path), "missing: not a hydra run directory")
    try:
        items = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        raise DataFileError(
            str(path), f"YAML syntax error: {getattr(err, 'problem', err)}", row=mark.line + 1 if mark else None
        ) from None
    if items is None:
        items = []
    if not isinstance(items, list):
        raise DataFileError(str(path), f"expected a list of 'key=value' strings, got {type(items).__name__}")
    out: dict[str, Any] = {}
    for row, item in enumerate(items, 1):
        if not isinstance(item, str) or "=" not in item:
            raise DataFileError(str(path), f"expected 'key=value', got {item!r}", row=row)
        key, value = item.split("=", 1)
        out[key.lstrip("+~")] = _parse_value(value)
    return out


def expected_points(root: Path) -> list[str] | None:
    """The run subdirectories a sweep was launched with (from its ``multirun.yaml``), or None if unknown."""
    path = root / "multirun.yaml"
    if not path.is_file():
        return None
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser

    try:
        cfg = yaml.safe_load(path.read_text())
        task = cfg["hydra"]["overrides"]["task"]
        if cfg["hydra"]["sweep"]["subdir"] != "${hydra.job.num}":
            return None  # a custom subdir layout: the run directories are not numbered
        jobs = BasicSweeper.split_arguments(OverridesParser.create().parse_overrides(task), None)[0]
    except Exception:  # noqa: BLE001 - a sweeper other than the basic one: the points cannot be re-derived here
        return None
    return [str(i) for i in range(len(jobs))]


def parts_vars(parts: dict) -> set[str]:
    """Names already used by the runs' artifacts (a swept key must not shadow one)."""
    return {str(n) for _, _, ds in parts.values() for n in ds.variables}


def collect(
    multirun_dir: str | Path, *, artifact: str = "oc.nc", output: str | Path | None = None
) -> tuple[xr.Dataset, Path]:
    """Merge ``artifact`` of every run under ``multirun_dir``; write it (atomically) and return ``(dataset, path)``."""
    root = Path(multirun_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: not a directory")
    run_dirs = sorted((p for p in root.iterdir() if (p / ".hydra").is_dir()), key=lambda p: p.name)
    if not run_dirs:
        raise DataFileError(str(root), "holds no hydra run directories (.../N/.hydra)")
    remove_stale_tmp(root)
    expected = expected_points(root)
    missing = [n for n in expected or [] if not (root / n / ".hydra").is_dir()]
    if missing:
        unfinished = [d.name for d in run_dirs if not (d / MANIFEST).is_file()]
        raise DataFileError(
            str(root),
            f"the sweep launched {len(expected)} points; runs {missing} never started"
            + (f" and runs {unfinished} are incomplete runs" if unfinished else "")
            + f"; resume the sweep into this directory (the same sepsim -m command with hydra.sweep.dir={root}): "
            "finished points are skipped",
        )
    overrides = [read_overrides(d) for d in run_dirs]
    keys = sorted({k for o in overrides for k in o})
    swept = [k for k in keys if len({repr(o.get(k)) for o in overrides}) > 1]
    parts: dict[tuple, tuple[Path, dict[str, Any], xr.Dataset]] = {}
    for run_dir, ov in zip(run_dirs, overrides, strict=True):
        try:
            check_complete(run_dir)
        except DataFileError as err:
            raise DataFileError(
                err.path,
                f"{str(err).split(': ', 1)[-1]}; resume the sweep into this directory "
                f"(the same sepsim -m command with hydra.sweep.dir={root}): finished points are skipped",
            ) from None
        path = run_dir / artifact
        if not path.is_file():
            raise DataFileError(str(path), f"missing: the run does not write {artifact!r} (try --artifact oc.nc)")
        try:
            ds = open_artifact(path)
            ds.attrs = {}  # run-level attributes differ between runs; variables keep theirs
        except Exception as err:  # noqa: BLE001 - any reader failure means the file is not a readable netCDF
            raise DataFileError(str(path), f"not a readable netCDF file ({type(err).__name__}: {err})") from None
        point = tuple(repr(ov.get(k)) for k in swept)
        if point in parts:
            other, _, seen = parts[point]
            if not seen.identical(ds):
                where = ", ".join(f"{k}={ov.get(k)}" for k in swept) or "the same overrides"
                raise DataFileError(
                    str(run_dir),
                    f"claims the same sweep point as {other} ({where}) with different numbers; remove one of them",
                )
            continue
        parts[point] = (run_dir, ov, ds)
    names = {k: plain_name(k) for k in swept}
    clash = sorted({n for n in names.values() if list(names.values()).count(n) > 1 or n in parts_vars(parts)})
    if clash:
        raise DataFileError(str(root), f"swept keys {swept} give clashing dimension names {clash}")
    datasets = [ds.expand_dims({names[k]: [ov.get(k)] for k in swept}) for _, ov, ds in parts.values()]
    merged = xr.combine_by_coords(datasets, combine_attrs="drop_conflicts") if swept else datasets[0]
    for k, name in names.items():
        merged[name].attrs.update(long_name=f"swept parameter {k} (hydra override)")
        if merged[name].dtype.kind in "iuf":
            merged[name].attrs["units"] = "1"
    merged.attrs.update(n_runs=len(parts), swept=",".join(names.values()), swept_keys=",".join(swept), source=str(root))
    out = Path(output) if output is not None else root / "merged.nc"
    atomic_to_netcdf(merged, out)
    return merged, out
