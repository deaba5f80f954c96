"""``write_report``: figures, ``summary.json`` and ``report.html`` of a run."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import xarray as xr

from sepsim._errors import ConfigError

from .._io import atomic_write_json, atomic_write_text
from ._figures import FIGURES
from ._html import render_html
from ._summary import summarise

__all__ = ["write_report", "REQUIRED_OC"]

REQUIRED_OC = (
    "p_outcome",
    "p_conclusive",
    "p_superiority",
    "sample_size_mean",
    "sample_size_quantile",
    "events_total_mean",
    "events_per_patient_mean",
    "p_superiority_stratum",
    "p_decision",
    "p_select",
    "p_select_best",
    "idp",
    "sample_size_stratum_mean",
    "sample_size_arm_mean",
    "best_share_mean",
    "p_more_on_inferior",
    "bias",
    "rmse",
    "bias_te",
    "rmse_te",
    "rmse_selected",
    "rmse_te_selected",
    "events_stratum_mean",
    "events_per_patient_stratum_mean",
    "best_arm",
    "null_scenario",
)


def _check_oc(oc: xr.Dataset) -> None:
    if not isinstance(oc, xr.Dataset):
        raise ConfigError("oc", f"must be the xarray.Dataset of operating_characteristics, got {type(oc).__name__}")
    for name in REQUIRED_OC:
        if name not in oc.variables:
            raise ConfigError(f"oc.{name}", "missing; pass the output of sepsim.platform.operating_characteristics")


def write_report(
    run_dir: Path, results: xr.Dataset, oc: xr.Dataset, *, config: Mapping, extra: dict | None = None
) -> None:
    """Write the report of one run into ``run_dir`` (every file atomically).

    Files: ``figures/{allocation,sample_size,stopping,decisions,expected_n}.png``, ``summary.json`` (headline
    figures as ``{"value", "mcse", "ci95": [lo, hi]}``) and ``report.html`` (self-contained: OC tables with MC
    SEs, embedded figures, the resolved config as YAML, package versions). The caller stores ``results`` and
    ``oc`` themselves (e.g. with ``atomic_to_netcdf``). ``report.html`` is written last, so its presence means the
    report is complete. Results of a factorial platform (dim ``domain``) get the per-domain report of
    :func:`sepsim.report._domains.write_domain_report` (``oc`` from ``domain_operating_characteristics``).

    Args:
        run_dir: the run directory (created if missing).
        results: per-trial results Dataset (``sepsim/platform/_results/schema.py``).
        oc: its operating characteristics, from :func:`sepsim.platform.operating_characteristics`.
        config: the resolved run configuration (a mapping, e.g. a dict or an omegaconf DictConfig; values that
            are not plain data are written as strings).
        extra: anything else to record in ``summary.json`` and the report (timings, solver failures, ...).

    Raises:
        ConfigError: if ``results`` or ``oc`` is not what the report needs; nothing is written then.
    """
    from sepsim.platform._operating.trials import validate_results  # lazy: keeps sepsim.report free of engine imports

    if isinstance(results, xr.Dataset) and "domain" in results.dims:  # factorial platform: per-domain report
        from sepsim.platform._operating.domains import validate_domain_results

        from ._domains import write_domain_report

        validate_domain_results(results)
        if not isinstance(oc, xr.Dataset) or "p_superiority_domain" not in oc:
            raise ConfigError("oc", "a domains run needs sepsim.platform.domain_operating_characteristics(results)")
        write_domain_report(Path(run_dir), results, oc, config=config, extra=extra)
        return
    validate_results(results)
    _check_oc(oc)
    if not isinstance(config, Mapping):
        raise ConfigError("config", f"must be a mapping (the resolved config), got {type(config).__name__}")
    if extra is not None and not isinstance(extra, dict):
        raise ConfigError("extra", f"must be a dict or None, got {type(extra).__name__}")
    run_dir = Path(run_dir)
    summary = summarise(results, oc, config=config, extra=extra)  # before any write: fails early on bad content
    figures_dir = run_dir / "figures"
    figures = {name: (title, draw(results, oc, figures_dir / f"{name}.png")) for name, (title, draw) in FIGURES.items()}
    atomic_write_json(run_dir / "summary.json", summary)
    page = render_html(run_dir, results, oc, figures=figures, config=config, extra=extra)
    atomic_write_text(run_dir / "report.html", page)
