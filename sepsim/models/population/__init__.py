"""Bayesian patient-heterogeneity model (stage 1 of the pipeline): covariates, latent parameters, posterior.

The fit itself (library of simulated patients, likelihood of the calibration targets, NUTS, diagnostics) lives in
:mod:`sepsim.models.population.fit`; this package holds what a virtual cohort needs and is imported by
``simulate_cohort``.
"""

from ._covariates import INFECTION_SITES as INFECTION_SITES
from ._covariates import NEW_COVARIATES as NEW_COVARIATES
from ._covariates import draw_covariates as draw_covariates
from ._latent import EFFECT_COVARIATES as EFFECT_COVARIATES
from ._latent import HyperPrior as HyperPrior
from ._latent import LatentSpace as LatentSpace
from ._latent import Population as Population
from ._latent import latent_space as latent_space
from ._latent import log_density as log_density
from ._latent import theta_from_noise as theta_from_noise
from ._latent import to_natural as to_natural
from ._posterior import PosteriorDraws as PosteriorDraws
from ._posterior import default_posterior_path as default_posterior_path
from ._posterior import load_posterior as load_posterior

__all__ = [
    "EFFECT_COVARIATES",
    "HyperPrior",
    "INFECTION_SITES",
    "LatentSpace",
    "NEW_COVARIATES",
    "Population",
    "PosteriorDraws",
    "default_posterior_path",
    "draw_covariates",
    "latent_space",
    "load_posterior",
    "log_density",
    "theta_from_noise",
    "to_natural",
]
