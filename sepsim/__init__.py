"""sepsim: in-silico platform trials of precision immunotherapy in sepsis.

Subpackages: :mod:`sepsim.models` (virtual patients, dynamics, interventions), :mod:`sepsim.platform` (trial
engine), :mod:`sepsim.report` (operating characteristics, figures, HTML report).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("sepsim")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
