"""Reading a fitted population posterior (arviz InferenceData netCDF) as stacked hyper-parameter draws."""

from __future__ import annotations

import warnings
from functools import cache
from importlib import resources
from pathlib import Path
from typing import NamedTuple

import numpy as np
import xarray as xr

from ..._errors import DataFileError
from ._latent import LatentSpace

__all__ = ["DEFAULT_POSTERIOR", "PosteriorDraws", "default_posterior_path", "load_posterior"]

DEFAULT_POSTERIOR = "sepsim/models/population/data/immunosep_posterior.nc"


class PosteriorDraws(NamedTuple):
    """Hyper-parameter draws (chain x draw flattened to ``draw``), restricted to a latent space."""

    names: tuple[str, ...]
    mu: np.ndarray  # (draw, param)
    scale_tril: np.ndarray  # (draw, param, param): cholesky of the population covariance
    beta: np.ndarray  # (draw, param, covariate)
    missing: tuple[str, ...]  # heterogeneity parameters of patient.yaml that the posterior does not cover


def default_posterior_path() -> Path:
    """The committed posterior of ``sepsim experiment=calibrate`` (shipped with the package)."""
    return Path(str(resources.files("sepsim.models.population").joinpath("data/immunosep_posterior.nc")))


def _read(path: str) -> xr.Dataset:
    p = Path(path)
    if not p.is_file():
        raise DataFileError(path, "posterior file not found; run `sepsim experiment=calibrate` to fit it")
    return _read_version(path, p.stat().st_mtime_ns)  # a refit under the same path is read again


@cache
def _read_version(path: str, mtime_ns: int) -> xr.Dataset:
    p = Path(path)
    try:
        with xr.open_dataset(p, group="posterior", engine="h5netcdf") as ds:
            post = ds[["mu", "sd", "corr_chol", "beta"]].load()
    except (OSError, KeyError, ValueError) as err:
        raise DataFileError(path, f"not a population posterior (InferenceData group 'posterior'): {err}") from err
    return post.stack(sample=("chain", "draw")).transpose("sample", ...)


def load_posterior(space: LatentSpace, path: str | Path | None = None) -> PosteriorDraws:
    """Stacked draws for the parameters of ``space``.

    A parameter of ``space`` that the posterior does not hold (patient.yaml gained a ``sample:`` entry after the fit)
    is reported in ``missing`` (the cohort draws it from its plausible range, with a warning); posterior parameters no
    longer in ``space`` are marginalised out (rows/columns of the covariance dropped).
    """
    path = str(default_posterior_path() if path is None else path)
    post = _read(path)
    names = [str(n) for n in post["param"].values]
    keep = [n for n in space.names if n in names]
    missing = tuple(n for n in space.names if n not in names)
    if missing:
        warnings.warn(
            f"{path}: posterior has no draws for {list(missing)} (patient.yaml changed since the fit); they are drawn "
            "from their plausible ranges. Refit with `sepsim experiment=calibrate`.",
            RuntimeWarning,
            stacklevel=3,
        )
    idx = np.array([names.index(n) for n in keep], dtype=int)
    sd = post["sd"].values[:, idx]
    chol = post["corr_chol"].values
    corr = np.einsum("sij,skj->sik", chol, chol)[:, idx][:, :, idx]
    cov = sd[:, :, None] * corr * sd[:, None, :]
    return PosteriorDraws(
        tuple(keep), post["mu"].values[:, idx], np.linalg.cholesky(cov), post["beta"].values[:, idx], missing
    )
