"""Virtual patients: population model, immune/cytokine dynamics, therapies, adsorbers, outcomes.

The virtual septic patient (README_patient.md): :func:`patient_rhs` (pure JAX right-hand side, hours),
:func:`simulate_cohort` (covariates, parameters, common random numbers) and :func:`simulate_outcomes`
(every patient under every arm, clinical read-outs as an xarray Dataset).
"""

from ._arms import AbstractArm as AbstractArm
from ._arms import ConstantEffectArm as ConstantEffectArm
from ._arms import LabelledArm as LabelledArm
from ._arms import Placebo as Placebo
from ._arms import combined_rhs as combined_rhs
from ._behaviours import BEHAVIOURS as BEHAVIOURS
from ._cohort import CohortConfig as CohortConfig
from ._cohort import simulate_cohort as _simulate_cohort
from ._course import ACUTE_DAYS as ACUTE_DAYS
from ._course import post_acute_cumhaz as post_acute_cumhaz
from ._effects import Clearances as Clearances
from ._effects import Covariates as Covariates
from ._effects import Effects as Effects
from ._effects import Mediators as Mediators
from ._outcomes import ENDOTYPES as ENDOTYPES
from ._outcomes import FERRITIN_MALS as FERRITIN_MALS
from ._outcomes import HLA_DR_IP as HLA_DR_IP
from ._outcomes import classify_endotype as classify_endotype
from ._outcomes import daily_state_names as daily_state_names
from ._outcomes import simulate_outcomes as simulate_outcomes
from ._params import PatientParams as PatientParams
from ._params import load_parameter_specs as load_parameter_specs
from ._params import reference_params as reference_params
from ._patient_rhs import N_PHYSIOLOGICAL as N_PHYSIOLOGICAL
from ._patient_rhs import N_STATES as N_STATES
from ._patient_rhs import STATE_NAMES as STATE_NAMES
from ._patient_rhs import STATE_UNITS as STATE_UNITS
from ._patient_rhs import initial_state as initial_state
from ._patient_rhs import patient_rhs as patient_rhs
from ._patient_rhs import to_physical as to_physical
from ._platform_endotypes import PLATFORM_ENDOTYPES as PLATFORM_ENDOTYPES
from ._platform_endotypes import classify_platform_endotype as classify_platform_endotype
from ._precision import float64_by_default as _float64_by_default
from ._solve import PatientSolution as PatientSolution
from ._solve import SolverConfig as SolverConfig
from ._solve import make_batch_solver as make_batch_solver
from ._solve import solve_patient as solve_patient

# float64 whatever the caller's JAX setting (README_patient.md, "Precision"); simulate_outcomes takes `precision=`
simulate_cohort = _float64_by_default(_simulate_cohort)

__all__ = [
    "ACUTE_DAYS",
    "AbstractArm",
    "BEHAVIOURS",
    "Clearances",
    "CohortConfig",
    "ConstantEffectArm",
    "Covariates",
    "ENDOTYPES",
    "FERRITIN_MALS",
    "HLA_DR_IP",
    "Effects",
    "LabelledArm",
    "Mediators",
    "N_PHYSIOLOGICAL",
    "N_STATES",
    "PatientParams",
    "PLATFORM_ENDOTYPES",
    "PatientSolution",
    "Placebo",
    "STATE_NAMES",
    "STATE_UNITS",
    "SolverConfig",
    "classify_endotype",
    "classify_platform_endotype",
    "combined_rhs",
    "initial_state",
    "load_parameter_specs",
    "make_batch_solver",
    "patient_rhs",
    "post_acute_cumhaz",
    "reference_params",
    "simulate_cohort",
    "simulate_outcomes",
    "daily_state_names",
    "solve_patient",
    "to_physical",
]
