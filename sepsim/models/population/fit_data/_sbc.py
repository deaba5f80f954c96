"""Simulation-based calibration of Fit 2 (hierarchical NUTS through the ODE), reduced configuration.

The data-generating process of a replicate is Fit 2's own numpyro model run forwards
(``numpyro.handlers.uncondition(data_model)``): ``mu_fit``, ``sd_fit``, each patient's ``theta`` from their priors,
then every biomarker value lognormal around the ODE state with its assay error. The model's ``solver_ok`` factor is
``-inf`` where a solve fails, so prior draws with a failed solve are rejected (exact rejection sampling; the rate
is reported). Each replicate is then fitted by the same model and sampler (numpyro's NUTS, dense mass, through
``diffrax``) via :func:`sepsim.models.population.sbc.nuts_replicates`, and the rank of every true ``mu_fit``,
``sd_fit`` and ``theta`` component among the thinned draws is kept.

What is reduced (README_population.md, "Simulation-based calibration"): fewer patients, every biomarker measured at
a short schedule, a looser solver tolerance (:func:`solver_error` measures what it changes in the likelihood),
fewer NUTS iterations, a smaller maximum tree depth and one chain per replicate.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
from jaxtyping import Array, Float
from numpyro.handlers import uncondition
from numpyro.infer import Predictive

from ...._errors import ConfigError
from ...._keys import stage_key
from ..._outcomes import _BIOMARKER_STATE
from ..._solve import SolverConfig
from .._data import PatientData
from ..sbc import NutsSettings, SbcVerdict, nuts_replicates, plot_rank_ecdf, print_verdict, rank_table, sbc_verdict
from ._model import (
    DATA_FITTED,
    DEFAULT_DATA_FIT,
    PARAMETERISATIONS,
    Whitening,
    data_model,
    initial_values,
    laplace_whitening,
)
from ._observations import DATA_SOLVER, Observations, observations, predict_log_states

__all__ = ["Fit2SbcConfig", "Fit2SbcResult", "report_fit2_sbc", "run_fit2_sbc", "sbc_template", "simulate_replicates"]


class Fit2SbcConfig(NamedTuple):
    """Reduced configuration of Fit 2 for SBC (``python -m sepsim.models.population sbc-data``)."""

    replicates: int = 200
    patients: int = 2
    schedule_h: tuple[float, ...] = (0.0, 12.0, 24.0)  # h after ICU admission; every biomarker at every time
    rtol: float = 1e-4  # DATA_SOLVER: 1e-6 / 1e-8 (solver_error: the change is far below the assay error)
    atol: float = 1e-6
    num_warmup: int = 100
    num_samples: int = 100
    thin: int = 2  # ranks among num_samples / thin = 50 draws
    max_tree_depth: int = 4  # depth 5: 28-31 leapfrog steps per iteration, ~2x the cost (README)
    target_accept: float = 0.95  # as Fit 2
    alpha: float = 0.05  # family-wise false-alarm rate of the verdict
    seed: int = 12
    batch: int = 100  # replicates per vmapped NUTS call (one compile; per-gradient cost falls with the batch)
    parameterisation: str = DEFAULT_DATA_FIT.parameterisation  # Fit 2's own default, so SBC checks what Fit 2 runs

    def validate(self) -> Fit2SbcConfig:
        """Raise :class:`~sepsim._errors.ConfigError` naming the first impossible setting; returns ``self``."""
        for key in ("replicates", "patients", "num_warmup", "num_samples", "thin", "max_tree_depth", "batch"):
            if not isinstance(getattr(self, key), int) or getattr(self, key) < 1:
                raise ConfigError(f"sbc-data.{key}", f"must be a positive integer, got {getattr(self, key)!r}")
        if self.num_samples % self.thin:
            raise ConfigError("sbc-data.thin", f"must divide num_samples ({self.num_samples}), got {self.thin}")
        if not self.schedule_h or min(self.schedule_h) < 0:
            raise ConfigError("sbc-data.schedule_h", f"must be times >= 0 h after admission, got {self.schedule_h}")
        for key in ("target_accept", "alpha"):
            if not 0 < getattr(self, key) < 1:
                raise ConfigError(f"sbc-data.{key}", f"must lie in (0, 1), got {getattr(self, key)}")
        if self.parameterisation not in PARAMETERISATIONS:
            raise ConfigError(
                "sbc-data.parameterisation", f"must be one of {PARAMETERISATIONS}, got {self.parameterisation!r}"
            )
        if not (self.atol > 0 and 0 < self.rtol < 1):
            raise ConfigError("sbc-data.rtol", f"tolerances must be positive, got rtol {self.rtol}, atol {self.atol}")
        return self

    @property
    def solver(self) -> SolverConfig:
        return DATA_SOLVER._replace(rtol=self.rtol, atol=self.atol)

    @property
    def nuts(self) -> NutsSettings:
        return NutsSettings(
            self.num_warmup, self.num_samples, self.thin, self.max_tree_depth, self.target_accept, True, self.batch
        )


class Fit2SbcResult(NamedTuple):
    ranks: np.ndarray  # (replicate, param)
    names: tuple[str, ...]
    draws: int  # L
    verdict: SbcVerdict
    divergences: np.ndarray  # (replicate,)
    accept: np.ndarray  # (replicate,)
    steps: np.ndarray  # (replicate,) mean leapfrog steps per iteration after warmup
    rejection_rate: float  # share of prior draws rejected for a failed solve
    seconds: dict[str, float]


def sbc_template(patients: int, schedule_h: tuple[float, ...]) -> Observations:
    """Observation arrays of ``patients`` patients with every biomarker at every time of ``schedule_h``, built by
    the Fit 2 loader path (:func:`observations`); the values are placeholders that each replicate replaces."""
    if patients < 1 or not schedule_h or min(schedule_h) < 0:
        raise ValueError(f"SBC needs >= 1 patient and a schedule of times >= 0 h, got {patients}, {schedule_h}")
    ids = [f"R{i + 1:02d}" for i in range(patients)]
    rows = [(pid, float(t), var, 1.0) for pid in ids for t in schedule_h for var in _BIOMARKER_STATE]
    meas = pd.DataFrame(rows, columns=["patient_id", "time_h", "variable", "value"])
    pts = pd.DataFrame(index=pd.Index(ids, name="patient_id"))
    return observations(PatientData(pts, meas))


def simulate_replicates(
    template: Observations,
    n: int,
    key: Any,
    fitted: tuple[str, ...] = DATA_FITTED,
    solver: SolverConfig = DATA_SOLVER,
) -> tuple[dict[str, np.ndarray], float]:
    """``n`` draws of (``mu_fit``, ``sd_fit``, ``theta``, ``log_value``) from Fit 2's model run forwards, those
    with a failed solve rejected (module docstring); returns them and the rejection rate."""
    sites = ["mu_fit", "sd_fit", "theta", "log_value"]
    kept: dict[str, list[np.ndarray]] = {s: [] for s in sites}
    got, tried, solved, i = 0, 0, 0, 0
    m = n + max(4, n // 10)  # one shape for every round: one compile
    forward = Predictive(uncondition(data_model), num_samples=m, return_sites=sites, parallel=True)

    @jax.jit
    def draw(k: Any) -> tuple[dict[str, Any], Any]:
        d = forward(k, template, fitted, solver)
        ok = jax.vmap(lambda th: predict_log_states(jnp.exp(th), fitted, template, solver)[1])(d["theta"])
        return d, ok.all(axis=1)

    while got < n:
        d, ok = jax.tree_util.tree_map(np.asarray, draw(jax.random.fold_in(key, i)))
        take = np.flatnonzero(ok)[: n - got]
        for s in sites:
            kept[s].append(np.asarray(d[s])[take])
        got, tried, solved, i = got + take.size, tried + m, solved + int(ok.sum()), i + 1
        if i > 20:
            raise RuntimeError(f"SBC simulation: {got} of {tried} prior draws solved; loosen max_steps?")
    return {s: np.concatenate(v) for s, v in kept.items()}, 1.0 - solved / tried


def solver_error(
    theta: Float[Array, "replicate patient k"], template: Observations, loose: SolverConfig
) -> Float[np.ndarray, " replicate"]:
    """Largest change of a predicted log biomarker, in units of its assay sd, between ``loose`` and the default
    ``DATA_SOLVER``, per replicate (what the looser tolerance does to the likelihood)."""

    def pred(cfg: SolverConfig) -> Any:
        f = jax.jit(jax.vmap(lambda th: predict_log_states(jnp.exp(th), DATA_FITTED, template, cfg)[0]))
        return np.asarray(f(jnp.asarray(theta)))

    d = np.abs(pred(loose) - pred(DATA_SOLVER)) / np.asarray(template.sigma)
    return d.reshape(d.shape[0], -1).max(axis=1)


def run_fit2_sbc(cfg: Fit2SbcConfig | None = None, *, progress: Any = None) -> Fit2SbcResult:
    """Simulate ``replicates`` datasets from Fit 2's model, fit each by NUTS, rank the truth (module docstring)."""
    cfg = (Fit2SbcConfig() if cfg is None else cfg).validate()
    template = sbc_template(cfg.patients, cfg.schedule_h)
    solver = cfg.solver
    t0 = time.monotonic()
    sim, rejected = simulate_replicates(template, cfg.replicates, stage_key(cfg.seed, "sbc2-simulate"), solver=solver)
    t1 = time.monotonic()
    shape = (cfg.patients, len(DATA_FITTED))
    init = initial_values(shape, cfg.parameterisation)  # Fit 2's starting point (run_data_fit)
    args: dict[str, Any] = {}
    if cfg.parameterisation == "whitened":  # each replicate's constants from its own data
        laplace = jax.jit(jax.vmap(lambda lv: laplace_whitening(template._replace(log_value=lv), DATA_FITTED, solver)))
        args = laplace(jnp.asarray(sim["log_value"]))._asdict()
    t2 = time.monotonic()
    fits = nuts_replicates(
        lambda **a: data_model(template, DATA_FITTED, solver, Whitening(**a) if a else None),
        {"log_value": jnp.asarray(sim["log_value"])},
        init,
        cfg.nuts,
        stage_key(cfg.seed, "sbc2-nuts"),
        args=args,
        progress=progress,
    )
    labels = {
        "mu_fit": list(DATA_FITTED),
        "sd_fit": list(DATA_FITTED),
        "theta": [f"{p},{k}" for p in template.patient_ids for k in DATA_FITTED],
    }
    truth = {s: sim[s] for s in ("mu_fit", "sd_fit", "theta")}
    ranks, names = rank_table(truth, fits.draws, labels)
    draws = cfg.nuts.draws
    return Fit2SbcResult(
        ranks,
        names,
        draws,
        sbc_verdict(ranks, draws, cfg.alpha),
        fits.divergences,
        fits.accept,
        fits.steps,
        rejected,
        {
            "simulate_s": round(t1 - t0, 1),
            "laplace_s": round(t2 - t1, 1),
            "first_batch_s": fits.first_batch_s,
            "nuts_s": fits.seconds,
        },
    )


def report_fit2_sbc(cfg: Fit2SbcConfig, figure: str | Path) -> bool:
    """Run :func:`run_fit2_sbc`, print the per-parameter verdict and timings, write the figure; returns whether
    every rank ECDF stayed inside its band and no transition diverged."""
    t0 = time.monotonic()
    res = run_fit2_sbc(cfg, progress=lambda s: print(s, flush=True))
    wall = time.monotonic() - t0
    v = res.verdict
    print_verdict("Fit 2", cfg, res.names, len(res.ranks), res.draws, v)
    n_div = int(res.divergences.sum())
    print(
        f"divergences: {n_div} (in {int((res.divergences > 0).sum())} replicates); mean acceptance "
        f"{res.accept.mean():.3f}; leapfrog steps per iteration: mean {res.steps.mean():.1f}"
    )
    print(
        f"prior draws rejected for a failed solve: {res.rejection_rate:.3f}; timings {res.seconds}; wall {wall:.0f} s"
    )
    title = (
        f"Fit 2 SBC ({cfg.patients} patients, biomarkers at {', '.join(f'{t:g}' for t in cfg.schedule_h)} h, "
        f"NUTS {cfg.num_warmup}+{cfg.num_samples}, thin {cfg.thin}, depth {cfg.max_tree_depth}, {cfg.parameterisation})"
    )
    print(f"wrote {plot_rank_ecdf(res.ranks, res.names, v, figure, title)}")
    passed = v.passed and n_div == 0
    print("PASSED: every rank ECDF inside its band, no divergence" if passed else "FAILED")
    return passed
