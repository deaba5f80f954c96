"""The analysis interface every analysis implements (the engine calls nothing else).

An analysis turns one look's tables of one decision unit (the whole trial, or one stratum) into the probabilities
the decisions and the allocation rule use. The engine asks :attr:`AbstractAnalysis.needs` which tables to build
(static, so a feature that is off costs nothing), calls :meth:`~AbstractAnalysis.prepare` once per look and unit,
then reads P(best), the comparisons with the control and the posterior means from the returned context.

To add an analysis: subclass :class:`AbstractAnalysis` (an :class:`equinox.Module`, hyperparameters as static
fields), implement the four abstract methods and ``needs``, and return it from
:func:`sepsim.platform._analysis.factory.make_analysis`.
"""

from __future__ import annotations

import abc
from typing import Any, NamedTuple

import equinox as eqx
from jaxtyping import Array, Bool, Float, Int, Key

__all__ = ["AbstractAnalysis", "AnalysisNeeds"]


class AnalysisNeeds(NamedTuple):
    """What an analysis needs from the engine beyond the per-arm counts ``n`` and totals (static).

    Attributes:
        frequentist: decisions compare z statistics (:meth:`FrequentistAnalysis.statistics`) with traced
            boundaries instead of posterior probabilities with thresholds.
        sum_squares: per-arm sums of squared outcomes (continuous outcomes), passed as ``total_sq``.
        n_categories: ordinal outcomes: category counts per arm (``counts``, ``(arm, category)``); 0 for none.
        strata: the unit's ``(stratum, arm)`` tables (``n_strata``, ``total_strata``).
        records: per-patient records (arm, table row, outcome, complete flag) of the randomised patients.
        across_units: a posterior computed once per look from every unit's table (:meth:`across_units`), handed to
            each unit's :meth:`prepare` as ``across``.
    """

    frequentist: bool = False
    sum_squares: bool = False
    n_categories: int = 0
    strata: bool = False
    records: bool = False
    across_units: bool = False


class AbstractAnalysis(eqx.Module):
    """Base of every analysis run by the engine at a look (see the module docstring)."""

    @property
    @abc.abstractmethod
    def needs(self) -> AnalysisNeeds:
        """The static record of the tables this analysis needs (see :class:`AnalysisNeeds`)."""
        raise NotImplementedError

    @abc.abstractmethod
    def prepare(
        self,
        n: Float[Array, " arm"],
        total: Float[Array, " arm"],
        active: Bool[Array, " arm"],
        *,
        key: Key[Array, ""],
        **tables: Any,
    ) -> dict[str, Any]:
        """The look's context (posterior parameters, grids, draws or statistics) from the unit's tables;
        ``tables`` are the extra inputs :attr:`needs` asks for and the concurrent-control data."""
        raise NotImplementedError

    @abc.abstractmethod
    def p_best(self, ctx: dict[str, Any], active: Bool[Array, " arm"]) -> Float[Array, " arm"]:
        """P(arm is best) among the ``active`` arms (0 elsewhere)."""
        raise NotImplementedError

    @abc.abstractmethod
    def vs_control(
        self, ctx: dict[str, Any], active: Bool[Array, " arm"], control: Int[Array, ""]
    ) -> tuple[Float[Array, " arm"], Float[Array, " arm"], Float[Array, " arm"]]:
        """(P(better), P(equivalent), P(futile)) of each active arm against ``control`` (NaN for the control)."""
        raise NotImplementedError

    @abc.abstractmethod
    def posterior_mean(self, n: Float[Array, "..."], total: Float[Array, "..."]) -> Float[Array, "..."]:
        """The estimate of each arm's mean outcome reported with the results."""
        raise NotImplementedError

    def p_all_equivalent(self, ctx: dict[str, Any], active: Bool[Array, " arm"]) -> Float[Array, ""]:
        """P(all ``active`` arms within the equivalence margin of one another) (designs without a control)."""
        raise TypeError(f"{type(self).__name__} has no all-arms equivalence probability")

    def across_units(
        self, n: Float[Array, "unit arm"], total: Float[Array, "unit arm"], eligible: Bool[Array, "unit arm"], **kw: Any
    ) -> dict[str, Array]:
        """The posterior shared by all units at a look (only when ``needs.across_units``)."""
        raise TypeError(f"{type(self).__name__} does not analyse across units")
