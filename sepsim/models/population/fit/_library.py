"""A library of simulated plausible patients, solved once under every arm, for importance-reweighted calibration.

Library patients are drawn from a proposal ``q(theta | x)``: a mixture of the population model at ``M``
hyper-parameter draws (round 0: prior draws; later rounds: posterior draws) plus a defensive broad component
(Hesterberg 1995), so ``q`` covers every population the fit can reach. Each patient is run through the public
``simulate_outcomes`` API (placebo for every patient; anakinra for the measured-MALS and rhIFN-gamma for the
measured-immunoparalysis patients: the only cells the targets use), and only the per-patient read-outs the targets
need are kept. Given ``phi``, patient ``i`` has weight ``p(theta_i | phi, x_i) / q(theta_i | x_i)``, so a simulated
statistic of the population at ``phi`` is a self-normalised weighted mean and costs no ODE solve.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr
from jax.scipy.special import logsumexp
from jaxtyping import Array, Float, Key

from ....config import build_arms
from ..._cohort import CohortConfig, simulate_cohort
from ..._outcomes import simulate_outcomes
from .._latent import LatentSpace, Population, effect_covariates, log_density, theta_from_noise, to_natural

__all__ = ["ARMS", "ARM_CONFIG", "ENDOTYPE_CODES", "Library", "Proposal", "draw_library", "log_proposal"]

ARMS = ("placebo", "anakinra", "ifn_gamma")
# ImmunoSep regimens: anakinra 200 mg IV q8h (IS-17, PR-06), rhIFN-gamma 100 ug SC q48h (IS-16), up to 15 d (IS-18):
# anakinra 45 doses, rhIFN-gamma 8 doses (days 0, 2, ..., 14); the same arms as experiments/immunosep.yaml (a test
# compares them), so the fit calibrates the population under the regimens the study gives.
ARM_CONFIG = {
    "placebo": {},
    "anakinra": {"therapies": [{"name": "anakinra", "n_doses": 45}]},
    "ifn_gamma": {"therapies": [{"name": "interferon_gamma", "n_doses": 8}]},
}
ENDOTYPE_CODES = {"unclassified": 0, "MALS": 1, "immunoparalysis": 2}
_MATCHED_ARM = {1: "anakinra", 2: "ifn_gamma"}
DEFENSIVE_SHARE = 0.2  # share of library patients from the broad component
DEFENSIVE_WIDTH = 1.6  # its sd, in units of each parameter's plausible-range sd, around the prior centre


class Proposal(NamedTuple):
    """Mixture proposal: ``M`` population-model components (stacked) plus the defensive component."""

    mu: np.ndarray  # (M, D)
    sd: np.ndarray  # (M, D)
    corr_chol: np.ndarray  # (M, D, D)
    beta: np.ndarray  # (M, D, K)

    def component(self, m: int) -> Population:
        return Population(*(jnp.asarray(a[m]) for a in self))


class Library(NamedTuple):
    """Read-outs of library patients (patient axis first); ``solved[:, a]`` marks the patients run under arm ``a``."""

    theta: np.ndarray  # (N, D) unconstrained latent parameters
    x: np.ndarray  # (N, K) effect covariates
    log_q: np.ndarray  # (N,) log proposal density (of the proposal the library was pooled under)
    covariates: dict[str, np.ndarray]
    endotype: np.ndarray  # (N,) int code, measured at screening (ENDOTYPE_CODES)
    responder: np.ndarray  # (N, arm) 0/1
    dead_28d: np.ndarray  # (N, arm) 0/1
    solved: np.ndarray  # (N, arm) bool
    sofa_baseline: np.ndarray  # (N,)
    ok: np.ndarray  # (N,) every solve of the patient succeeded

    def covariate(self, name: str) -> np.ndarray:
        return self.covariates[name]

    @property
    def size(self) -> int:
        return self.theta.shape[0]


def log_proposal(
    proposal: Proposal, space: LatentSpace, theta: Float[Array, "patient param"], x: Float[Array, "patient covariate"]
) -> Float[Array, " patient"]:
    """``log q(theta_i | x_i)`` of the mixture (defensive component at share :data:`DEFENSIVE_SHARE`)."""
    theta, x = jnp.asarray(theta), jnp.asarray(x)

    def one(m: Any) -> Any:
        return log_density(Population(m[0], m[1], m[2], m[3]), theta, x)

    comps = jax.lax.map(one, tuple(jnp.asarray(a) for a in proposal))  # (M, N)
    mix = logsumexp(comps, axis=0) - np.log(comps.shape[0])
    centre, wide = (
        jnp.broadcast_to(jnp.asarray(a), theta.shape) for a in (space.centre, DEFENSIVE_WIDTH * space.scale)
    )
    broad = jnp.sum(jax.scipy.stats.norm.logpdf(theta, centre, wide), axis=-1)
    return jnp.logaddexp(np.log1p(-DEFENSIVE_SHARE) + mix, np.log(DEFENSIVE_SHARE) + broad)


def _library_theta(proposal: Proposal, space: LatentSpace, z: np.ndarray, x: np.ndarray, index: np.ndarray):
    """Patient ``g`` is defensive if ``g % 5 == 0`` (share 0.2), else from component ``g % M``."""
    m_count = proposal.mu.shape[0]
    theta = np.empty_like(z)
    defensive = index % int(round(1 / DEFENSIVE_SHARE)) == 0
    theta[defensive] = space.centre + DEFENSIVE_WIDTH * space.scale * z[defensive]
    comp = index % m_count
    for m in np.unique(comp[~defensive]):
        rows = np.flatnonzero(~defensive & (comp == m))
        theta[rows] = np.asarray(
            theta_from_noise(proposal.component(int(m)), jnp.asarray(x[rows]), jnp.asarray(z[rows]))
        )
    return theta


def draw_library(
    space: LatentSpace,
    proposal: Proposal,
    n: int,
    *,
    key: Key[Array, ""],
    outcome_key: Key[Array, ""],
    inclusion: dict[str, Any],
    start: int = 0,
    chunk_size: int = 2000,
) -> Library:
    """``n`` library patients (global indices from ``start`` of the virtual population meeting ``inclusion``)."""
    cohort = simulate_cohort(n, key=key, config=CohortConfig(inclusion=inclusion), start=start)
    z = cohort["crn_latent"].sel(latent=list(space.names)).values
    x = np.asarray(effect_covariates(cohort["shock"].values, cohort["age"].values))
    theta = _library_theta(proposal, space, z, x, np.arange(n))
    natural = np.asarray(to_natural(space, jnp.asarray(theta)))
    cohort = cohort.assign({name: ("patient", natural[:, j]) for j, name in enumerate(space.names)})
    arms = dict(zip(ARMS, build_arms(ARM_CONFIG), strict=True))
    base = _solve(cohort, arms["placebo"], outcome_key, chunk_size)
    endo = np.array([ENDOTYPE_CODES[str(e)] for e in base["endotype"].values])
    resp, dead = np.zeros((n, len(ARMS))), np.zeros((n, len(ARMS)))
    solved = np.zeros((n, len(ARMS)), bool)
    ok = base["solver_ok"].values[:, 0].copy()
    resp[:, 0], dead[:, 0], solved[:, 0] = _read(base)
    for code, arm in _MATCHED_ARM.items():
        rows = np.flatnonzero(endo == code)
        if rows.size:
            out = _solve(cohort.isel(patient=rows), arms[arm], outcome_key, chunk_size)
            a = ARMS.index(arm)
            resp[rows, a], dead[rows, a], solved[rows, a] = _read(out)
            ok[rows] &= out["solver_ok"].values[:, 0]
    covs = {k: cohort[k].values for k in ("infection_site", "shock", "male", "diabetes", "charlson", "age")}
    lq = np.asarray(log_proposal(proposal, space, theta, x))
    sofa0 = base["sofa_baseline"].values[:, 0]
    return Library(theta, x, lq, covs, endo, resp, dead, solved & ok[:, None], sofa0, ok)


def _solve(cohort: xr.Dataset, arm: Any, key: Key[Array, ""], chunk_size: int) -> xr.Dataset:
    """One arm; the cohort is padded (repeating its first patient) to a multiple of ``chunk_size`` so that every
    call reuses one compiled solver (results of the real patients do not depend on the padding)."""
    m = cohort.sizes["patient"]
    pad = -m % chunk_size
    padded = cohort.isel(patient=np.concatenate([np.arange(m), np.zeros(pad, dtype=int)])) if pad else cohort
    out = simulate_outcomes(padded, [arm], key=key, days=28, chunk_size=chunk_size, progress=False)
    keep = ["endotype", "solver_ok", "responder", "dead_28d", "sofa_baseline"]
    return out[keep].isel(patient=slice(0, m))


def _read(out: xr.Dataset) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return (
        out["responder"].values[:, 0].astype(float),
        out["dead_28d"].values[:, 0].astype(float),
        out["solver_ok"].values[:, 0],
    )


def concat_libraries(libs: list[Library], log_q: np.ndarray) -> Library:
    """Pool libraries of several rounds under one (balance-heuristic) proposal density ``log_q``."""
    cat = {f: np.concatenate([getattr(lib, f) for lib in libs]) for f in Library._fields if f != "covariates"}
    covs = {k: np.concatenate([lib.covariates[k] for lib in libs]) for k in libs[0].covariates}
    cat["log_q"] = np.asarray(log_q)
    return Library(**{**cat, "covariates": covs})


def library_dataset(lib: Library, space: LatentSpace) -> xr.Dataset:
    """The library as xarray (for the run directory)."""
    pa = ("patient", "arm")
    data = {
        "theta": (("patient", "param"), lib.theta),
        "log_q": ("patient", lib.log_q),
        "endotype": ("patient", lib.endotype),
        "responder": (pa, lib.responder),
        "dead_28d": (pa, lib.dead_28d),
        "solved": (pa, lib.solved),
        "sofa_baseline": ("patient", lib.sofa_baseline),
        "ok": ("patient", lib.ok),
        **{k: ("patient", v) for k, v in lib.covariates.items()},
    }
    return xr.Dataset(data, coords={"param": list(space.names), "arm": list(ARMS)})
