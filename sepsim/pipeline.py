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
from ._rundir import begin_run, finish_run, finished_summary
from .config import build_arms
from .platform import factorial_rates as factorial_rates  # moved to sepsim.platform (kept importable)

__all__ = ["run_pipeline"]

log = logging.getLogger("sepsim")
_PROGRESS = {"auto": None, "bar": True, "log": False}  # runtime.progress -> the engines' progress flag


def _plain(node: Any) -> Any:
    return OmegaConf.to_container(node, resolve=True) if isinstance(node, DictConfig) else node


def _outcomes_from_scenario(cfg: DictConfig, design: Any):
    """A parametric table (:func:`sepsim.platform.outcomes_from_scenario`): cheap and deterministic in (scenario,
    arms, seed), so it is rebuilt, not cached."""
    from .platform import outcomes_from_scenario

    return outcomes_from_scenario(_plain(cfg.scenario), design, key=stage_key(cfg.seed, "outcomes"))


def _outcomes_from_models(cfg: DictConfig) -> tuple[xr.Dataset, bool]:
    """Stage 2 (virtual cohort) and stage 3 (every patient under every arm), each cached by its config subtree."""
    from .models import CohortConfig, simulate_cohort, simulate_outcomes

    pop = _plain(cfg.population)
    arms_cfg = _plain(cfg.arms)
    chunk = cfg.runtime.chunk_size or 2000
    # precision changes the numbers, so it is part of every key; chunking and progress do not, so they are not;
    # a posterior enters through the hash of its file (a refit under the same path is a new cohort)
    daily = pop.pop("daily_states", "all")  # the outcome table's content, not the cohort's
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
            precision=cfg.runtime.precision,  # the library runs float64 unless asked; float32 only when configured
            daily_states=daily,
        )

    from .models import daily_state_names

    kept = {} if daily == "all" else {"daily_states": list(daily_state_names(daily, "population.daily_states"))}
    subtree = {**cohort_subtree, "arms": arms_cfg} | kept
    return cached_stage("outcomes", subtree, compute, cache_dir=_cache_dir(cfg))


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
        return  # the config validator checked the files; the posterior is Fit 2's, made by the run
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


def _fit_data(cfg: DictConfig, run_dir: Path) -> DictConfig:
    """``population.source=data``: Fit 2 on ``population.data_file`` (hierarchical NUTS through the ODE), then the
    cohort is drawn from that posterior. The fit is cached by the files' content and the seed when the cache is on."""
    from .models.population._data import measurements_file_for
    from .models.population.fit_data import DataFitConfig, fit_patient_data

    data_file = Path(cfg.population.data_file)
    digest = hashlib.sha256(
        data_file.read_bytes()
        + measurements_file_for(data_file).read_bytes()
        + repr((cfg.seed, DataFitConfig())).encode()
    ).hexdigest()[:16]
    cache = _cache_dir(cfg)
    out = (cache / "fit_data" if cache else run_dir / "population") / f"fit_data_{digest}.nc"
    if out.is_file():
        log.info("Fit 2: reusing %s", out)
    else:
        fit_patient_data(data_file, out, DataFitConfig(seed=cfg.seed))
    cfg = cfg.copy()
    cfg.population.source = "posterior"
    cfg.population.posterior_file = str(out)
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
    if not keep.any():
        values = sorted(set(np.asarray(table[stratum].values).astype(str)))
        raise ConfigError("design.strata", f"no virtual patient is eligible: {stratum} takes only {values}")
    log.info("screening: %d of %d virtual patients eligible (strata %s)", keep.sum(), keep.size, design.strata)
    return table.isel(patient=np.flatnonzero(keep))


def _cache_dir(cfg: DictConfig) -> Path | None:
    return Path(cfg.runtime.cache_dir) if cfg.runtime.cache else None


def run_pipeline(cfg: DictConfig, run_dir: Path) -> dict[str, Any]:
    """Run every stage of a config, writing the run directory. Returns the summary dictionary.

    The config is validated first (:func:`sepsim.config.validate`): the same ``ConfigError`` as the CLI, before
    anything is written.
    """
    from .config import validate
    from .platform import design_from_dict, from_dataset, run_trials
    from .platform._operating.trials import operating_characteristics
    from .report import CohortView, stratum_decisions, write_report
    from .report._cf import annotate_oc, annotate_results
    from .report._decisions import decisions_dataset
    from .studies import prepare_study_table, write_study_outputs

    cfg = validate(cfg)
    _check_population(cfg)

    config_text = OmegaConf.to_yaml(cfg, resolve=True)
    done = finished_summary(run_dir, config_text)
    if done is not None:  # a resumed sweep: this point finished before (its manifest matches this config)
        print(f"sepsim: {run_dir} already holds this run, complete (manifest.json); skipped")
        return done
    begin_run(run_dir, _cache_dir(cfg))
    atomic_write_text(run_dir / "config.yaml", config_text)
    t0 = time.monotonic()
    if cfg.outcomes != "scenario" and cfg.population.calibrate:
        cfg = _calibrate(cfg, run_dir)
    if cfg.outcomes != "scenario" and cfg.population.source == "data":
        cfg = _fit_data(cfg, run_dir)
    design = design_from_dict(_plain(cfg.design))
    reused: dict[str, bool] = {}
    solver_failures = 0
    cohort = None
    table = None  # the eligible mechanistic outcome table, for the study's own computation
    if cfg.outcomes == "scenario":
        log.info("outcomes: parametric %s scenario %r", cfg.scenario.kind, cfg.scenario.name)
        outcomes = _outcomes_from_scenario(cfg, design)
        source = {"scenario": _plain(cfg.scenario)}
        ran = f"parametric scenario '{cfg.scenario.name}'"
    else:
        log.info("outcomes: %d virtual patients x %d arms (mechanistic)", cfg.population.n_patients, len(cfg.arms))
        table, reused["outcomes"] = _outcomes_from_models(cfg)
        solved, solver_failures = _solved(table)
        solved = prepare_study_table(cfg, solved)  # a study's own eligibility or endotype rule, before screening
        table = _eligible(solved, design, cfg.endpoint.stratum)
        outcomes = from_dataset(
            table, endpoint=cfg.endpoint.variable, stratum=cfg.endpoint.stratum, strata=design.strata
        )
        cohort = CohortView(
            table=solved,
            eligible=table,
            endpoint=str(cfg.endpoint.variable),
            stratum=cfg.endpoint.stratum,
            n_simulated=int(cfg.population.n_patients),
            solver_failures=solver_failures,
            max_n=int(design.look_n[-1]),
            stratum_arms=dict(zip(design.strata, design.stratum_arms, strict=True))
            if design.strata and design.stratum_arms
            else None,
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
        # a study's settings can change the table the trials draw from (e.g. thresholds' endotype cut-offs re-make
        # the strata before screening): they are part of what determines the trials
        "study": _plain(cfg.study),
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
            processes=cfg.runtime.processes,
        ),
        cache_dir=_cache_dir(cfg),
    )
    t2 = time.monotonic()
    if design.domains:  # factorial platform: per-domain OCs against the combinations' true rates
        from .platform._operating.domains import domain_operating_characteristics

        truth = np.asarray(outcomes.true_mean(), dtype=np.float64) @ outcomes.stratum_mix()  # (arm,)
        combo = [list(outcomes.arms).index(a) for a in results["arm"].values]
        results = results.assign(true_mean=(("arm",), truth[combo]))
        oc = domain_operating_characteristics(results)
    else:
        oc = operating_characteristics(
            results, select_strategy=cfg.selection.strategy, select_preferences=list(cfg.selection.preferences)
        )
    atomic_to_netcdf(annotate_results(results), run_dir / "results.nc")  # CF: long names, units, flags, fills
    if "stratum" in oc.dims:  # decision quantities over each stratum's own arms, so that a merged sweep has them
        oc = oc.assign(decisions_dataset(stratum_decisions(results)).data_vars)
    atomic_to_netcdf(annotate_oc(oc), run_dir / "oc.nc")
    extra = {
        "ran": f"{cfg.n_trials} trials of study '{cfg.name}' on {ran}",
        "reused_from_cache": reused,
        "solver_failures": solver_failures,
        "timing_s": {"outcomes": round(t1 - t0, 3), "trials": round(t2 - t1, 3)},
        "versions": {"sepsim": __version__, "python": _stdlib_platform.python_version()},
    }
    write_report(run_dir, results, oc, config=_plain(cfg), extra=extra, cohort=cohort)
    write_study_outputs(cfg, run_dir, table=table, outcomes=outcomes)  # study tables; a section before the appendix
    for stage, was in reused.items():
        log.info("stage %s: %s", stage, "reused from cache" if was else "computed")
    log.info("ran %s", extra["ran"])
    finish_run(run_dir, config_text)  # last: the run is complete only with its manifest
    print(f"sepsim: ran {extra['ran']}\n  results in {run_dir}")
    return json.loads((run_dir / "summary.json").read_text())
