"""Study-specific computations, keyed by ``study.kind`` in the run config (``study: {kind: immunosep, ...}``).

:func:`validate_study` checks the ``study`` mapping before any work (``ConfigError`` naming ``study.<key>``);
:func:`write_study_outputs` is the pipeline's one call after the report: it runs the study's own computation on
the run's outcome table and writes its files and report section. An empty ``study`` mapping does nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from omegaconf import DictConfig, OmegaConf

from .._errors import ConfigError

log = logging.getLogger("sepsim")

__all__ = ["STUDY_KINDS", "study_settings", "validate_study", "prepare_study_table", "write_study_outputs"]


class _Study(NamedTuple):
    defaults: dict[str, Any]
    needs_table: bool  # a mechanistic outcome table (patient, arm, day)
    write: Callable[..., list[Path]]
    prepare: Callable[[DictConfig, dict[str, Any], Any], Any] | None = None  # the table before screening
    states: tuple[str, ...] = ()  # model states the study reads daily (population.daily_states must keep them)


def _prepare_cytosorb(cfg: DictConfig, settings: dict[str, Any], table: Any) -> Any:
    import numpy as np

    from ._cytosorb import ventilated_at_randomisation

    if not settings["require_organ_support"]:
        return table
    keep = np.flatnonzero(ventilated_at_randomisation(table))
    log.info(
        "study cytosorb: %d of %d virtual patients on organ support at randomisation", keep.size, table.sizes["patient"]
    )
    return table.isel(patient=keep)


def _write_cytosorb(cfg: DictConfig, run_dir: Path, settings: dict[str, Any], table: Any, outcomes: Any) -> list:
    from ._cytosorb import cytosorb_course
    from ._cytosorb_report import pool_mortality, write_cytosorb

    course = cytosorb_course(table, control=settings["control"], device=settings["device"],
                             last_day=settings["course_days"])  # fmt: skip
    mortality = pool_mortality(table, cfg.endpoint.variable)
    return write_cytosorb(run_dir, course, mortality, int(table.sizes["patient"]))


def _write_immunosep(cfg: DictConfig, run_dir: Path, settings: dict[str, Any], table: Any, outcomes: Any) -> list:
    from ._immunosep import immunosep_table
    from ._immunosep_report import write_immunosep

    design = OmegaConf.to_container(cfg.design, resolve=True)
    result = immunosep_table(
        table,
        design,
        stratum=cfg.endpoint.stratum,
        n_trials=settings["n_trials"] or cfg.n_trials,
        seed=cfg.seed,
        alpha=settings["alpha"],
        processes=cfg.runtime.processes,
    )
    return write_immunosep(run_dir, result, settings)


def _write_design_comparison(cfg: DictConfig, run_dir: Path, settings: dict[str, Any], table: Any, outcomes) -> list:
    from ._design_comparison import design_comparison_table
    from ._design_comparison_report import write_design_comparison

    base = OmegaConf.to_container(cfg.design, resolve=True)
    result = design_comparison_table(
        outcomes,
        base,
        settings["designs"],
        settings["scenarios"],
        n_trials=cfg.n_trials,
        seed=cfg.seed,
        processes=cfg.runtime.processes,
    )
    return write_design_comparison(run_dir, result)


def _check_design_comparison(cfg: DictConfig | dict, settings: dict[str, Any]) -> None:
    from ..platform import design_from_dict
    from ._design_comparison import compose_design

    for key in ("designs", "scenarios"):
        entries = settings[key]
        if not isinstance(entries, dict) or not entries or not all(isinstance(v, dict) for v in entries.values()):
            raise ConfigError(f"study.{key}", "must be a non-empty mapping of name -> mapping")
    node = cfg.get("design")
    base = OmegaConf.to_container(node, resolve=True) if isinstance(node, DictConfig) else dict(node or {})
    for name, override in settings["designs"].items():
        for sname, scenario in settings["scenarios"].items():
            try:
                design_from_dict(compose_design(base, override, scenario))
            except ConfigError as err:
                raise ConfigError(f"study.designs.{name}", f"with scenario {sname!r}: {err}") from None


def _prepare_thresholds(cfg: DictConfig, settings: dict[str, Any], table: Any) -> Any:
    from ._thresholds import reclassify, screened_mix

    out = reclassify(table, ferritin_cutoff=float(settings["ferritin_cutoff"]),
                     hla_dr_cutoff=float(settings["hla_dr_cutoff"]),
                     assay_cv_scale=float(settings["assay_cv_scale"]))  # fmt: skip
    out.attrs.update({f"screened_{k}": v for k, v in screened_mix(out).items()})  # survives screening (isel)
    return out


def _write_thresholds(cfg: DictConfig, run_dir: Path, settings: dict[str, Any], table: Any, outcomes) -> list:
    import xarray as xr

    from ._immunosep import _stratum_arms
    from ._thresholds import misclassification_harm
    from ._thresholds_report import thresholds_dataset, write_thresholds

    values = {k[len("screened_") :]: float(v) for k, v in table.attrs.items() if k.startswith("screened_")}
    values.update(misclassification_harm(table, _stratum_arms(OmegaConf.to_container(cfg.design, resolve=True))))
    oc_path = run_dir / "oc.nc"
    oc = xr.load_dataset(oc_path) if oc_path.is_file() else None
    return write_thresholds(run_dir, thresholds_dataset(values, settings, oc))


def _prepare_platform(cfg: DictConfig, settings: dict[str, Any], table: Any) -> Any:
    from ._platform import add_platform_endotype

    return add_platform_endotype(table)


def _write_platform(cfg: DictConfig, run_dir: Path, settings: dict[str, Any], table: Any, outcomes) -> list:
    from ._platform import platform_comparison
    from ._platform_report import write_platform

    base = OmegaConf.to_container(cfg.design, resolve=True)
    result = platform_comparison(table, base, settings["compare"], endpoint=cfg.endpoint.variable,
                                 stratum=cfg.endpoint.stratum, n_trials=cfg.n_trials, seed=cfg.seed,
                                 processes=cfg.runtime.processes)  # fmt: skip
    return write_platform(run_dir, result)


def _check_platform(cfg: DictConfig | dict, settings: dict[str, Any]) -> None:
    from ..platform import design_from_dict
    from ._platform import platform_design

    compare = settings["compare"]
    if not isinstance(compare, dict) or not all(isinstance(v, dict) for v in compare.values()):
        raise ConfigError("study.compare", "must be a mapping of name -> design overrides (all_comers: true allowed)")
    node = cfg.get("design")
    base = OmegaConf.to_container(node, resolve=True) if isinstance(node, DictConfig) else dict(node or {})
    for name, variant in compare.items():
        try:
            design_from_dict(platform_design(base, variant)[0])
        except ConfigError as err:
            raise ConfigError(f"study.compare.{name}", str(err)) from None


STUDY_KINDS: dict[str, _Study] = {
    "immunosep": _Study(
        {"kind": "immunosep", "alpha": 0.05, "n_trials": None}, True, _write_immunosep, None,
        ("hla_dr", "ferritin"),  # reversal of immune dysfunction (_endpoints.py)
    ),
    "cytosorb": _Study(
        {"kind": "cytosorb", "control": "standard_care", "device": "cytosorb", "course_days": 14,
         "require_organ_support": True},
        True,
        _write_cytosorb,
        _prepare_cytosorb,
        ("il6",),  # the IL-6 course (_cytosorb.py)
    ),
    "thresholds": _Study(
        {"kind": "thresholds", "ferritin_cutoff": 4420.0, "hla_dr_cutoff": 5000.0, "assay_cv_scale": 1.0},
        True,
        _write_thresholds,
        _prepare_thresholds,
    ),
    "platform": _Study({"kind": "platform", "compare": {}}, True, _write_platform, _prepare_platform),
    "design_comparison": _Study(
        {"kind": "design_comparison", "designs": {}, "scenarios": {"stable": {}}}, False, _write_design_comparison
    ),
}  # fmt: skip


def _check_value(kind: str, key: str, value: Any) -> None:
    if key in ("ferritin_cutoff", "hla_dr_cutoff") and not (isinstance(value, float | int) and value > 0):
        raise ConfigError(f"study.{key}", f"must be a positive number (ng/mL or AB/C), got {value!r}")
    if key == "assay_cv_scale" and not (isinstance(value, float | int) and 0 <= value <= 10):
        raise ConfigError("study.assay_cv_scale", f"must be in [0, 10] (x the default assay CVs), got {value!r}")
    if key == "course_days" and (not isinstance(value, int) or not 1 <= value <= 90):
        raise ConfigError("study.course_days", f"must be an integer day in [1, 90], got {value!r}")
    if key == "require_organ_support" and not isinstance(value, bool):
        raise ConfigError("study.require_organ_support", f"must be true or false, got {value!r}")
    if key == "alpha" and not (isinstance(value, float | int) and 0.0 < float(value) < 1.0):
        raise ConfigError("study.alpha", f"must be a significance level in (0, 1), got {value!r}")
    if key == "n_trials" and value is not None and (not isinstance(value, int) or value < 1):
        raise ConfigError("study.n_trials", f"must be a positive integer or null (the run's n_trials), got {value!r}")


def study_settings(cfg: DictConfig | dict) -> dict[str, Any] | None:
    """The run's ``study`` mapping merged onto its kind's defaults (None when the run has no study)."""
    node = cfg.get("study") if isinstance(cfg, dict | DictConfig) else None
    raw = OmegaConf.to_container(node, resolve=True) if isinstance(node, DictConfig) else dict(node or {})
    if not raw:
        return None
    kind = raw.get("kind")
    if kind not in STUDY_KINDS:
        raise ConfigError("study.kind", f"unknown study {kind!r}; allowed: {', '.join(sorted(STUDY_KINDS))}")
    spec = STUDY_KINDS[kind]
    unknown = sorted(set(raw) - set(spec.defaults))
    if unknown:
        raise ConfigError(f"study.{unknown[0]}", f"unknown key for study {kind}; allowed: {', '.join(spec.defaults)}")
    settings = {**spec.defaults, **raw}
    for key, value in settings.items():
        _check_value(kind, key, value)
    return settings


def validate_study(cfg: DictConfig | dict) -> None:
    """Refuse a bad ``study`` mapping, or a study whose outcome source cannot feed it, before any work."""
    settings = study_settings(cfg)
    endpoint = cfg.get("endpoint") or {}
    if endpoint.get("stratum") == "platform_endotype" and (settings or {}).get("kind") != "platform":
        raise ConfigError("endpoint.stratum", "platform_endotype is made by study.kind=platform only")
    if settings is None:
        return
    if STUDY_KINDS[settings["kind"]].needs_table and cfg.get("outcomes") != "mechanistic":
        raise ConfigError("study.kind", f"study {settings['kind']} needs outcomes=mechanistic (virtual patients)")
    _check_daily_states(cfg, settings["kind"])
    if settings["kind"] == "design_comparison":
        _check_design_comparison(cfg, settings)
    if settings["kind"] == "platform":
        _check_platform(cfg, settings)
    arms = list(cfg.get("arms") or {})
    for key in ("control", "device"):
        if key in settings and settings[key] not in arms:
            raise ConfigError(f"study.{key}", f"{settings[key]!r} is not an arm; arms: {', '.join(arms)}")


def _check_daily_states(cfg: DictConfig | dict, kind: str) -> None:
    """The outcome table keeps every daily state the study reads (``population.daily_states``)."""
    need = STUDY_KINDS[kind].states
    daily = (cfg.get("population") or {}).get("daily_states", "all")
    if not need or isinstance(daily, str):  # "all" (another string is refused by the population check)
        return
    missing = [s for s in need if s not in list(daily)]
    if missing:
        raise ConfigError(
            "population.daily_states",
            f'study {kind} reads the daily states {list(need)}; add {missing} to the list (or give "all")',
        )


def prepare_study_table(cfg: DictConfig, table: Any) -> Any:
    """The study's own eligibility or re-classification of the outcome table, before screening (else unchanged)."""
    settings = study_settings(cfg)
    if settings is None or STUDY_KINDS[settings["kind"]].prepare is None:
        return table
    return STUDY_KINDS[settings["kind"]].prepare(cfg, settings, table)


def write_study_outputs(cfg: DictConfig, run_dir: Path, *, table: Any, outcomes: Any) -> list[Path]:
    """Run the study's own computation and write its files and report section (nothing without a study)."""
    settings = study_settings(cfg)
    if settings is None:
        return []
    return STUDY_KINDS[settings["kind"]].write(cfg, run_dir, settings, table, outcomes)
