"""The one analysis factory (:func:`make_analysis`): the analysis object of a design, every kind; for the
log-odds-effect models (proportional odds, logistic, hierarchical) it checks that the outcome table fits the model."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..._errors import ConfigError
from .._design.design import TrialDesign
from .._design.plan import Plan
from .._outcomes.table import PotentialOutcomes
from .base import AbstractAnalysis
from .binary import BetaBinomialAnalysis
from .effects import EffectsAnalysis
from .frequentist import FrequentistAnalysis
from .hierarchical import HierarchicalAnalysis
from .logistic import LogisticAnalysis
from .normal import NormalAnalysis
from .ordinal import ProportionalOddsAnalysis, ordinal_categories

__all__ = ["EFFECT_MODELS", "make_analysis", "effects_analysis", "effects_tables"]

EFFECT_MODELS = ("proportional_odds", "logistic", "hierarchical")


def make_analysis(design: TrialDesign, plan: Plan, outcomes: PotentialOutcomes | None = None) -> AbstractAnalysis:
    """The one analysis factory: the engine-side analysis object for ``design.analysis`` (every kind)."""
    an, st = design.analysis, design.stopping
    if an.method == "frequentist":
        return _frequentist(design, plan)
    if an.model in EFFECT_MODELS:
        if outcomes is None:
            raise ValueError(f"analysis.model {an.model!r} needs the outcome table")
        return effects_analysis(design, plan, outcomes)
    if an.model == "normal":
        return NormalAnalysis(
            higher_is_better=bool(design.higher_is_better),
            prior_mean=float(an.prior_mean),
            prior_kappa=float(an.prior_kappa),
            prior_shape=float(an.prior_shape),
            prior_rate=float(an.prior_rate),
            equivalence_margin=float(st.equivalence_margin or 0.0),
            futility_margin=float(st.futility_margin or 0.0),
        )
    return BetaBinomialAnalysis(
        higher_is_better=bool(design.higher_is_better),
        method=an.method,
        n_grid=int(an.n_grid),
        n_draws=int(an.n_draws),
        prior_a=float(an.prior_a),
        prior_b=float(an.prior_b),
        equivalence_margin=float(st.equivalence_margin or 0.0),
        futility_margin=float(st.futility_margin or 0.0),
        need_control=plan.control >= 0 or design.allocation.rule == "trippa",
        need_all_equivalent=plan.control < 0 and st.equivalence_prob is not None,
        control_arm=plan.control,
    )


def _frequentist(design: TrialDesign, plan: Plan) -> FrequentistAnalysis:
    an = design.analysis
    return FrequentistAnalysis(
        higher_is_better=bool(design.higher_is_better),
        test=an.test,
        model=an.model,
        n_max=int(plan.n_max),
        control_arm=plan.control,
        has_futility=an.futility_z is not None,
    )


def _columns(design: TrialDesign, outcomes: PotentialOutcomes) -> np.ndarray:
    cols = [outcomes.arms.index(a) for a in design.arms]
    return np.asarray(outcomes.outcome)[:, cols]


def effects_analysis(design: TrialDesign, plan: Plan, outcomes: PotentialOutcomes) -> EffectsAnalysis:
    """The analysis object for ``design.analysis.model`` in ``EFFECT_MODELS``."""
    an, st = design.analysis, design.stopping
    common: dict[str, Any] = dict(
        higher_is_better=bool(design.higher_is_better),
        method=an.method,
        n_draws=int(an.n_draws),
        equivalence_margin=float(st.equivalence_margin or 0.0),
        futility_margin=float(st.futility_margin or 0.0),
        control_arm=plan.control,
        prior_sd=float(an.prior_sd),
    )
    y = _columns(design, outcomes)
    if an.model == "proportional_odds":
        return ProportionalOddsAnalysis(n_categories=ordinal_categories(an.n_categories, y), **common)
    if not np.all((y == 0) | (y == 1)):
        i, a = np.argwhere((y != 0) & (y != 1))[0]
        raise ConfigError(
            "design.analysis.model", f"{an.model!r} needs a binary (0/1) outcome table; patient {i} has {y[i, a]!r}"
        )
    if an.model == "logistic":
        return LogisticAnalysis(n_covariates=len(an.covariates or []), n_strata=plan.n_strata, **common)
    return HierarchicalAnalysis(tau_scale=float(an.tau_scale), **common)


def effects_tables(design: TrialDesign, outcomes: PotentialOutcomes) -> dict:
    """Extra device tables: ``covariates`` (patient, q), the named biomarkers centred and scaled to unit SD."""
    import jax.numpy as jnp

    names = design.analysis.covariates
    if design.analysis.model != "logistic" or not names:
        return {}
    cols = []
    for i, name in enumerate(names):
        if outcomes.biomarkers is None or name not in outcomes.biomarker_names:
            raise ConfigError(
                f"design.analysis.covariates[{i}]",
                f"{name!r} is not a biomarker of the outcome table {list(outcomes.biomarker_names)}",
            )
        x = np.asarray(outcomes.biomarkers, dtype=np.float64)[:, outcomes.biomarker_names.index(name)]
        if not np.all(np.isfinite(x)) or not x.std() > 0:
            raise ConfigError(f"design.analysis.covariates[{i}]", f"{name!r} must be finite and not constant")
        cols.append((x - x.mean()) / x.std())
    return {"covariates": jnp.asarray(np.stack(cols, axis=1), dtype=outcomes.outcome.dtype)}
