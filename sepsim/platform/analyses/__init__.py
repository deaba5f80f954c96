"""Statistical analyses run by the trial engine at each look, and exact design calculations."""

from ._cmh import cochran_mantel_haenszel as cochran_mantel_haenszel
from ._common import TestResult as TestResult
from ._exact_design import exact_rejection_probability as exact_rejection_probability
from ._exact_design import rejection_region as rejection_region
from ._fisher import fisher_exact_2x2 as fisher_exact_2x2
from ._fisher import hypergeometric_log_pmf as hypergeometric_log_pmf
from ._gsd import GroupSequentialBounds as GroupSequentialBounds
from ._gsd import crossing_probabilities as crossing_probabilities
from ._gsd import group_sequential_bounds as group_sequential_bounds
from ._means import mean_and_variance as mean_and_variance
from ._means import mean_difference_z as mean_difference_z
from ._proportions import chi_square_2x2 as chi_square_2x2
from ._proportions import two_proportion_z as two_proportion_z
from ._spending import alpha_spending as alpha_spending

__all__ = [
    "GroupSequentialBounds",
    "TestResult",
    "alpha_spending",
    "chi_square_2x2",
    "cochran_mantel_haenszel",
    "crossing_probabilities",
    "exact_rejection_probability",
    "fisher_exact_2x2",
    "group_sequential_bounds",
    "hypergeometric_log_pmf",
    "mean_and_variance",
    "mean_difference_z",
    "rejection_region",
    "two_proportion_z",
]
