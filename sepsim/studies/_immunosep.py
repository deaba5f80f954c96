"""The ImmunoSep main results table on simulated trial replicates (study ``immunosep``).

For every quantity of ImmunoSep's Table 2 and its safety table, per arm and stratum (MALS -> anakinra vs placebo,
immunoparalysis -> rhIFN-gamma vs placebo, and all randomised: matched therapy vs placebo), this gives the
distribution over simulated trials of the observed proportion (mean, 2.5% and 97.5% quantiles), of the difference
active - placebo, and the probability that the trial's test is significant: two-sided Fisher exact test at
``alpha`` = 0.05 (the standard test that reproduces the trial's printed P values, :mod:`._fisher`).

The trials are the run's own design cut to its final sample size (one analysis of every randomised patient, as
the published table is; 1:1 permuted blocks within stratum, IS-22), run by the engine (``run_trials``) once per
quantity with the same key on the same eligible pool: every quantity is read on the same patients and the same
allocations (common random numbers; ``tests/studies/test_studies_immunosep.py`` checks it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
import xarray as xr

from .._errors import ConfigError
from .._keys import stage_key
from ._endpoints import immune_dysfunction_reversal, sofa_response, superinfection_by
from ._fisher import fisher_two_sided

__all__ = ["Quantity", "IMMUNOSEP_QUANTITIES", "PUBLISHED", "final_analysis_design", "immunosep_table"]


class Quantity(NamedTuple):
    """One row of the results table: a binary read-out per (patient, arm)."""

    name: str
    long_name: str
    higher_is_better: bool
    values: Callable[[xr.Dataset], np.ndarray]


def _variable(name: str) -> Callable[[xr.Dataset], np.ndarray]:
    def read(ds: xr.Dataset) -> np.ndarray:
        if name not in ds:
            raise ConfigError("population.days", f"the outcome table has no {name!r} (90-day mortality needs days: 90)")
        return np.asarray(ds[name].transpose("patient", "arm").values, dtype=bool)

    return read


IMMUNOSEP_QUANTITIES = (
    Quantity("sofa_response_d9", "≥1.4-point decrease of mean SOFA, days 2-9 (primary; IS-05)", True,
             _variable("responder")),
    Quantity("sofa_response_d15", "≥1.4-point decrease of mean SOFA, days 2-15", True, lambda d: sofa_response(d, 15)),
    Quantity("dead_28d", "28-day mortality", False, _variable("dead_28d")),
    Quantity("dead_90d", "90-day mortality", False, _variable("dead_90d")),
    Quantity("immune_reversal_d28", "reversal of immune dysfunction by day 28 (HLA-DR > 8000, ferritin < 4420)", True,
             lambda d: immune_dysfunction_reversal(d, 28)),
    Quantity("superinfection_d15", "ICU-acquired superinfection by day 15", False, lambda d: superinfection_by(d, 15)),
    Quantity("sae", "serious adverse event (ICH E2A) by the horizon", False, _variable("sae")),
    Quantity("anemia", "anaemia (therapy safety event)", False, _variable("ae_anemia")),
    Quantity("bleeding", "bleeding (therapy safety event)", False, _variable("ae_bleeding")),
)  # fmt: skip

# Published counts (events, patients) from the calibration targets only (every other published outcome is a
# prediction the model is not shown): ../shared/science/calibration_targets.yaml IS-05 (all), IS-06 (strata),
# IS-08p (placebo 28-day mortality).
PUBLISHED: dict[tuple[str, str, str], tuple[int, int]] = {
    ("sofa_response_d9", "all", "active"): (46, 131),
    ("sofa_response_d9", "all", "placebo"): (26, 145),
    ("sofa_response_d9", "MALS", "active"): (12, 25),
    ("sofa_response_d9", "MALS", "placebo"): (4, 23),
    ("sofa_response_d9", "immunoparalysis", "active"): (34, 106),
    ("sofa_response_d9", "immunoparalysis", "placebo"): (22, 122),
    ("dead_28d", "all", "placebo"): (72, 145),
}


def final_analysis_design(design: dict[str, Any]) -> dict[str, Any]:
    """The design cut to one analysis of all randomised patients (its last look), as the published table is."""
    out = {**design, "look_n": [int(design["look_n"][-1])]}
    enrol = dict(out.get("enrolment") or {})
    if "randomised_n" in enrol:
        enrol["randomised_n"] = None
    if enrol:
        out["enrolment"] = enrol
    return out


def _stratum_arms(design: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """stratum -> (control, active arm); the immunosep table needs one active arm per stratum against the control."""
    strata, pairs, control = design.get("strata"), design.get("stratum_arms"), design.get("control")
    if not strata or not pairs or control is None:
        raise ConfigError("design.stratum_arms", "study immunosep needs strata, stratum_arms and a control")
    out = {}
    for stratum, arms in zip(strata, pairs, strict=True):
        active = [a for a in arms if a != control]
        if control not in arms or len(active) != 1:
            raise ConfigError(
                "design.stratum_arms", f"stratum {stratum!r}: needs [control, one active arm], got {arms}"
            )
        out[str(stratum)] = (str(control), str(active[0]))
    return out


def _counts(
    table: xr.Dataset,
    quantity: Quantity,
    design: Any,
    stratum: str,
    n_trials: int,
    key: Any,
    processes: int | str = 1,
):
    """(events, n) per (trial, arm, stratum) of the final analysis, by the engine on this quantity's table."""
    from ..platform import from_dataset, run_trials

    data = table.assign({"_quantity": (("patient", "arm"), quantity.values(table))})
    outcomes = from_dataset(data, endpoint="_quantity", stratum=stratum, strata=list(design.strata))
    res = run_trials(outcomes, design, n_trials=n_trials, key=key, progress=False, processes=processes)
    events = res["events_final"].transpose("trial", "arm", "stratum")
    n = res["n_final"].transpose("trial", "arm", "stratum")
    return np.rint(events.values).astype(np.int64), n.values.astype(np.int64), list(res["arm"].values)


def _pooled_truth(table: xr.Dataset, values: np.ndarray, stratum: str, pairs: dict[str, tuple[str, str]]):
    """Pool truth over the design's strata: placebo, and each patient's matched active arm."""
    arms = list(table["arm"].values)
    labels = np.asarray(table[stratum].values).astype(str)
    keep = np.isin(labels, list(pairs))
    rows = np.flatnonzero(keep)
    control = values[rows, arms.index(next(iter(pairs.values()))[0])]
    active = values[rows, [arms.index(pairs[lab][1]) for lab in labels[rows]]]
    return (control.mean(), active.mean()) if rows.size else (np.nan, np.nan)


def _summary(x: np.ndarray) -> tuple[float, float, float]:
    x = x[np.isfinite(x)]
    if x.size == 0:
        return np.nan, np.nan, np.nan
    return float(x.mean()), float(np.quantile(x, 0.025)), float(np.quantile(x, 0.975))


def immunosep_table(
    table: xr.Dataset,
    design: dict[str, Any],
    *,
    stratum: str,
    n_trials: int,
    seed: int,
    alpha: float = 0.05,
    quantities: tuple[Quantity, ...] = IMMUNOSEP_QUANTITIES,
    processes: int | str = 1,
) -> xr.Dataset:
    """The results table over ``n_trials`` simulated trials on the eligible ``table`` (dims patient, arm).

    Returns a CF Dataset with dims ``quantity``, ``stratum`` (the design's strata and ``all``), ``arm``
    (``placebo``, ``active``; ``active_arm`` names the active arm per stratum) and ``bound`` (2.5%, 97.5%).
    """
    from ..platform import design_from_dict

    pairs = _stratum_arms(design)
    final = design_from_dict(final_analysis_design(design))
    strata = [*pairs, "all"]
    key = stage_key(seed, "study")  # the same trials (patients, allocations) for every quantity
    shape = (len(quantities), len(strata))
    prop = np.full((*shape, 2, 3), np.nan)
    n_mean = np.full((*shape, 2), np.nan)
    truth = np.full((*shape, 2), np.nan)
    diff = np.full((*shape, 3), np.nan)
    p_sig, p_fav = np.full(shape, np.nan), np.full(shape, np.nan)
    for q, quantity in enumerate(quantities):
        events, n, arm_names = _counts(table, quantity, final, stratum, n_trials, key, processes)
        values = quantity.values(table)
        cells = []  # per stratum: (events, n) for placebo and active, (trial,)
        for s, name in enumerate(pairs):
            c, a = (arm_names.index(x) for x in pairs[name])
            cells.append(((events[:, c, s], n[:, c, s]), (events[:, a, s], n[:, a, s])))
            in_stratum = np.asarray(table[stratum].values).astype(str) == name
            truth[q, s] = [values[in_stratum, list(table["arm"].values).index(x)].mean() for x in pairs[name]]
        cells.append(tuple((sum(c[j][0] for c in cells), sum(c[j][1] for c in cells)) for j in (0, 1)))
        truth[q, -1] = _pooled_truth(table, values, stratum, pairs)
        for s, ((ec, nc), (ea, na)) in enumerate(cells):
            with np.errstate(invalid="ignore", divide="ignore"):
                rc, ra = ec / nc, ea / na
            prop[q, s, 0], prop[q, s, 1] = _summary(rc), _summary(ra)
            n_mean[q, s] = nc.mean(), na.mean()
            diff[q, s] = _summary(ra - rc)
            significant = fisher_two_sided(ea, na, ec, nc) < alpha
            favourable = (ra > rc) if quantity.higher_is_better else (ra < rc)
            p_sig[q, s], p_fav[q, s] = significant.mean(), (significant & favourable).mean()
    return _dataset(quantities, strata, pairs, prop, n_mean, truth, diff, p_sig, p_fav, n_trials, alpha)


def _published(quantities: tuple[Quantity, ...], strata: list[str]) -> tuple[np.ndarray, np.ndarray]:
    events = np.full((len(quantities), len(strata), 2), -1, dtype=np.int64)
    n = np.full_like(events, -1)
    for q, quantity in enumerate(quantities):
        for s, stratum in enumerate(strata):
            for j, arm in enumerate(("placebo", "active")):
                events[q, s, j], n[q, s, j] = PUBLISHED.get((quantity.name, stratum, arm), (-1, -1))
    return events, n


def _dataset(quantities, strata, pairs, prop, n_mean, truth, diff, p_sig, p_fav, n_trials, alpha) -> xr.Dataset:
    qsa, qs = ("quantity", "stratum", "arm"), ("quantity", "stratum")
    mcse = np.sqrt(p_sig * (1.0 - p_sig) / n_trials)
    pub_events, pub_n = _published(quantities, strata)
    with np.errstate(invalid="ignore", divide="ignore"):
        pub = np.where(pub_n > 0, pub_events / np.maximum(pub_n, 1), np.nan)
        # combined SE: the published proportion's binomial SE and the simulated mean's Monte-Carlo SE
        sim_sd = (prop[..., 2] - prop[..., 1]) / (2 * 1.959964)
        z = (prop[..., 0] - pub) / np.sqrt(pub * (1 - pub) / np.maximum(pub_n, 1) + sim_sd**2 / n_trials)
    share = {"units": "1"}
    ds = xr.Dataset(
        {
            "proportion_mean": (qsa, prop[..., 0], {**share, "long_name": "mean over simulated trials of the "
                                                    "observed proportion"}),
            "proportion_q025": (qsa, prop[..., 1], {**share, "long_name": "2.5% quantile over simulated trials"}),
            "proportion_q975": (qsa, prop[..., 2], {**share, "long_name": "97.5% quantile over simulated trials"}),
            "n_mean": (qsa, n_mean, {"units": "1", "long_name": "mean number of randomised patients"}),
            "true_proportion": (qsa, truth, {**share, "long_name": "proportion in the whole eligible pool (the "
                                             "simulated truth)"}),
            "difference_mean": (qs, diff[..., 0], {**share, "long_name": "mean of active - placebo proportion"}),
            "difference_q025": (qs, diff[..., 1], {**share, "long_name": "2.5% quantile of active - placebo"}),
            "difference_q975": (qs, diff[..., 2], {**share, "long_name": "97.5% quantile of active - placebo"}),
            "p_significant": (qs, p_sig, {**share, "long_name": f"P(two-sided Fisher exact p < {alpha})"}),
            "p_significant_mcse": (qs, mcse, {**share, "long_name": "Monte-Carlo SE of p_significant"}),
            "p_significant_favourable": (qs, p_fav, {**share, "long_name": "P(significant and active better)"}),
            "published_events": (qsa, pub_events, {"units": "1", "_FillValue": -1,
                                                   "long_name": "published events (calibration targets)"}),
            "published_n": (qsa, pub_n, {"units": "1", "_FillValue": -1, "long_name": "published patients"}),
            "published_proportion": (qsa, pub, {**share, "long_name": "published proportion"}),
            "z_published": (qsa, z, {"units": "1", "long_name": "(simulated mean - published) / combined SE"}),
        },
        coords={
            "quantity": [q.name for q in quantities],
            "stratum": strata,
            "arm": ["placebo", "active"],
            "quantity_long_name": ("quantity", [q.long_name for q in quantities]),
            "higher_is_better": ("quantity", np.array([q.higher_is_better for q in quantities], dtype=np.int8),
                                 {"flag_values": np.array([0, 1], np.int8), "flag_meanings": "lower_is_better "
                                  "higher_is_better"}),
            "active_arm": ("stratum", [pairs[s][1] if s in pairs else "matched" for s in strata]),
        },
        attrs={
            "Conventions": "CF-1.10",
            "title": "ImmunoSep main results table on simulated trial replicates",
            "n_trials": n_trials,
            "test": f"two-sided Fisher exact test at alpha = {alpha} (ImmunoSep's printed P values, IS-05/IS-06)",
        },
    )  # fmt: skip
    return ds
