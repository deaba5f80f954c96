"""Atomic file writes: write to a temporary file in the same directory, fsync, then ``os.replace`` into place.

A reader, or a job killed at any moment (even by SIGKILL), sees either the old file or the complete new one, never
a torn file (DESIGN.md, "Caching and safety"). ``os.replace`` is atomic on POSIX when source and target are on the
same filesystem, which the same-directory temporary guarantees. A killed writer may leave a hidden
``.<name>.<host>-<pid>.*.tmp`` file behind; the target itself is never damaged, and :func:`remove_stale_tmp`
(called when a run starts) removes the temporary files of writers on this host that are no longer alive.

Every file sepsim writes (run directory, cache, merged sweeps) goes through this module.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

__all__ = [
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_text",
    "atomic_write_json",
    "atomic_savefig",
    "atomic_to_netcdf",
    "remove_stale_tmp",
]

_CHUNK = 1 << 20  # bytes written per call


def _fsync_dir(directory: Path) -> None:
    """Make the rename itself durable (best effort: not every platform can open a directory)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a fresh temporary path in ``path``'s directory; on success fsync it and replace ``path`` with it."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.{_owner()}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        if target.exists():
            os.chmod(tmp, target.stat().st_mode & 0o7777)
        else:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
        _fsync_dir(target.parent)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _owner() -> str:
    """``<host>-<pid>`` of this writer (host names may hold dots; pids are digits)."""
    return f"{socket.gethostname().replace('-', '_')}-{os.getpid()}"


_TMP = re.compile(r"\.(?P<name>.+)\.(?P<host>[^.]*(?:\.[^.]*)*?)-(?P<pid>\d+)\.[^.]+\.tmp")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_tmp(directory: str | os.PathLike[str]) -> list[Path]:
    """Remove the temporary files that writers on this host left in ``directory`` when killed; returns them.

    A temporary file of a live process, or of another host (a shared filesystem), is left alone.
    """
    d = Path(directory)
    if not d.is_dir():
        return []
    host = socket.gethostname().replace("-", "_")
    removed = []
    for path in d.glob(".*.tmp"):
        m = _TMP.fullmatch(path.name)
        if m and m["host"] == host and int(m["pid"]) != os.getpid() and not _alive(int(m["pid"])):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def _write_chunk(fh: IO[bytes], chunk: memoryview) -> None:
    fh.write(chunk)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    view = memoryview(data).cast("B")
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        for start in range(0, len(view), _CHUNK):
            _write_chunk(fh, view[start : start + _CHUNK])
        fh.flush()


def atomic_write_text(path: str | os.PathLike[str], text: str, *, encoding: str = "utf-8") -> None:
    """Write ``text`` to ``path`` atomically."""
    atomic_write_bytes(path, text.encode(encoding))


def atomic_write_json(path: str | os.PathLike[str], obj: Any, *, indent: int = 2) -> None:
    """Write ``obj`` as strict JSON (no NaN/Infinity) to ``path`` atomically; serialises before touching disk."""
    text = json.dumps(obj, indent=indent, allow_nan=False, ensure_ascii=False, default=_json_default) + "\n"
    atomic_write_text(path, text)


def atomic_savefig(fig: Any, path: str | os.PathLike[str], **kwargs: Any) -> Path:
    """Save a matplotlib figure to ``path`` atomically (format from the suffix); returns the path."""
    target = Path(path)
    fmt = kwargs.pop("format", None) or target.suffix.lstrip(".") or "png"
    with atomic_path(target) as tmp:
        fig.savefig(tmp, format=fmt, **kwargs)
    return target


def atomic_to_netcdf(ds: Any, path: str | os.PathLike[str], **kwargs: Any) -> Path:
    """Write an xarray Dataset to ``path`` atomically with ``to_netcdf(engine="h5netcdf")``; returns the path."""
    target = Path(path)
    kwargs.setdefault("engine", "h5netcdf")
    with atomic_path(target) as tmp:
        ds.to_netcdf(tmp, **kwargs)
    return target


def _json_default(o: Any) -> Any:
    """NumPy scalars and arrays, and paths, as JSON."""
    import numpy as np

    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def open_artifact(path: str | os.PathLike[str]) -> Any:
    """Read a netCDF artifact written by :func:`atomic_to_netcdf` fully into memory, exactly as it was written.

    CF time decoding is off: a variable whose ``units`` merely reads like a time ("days since randomisation")
    comes back as the numbers that were stored, not as dates or timedeltas.
    """
    import xarray as xr

    with xr.open_dataset(path, engine="h5netcdf", decode_times=False, decode_timedelta=False) as ds:
        return ds.load()
