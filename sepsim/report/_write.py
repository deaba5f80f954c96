"""``write_report``: figures, ``summary.json`` and ``report.html`` of a run."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import xarray as xr

from sepsim._errors import ConfigError

from .._io import atomic_write_json, atomic_write_text
from ._cohort import CohortView, cohort_section, population_sentences
from ._decisions import StratumDecisions, design_of, stratum_decisions
from ._figures import figures_for
from ._html import render_html
from ._mc import Estimate, fmt, proportion
from ._provenance import provenance
from ._published import PUBLISHED, compare, comparison_table
from ._sections import ReportSection, SectionFigure
from ._study import design_sentences, endpoint_words, key_comparisons, study_header
from ._summary import _efficacy_hits, summarise, to_plain

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


def _scenario_population(config: Mapping) -> list[str]:
    scenario = dict(config.get("scenario") or {})
    if not scenario:
        return ["Hand-made results (no population recorded)."]
    text = f"Parametric scenario '{scenario.get('name', '?')}': true outcome rates are given, not simulated patients"
    shares = scenario.get("stratum_shares") or {}
    if shares:
        text += "; stratum shares " + ", ".join(f"{k} {fmt(v)}" for k, v in dict(shares).items())
    return [text + "."]


def _published_sections(config: Mapping, decisions: Sequence[StratumDecisions]) -> list[ReportSection]:
    """adaptr's published null-scenario calibration, where this run is that design (scenario adaptr_null at
    adaptr's calibrated threshold)."""
    scenario = dict(config.get("scenario") or {})
    design = dict(config.get("design") or {})
    threshold = dict(design.get("stopping") or {}).get("superiority")
    if scenario.get("name") != "adaptr_null" or threshold is None or abs(float(threshold) - 0.9814318) > 1e-7:
        return []
    if len(decisions) != 1:
        return []
    eff = decisions[0].efficacy
    c = compare(PUBLISHED["adaptr_null"], eff.mean, eff.mcse)
    return [ReportSection("Published numbers beside the simulated ones", comparison_table([c]),
                          summary={"published_comparisons": [c.to_json()]})]  # fmt: skip


def write_report(
    run_dir: Path,
    results: xr.Dataset,
    oc: xr.Dataset,
    *,
    config: Mapping,
    extra: dict | None = None,
    cohort: CohortView | None = None,
    sections: Sequence[ReportSection] = (),
) -> None:
    """Write the report of one run into ``run_dir`` (every file atomically).

    Files: ``figures/*.png``, ``summary.json`` (every headline number as ``{"mean", "q025", "q975", "mcse",
    "units"}``; keys in the README) and ``report.html``: the study's name and question, population, endpoint and
    design in words and one sentence per key comparison on top; decision quantities per stratum over its own arms;
    figures with captions; for mechanistic runs the virtual-cohort section; the study's own ``sections``; and a
    collapsed appendix (config, design, versions, git commit). The caller stores ``results`` and ``oc``
    themselves. ``report.html`` is written last, so its presence means the report is complete. Results of a
    factorial platform (dim ``domain``) get the per-domain report of
    :func:`sepsim.report._domains.write_domain_report`.

    Args:
        run_dir: the run directory (created if missing).
        results: per-trial results Dataset (``sepsim/platform/_results/schema.py``).
        oc: its operating characteristics, from :func:`sepsim.platform.operating_characteristics`.
        config: the resolved run configuration (a mapping; ``name`` and ``description`` title the report).
        extra: anything else to record in ``summary.json`` and the appendix (timings, solver failures, ...).
        cohort: the virtual cohort of a mechanistic run (adds the virtual-cohort section).
        sections: a study's own sections (:class:`~sepsim.report.ReportSection`), after the generic ones.

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
    for i, section in enumerate(sections):
        if not isinstance(section, ReportSection):
            raise ConfigError(f"sections[{i}]", f"must be a sepsim.report.ReportSection, got {type(section).__name__}")
    run_dir = Path(run_dir)
    decisions = stratum_decisions(results)
    hib = bool(int(results.attrs.get("higher_is_better", 0)))
    endpoint = dict(config.get("endpoint") or {})
    outcome = str(endpoint.get("variable") or "mean")
    margin = dict(design_of(results).get("stopping") or {}).get("futility_margin")
    comparisons = key_comparisons(decisions, outcome, margin=float(margin) if margin is not None else None)
    prov = provenance()
    figures_dir = run_dir / "figures"
    cohort_html, cohort_figures, cohort_summary = "", {}, None
    if cohort is not None:
        cohort_html, cohort_figures, cohort_summary = cohort_section(cohort, run_dir)
        population = population_sentences(cohort)
    else:
        population = _scenario_population(config)
    sections = [*_published_sections(config, decisions), *sections]
    if cohort is not None:
        figs = [SectionFigure(t, c, p) for t, p, c in cohort_figures.values()]
        sections.insert(0, ReportSection("Virtual cohort", cohort_html, figs))
    summary = summarise(
        results, oc, config=config, extra=extra, decisions=decisions, comparisons=comparisons, provenance=prov,
        cohort=cohort_summary,
    )  # fmt: skip
    summary["sections"] = {s.title: to_plain(s.summary) for s in sections if s.summary}
    figures = {
        name: (title, draw(results, oc, figures_dir / f"{name}.png"), caption)
        for name, (title, caption, draw) in figures_for(results).items()
    }
    atomic_write_json(run_dir / "summary.json", summary)
    header = study_header(
        config,
        n_trials=int(oc.attrs.get("n_trials", results.sizes["trial"])),
        population=population,
        endpoint=endpoint_words(endpoint, hib),
        design=design_sentences(design_of(results)),
        comparisons=comparisons,
        seed=results.attrs.get("seed"),
    )
    page = render_html(
        run_dir, results, oc, header=header, decisions=decisions, efficacy_any=_efficacy_any(results, decisions),
        figures=figures, config=config, extra=extra, provenance=prov, sections=sections,
    )  # fmt: skip
    atomic_write_text(run_dir / "report.html", page)


def _efficacy_any(results: xr.Dataset, decisions: Sequence[StratumDecisions]) -> Estimate | None:
    if not decisions:
        return None
    return proportion(np.any([_efficacy_hits(results, d) for d in decisions], axis=0))
