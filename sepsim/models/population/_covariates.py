"""Baseline covariates of a virtual septic patient, one draw per patient key, with the source of every number.

All covariates are drawn from fixed, cited distributions (they are *not* fitted: the calibration targets say
nothing about them that the sources below do not). Keys: ``fold_in(patient_key, _COVARIATE_TAG)`` so that the
pre-existing draws of ``simulate_cohort`` (parameters, weight, age, ...) are unchanged by these additions.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Key

__all__ = [
    "INFECTION_SITES",
    "NEW_COVARIATES",
    "SITE_SHARES",
    "SHOCK_BY_SITE",
    "draw_covariates",
    "site_probabilities",
]

_COVARIATE_TAG = 1_000_003

# Infection site codes (dim `patient`, int8; flag_values / flag_meanings attrs in the cohort).
INFECTION_SITES = ("CAP", "HAP", "VAP", "primary_bacteraemia", "other")
# Shares in unselected ICU sepsis. SEPSIS-ACT placebo (GC-04 [V]): lower respiratory 37%, intra-abdominal 24%,
# urinary 19%, skin/soft tissue 8%, other 12%. The split of the 37% respiratory share into CAP/HAP/VAP (22/8/7)
# and the 8% primary bacteraemia (taken out of the 'other' remainder) are [U]; ImmunoSep's own site split was not
# found (IS-21).
SITE_SHARES = np.array([0.22, 0.08, 0.07, 0.08, 0.55])
# Septic shock at baseline by site of acquisition, ICU sepsis (CCM 2021 cohort, PMC8508729 [V]; clinical_course.md
# s7): community-acquired 31.4% (CAP, primary bacteraemia, other), hospital-acquired 25.4% (HAP), ICU-acquired
# 20.3% (VAP).
SHOCK_BY_SITE = np.array([0.314, 0.254, 0.203, 0.314, 0.314])
MALE_SHARE = 0.59  # women 41.0% (CCM 2021 cohort [V]); ImmunoSep 33.7% women is unconfirmed (IS-20) -> not used
DIABETES_SHARE = 0.316  # 31.6% of 8,129 MIMIC ICU sepsis patients [V] (clinical_course.md s7)
# Charlson comorbidity index: negative binomial with mean 2.5 and dispersion 2 ("median about 2-3 with a long right
# tail" [U], clinical_course.md s7); no verified ICU-sepsis distribution table exists.
CHARLSON_MEAN, CHARLSON_DISPERSION = 2.5, 2.0
# Baseline IgG, g/L: lognormal, median 6.5 g/L, log-sd 0.35 [U]: hypogammaglobulinaemia (< 6.5 g/L) is common at
# ICU admission for sepsis (about half of septic-shock patients, Taccone et al. 2009 Crit Care 13:R168 [U recalled]);
# reference range 7-16 g/L.
IGG_MEDIAN_G_L, IGG_LOG_SD = 6.5, 0.35
# Time from Sepsis-3 onset to screening, h: uniform on [0, 48] [U]; ImmunoSep gave blinded drug within 72 h of
# Sepsis-3 classification (IS-22 [V]), so screening happens before 72 h in every virtual patient.
ONSET_TO_SCREEN_H = (0.0, 48.0)

NEW_COVARIATES = ("male", "charlson", "diabetes", "igg_g_l", "shock", "infection_site", "onset_to_screen_h")


def site_probabilities(allowed: Any = None) -> np.ndarray:
    """Site shares, renormalised over the ``allowed`` site codes (all sites when None)."""
    p = SITE_SHARES.copy()
    if allowed is not None:
        mask = np.zeros(len(p), bool)
        mask[np.asarray(list(allowed), dtype=int)] = True
        p = np.where(mask, p, 0.0)
    return p / p.sum()


def draw_covariates(key: Key[Array, ""], site_logits: Float[Array, " site"]) -> dict[str, Any]:
    """One patient's new covariates from its key (``vmap`` over patients).

    ``site_logits``: log site probabilities (``log(site_probabilities(...))``; -inf for excluded sites). Drawing
    the site from a restricted distribution is exact conditioning on the site inclusion criterion, since no other
    covariate is drawn before it.
    """
    k = jax.random.split(jax.random.fold_in(key, _COVARIATE_TAG), 7)
    site = jax.random.categorical(k[0], site_logits)
    shock = jax.random.bernoulli(k[1], jnp.asarray(SHOCK_BY_SITE)[site])
    male = jax.random.bernoulli(k[2], MALE_SHARE)
    diabetes = jax.random.bernoulli(k[3], DIABETES_SHARE)
    # negative binomial as a gamma-Poisson mixture
    rate = jax.random.gamma(k[4], CHARLSON_DISPERSION) * (CHARLSON_MEAN / CHARLSON_DISPERSION)
    charlson = jax.random.poisson(jax.random.fold_in(k[4], 1), rate)
    igg = IGG_MEDIAN_G_L * jnp.exp(IGG_LOG_SD * jax.random.normal(k[5], ()))
    onset = jax.random.uniform(k[6], (), minval=ONSET_TO_SCREEN_H[0], maxval=ONSET_TO_SCREEN_H[1])
    return {
        "infection_site": site,
        "shock": shock,
        "male": male,
        "diabetes": diabetes,
        "charlson": charlson,
        "igg_g_l": igg,
        "onset_to_screen_h": onset,
    }
