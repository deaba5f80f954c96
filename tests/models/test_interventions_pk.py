"""PK core: schedules, analytic one-compartment superposition, two-compartment vs scipy Radau, parameter files."""

import jax.numpy as jnp
import numpy as np
import pytest
from scipy.integrate import solve_ivp

from sepsim._errors import DataFileError
from sepsim.models._effects import Covariates
from sepsim.models.interventions import (
    GMCSF,
    Anakinra,
    AntiPD1,
    DoseSchedule,
    InterferonGamma,
    Interleukin7,
    ThymosinAlpha1,
    Windows,
)
from sepsim.models.interventions._drivers import simulate
from sepsim.models.interventions._params import load_param_table, load_params, param_files
from sepsim.models.interventions._pk import one_compartment_reference

COV = Covariates(*(jnp.asarray(x) for x in (70.0, 0.30, 80.0, 150.0)))


def test_schedule_jump_times_and_rates():
    s = DoseSchedule((0.0, 8.0), (200.0, 200.0), route="iv", duration_h=0.5)
    np.testing.assert_allclose(s.jump_times(), [0.0, 0.5, 8.0, 8.5])
    assert float(s.infusion_rate(jnp.asarray(0.25))) == pytest.approx(400.0)
    assert float(s.infusion_rate(jnp.asarray(0.5))) == 0.0  # half-open window
    d = DoseSchedule((0.0, 24.0), (1.0, 1.0), route="sc")
    np.testing.assert_allclose(d.jump_times(), [0.0, 24.0])
    # exact depot: bioavailable amount decays with ka and adds over doses
    got = float(d.depot_amount(jnp.asarray(30.0), jnp.asarray(0.1), jnp.asarray(0.8)))
    assert got == pytest.approx(0.8 * (np.exp(-3.0) + np.exp(-0.6)))


def test_windows_cartridges():
    w = Windows.continuous(72.0, (12.0, 24.0, 48.0))
    assert w.starts == (0.0, 12.0, 24.0, 48.0) and w.stops == (12.0, 24.0, 48.0, 72.0)
    np.testing.assert_allclose(w.active(jnp.asarray(30.0)), [0, 0, 1, 0])
    np.testing.assert_allclose(w.active(jnp.asarray(72.0)), [0, 0, 0, 0])
    with pytest.raises(ValueError):
        Windows((0.0, 5.0), (6.0, 8.0))


@pytest.mark.parametrize(
    "therapy, horizon",
    [(Anakinra(n_doses=4), 36.0), (InterferonGamma(n_doses=3), 150.0),
     pytest.param(GMCSF(n_doses=3), 80.0, marks=pytest.mark.slow),
     pytest.param(ThymosinAlpha1(n_doses=4), 60.0, marks=pytest.mark.slow),
     pytest.param(Interleukin7(route="iv", n_doses=2), 120.0, marks=pytest.mark.slow)],
)  # fmt: skip
def test_one_compartment_matches_superposition(therapy, horizon):
    ts = jnp.linspace(0.0, horizon, 121)
    tr = simulate(therapy, COV, ts, rtol=1e-10, atol=1e-12)
    p = therapy.pk_params(COV)
    ref = one_compartment_reference(ts, therapy.schedule(), p, float(therapy.dose_scale(COV)))
    scale = float(jnp.max(ref))
    np.testing.assert_allclose(tr.z[:, 0], ref, rtol=1e-6, atol=1e-7 * scale)


def test_two_compartment_matches_radau():
    drug = AntiPD1(dose_mg=960.0)
    ts = np.linspace(0.0, 28 * 24.0, 57)
    tr = simulate(drug, COV, jnp.asarray(ts), rtol=1e-10, atol=1e-10)
    p = drug.pk_params(COV)
    vc, vp, q, cl = (float(x) for x in (p.v_c, p.v_p, p.q, p.cl))

    def f(t, y):
        inp = 960.0 / 0.5 if t < 0.5 else 0.0
        flux = q * (y[0] / vc - y[1] / vp)
        return [inp - cl * y[0] / vc - flux, flux]

    ref = solve_ivp(f, (0, ts[-1]), [0.0, 0.0], method="Radau", t_eval=ts, rtol=1e-11, atol=1e-10, max_step=0.25)
    np.testing.assert_allclose(np.asarray(tr.z), ref.y.T, rtol=1e-5, atol=1e-6)


def test_param_files_are_complete_and_in_range():
    names = param_files()
    assert {"anakinra", "cytosorb", "devices", "interferon_gamma", "checkpoint"} <= set(names)
    for name in names:
        table = load_param_table(name)
        for key, rec in table.items():
            assert rec["source"] and rec["unit"], f"{name}.{key} lacks source/unit"
        assert load_params(name)


def test_missing_param_file_raises():
    with pytest.raises(DataFileError):
        load_param_table("no_such_drug")
