"""Safety hazards: instantaneous hazards (1/h) as functions of exposure and time, for the outcome layer."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sepsim.models._effects import Covariates
from sepsim.models.interventions import (
    Anakinra,
    AntiPD1,
    AntiPDL1,
    Combination,
    HazardIntegrals,
    InterferonGamma,
    Interleukin7,
    hazard_names,
)
from sepsim.models.interventions._drivers import along, simulate

COV = Covariates(*(jnp.asarray(x) for x in (70.0, 0.30, 80.0, 150.0)))


def _cum_hazard(arm, ts, key, cov=COV):
    tr = simulate(arm, cov, jnp.asarray(ts))
    h = np.asarray(along(lambda t, z: arm.hazards(t, z, cov)[key], tr))
    return np.trapezoid(h, ts), h


def test_il7_iv_fever_matches_3_of_15():
    ts = np.linspace(0.0, 21 * 24.0, 21 * 24 * 4 + 1)
    arm = Interleukin7(route="iv", n_doses=6)
    z0 = arm.init_state(COV)  # this hazard depends on time since each IV dose only
    h = np.asarray(jax.vmap(lambda t: arm.hazards(t, z0, COV)["fever_resp_distress"])(jnp.asarray(ts)))
    cum = np.trapezoid(h, ts)
    p = 1.0 - np.exp(-cum)
    print(f"\nIRIS-7 IV fever/respiratory distress: target 0.20 (3/15), simulated {p:.3f}, interval (0.10, 0.30)")
    assert 0.10 < p < 0.30
    t_peak = ts[np.argmax(h[: 24 * 4])]
    assert 5.0 <= t_peak <= 8.0  # hazard concentrated 5-8 h after the dose
    cum_im, _ = _cum_hazard(Interleukin7(route="im", n_doses=2), ts[: 24 * 4 * 7], "fever_resp_distress")
    assert cum_im == 0.0


def test_ifn_bleeding_more_with_thrombocytopenia():
    drug = InterferonGamma(n_doses=2)
    c = jnp.asarray(0.5)
    h_ok = float(drug.hazards_at(0.0, c, COV)["bleeding"])
    h_low = float(drug.hazards_at(0.0, c, COV._replace(platelets=jnp.asarray(30.0)))["bleeding"])
    assert h_low == pytest.approx(h_ok * (1 + drug.bleed_platelet_gain * 0.7)) and h_ok > 0
    assert float(drug.hazards_at(0.0, jnp.asarray(0.0), COV)["bleeding"]) == 0.0


def test_anakinra_anemia_rises_with_exposure_and_combines():
    a = Anakinra(n_doses=3)
    hz = [float(a.hazards_at(0.0, jnp.asarray(c), COV)["anemia"]) for c in (0.0, 10.0, 1000.0)]
    assert hz[0] == 0.0 and hz[0] < hz[1] < hz[2] <= a.anemia_hazard_per_h
    ifn = InterferonGamma(n_doses=2)
    arm = Combination(therapies=(a, ifn))
    z = jnp.asarray([50.0, 20.0])  # anakinra mg, IFN ug in the central compartments
    h = arm.hazards(jnp.asarray(1.0), z, COV)
    assert set(h) == {"anemia", "bleeding"}
    assert float(h["anemia"]) == pytest.approx(float(a.hazards(1.0, z[:1], COV)["anemia"])) and float(h["anemia"]) > 0
    assert float(h["bleeding"]) == pytest.approx(float(ifn.hazards(1.0, z[1:], COV)["bleeding"]))


def test_hazard_integrals_match_quadrature():
    arm = Combination(therapies=(Anakinra(n_doses=3), InterferonGamma(n_doses=1)))
    names = hazard_names(arm, COV)
    assert names == ("anemia", "bleeding")
    wrapped = HazardIntegrals(arm, names)
    ts = np.linspace(0.0, 24.0, 481)
    tr = simulate(wrapped, COV, jnp.asarray(ts), rtol=1e-10, atol=1e-12)
    for i, n in enumerate(names):
        h = np.asarray(along(lambda t, z, n=n: arm.hazards(t, z[: arm.n_states], COV)[n], tr))
        quad = np.trapezoid(h, ts)
        assert float(tr.z[-1, arm.n_states + i]) == pytest.approx(quad, rel=2e-3) and quad > 0
    assert set(wrapped.cumulative(tr.z[-1])) == set(names)


def test_checkpoint_immune_related_events_match_5_of_31_over_90_days():
    """Hotchkiss 2019 (CP-02): possibly drug-related immune-mediated AEs in 5/31 by day 90 after one nivolumab dose
    (2/15 at 480 mg, 3/16 at 960 mg; receptor occupancy > 90% throughout, so the dose matters little)."""
    ts = np.linspace(0.0, 90 * 24.0, 90 * 4 + 1)  # 6-hourly: occupancy is near 1 and smooth after the infusion
    p480 = 1.0 - np.exp(-_cum_hazard(AntiPD1(dose_mg=480.0), ts, "immune_related")[0])
    print(f"\nnivolumab 480 mg immune-related AEs by day 90: {p480:.3f}, target 5/31 = {5 / 31:.3f}")
    assert p480 == pytest.approx(5 / 31, abs=0.005)
    drug = AntiPDL1()
    assert float(drug.hazards_at(0.0, jnp.asarray(0.0), COV)["immune_related"]) == 0.0
    h = float(drug.hazards_at(0.0, jnp.asarray(drug.ro_ec50_ng_ml), COV)["immune_related"])
    assert h == pytest.approx(0.5 * drug.irae_hazard_per_h)  # proportional to receptor occupancy


@pytest.mark.slow  # a second compile of the PK for the other dose
def test_checkpoint_immune_related_events_pooled_over_both_doses():
    ts = np.linspace(0.0, 90 * 24.0, 90 * 4 + 1)
    p = {d: 1.0 - np.exp(-_cum_hazard(AntiPD1(dose_mg=d), ts, "immune_related")[0]) for d in (480.0, 960.0)}
    assert (15 * p[480.0] + 16 * p[960.0]) / 31 == pytest.approx(5 / 31, abs=0.003)
    assert p[480.0] < p[960.0]  # longer full occupancy after the larger dose
