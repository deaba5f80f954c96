"""Fit 1 of the population model: calibration to published summary targets (library re-weighting + NUTS)."""

from ._calibrate import CalibrationConfig as CalibrationConfig
from ._calibrate import CalibrationResult as CalibrationResult
from ._calibrate import run_calibration as run_calibration
from ._library import Library as Library
from ._library import draw_library as draw_library
from ._targets import Target as Target
from ._targets import compile_targets as compile_targets
from ._targets import load_targets as load_targets

__all__ = [
    "CalibrationConfig",
    "CalibrationResult",
    "Library",
    "Target",
    "compile_targets",
    "draw_library",
    "load_targets",
    "run_calibration",
]
