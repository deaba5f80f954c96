"""The endpoint and stratum names that validation accepts are exactly what the patient model writes."""

import pytest

from sepsim._keys import stage_key
from sepsim.config._cross import ENDPOINT_MIN_DAYS, ENDPOINT_VARIABLES, STRATUM_VARIABLES


@pytest.mark.slow  # compiles the patient model for a 90-day horizon
def test_allowed_endpoint_and_stratum_variables_match_a_real_outcome_table():
    from sepsim.models import Placebo, simulate_cohort, simulate_outcomes

    cohort = simulate_cohort(2, key=stage_key(1, "cohort"))
    table = simulate_outcomes(cohort, [Placebo()], key=stage_key(1, "outcomes"), days=90, progress=False)
    per_patient_arm = {v for v in table.data_vars if table[v].dims == ("patient", "arm")}
    per_patient_arm -= {"solver_ok", "solver_steps"}  # solver diagnostics, not outcomes
    assert per_patient_arm == {v for v in ENDPOINT_VARIABLES if ENDPOINT_MIN_DAYS.get(v, 0) <= 90}
    strings = {v for v in table.data_vars if table[v].dims == ("patient",) and table[v].dtype.kind in "UO"}
    # platform_endotype is added by the study platform (sepsim/studies/_platform.py), not by simulate_outcomes
    assert strings == set(STRATUM_VARIABLES) - {"platform_endotype"}
