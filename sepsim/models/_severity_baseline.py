"""APACHE II and SAPS II at baseline, from the model's organ state, the covariates and imputed physiology.

An observation model: the scores (``_severity_scores.py``, exact tables) need physiology the patient model does
not carry. Each input comes from one of three places, per patient (randomisation precedes every arm's action, so
the scores are the same under every arm); the organ state at randomisation ``O(0)`` stands for the worst
first-24-h state [U].

**From the organ state, a stated mapping.** ``O(0)`` minus the coagulation component (exact SOFA points of the
``platelets`` covariate, clinical_course.md 1 [V]) is spread evenly over the patient's involved organs, each
component capped at 4 [U: even split]. Involvement: cardiovascular and respiratory from the organ-support
observation model (``_support_kinds.py``: 88.5% / 80.4%, Dutch severe sepsis [V]), renal 23.7% (same cohort [V]),
hepatic 10% and CNS 20% [U]. A component ``c`` (0-4, continuous) maps to a value by linear interpolation through
the midpoints of the SOFA bands (clinical_course.md 1 [V], Vincent 1996; :data:`SOFA_BAND_VALUES`): PaO2/FiO2,
creatinine, urine output, bilirubin, GCS (rounded). MAP: 80 mmHg without cardiovascular involvement, 65 (SOFA 1:
MAP < 70) when involved without a vasopressor, 55 with a vasopressor on day 0 [U: worst MAP before or despite
vasopressors]; systolic = MAP + 30 mmHg [U]. Ventilated = invasive ventilation on day 0 (``_support_kinds``); FiO2
0.6 ventilated, 0.35 otherwise [U]; PaO2 = PaO2/FiO2 x FiO2; A-aDO2 = FiO2 (760 - 47) - PaCO2/0.8 - PaO2 with
PaCO2 40 mmHg [U]. Acute renal failure (APACHE doubling) = renal component >= 2 [U].

**From the covariates.** Age; haematocrit (fraction -> %); chronic health: APACHE II's 5 points when
``charlson >= 5`` [U: severe organ insufficiency or immunocompromise at a high Charlson index], SAPS II's metastatic
cancer 9 points when ``charlson >= 6`` (Charlson weight of a metastatic solid tumour, 6 [U]); admission medical
(SAPS II 6 points, APACHE II non-operative) [U: sepsis trials enrol mostly medical patients].

**Imputed**, one draw per patient (own common random numbers): temperature, heart and respiratory rate, pH,
bicarbonate, sodium, potassium, WBC, BUN from :data:`IMPUTED` [U: typical values at ICU admission with sepsis; no
cited distribution in the science briefs], independent of each other and of ``O`` [U].
"""

from __future__ import annotations

import zlib
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Key

from .._keys import item_keys
from ._severity_scores import apache_ii, apache_ii_aps, apache_ii_pred_mortality, saps_ii, saps_ii_pred_mortality

__all__ = [
    "IMPUTED",
    "MISSING_SCORE",
    "ORGAN_SHARES",
    "SOFA_BAND_VALUES",
    "SeverityScores",
    "coagulation_points",
    "organ_components",
    "severity_draws",
    "baseline_severity",
]

MISSING_SCORE = -1  # APACHE II / SAPS II of a patient whose baseline organ state is unknown (failed solve)
# (name, distribution, centre, spread) per patient [U]: normal (mean, sd) or lognormal (median, log-sd)
IMPUTED = (
    ("temp_c", "normal", 38.2, 1.0),
    ("heart_rate", "normal", 108.0, 20.0),
    ("resp_rate", "normal", 24.0, 6.0),
    ("ph", "normal", 7.33, 0.08),
    ("bicarbonate", "normal", 20.0, 4.0),
    ("sodium", "normal", 138.0, 5.0),
    ("potassium", "normal", 4.0, 0.6),
    ("wbc", "lognormal", 12.0, 0.6),
    ("bun_mg_dl", "lognormal", 35.0, 0.6),
)
# probability that an organ carries part of O: renal 23.7% (Dutch severe sepsis [V]), hepatic and CNS [U]
ORGAN_SHARES = {"renal": 0.237, "hepatic": 0.10, "cns": 0.20}
# value at SOFA component 0, 1, 2, 3, 4: midpoints of the bands (clinical_course.md 1 [V]); urine: component 3-4
# only by oliguria (< 500, < 200 mL/d), otherwise normal output [U]
SOFA_BAND_VALUES = {
    "pf_ratio": (450.0, 350.0, 250.0, 150.0, 75.0),
    "creatinine_mg_dl": (0.9, 1.55, 2.7, 4.2, 6.0),
    "urine_ml_d": (1500.0, 1500.0, 1500.0, 350.0, 150.0),
    "bilirubin_mg_dl": (0.8, 1.55, 3.95, 8.95, 15.0),
    "gcs": (15.0, 13.5, 11.0, 7.5, 4.5),
}
_TAG = zlib.crc32(b"observe:severity") & 0x7FFFFFFF


class SeverityScores(NamedTuple):
    """Per patient: APACHE II (points), its predicted hospital mortality, SAPS II (points), its predicted mortality."""

    apache_ii: np.ndarray
    apache_ii_pred_mortality: np.ndarray
    saps_ii: np.ndarray
    saps_ii_pred_mortality: np.ndarray


def coagulation_points(platelets: Any) -> np.ndarray:
    """SOFA coagulation component from platelets (10^3/uL): < 150: 1, < 100: 2, < 50: 3, < 20: 4 [V]."""
    return np.asarray((0, 4, 3, 2, 1, 0))[np.digitize(np.asarray(platelets, np.float64), (0, 20, 50, 100, 150))]


def severity_draws(key: Key[Array, ""], patients: np.ndarray) -> Float[np.ndarray, "patient draw"]:
    """Per global patient index: 3 uniforms (renal, hepatic, CNS involvement) and one standard normal per
    :data:`IMPUTED` variable, the same under every arm."""

    def one(k: Any) -> Any:
        ku, kz = jax.random.split(k)
        return jnp.concatenate([jax.random.uniform(ku, (3,)), jax.random.normal(kz, (len(IMPUTED),))])

    return np.asarray(jax.vmap(one)(item_keys(jax.random.fold_in(key, _TAG), patients)))


def organ_components(
    o0: Any, platelets: Any, involved: dict[str, np.ndarray]
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """``(coagulation points, {organ: component})``: ``O(0)`` minus coagulation, spread evenly over the organs with
    ``involved[organ]`` true, each capped at 4 (0 for an organ not involved)."""
    coag = coagulation_points(platelets)
    n = sum(np.asarray(v, float) for v in involved.values())
    share = np.where(n > 0, np.maximum(np.asarray(o0, np.float64) - coag, 0.0) / np.maximum(n, 1.0), 0.0)
    return coag, {k: np.where(v, np.minimum(share, 4.0), 0.0) for k, v in involved.items()}


def _band_value(name: str, component: np.ndarray) -> np.ndarray:
    return np.interp(component, np.arange(5.0), np.asarray(SOFA_BAND_VALUES[name]))


def baseline_severity(
    o0: Float[np.ndarray, " patient"],
    covariates: dict[str, np.ndarray],
    cardiovascular: np.ndarray,
    respiratory: np.ndarray,
    vasopressor_d0: np.ndarray,
    ventilated_d0: np.ndarray,
    draws: Float[np.ndarray, "patient draw"],
) -> SeverityScores:
    """APACHE II, SAPS II and their predicted mortality per patient (module docstring: the observation model).

    ``covariates``: ``age``, ``platelets``, ``hematocrit`` (fraction), ``charlson`` per patient. A patient whose
    ``o0`` is not finite (a failed solve) gets scores :data:`MISSING_SCORE` and NaN predicted mortality.
    """
    known = np.isfinite(o0)
    o0 = np.where(known, o0, 0.0)  # scored on a placeholder, then masked
    u, z = draws[:, :3], draws[:, 3:]
    involved = {"cardiovascular": np.asarray(cardiovascular, bool), "respiratory": np.asarray(respiratory, bool)}
    involved |= {k: u[:, j] < p for j, (k, p) in enumerate(ORGAN_SHARES.items())}
    _, comp = organ_components(o0, covariates["platelets"], involved)
    x = {
        name: (c + s * z[:, j]) if dist == "normal" else c * np.exp(s * z[:, j])
        for j, (name, dist, c, s) in enumerate(IMPUTED)
    }
    pf = _band_value("pf_ratio", comp["respiratory"])
    creat = _band_value("creatinine_mg_dl", comp["renal"])
    urine = _band_value("urine_ml_d", comp["renal"])
    bili = _band_value("bilirubin_mg_dl", comp["hepatic"])
    gcs = np.round(_band_value("gcs", comp["cns"])).astype(np.int64)
    map_mmhg = np.where(
        vasopressor_d0, 55.0, np.where(involved["cardiovascular"] & (comp["cardiovascular"] >= 1), 65.0, 80.0)
    )
    vent = np.asarray(ventilated_d0, bool)
    fio2 = np.where(vent, 0.6, 0.35)
    pao2 = pf * fio2
    aado2 = fio2 * (760.0 - 47.0) - 40.0 / 0.8 - pao2
    charlson = np.asarray(covariates["charlson"])
    aps = apache_ii_aps(
        x["temp_c"], map_mmhg, x["heart_rate"], x["resp_rate"], fio2, pao2, aado2, x["ph"], x["sodium"],
        x["potassium"], creat, comp["renal"] >= 2, 100.0 * np.asarray(covariates["hematocrit"]), x["wbc"], gcs,
    )  # fmt: skip
    apache = apache_ii(aps, covariates["age"], charlson >= 5)
    saps = saps_ii(
        covariates["age"], x["heart_rate"], map_mmhg + 30.0, x["temp_c"], vent, pf, urine, x["bun_mg_dl"],
        x["wbc"], x["potassium"], x["sodium"], x["bicarbonate"], bili, gcs, np.where(charlson >= 6, 9, 0), 6,
    )  # fmt: skip
    return SeverityScores(
        np.where(known, apache, MISSING_SCORE).astype(np.int16),
        np.where(known, apache_ii_pred_mortality(apache), np.nan),
        np.where(known, saps, MISSING_SCORE).astype(np.int16),
        np.where(known, saps_ii_pred_mortality(saps), np.nan),
    )
