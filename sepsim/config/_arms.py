"""Study arms from config: ``arms.<name>`` -> an intervention arm labelled with the study's name for it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._errors import ConfigError

if TYPE_CHECKING:
    from ..models import LabelledArm

__all__ = ["build_arms"]


def build_arms(arms_cfg: dict[str, Any]) -> list[LabelledArm]:
    """One :class:`~sepsim.models.LabelledArm` per entry of the ``arms`` config (validated by the interventions
    package): the arm under the name the study gives it (the arm coordinate of the outcome table)."""
    from ..models import LabelledArm
    from ..models.interventions import arm_from_config

    arms = []
    for name, spec in arms_cfg.items():
        try:
            arms.append(LabelledArm(arm_from_config(spec), name))
        except ConfigError as err:  # the interventions package names keys "therapy.<...>"
            key = f"arms.{name}.{err.key.removeprefix('therapy').lstrip('.')}".rstrip(".")
            raise ConfigError(key, str(err).split(": ", 1)[-1]) from None
    return arms
