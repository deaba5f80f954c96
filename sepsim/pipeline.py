"""The run pipeline: potential outcomes -> simulated trials -> operating characteristics -> report.

Each stage is a pure function of its config subtree and a key derived from ``(seed, stage)``; the outcome stages
are cached under a hash of that subtree (``sepsim._cache``), so a design sweep over one outcome table computes the
table once. Everything the run writes goes through ``sepsim._io`` (temporary name, then rename).

Outcome sources (``outcomes=``):

* ``scenario``: a parametric generator with given true rates (common random numbers across arms);
* ``mechanistic``: virtual patients (stage 2) run through the immune dynamics under every arm (stage 3).
"""

from __future__ import annotations

import json
import logging
import platform as _stdlib_platform
import time
from pathlib import Path
from typing import Any

import xarray as xr
from omegaconf import DictConfig, OmegaConf

from . import __version__
from ._cache import cached_stage
from ._io import atomic_to_netcdf, atomic_write_text
from ._keys import stage_key

__all__ = ["run_pipeline"]

log = logging.getLogger("sepsim")


def _plain(node: Any) -> Any:
    return OmegaConf.to_container(node, resolve=True) if isinstance(node, DictConfig) else node


def _outcomes_from_scenario(cfg: DictConfig, design: Any) -> tuple[xr.Dataset, bool]:
    from .platform import binary_scenario

    sc = _plain(cfg.scenario)
    subtree = {"scenario": sc, "arms": list(design.arms), "seed": cfg.seed}

    def compute() -> xr.Dataset:
        rates = sc["stratum_rates"] or sc["rates"]
        po = binary_scenario(
            rates,
            sc["n_patients"],
            key=stage_key(cfg.seed, "outcomes"),
            arms=list(design.arms),
            stratum_shares=sc["stratum_shares"] or None,
            **sc["options"],
        )
        return po.to_dataset()

    return cached_stage("outcomes", subtree, compute, cache_dir=_cache_dir(cfg))


def _outcomes_from_models(cfg: DictConfig) -> tuple[xr.Dataset, bool]:
    from .models import simulate_cohort, simulate_outcomes
    from .models.interventions import arm_from_config

    pop = _plain(cfg.population)
    arms_cfg = _plain(cfg.arms)
    cohort_subtree = {"population": pop, "seed": cfg.seed}
    chunk = cfg.runtime.chunk_size
    cohort, _ = cached_stage(
        "cohort",
        cohort_subtree,
        lambda: simulate_cohort(pop["n_patients"], key=stage_key(cfg.seed, "cohort"), config=pop),
        cache_dir=_cache_dir(cfg),
    )

    def compute() -> xr.Dataset:
        arms = {name: arm_from_config(spec, key=f"arms.{name}") for name, spec in arms_cfg.items()}
        return simulate_outcomes(
            cohort, arms, key=stage_key(cfg.seed, "dynamics"), chunk_size=chunk, progress=cfg.runtime.progress
        )

    return cached_stage("outcomes", {**cohort_subtree, "arms": arms_cfg}, compute, cache_dir=_cache_dir(cfg))


def _cache_dir(cfg: DictConfig) -> Path | None:
    return Path(cfg.runtime.cache_dir) if cfg.runtime.cache else None


def run_pipeline(cfg: DictConfig, run_dir: Path) -> dict[str, Any]:
    """Run every stage of a validated config, writing the run directory. Returns the summary dictionary."""
    from .platform import PotentialOutcomes, design_from_dict, operating_characteristics, run_trials
    from .report import write_report

    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run_dir / "config.yaml", OmegaConf.to_yaml(cfg, resolve=True))
    t0 = time.monotonic()
    design = design_from_dict(_plain(cfg.design))
    if cfg.outcomes == "scenario":
        log.info("outcomes: parametric scenario %r, rates %s", cfg.scenario.name, list(cfg.scenario.rates))
        table, reused = _outcomes_from_scenario(cfg, design)
        outcomes = PotentialOutcomes.from_dataset(table, endpoint="outcome", stratum="stratum")
        ran = f"parametric scenario '{cfg.scenario.name}'"
    else:
        log.info("outcomes: %d virtual patients x %d arms (mechanistic)", cfg.population.n_patients, len(cfg.arms))
        table, reused = _outcomes_from_models(cfg)
        outcomes = PotentialOutcomes.from_dataset(
            table, endpoint=cfg.endpoint.variable, stratum=cfg.endpoint.stratum, arms=list(design.arms)
        )
        ran = f"{cfg.population.n_patients} virtual patients under arms {list(cfg.arms)} (mechanistic dynamics)"
    log.info("outcome table %s", "reused from cache" if reused else "computed")
    t1 = time.monotonic()
    results = run_trials(
        outcomes,
        design,
        n_trials=cfg.n_trials,
        key=stage_key(cfg.seed, "trials"),
        chunk_size=cfg.runtime.chunk_size,
        progress=cfg.runtime.progress,
    )
    results.attrs["seed"] = cfg.seed
    t2 = time.monotonic()
    atomic_to_netcdf(results, run_dir / "results.nc")
    oc = operating_characteristics(results)
    atomic_to_netcdf(oc, run_dir / "oc.nc")
    extra = {
        "ran": f"{cfg.n_trials} trials of study '{cfg.name}' on {ran}",
        "outcome_table_reused_from_cache": reused,
        "timing_s": {"outcomes": round(t1 - t0, 3), "trials": round(t2 - t1, 3)},
        "versions": {"sepsim": __version__, "python": _stdlib_platform.python_version()},
    }
    summary = write_report(run_dir, results, oc, config=_plain(cfg), extra=extra)
    log.info("ran %s", extra["ran"])
    log.info("run directory: %s", run_dir)
    print(f"sepsim: ran {extra['ran']}\n  results in {run_dir}")
    return summary if isinstance(summary, dict) else json.loads((run_dir / "summary.json").read_text())
