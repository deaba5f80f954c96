"""Potential outcomes: each virtual patient's outcome under every arm, plus the patient's stratum.

The trial engine never simulates outcomes: it picks patients from this table and reveals the column of the arm each
is randomised to (DESIGN.md, "Potential outcomes with common random numbers").
"""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int, Key

from ..._errors import ConfigError

__all__ = ["PotentialOutcomes", "binary_scenario", "normal_scenario", "ordinal_scenario", "from_dataset"]


class PotentialOutcomes(eqx.Module):
    """A table of potential outcomes.

    Attributes:
        outcome: (patient, arm) outcome of each patient under each arm (0/1 for binary endpoints).
        stratum: (patient,) stratum index of each patient (0 when unstratified).
        arms: arm names (static).
        strata: stratum names (static).
        biomarkers: optional (patient, marker) screening biomarkers.
        biomarker_names: names of the biomarker columns (static).
        latent_u: optional (patient,) uniforms behind a parametric binary scenario (outcome = u < rate); lets the
            engine apply a time trend to the rates with the same common random numbers.
        rates: optional (stratum, arm) true event rates (binary) or true means (normal) of a parametric scenario.
    """

    outcome: Float[Array, "patient arm"]
    stratum: Int[Array, " patient"]
    arms: tuple[str, ...] = eqx.field(static=True)
    strata: tuple[str, ...] = eqx.field(static=True)
    biomarkers: Float[Array, "patient marker"] | None = None
    biomarker_names: tuple[str, ...] = eqx.field(static=True, default=())
    latent_u: Float[Array, " patient"] | None = None
    rates: Float[Array, "stratum arm"] | None = None

    @property
    def n_patients(self) -> int:
        return int(self.outcome.shape[0])

    def true_mean(self) -> np.ndarray:
        """(arm, stratum) mean outcome in the table (the scenario's true rates when ``rates`` is given)."""
        if self.rates is not None:
            return np.asarray(self.rates, dtype=np.float64).T
        y = np.asarray(self.outcome, dtype=np.float64)
        s = np.asarray(self.stratum)
        out = np.full((len(self.arms), len(self.strata)), np.nan)
        for j in range(len(self.strata)):
            if np.any(s == j):
                out[:, j] = y[s == j].mean(axis=0)
        return out

    def stratum_mix(self) -> np.ndarray:
        s = np.asarray(self.stratum)
        return np.bincount(s, minlength=len(self.strata)) / s.shape[0]


def _names(arms: list[str] | None, strata: list[str] | None, n_a: int, n_s: int) -> tuple[list[str], list[str]]:
    """Arm and stratum names of a parametric table (defaults "A", "B", ... and "all" or "S0", "S1", ...)."""
    arms = list(arms) if arms is not None else [chr(ord("A") + i) for i in range(n_a)]
    if strata is None:
        strata = ["all"] if n_s == 1 else [f"S{i}" for i in range(n_s)]
    if len(arms) != n_a or len(strata) != n_s:
        raise ConfigError("scenario.arms", f"need {n_a} arm names and {n_s} stratum names")
    return arms, list(strata)


def _draw_strata(key: Key[Array, ""], n_s: int, n_patients: int, stratum_probs: list[float] | None) -> Array:
    """Each patient's stratum index, drawn from the stratum mix (equal by default)."""
    if n_s == 1:
        return jnp.zeros((n_patients,), dtype=jnp.int32)
    p = np.full(n_s, 1.0 / n_s) if stratum_probs is None else np.asarray(stratum_probs, dtype=np.float64)
    return jax.random.choice(key, n_s, (n_patients,), p=jnp.asarray(p / p.sum())).astype(jnp.int32)


def binary_scenario(
    rates: Any,
    n_patients: int,
    *,
    key: Key[Array, ""],
    arms: list[str] | None = None,
    strata: list[str] | None = None,
    stratum_probs: list[float] | None = None,
) -> PotentialOutcomes:
    """A parametric binary scenario with common random numbers.

    Each patient gets one uniform ``u``; the outcome under arm ``a`` is ``u < p[stratum, a]``, so all arms share
    draws and a patient who has the event on a better arm also has it on every worse one.

    Args:
        rates: (arm,) or (stratum, arm) true event rates.
        n_patients: table size.
        key: PRNG key.
        arms: arm names (default "A", "B", ...).
        strata: stratum names (default "all" or "S0", "S1", ...).
        stratum_probs: stratum mix (default equal).
    """
    r = np.atleast_2d(np.asarray(rates, dtype=np.float64))
    if r.ndim != 2 or np.any(r < 0) or np.any(r > 1):
        raise ConfigError("scenario.rates", "must be (arm,) or (stratum, arm) probabilities in [0, 1]")
    n_s, n_a = r.shape
    arms, strata = _names(arms, strata, n_a, n_s)
    k_u, k_s = jax.random.split(key)
    u = jax.random.uniform(k_u, (n_patients,), dtype=jnp.result_type(float))
    s = _draw_strata(k_s, n_s, n_patients, stratum_probs)
    rj = jnp.asarray(r)
    y = (u[:, None] < rj[s]).astype(u.dtype)
    return PotentialOutcomes(outcome=y, stratum=s, arms=tuple(arms), strata=tuple(strata), latent_u=u, rates=rj)


def normal_scenario(
    means: Any,
    sd: Any,
    n_patients: int,
    *,
    key: Key[Array, ""],
    arms: list[str] | None = None,
    strata: list[str] | None = None,
    stratum_probs: list[float] | None = None,
) -> PotentialOutcomes:
    """A parametric continuous scenario (e.g. change in SOFA score) with common random numbers.

    Each patient gets one standard normal ``z``, shared by all arms: the outcome under arm ``a`` is
    ``means[stratum, a] + sd[a] * z``, so arms differ only by their treatment effect on the same patients.

    Args:
        means: (arm,) or (stratum, arm) true mean outcomes.
        sd: outcome standard deviation, a scalar or one per arm (> 0).
        n_patients: table size.
        key: PRNG key.
        arms: arm names (default "A", "B", ...).
        strata: stratum names (default "all" or "S0", "S1", ...).
        stratum_probs: stratum mix (default equal).
    """
    m = np.atleast_2d(np.asarray(means, dtype=np.float64))
    n_s, n_a = m.shape
    s_d = np.broadcast_to(np.asarray(sd, dtype=np.float64), (n_a,))
    if not np.all(np.isfinite(m)) or not np.all(s_d > 0):
        raise ConfigError("scenario.means", "means must be finite and sd > 0 (a scalar or one per arm)")
    arms, strata = _names(arms, strata, n_a, n_s)
    k_z, k_s = jax.random.split(key)
    z = jax.random.normal(k_z, (n_patients,), dtype=jnp.result_type(float))
    s = _draw_strata(k_s, n_s, n_patients, stratum_probs)
    mj = jnp.asarray(m, dtype=z.dtype)
    y = mj[s] + jnp.asarray(s_d, dtype=z.dtype)[None, :] * z[:, None]
    return PotentialOutcomes(outcome=y, stratum=s, arms=tuple(arms), strata=tuple(strata), rates=mj)


def ordinal_scenario(
    control_probs: Any,
    odds_ratios: Any,
    n_patients: int,
    *,
    key: Key[Array, ""],
    arms: list[str] | None = None,
    strata: list[str] | None = None,
    stratum_probs: list[float] | None = None,
) -> PotentialOutcomes:
    """A parametric ordinal scenario (categories ``0 .. C-1``) under proportional odds, with common random numbers.

    Arm ``a`` in stratum ``s`` has ``P(Y <= c) = logistic(logit(F_sc) - log(OR_a))`` with ``F_s`` the cumulative
    control probabilities, so ``OR_a > 1`` shifts patients to *higher* categories (the model of
    ``analysis.model: proportional_odds``). Each patient gets one uniform ``u`` and the category
    ``#{c : u > P(Y <= c)}`` under every arm, so a patient never moves down a category on an arm with a larger OR.

    Args:
        control_probs: (C,) or (stratum, C) category probabilities of the reference arm (each row sums to 1).
        odds_ratios: (arm,) or (stratum, arm) common odds ratios for a higher category (1 for the reference).
        n_patients: table size.
        key: PRNG key.
        arms: arm names (default "A", "B", ...).
        strata: stratum names (default "all" or "S0", "S1", ...).
        stratum_probs: stratum mix (default equal).
    """
    p0 = np.atleast_2d(np.asarray(control_probs, dtype=np.float64))
    odds = np.atleast_2d(np.asarray(odds_ratios, dtype=np.float64))
    if p0.shape[1] < 2 or np.any(p0 < 0) or not np.allclose(p0.sum(axis=1), 1.0):
        raise ConfigError("scenario.control_probs", "must be (C,) or (stratum, C) probabilities summing to 1, C >= 2")
    if not np.all(np.isfinite(odds)) or np.any(odds <= 0):
        raise ConfigError("scenario.odds_ratios", "must be positive odds ratios, (arm,) or (stratum, arm)")
    n_s = max(p0.shape[0], odds.shape[0])
    p0, odds = np.broadcast_to(p0, (n_s, p0.shape[1])), np.broadcast_to(odds, (n_s, odds.shape[1]))
    n_a, n_c = odds.shape[1], p0.shape[1]
    arms, strata = _names(arms, strata, n_a, n_s)
    with np.errstate(divide="ignore"):
        logit_f = np.log(np.cumsum(p0, axis=1)[:, :-1]) - np.log1p(-np.cumsum(p0, axis=1)[:, :-1])
    cdf = 1.0 / (1.0 + np.exp(-(logit_f[:, None, :] - np.log(odds)[:, :, None])))  # (S, A, C-1)
    k_u, k_s = jax.random.split(key)
    u = jax.random.uniform(k_u, (n_patients,), dtype=jnp.result_type(float))
    s = _draw_strata(k_s, n_s, n_patients, stratum_probs)
    y = jnp.sum(u[:, None, None] > jnp.asarray(cdf, dtype=u.dtype)[s], axis=-1).astype(u.dtype)
    pmf = np.diff(np.concatenate([np.zeros((n_s, n_a, 1)), cdf, np.ones((n_s, n_a, 1))], axis=2), axis=2)
    mean_cat = jnp.asarray(pmf @ np.arange(n_c, dtype=np.float64), dtype=u.dtype)  # (S, A) expected category
    return PotentialOutcomes(outcome=y, stratum=s, arms=tuple(arms), strata=tuple(strata), rates=mean_cat)


def from_dataset(
    ds: Any,
    *,
    endpoint: str,
    stratum: str | None = None,
    strata: list[str] | None = None,
    biomarkers: list[str] | None = None,
) -> PotentialOutcomes:
    """Potential outcomes from an xarray Dataset with dims (patient, arm) (``sepsim.models`` stage 3).

    Args:
        ds: the Dataset; ``ds[endpoint]`` has dims (patient, arm) (a ``day`` dim must be reduced beforehand).
        endpoint: outcome variable, e.g. "death_28d".
        stratum: optional (patient,) variable with the stratum of each patient (integer codes or names).
        strata: stratum names in index order (default: sorted unique values of ``ds[stratum]``).
        biomarkers: optional (patient,) variables to keep as screening biomarkers.
    """
    if endpoint not in ds:
        raise ConfigError("endpoint", f"{endpoint!r} is not a variable of the dataset; have {list(ds.data_vars)}")
    y = ds[endpoint]
    if set(y.dims) != {"patient", "arm"}:
        raise ConfigError("endpoint", f"{endpoint!r} must have dims (patient, arm), has {y.dims}")
    y = y.transpose("patient", "arm")
    arms = tuple(str(a) for a in y["arm"].values) if "arm" in y.coords else tuple(f"arm{i}" for i in range(y.shape[1]))
    vals = np.asarray(y.values, dtype=np.float64)
    if np.any(~np.isfinite(vals)):
        raise ConfigError("endpoint", f"{endpoint!r} has non-finite values (failed solves must be handled upstream)")
    n = vals.shape[0]
    if stratum is None:
        s_idx = np.zeros(n, dtype=np.int32)
        names = ("all",)
    else:
        if stratum not in ds:
            raise ConfigError("stratum", f"{stratum!r} is not a variable of the dataset")
        raw = np.asarray(ds[stratum].values)
        if strata is None:
            uniq = sorted(set(raw.tolist()))
            names = tuple(str(u) for u in uniq)
            lookup = {u: i for i, u in enumerate(uniq)}
        else:
            names = tuple(strata)
            if np.issubdtype(raw.dtype, np.integer):
                lookup = {i: i for i in range(len(names))}
            else:
                lookup = {nm: i for i, nm in enumerate(names)}
        try:
            s_idx = np.asarray([lookup[v] for v in raw.tolist()], dtype=np.int32)
        except KeyError as e:
            raise ConfigError("stratum", f"value {e.args[0]!r} is not one of the strata {list(names)}") from None
    bm = None
    bm_names: tuple[str, ...] = ()
    if biomarkers:
        bm = jnp.asarray(np.stack([np.asarray(ds[b].values, dtype=np.float64) for b in biomarkers], axis=1))
        bm_names = tuple(biomarkers)
    return PotentialOutcomes(
        outcome=jnp.asarray(vals),
        stratum=jnp.asarray(s_idx),
        arms=arms,
        strata=names,
        biomarkers=bm,
        biomarker_names=bm_names,
    )
