"""Study report sections: HTML fragments written beside ``report.html`` and inserted into it.

Each study writes ``study_<name>.html`` (a ``<section>``) in the run directory; :func:`add_section` also inserts it
into ``report.html`` (atomically) before the report's collapsed appendix, so the study's results come before the
machine dumps.
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Iterable, Sequence
from pathlib import Path

from .._io import atomic_write_text

_APPENDIX = "<details><summary>Appendix"  # where sepsim.report.appendix starts the collapsed machine dumps

__all__ = ["add_section", "embed_png", "html_table", "fmt_share", "fmt_interval"]


def html_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A plain table; cells are HTML already (escape text with :func:`html.escape`)."""
    head = "".join(f"<th>{h}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def fmt_share(x: float, digits: int = 1) -> str:
    """A proportion as a percentage, an en dash where undefined."""
    return "&ndash;" if x is None or not math.isfinite(float(x)) else f"{100 * float(x):.{digits}f}%"


def fmt_interval(mean: float, lo: float, hi: float) -> str:
    """``mean [lo, hi]`` in percent."""
    if not math.isfinite(float(mean)):
        return "&ndash;"
    return f"{fmt_share(mean)} <small>[{fmt_share(lo)}, {fmt_share(hi)}]</small>"


def embed_png(path: Path, caption: str) -> str:
    """A figure embedded as base64 PNG with its caption (the report is one self-contained page)."""
    data = base64.b64encode(path.read_bytes()).decode()
    alt = html.escape(caption)
    return f'<figure><img src="data:image/png;base64,{data}" alt="{alt}"><figcaption>{alt}</figcaption></figure>'


def add_section(run_dir: Path, name: str, title: str, body: str) -> Path:
    """Write ``study_<name>.html`` and insert the section into ``report.html`` (if the run wrote one)."""
    section = f'<section id="study-{html.escape(name)}"><h2>{html.escape(title)}</h2>\n{body}\n</section>\n'
    path = run_dir / f"study_{name}.html"
    atomic_write_text(path, section)
    report = run_dir / "report.html"
    if report.is_file():
        text = report.read_text(encoding="utf-8")
        at = text.find(_APPENDIX)
        at = at if at >= 0 else text.rfind("</body>")
        text = text[:at] + section + text[at:] if at >= 0 else text + section
        atomic_write_text(report, text)
    return path
