"""The arm protocol (``sepsim/models/_arms.py``): one Placebo, one AbstractArm, and a study label that hides nothing."""

import jax
import jax.numpy as jnp
import numpy as np

import sepsim.models as models
import sepsim.models.interventions as interventions
from sepsim.config import build_arms
from sepsim.models import AbstractArm, Covariates, LabelledArm, Mediators, Placebo
from sepsim.models._safety_events import with_safety_hazards
from sepsim.models.interventions import arm_from_config, hazard_names

COV = Covariates(*(jnp.asarray(x) for x in (70.0, 0.30, 80.0, 150.0)))  # kg, haematocrit, platelets, creatinine


def test_one_placebo_and_one_abstract_arm():
    assert models.Placebo is interventions.Placebo and models.AbstractArm is interventions.AbstractArm
    assert isinstance(arm_from_config("placebo"), Placebo) and isinstance(Placebo(), AbstractArm)
    assert Placebo().name == "placebo" and Placebo(name="twin").name == "twin"
    med = Mediators(*(jnp.asarray(1.0) for _ in range(5)))
    dz, eff = Placebo().rhs(jnp.zeros(()), Placebo().init_state(COV), med, COV)
    assert dz.shape == (0,) and all(float(x) == 0.0 for x in jax.tree.leaves(eff))
    assert Placebo().init_state(COV).shape == (0,) and Placebo().jump_times().shape == (0,)


def test_labelled_arm_forwards_hazards_and_concentrations():
    """A study label (``arms.<name>`` in a run config) keeps the therapy's safety hazards and PK read-outs."""
    (labelled,) = build_arms({"il1_block": {"therapies": ["anakinra"]}})
    inner = arm_from_config({"therapies": ["anakinra"]})
    assert isinstance(labelled, LabelledArm) and isinstance(labelled, AbstractArm) and labelled.name == "il1_block"
    names = hazard_names(labelled, COV)
    assert names == hazard_names(inner, COV) and "anemia" in names
    z = inner.init_state(COV) + 1.0
    t = jnp.asarray(3.0)
    for k, v in inner.hazards(t, z, COV).items():
        np.testing.assert_array_equal(labelled.hazards(t, z, COV)[k], v)
    for k, v in inner.drug_concentrations(z, COV).items():
        np.testing.assert_array_equal(labelled.drug_concentrations(z, COV)[k], v)
    assert labelled.n_states == inner.n_states > 0
    np.testing.assert_array_equal(labelled.jump_times_np(), inner.jump_times_np())
    wrapped, wrapped_names = with_safety_hazards(labelled, COV)
    assert wrapped_names == names and wrapped.source is labelled  # the label itself reports the hazards
