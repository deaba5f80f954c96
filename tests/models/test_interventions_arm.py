"""Arms: effect combination, Combination == parts, drug-device interaction, config validation, jit/vmap."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sepsim._errors import ConfigError
from sepsim.models._effects import Clearances, Covariates, Effects
from sepsim.models.interventions import (
    Anakinra,
    AntiPD1,
    Combination,
    CytoSorb,
    InterferonGamma,
    Interleukin7,
    Placebo,
    PolyclonalIVIG,
    ThymosinAlpha1,
    Ulinastatin,
    arm_from_config,
    combine_effects,
)
from sepsim.models.interventions._drivers import along, constant_mediators, simulate
from sepsim.models.interventions._pk import one_compartment_reference

COV = Covariates(*(jnp.asarray(x) for x in (70.0, 0.30, 80.0, 150.0)))
MED = constant_mediators()


def _eff(**kw):
    return Effects.none()._replace(**{k: jnp.asarray(v) for k, v in kw.items()})


def test_combine_effects_rules():
    a = _eff(il1_block=0.5, hla_dr_stim=1.0, lymph_apoptosis_block=0.2, inflammation_damping=0.1, pathogen_kill=0.1)
    b = _eff(il1_block=0.5, hla_dr_stim=2.0, lymph_apoptosis_block=0.5, inflammation_damping=0.1, pathogen_kill=0.2)
    a = a._replace(clearance=Clearances(*(jnp.asarray(x) for x in (1.0, 2.0, 3.0, 4.0, 5.0))))
    c = combine_effects(a, b)
    assert float(c.il1_block) == pytest.approx(0.75) and float(c.hla_dr_stim) == pytest.approx(3.0)
    assert float(c.lymph_apoptosis_block) == pytest.approx(0.6) and float(c.inflammation_damping) == pytest.approx(0.19)
    assert float(c.pathogen_kill) == pytest.approx(0.3) and float(c.clearance.il10) == 5.0
    for x, y in zip(jax.tree.leaves(combine_effects(Effects.none(), a)), jax.tree.leaves(a), strict=True):
        assert float(x) == pytest.approx(float(y))  # placebo is the identity


def test_combination_equals_parts_without_device():
    parts = (Ulinastatin(), ThymosinAlpha1(), InterferonGamma())
    arm = Combination(therapies=parts)
    z = jnp.asarray([100.0, 0.5, 30.0])
    dz, eff = arm.rhs(jnp.asarray(0.5), z, MED, COV)
    ref = Effects.none()
    for i, th in enumerate(parts):
        dzi, ei = th.rhs(jnp.asarray(0.5), z[i : i + 1], MED, COV)
        assert float(dz[i]) == pytest.approx(float(dzi[0]))
        ref = combine_effects(ref, ei)
    for x, y in zip(jax.tree.leaves(eff), jax.tree.leaves(ref), strict=True):
        assert float(x) == pytest.approx(float(y))
    assert float(eff.hla_dr_stim) > 0 and float(eff.inflammation_damping) > 0
    conc = arm.drug_concentrations(z, COV)
    assert set(conc) == {"ulinastatin", "thymosin_alpha1", "interferon_gamma"}
    jt = np.asarray(arm.jump_times())
    assert np.all(np.diff(jt) > 0) and {0.0, 1.0, 12.0, 48.0} <= set(jt.tolist())


def test_drug_device_interaction_in_exposure():
    ts = jnp.linspace(0.0, 24.0, 97)
    ana, ivig = Anakinra(n_doses=3), PolyclonalIVIG()
    arm = Combination(therapies=(ana, ivig), device=CytoSorb())
    both = simulate(arm, COV, ts)
    # references without a device: closed-form one-compartment superposition
    ref_a = one_compartment_reference(ts, ana.schedule(), ana.pk_params(COV))
    ref_i = one_compartment_reference(ts, ivig.schedule(), ivig.pk_params(COV), float(ivig.dose_scale(COV)))
    ratio = np.trapezoid(both.z[:, 0], ts) / np.trapezoid(ref_a, ts)
    print(f"\nanakinra AUC0-24 with/without CytoSorb: {ratio:.3f}")
    assert 0.5 < ratio < 0.97
    np.testing.assert_allclose(both.z[:, 1], ref_i, rtol=1e-6, atol=1e-9)  # immunoglobulins are never adsorbed
    removed = np.asarray(along(lambda t, z: arm.device_removed(z)["anakinra"], both))
    assert removed[-1] > 0 and np.all(np.diff(removed) >= -1e-9)
    assert float(arm.device_removed(both.z[-1])["ivig"]) == 0.0
    # mass balance: dosed = in body + eliminated + removed by the device (elimination by quadrature)
    p = ana.pk_params(COV)
    elim = np.concatenate([[0.0], np.cumsum(np.diff(ts) * 0.5 * (both.z[1:, 0] + both.z[:-1, 0]))]) * float(
        p.cl / p.v_c
    )
    balance = np.asarray(both.z[:, 0]) + removed + elim
    assert balance[-1] == pytest.approx(600.0, rel=5e-3)


def test_arm_from_config_builds_and_validates():
    assert isinstance(arm_from_config(None), Placebo) and isinstance(arm_from_config("placebo"), Placebo)
    assert isinstance(arm_from_config({"therapies": ["anakinra"]}), Anakinra)
    arm = arm_from_config(
        {"therapies": ["anakinra", {"name": "interleukin7", "route": "iv", "n_doses": 6}],
         "adsorber": {"name": "cytosorb", "qb_ml_min": 250, "mode": "sessions"}}
    )  # fmt: skip
    assert isinstance(arm, Combination) and arm.therapies[1].route == "iv" and arm.therapies[1].n_doses == 6
    assert arm.device.qb_ml_min == 250.0 and arm.device.mode == "sessions"
    assert isinstance(arm_from_config({"adsorber": "toraymyxin"}), type(arm_from_config("toraymyxin")))
    bad = [
        ({"therapies": ["aspirin"]}, "therapy.therapies[0].name"),
        ({"therapies": [{"name": "anakinra", "dose": 1}]}, "therapy.therapies[0].dose"),
        ({"therapies": [{"name": "anakinra", "n_doses": 0}]}, "therapy.therapies[0].n_doses"),
        ({"therapies": [{"name": "anakinra", "dose_mg": "lots"}]}, "therapy.therapies[0].dose_mg"),
        ({"adsorber": {"name": "cytosorb", "mode": "weekly"}}, "therapy.adsorber"),
        ({"adsorber": "dialyser"}, "therapy.adsorber.name"),
        ({"therapies": ["anakinra", "anakinra"]}, "therapy.therapies"),
        ({"drugs": ["anakinra"]}, "therapy.drugs"),
        ({"adsorber": {"name": "cytosorb", "qb_ml_min": 900}}, "therapy.adsorber.qb_ml_min"),
        ({"adsorber": {"name": "cytosorb", "days": 10}}, "therapy.adsorber.days"),
        ({"adsorber": {"name": "cytosorb", "e0": {"il6": 1.0}}}, "therapy.adsorber.e0"),
    ]
    for cfg, key in bad:
        with pytest.raises(ConfigError) as err:
            arm_from_config(cfg)
        assert err.value.key == key, (cfg, err.value.key)


def test_rhs_vmaps_over_patients_and_jits_once():
    arm = Combination(therapies=(Interleukin7(), AntiPD1()), device=CytoSorb(days=2))
    covs = Covariates(*(jnp.linspace(lo, hi, 4) for lo, hi in ((50.0, 110.0), (0.25, 0.4), (20.0, 120.0), (30, 300.0))))
    z = jax.vmap(arm.init_state)(covs) + 1.0

    @eqx.debug.assert_max_traces(max_traces=1)
    def f(t, z, covs):
        return jax.vmap(lambda zi, ci: arm.rhs(t, zi, MED, ci))(z, covs)

    f = eqx.filter_jit(f)
    dz, eff = f(jnp.asarray(3.0), z, covs)
    dz2, _ = f(jnp.asarray(30.0), z, covs)
    assert dz.shape == z.shape and eff.clearance.il6.shape == (4,) and bool(jnp.all(jnp.isfinite(dz2)))
    assert float(eff.clearance.il6[0]) > float(eff.clearance.il6[-1])  # smaller plasma volume -> larger 1/h


_F32_SCRIPT = """
import json, jax
jax.config.update('jax_numpy_dtype_promotion', 'strict')
import jax.numpy as jnp
from sepsim.models._effects import Covariates
from sepsim.models.interventions import arm_from_config
from sepsim.models.interventions._drivers import simulate
cov = Covariates(*(jnp.asarray(x, jnp.float32) for x in (70.0, 0.3, 80.0, 150.0)))
arm = arm_from_config({'therapies': ['anakinra', 'vancomycin'], 'adsorber': 'cytosorb'})
tr = simulate(arm, cov, jnp.linspace(0.0, 30.0, 4, dtype=jnp.float32), rtol=1e-6, atol=1e-6)
print(json.dumps({'dtype': str(tr.z.dtype), 'z': [float(x) for x in tr.z[-1]]}))
"""


@pytest.mark.slow  # fresh interpreter + compile, ~15 s
def test_float32_matches_float64():
    import json
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", _F32_SCRIPT], capture_output=True, text=True, check=True, timeout=300)
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert res["dtype"] == "float32"
    arm = arm_from_config({"therapies": ["anakinra", "vancomycin"], "adsorber": "cytosorb"})
    ref = simulate(arm, COV, jnp.linspace(0.0, 30.0, 4), rtol=1e-10, atol=1e-10).z[-1]
    np.testing.assert_allclose(res["z"], np.asarray(ref), rtol=2e-3, atol=1e-3)
