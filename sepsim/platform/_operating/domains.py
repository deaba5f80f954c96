"""Operating characteristics of a factorial platform (``design.domains``), per domain, with Monte-Carlo errors.

Input: the results of :func:`sepsim.platform.run_trials` for a domains design (dims ``trial``, ``look``,
``domain``, ``domain_arm``, ``arm``; see :func:`sepsim.platform._engine.domains.run_domain_trials`) and, optionally, the
true event rate of every combination arm (``true_mean`` with dim ``arm`` in the results, or the ``true_mean``
argument). Each domain is a trial of its own arms, analysed marginally, so its figures are those of a single-domain
design: P(domain outcome), P(any non-control arm of the domain declared superior) (its power, or its type-I error
when the domain is null), P(decision) per domain arm, patients per domain arm and their share (allocation).

The truth of a domain arm is its **marginal** event rate: the mean of the combination rates that contain it,
over equal shares of the other domains' arms (the share a fixed 1:1 design gives them). A domain is null when all
its arms have the same combination rates whatever the other domains' arms (no main effect and no interaction), so
``p_superiority_domain`` of a null domain is its type-I error whatever the other domains do.

Monte-Carlo errors as :func:`~sepsim.platform._operating.trials.operating_characteristics` (binomial SE with Wilson
intervals for proportions, ``sd / sqrt(n)`` for means, bootstrap for quantiles).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from ..._errors import ConfigError
from .._results.schema import DOMAIN_RESULTS_SCHEMA, check_results
from .trials import DECISIONS, OUTCOMES, QUANTILES, STATS, _bootstrap, _mean, _prop, _quantiles

__all__ = ["domain_operating_characteristics", "validate_domain_results"]


def validate_domain_results(results: xr.Dataset) -> None:
    """Check that ``results`` are those of a domains design; raise :class:`ConfigError` naming what is wrong."""
    if not isinstance(results, xr.Dataset):
        raise ConfigError("results", f"must be an xarray.Dataset, got {type(results).__name__}")
    check_results(results, DOMAIN_RESULTS_SCHEMA)  # required variables present; known variables with their dims
    if "arm_name" not in results.coords:
        raise ConfigError("results.arm_name", "coordinate (domain, domain_arm) missing")
    if results.sizes["trial"] < 2:
        raise ConfigError("results.trial", "at least 2 trials are needed for Monte-Carlo errors")


def _marginal_truth(results: xr.Dataset, combo_rates: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """(domain, domain_arm) marginal true rates (NaN for padding) and (domain,) null flags."""
    names = results["arm_name"].transpose("domain", "domain_arm").values.astype(str)
    n_d, width = names.shape
    truth = np.full((n_d, width), np.nan)
    null = np.zeros(n_d, dtype=bool)
    if combo_rates is None:
        return truth, null
    sizes = [int(np.sum(names[d] != "")) for d in range(n_d)]
    grid = np.asarray(combo_rates, dtype=float).reshape(sizes)  # first domain slowest, as domain_combinations
    for d in range(n_d):
        moved = np.moveaxis(grid, d, 0).reshape(sizes[d], -1)  # (arm of d, combinations of the others)
        truth[d, : sizes[d]] = moved.mean(axis=1)
        null[d] = bool(np.all(np.ptp(moved, axis=0) <= 1e-12))
    return truth, null


def domain_operating_characteristics(
    results: xr.Dataset, *, true_mean: np.ndarray | None = None, n_boot: int = 1000, boot_seed: int = 20221102
) -> xr.Dataset:
    """Per-domain operating characteristics of a factorial platform, each with its Monte-Carlo standard error.

    Args:
        results: ``run_trials`` results of a design with ``domains``.
        true_mean: (arm,) true event rate of each combination in ``results.arm`` order; by default the results'
            ``true_mean`` variable (dim ``arm``) where present, else the truth-based figures are NaN.
        n_boot: bootstrap replicates for the sample-size quantiles.
        boot_seed: seed of the bootstrap.

    Returns:
        Dataset with ``stat = ("estimate", "mcse", "lo", "hi")`` on: ``p_stop_look`` (look),
        ``sample_size_mean``, ``sample_size_quantile`` (quantile), ``events_total_mean``,
        ``events_per_patient_mean``; per domain ``p_domain_outcome`` (domain, outcome), ``p_superiority_domain``
        (any non-control arm of the domain declared superior), ``p_domain_stop_look`` (domain, look); per domain arm
        ``p_decision`` (domain, domain_arm, decision), ``sample_size_arm_mean``, ``share_arm_mean`` (share of the
        trial's patients on the arm), ``estimate_mean`` (final posterior mean event rate). Without ``stat``:
        ``true_mean_domain`` (domain, domain_arm; marginal truth), ``null_domain`` and
        ``p_superiority_domain_meaning`` (domain: "type-I error" or "power"). Padding arms (``arm_name == ""``)
        are NaN.
    """
    validate_domain_results(results)
    r = results.transpose("trial", "look", "domain", "domain_arm", ...)
    names = r["arm_name"].transpose("domain", "domain_arm").values.astype(str)
    real = names != ""  # (D, W)
    n_trials, n_looks = r.sizes["trial"], r.sizes["look"]
    n_d = r.sizes["domain"]
    if true_mean is None and "true_mean" in r and r["true_mean"].dims == ("arm",):
        true_mean = r["true_mean"].values
    truth, null = _marginal_truth(r, true_mean)
    design_ctrl = _controls(r, names)
    rng = np.random.default_rng(boot_seed)

    decision = r["arm_decision"].values.astype(int)  # (T, D, W)
    n_final = r["n_final"].values.astype(float)
    n_total = r["n_total"].values.astype(float)
    stop = np.clip(r["trial_stop_look"].values.astype(int), 0, n_looks - 1)
    dstop = np.clip(r["domain_stop_look"].values.astype(int), 0, n_looks - 1)
    dout = r["domain_outcome"].values.astype(int)
    eligible = real & (np.arange(names.shape[1])[None, :] != design_ctrl[:, None])  # (D, W)

    out: dict[str, tuple[tuple[str, ...], np.ndarray, str]] = {}

    def put(name, dims, value, description, mask=None):
        if mask is not None:
            value = np.where(mask[..., None], value, np.nan)
        out[name] = ((*dims, "stat"), value, description)

    put("p_stop_look", ("look",), _prop(stop[:, None] == np.arange(n_looks)[None]), "P(trial stops at look)")
    put("sample_size_mean", (), _mean(n_total), "expected number of patients randomised")
    qs = _bootstrap(lambda x: _quantiles(x), [n_total], n_boot=n_boot, rng=rng)
    put("sample_size_quantile", ("quantile",), qs, "sample-size quantiles")
    events = r["events_final"].values[:, 0].sum(axis=-1).astype(float)  # every patient is in domain 0 once
    put("events_total_mean", (), _mean(events), "expected outcome total (events)")
    with np.errstate(invalid="ignore", divide="ignore"):
        per_patient = np.where(n_total > 0, events / n_total, np.nan)
    put("events_per_patient_mean", (), _mean(per_patient), "expected events per patient in the trial")
    put(
        "p_domain_outcome",
        ("domain", "outcome"),
        _prop(dout[..., None] == np.arange(len(OUTCOMES))),
        "P(domain ends with outcome)",
    )
    sup = np.any((decision == 1) & eligible[None], axis=2)  # (T, D)
    put("p_superiority_domain", ("domain",), _prop(sup), "P(any non-control arm of the domain declared superior)")
    put("p_domain_stop_look", ("domain", "look"), _prop(dstop[..., None] == np.arange(n_looks)), "P(domain stops)")
    p_dec = _prop(decision[..., None] == np.arange(len(DECISIONS)))  # (D, W, decision, stat)
    put("p_decision", ("domain", "domain_arm", "decision"), p_dec, "P(arm decision)", mask=real[..., None])
    put("sample_size_arm_mean", ("domain", "domain_arm"), _mean(n_final), "expected patients per arm", mask=real)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(n_total[:, None, None] > 0, n_final / n_total[:, None, None], np.nan)
    put("share_arm_mean", ("domain", "domain_arm"), _mean(share), "expected share of patients on arm", mask=real)
    est = r["estimate"].values.astype(float)
    put("estimate_mean", ("domain", "domain_arm"), _mean(est), "mean final estimate of the arm's rate", mask=real)

    data_vars = {n: xr.Variable(d, v, attrs={"long_name": desc}) for n, (d, v, desc) in out.items()}
    data_vars["true_mean_domain"] = xr.Variable(("domain", "domain_arm"), truth, attrs={"long_name": "marginal truth"})
    data_vars["null_domain"] = xr.Variable(("domain",), null, attrs={"long_name": "domain arms have equal truth"})
    known = np.isfinite(truth).any(axis=1)
    meaning = np.where(~known, "unknown", np.where(null, "type-I error", "power")).astype(str)
    data_vars["p_superiority_domain_meaning"] = xr.Variable(("domain",), meaning)
    coords = {
        "stat": list(STATS),
        "quantile": list(QUANTILES),
        "outcome": list(OUTCOMES),
        "decision": list(DECISIONS),
        "domain": r["domain"].values,
        "domain_arm": r["domain_arm"].values,
        "arm_name": (("domain", "domain_arm"), names),
        "look": r["look"].values,
    }
    attrs = {
        "n_trials": int(n_trials),
        "n_domains": int(n_d),
        "higher_is_better": int(r.attrs.get("higher_is_better", 0)),
        "domain_controls": ",".join(names[d, c] if c >= 0 else "" for d, c in enumerate(design_ctrl)),
        "n_boot": int(n_boot),
        "boot_seed": int(boot_seed),
        "mc_intervals": "Wilson (proportions), normal (means), bootstrap (quantiles)",
        "truth": "marginal: mean combination rate over equal shares of the other domains' arms",
    }
    return xr.Dataset(data_vars, coords=coords, attrs=attrs)


def _controls(results: xr.Dataset, names: np.ndarray) -> np.ndarray:
    """(domain,) index of each domain's control arm from the design JSON in the results (-1 without one)."""
    import json

    try:
        design = json.loads(results.attrs.get("design", "") or "{}")
    except (TypeError, json.JSONDecodeError):
        design = {}
    ctrl = np.full(names.shape[0], -1)
    for d, dom in enumerate(design.get("domains") or []):
        c = dom.get("control")
        if c is not None and c in list(names[d]):
            ctrl[d] = list(names[d]).index(c)
    return ctrl
