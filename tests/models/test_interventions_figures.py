"""Per-arm figures (``sepsim.models.interventions._arm_figures``): files written, treated vs placebo differ."""

import numpy as np
import pytest

from sepsim.models.interventions._arm_figures import DEFAULT_ARMS, plot_arms, simulate_arms

PATIENTS = ("MALS", "immunoparalysis")
DAYS = 8


@pytest.fixture(scope="module")
def courses():
    # two compiles (placebo, anakinra); plot_arms below reuses them (shared batch solver)
    return simulate_arms(["anakinra"], patients=PATIENTS, days=DAYS)


def test_plot_arms_writes_one_png_per_arm(tmp_path, courses):
    paths = plot_arms(tmp_path, arms=["placebo", "anakinra"], patients=PATIENTS, days=DAYS)
    assert [p.name for p in paths] == ["arms_placebo.png", "arms_anakinra.png"]
    for p in paths:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert p.stat().st_size > 20_000
    assert not list(tmp_path.glob("*.tmp*"))  # atomic writes leave no temporaries


def test_anakinra_lowers_il1_signal_and_ferritin_in_mals(courses):
    ana, pla = courses["anakinra"], courses["placebo"]
    assert list(courses) == ["placebo", "anakinra"]
    assert ana.targets == ("il1_signal", "ferritin", "il6")
    assert bool(np.all(ana.ok)) and bool(np.all(pla.ok))
    t = ana.t_h
    on = (t >= 12.0) & (t <= 6 * 24.0)  # while dosed (200 mg q8h for 7 days)
    mals = 0
    s_ana, s_pla = ana.readouts["il1_signal"][mals, on], pla.readouts["il1_signal"][mals, on]
    print(f"\nMALS IL-1R signal, mean days 0.5-6: anakinra {s_ana.mean():.3f}, placebo {s_pla.mean():.3f}")
    assert s_ana.mean() < 0.5 * s_pla.mean()
    day5 = np.searchsorted(t, 5 * 24.0)
    f_ana, f_pla = ana.readouts["ferritin"][mals, day5], pla.readouts["ferritin"][mals, day5]
    print(f"MALS ferritin day 5: anakinra {f_ana:.0f}, placebo {f_pla:.0f} ng/mL")
    assert f_ana < 0.8 * f_pla
    # placebo is the same patient: before randomisation the courses coincide (up to the solver's step sequence)
    pre = t < 0.0
    np.testing.assert_allclose(ana.x[:, pre, :12], pla.x[:, pre, :12], rtol=1e-3)


def test_exposure_is_drug_concentration_after_randomisation(courses):
    c = courses["anakinra"].concentrations["anakinra"]
    t = courses["anakinra"].t_h
    assert np.all(np.abs(c[:, t < 0.0]) < 1e-6)  # no drug before randomisation (solver round-off only)
    assert np.all(c[:, (t > 0.5) & (t < 24.0)] > 5.0)  # ng/mL while dosed (troughs ~17-100)
    assert np.all(c.max(axis=1) > 1e4)  # peaks after each 200-mg infusion
    assert courses["placebo"].concentrations == {} and courses["placebo"].device_cl == {}


# The full figure set: 17 arms (17 compiles, ~1.5-2 min on 2 cores).


@pytest.fixture(scope="module")
def full(tmp_path_factory):
    out = tmp_path_factory.mktemp("arms")
    courses = simulate_arms()
    return out, courses, plot_arms(out, courses=courses)


@pytest.mark.slow
def test_full_figure_set_written(full):
    out, courses, paths = full
    assert len(paths) == len(DEFAULT_ARMS) == len(courses)
    assert all(p.exists() for p in paths)
    assert sum(p.stat().st_size for p in paths) < 3_000_000


@pytest.mark.slow
@pytest.mark.parametrize("label", [k for k, _ in DEFAULT_ARMS])
def test_every_arm_solves_and_acts_on_its_pathway(full, label):
    _, courses, _ = full
    c, pla = courses[label], courses["placebo"]
    assert bool(np.all(c.ok)), f"{label}: solver failed in {np.flatnonzero(~c.ok)}"
    if label != "placebo":
        after = c.t_h > 0.0
        diff = max(np.max(np.abs(np.log(c.readouts[r][:, after] / pla.readouts[r][:, after]))) for r in c.targets)
        assert diff > 1e-3, f"{label}: no visible effect on {c.targets}"


@pytest.mark.slow  # ~22 s: keeps the default suite under its 10-minute budget (625 tests took 620 s idle)
def test_device_arms_solve_in_every_panel_patient():
    """Regression: CytoSorb, oXiris and HVHF solves stalled on NaN step sizes after cartridge changes until the
    patient right-hand side bounded its log-states (``sepsim.models._patient_rhs``)."""
    courses = simulate_arms([(d, {"adsorber": d}) for d in ("cytosorb", "oxiris", "hvhf")])
    for label, course in courses.items():
        assert bool(np.all(course.ok)), f"{label}: solver failed in {np.flatnonzero(~course.ok)}"
