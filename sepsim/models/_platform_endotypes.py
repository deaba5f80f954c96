"""Biomarker strata of a precision-immunotherapy platform, beyond ImmunoSep's two (study ``platform``).

Rule, in this order (the first that holds), on the screening values (``screen_<biomarker>`` of the outcome table):

1. **MALS**: ferritin > 4420 ng/mL (ImmunoSep, calibration_targets.yaml IS-04).
2. **IL-6-hyperinflamed**: IL-6 > 530 pg/mL: the median IL-6 of non-survivors at ICU admission
   (mechanistic_models.md, "IL-6 in sepsis": 413 survivors vs 530 pg/mL non-survivors) [U: as a cut-off].
3. **immunoparalysis**: mHLA-DR < 5000 AB/C (IS-04).
4. **lymphopenic**: absolute lymphocyte count <= 1.1 x 10^3/uL (the anti-PD-1 nivolumab phase 1b inclusion
   criterion ALC <= 1100/uL, calibration_targets.yaml CP-02).
5. **unclassified**: none of these.

The order puts hyper-inflammation before immunosuppression, as ImmunoSep puts MALS before immunoparalysis when both
hold (IS-04) [U: the order among the added strata].
"""

from __future__ import annotations

from typing import Any

import numpy as np
from jaxtyping import Int

from ._outcomes import FERRITIN_MALS, HLA_DR_IP

__all__ = ["PLATFORM_ENDOTYPES", "PLATFORM_CUTOFFS", "classify_platform_endotype"]

PLATFORM_ENDOTYPES = ("unclassified", "MALS", "IL6_hyperinflamed", "immunoparalysis", "lymphopenic")
PLATFORM_CUTOFFS = {
    "ferritin": FERRITIN_MALS,  # ng/mL, above: MALS [V IS-04]
    "il6": 530.0,  # pg/mL, above: IL-6-hyperinflamed [U; non-survivor median at ICU admission, see module doc]
    "hla_dr": HLA_DR_IP,  # AB/C, below: immunoparalysis [V IS-04]
    "lymphocytes": 1.1,  # 10^3/uL, at or below: lymphopenic [V CP-02 inclusion]
}


def classify_platform_endotype(
    ferritin: Any, il6: Any, hla_dr: Any, lymphocytes: Any, cutoffs: dict[str, float] | None = None
) -> Int[np.ndarray, "*patient"]:
    """Integer code into :data:`PLATFORM_ENDOTYPES` per patient (first rule that holds; module doc)."""
    c = {**PLATFORM_CUTOFFS, **(cutoffs or {})}
    ferritin, il6, hla_dr, lymphocytes = (np.asarray(x, dtype=np.float64) for x in (ferritin, il6, hla_dr, lymphocytes))
    code = np.zeros(np.broadcast(ferritin, il6, hla_dr, lymphocytes).shape, dtype=np.int8)
    for value, rule in (
        (4, lymphocytes <= c["lymphocytes"]),
        (3, hla_dr < c["hla_dr"]),
        (2, il6 > c["il6"]),
        (1, ferritin > c["ferritin"]),
    ):  # lowest priority first: a later (higher-priority) rule overwrites
        code = np.where(rule, value, code).astype(np.int8)
    return code
