"""Operating characteristics of a trial design, each with its Monte-Carlo error.

Input: the per-trial results Dataset of :func:`sepsim.platform.run_trials` (dims ``trial``, ``look``, ``arm``,
``stratum``; see ``sepsim/platform/_results/schema.py``). Output: one Dataset in which every figure carries a ``stat``
dimension ``("estimate", "mcse", "lo", "hi")``: the estimate over the simulated trials, its Monte-Carlo standard
error and a 95% Monte-Carlo interval.

Definitions follow adaptr (Granholm et al. 2022, J Clin Epidemiol, doi:10.1016/j.jclinepi.2022.11.002; source
``INCEPTdk/adaptr``, ``R/extract_results.R`` and ``R/check_performance.R``):

* ``prob_conclusive``/``prob_superior``/``prob_equivalence``/``prob_futility``/``prob_max`` are the shares of
  trials by final status (here ``p_outcome`` and ``p_conclusive``);
* the selected arm is the superior arm; in trials without one, ``select_strategy`` decides (adaptr
  ``extract_results(select_strategy=, select_preferences=)``, see :func:`check_selection`) (``prob_select_*``, here
  ``p_select``);
* ``size_*``, ``sum_ys_*``, ``ratio_ys_*`` are the sample size, the total outcome count and the outcome count per
  patient (here ``sample_size_*``, ``events_total_mean``, ``events_per_patient_mean``);
* ``rmse``/``rmse_te`` are the RMSE of the selected arm's estimate and of its effect against the control
  (here ``rmse_selected``/``rmse_te_selected``);
* the ideal design percentage is ``calculate_idp``: ``100 (E[y] - min y) / (max y - min y)`` with ``E[y]`` the true
  outcome averaged over the selected arms (trials with no selection ignored), and ``100 - that`` when lower is
  better (Viele et al. 2020, Clin Trials 17:52, doi:10.1177/1740774519877836).

Monte-Carlo errors (Morris, White & Crowther 2019, Stat Med 38:2074, Table 6): ``sqrt(p (1 - p) / n)`` with a Wilson
score interval for proportions; ``sd / sqrt(n)`` with a normal interval for means; the delta method
``MCSE(MSE) / (2 RMSE)`` for RMSEs; a non-parametric bootstrap over trials (fixed seed, percentile interval) for
quantiles and the ideal design percentage, as adaptr's ``check_performance(uncertainty = TRUE)`` does.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import xarray as xr

from sepsim._errors import ConfigError

from .._results.codes import DECISIONS, OUTCOMES
from .._results.schema import RESULTS_SCHEMA, check_results

__all__ = ["SELECT_STRATEGIES", "check_selection", "operating_characteristics", "validate_results"]

STATS = ("estimate", "mcse", "lo", "hi")
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
SELECT_STRATEGIES = (
    "none",
    "control if available",
    "control",
    "final control",
    "control or best",
    "best",
    "list",
    "list or best",
)
_NEED_CONTROL = ("control", "final control", "control or best")
_NEED_LIST = ("list", "list or best")
_Z95 = 1.959963984540054  # standard normal 0.975 quantile
_DIMS = ("trial", "look", "arm", "stratum")


def validate_results(results: xr.Dataset) -> None:
    """Check that ``results`` follows the results contract; raise :class:`ConfigError` naming what is wrong."""
    if not isinstance(results, xr.Dataset):
        raise ConfigError("results", f"must be an xarray.Dataset, got {type(results).__name__}")
    for dim in _DIMS:
        if dim not in results.dims:
            raise ConfigError(f"results.{dim}", f"dimension missing; required dims are {_DIMS}")
    if results.sizes["trial"] < 2:
        raise ConfigError("results.trial", "at least 2 trials are needed for Monte-Carlo errors")
    check_results(results, RESULTS_SCHEMA)  # required variables present; every known variable with its dims
    hib = results.attrs.get("higher_is_better")
    if hib not in (0, 1, True, False) or isinstance(hib, str):
        raise ConfigError("results.attrs.higher_is_better", f"must be 0 or 1, got {hib!r}")
    arms = [str(a) for a in results["arm"].values]
    control = str(results.attrs.get("control_arm", "") or "")
    if control and control not in arms:
        raise ConfigError("results.attrs.control_arm", f"{control!r} is not an arm; arms are {arms} or ''")
    for name, codes in (("arm_decision", DECISIONS), ("trial_outcome", OUTCOMES)):
        values = np.asarray(results[name].values)
        if values.size and (values.min() < 0 or values.max() >= len(codes)):
            allowed = ", ".join(f"{i} {c}" for i, c in enumerate(codes))
            raise ConfigError(f"results.{name}", f"codes must be {allowed}; got {np.unique(values).tolist()}")
    if not np.all(np.isfinite(results["true_mean"].values)):
        raise ConfigError("results.true_mean", "must be finite for every arm and stratum")


# --------------------------------------------------------------------------------------------- Monte-Carlo summaries
def _prop(x: np.ndarray) -> np.ndarray:
    """Proportion of True along axis 0, binomial MC SE, Wilson 95% interval; last axis is ``stat``."""
    x = np.asarray(x, dtype=bool)
    n = x.shape[0]
    p = x.mean(axis=0)
    mcse = np.sqrt(p * (1.0 - p) / n)
    z2 = _Z95**2
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = _Z95 * np.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    lo = np.where(p == 0.0, 0.0, np.clip(centre - half, 0.0, 1.0))  # exact ends where rounding leaves ~1e-18
    hi = np.where(p == 1.0, 1.0, np.clip(centre + half, 0.0, 1.0))
    return np.stack([p, mcse, lo, hi], axis=-1)


def _nan_stat(shape: tuple[int, ...]) -> np.ndarray:
    return np.full((*shape, len(STATS)), np.nan)


def _mean(x: np.ndarray) -> np.ndarray:
    """Mean along axis 0 (NaNs ignored), MC SE ``sd / sqrt(n)`` and normal 95% interval."""
    x = np.asarray(x, dtype=float)
    n = np.sum(np.isfinite(x), axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.nansum(x, axis=0) / n
        dev = np.where(np.isfinite(x), x - mean, 0.0)
        sd = np.sqrt(np.sum(dev * dev, axis=0) / (n - 1))
        mcse = np.where(n > 1, sd / np.sqrt(n), np.nan)
    mean = np.where(n > 0, mean, np.nan)
    return np.stack([mean, mcse, mean - _Z95 * mcse, mean + _Z95 * mcse], axis=-1)


def _rmse(err: np.ndarray) -> np.ndarray:
    """Root mean squared error along axis 0 (NaNs ignored) with the delta-method MC SE ``MCSE(MSE) / (2 RMSE)``."""
    mse = _mean(np.asarray(err, dtype=float) ** 2)
    rmse = np.sqrt(mse[..., 0])
    with np.errstate(invalid="ignore", divide="ignore"):
        mcse = np.where(rmse > 0, mse[..., 1] / (2 * rmse), 0.0)
    mcse = np.where(np.isfinite(rmse), mcse, np.nan)
    lo = np.sqrt(np.clip(mse[..., 2], 0.0, None))
    hi = np.sqrt(np.clip(mse[..., 3], 0.0, None))
    return np.stack([rmse, mcse, lo, hi], axis=-1)


def _bootstrap(
    fn: Callable[..., np.ndarray], arrays: Sequence[np.ndarray], *, n_boot: int, rng: np.random.Generator
) -> np.ndarray:
    """Statistic ``fn`` of per-trial arrays with its bootstrap MC SE and percentile 95% interval.

    ``fn`` maps arrays with leading axes ``(replicate, trial)`` to shape ``(replicate, *out)``. Trials are resampled
    with replacement ``n_boot`` times (in chunks, to bound memory).
    """
    estimate = fn(*[a[None] for a in arrays])[0]
    n = arrays[0].shape[0]
    per_row = max(1, sum(int(np.prod(a.shape)) for a in arrays))
    chunk = max(1, min(n_boot, 4_000_000 // per_row))
    reps = []
    for start in range(0, n_boot, chunk):
        idx = rng.integers(0, n, size=(min(chunk, n_boot - start), n))
        reps.append(fn(*[a[idx] for a in arrays]))
    boot = np.concatenate(reps, axis=0)
    finite = np.isfinite(boot)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mcse = np.where(finite.sum(0) > 1, np.nanstd(np.where(finite, boot, np.nan), axis=0, ddof=1), np.nan)
        lo, hi = np.nanpercentile(np.where(finite, boot, np.nan), [2.5, 97.5], axis=0)
    mcse = np.where(np.isfinite(estimate), mcse, np.nan)
    return np.stack([estimate, mcse, lo, hi], axis=-1)


def _quantiles(values: np.ndarray) -> np.ndarray:
    """Quantiles ``QUANTILES`` over axis 1 of ``(replicate, trial, ...)``, NaNs ignored -> ``(replicate, q, ...)``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices give NaN, as intended
        return np.moveaxis(np.nanquantile(values, QUANTILES, axis=1), 0, 1)


def _idp(onehot: np.ndarray, true: np.ndarray, higher_is_better: bool) -> np.ndarray:
    """Ideal design percentage (adaptr ``calculate_idp``) per replicate, from ``onehot`` ``(replicate, trial, arm)``.

    Trials without a selected arm are ignored (the selection shares are normalised to sum to one).
    """
    counts = onehot.sum(axis=1).astype(float)
    total = counts.sum(axis=-1)
    span = true.max() - true.min()
    with np.errstate(invalid="ignore", divide="ignore"):
        expected = counts @ true / total
        idp = 100.0 * (expected - true.min()) / span
    idp = idp if higher_is_better else 100.0 - idp
    return np.where((total > 0) & (span > 0), idp, np.nan)


# ------------------------------------------------------------------------------------------------------ the figures
def operating_characteristics(
    results: xr.Dataset,
    *,
    best_arm: str | None = None,
    select_strategy: str = "none",
    select_preferences: Sequence[str] | None = None,
    n_boot: int = 1000,
    boot_seed: int = 20221102,
) -> xr.Dataset:
    """Operating characteristics of a simulated design, each with its Monte-Carlo standard error.

    Args:
        results: per-trial results following the results contract (``sepsim/platform/_results/schema.py``). Per-arm
            sample sizes and events are taken at the stop look, or from the optional ``n_final`` and
            ``events_final`` (trial, arm, stratum: every randomised patient) where the results have them.
        best_arm: name of the arm taken as truly best in every stratum; by default the arm with the best
            ``true_mean`` in each stratum (undefined, and best-arm figures NaN, where several arms tie for best).
        select_strategy: which arm counts as selected in trials (strata) without a superior arm, adaptr's
            ``extract_results`` strategies: ``"none"`` (default), ``"control if available"``, ``"control"``,
            ``"final control"``, ``"control or best"``, ``"best"``, ``"list"``, ``"list or best"``
            (:func:`check_selection` gives their meaning).
        select_preferences: the arms, in order of preference, of the ``"list"`` strategies.
        n_boot: bootstrap replicates for quantiles and the ideal design percentage.
        boot_seed: seed of the bootstrap (fixed, so the report is reproducible).

    Returns:
        Dataset with coordinate ``stat = ("estimate", "mcse", "lo", "hi")`` (``lo``/``hi``: 95% Monte-Carlo
        interval) on every figure. Trial-level figures: ``p_outcome`` (``outcome``), ``p_conclusive``,
        ``p_superiority`` (any eligible arm superior in any stratum; eligible arms are the non-control arms in a
        design with a common control, else all arms: the family-wise type-I error where all ``true_mean`` are
        equal, the power otherwise), ``p_stop_look`` (``look``), ``sample_size_mean``,
        ``sample_size_quantile`` (``quantile``), ``events_total_mean``, ``events_per_patient_mean``. Per stratum:
        ``p_superiority_stratum``, ``p_decision`` (``arm``, ``decision``), ``p_select`` (``selection`` = arms and
        ``"none"``), ``p_select_best``, ``idp``, ``sample_size_stratum_mean``, ``sample_size_arm_mean`` (``arm``),
        ``best_share_mean``, ``best_share_quantile`` (``quantile``), ``p_more_on_inferior``, ``bias``, ``rmse``,
        ``bias_te``, ``rmse_te`` (``arm``; effect = arm minus control, NaN without a control),
        ``rmse_selected``, ``rmse_te_selected``, ``events_stratum_mean``, ``events_per_patient_stratum_mean``;
        and without ``stat``: ``best_arm`` (name, ``""`` if undefined) and ``null_scenario`` per stratum.

    Raises:
        ConfigError: if ``results`` breaks the contract or an argument is not allowed.
    """
    validate_results(results)
    tr = _trials(results)
    check_selection(select_strategy, select_preferences, tr.arms, tr.arms[tr.ctrl] if tr.ctrl >= 0 else None)
    if not isinstance(n_boot, int) or n_boot < 100:
        raise ConfigError("n_boot", f"must be an integer >= 100, got {n_boot!r}")
    null, best = _truth(tr, best_arm)
    prefs = [tr.arms.index(a) for a in select_preferences or []]
    selected = _select(tr, select_strategy, prefs)
    rng = np.random.default_rng(boot_seed)
    out: dict[str, tuple[tuple[str, ...], np.ndarray, str]] = {}
    _trial_figures(out, tr, results, n_boot=n_boot, rng=rng)
    _stratum_figures(out, tr, best, selected, n_boot=n_boot, rng=rng)
    data_vars = {
        name: xr.Variable(dims, value, attrs={"long_name": description})
        for name, (dims, value, description) in out.items()
    }
    best_names = np.array([tr.arms[b] if b >= 0 else "" for b in best], dtype=object)
    data_vars["best_arm"] = xr.Variable(("stratum",), best_names.astype(str), attrs={"long_name": "truly best arm"})
    data_vars["null_scenario"] = xr.Variable(("stratum",), null, attrs={"long_name": "all arms have equal true means"})
    coords = {
        "stat": list(STATS),
        "quantile": list(QUANTILES),
        "outcome": list(OUTCOMES),
        "decision": list(DECISIONS),
        "selection": [*tr.arms, "none"],
        "arm": tr.arms,
        "stratum": [str(s) for s in results["stratum"].values],
        "look": results["look"].values,
    }
    attrs = {
        "n_trials": int(tr.n_total.shape[0]),
        "higher_is_better": int(tr.hib),
        "control_arm": tr.arms[tr.ctrl] if tr.ctrl >= 0 else "",
        "select_strategy": select_strategy,
        "select_preferences": ",".join(select_preferences or []),
        "null_scenario_all": int(bool(null.all())),
        "p_superiority_meaning": "family-wise type-I error" if null.all() else "power",
        "n_boot": int(n_boot),
        "boot_seed": int(boot_seed),
        "mc_intervals": "Wilson (proportions), normal (means), delta method (RMSE), bootstrap (quantiles, idp)",
        "source": "adaptr R/extract_results.R, R/check_performance.R (INCEPTdk/adaptr); Morris et al. 2019 Stat Med",
    }
    return xr.Dataset(data_vars, coords=coords, attrs=attrs)


@dataclass(frozen=True)
class _Trials:
    """The per-trial arrays the figures use (``T`` trials, ``A`` arms, ``S`` strata)."""

    arms: list[str]
    hib: bool
    ctrl: int  # control arm index, -1 for none
    n_looks: int
    true: np.ndarray  # (A, S)
    stop: np.ndarray  # (T,) stop look
    n_stop: np.ndarray  # (T, A, S) patients (at the stop look, or every randomised patient)
    events_stop: np.ndarray  # (T, A, S)
    decision: np.ndarray  # (T, A, S)
    estimate: np.ndarray  # (T, A, S)
    n_total: np.ndarray  # (T,)
    outcome: np.ndarray  # (T,)
    unit_outcome: np.ndarray  # (T, S) outcome of the decision unit (the stratum with per-stratum decisions)
    unit_stop: np.ndarray  # (T, S) its stop look
    decision_look: np.ndarray  # (T, A, S), -1 where unknown
    p_best_last: np.ndarray  # (T, A, S) P(best) at the unit's stop look (NaN: not analysed there, or absent)
    final_control: np.ndarray  # (T,) the control at the end (-1: none)


def _trials(results: xr.Dataset) -> _Trials:
    results = results.transpose("trial", "look", "arm", "stratum", ...)
    arms = [str(a) for a in results["arm"].values]
    n_looks = results.sizes["look"]
    control = str(results.attrs.get("control_arm", "") or "")
    stop = np.clip(results["trial_stop_look"].values.astype(int), 0, n_looks - 1)  # (T,)

    def at_stop(v):  # (T, L, A, S) -> (T, A, S)
        return np.take_along_axis(v, stop[:, None, None, None], axis=1)[:, 0]

    n_stop = at_stop(results["n"].values.astype(float))
    events_stop = at_stop(results["events"].values.astype(float))
    if "n_final" in results and "events_final" in results:  # optional: every randomised patient, as adaptr's
        n_stop = results["n_final"].transpose("trial", "arm", "stratum").values.astype(float)  # final_n/sum_ys_all
        events_stop = results["events_final"].transpose("trial", "arm", "stratum").values.astype(float)
    t_n, n_arms, n_strata = n_stop.shape
    outcome = results["trial_outcome"].values.astype(int)
    unit_outcome = np.broadcast_to(outcome[:, None], (t_n, n_strata))
    unit_stop = np.broadcast_to(stop[:, None], (t_n, n_strata))
    if "stratum_outcome" in results and "stratum_stop_look" in results:
        unit_outcome = results["stratum_outcome"].transpose("trial", "stratum").values.astype(int)
        unit_stop = np.clip(
            results["stratum_stop_look"].transpose("trial", "stratum").values.astype(int), 0, n_looks - 1
        )
    if "p_best_stratum" in results:
        pb = results["p_best_stratum"].transpose("trial", "look", "arm", "stratum").values.astype(float)
    elif "p_best" in results:
        pb = np.broadcast_to(results["p_best"].transpose("trial", "look", "arm").values[..., None], results["n"].shape)
    else:
        pb = np.full(results["n"].shape, np.nan)
    p_best_last = np.take_along_axis(pb.astype(float), unit_stop[:, None, None, :], axis=1)[:, 0]  # (T, A, S)
    ctrl = arms.index(control) if control else -1
    if "decision_look" in results:
        decision_look = results["decision_look"].transpose("trial", "arm", "stratum").values.astype(int)
    else:
        decision_look = np.full((t_n, n_arms, n_strata), -1)
    final_control = results["final_control"].values.astype(int) if "final_control" in results else np.full(t_n, ctrl)
    return _Trials(
        arms=arms,
        hib=bool(int(results.attrs["higher_is_better"])),
        ctrl=ctrl,
        n_looks=n_looks,
        true=results["true_mean"].transpose("arm", "stratum").values.astype(float),
        stop=stop,
        n_stop=n_stop,
        events_stop=events_stop,
        decision=results["arm_decision"].transpose("trial", "arm", "stratum").values.astype(int),
        estimate=results["estimate"].transpose("trial", "arm", "stratum").values.astype(float),
        n_total=results["n_total"].values.astype(float),
        outcome=outcome,
        unit_outcome=unit_outcome,
        unit_stop=unit_stop,
        decision_look=decision_look,
        p_best_last=p_best_last,
        final_control=final_control,
    )


def _truth(tr: _Trials, best_arm: str | None) -> tuple[np.ndarray, np.ndarray]:
    """Null scenario and truly best arm (-1: a tie) per stratum."""
    true = tr.true
    scale = np.maximum(np.abs(true).max(axis=0), 1.0)
    null = np.ptp(true, axis=0) <= 1e-12 * scale  # (S,)
    if best_arm is not None:
        if best_arm not in tr.arms:
            raise ConfigError("best_arm", f"{best_arm!r} is not an arm; arms are {tr.arms}")
        return null, np.full(true.shape[1], tr.arms.index(best_arm))
    signed = true if tr.hib else -true
    top = signed.max(axis=0)
    n_top = np.sum(signed >= top - 1e-12 * scale, axis=0)
    return null, np.where(n_top == 1, signed.argmax(axis=0), -1)


def check_selection(
    strategy: str,
    preferences: Sequence[str] | None,
    arms: Sequence[str],
    control: str | None,
    *,
    key: str = "select_strategy",
    preferences_key: str = "select_preferences",
) -> None:
    """Check an arm-selection strategy for trials without a superior arm (adaptr ``extract_results``,
    ``R/extract_results.R``; raise :class:`ConfigError` naming ``key`` as adaptr refuses the same inputs).

    The arms that remain at the end are those not dropped as inferior or futile; a trial (a stratum with
    per-stratum decisions) stopped for equivalence keeps only the arms declared equivalent at its final look and
    the control; otherwise arms dropped earlier for equivalence are not kept either. Then:

    - ``"none"``: no arm; ``"control if available"``: ``"control"`` with a common control, else ``"none"``;
    - ``"control"``: the first (the design's) control if it remains, else none (needs a control);
    - ``"final control"``: the control at the end (needs a control);
    - ``"control or best"``: the first control if it remains, else the best remaining arm (needs a control);
    - ``"best"``: the remaining arm with the highest P(best) at the last analysis;
    - ``"list"``: the first remaining arm of ``preferences``, else none; ``"list or best"``: else the best.
    """
    if strategy not in SELECT_STRATEGIES:
        raise ConfigError(key, f"must be one of {list(SELECT_STRATEGIES)}, got {strategy!r}")
    if strategy in _NEED_CONTROL and not control:
        raise ConfigError(key, f"{strategy!r} needs a design with a common control arm (adaptr refuses it too)")
    prefs = list(preferences or [])
    if strategy in _NEED_LIST:
        bad = [a for a in prefs if a not in arms]
        if not prefs or bad or len(set(prefs)) != len(prefs):
            raise ConfigError(
                preferences_key,
                f"{strategy!r} needs a non-empty list of distinct arms from {list(arms)}, got {prefs}",
            )
    elif prefs:
        raise ConfigError(preferences_key, f"is only used by the 'list' strategies, not {strategy!r}")


def _select(tr: _Trials, strategy: str, prefs: list[int]) -> np.ndarray:
    """(T, S) selected arm, ``n_arms`` for none (adaptr ``extract_results_batch``): the superior arm, else per
    ``strategy`` among the arms that remain (:func:`check_selection`)."""
    n_arms, ctrl, decision = len(tr.arms), tr.ctrl, tr.decision
    superior = decision == 1  # (T, A, S)
    selected = np.where(superior.any(axis=1), superior.argmax(axis=1), n_arms)  # (T, S)
    if strategy == "none" or (strategy == "control if available" and ctrl < 0):
        return selected
    arm = np.arange(n_arms)[None, :, None]
    is_final_control = arm == tr.final_control[:, None, None]
    in_stratum = np.any(
        np.asarray(tr.n_stop) > 0, axis=0, keepdims=True
    )  # (1, A, S): arms randomised in the stratum in some trial
    kept = ~np.isin(decision, (2, 3)) & in_stratum
    eq_stop = (tr.unit_outcome == 2)[:, None, :]
    eq_final = (decision == 4) & (tr.decision_look == tr.unit_stop[:, None, :])
    remaining = kept & np.where(eq_stop, eq_final | is_final_control, decision != 4)  # (T, A, S)
    p = np.where(remaining & np.isfinite(tr.p_best_last), tr.p_best_last, -np.inf)
    best = np.where(np.isfinite(p.max(axis=1)), p.argmax(axis=1), n_arms)  # first maximum, as which.max
    none = np.full_like(selected, n_arms)
    first_ctrl = np.where(remaining[:, max(ctrl, 0), :], ctrl, none) if ctrl >= 0 else none
    if strategy in ("control", "control if available"):
        choice = first_ctrl
    elif strategy == "final control":
        fc = np.broadcast_to(tr.final_control[:, None], selected.shape)
        choice = np.where((remaining & is_final_control).any(axis=1), fc, n_arms)
    elif strategy == "control or best":
        choice = np.where(first_ctrl < n_arms, first_ctrl, best)
    elif strategy == "best":
        choice = best
    else:  # list, list or best
        choice = best if strategy == "list or best" else none
        for a in reversed(prefs):  # the first listed remaining arm wins
            choice = np.where(remaining[:, a, :], a, choice)
    return np.where(selected < n_arms, selected, choice)


def _put(out: dict, name: str, dims: tuple[str, ...], value: np.ndarray, description: str) -> None:
    out[name] = ((*dims, "stat"), value, description)


def _superior_any(tr: _Trials) -> np.ndarray:
    """(T, S): any eligible arm declared superior (eligible: non-control arms with a control, else all arms)."""
    eligible = np.array([a != tr.ctrl for a in range(len(tr.arms))])
    return np.any((tr.decision == 1) & eligible[None, :, None], axis=1)


def _trial_figures(out: dict, tr: _Trials, results: xr.Dataset, *, n_boot: int, rng: np.random.Generator) -> None:
    n_total, outcome, stop = tr.n_total, tr.outcome, tr.stop
    _put(out, "p_outcome", ("outcome",), _prop(outcome[:, None] == np.arange(4)[None]), "P(trial ends with outcome)")
    _put(out, "p_conclusive", (), _prop(np.asarray(outcome != 0)), "P(superiority, equivalence or futility)")
    p_sup = _prop(np.asarray(_superior_any(tr).any(axis=1)))
    _put(out, "p_superiority", (), p_sup, "P(any eligible arm declared superior)")
    p_stop = _prop(stop[:, None] == np.arange(tr.n_looks)[None])
    _put(out, "p_stop_look", ("look",), p_stop, "P(trial stops at look)")
    _put(out, "sample_size_mean", (), _mean(n_total), "expected number of patients randomised")
    q = _bootstrap(_quantiles, [n_total], n_boot=n_boot, rng=rng)
    _put(out, "sample_size_quantile", ("quantile",), q, "sample-size quantiles")
    _put(out, "events_total_mean", (), _mean(results["events_total"].values), "expected outcome total (events)")
    with np.errstate(invalid="ignore", divide="ignore"):
        per_patient = np.where(n_total > 0, results["events_total"].values / n_total, np.nan)
    _put(out, "events_per_patient_mean", (), _mean(per_patient), "expected events per patient in the trial")


def _allocation(tr: _Trials, best: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(T, S) share of patients on the truly best arm, and whether an inferior arm got more patients than it."""
    n_stop, true = tr.n_stop, tr.true
    n_trials, _, n_strata = n_stop.shape
    n_stratum = n_stop.sum(axis=1)  # (T, S)
    share_best = np.full((n_trials, n_strata), np.nan)
    more_inferior = np.zeros((n_trials, n_strata), dtype=bool)
    for s in range(n_strata):
        b = best[s]
        if b < 0:
            continue
        with np.errstate(invalid="ignore", divide="ignore"):
            share_best[:, s] = np.where(n_stratum[:, s] > 0, n_stop[:, b, s] / n_stratum[:, s], np.nan)
        worse = (true[:, s] < true[b, s]) if tr.hib else (true[:, s] > true[b, s])
        more_inferior[:, s] = np.any((n_stop[:, :, s] > n_stop[:, b : b + 1, s]) & worse[None, :], axis=1)
    return share_best, more_inferior


def _errors(tr: _Trials, selected: np.ndarray):
    """Estimation error of each arm and of its effect against the control; the same for the selected arm."""
    ctrl, n_arms = tr.ctrl, len(tr.arms)
    err = tr.estimate - tr.true[None]
    if ctrl >= 0:
        err_te = (tr.estimate - tr.estimate[:, ctrl : ctrl + 1]) - (tr.true - tr.true[ctrl : ctrl + 1])[None]
        err_te[:, ctrl, :] = np.nan
    else:
        err_te = np.full_like(err, np.nan)
    sel_arm = np.minimum(selected, n_arms - 1)[:, None, :]
    has_sel = selected < n_arms
    err_sel = np.where(has_sel, np.take_along_axis(err, sel_arm, axis=1)[:, 0], np.nan)
    err_te_sel = np.where(has_sel & (selected != ctrl), np.take_along_axis(err_te, sel_arm, axis=1)[:, 0], np.nan)
    return err, err_te, err_sel, err_te_sel


def _stratum_figures(
    out: dict, tr: _Trials, best: np.ndarray, selected: np.ndarray, *, n_boot: int, rng: np.random.Generator
) -> None:
    s_, a_ = ("stratum",), ("arm", "stratum")
    n_arms, n_strata = len(tr.arms), tr.true.shape[1]
    onehot = selected[:, :, None] == np.arange(n_arms + 1)[None, None, :]  # (T, S, A+1)
    share_best, more_inferior = _allocation(tr, best)
    err, err_te, err_sel, err_te_sel = _errors(tr, selected)
    n_stratum = tr.n_stop.sum(axis=1)
    _put(out, "p_superiority_stratum", s_, _prop(_superior_any(tr)), "P(any eligible arm declared superior in stratum)")
    p_dec = _prop(tr.decision[..., None] == np.arange(len(DECISIONS)))  # (A, S, D, stat)
    _put(out, "p_decision", (*a_, "decision"), p_dec, "P(arm decision) per arm and stratum")
    _put(out, "p_select", ("stratum", "selection"), _prop(onehot), "P(arm selected)")
    p_best = _prop(selected == np.maximum(best, 0)[None])
    p_best[best < 0] = np.nan
    _put(out, "p_select_best", s_, p_best, "P(selected arm is the truly best arm)")
    idp = np.stack(
        [
            _bootstrap(lambda o, s=s: _idp(o, tr.true[:, s], tr.hib), [onehot[:, s, :n_arms]], n_boot=n_boot, rng=rng)
            for s in range(n_strata)
        ]
    )
    _put(out, "idp", s_, idp, "ideal design percentage (adaptr calculate_idp)")
    _put(out, "sample_size_stratum_mean", s_, _mean(n_stratum), "expected patients in stratum")
    _put(out, "sample_size_arm_mean", a_, _mean(tr.n_stop), "expected patients per arm")
    _put(out, "best_share_mean", s_, _mean(share_best), "expected share of patients on the truly best arm")
    share_q = _bootstrap(_quantiles, [share_best], n_boot=n_boot, rng=rng)  # (Q, S, stat)
    _put(out, "best_share_quantile", ("quantile", "stratum"), share_q, "quantiles of the share on the best arm")
    more = _prop(more_inferior)
    more[best < 0] = np.nan
    _put(out, "p_more_on_inferior", s_, more, "P(more patients on an inferior arm than on the best arm)")
    _put(out, "bias", a_, _mean(err), "bias of the final estimate of the arm mean")
    _put(out, "rmse", a_, _rmse(err), "RMSE of the final estimate of the arm mean")
    _put(out, "bias_te", a_, _mean(err_te), "bias of the estimated effect against the control")
    _put(out, "rmse_te", a_, _rmse(err_te), "RMSE of the estimated effect against the control")
    _put(out, "rmse_selected", s_, _rmse(err_sel), "RMSE of the selected arm's estimate (adaptr rmse)")
    _put(out, "rmse_te_selected", s_, _rmse(err_te_sel), "RMSE of the selected arm's effect (adaptr rmse_te)")
    events = tr.events_stop.sum(axis=1)
    _put(out, "events_stratum_mean", s_, _mean(events), "expected events in stratum")
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(n_stratum > 0, events / n_stratum, np.nan)
    _put(out, "events_per_patient_stratum_mean", s_, _mean(ratio), "expected events per patient in stratum")
