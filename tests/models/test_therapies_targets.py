"""Immunotherapy PK/PD calibration targets, each printed as target / simulated / interval.

PD targets that need the patient's HLA-DR or lymphocyte dynamics use the documented turnover driver
``sepsim.models.interventions._drivers.TurnoverDriver``: the patient model's modules 10-11 with their rates
(k_hla 0.06/h, k_lym 0.05/h, l0 1.8) and the inflammation terms frozen at the untreated steady state.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from sepsim.models._effects import Covariates
from sepsim.models.interventions import GMCSF, AntiPD1, InterferonGamma, Interleukin7, ThymosinAlpha1
from sepsim.models.interventions._drivers import TurnoverDriver, along, constant_mediators, simulate
from sepsim.models.interventions._pk import one_compartment_reference

COV = Covariates(*(jnp.asarray(x) for x in (70.0, 0.30, 80.0, 150.0)))


def report(name, target, sim, interval):
    print(f"\n{name:<56s} target {target!s:<10} simulated {sim:<10.4g} interval {interval}")


def _conc(therapy, tr):
    return np.asarray(along(lambda t, z: therapy.concentration(z, COV), tr))


def _conc_closed_form(therapy, ts):
    """ng/mL from the one-compartment superposition (checked against the ODE in test_interventions_pk.py)."""
    p = therapy.pk_params(COV)
    amount = one_compartment_reference(ts, therapy.schedule(), p, float(therapy.dose_scale(COV)))
    return np.asarray(jax.vmap(lambda a: therapy.concentration(jnp.reshape(a, (1,)), COV))(amount))


def test_ifn_gamma_label_cmax():
    drug = InterferonGamma(dose_ug=86.5, n_doses=1)  # 50 ug/m2 x 1.73 m2
    cmax = _conc_closed_form(drug, jnp.linspace(0.0, 24.0, 241)).max() * 1000.0  # pg/mL
    report("IFN-g SC 50 ug/m2 Cmax (pg/mL), Actimmune label", 631, cmax, "(536, 726) = +-15%")
    assert 536 < cmax < 726


def test_ifn_gamma_hla_dr_kox_and_payen():
    drug = InterferonGamma()
    ts = jnp.linspace(0.0, 7 * 24.0, 7 * 24 + 1)
    h = np.asarray(simulate(drug, COV, ts, TurnoverDriver(h_target=2666.0)).y[:, 0])
    fold_day1 = h[24] / h[0]
    report("IP-09 Kox 1997: HLA-DR fold within 1 day (27% -> 62%)", 2.30, fold_day1, "(1.64, 3.33) = mean +- SD")
    report("IP-11 Payen 2019: mHLA-DR after treatment (day 7, AB/C)", 12451, h[-1], "(4166, 19707) IQR")
    assert 1.64 < fold_day1 < 3.33
    assert 4166 < h[-1] < 19707


def test_gm_csf_meisel_normalisation():
    # 19 virtual patients at the quantiles of a lognormal with Meisel's baseline mean 5609, SD 3628 AB/C
    s = np.sqrt(np.log(1 + (3628 / 5609) ** 2))
    base = np.exp(np.log(5609) - s**2 / 2 + s * stats.norm.ppf((np.arange(19) + 0.5) / 19))
    ts = jnp.linspace(0.0, 8 * 24.0, 8 * 24 + 1)
    fold = np.asarray(simulate(GMCSF(), COV, ts, TurnoverDriver(h_target=1.0)).y[:, 0])  # linear in H_target
    n_norm = int(np.sum(base * fold.max() >= 15000.0))
    report("IP-07 Meisel 2009: mHLA-DR >= 15,000 within 8 d (of 19)", 19, n_norm, ">= 16 (CP 95% LB of 19/19)")
    assert n_norm >= 16
    assert fold[24] > 1.5  # "rose within 24 h"


def test_gm_csf_sc_exposure():
    drug = GMCSF(dose_ug_per_kg=10.0, n_doses=1)
    c = _conc_closed_form(drug, jnp.linspace(0.0, 24.0, 97))
    report("GM-CSF SC 10 ug/kg: conc at 12 h (ng/mL)", "> 1", c[48], "> 1")
    assert c[48] > 1.0


def test_thymosin_hla_dr_etass():
    ts = jnp.linspace(0.0, 7 * 24.0, 8)
    h = np.asarray(simulate(ThymosinAlpha1(), COV, ts, TurnoverDriver(h_target=50.0)).y[:, 0])  # % HLA-DR+, base 50
    d3, d7 = h[3] - 50.0, h[7] - 50.0  # control changes are 0 in this driver: the difference is the treated change
    report("TA-02 ETASS: mHLA-DR difference day 3 (% points)", 3.9, d3, "(0.2, 7.6)")
    report("TA-02 ETASS: mHLA-DR difference day 7 (% points)", 5.8, d7, "(1.0, 10.5)")
    assert 0.2 < d3 < 7.6 and 1.0 < d7 < 10.5


def test_il7_lymphocytes_iris7_im_and_iv():
    ts = jnp.linspace(0.0, 28 * 24.0, 28 * 24 + 1)
    l_im = np.asarray(simulate(Interleukin7(route="im"), COV, ts, TurnoverDriver(l_target=0.7)).y[:, 1]) / 0.7
    l_iv = np.asarray(simulate(Interleukin7(route="iv", n_doses=6), COV, ts, TurnoverDriver(l_target=0.7)).y[:, 1])
    iv_mean = l_iv[24 : 21 * 24].mean() / 0.7  # IV sampling times unknown: mean over the 3-week course
    report("IL-01 IRIS-7: ALC fold at 4 weeks, IM", "3-4", l_im[28 * 24], "(3, 4)")
    report("IL-01 IRIS-7 IV arm: ALC fold, mean of days 1-21, IV", "2-3", iv_mean, "(2, 3)")
    assert 3.0 < l_im[28 * 24] < 4.0 and 2.0 < iv_mean < 3.0


def test_il7_iv_vs_im_blood_levels():
    ts = jnp.linspace(0.0, 84.0, 337)
    c_iv = _conc_closed_form(Interleukin7(route="iv", n_doses=1), ts).max()
    c_im = _conc_closed_form(Interleukin7(route="im", n_doses=1), ts).max()
    report("CYT107 IV / IM peak blood concentration", "~100", c_iv / c_im, "(30, 300)")
    assert 30 < c_iv / c_im < 300


def test_nivolumab_pk_and_hla_dr():
    ts = jnp.linspace(0.0, 28 * 24.0, 28 * 24 + 1)
    drug = AntiPD1()
    tr = simulate(drug, COV, ts, TurnoverDriver(h_target=5000.0))
    c = _conc(drug, tr) / 1000.0  # ug/mL
    report("CP-03 nivolumab 480 mg Cmax (ug/mL)", 132, c.max(), "(112, 152) = +-15%")
    assert 112 < c.max() < 152
    k = np.polyfit(np.asarray(ts[14 * 24 :]), np.log(c[14 * 24 :]), 1)[0]
    t_half_d = np.log(2) / -k / 24
    report("CP-02 nivolumab terminal t1/2 (d)", 15.2, t_half_d, "(9.4, 20.1) = mean +- SD")
    assert 9.4 < t_half_d < 20.1
    ro = np.asarray(drug.receptor_occupancy(c * 1000.0))
    assert ro[1:].min() > 0.9  # CP-02: receptor occupancy > 90% for 28 days
    h14 = float(tr.y[14 * 24, 0])
    report("CP-02 mHLA-DR day 14 (AB/C), baseline 5000 assumed", 11531, h14, "(6528, 19495)")
    assert 6528 < h14 < 19495
    d960 = AntiPD1(dose_mg=960.0)
    c28 = _conc(d960, simulate(d960, COV, jnp.asarray([0.0, 28 * 24.0])))[-1] / 1000.0
    report("CP-03 nivolumab 960 mg day-28 concentration (ug/mL)", 33.1, c28, "(24.8, 41.4) = +-25%")
    assert 24.8 < c28 < 41.4


def test_anakinra_block_is_competitive_and_renal():
    from sepsim.models.interventions import Anakinra

    a = Anakinra()
    lo, hi = constant_mediators(il1b=1.0), constant_mediators(il1b=500.0)
    assert float(a.block(jnp.asarray(100.0), lo)) > float(a.block(jnp.asarray(100.0), hi))
    assert float(a.block(jnp.asarray(0.0), lo)) == 0.0
    cl_ok = float(a.pk_params(COV).cl)
    cl_aki = float(a.pk_params(COV._replace(crcl_ml_min=jnp.asarray(20.0))).cl)
    assert cl_aki == pytest.approx(np.exp(1.65 + 0.0062 * 20)) and cl_aki < cl_ok
