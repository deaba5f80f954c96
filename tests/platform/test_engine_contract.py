"""run_trials follows the results contract; chunking and the trial offset never change results."""

import json

import numpy as np
import pytest
import xarray as xr

from sepsim._errors import ConfigError
from sepsim._keys import stage_key
from sepsim.platform import binary_scenario, design_from_dict, run_trials

DESIGN = dict(
    arms=["A", "B", "C"],
    look_n=[60, 120, 180, 240],
    higher_is_better=False,
    allocation=dict(rule="thompson", min_prob=0.15, soften_power=0.7),
    stopping=dict(superiority=0.97, inferiority=0.03, equivalence_prob=0.8, equivalence_margin=0.15),
    enrolment=dict(randomised_n=[80, 140, 200, 240]),
)


@pytest.fixture(scope="module")
def outcomes():
    return binary_scenario([0.2, 0.3, 0.45], 5000, key=stage_key(0, "cohort"))


@pytest.fixture(scope="module")
def ds(outcomes):
    return run_trials(outcomes, DESIGN, n_trials=24, key=stage_key(1, "trials"), chunk_size=8, seed=1)


def test_dims_variables_and_types(ds):
    assert dict(ds.sizes) == {"trial": 24, "look": 4, "arm": 3, "stratum": 1}
    assert list(ds.arm.values) == ["A", "B", "C"] and list(ds.stratum.values) == ["all"]
    want = {
        "look_n": (("look",), "i"),
        "n": (("trial", "look", "arm", "stratum"), "i"),
        "events": (("trial", "look", "arm", "stratum"), "f"),
        "alloc_prob": (("trial", "look", "arm", "stratum"), "f"),
        "p_best": (("trial", "look", "arm"), "f"),
        "active": (("trial", "look", "arm", "stratum"), "b"),
        "arm_decision": (("trial", "arm", "stratum"), "i"),
        "decision_look": (("trial", "arm", "stratum"), "i"),
        "trial_stop_look": (("trial",), "i"),
        "trial_outcome": (("trial",), "i"),
        "superior_arm": (("trial",), "i"),
        "estimate": (("trial", "arm", "stratum"), "f"),
        "n_total": (("trial",), "i"),
        "events_total": (("trial",), "f"),
        "true_mean": (("arm", "stratum"), "f"),
    }
    for name, (dims, kind) in want.items():
        assert ds[name].dims == dims, name
        assert ds[name].dtype.kind == kind, name
    assert ds.attrs["higher_is_better"] == 0 and ds.attrs["control_arm"] == "" and ds.attrs["seed"] == 1
    assert json.loads(ds.attrs["design"])["arms"] == ["A", "B", "C"]
    np.testing.assert_allclose(ds.true_mean.values[:, 0], [0.2, 0.3, 0.45])


def test_internal_consistency(ds):
    n = ds.n.values[..., 0]
    stop = ds.trial_stop_look.values
    for t in range(ds.sizes["trial"]):
        s = stop[t]
        # every planned patient's outcome is seen at looks up to the stop (no dropout)
        np.testing.assert_array_equal(n[t, : s + 1].sum(-1), ds.look_n.values[: s + 1])
        assert np.all(np.diff(n[t], axis=0) >= 0)
        alloc = ds.alloc_prob.values[t, :, :, 0]
        np.testing.assert_allclose(alloc[:s].sum(-1), 1.0, atol=1e-12)
        assert np.all(alloc[s:] == 0.0) and not ds.active.values[t, s:].any()
        assert np.all(alloc[: s + 1][~ds.active.values[t, : s + 1, :, 0]] == 0.0)
        assert ds.n_total.values[t] == ds.n_randomised.values[t, s]
        dec_looks = ds.decision_look.values[t, :, 0]
        assert np.all((dec_looks == -1) == (ds.arm_decision.values[t, :, 0] == 0))
        assert np.all(dec_looks <= s)
        pb = ds.p_best.values[t, s]
        assert abs(np.nansum(pb) - 1.0) < 1e-9
    outcome = ds.trial_outcome.values
    assert np.all((ds.superior_arm.values >= 0) == (outcome == 1))
    assert np.all(stop[outcome == 0] == 3) and np.all(stop[outcome != 0] <= 3)
    # the estimate is the posterior mean with every randomised patient (adaptr's final analysis)
    post = (1 + ds.events_final) / (2 + ds.n_final)
    np.testing.assert_allclose(ds.estimate.values, post.values, atol=1e-12)
    np.testing.assert_allclose(ds.events_total.values, ds.events_final.sum(("arm", "stratum")).values)


def _same(a: xr.Dataset, b: xr.Dataset):
    """Integer and boolean results identical; floating-point ones equal to rounding (XLA may order a reduction
    differently for another batch size)."""
    assert a.attrs == b.attrs and list(a.data_vars) == list(b.data_vars)
    for name in a.data_vars:
        x, y = a[name].values, b[name].values
        if x.dtype.kind == "f":
            np.testing.assert_allclose(x, y, rtol=1e-12, atol=1e-14, equal_nan=True, err_msg=name)
        else:
            np.testing.assert_array_equal(x, y, err_msg=name)
    xr.testing.assert_equal(a.coords.to_dataset(), b.coords.to_dataset())


def test_chunk_size_and_offset_do_not_change_results(outcomes, ds):
    whole = run_trials(outcomes, DESIGN, n_trials=24, key=stage_key(1, "trials"), chunk_size=24, seed=1)
    _same(whole, ds)
    part = run_trials(outcomes, DESIGN, n_trials=8, key=stage_key(1, "trials"), chunk_size=8, start=8, seed=1)
    _same(part, ds.isel(trial=slice(8, 16)))


@pytest.mark.parametrize(
    "patch, key",
    [
        ({"armz": ["A"]}, "design.armz"),
        ({"allocation": {"rule": "thompson", "minprob": 0.1}}, "design.allocation.minprob"),
        ({"allocation": {"rule": "bandit"}}, "design.allocation.rule"),
        ({"look_n": [100, 50]}, "design.look_n"),
        ({"control": "Z"}, "design.control"),
        ({"stopping": {"superiority": 1.5}}, "design.stopping.superiority"),
        ({"stopping": {"equivalence_prob": 0.9}}, "design.stopping.equivalence_margin"),
        ({"allocation": {"rule": "trippa"}}, "design.allocation.rule"),
        ({"allocation": {"rule": "thompson", "min_prob": 0.5}}, "design.allocation.min_prob"),
        ({"enrolment": {"randomised_n": [80, 140, 200, 300]}}, "design.enrolment.randomised_n"),
        ({"stratum_arms": [["A", "B"]]}, "design.stratum_arms"),
    ],
)
def test_bad_design_names_the_key(patch, key):
    with pytest.raises(ConfigError) as e:
        design_from_dict({**DESIGN, **patch})
    assert e.value.key == key


def test_design_round_trips_through_omegaconf():
    from omegaconf import OmegaConf
    from omegaconf.errors import ValidationError

    from sepsim.platform import design_schema

    merged = OmegaConf.merge(design_schema(), OmegaConf.create(DESIGN))
    d = design_from_dict(merged)
    assert d == design_from_dict(DESIGN)
    with pytest.raises(ValidationError):  # OmegaConf checks types against the dataclasses
        OmegaConf.merge(design_schema(), OmegaConf.create({"allocation": {"burn_in_n": "many"}}))
