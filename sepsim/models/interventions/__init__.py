"""Interventions acting on the virtual patient: immunotherapies (PK/PD, safety) and extracorporeal adsorbers.

Every arm implements :class:`AbstractArm` (``init_state``, ``rhs -> (dz, Effects)``, ``jump_times``,
``drug_concentrations``, ``hazards``); see ``README.md`` beside this file.
"""

from .._arms import AbstractArm as AbstractArm
from .._arms import Placebo as Placebo
from ._arm import Combination as Combination
from ._base import combine_effects as combine_effects
from ._config import arm_from_config as arm_from_config
from ._safety import HazardIntegrals as HazardIntegrals
from ._safety import hazard_names as hazard_names
from ._schedule import DoseSchedule as DoseSchedule
from ._schedule import Windows as Windows
from .adsorbers import (
    AN69ST as AN69ST,
)
from .adsorbers import (
    HVHF as HVHF,
)
from .adsorbers import (
    PMMA as PMMA,
)
from .adsorbers import (
    AbstractAdsorber as AbstractAdsorber,
)
from .adsorbers import (
    CytoSorb as CytoSorb,
)
from .adsorbers import (
    OXiris as OXiris,
)
from .adsorbers import (
    Toraymyxin as Toraymyxin,
)
from .therapies import (
    GMCSF as GMCSF,
)
from .therapies import (
    AbstractTherapy as AbstractTherapy,
)
from .therapies import (
    Anakinra as Anakinra,
)
from .therapies import (
    AntiPD1 as AntiPD1,
)
from .therapies import (
    AntiPDL1 as AntiPDL1,
)
from .therapies import (
    IgMEnrichedIVIG as IgMEnrichedIVIG,
)
from .therapies import (
    InterferonGamma as InterferonGamma,
)
from .therapies import (
    Interleukin7 as Interleukin7,
)
from .therapies import (
    PolyclonalIVIG as PolyclonalIVIG,
)
from .therapies import (
    ThymosinAlpha1 as ThymosinAlpha1,
)
from .therapies import (
    Ulinastatin as Ulinastatin,
)
from .therapies import (
    Vancomycin as Vancomycin,
)

__all__ = [
    "AN69ST",
    "GMCSF",
    "HVHF",
    "HazardIntegrals",
    "PMMA",
    "AbstractAdsorber",
    "AbstractArm",
    "AbstractTherapy",
    "Anakinra",
    "AntiPD1",
    "AntiPDL1",
    "Combination",
    "CytoSorb",
    "DoseSchedule",
    "IgMEnrichedIVIG",
    "InterferonGamma",
    "Interleukin7",
    "OXiris",
    "Placebo",
    "PolyclonalIVIG",
    "ThymosinAlpha1",
    "Toraymyxin",
    "Ulinastatin",
    "Vancomycin",
    "Windows",
    "arm_from_config",
    "combine_effects",
    "hazard_names",
]
