"""ICU-acquired (secondary) infection inside the ODE: the Exp(1) draw seeds new pathogen load when the cumulative
infection hazard reaches it, and that load produces new inflammation and organ dysfunction (_patient_rhs.py)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sepsim._keys import stage_key
from sepsim.models import Placebo, reference_params, simulate_cohort, simulate_outcomes, solve_patient, to_physical
from sepsim.models._effects import Covariates
from sepsim.models._patient_rhs import CLOCK_FLOOR, IDX_DEATH, IDX_INFECTION, STATE_NAMES

COV = Covariates(jnp.asarray(75.0), jnp.asarray(0.3), jnp.asarray(60.0), jnp.asarray(150.0))
T = 6.0 * np.arange(4 * 28 + 1.0)  # every 6 h to day 28
_solve = jax.jit(lambda p: solve_patient(p, COV, Placebo(), jnp.asarray(T)))
IDX = {s: STATE_NAMES.index(s) for s in ("secondary_pathogen", "il6", "organ_dysfunction", "secondary_infection_clock")}
DRAW = 0.03  # the reference patient's Lambda_inf reaches it on day ~1.3


def _course(**over):
    sol = _solve(reference_params(**over))
    assert bool(sol.ok)
    return np.asarray(to_physical(sol.ys))


@pytest.fixture(scope="module")
def pair():
    return _course(crn_infection=DRAW), _course(crn_infection=1000.0)  # the draw beyond any horizon: no infection


def test_infection_seeds_pathogen_inflammation_and_organ_dysfunction(pair):
    """The same patient with the infection draw reached vs beyond the horizon: identical until the infection, then
    a second pathogen and IL-6 rise and worse organ dysfunction and a higher death hazard."""
    inf, none = pair
    lam = inf[:, IDX_INFECTION]
    k = int(np.argmax(lam >= DRAW))  # first saved time at or after the infection
    assert 0 < k < len(T) - 8
    np.testing.assert_allclose(inf[:k], none[:k], rtol=1e-4, atol=1e-12)  # the same until the draw (to solver rtol)
    p2, il6, org = (IDX[s] for s in ("secondary_pathogen", "il6", "organ_dysfunction"))
    assert none[:, p2].max() <= 1.0001e-6  # never leaves the colonising floor without the infection
    assert inf[k:, p2].max() > reference_params().p_inoc_2  # the inoculum establishes and grows
    assert inf[k:, il6].max() > 2.0 * none[k:, il6].max()  # a second IL-6 rise
    assert (inf[k:, org] - none[k:, org]).max() > 2.0  # SOFA points
    assert inf[-1, IDX_DEATH] > none[-1, IDX_DEATH] + 0.1  # its attributable deaths come out of the dynamics
    assert inf[-1, p2] < 1e-6  # antibiotics (t_abx_2 after onset) clear it by day 28


def test_onset_clock_starts_at_the_crossing(pair):
    """The onset clock (hours since the infection) starts where Lambda_inf reaches the draw: infection_day."""
    inf, _ = pair
    lam, clock = inf[:, IDX_INFECTION], inf[:, IDX["secondary_infection_clock"]]
    k = int(np.argmax(lam >= DRAW))
    t_cross = np.interp(DRAW, lam[k - 1 : k + 1], T[k - 1 : k + 1])  # hazard ~linear within 6 h
    np.testing.assert_allclose(clock[: k - 1], CLOCK_FLOOR)
    np.testing.assert_allclose(clock[k + 1 :], CLOCK_FLOOR + T[k + 1 :] - t_cross, atol=0.2)


@pytest.mark.slow  # ~15 s on 2 busy cores; the switch timing itself is in the fast test above
def test_outcome_infection_day_is_the_dynamics_infection():
    """Outcome table: a patient with ``secondary_infection`` has the onset clock running from ``infection_day``
    (daily saves, linear interpolation of the hazard: within 1 h); a patient without one keeps the clock at its
    floor on every day alive, also after ICU discharge (the infection hazard needs organ support)."""
    c = simulate_cohort(48, key=stage_key(7, "cohort"))
    o = simulate_outcomes(c, [Placebo()], key=stage_key(7, "outcomes"), progress=False).sel(arm="placebo")
    clock = o.state_secondary_infection_clock.values
    infected = o.secondary_infection.values
    assert 3 <= infected.sum() <= 20  # ~15% of 48
    day = np.arange(o.sizes["day"])
    for i in np.flatnonzero(infected):
        t = o.infection_day.values[i]
        after = day >= np.ceil(t) + 1
        np.testing.assert_allclose(clock[i, after], CLOCK_FLOOR + 24.0 * (day[after] - t), atol=1.0)
        assert o.state_secondary_pathogen.values[i, day < t].max() <= 1.0001e-6
    discharged = 0
    for i in np.flatnonzero(~infected):
        alive = o.alive.values[i]
        np.testing.assert_allclose(clock[i, alive], CLOCK_FLOOR, atol=1e-9)
        discharged += int((alive & ~o.in_icu.values[i]).sum())
    assert discharged > 50  # patient-days alive after ICU discharge were checked


def test_fixed_override_of_the_draw_reaches_ode_and_outcome_table_alike():
    """``cohort.fixed.crn_infection`` (an accepted override) is the number both the ODE parameters and the outcome
    table's infection crossing use; without it both use the cohort's own draws."""
    import xarray as xr

    from sepsim.models._outcomes import _chunk_inputs, _per_patient_override

    ds = xr.Dataset({"crn_infection": ("patient", [0.5, 2.0]), "t_screen_h": ("patient", [-3.0, -1.0])})
    for attrs, want in (({}, [0.5, 2.0]), ({"fixed.crn_infection": 1000.0}, [1000.0, 1000.0])):
        ds.attrs = attrs
        params, _, _ = _chunk_inputs(ds, slice(0, 2), 2, 10)
        np.testing.assert_array_equal(np.asarray(params.crn_infection), want)
        np.testing.assert_array_equal(_per_patient_override(ds, "crn_infection"), want)
