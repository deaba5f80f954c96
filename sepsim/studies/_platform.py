"""The ``platform`` study: a precision-immunotherapy platform (biomarker strata, arms entering over calendar time,
shared placebo within stratum, response-adaptive randomisation within strata, Bayesian stopping per stratum),
compared on the same virtual patients with the same design under fixed allocation and with an all-comers design
(no biomarker selection: every patient may get every arm, one pooled analysis).

Strata come from :func:`sepsim.models.classify_platform_endotype` on the screening values (``platform_endotype``,
added to the outcome table before screening). Every design runs on the run's outcome table with the run's trial key
(``stage_key(seed, "trials")``): the same patient stream, so the designs' differences are not sampling noise.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from .._errors import ConfigError
from .._keys import stage_key
from ..models import PLATFORM_ENDOTYPES, classify_platform_endotype

__all__ = ["add_platform_endotype", "platform_design", "platform_comparison"]


def add_platform_endotype(table: xr.Dataset) -> xr.Dataset:
    """The table with ``platform_endotype`` (patient) from its measured screening values."""
    code = classify_platform_endotype(
        *(np.asarray(table[f"screen_{b}"].values) for b in ("ferritin", "il6", "hla_dr", "lymphocytes"))
    )
    return table.assign(platform_endotype=("patient", np.asarray(PLATFORM_ENDOTYPES)[code].astype(str)))


def platform_design(base: dict[str, Any], variant: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """``base`` with the variant's top-level keys replaced; ``all_comers: true`` drops the biomarker strata
    (every arm open to every patient, pooled decisions). Returns (design dict, all-comers?)."""
    variant = dict(variant or {})
    all_comers = bool(variant.pop("all_comers", False))
    design = {**base, **variant}
    if all_comers:
        stopping = {**design.get("stopping", {}), "per_stratum": False}
        allocation = {**design.get("allocation", {})}
        allocation.pop("within_strata", None)
        design.update(strata=None, stratum_arms=None, stopping=stopping, allocation=allocation)
    return design, all_comers


def _true_rates(table: xr.Dataset, endpoint: str, stratum: str, strata: list[str]) -> np.ndarray:
    y = np.asarray(table[endpoint].transpose("patient", "arm").values, dtype=np.float64)
    labels = np.asarray(table[stratum].values).astype(str)
    rows = [y[labels == s].mean(axis=0) if (labels == s).any() else np.full(y.shape[1], np.nan) for s in strata]
    return np.stack([*rows, y.mean(axis=0)])  # (stratum + all, arm)


def platform_comparison(
    table: xr.Dataset,
    base: dict[str, Any],
    variants: dict[str, dict[str, Any]],
    *,
    endpoint: str,
    stratum: str,
    n_trials: int,
    seed: int,
    processes: int | str = 1,
) -> xr.Dataset:
    """Per design, stratum (and ``all``) and arm: P(declared superior to placebo) with MC SE and expected patients,
    plus the pool's true rates (CF Dataset)."""
    from ..platform import design_from_dict, from_dataset, run_trials
    from ..platform._operating.trials import operating_characteristics

    strata = [str(s) for s in base["strata"]]
    arms = [str(a) for a in base["arms"]]
    stratified = from_dataset(table, endpoint=endpoint, stratum=stratum, strata=strata)
    pooled = from_dataset(table, endpoint=endpoint)
    key = stage_key(seed, "trials")  # the run's own trials: the same patients for every design
    designs = {"platform": {}, **variants}
    cols = [*strata, "all"]
    shape = (len(designs), len(cols), len(arms))
    p_sup, p_se, n_arm = np.full(shape, np.nan), np.full(shape, np.nan), np.full(shape, np.nan)
    n_total = np.full((len(designs), 2), np.nan)
    for i, (name, variant) in enumerate(designs.items()):
        spec, all_comers = platform_design(base, variant)
        try:
            design = design_from_dict(spec)
        except ConfigError as err:
            raise ConfigError(f"study.compare.{name}", str(err)) from None
        oc = operating_characteristics(
            run_trials(
                pooled if all_comers else stratified,
                design,
                n_trials=n_trials,
                key=key,
                progress=False,
                processes=processes,
            )
        )
        sup = oc["p_decision"].sel(decision="superior")
        n = oc["sample_size_arm_mean"].sel(stat="estimate")
        for j, col in enumerate(cols):
            s = "all" if all_comers else col
            if s not in sup["stratum"].values:
                continue
            if all_comers != (col == "all"):
                continue
            p_sup[i, j] = sup.sel(stratum=s, stat="estimate").reindex(arm=arms).values
            p_se[i, j] = sup.sel(stratum=s, stat="mcse").reindex(arm=arms).values
            n_arm[i, j] = n.sel(stratum=s).reindex(arm=arms).values
        if not all_comers:
            n_arm[i, -1] = np.nansum(n_arm[i, :-1], axis=0)
        n_total[i] = oc["sample_size_mean"].sel(stat=["estimate", "mcse"]).values
    dsa = ("design", "stratum", "arm")
    truth = _true_rates(table, endpoint, stratum, strata)
    return xr.Dataset(
        {
            "p_superior": (dsa, p_sup, {"units": "1", "long_name": "P(arm declared superior to placebo)"}),
            "p_superior_mcse": (dsa, p_se, {"units": "1", "long_name": "Monte-Carlo SE of p_superior"}),
            "patients_mean": (dsa, n_arm, {"units": "1", "long_name": "expected patients randomised to the arm"}),
            "sample_size_mean": (("design",), n_total[:, 0], {"units": "1", "long_name": "expected trial size"}),
            "sample_size_mcse": (("design",), n_total[:, 1], {"units": "1", "long_name": "MC SE of the size"}),
            "true_rate": (("stratum", "arm"), truth, {"units": "1", "long_name": f"{endpoint} in the pool"}),
        },
        coords={"design": list(designs), "stratum": cols, "arm": arms},
        attrs={"Conventions": "CF-1.10", "title": "Precision platform vs fixed allocation vs all-comers",
               "endpoint": endpoint, "n_trials": n_trials},
    )  # fmt: skip
