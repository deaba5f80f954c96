"""Study-specific computations, tables and figures (one module per study; ``docs/studies/<name>.md`` say what each
answers). The pipeline calls :func:`write_study_outputs` after the generic report when the run config has a
``study`` mapping (``study.kind`` picks the study); :func:`validate_study` checks that mapping before any work.
"""

from ._cytosorb import cytosorb_course as cytosorb_course
from ._cytosorb import ventilated_at_randomisation as ventilated_at_randomisation
from ._endpoints import immune_dysfunction_reversal as immune_dysfunction_reversal
from ._endpoints import sofa_response as sofa_response
from ._endpoints import superinfection_by as superinfection_by
from ._fisher import fisher_two_sided as fisher_two_sided
from ._immunosep import IMMUNOSEP_QUANTITIES as IMMUNOSEP_QUANTITIES
from ._immunosep import PUBLISHED as PUBLISHED
from ._immunosep import Quantity as Quantity
from ._immunosep import final_analysis_design as final_analysis_design
from ._immunosep import immunosep_table as immunosep_table
from ._registry import STUDY_KINDS as STUDY_KINDS
from ._registry import prepare_study_table as prepare_study_table
from ._registry import study_settings as study_settings
from ._registry import validate_study as validate_study
from ._registry import write_study_outputs as write_study_outputs

__all__ = [
    "IMMUNOSEP_QUANTITIES",
    "PUBLISHED",
    "Quantity",
    "STUDY_KINDS",
    "cytosorb_course",
    "final_analysis_design",
    "fisher_two_sided",
    "immune_dysfunction_reversal",
    "immunosep_table",
    "prepare_study_table",
    "sofa_response",
    "study_settings",
    "superinfection_by",
    "validate_study",
    "ventilated_at_randomisation",
    "write_study_outputs",
]
