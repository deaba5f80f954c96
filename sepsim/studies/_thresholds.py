"""The ``thresholds`` study: the ImmunoSep endotype rule with other ferritin and mHLA-DR cut-offs and another assay
error, applied to the same virtual patients; per run the endotype mix, the harm to misclassified patients and the
trial's power, as scalars that ``sepsim-collect --artifact thresholds.nc`` merges over a sweep.

Re-classification. The outcome table holds each patient's true screening value and the measured one,
``measured = true * exp(sigma z)`` with ``sigma = sqrt(log(1 + CV^2))`` (``sepsim.models._outcomes.ASSAY_CV``:
ferritin 6%, mHLA-DR 15%); ``z`` is recovered from the pair and re-used with ``CV * assay_cv_scale`` (common random
numbers across sweep points). MALS if ferritin > ``ferritin_cutoff``; else immunoparalysis if mHLA-DR <
``hla_dr_cutoff``; else unclassified (IS-04's rule with its numbers as parameters).

Misclassification and harm. The reference endotype is IS-04's rule (4420 ng/mL, 5000 AB/C) on the true values
(``endotype_true``). An enrolled patient is misclassified when the endotype he is enrolled under differs from his
reference endotype. His harm is the effect of the therapy his stratum gives him, on his own potential outcomes:
``dead_28d(active) - dead_28d(placebo)`` (> 0: the therapy kills) and ``responder(placebo) - responder(active)``
(> 0: it takes away a SOFA response).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from ..models import ENDOTYPES
from ..models._outcomes import ASSAY_CV, FERRITIN_MALS, HLA_DR_IP

__all__ = ["reclassify", "screened_mix", "misclassification_harm"]


def _sigma(cv: float) -> float:
    return float(np.sqrt(np.log1p(cv**2)))


def _remeasure(table: xr.Dataset, biomarker: str, scale: float) -> np.ndarray:
    true = np.asarray(table[f"true_{biomarker}"].values, dtype=np.float64)
    measured = np.asarray(table[f"screen_{biomarker}"].values, dtype=np.float64)
    z = np.log(measured / true) / _sigma(ASSAY_CV[biomarker])  # the patient's standard-normal assay draw
    return true * np.exp(_sigma(scale * ASSAY_CV[biomarker]) * z)


def reclassify(
    table: xr.Dataset, *, ferritin_cutoff: float = FERRITIN_MALS, hla_dr_cutoff: float = HLA_DR_IP, assay_cv_scale=1.0
) -> xr.Dataset:
    """The table with ``screen_ferritin``, ``screen_hla_dr`` and ``endotype`` re-made under the given rule."""
    ferritin = _remeasure(table, "ferritin", assay_cv_scale)
    hla_dr = _remeasure(table, "hla_dr", assay_cv_scale)
    code = np.where(ferritin > ferritin_cutoff, 1, np.where(hla_dr < hla_dr_cutoff, 2, 0))
    out = table.copy()
    out["screen_ferritin"] = ("patient", ferritin, table["screen_ferritin"].attrs)
    out["screen_hla_dr"] = ("patient", hla_dr, table["screen_hla_dr"].attrs)
    out["endotype"] = ("patient", np.asarray(ENDOTYPES)[code].astype(str))
    return out


def screened_mix(table: xr.Dataset) -> dict[str, float]:
    """Share of the screened patients in each endotype (``share_<endotype>``) and enrolled (MALS or immunoparalysis)."""
    labels = np.asarray(table["endotype"].values).astype(str)
    out = {f"share_{e}": float((labels == e).mean()) for e in ENDOTYPES}
    out["enrolled_share"] = 1.0 - out["share_unclassified"]
    return out


def misclassification_harm(table: xr.Dataset, stratum_arms: dict[str, tuple[str, str]]) -> dict[str, float]:
    """Among the patients the trial enrols (endotype in ``stratum_arms``): the misclassified share and the mean
    effect of their assigned therapy on 28-day mortality and on the SOFA response (against correctly classified)."""
    labels = np.asarray(table["endotype"].values).astype(str)
    reference = np.asarray(table["endotype_true"].values).astype(str)
    arms = [str(a) for a in table["arm"].values]
    enrolled = np.isin(labels, list(stratum_arms))
    rows = np.flatnonzero(enrolled)
    control = [arms.index(stratum_arms[lab][0]) for lab in labels[rows]]
    active = [arms.index(stratum_arms[lab][1]) for lab in labels[rows]]
    dead = np.asarray(table["dead_28d"].transpose("patient", "arm").values, dtype=float)[rows]
    resp = np.asarray(table["responder"].transpose("patient", "arm").values, dtype=float)[rows]
    i = np.arange(rows.size)
    mortality = dead[i, active] - dead[i, control]
    response_loss = resp[i, control] - resp[i, active]
    wrong = labels[rows] != reference[rows]

    def mean(x: np.ndarray, m: np.ndarray) -> float:
        return float(x[m].mean()) if m.any() else float("nan")

    return {
        "misclassified_share": float(wrong.mean()) if rows.size else float("nan"),
        "harm_mortality_misclassified": mean(mortality, wrong),
        "harm_mortality_correct": mean(mortality, ~wrong),
        "harm_response_misclassified": mean(response_loss, wrong),
        "harm_response_correct": mean(response_loss, ~wrong),
        "excess_deaths_per_100_treated": 100.0 * float(np.where(wrong, mortality, 0.0).mean()) if rows.size else 0.0,
    }
