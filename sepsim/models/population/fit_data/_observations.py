"""Fit 2 observations: a validated patient-level dataset as padded arrays, and the ODE prediction of each one.

Every biomarker measurement (ferritin, HLA-DR, IL-6, lymphocytes) enters the likelihood on the log scale with the
analytical error of its assay (lognormal, ``sigma = sqrt(log(1 + CV^2))`` with ``CV`` from
:data:`sepsim.models._outcomes.ASSAY_CV`, the error model that generates the virtual cohorts' screening values).
SOFA rows and deaths are read and validated but not in the Fit 2 likelihood (the integer SOFA observation and the
survival course are left to a later fit). Model time 0 is ICU admission (= randomisation in the virtual trials;
infection onset ``T_START`` = -48 h), so ``time_h`` of the file is the model time.

The prediction goes through ``diffrax.diffeqsolve`` (:func:`sepsim.models._solve.solve_patient` with the
``"diffrax_tsit5"`` solver), which is reverse-mode differentiable (diffrax's checkpointed adjoint), so NUTS takes
gradients through the ODE.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Bool, Float, Int

from ..._arms import Placebo
from ..._effects import Covariates
from ..._outcomes import _BIOMARKER_STATE, ASSAY_CV
from ..._params import reference_params
from ..._solve import SolverConfig, solve_patient
from .._data import PatientData

__all__ = ["DATA_SOLVER", "Observations", "observations", "predict_log_states"]

# Solver for the fit: diffrax Tsit5 (differentiable), rtol 1e-6 as the trial simulations; max_steps bounds the
# adjoint's checkpoint memory (a 4-day course takes ~90 accepted steps at this tolerance).
DATA_SOLVER = SolverConfig(solver="diffrax_tsit5", rtol=1e-6, atol=1e-8, max_steps=4096)
_DEFAULT_COVARIATES = (75.0, 0.3, 60.0, 150.0)  # weight, haematocrit, CrCl, platelets: PK only (placebo: unused)


class Observations(NamedTuple):
    """Padded per-patient arrays (patients in file order; padding has ``mask`` False)."""

    patient_ids: tuple[str, ...]
    times: Float[Array, "patient time"]  # distinct measurement times per patient, ascending, padded by the last
    time_index: Int[Array, "patient obs"]  # position in ``times`` of each observation
    state_index: Int[Array, "patient obs"]  # ODE state of each observation
    log_value: Float[Array, "patient obs"]
    sigma: Float[Array, "patient obs"]  # lognormal assay sd
    mask: Bool[Array, "patient obs"]

    @property
    def n_patients(self) -> int:
        return len(self.patient_ids)


def observations(data: PatientData) -> Observations:
    """The biomarker rows of ``data`` (SOFA rows dropped) as padded arrays; zeros are floored at 1e-6 (log)."""
    m = data.measurements[data.measurements["variable"] != "sofa"]
    ids = tuple(str(i) for i in data.patients.index)
    per = [m[m["patient_id"] == pid] for pid in ids]
    empty = [pid for pid, g in zip(ids, per, strict=True) if g.empty]
    if empty:
        raise ValueError(f"patients without any biomarker measurement cannot be fitted: {empty[:5]}")
    n_t = max(g["time_h"].nunique() for g in per)
    n_o = max(len(g) for g in per)
    times = np.zeros((len(ids), n_t))
    out = {k: np.zeros((len(ids), n_o), dtype=d) for k, d in (("ti", int), ("si", int), ("lv", float), ("sg", float))}
    mask = np.zeros((len(ids), n_o), bool)
    for i, g in enumerate(per):
        t = np.unique(g["time_h"].to_numpy())
        times[i] = np.concatenate([t, np.full(n_t - len(t), t[-1])])
        k = len(g)
        out["ti"][i, :k] = np.searchsorted(t, g["time_h"].to_numpy())
        out["si"][i, :k] = g["variable"].map(_BIOMARKER_STATE).to_numpy()
        out["lv"][i, :k] = np.log(np.maximum(g["value"].to_numpy(), 1e-6))
        out["sg"][i, :k] = [np.sqrt(np.log1p(ASSAY_CV[v] ** 2)) for v in g["variable"]]
        out["sg"][i, k:] = 1.0
        mask[i, :k] = True
    return Observations(
        ids,
        jnp.asarray(times),
        jnp.asarray(out["ti"]),
        jnp.asarray(out["si"]),
        jnp.asarray(out["lv"]),
        jnp.asarray(out["sg"]),
        jnp.asarray(mask),
    )


def _one_patient(natural: Float[Array, " k"], names: tuple[str, ...], times: Any, config: SolverConfig) -> Any:
    params = reference_params()._replace(**{n: natural[j] for j, n in enumerate(names)})
    cov = Covariates(*(jnp.asarray(v, natural.dtype) for v in _DEFAULT_COVARIATES))
    sol = solve_patient(params, cov, Placebo(), times, config)
    return sol.ys, sol.ok


def predict_log_states(
    natural: Float[Array, "patient k"],
    names: tuple[str, ...],
    obs: Observations,
    config: SolverConfig = DATA_SOLVER,
) -> tuple[Float[Array, "patient obs"], Bool[Array, " patient"]]:
    """Log model state at every observation (patients' other parameters at their patient.yaml values), and
    whether each solve reached its last time."""
    ys, ok = jax.vmap(lambda th, t: _one_patient(th, names, t, config))(natural, obs.times)
    rows = jnp.arange(obs.n_patients)[:, None]
    return ys[rows, obs.time_index, obs.state_index], ok
