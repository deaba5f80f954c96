"""Integration with the virtual patient (sepsim.models): arm states inside the patient solve, Placebo vs arms."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sepsim._keys import stage_key
from sepsim.models import Covariates, reference_params, simulate_cohort, simulate_outcomes, solve_patient
from sepsim.models.interventions import Combination, CytoSorb, InterferonGamma, Placebo, Vancomycin, arm_from_config
from sepsim.models.interventions._drivers import simulate


def test_arm_states_in_patient_solve_match_standalone():
    # PK and sorbent loads do not depend on the patient's mediators here, so the patient solver must reproduce them
    cov = Covariates(*(jnp.asarray(x) for x in (70.0, 0.30, 80.0, 150.0)))
    arm = Combination(therapies=(InterferonGamma(n_doses=2), Vancomycin(n_doses=4)), device=CytoSorb(days=2))
    ts = jnp.asarray([0.0, 6.0, 12.5, 30.0, 47.0])
    sol = jax.jit(lambda p: solve_patient(p, cov, arm, ts))(reference_params())
    alone = simulate(arm, cov, ts)
    n = sol.ys.shape[-1] - arm.n_states
    assert bool(sol.ok)
    np.testing.assert_allclose(np.asarray(sol.ys[:, n:]), np.asarray(alone.z), rtol=2e-4, atol=1e-6)


# The cohort tests below take ~35 s (three compiled patient solves): marked slow.


@pytest.fixture(scope="module")
def outcomes():
    cohort = simulate_cohort(3, key=stage_key(11, "cohort"))
    arms = [
        Placebo(),
        arm_from_config({"therapies": ["interferon_gamma"]}),
        arm_from_config({"therapies": ["anakinra"], "adsorber": {"name": "cytosorb", "days": 3}}),
    ]
    return simulate_outcomes(cohort, arms, key=stage_key(11, "outcomes"), days=14, chunk_size=3, progress=False)


@pytest.mark.slow
def test_arms_solve_on_virtual_patients(outcomes):
    assert list(outcomes["arm"].values) == ["placebo", "interferon_gamma", "anakinra+cytosorb"]
    assert bool(outcomes["solver_ok"].all())


@pytest.mark.slow
def test_ifn_gamma_raises_patient_hla_dr(outcomes):
    h = outcomes["state_hla_dr"]
    ratio = (h.sel(arm="interferon_gamma") / h.sel(arm="placebo")).sel(day=3).values
    print("\nHLA-DR day 3, IFN-g / placebo per patient:", np.round(ratio, 2))
    assert np.all(ratio > 1.5)


@pytest.mark.slow
def test_cytosorb_with_anakinra_lowers_il6_while_running(outcomes):
    il6 = outcomes["state_il6"]
    ratio = (il6.sel(arm="anakinra+cytosorb") / il6.sel(arm="placebo")).sel(day=1).values
    print("\nIL-6 day 1, anakinra+CytoSorb / placebo per patient:", np.round(ratio, 2))
    assert np.all(ratio < 1.0)
