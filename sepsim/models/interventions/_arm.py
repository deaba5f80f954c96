"""Combining therapies and a device into one arm, including the drug-device interaction.

State layout of :class:`Combination`: ``[therapy_0 states, ..., therapy_n states, device states, removed_0, ...,
removed_n]`` where ``removed_i`` (present only with a device) is the cumulative amount of drug ``i`` taken out by the
device, in the drug's amount unit (it closes the mass balance and is reported by :meth:`Combination.device_removed`).
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from .._arms import AbstractArm
from .._effects import Covariates, Effects, Mediators
from ._base import combine_effects
from .adsorbers._device import AbstractAdsorber
from .therapies._therapy import AbstractTherapy

__all__ = ["Combination"]


class Combination(AbstractArm):
    """Any set of therapies, optionally with one extracorporeal device.

    Effects combine as in :func:`combine_effects` (device clearances add, fractional blocks ``1-(1-a)(1-b)``,
    stimulations add). The device's clearance of each drug inside its molecular-weight window (or named in its
    parameters, e.g. vancomycin on CytoSorb) is added to that drug's elimination, so co-administration lowers the
    simulated drug exposure.
    """

    therapies: tuple[AbstractTherapy, ...] = ()
    device: AbstractAdsorber | None = None

    def __check_init__(self):
        names = [t.name for t in self.therapies]
        if len(set(names)) != len(names):
            raise ValueError(f"each therapy may appear once, got {names}")

    @property
    def name(self) -> str:
        """Arm label, e.g. ``"anakinra+cytosorb"`` (``"placebo"`` when empty)."""
        parts = [t.name for t in self.therapies] + ([self.device.name] if self.device is not None else [])
        return "+".join(parts) if parts else "placebo"

    @property
    def _sizes(self) -> list[int]:
        sizes = [t.n_states for t in self.therapies]
        if self.device is not None:
            sizes += [self.device.n_states] + [1] * len(self.therapies)
        return sizes

    @property
    def n_states(self) -> int:
        return int(sum(self._sizes))

    def _split(self, z):
        out, i = [], 0
        for n in self._sizes:
            out.append(z[i : i + n])
            i += n
        return out

    def init_state(self, covariates: Covariates) -> Float[Array, " k"]:
        parts = [t.init_state(covariates) for t in self.therapies]
        if self.device is not None:
            parts += [self.device.init_state(covariates)]
            parts += [jnp.zeros((1,), dtype=jnp.result_type(float))] * len(self.therapies)
        if not parts:
            return jnp.zeros((0,), dtype=jnp.result_type(float))
        return jnp.concatenate(parts)

    def rhs(
        self, t: Float[Array, ""], z: Float[Array, " k"], mediators: Mediators, covariates: Covariates
    ) -> tuple[Float[Array, " k"], Effects]:
        parts = self._split(z)
        n = len(self.therapies)
        effects = Effects.none()
        drug_cl = {}
        dz_parts = []
        if self.device is not None:
            drugs = {}
            for th, zt in zip(self.therapies, parts[:n], strict=True):
                drugs[th.name] = (th.mw_kda, zt[0] / th.pk_params(covariates).v_c)  # amount-unit/L
            dz_dev, cl, drug_cl = self.device.device_rhs(t, parts[n], mediators, covariates, drugs)
            effects = effects._replace(clearance=cl)
        removed = []
        for th, zt in zip(self.therapies, parts[:n], strict=True):
            dzt, eff, rem = th.rhs_with_device(t, zt, mediators, covariates, drug_cl.get(th.name, 0.0))
            dz_parts.append(dzt)
            removed.append(jnp.reshape(rem, (1,)))
            effects = combine_effects(effects, eff)
        if self.device is not None:
            dz_parts += [dz_dev] + removed
        if not dz_parts:
            return z, effects
        return jnp.concatenate(dz_parts), effects

    def jump_times_np(self) -> np.ndarray:
        arms: list[AbstractArm] = list(self.therapies) + ([self.device] if self.device is not None else [])
        ts = [a.jump_times_np() for a in arms]
        return np.unique(np.concatenate(ts)) if ts else np.zeros((0,))

    def drug_concentrations(self, z, covariates):
        parts = self._split(z)
        out = {}
        for th, zt in zip(self.therapies, parts, strict=False):
            out.update(th.drug_concentrations(zt, covariates))
        return out

    def device_removed(self, z: Float[Array, " k"]) -> dict[str, Float[Array, ""]]:
        """Cumulative amount of each drug removed by the device (drug's amount unit); empty without a device."""
        if self.device is None:
            return {}
        n = len(self.therapies)
        parts = self._split(z)
        return {th.name: parts[n + 1 + i][0] for i, th in enumerate(self.therapies)}

    def therapy_state(self, z: Float[Array, " k"], name: str) -> Float[Array, " n"]:
        """The PK states of therapy ``name``."""
        for th, zt in zip(self.therapies, self._split(z), strict=False):
            if th.name == name:
                return zt
        raise KeyError(name)

    def device_state(self, z: Float[Array, " k"]) -> Float[Array, " n"]:
        if self.device is None:
            raise ValueError("no device in this arm")
        return self._split(z)[len(self.therapies)]

    def hazards(self, t, z, covariates):
        out: dict[str, Array] = {}
        for th, zt in zip(self.therapies, self._split(z), strict=False):
            for k, v in th.hazards(t, zt, covariates).items():
                out[k] = out[k] + v if k in out else v
        return out


def as_combination(arm: AbstractArm) -> Combination:
    """View any single therapy/device arm as a :class:`Combination` (placebo -> empty combination)."""
    if isinstance(arm, Combination):
        return arm
    if isinstance(arm, AbstractTherapy):
        return Combination(therapies=(arm,))
    if isinstance(arm, AbstractAdsorber):
        return Combination(device=arm)
    return Combination()
