# ruff: noqa: UP045  (OmegaConf 2.3 structured configs need typing.Optional, not X | None)
"""The analysis run at each look: model, method and frequentist settings (see ``design.py``)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

from ..._errors import ConfigError

__all__ = ["ANALYSIS_METHODS", "ANALYSIS_MODELS", "FREQUENTIST_TESTS", "LOG_ODDS_MODELS", "SPENDING", "AnalysisConfig"]

ANALYSIS_METHODS = ("quadrature", "draws", "frequentist")
ANALYSIS_MODELS = ("beta_binomial", "normal", "proportional_odds", "logistic", "hierarchical")
LOG_ODDS_MODELS = ("proportional_odds", "logistic", "hierarchical")  # effects on the log odds ratio scale
FREQUENTIST_TESTS = ("z", "chisq", "fisher", "cmh")
SPENDING = ("obf", "pocock", "ld_obf", "ld_pocock", "hsd")


@dataclass(frozen=True)
class AnalysisConfig:
    """The analysis at each look: Bayesian posterior probabilities or frequentist group-sequential tests.

    Attributes:
        method: "quadrature" (deterministic, fast), "draws" (adaptr's posterior draws; beta_binomial only) or
            "frequentist" (group-sequential tests of each arm against the control; see README_engine.md).
        model: outcome model: "beta_binomial" (binary outcome, Beta prior), "normal" (continuous outcome,
            normal likelihood with a common unknown variance, normal-inverse-gamma prior; Gelman et al. 2013, 3.3),
            "proportional_odds" (ordinal outcome 0..C-1, Laplace), "logistic" (binary, arm + stratum effects and
            optional ``covariates``, Laplace; needs a control) or "hierarchical" (binary, per-stratum log odds
            ratios borrowing across strata; needs a control, strata and ``stopping.per_stratum``). For the last
            three, margins are on the log odds ratio scale (README_engine.md).
        n_draws: posterior draws per arm per look for "draws" (adaptr default 5000).
        n_grid: quadrature nodes (65: max error 7e-5 in P(best), 3e-5 in P(all equivalent) over 2000 adaptr-like
            posteriors, some 30 times below the Monte-Carlo SD of adaptr's 5000 draws near its thresholds; 97:
            7e-6, 5e-6; error ~ n_grid^-6 while the posteriors lie inside (0, 1), larger for few patients near
            a rate of 0 or 1: about 2e-3 in P(better) at 20-80 patients per arm; README_engine.md).
        prior_a, prior_b: Beta prior (>= 1; adaptr's default Beta(1, 1)).
        prior_mean, prior_kappa, prior_shape, prior_rate: normal model prior ``mu_j | sigma^2 ~ N(prior_mean,
            sigma^2 / prior_kappa)``, ``sigma^2 ~ InvGamma(prior_shape, prior_rate)`` (defaults nearly flat).
        test: frequentist test: "z" (pooled two-proportion z; difference of means for the normal model), "chisq"
            (signed root of Pearson's X^2), "fisher" (one-sided exact conditional test), "cmh"
            (Cochran–Mantel–Haenszel stratified over the design's strata).
        alpha: one-sided family-wise type-I error, split equally (Bonferroni) across the non-control arms of an
            analysis unit.
        spending: efficacy boundary: "obf", "pocock" (classical), "ld_obf", "ld_pocock" (Lan–DeMets), "hsd"
            (Hwang–Shih–DeCani with ``gamma``), at the planned information fractions ``look_n / look_n[-1]`` for
            every arm (observed information is not used; README_engine.md quantifies the difference).
        gamma: Hwang–Shih–DeCani parameter (only with "hsd").
        futility_z: optional non-binding futility bounds, one z per look (``-.inf`` or a very low value for none):
            an arm whose z falls to or below it is dropped as futile.
        n_categories: "proportional_odds": number of ordinal categories C (default: max of the table + 1).
        covariates: "logistic": biomarkers of the outcome table adjusted for (centred, scaled to unit SD).
        prior_sd: sd of the N(0, sd^2) priors on log odds ratios and other regression coefficients
            ("proportional_odds", "logistic"; the common mean's prior for "hierarchical").
        tau_scale: "hierarchical": scale of the half-normal prior on the between-stratum sd of log odds ratios.
        information: "planned" (bounds at ``look_n / look_n[-1]`` for every arm) or "observed" (each comparison
            spends alpha at its own observed information fraction, boundaries computed in each trial; needs an
            alpha-spending function "ld_obf", "ld_pocock" or "hsd"; see README_engine.md).
    """

    method: str = "quadrature"
    model: str = "beta_binomial"
    n_draws: int = 5000
    n_grid: int = 65
    prior_a: float = 1.0
    prior_b: float = 1.0
    prior_mean: float = 0.0
    prior_kappa: float = 1e-3
    prior_shape: float = 1e-3
    prior_rate: float = 1e-3
    test: str = "z"
    alpha: float = 0.025
    spending: str = "obf"
    gamma: Optional[float] = None
    futility_z: Optional[list[float]] = None
    n_categories: Optional[int] = None
    covariates: Optional[list[str]] = None
    prior_sd: float = 10.0
    tau_scale: float = 0.5
    information: str = "planned"

    def validate(self, prefix: str = "design.analysis") -> None:
        if self.information not in ("planned", "observed"):
            raise ConfigError(f"{prefix}.information", f"must be 'planned' or 'observed', got {self.information!r}")
        if self.information == "observed" and (self.method != "frequentist" or self.spending in ("obf", "pocock")):
            raise ConfigError(
                f"{prefix}.information",
                "'observed' needs method 'frequentist' and an alpha-spending function (ld_obf, ld_pocock, hsd)",
            )
        if self.method not in ANALYSIS_METHODS:
            raise ConfigError(f"{prefix}.method", f"must be one of {list(ANALYSIS_METHODS)}, got {self.method!r}")
        if self.model not in ANALYSIS_MODELS:
            raise ConfigError(f"{prefix}.model", f"must be one of {list(ANALYSIS_MODELS)}, got {self.model!r}")
        if self.model == "normal" and self.method == "draws":
            raise ConfigError(f"{prefix}.method", "the normal model uses 'quadrature' or 'frequentist', not 'draws'")
        if self.n_draws < 10:
            raise ConfigError(f"{prefix}.n_draws", "must be >= 10")
        if self.n_grid < 17:
            raise ConfigError(f"{prefix}.n_grid", "must be >= 17")
        if self.prior_a < 1.0 or self.prior_b < 1.0:
            raise ConfigError(f"{prefix}.prior_a", "Beta prior shapes must be >= 1 (the quadrature needs them)")
        for name in ("prior_kappa", "prior_shape", "prior_rate"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not v > 0:
                raise ConfigError(f"{prefix}.{name}", f"must be > 0, got {v!r}")
        if self.test not in FREQUENTIST_TESTS:
            raise ConfigError(f"{prefix}.test", f"must be one of {list(FREQUENTIST_TESTS)}, got {self.test!r}")
        if self.model in LOG_ODDS_MODELS and self.method == "frequentist":
            raise ConfigError(f"{prefix}.method", f"model {self.model!r} uses 'quadrature' or 'draws'")
        if self.n_categories is not None and (self.model != "proportional_odds" or self.n_categories < 2):
            raise ConfigError(f"{prefix}.n_categories", "applies to model 'proportional_odds' only and must be >= 2")
        if self.covariates is not None and (self.model != "logistic" or not self.covariates):
            raise ConfigError(f"{prefix}.covariates", "a non-empty list of biomarker names, for model 'logistic' only")
        for name in ("prior_sd", "tau_scale"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not v > 0:
                raise ConfigError(f"{prefix}.{name}", f"must be > 0, got {v!r}")
        if self.model == "normal" and self.test != "z":
            raise ConfigError(f"{prefix}.test", "the normal model's frequentist test is 'z' (difference of means)")
        if not isinstance(self.alpha, (int, float)) or not 0.0 < self.alpha < 0.5:
            raise ConfigError(f"{prefix}.alpha", f"must be a one-sided level in (0, 0.5), got {self.alpha!r}")
        if self.spending not in SPENDING:
            raise ConfigError(f"{prefix}.spending", f"must be one of {list(SPENDING)}, got {self.spending!r}")
        if self.spending == "hsd" and (self.gamma is None or not math.isfinite(self.gamma)):
            raise ConfigError(f"{prefix}.gamma", "spending 'hsd' needs a finite gamma (e.g. -4 ~ O'Brien-Fleming)")
