"""The report of a run: figures, ``summary.json`` and a self-contained ``report.html`` that answers the study's
question; and the report of a merged sweep (:func:`write_sweep_report`).

The operating characteristics themselves are computed by :func:`sepsim.platform.operating_characteristics`; the
decision quantities over each stratum's own arms (:func:`stratum_decisions`), the virtual-cohort section
(:class:`CohortView`) and published-number comparisons (:class:`PublishedNumber`) are computed here. A study adds
its own sections with ``write_report(..., sections=[ReportSection(...)])``. Every file is written atomically
(temporary file in the same directory, then ``os.replace``).
"""

from ._cohort import CohortView as CohortView
from ._decisions import StratumDecisions as StratumDecisions
from ._decisions import stratum_decisions as stratum_decisions
from ._figures import plot_allocation as plot_allocation
from ._figures import plot_decisions as plot_decisions
from ._figures import plot_expected_n as plot_expected_n
from ._figures import plot_sample_size as plot_sample_size
from ._figures import plot_stopping as plot_stopping
from ._published import PublishedNumber as PublishedNumber
from ._published import compare as compare_published
from ._sections import ReportSection as ReportSection
from ._sections import SectionFigure as SectionFigure
from ._summary import summarise as summarise
from ._sweep import write_sweep_report as write_sweep_report
from ._synthetic import synthetic_results as synthetic_results
from ._write import write_report as write_report

__all__ = [
    "write_report",
    "write_sweep_report",
    "ReportSection",
    "SectionFigure",
    "CohortView",
    "StratumDecisions",
    "stratum_decisions",
    "PublishedNumber",
    "compare_published",
    "summarise",
    "plot_allocation",
    "plot_sample_size",
    "plot_stopping",
    "plot_decisions",
    "plot_expected_n",
    "synthetic_results",
]
