"""Stage-artifact cache keyed by the config subtree that determines the artifact (DESIGN.md, "Caching and safety").

The key is a SHA-256 of the canonical JSON of ``{"stage", "config", "version"}``: the same subtree (whatever else
changed in the run's config) and the same package version reuse the artifact. Artifacts are netCDF files written
atomically, so a killed job never leaves a half-written cache entry, with CF ``long_name``/``units`` on every
variable (:func:`sepsim._cf_attrs.annotate`), so each opens with plain ``xr.open_dataset``.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import xarray as xr

from . import __version__
from ._cf_attrs import annotate
from ._io import atomic_to_netcdf, open_artifact

__all__ = ["cache_key", "cached_stage"]

log = logging.getLogger("sepsim")


def cache_key(stage: str, config: Any) -> str:
    """Hex digest identifying ``stage`` computed from ``config`` (any JSON-serialisable subtree) by this version."""
    blob = json.dumps({"stage": stage, "config": config, "version": __version__}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:20]


def cached_stage(
    stage: str, config: Any, compute: Callable[[], xr.Dataset], *, cache_dir: str | Path | None
) -> tuple[xr.Dataset, bool]:
    """Return ``(artifact, reused)``: the cached artifact for ``(stage, config)`` if present, else ``compute()``.

    With ``cache_dir=None`` nothing is cached. A reused artifact is loaded fully into memory and logged.
    """
    if cache_dir is None:
        return annotate(compute()), False
    path = Path(cache_dir) / f"{stage}-{cache_key(stage, config)}.nc"
    if path.exists():
        log.info("stage %s: reusing cached artifact %s", stage, path)
        return open_artifact(path), True
    ds = annotate(compute())  # CF long names and units, so the file explains itself (and reuse returns the same)
    atomic_to_netcdf(ds, path)
    log.info("stage %s: computed and cached as %s", stage, path)
    return ds, False
