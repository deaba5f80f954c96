"""Study arms from config: ``arms.<name>`` -> an intervention arm labelled with the study's name for it."""

from __future__ import annotations

from typing import Any

import equinox as eqx

from .._errors import ConfigError

__all__ = ["build_arms"]


class _LabelledArm(eqx.Module):
    """An intervention arm under the name the study gives it (the arm coordinate of the outcome table)."""

    arm: Any
    name: str = eqx.field(static=True)

    def init_state(self, covariates):
        return self.arm.init_state(covariates)

    def rhs(self, t, z, mediators, covariates):
        return self.arm.rhs(t, z, mediators, covariates)

    def jump_times(self):
        return self.arm.jump_times()


def build_arms(arms_cfg: dict[str, Any]) -> list[_LabelledArm]:
    """One labelled arm per entry of the ``arms`` config (validated by the interventions package)."""
    from ..models.interventions import arm_from_config

    arms = []
    for name, spec in arms_cfg.items():
        try:
            arms.append(_LabelledArm(arm_from_config(spec), name))
        except ConfigError as err:  # the interventions package names keys "therapy.<...>"
            key = f"arms.{name}.{err.key.removeprefix('therapy').lstrip('.')}".rstrip(".")
            raise ConfigError(key, str(err).split(": ", 1)[-1]) from None
    return arms
