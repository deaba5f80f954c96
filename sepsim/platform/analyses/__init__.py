"""Deprecated alias of :mod:`sepsim.platform.stats` (the pure statistics moved there); kept for one release."""

from ..stats import *  # noqa: F403
from ..stats import __all__ as __all__
