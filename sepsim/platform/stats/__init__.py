"""Pure statistics used by the trial engine at each look, and exact design calculations (public).

* group-sequential boundaries (NumPy/SciPy): `group_sequential_bounds`, `group_sequential_futility`,
  `crossing_probabilities`, `alpha_spending`
* frequentist tests (JAX, jit/vmap-able): `two_proportion_z`, `chi_square_2x2`, `fisher_exact_2x2`,
  `cochran_mantel_haenszel`, `mean_difference_z`
* exact design calculations (NumPy/SciPy): `exact_rejection_probability`, `rejection_region`
* Bayesian models (JAX): `normal_difference_known_variance`, `normal_difference_unknown_variance`,
  `proportional_odds_posterior`, `logistic_treatment_posterior`, `logistic_laplace`, `hierarchical_effects`
* beta-binomial posteriors (JAX): `prob_best_quadrature`, `prob_best_draws`, `prob_vs_control_quadrature`,
  `prob_all_equivalent_quadrature`, `prob_all_equivalent_draws`, `prob_greater_exact`

See README.md beside this file for usage.
"""

from ._cmh import cochran_mantel_haenszel as cochran_mantel_haenszel
from ._common import TestResult as TestResult
from ._exact_design import exact_rejection_probability as exact_rejection_probability
from ._exact_design import rejection_region as rejection_region
from ._fisher import fisher_exact_2x2 as fisher_exact_2x2
from ._fisher import hypergeometric_log_pmf as hypergeometric_log_pmf
from ._futility import FutilityDesign as FutilityDesign
from ._futility import group_sequential_futility as group_sequential_futility
from ._gsd import GroupSequentialBounds as GroupSequentialBounds
from ._gsd import crossing_probabilities as crossing_probabilities
from ._gsd import group_sequential_bounds as group_sequential_bounds
from ._hierarchical import HierarchicalPosterior as HierarchicalPosterior
from ._hierarchical import half_normal_tau_grid as half_normal_tau_grid
from ._hierarchical import hierarchical_effects as hierarchical_effects
from ._hierarchical import log_odds_ratio_estimates as log_odds_ratio_estimates
from ._logistic import LaplaceFit as LaplaceFit
from ._logistic import TreatmentEffectPosterior as TreatmentEffectPosterior
from ._logistic import logistic_design_matrix as logistic_design_matrix
from ._logistic import logistic_laplace as logistic_laplace
from ._logistic import logistic_treatment_posterior as logistic_treatment_posterior
from ._means import mean_and_variance as mean_and_variance
from ._means import mean_difference_z as mean_difference_z
from ._normal_model import DifferencePosterior as DifferencePosterior
from ._normal_model import normal_difference_known_variance as normal_difference_known_variance
from ._normal_model import normal_difference_unknown_variance as normal_difference_unknown_variance
from ._posterior_binary import prob_all_equivalent_draws as prob_all_equivalent_draws
from ._posterior_binary import prob_all_equivalent_quadrature as prob_all_equivalent_quadrature
from ._posterior_binary import prob_best_draws as prob_best_draws
from ._posterior_binary import prob_best_quadrature as prob_best_quadrature
from ._posterior_binary import prob_greater_exact as prob_greater_exact
from ._posterior_binary import prob_vs_control_quadrature as prob_vs_control_quadrature
from ._proportional_odds import OrdinalPosterior as OrdinalPosterior
from ._proportional_odds import proportional_odds_log_posterior as proportional_odds_log_posterior
from ._proportional_odds import proportional_odds_posterior as proportional_odds_posterior
from ._proportions import chi_square_2x2 as chi_square_2x2
from ._proportions import two_proportion_z as two_proportion_z
from ._spending import alpha_spending as alpha_spending

__all__ = [
    "DifferencePosterior",
    "FutilityDesign",
    "GroupSequentialBounds",
    "HierarchicalPosterior",
    "LaplaceFit",
    "OrdinalPosterior",
    "TestResult",
    "TreatmentEffectPosterior",
    "alpha_spending",
    "chi_square_2x2",
    "cochran_mantel_haenszel",
    "crossing_probabilities",
    "exact_rejection_probability",
    "fisher_exact_2x2",
    "group_sequential_bounds",
    "group_sequential_futility",
    "half_normal_tau_grid",
    "hierarchical_effects",
    "hypergeometric_log_pmf",
    "log_odds_ratio_estimates",
    "logistic_design_matrix",
    "logistic_laplace",
    "logistic_treatment_posterior",
    "mean_and_variance",
    "mean_difference_z",
    "normal_difference_known_variance",
    "normal_difference_unknown_variance",
    "prob_all_equivalent_draws",
    "prob_all_equivalent_quadrature",
    "prob_best_draws",
    "prob_best_quadrature",
    "prob_greater_exact",
    "prob_vs_control_quadrature",
    "proportional_odds_log_posterior",
    "proportional_odds_posterior",
    "rejection_region",
    "two_proportion_z",
]
