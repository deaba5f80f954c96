"""Patient-level data loader (Fit 2 input): a good file loads; each kind of bad file names file, row and column."""

import pytest

from sepsim._errors import DataFileError
from sepsim.models.population._data import load_patient_data

PATIENTS = """patient_id,age,male,infection_site,shock,charlson,death_day,follow_up_days
p1,71,1,CAP,1,3,,28
p2,58,0,VAP,0,1,12.5,28
"""
MEASUREMENTS = """patient_id,time_h,variable,value,unit
p1,0,ferritin,5200,ng/mL
p1,0,hla_dr,9000,AB/C
p1,24,sofa,9,points
p2,2,hla_dr,3100,AB/C
p2,2,il6,450,pg/mL
"""


def _files(tmp_path, patients=PATIENTS, measurements=MEASUREMENTS):
    pp, mp = tmp_path / "patients.csv", tmp_path / "measurements.csv"
    pp.write_text(patients)
    mp.write_text(measurements)
    return pp, mp


def test_good_files_load(tmp_path):
    data = load_patient_data(*_files(tmp_path))
    assert list(data.patients.index) == ["p1", "p2"]
    assert data.patients.loc["p2", "infection_site"] == 2 and data.patients.loc["p2", "death_day"] == 12.5
    assert len(data.measurements) == 5 and list(data.measurements.patient_id) == ["p1"] * 3 + ["p2"] * 2
    assert data.measurements.groupby("patient_id").time_h.apply(lambda s: s.is_monotonic_increasing).all()


@pytest.mark.parametrize(
    "which, old, new, row, column, message",
    [
        ("patients", "charlson,", "comorbidity,", None, "charlson", "missing column"),
        ("patients", "p2,58", "p1,58", 3, "patient_id", "duplicate patient id"),
        ("patients", "p2,58,0,VAP", "p2,58,0,UTI", 3, "infection_site", "one of"),
        ("patients", "71,1,CAP", "seventy,1,CAP", 2, "age", "not a number"),
        ("measurements", "5200,ng/mL", "5200,ug/L", 2, "unit", "wrong unit"),
        ("measurements", "p2,2,il6,450", "p2,2,il6,-450", 6, "value", "negative concentration"),
        ("measurements", "p1,24,sofa", "p1,-3,sofa", 4, "time_h", "time before ICU admission"),
        ("measurements", "p2,2,hla_dr", "p9,2,hla_dr", 5, "patient_id", "unknown patient"),
        ("measurements", "24,sofa,9,", "24,sofa,9.5,", 4, "value", "SOFA must be an integer"),
        ("patients", "p1,71", "p1,12", 2, "age", "age must be in"),
        ("patients", "p1,71,1,", "p1,71,2,", 2, "male", "must be 0 or 1"),
        ("patients", "CAP,1,3,", "CAP,1,-1,", 2, "charlson", "integer >= 0"),
        ("patients", "12.5,28", "30,28", 3, "death_day", "must be in \\[0, follow_up_days\\]"),
        ("patients", ",,28", ",,0", 2, "follow_up_days", "must be > 0"),
        ("patients", "\np1,71", "\n,71", 2, "patient_id", "empty patient id"),
        ("patients", "p2,58,", "p2,nan,", 3, "age", "not a finite number"),
        ("measurements", "unit\n", "units\n", None, "unit", "missing column"),
        ("measurements", "p2,2,il6", "p2,2,crp", 6, "variable", "one of"),
        ("measurements", "p2,2,il6,450", "p2,400,il6,450", 6, "time_h", "after the patient's death"),
        ("measurements", "p2,2,il6,450,pg/mL", "p2,2,hla_dr,3100,AB/C", 6, "variable", "duplicate measurement"),
    ],
)
def test_bad_file_names_file_row_and_column(tmp_path, which, old, new, row, column, message):
    patients = PATIENTS.replace(old, new) if which == "patients" else PATIENTS
    measurements = MEASUREMENTS.replace(old, new) if which == "measurements" else MEASUREMENTS
    pp, mp = _files(tmp_path, patients, measurements)
    with pytest.raises(DataFileError, match=message) as err:
        load_patient_data(pp, mp)
    assert err.value.path == str(pp if which == "patients" else mp)
    assert err.value.row == row and err.value.column == column
    if row is not None:
        assert f"row {row}" in str(err.value)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(DataFileError, match="file not found"):
        load_patient_data(tmp_path / "nope.csv", tmp_path / "m.csv")
