"""Extracorporeal blood purification devices, one module per device family."""

from ._cytosorb import CytoSorb as CytoSorb
from ._cytosorb import cytosorb_changes as cytosorb_changes
from ._device import MEDIATORS as MEDIATORS
from ._device import AbstractAdsorber as AbstractAdsorber
from ._hvhf import HVHF as HVHF
from ._membranes import AN69ST as AN69ST
from ._membranes import PMMA as PMMA
from ._membranes import OXiris as OXiris
from ._toraymyxin import Toraymyxin as Toraymyxin

__all__ = [
    "AN69ST",
    "HVHF",
    "MEDIATORS",
    "PMMA",
    "AbstractAdsorber",
    "CytoSorb",
    "OXiris",
    "Toraymyxin",
    "cytosorb_changes",
]

ADSORBERS = {cls.name: cls for cls in (CytoSorb, OXiris, Toraymyxin, PMMA, AN69ST, HVHF)}
