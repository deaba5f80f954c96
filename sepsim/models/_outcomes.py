"""Potential outcomes: every patient of a cohort under every arm, with common random numbers.

Observation models (all draws are common random numbers, shared by every arm):

* **SOFA** (daily, 0-24): ``round(O(t_day) + 1.0 * z)`` clipped to [0, 24], where ``O`` is the organ-dysfunction
  state and ``z ~ N(0, 1)`` one draw per patient-day (inter-observer SOFA variability ~1 point [U]). NaN after death.
* **Clinical course** (:mod:`._course`): ICU discharge once organ dysfunction has resolved, ward stay, death when
  the cumulative hazard (acute hazard of the ODE until ICU discharge, then the cited post-acute hazard) crosses
  the patient's Exp(1) draw. The ODE covers the acute phase (at most 90 days); later days are closed form.
* **Secondary (ICU-acquired) infection**: the ODE's infection hazard crosses its own Exp(1) draw ``crn_infection``;
  the same crossing seeds the secondary pathogen inside the ODE (``_patient_rhs.infection_switch``), so
  ``infection_day`` is when the new pathogen load appears. Counts only in the ICU (before death and ICU discharge)
  and within the ODE horizon.
* **Screening biomarkers**: true value at ``t_screen_h`` times ``exp(sigma z)``, ``sigma = sqrt(log(1 + CV^2))``.
* **ImmunoSep endotype**: MALS if ferritin > 4420 ng/mL; else immunoparalysis if HLA-DR < 5000 AB/C; else
  unclassified [V IS-04], from the *measured* screening values (``endotype_true`` from the true ones).
* **Responder** (ImmunoSep primary endpoint [V IS-05]): alive at day 9 and mean SOFA over days 2-9 at least 1.4
  points below day-0 SOFA.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr
from jaxtyping import Array, Key

from .._errors import ConfigError
from .._progress import progress_bar, progress_mode
from ._cohort import BIOMARKERS, COVARIATE_NAMES
from ._course import ACUTE_DAYS, CourseParams, clinical_course, course_draws
from ._effects import Covariates
from ._observations import add_observations
from ._params import load_parameter_specs, params_from_mapping
from ._patient_rhs import CRN_MIN, IDX_DEATH, IDX_INFECTION, N_PHYSIOLOGICAL, STATE_NAMES, STATE_UNITS
from ._precision import precision_scope
from ._safety_events import SERIOUS_FRACTION, safety_draws, safety_event_days, serious_draws, with_safety_hazards
from ._solve import DEFAULT_SOLVER, SolverConfig, make_batch_solver, shard_patients
from ._trial_outcomes import INFECTION_RESPONSE, infection_response, organ_support, support_free_days

__all__ = ["simulate_outcomes", "daily_state_names", "ASSAY_CV", "SOFA_NOISE_SD", "classify_endotype", "ENDOTYPES"]

ENDOTYPES = ("unclassified", "MALS", "immunoparalysis")
FERRITIN_MALS = 4420.0  # ng/mL [V IS-04]
HLA_DR_IP = 5000.0  # AB/C [V IS-04]
SOFA_NOISE_SD = 1.0  # points, per patient-day [U]
RESPONDER_DROP = 1.4  # points [V IS-05]
# Analytical CVs of the screening assays (lognormal error) [U: typical values; Quantibrite mHLA-DR multicentre
# standardisation, Docke et al. 2005 Clin Chem 51:2341, reports inter-laboratory CVs of the order of 10-20%].
ASSAY_CV = {"ferritin": 0.06, "hla_dr": 0.15, "il6": 0.12, "lymphocytes": 0.05}
_BIOMARKER_STATE = {"ferritin": 8, "hla_dr": 9, "il6": 5, "lymphocytes": 10}


def classify_endotype(ferritin: Any, hla_dr: Any) -> np.ndarray:
    """ImmunoSep rule -> integer code (0 unclassified, 1 MALS, 2 immunoparalysis); see ENDOTYPES."""
    ferritin, hla_dr = np.asarray(ferritin), np.asarray(hla_dr)
    return np.where(ferritin > FERRITIN_MALS, 1, np.where(hla_dr < HLA_DR_IP, 2, 0)).astype(np.int8)


def _crossing_day(lam: np.ndarray, draw: np.ndarray) -> np.ndarray:
    """First time (days, linear interpolation of daily cumulative hazard) where ``lam`` exceeds ``draw``."""
    above = lam >= draw[:, None]
    hit = above.any(axis=1)
    j = np.where(hit, above.argmax(axis=1), 1)
    j = np.maximum(j, 1)
    rows = np.arange(lam.shape[0])
    lo, hi = lam[rows, j - 1], lam[rows, j]
    with np.errstate(invalid="ignore", divide="ignore"):  # failed solves carry NaN; flagged by solver_ok
        frac = np.clip((draw - lo) / np.maximum(hi - lo, 1e-300), 0.0, 1.0)
    return np.where(hit, (j - 1) + frac, np.inf)


def _sofa_noise(key: Key[Array, ""], patients: np.ndarray, n_days: int) -> np.ndarray:
    """Standard-normal SOFA observation noise per (global patient index, day): the same draw for a patient-day
    whatever the arm, chunking, cohort subset or horizon (``fold_in(fold_in(key, patient), day)``)."""
    idx = jnp.asarray(patients, dtype=jnp.uint32)
    days = jnp.arange(n_days, dtype=jnp.uint32)

    def one(i: Any) -> Any:
        k = jax.random.fold_in(key, i)
        return jax.vmap(lambda d: jax.random.normal(jax.random.fold_in(k, d), ()))(days)

    return np.asarray(jax.vmap(one)(idx))


def _chunk_inputs(cohort: xr.Dataset, idx: slice, pad_to: int, days: int) -> tuple[Any, Covariates, Any]:
    sub = cohort.isel(patient=idx)
    n = sub.sizes["patient"]
    take = np.concatenate([np.arange(n), np.zeros(pad_to - n, dtype=int)])  # pad with patient 0 (discarded)
    values = {k: np.asarray(sub[k].values)[take] for k in sub.data_vars if sub[k].dims == ("patient",)}
    values.update({k[len("fixed.") :]: np.full(pad_to, v) for k, v in cohort.attrs.items() if k.startswith("fixed.")})
    params = params_from_mapping(values)
    params = jax.tree.map(lambda a: jnp.broadcast_to(a, (pad_to,)), params)
    cov = Covariates(*(jnp.asarray(values.get(k, np.full(pad_to, d))) for k, d in _COV_DEFAULTS))
    ts = np.concatenate(
        [values["t_screen_h"][:, None], np.broadcast_to(24.0 * np.arange(days + 1.0), (pad_to, days + 1))], 1
    )
    return params, cov, jnp.asarray(ts)


_COV_DEFAULTS = (("weight_kg", 75.0), ("hematocrit", 0.3), ("crcl_ml_min", 60.0), ("platelets", 150.0))
# covariates that act on the hazards (patient.yaml); a cohort without them gets the population default, recorded in
# the outcome table's attrs ``covariate_defaults``
HAZARD_COVARIATES = ("age", "charlson")
MORTALITY_DAYS = (28, 60, 90, 365)


def _per_patient(cohort: xr.Dataset, name: str) -> np.ndarray:
    """A parameter per patient: the cohort's variable, else its ``fixed.`` override, else the patient.yaml value."""
    if name in cohort.data_vars:
        return np.asarray(cohort[name].values, dtype=np.float64)
    spec = {s.name: s.value for s in load_parameter_specs()}
    value = cohort.attrs.get(f"fixed.{name}", spec[name])
    return np.full(cohort.sizes["patient"], float(value))


def _per_patient_override(cohort: xr.Dataset, name: str) -> np.ndarray:
    """A per-patient value the ODE reads: the ``fixed.`` override wins over the cohort's variable (as in
    ``_chunk_inputs``), so the outcome table and the dynamics use the same number."""
    if f"fixed.{name}" in cohort.attrs:
        return np.full(cohort.sizes["patient"], float(cohort.attrs[f"fixed.{name}"]))
    return np.asarray(cohort[name].values, dtype=np.float64)


def _course_params(cohort: xr.Dataset) -> CourseParams:
    v = {n: _per_patient(cohort, n) for n in (*CourseParams._fields[:-1], "age", "charlson")}
    v.update({n: _per_patient(cohort, n) for n in ("beta_age", "beta_charlson")})
    hr = np.exp(v["beta_age"] * (v["age"] - 70.0) / 10.0 + v["beta_charlson"] * (v["charlson"] - 2.0))
    return CourseParams(*(v[n] for n in CourseParams._fields[:-1]), hazard_ratio=hr)


def simulate_outcomes(
    cohort: xr.Dataset,
    arms: Sequence[Any],
    *,
    key: Key[Array, ""],
    days: int = 28,
    chunk_size: int = 1000,
    solver: SolverConfig = DEFAULT_SOLVER,
    progress: bool | None = None,
    precision: str = "float64",
    daily_states: str | Sequence[str] = "all",
) -> xr.Dataset:
    """Simulate every patient of ``cohort`` under every arm.

    Args:
        cohort: output of :func:`simulate_cohort`.
        arms: objects with ``init_state``, ``rhs``, ``jump_times`` (and optionally ``name``); see ``_arms.py``.
        key: outcome-stage key (SOFA observation noise per global patient index and day; shared by all arms).
        days: horizon in days, 10 to 365 (28, 60, 90 or 365 typically). The ODE runs to ``min(days, 90)``;
            the course after it (discharge, post-acute death) is closed form (:mod:`._course`).
        chunk_size: patients per compiled batch; results do not depend on it.
        solver: static solver settings.
        progress: True a bar, False plain log lines, None a bar only on a terminal (``sepsim._progress``).
        precision: ``"float64"`` (default, whatever the process-wide JAX setting) or ``"float32"``.
        daily_states: the model states kept as daily ``state_<name>`` variables: ``"all"`` (default) or a list of
            names from ``STATE_NAMES`` (may be empty). Every other variable is computed from all of them either way;
            the 15 states are ~33 of a 90-day table's ~41 kB per patient (3 arms, float64), so a short list lets a
            cohort of 10^6 patients fit in memory. The table is built chunk by chunk: its peak memory is the table
            plus one chunk. A shortened table records its list in the attribute ``daily_states``.

    Returns:
        Dataset with dims (patient, arm, day = 0..min(days, 90)): the physiological states of ``daily_states``,
        daily (``state_<name>``), ``sofa``, ``alive``, ``in_icu``; (patient, arm): ``death_day``, ``dead_<d>d`` for d in
        28, 60, 90, 365 up to ``days``, ``icu_discharge_day``, ``hospital_discharge_day``, ``icu_los_d``,
        ``hospital_los_d``, ``died_in_icu``, ``died_in_hospital``, ``responder``, ``sofa_day9``,
        ``sofa_baseline``, ``secondary_infection``, ``infection_day``, ``organ_support_days``, ``osfd_21``,
        ``infection_response_d15``, ``ventilation_days``, ``vasopressor_days``, ``vfd_28``,
        ``vasopressor_free_days_28``, ``ae_<event>`` / ``ae_<event>_day`` / ``sae``, ``solver_ok``, ``solver_steps``;
        (patient, arm, day) also ``organ_support``, ``ventilation``, ``vasopressor``, ``hla_dr_pct_positive``,
        ``hla_dr_mfi``; (patient): screening biomarkers ``screen_<name>`` (measured) and ``true_<name>``,
        ``screen_hla_dr_pct_positive``, ``screen_hla_dr_mfi``, ``shock_baseline``, ``apache_ii``, ``saps_ii`` and
        their ``*_pred_mortality``, ``endotype`` / ``endotype_true`` (strings), ``t_screen_h``, covariates.
        Attrs ``solver_failures``, ``days``, ``covariate_defaults``, ``safety_events``. Times are float days since
        randomisation, NaN where the event does not happen before the horizon.
    """
    with precision_scope(precision, "outcomes.precision"):
        return _simulate(cohort, arms, key, int(days), chunk_size, solver, progress, daily_states)


def daily_state_names(daily_states: str | Sequence[str], key: str = "daily_states") -> tuple[str, ...]:
    """The model states kept as daily ``state_<name>`` variables: ``"all"`` (every state) or a list of names from
    :data:`STATE_NAMES` (in any order; may be empty). Raises :class:`ConfigError` naming ``key`` otherwise."""
    if isinstance(daily_states, str) or not isinstance(daily_states, Sequence):
        if daily_states != "all":
            raise ConfigError(key, f'must be "all" or a list of state names, got {daily_states!r}')
        return tuple(STATE_NAMES)
    names = [str(n) for n in daily_states]
    unknown = sorted(set(names) - set(STATE_NAMES))
    if unknown:
        raise ConfigError(key, f"unknown state(s) {unknown}; the model's states are {list(STATE_NAMES)}")
    return tuple(n for n in STATE_NAMES if n in names)


def _simulate(cohort, arms, key, days, chunk_size, solver, progress, daily_states) -> xr.Dataset:
    if not 10 <= days <= 365:
        raise ConfigError("outcomes.days", f"must be in [10, 365], got {days!r}")
    if len(arms) == 0:
        raise ConfigError("outcomes.arms", "need at least one arm")
    if chunk_size < 1:
        raise ConfigError("outcomes.chunk_size", "must be >= 1")
    keep = daily_state_names(daily_states, "outcomes.daily_states")
    n = cohort.sizes["patient"]
    if n == 0:
        raise ConfigError("outcomes.cohort", "the cohort has no patients")
    n_dev = len(jax.devices())
    chunk = -(-min(chunk_size, n) // n_dev) * n_dev  # padded to a multiple of the local device count
    names = [str(getattr(a, "name", f"arm{i}")) for i, a in enumerate(arms)]
    if len(set(names)) != len(names):
        raise ConfigError("outcomes.arms", f"arm names must be unique, got {names}")
    ode_days = min(days, ACUTE_DAYS)
    cov0 = Covariates(*(jnp.asarray(d) for _, d in _COV_DEFAULTS))
    wrapped = [with_safety_hazards(a, cov0) for a in arms]  # therapies' safety hazards as trailing arm states
    solvers = [make_batch_solver(a, solver) for a, _ in wrapped]
    ae_names = sorted({n for _, names in wrapped for n in names})
    starts = list(range(0, n, chunk))
    out: _Table | None = None
    with progress_bar(len(starts) * len(arms), desc="patients x arms", mode=progress_mode(progress)) as bar:
        for s0 in starts:
            sl = slice(s0, min(s0 + chunk, n))
            part = cohort.isel(patient=sl)
            solved = _solve_chunk(part, solvers, wrapped, ae_names, ode_days, chunk, bar)
            # every read-out is per patient (draws keyed by the global patient index), so a chunk's table is its
            # patients' rows of the whole cohort's; only the kept daily states are carried beyond the chunk
            table = _chunk_table(part, names, days, key, ae_names, solved, keep)
            out = out or _Table.like(table, n)
            out.put(sl, table)
    assert out is not None  # n >= 1: at least one chunk
    ds = out.dataset({"patient": cohort["patient"].values, "arm": names, "day": np.arange(ode_days + 1)})
    failures = int((~ds.solver_ok.values).sum())
    ds.attrs["solver_failures"] = failures
    if len(keep) < len(STATE_NAMES):
        ds.attrs["daily_states"] = " ".join(keep) or "none"
    if failures:
        warnings.warn(
            f"simulate_outcomes: {failures} of {ds.solver_ok.size} patient-arm solves failed; flagged in `solver_ok`, "
            "their states are NaN/inf and their outcomes must not be used",
            RuntimeWarning,
            stacklevel=3,
        )
    return ds


class _Solved(NamedTuple):
    """The ODE read-outs of one chunk of patients under every arm."""

    states: np.ndarray  # (state, patient, arm, day)
    lam_d: np.ndarray
    lam_i: np.ndarray
    screen_true: np.ndarray
    ok: np.ndarray
    steps: np.ndarray
    ae_cum: dict[str, np.ndarray]


def _solve_chunk(part: xr.Dataset, solvers, wrapped, ae_names, ode_days: int, chunk: int, bar) -> _Solved:
    """Solve one chunk of patients (padded to ``chunk``) under every arm."""
    m, n_arm, nd = part.sizes["patient"], len(solvers), ode_days + 1
    states = np.empty((N_PHYSIOLOGICAL, m, n_arm, nd))
    lam_d, lam_i = np.empty((m, n_arm, nd)), np.empty((m, n_arm, nd))
    screen_true = np.empty((m, len(BIOMARKERS)))
    ok, steps = np.empty((m, n_arm), bool), np.empty((m, n_arm), np.int64)
    ae_cum = {k: np.zeros((m, n_arm, nd)) for k in ae_names}
    params, cov, ts = shard_patients(_chunk_inputs(part, slice(0, m), chunk, ode_days))
    for a, solve in enumerate(solvers):
        sol = solve(params, cov, ts)
        ys = np.asarray(sol.ys)[:m]
        x = np.exp(ys[:, :, :N_PHYSIOLOGICAL])
        states[:, :, a, :] = np.moveaxis(x[:, 1:, :], 2, 0)
        lam_d[:, a], lam_i[:, a] = ys[:, 1:, IDX_DEATH], ys[:, 1:, IDX_INFECTION]
        ok[:, a], steps[:, a] = np.asarray(sol.ok)[:m], np.asarray(sol.steps)[:m]
        arm_names = wrapped[a][1]
        for j, k in enumerate(arm_names):
            ae_cum[k][:, a] = ys[:, 1:, ys.shape[-1] - len(arm_names) + j]
        if a == 0:  # screening precedes randomisation: identical in every arm
            screen_true[:] = np.stack([x[:, 0, _BIOMARKER_STATE[b]] for b in BIOMARKERS], 1)
        bar.update(1)
    return _Solved(states, lam_d, lam_i, screen_true, ok, steps, ae_cum)


def _chunk_table(part: xr.Dataset, names, days: int, key, ae_names, solved: _Solved, keep) -> xr.Dataset:
    """The outcome table of one chunk's patients, with the daily states in ``keep`` only."""
    patients = part["patient"].values
    sofa_z = _sofa_noise(key, patients, solved.states.shape[-1])
    draws = course_draws(key, patients, "discharge"), course_draws(key, patients, "ward")
    s = solved
    ds = _assemble(part, names, days, s.states, s.lam_d, s.lam_i, s.screen_true, s.ok, s.steps, sofa_z, draws)
    ds = _add_trial_outcomes(ds, _per_patient(part, "o_ready"))
    ds = add_observations(ds, _observed_covariates(part), key)
    partly = tuple(k for k in ae_names if k in SERIOUS_FRACTION)
    ds = _add_safety(ds, s.ae_cum, safety_draws(key, patients, tuple(ae_names)), serious_draws(key, patients, partly))
    return ds.drop_vars([f"state_{v}" for v in STATE_NAMES if v not in keep])


class _Table:
    """The whole cohort's outcome table, filled chunk by chunk: one preallocated array per variable (the patient
    axis first in every variable), so the peak memory is the table plus one chunk."""

    def __init__(self, arrays: dict[str, np.ndarray], meta: dict[str, tuple[tuple, dict]], attrs: dict):
        self.arrays, self.meta, self.attrs = arrays, meta, attrs

    @classmethod
    def like(cls, table: xr.Dataset, n: int) -> _Table:
        arrays, meta = {}, {}
        for k, v in table.data_vars.items():
            if v.dims[0] != "patient":
                raise AssertionError(f"outcome variable {k} has dims {v.dims}: the patient axis must come first")
            # strings (endotypes) as objects: a chunk's longest string is not the cohort's
            dtype = object if v.dtype.kind == "U" else v.dtype
            arrays[k] = np.empty((n, *v.shape[1:]), dtype=dtype)
            meta[k] = (v.dims, dict(v.attrs))
        return cls(arrays, meta, dict(table.attrs))

    def put(self, sl: slice, table: xr.Dataset) -> None:
        for k, a in self.arrays.items():
            a[sl] = table[k].values

    def dataset(self, coords: dict[str, Any]) -> xr.Dataset:
        data = {}
        for k, a in self.arrays.items():
            dims, attrs = self.meta[k]
            data[k] = (dims, a.astype(str) if a.dtype == object else a, attrs)
        return xr.Dataset(data, coords={d: coords[d] for d in ("patient", "arm", "day")}, attrs=self.attrs)


def _observed_covariates(cohort: xr.Dataset) -> dict[str, Any]:
    """Covariates the observation models read (``_observations.py``); population defaults where absent."""
    out: dict[str, Any] = {c: _per_patient(cohort, c) for c in HAZARD_COVARIATES}
    for c, d in _COV_DEFAULTS:
        out[c] = np.asarray(cohort[c].values, np.float64) if c in cohort else np.full(cohort.sizes["patient"], d)
    out["shock"] = np.asarray(cohort["shock"].values, bool) if "shock" in cohort else None
    return out


def _add_trial_outcomes(ds: xr.Dataset, o_ready: np.ndarray) -> xr.Dataset:
    """Organ support, organ-support-free days and infection response (``_trial_outcomes.py``)."""
    pa, pad = ("patient", "arm"), ("patient", "arm", "day")
    death = np.nan_to_num(ds.death_day.values, nan=np.inf)
    support = organ_support(ds.state_organ_dysfunction.values, ds.in_icu.values, o_ready)
    ds["organ_support"] = (pad, support, {"long_name": "alive in ICU with O > o_ready (ventilation/vasopressors)"})
    ds["organ_support_days"] = (pa, support.sum(axis=-1).astype(np.int16), {"units": "d"})
    if ds.sizes["day"] > 21:
        hosp = np.nan_to_num(ds.hospital_discharge_day.values, nan=np.inf)
        osfd = support_free_days(support, death, hosp, float(ds.attrs["days"]))
        ds["osfd_21"] = (pa, osfd, {"units": "d", "long_name": "organ-support-free days to day 21, -1 = death"})
    if ds.sizes["day"] > 15:
        infection = np.nan_to_num(ds.infection_day.values, nan=np.inf)
        code = infection_response(ds.state_pathogen.values[:, :, 15], death, infection)
        ds["infection_response_d15"] = (
            pa,
            code,
            {"flag_values": "0 1 2", "flag_meanings": " ".join(INFECTION_RESPONSE)},
        )
    return ds


def _add_safety(
    ds: xr.Dataset, cum: dict[str, np.ndarray], draws: dict[str, np.ndarray], serious_u: dict[str, np.ndarray]
) -> xr.Dataset:
    """Safety events (``_safety_events.py``) and serious adverse events (ICH E2A) by the horizon."""
    death = np.nan_to_num(ds.death_day.values, nan=np.inf)
    pa = ("patient", "arm")
    sae = np.isfinite(death) | ds.secondary_infection.values
    for k in cum:
        t = safety_event_days(cum[k], draws[k], death)
        ds[f"ae_{k}"] = (pa, np.isfinite(t), {"long_name": f"{k} (therapy safety event) by the horizon"})
        ds[f"ae_{k}_day"] = (pa, np.where(np.isfinite(t), t, np.nan), _days(f"{k} onset; NaN: none"))
        serious = np.isfinite(t)
        if k in serious_u:  # serious in part: the patient's own draw decides, the same in every arm
            serious &= (serious_u[k] < SERIOUS_FRACTION[k])[:, None]
            ds[f"ae_{k}_serious"] = (pa, serious, {"long_name": f"serious {k} (therapy safety event) by the horizon"})
        sae |= serious
    ds["sae"] = (
        pa,
        sae,
        {
            "long_name": "serious adverse event (ICH E2A): death, ICU-acquired infection or a serious "
            "therapy safety event, by the horizon"
        },
    )
    ds.attrs["safety_events"] = " ".join(cum) or "none"
    return ds


def _assemble(cohort, names, days, states, lam_d, lam_i, screen_true, ok, steps, sofa_z, draws) -> xr.Dataset:
    n, n_arm, nd = lam_d.shape
    day = np.arange(nd)
    organ = states[STATE_NAMES.index("organ_dysfunction")]
    course = clinical_course(organ, lam_d, cohort["crn_death"].values, *draws, _course_params(cohort), float(days))
    death, t_icu = course.death, course.icu_discharge
    # the crossing the ODE's infection switch is centred on (_patient_rhs.infection_switch): draws below CRN_MIN
    # (probability 8e-4) are raised to it; a ``fixed.crn_infection`` override acts here as it does in the ODE
    crn_inf = np.maximum(_per_patient_override(cohort, "crn_infection"), CRN_MIN)
    infection = np.stack([_crossing_day(lam_i[:, a], crn_inf) for a in range(n_arm)], 1)
    infection = np.where((infection < death) & (infection < t_icu), infection, np.inf)
    alive = day[None, None, :] < death[:, :, None]
    sofa = np.clip(np.round(organ + SOFA_NOISE_SD * sofa_z[:, None, :]), 0.0, 24.0)
    sofa = np.where(alive, sofa, np.nan)
    drop = sofa[:, :, [0]] - sofa[:, :, 2:10]
    responder = (death > 9.0) & (np.nanmean(np.where(np.isnan(drop), 0.0, drop), axis=2) >= RESPONDER_DROP)
    sigma = np.array([np.sqrt(np.log1p(ASSAY_CV[b] ** 2)) for b in BIOMARKERS])
    measured = screen_true * np.exp(sigma[None, :] * cohort["crn_assay"].values)
    fer, hla = BIOMARKERS.index("ferritin"), BIOMARKERS.index("hla_dr")
    endo = np.asarray(ENDOTYPES)[classify_endotype(measured[:, fer], measured[:, hla])]
    endo_true = np.asarray(ENDOTYPES)[classify_endotype(screen_true[:, fer], screen_true[:, hla])]
    pa, pad = ("patient", "arm"), ("patient", "arm", "day")
    data: dict[str, Any] = {
        f"state_{s}": (pad, states[i], {"units": STATE_UNITS[i]}) for i, s in enumerate(STATE_NAMES)
    }
    los_icu = np.minimum(np.minimum(t_icu, death), float(days))
    los_hosp = np.minimum(np.minimum(course.hospital_discharge, death), float(days))
    data.update(
        sofa=(pad, sofa, {"units": "points", "observation": f"round(O + N(0,{SOFA_NOISE_SD}^2)) in [0,24]"}),
        alive=(pad, alive),
        in_icu=(pad, alive & (day[None, None, :] < t_icu[:, :, None])),
        death_day=(pa, _nan_inf(death), _days("death, days after randomisation; NaN: alive at the horizon")),
        icu_discharge_day=(pa, _nan_inf(t_icu), _days("ICU discharge alive; NaN: died in ICU or still there")),
        hospital_discharge_day=(pa, _nan_inf(course.hospital_discharge), _days("hospital discharge alive; NaN: none")),
        icu_los_d=(pa, los_icu, _days("days in ICU after randomisation, to discharge or death, censored at horizon")),
        hospital_los_d=(pa, los_hosp, _days("days in hospital after randomisation, censored at the horizon")),
        died_in_icu=(pa, course.death_in_icu),
        died_in_hospital=(pa, np.isfinite(death) & ~np.isfinite(course.hospital_discharge)),
        responder=(pa, responder),
        sofa_baseline=(pa, sofa[:, :, 0]),
        sofa_day9=(pa, sofa[:, :, 9]),
        secondary_infection=(pa, np.isfinite(infection)),
        infection_day=(pa, _nan_inf(infection), _days("ICU-acquired infection; NaN: none in ICU before the horizon")),
        solver_ok=(pa, ok),
        solver_steps=(pa, steps),
        endotype=("patient", endo.astype(str)),
        endotype_true=("patient", endo_true.astype(str)),
        t_screen_h=("patient", cohort["t_screen_h"].values),
    )
    for d in MORTALITY_DAYS:
        if days >= d:
            data[f"dead_{d}d"] = (pa, death <= float(d))
    for j, b in enumerate(BIOMARKERS):
        data[f"screen_{b}"] = ("patient", measured[:, j], {"assay_cv": ASSAY_CV[b]})
        data[f"true_{b}"] = ("patient", screen_true[:, j])
    for c in COVARIATE_NAMES:
        if c in cohort:
            data[c] = ("patient", cohort[c].values)
    coords = {"patient": cohort["patient"].values, "arm": names, "day": day}
    defaults = [f"{c}={_per_patient(cohort, c)[0]:g}" for c in HAZARD_COVARIATES if c not in cohort.data_vars]
    attrs = {"solver_failures": int((~ok).sum()), "days": days, "covariate_defaults": " ".join(defaults) or "none"}
    return xr.Dataset(data, coords=coords, attrs=attrs)


def _nan_inf(t: np.ndarray) -> np.ndarray:
    """Event times for the file: ``inf`` (no event before the horizon) becomes NaN (netCDF/CF fill)."""
    return np.where(np.isfinite(t), t, np.nan)


def _days(long_name: str) -> dict[str, str]:
    return {"units": "d", "long_name": long_name}
