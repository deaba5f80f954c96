"""Devices: cartridge load states vs closed form, calibration targets (Gubensek, Malard, vancomycin), convection,
molecular-weight window, session schedules, drug mass balance."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sepsim.models._effects import Covariates, Effects
from sepsim.models.interventions import (
    AN69ST,
    HVHF,
    PMMA,
    AbstractArm,
    Combination,
    CytoSorb,
    OXiris,
    Toraymyxin,
    Vancomycin,
)
from sepsim.models.interventions._base import plasma_volume_l
from sepsim.models.interventions._drivers import along, constant_mediators, simulate
from sepsim.models.interventions._params import load_params

COV = Covariates(*(jnp.asarray(x) for x in (70.0, 0.30, 80.0, 150.0)))
MED = constant_mediators()


def report(name, target, sim, interval):
    print(f"{name:<48s} target {target:<10} simulated {sim:<10.4g} interval {interval}")


def _il6_extraction(device, times):
    tr = simulate(device, COV, jnp.asarray([0.0, *times]))
    e = np.asarray(along(lambda t, z: device.extraction(t, z, "il6"), tr))
    return np.array(e[1:]), tr


def test_cartridge_loads_match_closed_form_and_reset():
    dev = CytoSorb(days=3)
    ts = np.linspace(0.0, 72.0, 145)
    tr = simulate(dev, COV, jnp.asarray(ts), rtol=1e-10, atol=1e-12)
    tau, _ = dev.fouling()
    w = dev.windows()
    loads = np.asarray(tr.z).reshape(len(ts), w.n, dev.n_per_cartridge)[:, :, 0]
    for c, (s, e) in enumerate(zip(w.starts, w.stops, strict=True)):
        ref = 1.0 - np.exp(-np.clip(np.minimum(ts, e) - s, 0.0, None) / float(tau))
        np.testing.assert_allclose(loads[:, c], ref, atol=1e-7)
    # a change restores the fresh-cartridge extraction
    e_before = float(dev.extraction(jnp.asarray(11.99), tr.z[24], "il6"))
    e_after = float(dev.extraction(jnp.asarray(12.0), tr.z[24], "il6"))
    assert e_after == pytest.approx(dev.e0["il6"]) and e_before < 0.5 * e_after
    np.testing.assert_allclose(dev.jump_times(), [0.0, 12.0, 24.0, 48.0, 72.0])


def test_cytosorb_il6_extraction_gubensek():
    t = [0.5, 6.0, 12.0, 23.9]
    one = dict(mode="sessions", hours_per_day=24.0, days=1)  # one cartridge for 24 h, as in the circuits studied
    e200, _ = _il6_extraction(CytoSorb(qb_ml_min=200.0, **one), t)
    e250, _ = _il6_extraction(CytoSorb(qb_ml_min=250.0, **one), t)
    e150, _ = _il6_extraction(CytoSorb(qb_ml_min=150.0, **one), t)
    report("IL-6 extraction 30 min (all circuits, Qb 200)", 0.26, e200[0], "(0.20, 0.32)")
    report("IL-6 extraction 6 h (all circuits, Qb 200)", 0.10, e200[1], "(0.06, 0.14)")
    report("IL-6 extraction 6 h, Qb >= 200 (Qb 250)", 0.06, e250[1], "(0.04, 0.08)")
    report("IL-6 extraction 12 h, Qb >= 200 (Qb 250)", "negligible", e250[2], "< 0.03")
    report("IL-6 extraction 12 h, Qb < 200 (Qb 150)", 0.20, e150[2], "(0.16, 0.24)")
    assert 0.20 < e200[0] < 0.32 and 0.06 < e200[1] < 0.14
    assert 0.04 < e250[1] < 0.08 and e250[2] < 0.03
    assert 0.16 < e150[2] < 0.24 and e150[1] > 0.16
    assert np.all(np.diff(e150[:3]) < 0) and np.all(e250 < e150)  # faster fall at higher flow


@pytest.mark.parametrize("device, target", [(Toraymyxin(), 20.0), (OXiris(), 8.0), (CytoSorb(), 1.0)])
def test_invitro_endotoxin_clearance_malard(device, target):
    p = load_params("devices")
    cov = COV._replace(hematocrit=jnp.asarray(p["invitro_hct"]))
    dev = eqx.tree_at(lambda d: d.qb_ml_min, device, p["invitro_qb_ml_min"])
    ts = np.linspace(0.0, 0.5, 31)
    tr = simulate(dev, cov, jnp.asarray(ts))
    ads = [
        float(dev.plasma_flow_l_h(cov) * dev.extraction(t, z, "endotoxin")) / 0.06
        for t, z in zip(tr.ts, tr.z, strict=True)
    ]
    mean_cl = np.trapezoid(ads, ts) / 0.5  # mL/min, adsorptive, first 30 min
    report(f"{device.name} LPS adsorptive CL first 30 min (mL/min)", target, mean_cl, "+-25%")
    assert mean_cl == pytest.approx(target, rel=0.25)


class _WithElimination(AbstractArm):
    """Adds the cumulative endogenous elimination of the first therapy (test-only mass-balance bookkeeping)."""

    arm: Combination

    def init_state(self, covariates):
        return jnp.concatenate([self.arm.init_state(covariates), jnp.zeros((1,))])

    def rhs(self, t, z, mediators, covariates):
        dz, eff = self.arm.rhs(t, z[:-1], mediators, covariates)
        th = self.arm.therapies[0]
        p = th.pk_params(covariates)
        return jnp.concatenate([dz, jnp.reshape(p.cl * z[0] / p.v_c, (1,))]), eff

    def jump_times(self):
        return self.arm.jump_times()


def test_vancomycin_on_cytosorb_capacity_and_mass_balance():
    ref = Covariates(*(jnp.asarray(x) for x in (70.0, 0.30, 40.0, 150.0)))  # reference patient of cytosorb.yaml
    arm = Combination(therapies=(Vancomycin(n_doses=4),), device=CytoSorb(qb_ml_min=200.0, days=1))
    z0 = arm.init_state(ref)
    cl_dev = arm.device.clearance_l_h(jnp.asarray(0.0), arm.device_state(z0), ref, "vancomycin", 1.45)
    rel = float(cl_dev / Vancomycin().pk_params(ref).cl)
    report("vancomycin CL increase on fresh CytoSorb", "+291%", 100 * rel, "(+260%, +320%)")
    assert 2.6 < rel < 3.2
    ts = np.linspace(0.0, 48.0, 97)
    wrapped = _WithElimination(arm)
    tr = simulate(wrapped, ref, jnp.asarray(ts), rtol=1e-10, atol=1e-10)
    z = tr.z[:, :-1]
    loads = np.asarray(arm.device_state(z.T).T).reshape(len(ts), arm.device.windows().n, -1)[:, :, 1]
    removed = np.asarray(jax.vmap(lambda zi: arm.device_removed(zi)["vancomycin"])(z))
    np.testing.assert_allclose(loads.sum(axis=1), removed, rtol=1e-8, atol=1e-8)  # adsorbed = removed
    assert loads.max() <= 572.0 + 1e-6
    dosed = np.interp(ts, [0, 1, 12, 13, 24, 25, 36, 37], [0, 1000, 1000, 2000, 2000, 3000, 3000, 4000])
    balance = np.asarray(z[:, 0]) + removed + np.asarray(tr.z[:, -1])
    np.testing.assert_allclose(balance, dosed, rtol=1e-6, atol=1e-5)
    # first 12-h cartridge nearly saturated; its CL has fallen by more than half by 12 h (linear decrease)
    report("vancomycin load of 12-h cartridge (mg)", "<= 572", loads[24, 0], "(300, 572]")
    assert 300.0 < loads[24, 0] <= 572.0


def test_hvhf_is_convective_only():
    dev = HVHF()
    z = dev.init_state(COV)
    _, eff = dev.rhs(jnp.asarray(1.0), z, MED, COV)
    vp = float(plasma_volume_l(COV))
    assert float(eff.clearance.il6) == pytest.approx(70.0 * 70.0 / 1000 * 0.1 / vp)
    assert float(eff.clearance.tnf) == 0.0 and dev.n_states == 0
    _, eff_off = dev.rhs(jnp.asarray(100.0), z, MED, COV)
    assert float(eff_off.clearance.il6) == 0.0


@pytest.mark.parametrize("device", [CytoSorb(), OXiris(), Toraymyxin(), PMMA(), AN69ST(), HVHF()])
def test_large_molecules_never_removed(device):
    z = device.init_state(COV)
    for mw, name in [(150.0, "ivig"), (900.0, "igm_ivig"), (146.0, "anti_pd1"), (450.0, "ferritin")]:
        assert float(device.clearance_l_h(jnp.asarray(1.0), z, COV, name, mw)) == 0.0


def test_toraymyxin_sessions_fresh_cartridge_each():
    dev = Toraymyxin()
    ts = np.array([0.0, 1.0, 1.999, 3.0, 24.0, 25.0])
    tr = simulate(dev, COV, jnp.asarray(ts))
    e = [float(dev.extraction(t, z, "endotoxin")) for t, z in zip(tr.ts, tr.z, strict=True)]
    assert e[3] == 0.0 and e[0] == pytest.approx(dev.e0["endotoxin"]) and e[4] == pytest.approx(e[0])
    assert e[2] < e[1] < e[0]


def test_effects_none_has_zero_device_clearance_for_placebo_like_device_off():
    dev = CytoSorb(start_h=10.0, days=1)
    _, eff = dev.rhs(jnp.asarray(5.0), dev.init_state(COV), MED, COV)
    assert eff == Effects.none()._replace(clearance=eff.clearance)
    assert all(float(c) == 0.0 for c in eff.clearance)
