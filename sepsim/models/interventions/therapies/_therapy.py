"""The common skeleton of a drug: regimen -> exposure (linear PK) -> pharmacodynamic effect (and safety hazards)."""

from __future__ import annotations

import abc
from typing import ClassVar

import jax.numpy as jnp
from jaxtyping import Array, Float

from ..._arms import AbstractArm
from ..._effects import Covariates, Effects, Mediators
from .._base import _UNIT_TO_NG_PER_ML
from .._pk import PKParams, pk_rhs
from .._schedule import DoseSchedule

__all__ = ["AbstractTherapy", "emax", "make_effects"]


def emax(c: Float[Array, ""], ec50: Float[Array, ""] | float, e_max: Float[Array, ""] | float = 1.0) -> Array:
    """Hyperbolic concentration-effect ``e_max * c / (c + ec50)`` (c >= 0)."""
    c = jnp.maximum(c, 0.0)
    return e_max * c / (c + ec50)


class AbstractTherapy(AbstractArm):
    """A drug arm: states are compartment amounts in ``amount_unit``; concentrations are reported in ng/mL.

    Subclasses define the class constants ``name``, ``mw_kda`` (molecular weight, decides device adsorption),
    ``amount_unit`` (``"g"``, ``"mg"``, ``"ug"`` or ``"kIU"``) and ``n_cmt`` (1 or 2), and the methods
    :meth:`schedule`, :meth:`pk_params` and :meth:`pd_effects` (plus :meth:`hazards_at` for safety signals).
    """

    name: ClassVar[str]
    mw_kda: ClassVar[float]
    amount_unit: ClassVar[str] = "mg"
    n_cmt: ClassVar[int] = 1
    per_kg: ClassVar[bool] = False  # doses are per kg body weight

    @abc.abstractmethod
    def schedule(self) -> DoseSchedule:
        """Dosing events (static, built from the regimen fields)."""

    @abc.abstractmethod
    def pk_params(self, covariates: Covariates) -> PKParams:
        """PK parameters for this patient."""

    @abc.abstractmethod
    def pd_effects(self, c: Float[Array, ""], mediators: Mediators, covariates: Covariates) -> Effects:
        """Effects at plasma concentration ``c`` (ng/mL; kIU/L for ulinastatin)."""

    def hazards_at(self, t: Float[Array, ""], c: Float[Array, ""], covariates: Covariates) -> dict[str, Array]:
        """Safety hazards (1/h) at time ``t`` and concentration ``c``; none by default."""
        return {}

    # -- shared machinery -------------------------------------------------------------------------------------------
    @property
    def n_states(self) -> int:
        return self.n_cmt

    def dose_scale(self, covariates: Covariates) -> Float[Array, ""] | float:
        return covariates.weight_kg if self.per_kg else 1.0

    def init_state(self, covariates: Covariates) -> Float[Array, " k"]:
        return jnp.zeros((self.n_cmt,), dtype=jnp.result_type(float))

    def concentration(self, z: Float[Array, " k"], covariates: Covariates) -> Float[Array, ""]:
        """Central plasma concentration, ng/mL (kIU/L for IU-dosed drugs)."""
        return z[0] / self.pk_params(covariates).v_c * _UNIT_TO_NG_PER_ML[self.amount_unit]

    def rhs_with_device(
        self,
        t: Float[Array, ""],
        z: Float[Array, " k"],
        mediators: Mediators,
        covariates: Covariates,
        extra_cl: Float[Array, ""] | float = 0.0,
    ) -> tuple[Float[Array, " k"], Effects, Float[Array, ""]]:
        """Like :meth:`rhs` with a device clearance ``extra_cl`` (L/h); also returns the device removal rate."""
        p = self.pk_params(covariates)
        dz, removed = pk_rhs(t, z, p, self.schedule(), self.dose_scale(covariates), extra_cl)
        return dz, self.pd_effects(self.concentration(z, covariates), mediators, covariates), removed

    def rhs(self, t, z, mediators, covariates):
        dz, eff, _ = self.rhs_with_device(t, z, mediators, covariates, 0.0)
        return dz, eff

    def jump_times_np(self):
        return self.schedule().jump_times_np()

    def drug_concentrations(self, z, covariates):
        return {self.name: self.concentration(z, covariates)}

    def hazards(self, t, z, covariates):
        return self.hazards_at(t, self.concentration(z, covariates), covariates)

    def total_dose(self, covariates: Covariates) -> Float[Array, ""]:
        """Total amount scheduled, in ``amount_unit``."""
        return self.schedule().total(self.dose_scale(covariates))


def make_effects(**fields: Array) -> Effects:
    """An :class:`Effects` with the given fields and zeros elsewhere."""
    return Effects.none()._replace(**fields)
