"""Parametric outcome tables from a scenario config (what ``outcomes=scenario`` runs on).

Public as :func:`sepsim.platform.outcomes_from_scenario` so that the pipeline and the config validator build the
same table without reaching into each other.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

import numpy as np
from jaxtyping import Array, Float, Key

from .._design.design import TrialDesign
from .table import PotentialOutcomes, binary_scenario, ordinal_scenario

__all__ = ["outcomes_from_scenario", "factorial_rates"]


def outcomes_from_scenario(
    scenario: Mapping[str, Any], design: TrialDesign, *, key: Key[Array, ""]
) -> PotentialOutcomes:
    """The parametric potential-outcome table of a validated ``scenario`` config (a plain dict) for ``design``'s arms.

    Deterministic in (scenario, arms, key); the pipeline rebuilds it rather than caching it, and the config
    validator plans a design on a tiny copy of it. ``scenario["kind"]`` picks the generator: ``binary``
    (:func:`~sepsim.platform.binary_scenario`), ``ordinal`` (:func:`~sepsim.platform.ordinal_scenario`) or
    ``factorial`` (a binary table over the combinations of ``design.domains``, :func:`factorial_rates`).
    """
    sc = scenario
    arms = list(design.arms)
    if sc["kind"] == "factorial":
        rates = factorial_rates(sc, design)
        return binary_scenario(rates, sc["n_patients"], key=key, arms=arms)
    if sc["kind"] == "ordinal":
        strata = list(sc["stratum_control_probs"] or sc["stratum_odds_ratios"]) or None
        if strata is None:
            probs, odds, shares = sc["control_probs"], sc["odds_ratios"], None
        else:
            probs = [sc["stratum_control_probs"].get(s, sc["control_probs"]) for s in strata]
            odds = [sc["stratum_odds_ratios"].get(s, sc["odds_ratios"]) for s in strata]
            shares = [sc["stratum_shares"][s] for s in strata] if sc["stratum_shares"] else None
        return ordinal_scenario(probs, odds, sc["n_patients"], key=key, arms=arms, strata=strata, stratum_probs=shares)
    if sc["stratum_rates"]:
        strata = list(sc["stratum_rates"])
        rates = [sc["stratum_rates"][s] for s in strata]
        probs = [sc["stratum_shares"][s] for s in strata] if sc["stratum_shares"] else None
    else:
        strata, rates, probs = None, sc["rates"], None
    return binary_scenario(rates, sc["n_patients"], key=key, arms=arms, strata=strata, stratum_probs=probs)


def factorial_rates(scenario: Mapping[str, Any], design: TrialDesign) -> Float[np.ndarray, " combination"]:
    """Event probability of every combination of a domains design (in ``design.arms`` order).

    ``logit p("<a1>+<a2>") = logit(control_rate) + sum_d domain_log_odds[d][a_d] + interaction_log_odds[combo]``;
    a domain missing from ``domain_log_odds`` has no effect, a combination missing from ``interaction_log_odds``
    no interaction.
    """
    base = float(np.log(scenario["control_rate"]) - np.log1p(-scenario["control_rate"]))
    effects = [scenario["domain_log_odds"].get(d.name, [0.0] * len(d.arms)) for d in design.domains]
    logits = []
    for idx in itertools.product(*[range(len(d.arms)) for d in design.domains]):  # first domain slowest
        combo = "+".join(d.arms[i] for d, i in zip(design.domains, idx, strict=True))
        extra = float(scenario["interaction_log_odds"].get(combo, 0.0))
        logits.append(base + sum(float(e[i]) for e, i in zip(effects, idx, strict=True)) + extra)
    names = ["+".join(c) for c in itertools.product(*[d.arms for d in design.domains])]
    if names != list(design.arms):  # the engine's combination order (domain_combinations)
        raise AssertionError(f"combination order {names} differs from the design's {list(design.arms)}")
    return 1.0 / (1.0 + np.exp(-np.asarray(logits, dtype=np.float64)))
