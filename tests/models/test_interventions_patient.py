"""Integration with the virtual patient (sepsim.models.simulate_outcomes): Placebo vs intervention arms."""

import numpy as np
import pytest

from sepsim._keys import stage_key
from sepsim.models import simulate_cohort, simulate_outcomes
from sepsim.models.interventions import Placebo, arm_from_config

pytestmark = pytest.mark.slow  # ~35 s: three compiled patient solves


@pytest.fixture(scope="module")
def outcomes():
    cohort = simulate_cohort(3, key=stage_key(11, "cohort"))
    arms = [
        Placebo(),
        arm_from_config({"therapies": ["interferon_gamma"]}),
        arm_from_config({"therapies": ["anakinra"], "adsorber": {"name": "cytosorb", "days": 3}}),
    ]
    return simulate_outcomes(cohort, arms, key=stage_key(11, "outcomes"), days=14, chunk_size=3, progress=False)


def test_arms_solve_on_virtual_patients(outcomes):
    assert list(outcomes["arm"].values) == ["placebo", "interferon_gamma", "anakinra+cytosorb"]
    assert bool(outcomes["solver_ok"].all())


def test_ifn_gamma_raises_patient_hla_dr(outcomes):
    h = outcomes["state_hla_dr"]
    ratio = (h.sel(arm="interferon_gamma") / h.sel(arm="placebo")).sel(day=3).values
    print("\nHLA-DR day 3, IFN-g / placebo per patient:", np.round(ratio, 2))
    assert np.all(ratio > 1.5)


def test_cytosorb_with_anakinra_lowers_il6_while_running(outcomes):
    il6 = outcomes["state_il6"]
    ratio = (il6.sel(arm="anakinra+cytosorb") / il6.sel(arm="placebo")).sel(day=1).values
    print("\nIL-6 day 1, anakinra+CytoSorb / placebo per patient:", np.round(ratio, 2))
    assert np.all(ratio < 1.0)
