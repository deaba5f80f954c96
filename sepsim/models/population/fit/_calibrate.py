"""Fit 1: calibration of the population model to published summary targets (library re-weighting + NUTS).

Rounds: draw a library from the proposal (round 0: prior draws of ``phi``), pool it with the earlier rounds under
the balance-heuristic mixture density, run NUTS over ``phi`` (no ODE solve per step), then draw the next proposal
from the posterior. The loop stops when the posterior means of the simulated target statistics move by less than
``stable_sd`` posterior sds between rounds (or after ``rounds``). The weights' effective sample size is monitored
at every posterior draw and reported.
"""

from __future__ import annotations

import logging
import time
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import logsumexp
from numpyro.infer import MCMC, NUTS, Predictive, init_to_median

from ...._keys import stage_key
from .._latent import HyperPrior, LatentSpace, latent_space, population
from ._library import Library, Proposal, concat_libraries, draw_library, log_proposal
from ._likelihood import calibration_model, library_arrays, site_name, target_statistics
from ._targets import CompiledTarget, compile_targets, load_targets

__all__ = ["CalibrationConfig", "PopulationFitResult", "run_calibration"]

log = logging.getLogger("sepsim")
_ROUND_STRIDE = 10_000_000  # global-index offset between library rounds (distinct virtual patients)


class CalibrationConfig(NamedTuple):
    """Settings of Fit 1 (``conf/experiment calibrate`` / ``python -m sepsim.models.population fit``)."""

    targets: str | None = None  # targets file; None = conf/targets/immunosep.yaml
    library_size: int = 3000  # library patients per round
    rounds: int = 1
    stable_sd: float = 0.25
    components: int = 32  # hyper-parameter draws in the proposal mixture
    num_warmup: int = 500
    num_samples: int = 2000
    num_chains: int = 2
    target_accept: float = 0.9
    ess_floor: float = 50.0  # soft wall on each fitted target population's weight ESS (_likelihood.py)
    max_tree_depth: int = 7  # bounds the cost of one iteration (2^7 - 1 leapfrog steps)
    dense_mass: bool = False  # a dense metric ran > 2x slower per round on the shared 2-core machine
    seed: int = 1
    inclusion: dict[str, Any] = {"infection_site": [0, 1, 2, 3]}  # library population (ImmunoSep infection types)


class PopulationFitResult(NamedTuple):
    """What :func:`run_calibration` returns: the NUTS run, the library it re-weights, the compiled targets."""

    mcmc: MCMC
    library: Library
    compiled: tuple[CompiledTarget, ...]
    space: LatentSpace
    prior: HyperPrior
    rounds: list[dict[str, Any]]


def _raw_prior_draws(space: LatentSpace, prior: HyperPrior, m: int, key: Any) -> dict[str, np.ndarray]:
    from .._latent import sample_hyper

    draws = Predictive(lambda: sample_hyper(space, prior), num_samples=m)(key)
    return {"shift": np.asarray(draws["shift"])}


def _proposal(space: LatentSpace, prior: HyperPrior, raw: dict[str, np.ndarray]) -> Proposal:
    pops = [population(space, {k: v[i] for k, v in raw.items()}, prior) for i in range(raw["shift"].shape[0])]
    return Proposal(*(np.stack([np.asarray(getattr(p, f)) for p in pops]) for f in ("mu", "sd", "corr_chol", "beta")))


def _pooled_log_q(libs: list[Library], proposals: list[Proposal], space: LatentSpace) -> np.ndarray:
    theta = np.concatenate([lib.theta for lib in libs])
    x = np.concatenate([lib.x for lib in libs])
    sizes = np.array([lib.size for lib in libs], dtype=np.float64)
    parts = [
        np.log(s / sizes.sum()) + np.asarray(log_proposal(p, space, theta, x))
        for s, p in zip(sizes, proposals, strict=True)
    ]
    return np.asarray(logsumexp(jnp.asarray(np.stack(parts)), axis=0))


def _fit(cfg: CalibrationConfig, space, prior, lib, compiled, key) -> MCMC:
    arrays = library_arrays(lib)
    kernel = NUTS(
        calibration_model,
        target_accept_prob=cfg.target_accept,
        max_tree_depth=cfg.max_tree_depth,
        dense_mass=cfg.dense_mass,
        init_strategy=init_to_median,
    )
    mcmc = MCMC(
        kernel,
        num_warmup=cfg.num_warmup,
        num_samples=cfg.num_samples,
        num_chains=cfg.num_chains,
        chain_method="sequential",
        progress_bar=False,
    )
    mcmc.run(key, space, prior, arrays, compiled, cfg.ess_floor)
    return mcmc


def _stat_summary(mcmc: MCMC, compiled) -> dict[str, tuple[float, float]]:
    s = mcmc.get_samples()
    out = {}
    for t in compiled:
        v = np.asarray(s[f"sim.{site_name(t.target.id)}"])[:, 0]
        out[t.target.id] = (float(v.mean()), float(v.std()))
    return out


def run_calibration(cfg: CalibrationConfig | None = None, prior: HyperPrior | None = None) -> PopulationFitResult:
    """Run the rounds; returns the final MCMC, the pooled library and a per-round record (ESS, stability)."""
    cfg = CalibrationConfig() if cfg is None else cfg
    prior = HyperPrior() if prior is None else prior
    space = latent_space()
    targets = load_targets(cfg.targets)
    for t in targets:
        sites = t.population.get("infection_site", [0, 1, 2, 3, 4])
        if not set(sites) <= set(cfg.inclusion.get("infection_site", sites)):
            raise ValueError(f"target {t.id}: population {t.population} is not inside the library's {cfg.inclusion}")
    raw = _raw_prior_draws(space, prior, cfg.components, stage_key(cfg.seed, "proposal"))
    proposals, libs, rounds, previous = [], [], [], None
    mcmc = lib = compiled = None
    for r in range(cfg.rounds):
        t0 = time.monotonic()
        proposals.append(_proposal(space, prior, raw))
        libs.append(
            draw_library(
                space,
                proposals[-1],
                cfg.library_size,
                key=stage_key(cfg.seed, "library"),
                outcome_key=stage_key(cfg.seed, "library-outcomes"),
                inclusion=dict(cfg.inclusion),
                start=r * _ROUND_STRIDE,
            )
        )
        t1 = time.monotonic()
        lib = concat_libraries(libs, _pooled_log_q(libs, proposals, space))
        compiled = compile_targets(targets, lib)
        mcmc = _fit(cfg, space, prior, lib, compiled, stage_key(cfg.seed, f"nuts{r}"))
        t2 = time.monotonic()
        summary = _stat_summary(mcmc, compiled)
        ess = np.asarray(mcmc.get_samples()["weight_ess"])
        shift = (
            max(abs(summary[k][0] - previous[k][0]) / max(summary[k][1], 1e-9) for k in summary)
            if previous is not None
            else float("inf")
        )
        min_target_ess = min(
            float(np.asarray(mcmc.get_samples()[f"ess.{site_name(t.target.id)}"]).min()) for t in compiled
        )
        rec = {
            "round": r,
            "library_size": lib.size,
            "solver_failures": int((~lib.ok).sum()),
            "weight_ess_median": float(np.median(ess)),
            "weight_ess_min": float(ess.min()),
            "target_ess_min": min_target_ess,
            "max_shift_in_sd": shift,
            "library_s": round(t1 - t0, 1),
            "nuts_s": round(t2 - t1, 1),
        }
        rounds.append(rec)
        log.info("calibration round %s", rec)
        print(f"round {r}: {rec}", flush=True)
        if shift < cfg.stable_sd:
            break
        previous = summary
        pick = np.random.default_rng(cfg.seed + r).choice(ess.size, cfg.components, replace=False)
        post = mcmc.get_samples()
        raw = {"shift": np.asarray(post["shift"])[pick]}
    return PopulationFitResult(mcmc, lib, compiled, space, prior, rounds)


def prior_statistics(result: PopulationFitResult, n: int, key: Any) -> dict[str, np.ndarray]:
    """Hyper-parameter prior draws and the simulated target statistics they imply (for the prior predictive)."""
    from .._latent import sample_hyper

    draws = Predictive(lambda: sample_hyper(result.space, result.prior), num_samples=n)(key)
    arrays = library_arrays(result.library)

    def stats(d: dict[str, Any]) -> Any:
        pop = population(result.space, d, result.prior)
        return target_statistics(pop, arrays, result.compiled)

    st = jax.lax.map(stats, {"shift": draws["shift"]})
    out = {k: np.asarray(v) for k, v in draws.items()}
    for t, (p, ess) in zip(result.compiled, st, strict=True):
        out[f"sim.{site_name(t.target.id)}"] = np.asarray(p)
        out[f"ess.{site_name(t.target.id)}"] = np.asarray(ess)
    return out
