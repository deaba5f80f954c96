"""A run directory as a unit: a run is complete only when its ``manifest.json`` lists every file it wrote.

A run starts by removing the manifest of any earlier run in the same directory (so a run killed while overwriting
is never mistaken for a finished one: ``config.yaml`` of one seed beside ``oc.nc`` of another) and the temporary
files of writers that died; it ends by writing the manifest, atomically, last. ``sepsim-collect`` merges only runs
whose manifest matches their files, and a resumed sweep skips a point whose manifest matches its config.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from ._errors import DataFileError
from ._io import atomic_write_json, remove_stale_tmp

__all__ = ["MANIFEST", "begin_run", "check_complete", "config_digest", "finish_run", "finished_summary"]

MANIFEST = "manifest.json"


def config_digest(config_text: str) -> str:
    return hashlib.sha256(config_text.encode("utf-8")).hexdigest()


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def begin_run(run_dir: Path, *other_dirs: Path | None) -> None:
    """Mark ``run_dir`` incomplete (manifest removed) and remove dead writers' temporary files there and in
    ``other_dirs`` (the cache)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / MANIFEST).unlink(missing_ok=True)
    for d in (run_dir, run_dir / "figures", *other_dirs):
        if d is not None:
            remove_stale_tmp(d)


def finish_run(run_dir: Path, config_text: str) -> None:
    """Write the manifest: every file of the run (but the hydra log and ``.hydra``) with its size and sha256."""
    files = {}
    for path in sorted(run_dir.rglob("*")):
        rel = path.relative_to(run_dir).as_posix()
        if (
            path.is_file()
            and not rel.startswith(".")
            and "/." not in rel
            and rel != MANIFEST
            and rel.endswith((".nc", ".json", ".yaml", ".html", ".png"))
        ):
            files[rel] = {"bytes": path.stat().st_size, "sha256": _sha256(path)}
    atomic_write_json(run_dir / MANIFEST, {"config_sha256": config_digest(config_text), "files": files})


def check_complete(run_dir: Path) -> dict[str, Any]:
    """The manifest of a finished run; ``DataFileError`` if the run is unfinished or a file differs from it."""
    path = run_dir / MANIFEST
    if not path.is_file():
        raise DataFileError(str(run_dir), f"incomplete run (no {MANIFEST}): it was killed or is still running")
    try:
        manifest = json.loads(path.read_text())
        files = manifest["files"]
    except (ValueError, KeyError, TypeError) as err:
        raise DataFileError(str(path), f"unreadable manifest ({err})") from None
    for rel, meta in files.items():
        f = run_dir / rel
        if not f.is_file():
            raise DataFileError(str(f), f"missing, though the run's {MANIFEST} lists it (deleted after the run)")
        if f.stat().st_size != meta["bytes"] or _sha256(f) != meta["sha256"]:
            raise DataFileError(str(f), "differs from the run's manifest (changed or truncated after the run)")
    return manifest


def finished_summary(run_dir: Path, config_text: str) -> dict[str, Any] | None:
    """The summary of a complete earlier run of the same config in ``run_dir`` (a resumed sweep point), or None."""
    try:
        manifest = check_complete(run_dir)
    except DataFileError:
        return None
    if manifest.get("config_sha256") != config_digest(config_text) or "summary.json" not in manifest["files"]:
        return None
    return json.loads((run_dir / "summary.json").read_text())
