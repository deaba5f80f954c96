"""Immunotherapies: one module per drug family (regimen -> PK -> PD, safety hazards)."""

from ._anakinra import Anakinra as Anakinra
from ._checkpoint import AntiPD1 as AntiPD1
from ._checkpoint import AntiPDL1 as AntiPDL1
from ._gm_csf import GMCSF as GMCSF
from ._immunoglobulin import IgMEnrichedIVIG as IgMEnrichedIVIG
from ._immunoglobulin import PolyclonalIVIG as PolyclonalIVIG
from ._interferon_gamma import InterferonGamma as InterferonGamma
from ._interleukin7 import Interleukin7 as Interleukin7
from ._therapy import AbstractTherapy as AbstractTherapy
from ._thymosin import ThymosinAlpha1 as ThymosinAlpha1
from ._ulinastatin import Ulinastatin as Ulinastatin
from ._vancomycin import Vancomycin as Vancomycin

__all__ = [
    "GMCSF",
    "AbstractTherapy",
    "Anakinra",
    "AntiPD1",
    "AntiPDL1",
    "IgMEnrichedIVIG",
    "InterferonGamma",
    "Interleukin7",
    "PolyclonalIVIG",
    "ThymosinAlpha1",
    "Ulinastatin",
    "Vancomycin",
]

THERAPIES = {
    cls.name: cls
    for cls in (
        Anakinra,
        InterferonGamma,
        GMCSF,
        Interleukin7,
        ThymosinAlpha1,
        AntiPD1,
        AntiPDL1,
        PolyclonalIVIG,
        IgMEnrichedIVIG,
        Ulinastatin,
        Vancomycin,
    )
}
