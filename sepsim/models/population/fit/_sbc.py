"""Simulation-based calibration of Fit 1 (library re-weighting + NUTS over the mean shifts), reduced configuration.

With the library fixed, Fit 1's likelihood is a function of ``phi`` only, so the data-generating process of a
replicate is the fit's own model run forwards: ``numpyro.handlers.uncondition(calibration_model)`` draws
``shift ~ N(0, I)`` and every fitted target's count from the beta-binomial / Dirichlet-multinomial the fit
conditions on. The ESS-floor factor is part of the fit's prior on ``phi``; its value is <= 0, so prior draws are
accepted with probability ``exp(factor)`` (exact rejection sampling; no rejection when ``ess_floor`` = 0).
Each replicate is then fitted by NUTS (numpyro's functional ``hmc`` kernel: one compile, the data a traced
argument through ``numpyro.handlers.condition``), and the rank of the true shift among the thinned draws is kept.

Left out: the median target (IS-19 baseline SOFA), whose order-statistic factor is not a normalised distribution
over data (README_population.md), so it has no data-generating process to simulate.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from numpyro.handlers import condition, uncondition
from numpyro.infer import Predictive
from numpyro.infer.hmc import hmc
from numpyro.infer.util import initialize_model

from ...._keys import stage_key
from .._latent import HyperPrior, latent_space
from ..sbc import SbcVerdict, plot_rank_ecdf, print_verdict, sbc_verdict
from ._calibrate import _proposal, _raw_prior_draws
from ._library import draw_library
from ._likelihood import calibration_model, ess_floor_penalty, library_arrays, site_name
from ._targets import compile_targets, load_targets

__all__ = ["Fit1SbcConfig", "Fit1SbcResult", "report_fit1_sbc", "run_fit1_sbc"]


class Fit1SbcConfig(NamedTuple):
    """Reduced configuration of Fit 1 for SBC (``python -m sepsim.models.population sbc``)."""

    replicates: int = 200
    library_size: int = 600
    num_warmup: int = 200
    num_samples: int = 400
    thin: int = 4  # ranks among num_samples / thin draws
    ess_floor: float = 0.0
    max_tree_depth: int = 6
    target_accept: float = 0.8
    alpha: float = 0.05  # family-wise false-alarm rate of the verdict
    seed: int = 11
    batch: int = 100  # replicates per vmapped NUTS call (one compile for every full batch)


class Fit1SbcResult(NamedTuple):
    ranks: np.ndarray  # (replicate, param)
    names: tuple[str, ...]
    draws: int  # L
    verdict: SbcVerdict
    divergences: np.ndarray  # (replicate,) post-warmup divergent transitions
    accept: np.ndarray  # (replicate,) mean acceptance probability after warmup
    rejection_rate: float  # share of prior draws rejected by the ESS-floor factor
    seconds: dict[str, float]


def _sbc_model(obs: dict[str, Any], space, prior, arrays, compiled, ess_floor) -> None:
    with condition(data=obs):
        calibration_model(space, prior, arrays, compiled, ess_floor)


def _simulate(cfg: Fit1SbcConfig, model_args: tuple, compiled, key: Any) -> tuple[dict[str, np.ndarray], float]:
    """``replicates`` draws of (shift, data) from the fit's own model (module docstring)."""
    fitted = [site_name(t.target.id) for t in compiled if t.target.fit]
    sites = ["shift"] + [f"obs.{n}" for n in fitted] + [f"ess.{n}" for n in fitted]
    kept: dict[str, list[np.ndarray]] = {s: [] for s in sites}
    got, tried, accepted, i = 0, 0, 0, 0
    while got < cfg.replicates:
        k_draw, k_acc = jax.random.split(jax.random.fold_in(key, i))
        m = 4 * cfg.replicates
        d = Predictive(uncondition(calibration_model), num_samples=m, return_sites=sites)(k_draw, *model_args)
        log_acc = sum(np.asarray(ess_floor_penalty(d[f"ess.{n}"], cfg.ess_floor)) for n in fitted) + np.zeros(m)
        acc = np.log(np.asarray(jax.random.uniform(k_acc, (m,)))) < log_acc
        take = np.flatnonzero(acc)[: cfg.replicates - got]
        for s in sites:
            kept[s].append(np.asarray(d[s])[take])
        got, tried, accepted, i = got + take.size, tried + m, accepted + int(acc.sum()), i + 1
        if i > 50:
            raise RuntimeError(f"ESS-floor rejection accepted {got} of {tried} prior draws: lower ess_floor")
    return {s: np.concatenate(v) for s, v in kept.items()}, 1.0 - accepted / tried


def run_fit1_sbc(cfg: Fit1SbcConfig | None = None, prior: HyperPrior | None = None) -> Fit1SbcResult:
    """Draw the reduced library once, then ``replicates`` x (simulate, NUTS, rank); see the module docstring."""
    cfg = Fit1SbcConfig() if cfg is None else cfg
    if cfg.num_samples % cfg.thin:
        raise ValueError(f"num_samples ({cfg.num_samples}) must be a multiple of thin ({cfg.thin})")
    prior = HyperPrior() if prior is None else prior
    space = latent_space()
    t0 = time.monotonic()
    raw = _raw_prior_draws(space, prior, 32, stage_key(cfg.seed, "sbc-proposal"))
    lib = draw_library(
        space,
        _proposal(space, prior, raw),
        cfg.library_size,
        key=stage_key(cfg.seed, "sbc-library"),
        outcome_key=stage_key(cfg.seed, "sbc-library-outcomes"),
        inclusion={"infection_site": [0, 1, 2, 3]},
    )
    targets = [t._replace(fit=t.fit and t.kind != "median") for t in load_targets()]
    compiled = tuple(compile_targets(targets, lib))
    model_args = (space, prior, library_arrays(lib), compiled, cfg.ess_floor)
    t1 = time.monotonic()
    sim, rejected = _simulate(cfg, model_args, compiled, stage_key(cfg.seed, "sbc-simulate"))
    obs = {k: jnp.asarray(v, dtype=jnp.float64) for k, v in sim.items() if k.startswith("obs.")}
    one_obs = jax.tree_util.tree_map(lambda a: a[0], obs)
    info = initialize_model(
        stage_key(cfg.seed, "sbc-init"), _sbc_model, model_args=(one_obs, *model_args), dynamic_args=True
    )
    init_kernel, sample_kernel = hmc(potential_fn_gen=info.potential_fn, algo="NUTS")
    n_iter = cfg.num_warmup + cfg.num_samples

    def fit_one(key: Any, data: dict[str, Any]) -> tuple[Any, Any, Any]:
        args = (data, *model_args)
        state = init_kernel(
            {"shift": jnp.zeros(len(prior.fitted))},
            cfg.num_warmup,
            target_accept_prob=cfg.target_accept,
            max_tree_depth=cfg.max_tree_depth,
            model_args=args,
            rng_key=key,
        )

        def step(s: Any, _: Any) -> tuple[Any, Any]:
            s = sample_kernel(s, model_args=args)
            return s, (s.z["shift"], s.diverging, s.accept_prob)

        _, (z, div, acc) = jax.lax.scan(step, state, None, length=n_iter)
        return z[cfg.num_warmup :: cfg.thin], div[cfg.num_warmup :].sum(), acc[cfg.num_warmup :].mean()

    keys = jax.random.split(stage_key(cfg.seed, "sbc-nuts"), cfg.replicates)
    batched = jax.jit(jax.vmap(fit_one))
    ranks, divs, accs = [], [], []
    t_first = None
    for b0 in range(0, cfg.replicates, cfg.batch):
        sl = slice(b0, min(b0 + cfg.batch, cfg.replicates))
        z, dv, ac = batched(keys[sl], jax.tree_util.tree_map(lambda a, sl=sl: a[sl], obs))
        ranks.append((np.asarray(z) < sim["shift"][sl][:, None, :]).sum(axis=1))
        divs.append(np.asarray(dv))
        accs.append(np.asarray(ac))
        t_first = time.monotonic() if t_first is None else t_first
    t2 = time.monotonic()
    draws = cfg.num_samples // cfg.thin
    rk = np.concatenate(ranks)
    return Fit1SbcResult(
        rk,
        tuple(prior.fitted),
        draws,
        sbc_verdict(rk, draws, cfg.alpha),
        np.concatenate(divs),
        np.concatenate(accs),
        rejected,
        {
            "library_s": round(t1 - t0, 1),
            "first_batch_s": round(t_first - t1, 1),  # simulation, compile and the first batch
            "nuts_s": round(t2 - t1, 1),
        },
    )


def report_fit1_sbc(cfg: Fit1SbcConfig, figure: str | Path) -> bool:
    """Run :func:`run_fit1_sbc`, print the per-parameter verdict and timings, write the figure; returns the verdict."""
    t0 = time.monotonic()
    res = run_fit1_sbc(cfg)
    wall = time.monotonic() - t0
    v = res.verdict
    print_verdict("Fit 1", cfg, res.names, len(res.ranks), res.draws, v)
    print(f"divergences: {int(res.divergences.sum())}; mean acceptance {res.accept.mean():.3f}")
    print(f"ESS-floor rejection of prior draws: {res.rejection_rate:.3f}; timings {res.seconds}; wall {wall:.0f} s")
    title = f"Fit 1 SBC (library {cfg.library_size}, NUTS {cfg.num_warmup}+{cfg.num_samples}, thin {cfg.thin})"
    print(f"wrote {plot_rank_ecdf(res.ranks, res.names, v, figure, title)}")
    print("PASSED: every rank ECDF inside its band" if v.passed else "FAILED: a rank ECDF left its band")
    return v.passed
