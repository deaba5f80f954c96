"""Decision and outcome codes of the per-trial results (``arm_decision``, ``trial_outcome`` and the per-stratum /
per-domain outcomes). The engines store them as integers; these enums name them for the engine, the operating
characteristics and the report (``DECISIONS`` / ``OUTCOMES`` are the labels of the ``decision`` / ``outcome``
coordinates of the OCs, in code order)."""

from __future__ import annotations

import enum

__all__ = ["ArmDecision", "TrialOutcome", "DECISIONS", "OUTCOMES"]


class ArmDecision(enum.IntEnum):
    """What happened to an arm (adaptr semantics; ``none``: still in the trial at its end)."""

    NONE = 0
    SUPERIOR = 1
    INFERIOR = 2
    FUTILE = 3
    EQUIVALENT = 4


class TrialOutcome(enum.IntEnum):
    """Why a trial (or a stratum, or a domain) stopped; ``MAX``: it reached its maximum sample size."""

    MAX = 0
    SUPERIORITY = 1
    EQUIVALENCE = 2
    FUTILITY = 3


DECISIONS: tuple[str, ...] = tuple(d.name.lower() for d in ArmDecision)  # ("none", "superior", ...)
OUTCOMES: tuple[str, ...] = tuple(o.name.lower() for o in TrialOutcome)  # ("max", "superiority", ...)
