"""Fit 1 of the population model: calibration to published summary targets (library re-weighting + NUTS)."""

from ._calibrate import CalibrationConfig as CalibrationConfig
from ._calibrate import PopulationFitResult as PopulationFitResult
from ._calibrate import run_calibration as run_calibration
from ._library import Library as Library
from ._library import draw_library as draw_library
from ._sbc import Fit1SbcConfig as Fit1SbcConfig
from ._sbc import Fit1SbcResult as Fit1SbcResult
from ._sbc import report_fit1_sbc as report_fit1_sbc
from ._sbc import run_fit1_sbc as run_fit1_sbc
from ._targets import Target as Target
from ._targets import compile_targets as compile_targets
from ._targets import load_targets as load_targets

__all__ = [
    "CalibrationConfig",
    "PopulationFitResult",
    "Fit1SbcConfig",
    "Fit1SbcResult",
    "Library",
    "Target",
    "compile_targets",
    "draw_library",
    "load_targets",
    "report_fit1_sbc",
    "run_calibration",
    "run_fit1_sbc",
]
