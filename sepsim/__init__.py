"""sepsim: in-silico platform trials of precision immunotherapy in sepsis.

Subpackages: :mod:`sepsim.models` (virtual patients, dynamics, interventions), :mod:`sepsim.platform` (trial
engine), :mod:`sepsim.report` (operating characteristics, figures, HTML report). :func:`stage_key` derives the
root PRNG key of a pipeline stage from a seed (what ``sepsim.pipeline`` uses, for reproducing a run's numbers).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("sepsim")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

from ._keys import stage_key as stage_key  # noqa: E402 (after __version__: _cache reads it)

__all__ = ["__version__", "stage_key"]
