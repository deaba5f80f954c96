"""The run pipeline: potential outcomes -> simulated trials -> operating characteristics -> report.

Each stage is a pure function of its config subtree and a key derived from ``(seed, stage)``; the outcome stages
are cached under a hash of that subtree (``sepsim._cache``), so a design sweep over one outcome table computes the
table once. Everything the run writes goes through ``sepsim._io`` (temporary name, then rename).

Outcome sources (``outcomes=``):

* ``scenario``: a parametric generator with given true rates (common random numbers across arms);
* ``mechanistic``: virtual patients (stage 2) run through the immune dynamics under every arm (stage 3).
"""

from __future__ import annotations

import hashlib
import json
import logging
import platform as _stdlib_platform
import time
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from omegaconf import DictConfig, OmegaConf

from . import __version__
from ._cache import cached_stage
from ._errors import ConfigError
from ._io import atomic_to_netcdf, atomic_write_text
from ._keys import stage_key
from .config import build_arms

__all__ = ["run_pipeline"]

log = logging.getLogger("sepsim")
_PROGRESS = {"auto": None, "bar": True, "log": False}  # runtime.progress -> the engines' progress flag


def _plain(node: Any) -> Any:
    return OmegaConf.to_container(node, resolve=True) if isinstance(node, DictConfig) else node


def _outcomes_from_scenario(cfg: DictConfig, design: Any):
    """A parametric table: cheap and deterministic in (scenario, arms, seed), so it is rebuilt, not cached.

    ``scenario.kind`` picks the generator: ``binary`` (:func:`~sepsim.platform.binary_scenario`), ``ordinal``
    (:func:`~sepsim.platform.ordinal_scenario`) or ``factorial`` (a binary table over the combinations of
    ``design.domains``, :func:`factorial_rates`).
    """
    from .platform import binary_scenario, ordinal_scenario

    sc = _plain(cfg.scenario)
    key = stage_key(cfg.seed, "outcomes")
    arms = list(design.arms)
    if sc["kind"] == "factorial":
        rates = factorial_rates(sc, design)
        return binary_scenario(rates, sc["n_patients"], key=key, arms=arms)
    if sc["kind"] == "ordinal":
        strata = list(sc["stratum_control_probs"] or sc["stratum_odds_ratios"]) or None
        if strata is None:
            probs, odds, shares = sc["control_probs"], sc["odds_ratios"], None
        else:
            probs = [sc["stratum_control_probs"].get(s, sc["control_probs"]) for s in strata]
            odds = [sc["stratum_odds_ratios"].get(s, sc["odds_ratios"]) for s in strata]
            shares = [sc["stratum_shares"][s] for s in strata] if sc["stratum_shares"] else None
        return ordinal_scenario(probs, odds, sc["n_patients"], key=key, arms=arms, strata=strata, stratum_probs=shares)
    if sc["stratum_rates"]:
        strata = list(sc["stratum_rates"])
        rates = [sc["stratum_rates"][s] for s in strata]
        probs = [sc["stratum_shares"][s] for s in strata] if sc["stratum_shares"] else None
    else:
        strata, rates, probs = None, sc["rates"], None
    return binary_scenario(rates, sc["n_patients"], key=key, arms=arms, strata=strata, stratum_probs=probs)


def factorial_rates(scenario: dict[str, Any], design: Any) -> np.ndarray:
    """Event probability of every combination of a domains design (in ``design.arms`` order).

    ``logit p("<a1>+<a2>") = logit(control_rate) + sum_d domain_log_odds[d][a_d] + interaction_log_odds[combo]``;
    a domain missing from ``domain_log_odds`` has no effect, a combination missing from ``interaction_log_odds``
    no interaction.
    """
    import itertools

    base = float(np.log(scenario["control_rate"]) - np.log1p(-scenario["control_rate"]))
    effects = [scenario["domain_log_odds"].get(d.name, [0.0] * len(d.arms)) for d in design.domains]
    logits = []
    for idx in itertools.product(*[range(len(d.arms)) for d in design.domains]):  # first domain slowest
        combo = "+".join(d.arms[i] for d, i in zip(design.domains, idx, strict=True))
        extra = float(scenario["interaction_log_odds"].get(combo, 0.0))
        logits.append(base + sum(float(e[i]) for e, i in zip(effects, idx, strict=True)) + extra)
    names = ["+".join(c) for c in itertools.product(*[d.arms for d in design.domains])]
    if names != list(design.arms):  # the engine's combination order (domain_combinations)
        raise AssertionError(f"combination order {names} differs from the design's {list(design.arms)}")
    return 1.0 / (1.0 + np.exp(-np.asarray(logits, dtype=np.float64)))


def _outcomes_from_models(cfg: DictConfig) -> tuple[xr.Dataset, bool]:
    """Stage 2 (virtual cohort) and stage 3 (every patient under every arm), each cached by its config subtree."""
    from .models import CohortConfig, simulate_cohort, simulate_outcomes

    pop = _plain(cfg.population)
    arms_cfg = _plain(cfg.arms)
    chunk = cfg.runtime.chunk_size or 2000
    # precision changes the numbers, so it is part of every key; chunking and progress do not, so they are not;
    # a posterior enters through the hash of its file (a refit under the same path is a new cohort)
    cohort_subtree = {
        "population": pop,
        "seed": cfg.seed,
        "precision": cfg.runtime.precision,
        "posterior_sha256": _posterior_digest(pop),
    }
    config = CohortConfig(
        **pop["options"],
        source=pop["source"],
        posterior_file=pop["posterior_file"],
        posterior_draw=pop["posterior_draw"],
        inclusion=pop["inclusion"],
    )
    cohort, _ = cached_stage(
        "cohort",
        cohort_subtree,
        lambda: simulate_cohort(pop["n_patients"], key=stage_key(cfg.seed, "cohort"), config=config),
        cache_dir=_cache_dir(cfg),
    )
    arms = build_arms(arms_cfg)

    def compute() -> xr.Dataset:
        return simulate_outcomes(
            cohort,
            arms,
            key=stage_key(cfg.seed, "dynamics"),
            days=pop["days"],
            chunk_size=chunk,
            progress=_PROGRESS[cfg.runtime.progress],
        )

    return cached_stage("outcomes", {**cohort_subtree, "arms": arms_cfg}, compute, cache_dir=_cache_dir(cfg))


def _posterior_digest(pop: dict[str, Any]) -> str | None:
    if pop["source"] != "posterior":
        return None
    from .models.population import default_posterior_path

    path = Path(pop["posterior_file"]) if pop["posterior_file"] else default_posterior_path()
    if not path.is_file():
        raise ConfigError("population.posterior_file", f"file not found: {path} (fit it: sepsim experiment=calibrate)")
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _check_population(cfg: DictConfig) -> None:
    """Refuse, before any work, what the population stage cannot honour."""
    if cfg.outcomes == "scenario":
        return
    if cfg.population.source == "data":
        raise ConfigError(
            "population.source",
            "'data' (a patient-level file) fits the population model (Fit 2, sepsim.models.population.data) but "
            "cannot yet generate trial cohorts; use population=immunosep (calibrated posterior) or population=prior",
        )
    if not cfg.population.calibrate:
        _posterior_digest(_plain(cfg.population))


def _calibrate(cfg: DictConfig, run_dir: Path) -> DictConfig:
    """Stage 1 (Fit 1) when ``population.calibrate`` is set: the cohort then comes from the fresh posterior."""
    from .models.population.fit import CalibrationConfig
    from .models.population.fit._entry import calibrate_and_report

    opts = dict(_plain(cfg.population.calibrate))
    ship, strict = bool(opts.pop("ship", False)), bool(opts.pop("strict", False))
    unknown = set(opts) - set(CalibrationConfig._fields)
    if unknown:
        raise ConfigError(
            "population.calibrate", f"unknown keys {sorted(unknown)}; allowed {CalibrationConfig._fields}"
        )
    out = run_dir / "population"
    passed = calibrate_and_report(CalibrationConfig(seed=cfg.seed, **opts), out, ship=ship)
    if strict and not passed:
        raise RuntimeError(f"population fit did not converge (population.calibrate.strict=true); see {out}")
    cfg = cfg.copy()
    cfg.population.posterior_file = str(out / "posterior.nc")
    return cfg


def _solved(table: xr.Dataset) -> tuple[xr.Dataset, int]:
    """Patients with a failed solve under any arm (``solver_ok``) leave the trials: counted and logged, not silently."""
    if "solver_ok" not in table:
        return table, 0
    ok = np.asarray(table["solver_ok"].values).all(axis=tuple(range(1, table["solver_ok"].ndim)))
    n_failed = int((~ok).sum())
    if n_failed:
        log.warning("%d of %d virtual patients had a failed solve and are excluded from the trials", n_failed, ok.size)
    return table.isel(patient=np.flatnonzero(ok)), n_failed


def _eligible(table: xr.Dataset, design: Any, stratum: str | None) -> xr.Dataset:
    """Screening: only patients whose stratum (endotype) the design enrols are randomised (ImmunoSep, IS-04)."""
    if stratum is None or design.strata is None:
        return table
    keep = np.isin(np.asarray(table[stratum].values).astype(str), list(design.strata))
    log.info("screening: %d of %d virtual patients eligible (strata %s)", keep.sum(), keep.size, design.strata)
    return table.isel(patient=np.flatnonzero(keep))


def _cache_dir(cfg: DictConfig) -> Path | None:
    return Path(cfg.runtime.cache_dir) if cfg.runtime.cache else None


def run_pipeline(cfg: DictConfig, run_dir: Path) -> dict[str, Any]:
    """Run every stage of a validated config, writing the run directory. Returns the summary dictionary."""
    from .platform import design_from_dict, from_dataset, run_trials
    from .platform._operating import operating_characteristics
    from .report import write_report

    _check_population(cfg)
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run_dir / "config.yaml", OmegaConf.to_yaml(cfg, resolve=True))
    t0 = time.monotonic()
    if cfg.outcomes != "scenario" and cfg.population.calibrate:
        cfg = _calibrate(cfg, run_dir)
    design = design_from_dict(_plain(cfg.design))
    reused: dict[str, bool] = {}
    solver_failures = 0
    if cfg.outcomes == "scenario":
        log.info("outcomes: parametric %s scenario %r", cfg.scenario.kind, cfg.scenario.name)
        outcomes = _outcomes_from_scenario(cfg, design)
        source = {"scenario": _plain(cfg.scenario)}
        ran = f"parametric scenario '{cfg.scenario.name}'"
    else:
        log.info("outcomes: %d virtual patients x %d arms (mechanistic)", cfg.population.n_patients, len(cfg.arms))
        table, reused["outcomes"] = _outcomes_from_models(cfg)
        table, solver_failures = _solved(table)
        table = _eligible(table, design, cfg.endpoint.stratum)
        outcomes = from_dataset(
            table, endpoint=cfg.endpoint.variable, stratum=cfg.endpoint.stratum, strata=design.strata
        )
        source = {"population": _plain(cfg.population), "arms": _plain(cfg.arms), "endpoint": _plain(cfg.endpoint)}
        ran = f"{cfg.population.n_patients} virtual patients under arms {list(cfg.arms)} (mechanistic dynamics)"
    t1 = time.monotonic()
    trials_subtree = {
        **source,
        "design": _plain(cfg.design),
        "n_trials": cfg.n_trials,
        "seed": cfg.seed,
        "precision": cfg.runtime.precision,
    }
    results, reused["trials"] = cached_stage(
        "trials",
        trials_subtree,
        lambda: run_trials(
            outcomes,
            design,
            n_trials=cfg.n_trials,
            key=stage_key(cfg.seed, "trials"),
            chunk_size=cfg.runtime.chunk_size,
            progress=_PROGRESS[cfg.runtime.progress],
            seed=cfg.seed,
        ),
        cache_dir=_cache_dir(cfg),
    )
    t2 = time.monotonic()
    if design.domains:  # factorial platform: per-domain OCs against the combinations' true rates
        from .platform._operating_domains import domain_operating_characteristics

        truth = np.asarray(outcomes.true_mean(), dtype=np.float64) @ outcomes.stratum_mix()  # (arm,)
        combo = [list(outcomes.arms).index(a) for a in results["arm"].values]
        results = results.assign(true_mean=(("arm",), truth[combo]))
        oc = domain_operating_characteristics(results)
    else:
        oc = operating_characteristics(results)
    atomic_to_netcdf(results, run_dir / "results.nc")
    atomic_to_netcdf(oc, run_dir / "oc.nc")
    extra = {
        "ran": f"{cfg.n_trials} trials of study '{cfg.name}' on {ran}",
        "reused_from_cache": reused,
        "solver_failures": solver_failures,
        "timing_s": {"outcomes": round(t1 - t0, 3), "trials": round(t2 - t1, 3)},
        "versions": {"sepsim": __version__, "python": _stdlib_platform.python_version()},
    }
    write_report(run_dir, results, oc, config=_plain(cfg), extra=extra)
    for stage, was in reused.items():
        log.info("stage %s: %s", stage, "reused from cache" if was else "computed")
    log.info("ran %s", extra["ran"])
    print(f"sepsim: ran {extra['ran']}\n  results in {run_dir}")
    return json.loads((run_dir / "summary.json").read_text())
