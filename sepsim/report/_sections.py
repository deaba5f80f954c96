"""The report's extension point: a study adds its own sections (tables, figures) to ``report.html``.

A :class:`ReportSection` is rendered after the generic sections, in the order given to
``write_report(..., sections=[...])``; its figures are embedded like the generic ones (with their captions) and
its ``summary`` (if any) goes into ``summary.json`` under ``sections[<title>]``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["ReportSection", "SectionFigure"]


@dataclass(frozen=True)
class SectionFigure:
    """A PNG the section already wrote (e.g. into ``run_dir / "figures"``), its title and its caption. The caption
    must say what any band or error bar means."""

    title: str
    caption: str
    path: Path


@dataclass(frozen=True)
class ReportSection:
    """One section of ``report.html``.

    Attributes:
        title: the section heading (plain text; escaped when rendered).
        html: the body, an HTML fragment inserted as is (escape your own text with ``html.escape``).
        figures: figures shown after the body.
        summary: JSON-safe numbers for ``summary.json`` (``sections[title]``); headline numbers as
            ``{"mean", "q025", "q975", "mcse", "units"}`` like the rest of the summary.
    """

    title: str
    html: str
    figures: Sequence[SectionFigure] = field(default_factory=tuple)
    summary: Mapping[str, Any] | None = None
