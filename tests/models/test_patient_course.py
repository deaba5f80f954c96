"""The clinical course after randomisation: recovery, ICU discharge, post-acute death, length of stay, precision."""

import subprocess
import sys

import numpy as np
import pytest
from scipy.optimize import brentq

from sepsim._errors import ConfigError
from sepsim._keys import stage_key
from sepsim.models import CohortConfig, Placebo, post_acute_cumhaz, simulate_cohort, simulate_outcomes
from sepsim.models._course import CourseParams, clinical_course, icu_discharge_day

# patient.yaml values: o_ready, k_icu_discharge, ward_stay_mean, h_post_early, tau_post, h_post_late; HR 1
CP = CourseParams(3.5, 1.0, 10.3, 0.0056, 40.0, 0.00037, 1.0)


def _cp(n, **kw):
    return CourseParams(*(np.full(n, float(kw.get(f, v))) for f, v in zip(CourseParams._fields, CP, strict=True)))


def test_icu_discharge_on_hand_built_trajectory():
    """Ready on [j, j+1) when O <= o_ready at both ends; discharge when k x ready-time reaches the Exp(1) draw."""
    organ = np.array([[9.0, 8.0, 5.0, 3.0, 3.0, 3.0, 3.0, 3.0]])  # ready from day 3 on
    cp = _cp(1)
    cp = CourseParams(*(np.asarray(v)[:, None] for v in cp))
    np.testing.assert_allclose(icu_discharge_day(organ, np.array([[1.5]]), cp), [[4.5]])
    np.testing.assert_allclose(icu_discharge_day(organ, np.array([[0.25]]), cp), [[3.25]])
    # beyond the last day readiness holds: 4 ready days in the grid, 2.5 more needed after day 7
    np.testing.assert_allclose(icu_discharge_day(organ, np.array([[6.5]]), cp), [[9.5]])
    # a relapse interrupts readiness: [3,4) ready, [4,5) and [5,6) not, [6,7) ready
    relapse = np.array([[9.0, 8.0, 5.0, 3.0, 3.0, 5.0, 3.0, 3.0]])
    np.testing.assert_allclose(icu_discharge_day(relapse, np.array([[1.5]]), cp), [[6.5]])
    # never ready: never discharged
    assert np.isinf(icu_discharge_day(np.full((1, 8), 6.0), np.array([[0.1]]), cp)).all()


def test_death_before_and_after_discharge_on_hand_built_course():
    """Acute hazard until ICU discharge, then the closed-form post-acute hazard spends the rest of the draw."""
    days = np.arange(11.0)
    organ = np.where(days < 4, 9.0, 2.0)[None, None, :]  # ready from day 4: discharge at 4 + draw
    lam = (0.05 * days)[None, None, :]  # acute cumulative hazard 0.05/day
    e_death = np.array([0.1, 0.3])  # patient 0 dies in ICU on day 2; patient 1 survives to discharge (day 5)
    organ, lam = np.repeat(organ, 2, 0), np.repeat(lam, 2, 0)
    course = clinical_course(organ, lam, e_death, np.array([1.0, 1.0]), np.array([1.0, 1.0]), _cp(2), 365.0)
    np.testing.assert_allclose(course.death[0, 0], 2.0)
    assert course.death_in_icu[0, 0] and np.isinf(course.icu_discharge[0, 0])
    np.testing.assert_allclose(course.icu_discharge[1, 0], 5.0)
    remaining = 0.3 - 0.05 * 5.0
    s = brentq(lambda x: post_acute_cumhaz(x, CP) - remaining, 0.0, 360.0, xtol=1e-12)
    np.testing.assert_allclose(course.death[1, 0], 5.0 + s, rtol=1e-9)
    # the ward stay ends at 5 + 10.3 d; death comes after it when s > 10.3 (out of hospital), else in hospital
    assert np.isfinite(course.hospital_discharge[1, 0]) == (s > 10.3)
    # at a shorter horizon the same patient is alive
    short = clinical_course(organ, lam, e_death, np.ones(2), np.ones(2), _cp(2), float(np.floor(5.0 + s)))
    assert np.isinf(short.death[1, 0]) and np.isfinite(short.icu_discharge[1, 0])


def test_post_acute_hazard_matches_its_sources():
    """Lambda_post(30 d) ~ 0.128 and Lambda_post(365 d) ~ 0.357 (patient.yaml h_post_*: 8.6% post-ICU hospital
    deaths, KM 91% at 1 month and 76% at 1 year after hospital discharge; clinical_course.md 1, 3)."""
    assert post_acute_cumhaz(0.0, CP) == 0.0
    np.testing.assert_allclose(post_acute_cumhaz(30.0, CP), 0.128, rtol=0.06)
    np.testing.assert_allclose(post_acute_cumhaz(365.0, CP), 0.357, rtol=0.03)
    # monthly hazard by month 12 ~ 0.011 (32,244 hospital survivors)
    np.testing.assert_allclose(post_acute_cumhaz(365.0, CP) - post_acute_cumhaz(335.0, CP), 0.011, rtol=0.1)


@pytest.fixture(scope="module")
def year():
    # the plausible-range population: the expectations below (e.g. one chronically critically ill survivor) were
    # measured on it; the calibrated default population has its own course figures (README_patient.md)
    cohort = simulate_cohort(256, key=stage_key(5, "cohort"), config=CohortConfig(source="prior"))
    arms = [Placebo(), Placebo(name="placebo_twin")]
    # chunks of 16 patients over 90 ODE days: the compiled shape of test_patient_outcomes.py::test_90_day_horizon
    out = simulate_outcomes(cohort, arms, key=stage_key(5, "outcomes"), days=365, chunk_size=16, progress=False)
    return cohort, out


def test_year_horizon_contract(year):
    cohort, out = year
    assert out.sizes["day"] == 91 and out.attrs["days"] == 365  # the ODE stops at day 90
    o = out.sel(arm="placebo")
    for d in (28, 60, 90, 365):
        assert out[f"dead_{d}d"].dims == ("patient", "arm")
    dead = [o[f"dead_{d}d"].values for d in (28, 60, 90, 365)]
    assert all(np.all(a <= b) for a, b in zip(dead, dead[1:], strict=False))
    for v in ("death_day", "icu_discharge_day", "hospital_discharge_day", "icu_los_d", "hospital_los_d"):
        assert out[v].attrs["units"] == "d" and "since" not in out[v].attrs["units"]
    t_icu, t_hosp, death = o.icu_discharge_day.values, o.hospital_discharge_day.values, o.death_day.values
    # every patient dies in ICU, or is discharged alive, or is still in ICU at the horizon
    assert not np.any(np.isfinite(t_icu) & (death <= t_icu))
    np.testing.assert_array_equal(o.died_in_icu.values, np.isfinite(death) & np.isnan(t_icu))
    assert np.all(t_hosp[np.isfinite(t_hosp)] > t_icu[np.isfinite(t_hosp)])
    np.testing.assert_allclose(o.icu_los_d.values, np.fmin(np.fmin(t_icu, death), 365.0))
    assert np.all(o.hospital_los_d.values >= o.icu_los_d.values)
    # in_icu: alive and before ICU discharge
    day = out.day.values
    expect = (day[None, :] < np.nan_to_num(death, nan=np.inf)[:, None]) & (
        day[None, :] < np.nan_to_num(t_icu, nan=np.inf)[:, None]
    )
    np.testing.assert_array_equal(o.in_icu.values, expect)
    # the discharge and ward draws are common random numbers: identical under an identical arm
    for v in ("icu_discharge_day", "hospital_discharge_day", "death_day"):
        np.testing.assert_array_equal(o[v].values, out.sel(arm="placebo_twin")[v].values)
    assert out.attrs["covariate_defaults"] == "none"  # the population model's cohort carries charlson
    # trial outcomes in the table follow their definitions (tests/models/test_trial_outcomes.py)
    support = o.organ_support.values
    np.testing.assert_array_equal(support, o.in_icu.values & (o.state_organ_dysfunction.values > 3.5))
    hosp_death = np.isfinite(death) & (death <= 90.0) & np.isnan(t_hosp)
    np.testing.assert_array_equal(o.osfd_21.values, np.where(hosp_death, -1, 21 - support[:, :21].sum(axis=1)))
    assert set(np.unique(o.infection_response_d15.values)) <= {0, 1, 2}
    assert np.all(o.infection_response_d15.values[death <= 15.0] == 1)


def test_survivors_recover(year):
    """Survivors' organ dysfunction resolves: the true state falls to the chronic baseline, observed SOFA falls."""
    _, out = year
    o = out.sel(arm="placebo")
    alive = np.isnan(o.death_day.values)
    # An ICU-acquired infection can tip a patient into Reynolds' persistent damage loop (damage stays ~0.3 after
    # both pathogens are cleared; SOFA ~5, a low hazard): chronic critical illness, README_patient.md "Known gaps".
    # In this cohort 1 survivor of 256 patients (infected on day 3.6); every other survivor recovers.
    stuck = alive & (o.state_damage.values[:, 90] > 0.05)
    assert stuck.sum() <= 1
    alive &= ~stuck
    organ = o.state_organ_dysfunction.values[alive]
    assert alive.sum() >= 15
    assert np.all(organ[:, 60] < organ[:, 0])
    assert np.all(organ[:, 90] < 2.0)  # o_chronic 1.0 plus the d_base floor
    sofa = o.sofa.values[alive]
    assert sofa[:, 28].mean() < sofa[:, 7].mean() < sofa[:, 0].mean() - 0.5
    assert np.all(np.isfinite(o.icu_discharge_day.values[alive]))  # every 1-year survivor left the ICU


def test_mortality_after_discharge_follows_the_post_acute_hazard(year):
    """Conditional on leaving the ICU alive at t, death by the horizon has probability 1 - exp(-HR Lambda_post(
    horizon - t)) (the Exp(1) draw is memoryless). Observed count vs the sum of these probabilities, within 4 SD."""
    cohort, out = year
    o = out.sel(arm="placebo")
    t = o.icu_discharge_day.values
    left = np.isfinite(t)
    hr = np.exp(0.26 * (cohort.age.values[left] - 70.0) / 10.0)  # beta_age; Charlson at its default (HR 1)
    p = 1.0 - np.exp(-hr * post_acute_cumhaz(365.0 - t[left], CP))
    died = np.isfinite(o.death_day.values[left])
    assert left.sum() > 100
    assert abs(died.sum() - p.sum()) < 4.0 * np.sqrt((p * (1.0 - p)).sum()), (died.sum(), p.sum())


def test_charlson_acts_on_the_hazards(year):
    """Higher Charlson index: pathwise earlier or equal death (common random numbers), and the default is recorded."""
    cohort, _ = year  # same batch shape as the fixture: no new compile
    n, arms, key = cohort.sizes["patient"], [Placebo()], stage_key(7, "o")
    kw = {"key": key, "days": 365, "chunk_size": 16, "progress": False}
    lo = simulate_outcomes(cohort.assign(charlson=("patient", np.zeros(n))), arms, **kw)
    hi = simulate_outcomes(cohort.assign(charlson=("patient", np.full(n, 6.0))), arms, **kw)
    assert lo.attrs["covariate_defaults"] == "none"
    d_lo = np.nan_to_num(lo.death_day.values, nan=np.inf)
    d_hi = np.nan_to_num(hi.death_day.values, nan=np.inf)
    assert np.all(d_hi <= d_lo) and (d_hi < d_lo).any()
    assert hi.attrs["covariate_defaults"] == "none"
    # an old cohort without the covariate runs on the documented default (2) and says so
    dflt = simulate_outcomes(cohort.drop_vars("charlson"), arms, **kw)
    two = simulate_outcomes(cohort.assign(charlson=("patient", np.full(n, 2.0))), arms, **kw)
    assert dflt.attrs["covariate_defaults"] == "charlson=2"
    np.testing.assert_array_equal(dflt.death_day.values, two.death_day.values)


def test_precision_refused_clearly(year):
    cohort, _ = year
    with pytest.raises(ConfigError, match="outcomes.precision"):
        simulate_outcomes(cohort, [Placebo()], key=stage_key(8, "o"), precision="float16")
    with pytest.raises(ConfigError, match="outcomes.days"):
        simulate_outcomes(cohort, [Placebo()], key=stage_key(8, "o"), days=400)


_PLAIN_IMPORT = """
import jax
import numpy as np
from sepsim.models import Placebo, simulate_cohort, simulate_outcomes
from sepsim._keys import stage_key

assert not jax.config.jax_enable_x64
def run():
    c = simulate_cohort(3, key=stage_key(9, "cohort"))
    o = simulate_outcomes(c, [Placebo()], key=stage_key(9, "o"), days=10, progress=False)
    return c.kpg.values, o.state_il6.values
plain = run()
assert not jax.config.jax_enable_x64, "the library changed the process-wide setting"
jax.config.update("jax_enable_x64", True)
x64 = run()
for a, b in zip(plain, x64):
    np.testing.assert_array_equal(a, b)
print("same")
"""


@pytest.mark.slow  # two compiles in a fresh interpreter, ~50 s
def test_plain_import_runs_float64():
    """A plain import (x64 off, as in any fresh interpreter) gives bit-identical results to an x64 run."""
    res = subprocess.run([sys.executable, "-c", _PLAIN_IMPORT], capture_output=True, text=True, timeout=600)
    assert res.returncode == 0 and "same" in res.stdout, res.stderr[-3000:]
