"""Whole-run checks that no single group can make: ranges of top-level values, the design against the endpoint and
the outcome pool, the size of the work, and the values inside therapy and device settings.

Each function raises one :class:`~sepsim._errors.ConfigError` naming the key, the value given and what is allowed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from .._errors import ConfigError
from ._closed import unknown_key

__all__ = [
    "ENDPOINT_MIN_DAYS",
    "ENDPOINT_VARIABLES",
    "SEED_MAX",
    "STRATUM_VARIABLES",
    "WORK_LIMIT",
    "check_directions",
    "check_doses",
    "check_cohort_options",
    "check_endpoint_kind",
    "check_endpoint_variables",
    "check_name",
    "check_pool",
    "check_seed",
    "check_strata",
    "check_work",
    "work_estimate",
]

SEED_MAX = 2**63 - 1  # seeds are 64-bit integers (jax.random.key; stage_key folds the stage tag in)
# trials x patients x arms above which a run needs runtime.allow_large=true: 1e10 patient-arm draws is roughly a
# day of CPU for the trial engine (the default adaptr study, 1000 x 2000 x 3 = 6e6, runs in about a minute)
WORK_LIMIT = 10**10
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+=,-]*")

# what sepsim.models.simulate_outcomes writes per (patient, arm) (an endpoint) and per patient (a stratum); the
# test tests/config/test_endpoint_variables.py compares these with a real outcome table
ENDPOINT_VARIABLES = (
    "dead_28d",
    "dead_60d",
    "dead_90d",
    "dead_365d",
    "death_day",
    "died_in_hospital",
    "died_in_icu",
    "hospital_discharge_day",
    "hospital_los_d",
    "icu_discharge_day",
    "icu_los_d",
    "infection_day",
    "infection_response_d15",
    "organ_support_days",
    "osfd_21",
    "responder",
    "sae",
    "secondary_infection",
    "sofa_baseline",
    "sofa_day9",
    "vasopressor_days",
    "vasopressor_free_days_28",
    "ventilation_days",
    "vfd_28",
)
# landmark mortalities exist only when the horizon (population.days) reaches them
ENDPOINT_MIN_DAYS = {
    "dead_28d": 28,
    "dead_60d": 60,
    "dead_90d": 90,
    "dead_365d": 365,
    "vasopressor_free_days_28": 28,
    "vfd_28": 28,
}
STRATUM_VARIABLES = ("endotype", "endotype_true", "platform_endotype")  # platform_endotype: study platform


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def check_seed(seed: Any) -> None:
    if not _is_int(seed) or not 0 <= seed <= SEED_MAX:
        raise ConfigError("seed", f"must be an integer in [0, 2**63 - 1 = {SEED_MAX}], got {seed!r}")


def check_name(name: Any) -> None:
    """``name`` becomes a directory under ``outputs/`` and ``multirun/``: one plain path component."""
    if not isinstance(name, str) or not _NAME.fullmatch(name) or ".." in name:
        raise ConfigError(
            "name",
            f"must be one directory name (letters, digits and . _ - + = , not starting with . or -, no '/' or '..')"
            f"; got {name!r}",
        )


def max_sample_size(design: Any) -> int:
    return int(design.look_n[-1])


def work_estimate(n_trials: int, design: Any) -> int:
    """trials x patients (the design's maximum sample size) x arms: the patient-arm draws the trials make."""
    return int(n_trials) * max_sample_size(design) * len(design.arms)


def check_work(run: Any, design: Any) -> None:
    work = work_estimate(run.n_trials, design)
    if work > WORK_LIMIT and not run.runtime.allow_large:
        raise ConfigError(
            "n_trials",
            f"{run.n_trials} trials x {max_sample_size(design)} patients x {len(design.arms)} arms = {work:.3g} "
            f"patient-arm draws exceeds the limit {WORK_LIMIT:.0e}; lower n_trials or confirm with "
            "runtime.allow_large=true",
        )


def check_pool(n_pool: int, design: Any, key: str) -> None:
    """The outcome pool must hold at least the design's maximum sample size (trials draw without inventing)."""
    need = max_sample_size(design)
    if n_pool < need:
        raise ConfigError(
            key,
            f"the pool of {n_pool} patients is smaller than the design's maximum sample size "
            f"design.look_n[-1] = {need}; give at least {need}",
        )


def check_directions(run: Any, design: Any) -> None:
    """The endpoint says whether more events are better; the design must decide in the same direction."""
    ep, hib = run.endpoint, design.higher_is_better
    if bool(ep.higher_is_better) != bool(hib):
        good = "desirable (higher is better)" if ep.higher_is_better else "undesirable (lower is better)"
        raise ConfigError(
            "design.higher_is_better",
            f"is {str(hib).lower()} but endpoint {ep.name!r} ({ep.variable}) is {good}: set "
            f"design.higher_is_better={str(bool(ep.higher_is_better)).lower()} or choose an endpoint of the other "
            "direction (every decision would be inverted)",
        )


def check_cohort_options(options: Mapping[str, Any]) -> None:
    """``population.options``: ``fixed`` names patient-model parameters with finite values; the screening window
    is ``[low, high]`` hours with ``low <= high <= 0``."""
    from ..models._params import load_parameter_specs

    names = sorted(s.name for s in load_parameter_specs())
    for name, value in (options.get("fixed") or {}).items():
        key = f"population.options.fixed.{name}"
        if name not in names:
            raise unknown_key(
                key, names, what="not a parameter of the patient model (sepsim/models/params)", given=name
            )
        if not _number(value) or not math.isfinite(value):
            raise ConfigError(key, f"must be a finite number, got {value!r}")
    window = options.get("screening_window_h")
    if window is not None:
        key = "population.options.screening_window_h"
        if not isinstance(window, (list, tuple)) or len(window) != 2 or not all(_number(w) for w in window):
            raise ConfigError(key, f"must be [low, high] hours, got {window!r}")
        lo, hi = window
        if not (math.isfinite(lo) and math.isfinite(hi) and lo <= hi <= 0):
            raise ConfigError(
                key, f"must be [low, high] with low <= high <= 0 hours before randomisation, got {list(window)}"
            )


def check_endpoint_kind(run: Any) -> None:
    """A parametric scenario generates the endpoint: an ordinal scenario an ordinal endpoint, else a binary one."""
    want = "ordinal" if run.scenario.kind == "ordinal" else "binary"
    if run.endpoint.kind != want:
        raise ConfigError(
            "endpoint.kind",
            f"scenario.kind={run.scenario.kind} generates a {want} endpoint, but endpoint {run.endpoint.name!r} is "
            f"{run.endpoint.kind}; choose a {want} endpoint (e.g. "
            f"{'endpoint=ordinal_day28' if want == 'ordinal' else 'endpoint=death28 or endpoint=responder'})",
        )


def check_endpoint_variables(run: Any) -> None:
    ep = run.endpoint
    allowed = [v for v in ENDPOINT_VARIABLES if ENDPOINT_MIN_DAYS.get(v, 0) <= run.population.days]
    if ep.variable not in allowed:
        raise unknown_key(
            "endpoint.variable", allowed, what=f"{ep.variable!r} is not an outcome of the model", given=ep.variable
        )
    if ep.stratum is not None and ep.stratum not in STRATUM_VARIABLES:
        raise unknown_key(
            "endpoint.stratum", STRATUM_VARIABLES, what=f"{ep.stratum!r} is not a patient variable", given=ep.stratum
        )


_POSITIVE = {"duration_h", "infusion_h", "session_h", "change_h", "hours_per_day"}


def check_strata(run: Any, design: Any) -> None:
    """Strata defined by the endotype must be endotypes the model assigns, or no patient would be eligible."""
    from ..models import ENDOTYPES, PLATFORM_ENDOTYPES

    if run.endpoint.stratum not in STRATUM_VARIABLES or not design.strata:
        return
    allowed = PLATFORM_ENDOTYPES if run.endpoint.stratum == "platform_endotype" else ENDOTYPES
    for i, name in enumerate(design.strata):
        if name not in allowed:
            raise unknown_key(
                f"design.strata[{i}]", allowed, what=f"{name!r} is not an endotype the model assigns", given=name
            )


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def check_doses(spec: Any, key: str) -> None:
    """Every number in a therapy or device setting is finite; doses and flows > 0, intervals and durations > 0."""
    if isinstance(spec, Mapping):
        for k, v in spec.items():
            check_doses(v, f"{key}.{k}")
    elif isinstance(spec, (list, tuple)):
        for i, v in enumerate(spec):
            check_doses(v, f"{key}[{i}]")
    elif _number(spec):
        leaf = key.rsplit(".", 1)[-1]
        if not math.isfinite(spec):
            raise ConfigError(key, f"must be a finite number, got {spec!r}")
        if (leaf.startswith("dose") or "interval" in leaf or leaf in _POSITIVE) and spec <= 0:
            raise ConfigError(key, f"must be > 0 (a dose, interval or duration), got {spec!r}")
