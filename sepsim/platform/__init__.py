"""Trial engine: designs, allocation rules, analyses, stopping rules, operating characteristics.

Public surface: build a :class:`PotentialOutcomes` table (:func:`binary_scenario`, :func:`normal_scenario`,
:func:`from_dataset`), describe a
:class:`TrialDesign` (or a dict for :func:`design_from_dict`), and call :func:`run_trials`.
"""

from ._allocation.base import AbstractAllocationRule as AbstractAllocationRule
from ._allocation.base import AllocationInputs as AllocationInputs
from ._allocation.base import apply_limits as apply_limits
from ._allocation.factory import make_allocation_rule as make_allocation_rule
from ._allocation.fixed import FixedAllocation as FixedAllocation
from ._allocation.sqrt_control import SqrtControlAllocation as SqrtControlAllocation
from ._allocation.thall_wathen import ThallWathenAllocation as ThallWathenAllocation
from ._allocation.thompson import ThompsonAllocation as ThompsonAllocation
from ._allocation.trippa import TrippaAllocation as TrippaAllocation
from ._analysis.base import AbstractAnalysis as AbstractAnalysis
from ._analysis.base import AnalysisNeeds as AnalysisNeeds
from ._analysis.binary import BetaBinomialAnalysis as BetaBinomialAnalysis
from ._analysis.binary import LookProbabilities as LookProbabilities
from ._analysis.frequentist import FrequentistAnalysis as FrequentistAnalysis
from ._analysis.frequentist import efficacy_bounds as efficacy_bounds
from ._analysis.normal import NormalAnalysis as NormalAnalysis
from ._design.design import AllocationConfig as AllocationConfig
from ._design.design import AnalysisConfig as AnalysisConfig
from ._design.design import DomainConfig as DomainConfig
from ._design.design import EligibilityRule as EligibilityRule
from ._design.design import EnrolmentConfig as EnrolmentConfig
from ._design.design import StoppingConfig as StoppingConfig
from ._design.design import StreamDriftConfig as StreamDriftConfig
from ._design.design import TrialDesign as TrialDesign
from ._design.design import design_from_dict as design_from_dict
from ._design.design import design_schema as design_schema
from ._design.design import domain_combinations as domain_combinations
from ._engine.patient_log import patient_log as patient_log
from ._engine.run import plan_trials as plan_trials
from ._engine.run import run_trials as run_trials
from ._operating.calibrate import CalibrationResult as CalibrationResult
from ._operating.calibrate import calibrate_threshold as calibrate_threshold
from ._operating.domains import domain_operating_characteristics as domain_operating_characteristics
from ._operating.trials import check_selection as check_selection
from ._operating.trials import operating_characteristics as operating_characteristics
from ._outcomes.scenario import factorial_rates as factorial_rates
from ._outcomes.scenario import outcomes_from_scenario as outcomes_from_scenario
from ._outcomes.table import PotentialOutcomes as PotentialOutcomes
from ._outcomes.table import binary_scenario as binary_scenario
from ._outcomes.table import from_dataset as from_dataset
from ._outcomes.table import normal_scenario as normal_scenario
from ._outcomes.table import ordinal_scenario as ordinal_scenario
from ._results.codes import ArmDecision as ArmDecision
from ._results.codes import TrialOutcome as TrialOutcome
from .stats import group_sequential_bounds as group_sequential_bounds
from .stats._posterior_binary import prob_all_equivalent_draws as prob_all_equivalent_draws
from .stats._posterior_binary import prob_all_equivalent_quadrature as prob_all_equivalent_quadrature
from .stats._posterior_binary import prob_best_draws as prob_best_draws
from .stats._posterior_binary import prob_best_quadrature as prob_best_quadrature
from .stats._posterior_binary import prob_greater_exact as prob_greater_exact
from .stats._posterior_binary import prob_vs_control_quadrature as prob_vs_control_quadrature

__all__ = [
    "AbstractAllocationRule",
    "AbstractAnalysis",
    "AnalysisNeeds",
    "ArmDecision",
    "AllocationConfig",
    "AllocationInputs",
    "AnalysisConfig",
    "BetaBinomialAnalysis",
    "CalibrationResult",
    "DomainConfig",
    "EligibilityRule",
    "EnrolmentConfig",
    "FixedAllocation",
    "FrequentistAnalysis",
    "LookProbabilities",
    "NormalAnalysis",
    "PotentialOutcomes",
    "StreamDriftConfig",
    "SqrtControlAllocation",
    "StoppingConfig",
    "ThallWathenAllocation",
    "ThompsonAllocation",
    "TrialDesign",
    "TrialOutcome",
    "TrippaAllocation",
    "apply_limits",
    "binary_scenario",
    "calibrate_threshold",
    "design_from_dict",
    "design_schema",
    "domain_combinations",
    "efficacy_bounds",
    "factorial_rates",
    "from_dataset",
    "group_sequential_bounds",
    "make_allocation_rule",
    "normal_scenario",
    "operating_characteristics",
    "check_selection",
    "outcomes_from_scenario",
    "domain_operating_characteristics",
    "ordinal_scenario",
    "patient_log",
    "plan_trials",
    "prob_all_equivalent_draws",
    "prob_all_equivalent_quadrature",
    "prob_best_draws",
    "prob_best_quadrature",
    "prob_greater_exact",
    "prob_vs_control_quadrature",
    "run_trials",
]
