"""Safety events in the outcome table: each therapy's hazards integrated in the solve, with their own common random
numbers per patient, and serious adverse events.

Therapies report instantaneous hazards (1/h) by event name (``interventions/_safety.py``: ``anemia`` with anakinra,
``bleeding`` with rhIFN-gamma scaled up by thrombocytopenia, ``fever_resp_distress`` 5-8 h after IV IL-7 doses;
rates and sources in ``interventions/params/*.yaml``). :class:`SafetyArm` appends one cumulative hazard ``H_k`` per
event to the arm's states, so the solver integrates it with everything else. Event ``k`` happens on the first day
``H_k`` crosses the patient's Exp(1) draw for ``k`` (``fold_in(fold_in(key, crc32(k)), patient)``: the same draw
under every arm, so an arm without the hazard never has the event), and only while the patient is alive.

**Serious adverse event** (ICH E2A, clinical_course.md 4: results in death, is life-threatening, or requires or
prolongs hospitalisation): death by the horizon, an ICU-acquired infection, or a serious therapy safety event. Every
event above is serious (ImmunoSep reports anaemia and haemorrhage apart from its non-serious events, IS-14 [U:
seriousness not stated]) except those in :data:`SERIOUS_FRACTION`: an event ``k`` there is serious with that
probability, decided by its own uniform draw per patient (``fold_in(fold_in(key, crc32("serious:" + k)),
patient)``, the same in every arm): checkpoint inhibitors' immune-related events, 6.9% grade III/IV (oncology
fallback, ``interventions/params/checkpoint.yaml``).
"""

from __future__ import annotations

import zlib
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Key

from .._keys import item_keys
from ._course import _first_crossing
from ._effects import Covariates
from .interventions import AbstractArm, hazard_names
from .interventions._params import load_params

__all__ = ["SERIOUS_FRACTION", "SafetyArm", "with_safety_hazards", "safety_draws", "serious_draws", "safety_event_days"]

# events that are serious only in part (fraction of events; source in the parameter file); all others are serious
SERIOUS_FRACTION = {"immune_related": load_params("checkpoint")["irae_serious_fraction"]}


class SafetyArm(eqx.Module):
    """``arm`` plus the cumulative hazards ``names`` of ``source`` (the arm itself, or the therapy it labels) as
    trailing states (``H_k(0) = 0``, dimensionless)."""

    arm: Any
    source: AbstractArm
    names: tuple[str, ...] = eqx.field(static=True)
    name: str = eqx.field(static=True)

    def init_state(self, covariates: Covariates) -> Any:
        z0 = self.arm.init_state(covariates)
        return jnp.concatenate([z0, jnp.zeros((len(self.names),), dtype=z0.dtype)])

    def rhs(self, t: Any, z: Any, mediators: Any, covariates: Covariates) -> Any:
        k = z.shape[0] - len(self.names)
        dz, eff = self.arm.rhs(t, z[:k], mediators, covariates)
        h = self.source.hazards(t, z[:k], covariates)
        dh = jnp.stack([jnp.asarray(h[n], dtype=z.dtype) for n in self.names])
        return jnp.concatenate([dz.astype(z.dtype), dh]), eff

    def jump_times(self) -> Any:
        return self.arm.jump_times()


def _hazard_source(arm: Any) -> AbstractArm | None:
    """The arm itself when it implements the arm protocol (a study's ``LabelledArm`` forwards ``hazards``)."""
    return arm if isinstance(arm, AbstractArm) else None


def with_safety_hazards(arm: Any, covariates: Covariates) -> tuple[Any, tuple[str, ...]]:
    """``(arm wrapped in SafetyArm, hazard names)``, or ``(arm, ())`` when it reports no hazard."""
    source = _hazard_source(arm)
    names = () if source is None else hazard_names(source, covariates)
    if not names:
        return arm, ()
    return SafetyArm(arm, source, names, str(getattr(arm, "name", "arm"))), names


def _per_patient_draws(
    key: Key[Array, ""], patients: np.ndarray, names: tuple[str, ...], tag: str, sample: Any
) -> dict[str, np.ndarray]:
    """``sample(key)`` per (name, global patient index) from ``fold_in(fold_in(key, crc32(tag:name)), patient)``."""
    out = {}
    for n in names:
        sub = jax.random.fold_in(key, zlib.crc32(f"{tag}:{n}".encode()) & 0x7FFFFFFF)
        out[n] = np.asarray(jax.vmap(sample)(item_keys(sub, patients)))
    return out


def safety_draws(key: Key[Array, ""], patients: np.ndarray, names: tuple[str, ...]) -> dict[str, np.ndarray]:
    """One Exp(1) draw per (event name, global patient index)."""
    return _per_patient_draws(key, patients, names, "safety", lambda k: jax.random.exponential(k, ()))


def serious_draws(key: Key[Array, ""], patients: np.ndarray, names: tuple[str, ...]) -> dict[str, np.ndarray]:
    """One uniform draw per (event in :data:`SERIOUS_FRACTION`, global patient index): serious iff below the
    fraction."""
    return _per_patient_draws(key, patients, names, "serious", lambda k: jax.random.uniform(k, ()))


def safety_event_days(cum: np.ndarray, draw: np.ndarray, death: np.ndarray) -> np.ndarray:
    """Day of the event (``inf``: none): daily cumulative hazard ``cum`` (patient, arm, day) crosses ``draw``
    (patient) before ``death`` (patient, arm); no extrapolation after the ODE horizon (drugs are long stopped)."""
    t = _first_crossing(cum, np.broadcast_to(draw[:, None], cum.shape[:-1]), np.zeros(cum.shape[:-1]))
    return np.where(t < death, t, np.inf)
