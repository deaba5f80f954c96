"""Patient-level data for Fit 2: the file schema and a loader that rejects bad files naming file, row and column.

Two CSV files (one header line; ``row`` in errors is the line number in the file, the header being line 1):

``patients.csv``, one row per patient:

=================  ===========================================================================================
column             meaning
=================  ===========================================================================================
patient_id         unique identifier (text)
age                years, 18-110
male               0 or 1
infection_site     CAP, HAP, VAP, primary_bacteraemia or other
shock              septic shock at baseline, 0 or 1
charlson           Charlson comorbidity index, integer >= 0
death_day          days from admission to death; empty if alive at the end of follow-up
follow_up_days     days of follow-up, > 0
=================  ===========================================================================================

``measurements.csv``, one row per time-stamped measurement:

=================  ===========================================================================================
column             meaning
=================  ===========================================================================================
patient_id         a patient of patients.csv
time_h             hours since ICU admission, >= 0 (a time before admission, or after the patient's death or end
                   of follow-up, is an error)
variable           ferritin, hla_dr, il6, lymphocytes or sofa
value              >= 0 (concentrations); sofa an integer in [0, 24]
unit               must be the variable's unit: ng/mL, AB/C, pg/mL, 10^3/uL, points (no silent conversion)
=================  ===========================================================================================

A (patient_id, time_h, variable) triple may occur once. Numbers must be finite (``nan``/``inf`` are errors).
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from ..._errors import DataFileError
from ._covariates import INFECTION_SITES

__all__ = ["MEASUREMENT_UNITS", "PatientData", "load_patient_data", "measurements_file_for"]

PATIENT_COLUMNS = ("patient_id", "age", "male", "infection_site", "shock", "charlson", "death_day", "follow_up_days")
MEASUREMENT_COLUMNS = ("patient_id", "time_h", "variable", "value", "unit")
MEASUREMENT_UNITS = {"ferritin": "ng/mL", "hla_dr": "AB/C", "il6": "pg/mL", "lymphocytes": "10^3/uL", "sofa": "points"}


class PatientData(NamedTuple):
    """A validated patient-level dataset."""

    patients: pd.DataFrame  # index patient_id
    measurements: pd.DataFrame  # long format, sorted by patient_id, time_h


def measurements_file_for(patients_file: str | Path) -> Path:
    """The measurements file that goes with a patients file: ``measurements.csv`` in the same folder."""
    return Path(patients_file).with_name("measurements.csv")


def _read(path: Path, columns: tuple[str, ...]) -> pd.DataFrame:
    if not path.is_file():
        raise DataFileError(str(path), "file not found")
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise DataFileError(str(path), f"not a readable CSV file: {err}") from None
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise DataFileError(str(path), f"missing column(s) {missing}; required: {list(columns)}", column=missing[0])
    return df


def _numbers(df: pd.DataFrame, col: str, path: Path, *, optional: bool = False) -> np.ndarray:
    out = np.full(len(df), np.nan)
    for i, text in enumerate(df[col].str.strip()):
        if text == "" and optional:
            continue
        try:
            out[i] = float(text)
        except ValueError:
            raise DataFileError(str(path), f"not a number: {text!r}", row=i + 2, column=col) from None
        if not np.isfinite(out[i]):
            raise DataFileError(str(path), f"not a finite number: {text!r}", row=i + 2, column=col)
    return out


def _check(ok: np.ndarray, path: Path, col: str, message: str, df: pd.DataFrame) -> None:
    bad = np.flatnonzero(~ok)
    if bad.size:
        i = int(bad[0])
        raise DataFileError(str(path), f"{message}, got {df[col].iloc[i]!r}", row=i + 2, column=col)


def load_patient_data(patients_file: str | Path, measurements_file: str | Path) -> PatientData:
    """Read and validate both files; the first problem raises :class:`DataFileError` (file, row, column)."""
    pp, mp = Path(patients_file), Path(measurements_file)
    p = _read(pp, PATIENT_COLUMNS)
    dup = p["patient_id"].duplicated()
    _check(~dup.to_numpy(), pp, "patient_id", "duplicate patient id", p)
    _check((p["patient_id"].str.strip() != "").to_numpy(), pp, "patient_id", "empty patient id", p)
    age = _numbers(p, "age", pp)
    _check((age >= 18) & (age <= 110), pp, "age", "age must be in [18, 110] years", p)
    for col in ("male", "shock"):
        _check(np.isin(_numbers(p, col, pp), [0.0, 1.0]), pp, col, "must be 0 or 1", p)
    charlson = _numbers(p, "charlson", pp)
    _check((charlson >= 0) & (charlson == np.round(charlson)), pp, "charlson", "must be an integer >= 0", p)
    _check(p["infection_site"].isin(INFECTION_SITES).to_numpy(), pp, "infection_site", f"one of {INFECTION_SITES}", p)
    follow = _numbers(p, "follow_up_days", pp)
    _check(follow > 0, pp, "follow_up_days", "must be > 0 days", p)
    death = _numbers(p, "death_day", pp, optional=True)
    _check(np.isnan(death) | ((death >= 0) & (death <= follow)), pp, "death_day", "must be in [0, follow_up_days]", p)
    patients = pd.DataFrame(
        {
            "age": age,
            "male": _numbers(p, "male", pp).astype(int),
            "infection_site": p["infection_site"].map(INFECTION_SITES.index).to_numpy(),
            "shock": _numbers(p, "shock", pp).astype(int),
            "charlson": charlson.astype(int),
            "death_day": death,
            "follow_up_days": follow,
        },
        index=pd.Index(p["patient_id"].to_numpy(), name="patient_id"),
    )
    m = _read(mp, MEASUREMENT_COLUMNS)
    _check(
        m["patient_id"].isin(patients.index).to_numpy(), mp, "patient_id", "unknown patient (not in patients file)", m
    )
    _check(
        m["variable"].isin(list(MEASUREMENT_UNITS)).to_numpy(), mp, "variable", f"one of {list(MEASUREMENT_UNITS)}", m
    )
    expected = m["variable"].map(MEASUREMENT_UNITS)
    bad_unit = (m["unit"].str.strip() != expected).to_numpy()
    if bad_unit.any():
        i = int(np.flatnonzero(bad_unit)[0])
        raise DataFileError(
            str(mp),
            f"wrong unit {m['unit'].iloc[i]!r} for {m['variable'].iloc[i]}: expected {expected.iloc[i]!r}",
            row=i + 2,
            column="unit",
        )
    t = _numbers(m, "time_h", mp)
    _check(t >= 0, mp, "time_h", "time before ICU admission (must be >= 0 h)", m)
    v = _numbers(m, "value", mp)
    _check(v >= 0, mp, "value", "negative concentration or score", m)
    sofa = (m["variable"] == "sofa").to_numpy()
    _check(~sofa | ((v <= 24) & (v == np.round(v))), mp, "value", "SOFA must be an integer in [0, 24]", m)
    end_h = 24.0 * np.fmin(patients["death_day"], patients["follow_up_days"]).loc[m["patient_id"]].to_numpy()
    _check(t <= end_h, mp, "time_h", "measurement after the patient's death or end of follow-up", m)
    key = pd.DataFrame({"p": m["patient_id"], "t": t, "v": m["variable"]})
    _check(~key.duplicated().to_numpy(), mp, "variable", "duplicate measurement (same patient, time and variable)", m)
    measurements = pd.DataFrame(
        {"patient_id": m["patient_id"].to_numpy(), "time_h": t, "variable": m["variable"].to_numpy(), "value": v}
    ).sort_values(["patient_id", "time_h"], kind="stable")
    return PatientData(patients, measurements.reset_index(drop=True))
