"""What produced a run: the git commit of the sepsim source (where it is a git checkout) and package versions."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

__all__ = ["PACKAGES", "package_versions", "git_commit", "provenance"]

PACKAGES = (
    "sepsim", "jax", "jaxlib", "numpy", "scipy", "xarray", "h5netcdf", "matplotlib", "numpyro", "diffrax", "equinox",
    "arviz", "hydra-core",
)  # fmt: skip


def package_versions(packages: Iterable[str] = PACKAGES) -> dict[str, str]:
    """Installed versions of the packages that shape the results (``"not installed"`` where absent)."""
    out = {"python": sys.version.split()[0]}
    for name in packages:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def git_commit(source: Path | None = None) -> dict[str, Any]:
    """``{"commit": sha or None, "dirty": bool or None}`` of the git checkout holding ``source`` (default: sepsim's
    own source); None where it is not a git checkout or git is absent (an installed wheel)."""
    where = Path(source) if source is not None else Path(__file__).resolve().parents[2]

    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(["git", *args], cwd=where, capture_output=True, text=True, timeout=10, check=False)
        except (OSError, subprocess.SubprocessError):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if not commit:
        return {"commit": None, "dirty": None}
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": bool(status) if status is not None else None}


def provenance() -> dict[str, Any]:
    """``{"git": {"commit", "dirty"}, "versions": {...}}`` for ``summary.json`` and the report's appendix."""
    return {"git": git_commit(), "versions": package_versions()}
