"""Files and report section of the ``thresholds`` study: ``thresholds.nc`` (CF, scalars and per-stratum power:
what ``sepsim-collect MULTIRUN --artifact thresholds.nc`` merges over a sweep) and ``thresholds.csv``."""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import Any

import xarray as xr

from .._io import atomic_to_netcdf, atomic_write_text
from ._section import add_section, html_table

__all__ = ["thresholds_dataset", "write_thresholds"]

LONG_NAMES = {
    "share_unclassified": "share of screened patients unclassified (not enrolled)",
    "share_MALS": "share of screened patients classified MALS",
    "share_immunoparalysis": "share of screened patients classified immunoparalysis",
    "enrolled_share": "share of screened patients enrolled (MALS or immunoparalysis)",
    "misclassified_share": "share of enrolled patients whose endotype differs from the reference (IS-04 rule on "
    "true values)",
    "harm_mortality_misclassified": "mean effect of the assigned therapy on 28-day mortality, misclassified patients",
    "harm_mortality_correct": "mean effect of the assigned therapy on 28-day mortality, correctly classified",
    "harm_response_misclassified": "mean loss of SOFA response from the assigned therapy, misclassified patients",
    "harm_response_correct": "mean loss of SOFA response from the assigned therapy, correctly classified",
    "excess_deaths_per_100_treated": "28-day deaths caused among misclassified patients per 100 enrolled patients "
    "given their assigned therapy",
}


def thresholds_dataset(values: dict[str, float], settings: dict[str, Any], oc: xr.Dataset | None) -> xr.Dataset:
    data: dict[str, Any] = {
        k: ((), v, {"long_name": LONG_NAMES[k], "units": "1" if not k.startswith("excess") else "1/100"})
        for k, v in values.items()
    }
    if oc is not None and "p_superiority_stratum" in oc:
        p = oc["p_superiority_stratum"]
        data["power"] = (("stratum",), p.sel(stat="estimate").values, {"units": "1", "long_name": "P(the stratum's "
                         "active arm declared superior) (the run's design)"})  # fmt: skip
        data["power_mcse"] = (("stratum",), p.sel(stat="mcse").values, {"units": "1", "long_name": "MC SE of power"})
    coords = {"stratum": [str(s) for s in oc["stratum"].values]} if "power" in data else {}
    attrs = {"Conventions": "CF-1.10", "title": "Endotype thresholds: mix, misclassification harm, power"}
    attrs.update({k: v for k, v in settings.items() if k != "kind"})
    return xr.Dataset(data, coords=coords, attrs=attrs)


def write_thresholds(run_dir: Path, ds: xr.Dataset) -> list[Path]:
    nc = atomic_to_netcdf(ds, run_dir / "thresholds.nc")
    csv = run_dir / "thresholds.csv"
    flat = {k: float(ds[k]) for k in ds.data_vars if ds[k].ndim == 0}
    flat.update({f"{k}_{s}": float(ds[k].sel(stratum=s)) for k in ("power", "power_mcse") if k in ds
                 for s in ds["stratum"].values})  # fmt: skip
    atomic_write_text(csv, "quantity,value\n" + "".join(f"{k},{v:.6g}\n" for k, v in flat.items()))
    rows = [[html.escape(str(ds[k].attrs["long_name"])), "&ndash;" if not math.isfinite(v) else f"{v:.4f}"]
            for k, v in ((k, float(ds[k])) for k in ds.data_vars if ds[k].ndim == 0)]  # fmt: skip
    if "power" in ds:
        for s in ds["stratum"].values:
            p, se = float(ds["power"].sel(stratum=s)), float(ds["power_mcse"].sel(stratum=s))
            rows.append([f"power, {html.escape(str(s))}", f"{p:.3f} <small>({se:.3f})</small>"])
    rule = ", ".join(f"{k} = {ds.attrs[k]}" for k in ("ferritin_cutoff", "hla_dr_cutoff", "assay_cv_scale"))
    body = (
        f"<p>This run's rule: {html.escape(rule)}. Reference endotype: IS-04's rule (4420 ng/mL, 5000 AB/C) on the "
        "true biomarker values. Harm: the effect of the therapy a patient's stratum assigns, on his own potential "
        "outcomes (positive = harm). Sweep the cut-offs and merge the runs with <code>sepsim-collect MULTIRUN "
        "--artifact thresholds.nc</code> (docs/studies/thresholds.md).</p>" + html_table(["quantity", "value"], rows)
    )
    section = add_section(run_dir, "thresholds", "Endotype thresholds: mix, misclassification and harm", body)
    return [nc, csv, section]
