"""Operating-characteristic report of a run: figures, ``summary.json`` and a self-contained ``report.html``.

The operating characteristics themselves are computed by :func:`sepsim.platform.operating_characteristics`;
this subpackage renders them. Every file is written atomically (temporary file in the same directory, then
``os.replace``).
"""

from ._figures import plot_allocation as plot_allocation
from ._figures import plot_decisions as plot_decisions
from ._figures import plot_expected_n as plot_expected_n
from ._figures import plot_sample_size as plot_sample_size
from ._figures import plot_stopping as plot_stopping
from ._summary import summarise as summarise
from ._synthetic import synthetic_results as synthetic_results
from ._write import write_report as write_report

__all__ = [
    "write_report",
    "summarise",
    "plot_allocation",
    "plot_sample_size",
    "plot_stopping",
    "plot_decisions",
    "plot_expected_n",
    "synthetic_results",
]
