"""Merge a hydra multirun into one xarray Dataset whose dimensions are the swept parameters.

Each run directory of a sweep (``MULTIRUN/0``, ``MULTIRUN/1``, ...) holds ``.hydra/overrides.yaml`` (the overrides
that made it) and its artifacts. The parameters that take more than one value across the runs are the sweep's
dimensions; each run's artifact gets those as length-1 dimensions and the runs are combined by coordinates.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import xarray as xr
import yaml

from ._errors import DataFileError
from ._io import atomic_to_netcdf, open_artifact

__all__ = ["collect", "read_overrides"]


def _parse_value(text: str) -> Any:
    value = yaml.safe_load(text)
    return value if isinstance(value, (int, float, str, bool)) else text


def read_overrides(run_dir: Path) -> dict[str, Any]:
    """``{key: value}`` from a run's ``.hydra/overrides.yaml`` (``+``/``++`` prefixes dropped)."""
    path = run_dir / ".hydra" / "overrides.yaml"
    if not path.is_file():
        raise DataFileError(str(path), "missing: not a hydra run directory")
    items = yaml.safe_load(path.read_text()) or []
    out: dict[str, Any] = {}
    for row, item in enumerate(items, 1):
        if not isinstance(item, str) or "=" not in item:
            raise DataFileError(str(path), f"expected 'key=value', got {item!r}", row=row)
        key, value = item.split("=", 1)
        out[key.lstrip("+~")] = _parse_value(value)
    return out


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
    overrides = [read_overrides(d) for d in run_dirs]
    keys = sorted({k for o in overrides for k in o})
    swept = [k for k in keys if len({repr(o.get(k)) for o in overrides}) > 1]
    parts = []
    for run_dir, ov in zip(run_dirs, overrides, strict=True):
        path = run_dir / artifact
        if not path.is_file():
            raise DataFileError(str(path), "missing: did this run finish? (rerun the sweep; finished runs are reused)")
        ds = open_artifact(path).drop_attrs()
        parts.append(ds.expand_dims({k: [ov.get(k)] for k in swept}))
    merged = xr.combine_by_coords(parts, combine_attrs="drop") if swept else parts[0]
    merged.attrs.update(n_runs=len(run_dirs), swept=",".join(swept), source=str(root))
    out = Path(output) if output is not None else root / "merged.nc"
    atomic_to_netcdf(merged, out)
    return merged, out
