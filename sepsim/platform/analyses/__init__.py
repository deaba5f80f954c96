"""Statistical analyses run by the trial engine at each look, and exact design calculations."""

from ._gsd import GroupSequentialBounds as GroupSequentialBounds
from ._gsd import crossing_probabilities as crossing_probabilities
from ._gsd import group_sequential_bounds as group_sequential_bounds
from ._spending import alpha_spending as alpha_spending

__all__ = [
    "GroupSequentialBounds",
    "alpha_spending",
    "crossing_probabilities",
    "group_sequential_bounds",
]
