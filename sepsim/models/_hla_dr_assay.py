"""Monocyte HLA-DR as % HLA-DR+ monocytes and as MFI, from the model's AB/C: one calibrated conversion.

No published equation relates the three read-outs (clinical_course.md 6 [U]); this is a calibrated conversion,
built as follows and set from the anchors below (not transferable between laboratories).

* **Per-cell expression.** The QuantiBRITE AB/C is read at the geometric mean fluorescence of the monocyte gate
  (clinical_course.md 6 [V]), so a patient with AB/C ``H`` is taken to have per-monocyte HLA-DR lognormal with
  median ``H`` and log-sd :data:`LOG_SD` [U: lognormal shape].
* **% HLA-DR+** = share of monocytes above a positivity gate :data:`GATE_ABC` (AB/C):
  ``100 Phi((ln H - ln GATE_ABC) / LOG_SD)``. It saturates towards 100% in health and is non-linear in ``H``.
* **MFI** = ``H / ABC_PER_MFI``: fluorescence is proportional to bound antibody (the QuantiBRITE calibration line
  has slope ~1 on log-log axes, clinical_course.md 6 [V]); MFI is in the instrument units of the anchor study only.

Anchors (the constants are solved from them in closed form, :func:`conversion_constants`):

1. Immunoparalysis before IFN-gamma: 27% HLA-DR+ (Kox 1997, brief 4, IP-09 [V]) <-> 2,666 AB/C (Payen 2019,
   brief 4, IP-11 [V]): two IFN-gamma studies of immunoparalysed patients, matched at baseline [D].
2. Health saturates near 100% (clinical_course.md 6 [U]): 95% HLA-DR+ [U] at 20,000 AB/C, the model's healthy
   reference ``h0`` (>= 15,000 lower limit of immunocompetence, PMC9942705 [V]).
3. MFI 14 <-> 40% HLA-DR+ in septic shock (clinical_course.md 6 [V]): fixes the MFI scale.

Prediction, not fitted: Payen's post-treatment 12,451 AB/C converts to 87% HLA-DR+, against Kox's 62% after
IFN-gamma (the conversion of group averages is not exact: a mean % over patients is flatter than the per-patient
curve). 30% HLA-DR+ (a classical immunoparalysis cut-off [U]) converts to ~2,900 AB/C.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from jaxtyping import Float
from scipy.special import ndtr, ndtri

__all__ = [
    "HLA_DR_ANCHORS",
    "HLADRConversion",
    "conversion_constants",
    "HLA_DR_CONVERSION",
    "hla_dr_percent_positive",
    "hla_dr_mfi",
    "abc_from_percent_positive",
]


class HLADRConversion(NamedTuple):
    """Constants of the conversion: per-cell log-sd, positivity gate (AB/C), AB/C per MFI unit."""

    log_sd: float
    gate_abc: float
    abc_per_mfi: float


# (AB/C, fraction HLA-DR+) pairs and (MFI, fraction HLA-DR+): sources in the module docstring
HLA_DR_ANCHORS = {
    "immunoparalysis": (2666.0, 0.27),  # Payen 2019 AB/C [V] <-> Kox 1997 % [V], IFN-gamma baselines [D]
    "health": (20000.0, 0.95),  # healthy reference h0 [V] <-> near-saturation 95% [U]
    "mfi": (14.0, 0.40),  # septic shock, MFI 14 <-> 40% HLA-DR+ [V clinical_course.md 6]
}


def conversion_constants(anchors: dict[str, tuple[float, float]] = HLA_DR_ANCHORS) -> HLADRConversion:
    """Solve the three constants from the anchors (two AB/C <-> % points, one MFI <-> % point)."""
    (h1, p1), (h2, p2) = anchors["immunoparalysis"], anchors["health"]
    z1, z2 = ndtri(p1), ndtri(p2)
    log_sd = float(np.log(h2 / h1) / (z2 - z1))
    gate = float(h1 * np.exp(-z1 * log_sd))
    mfi, p3 = anchors["mfi"]
    h3 = gate * np.exp(log_sd * ndtri(p3))  # the AB/C at which p3 of monocytes are positive
    return HLADRConversion(log_sd, gate, float(h3 / mfi))


HLA_DR_CONVERSION = conversion_constants()  # log_sd 0.893, gate 4,607 AB/C, 262 AB/C per MFI unit


def hla_dr_percent_positive(abc: Float[Any, "..."], conv: HLADRConversion = HLA_DR_CONVERSION) -> np.ndarray:
    """% HLA-DR+ monocytes (0-100) at AB/C ``abc`` (NaN stays NaN)."""
    abc = np.asarray(abc, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return 100.0 * ndtr((np.log(abc) - np.log(conv.gate_abc)) / conv.log_sd)


def hla_dr_mfi(abc: Float[Any, "..."], conv: HLADRConversion = HLA_DR_CONVERSION) -> np.ndarray:
    """Monocyte HLA-DR MFI, in the arbitrary units of the anchor study (not transferable)."""
    return np.asarray(abc, dtype=np.float64) / conv.abc_per_mfi


def abc_from_percent_positive(pct: Float[Any, "..."], conv: HLADRConversion = HLA_DR_CONVERSION) -> np.ndarray:
    """Inverse of :func:`hla_dr_percent_positive`: the AB/C at which ``pct`` % of monocytes are HLA-DR+."""
    return conv.gate_abc * np.exp(conv.log_sd * ndtri(np.asarray(pct, dtype=np.float64) / 100.0))
