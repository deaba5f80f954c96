"""The results contract as code, over a table of designs: every engine's Dataset matches the schema
(sepsim/platform/_results/schema.py) with dtypes, its codes are those of the enums, decisions agree with outcomes,
and the chunk size never changes a result."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from sepsim import stage_key
from sepsim._errors import ConfigError
from sepsim.platform import binary_scenario, design_from_dict, domain_combinations, run_trials
from sepsim.platform._operating.trials import validate_results
from sepsim.platform._results.codes import DECISIONS, OUTCOMES, ArmDecision, TrialOutcome
from sepsim.platform._results.schema import DOMAIN_RESULTS_SCHEMA, RESULTS_SCHEMA, check_results

ARMS = ["placebo", "anakinra", "ifng"]
DESIGNS = {
    # adaptr-like: no control, RAR, equivalence over all arms
    "rar_no_control": dict(
        arms=ARMS,
        look_n=[60, 120, 180],
        higher_is_better=False,
        allocation=dict(rule="thompson", min_prob=0.15),
        stopping=dict(superiority=0.95, inferiority=0.05, equivalence_prob=0.8, equivalence_margin=0.15),
    ),
    # ImmunoSep-like: per-stratum decisions, biomarker-guided arms, fixed blocks
    "per_stratum": dict(
        arms=ARMS,
        control="placebo",
        look_n=[60, 120, 180],
        higher_is_better=False,
        strata=["MALS", "immunoparalysis"],
        stratum_arms=[["placebo", "anakinra"], ["placebo", "ifng"]],
        allocation=dict(rule="fixed", block_factor=2),
        stopping=dict(superiority=0.95, inferiority=0.05, futility_prob=0.9, futility_margin=0.0, per_stratum=True),
    ),
    # group-sequential z tests against the control
    "frequentist": dict(
        arms=ARMS,
        control="placebo",
        look_n=[60, 120, 180],
        higher_is_better=False,
        analysis=dict(method="frequentist", test="z", alpha=0.025, spending="obf"),
    ),
    # factorial platform: the domains engine
    "domains": dict(
        look_n=[60, 120, 180],
        higher_is_better=False,
        domains=[
            dict(name="immuno", arms=ARMS, control="placebo", allocation=dict(rule="thompson", min_prob=0.15)),
            dict(name="adsorber", arms=["none", "cytosorb"], control="none", allocation=dict(rule="fixed")),
        ],
    ),
}


def _table(design: dict):
    key = stage_key(3, "outcomes")
    if "domains" in design:
        combos = domain_combinations(design_from_dict(design).domains)
        rates = np.linspace(0.45, 0.25, len(combos))
        return binary_scenario(rates, 4000, key=key, arms=combos)
    if "strata" in design:
        rates = [[0.45, 0.25, 0.45], [0.40, 0.40, 0.30]]
        return binary_scenario(rates, 4000, key=key, arms=ARMS, strata=design["strata"], stratum_probs=[0.4, 0.6])
    return binary_scenario([0.45, 0.30, 0.25], 4000, key=key, arms=ARMS)


@pytest.fixture(scope="module", params=sorted(DESIGNS))
def run(request):
    design = DESIGNS[request.param]
    table = _table(design)
    ds = run_trials(table, design, n_trials=16, key=stage_key(4, "trials"), chunk_size=16)
    return request.param, design, table, ds


def test_results_match_the_schema_with_dtypes(run):
    name, _, _, ds = run
    schema = DOMAIN_RESULTS_SCHEMA if name == "domains" else RESULTS_SCHEMA
    check_results(ds, schema, strict=True)
    for var in schema.values():
        assert var.kind in "ifb" and len(var.dims) >= 1
    if name != "domains":
        validate_results(ds)


def test_codes_are_the_enums_and_agree_with_outcomes(run):
    name, _, _, ds = run
    dec = ds["arm_decision"].values
    assert set(np.unique(dec)) <= {int(d) for d in ArmDecision}
    looks = ds["decision_look"].values
    assert np.all((dec == ArmDecision.NONE) == (looks < 0)) or name == "per_stratum"  # per stratum: ineligible 0/-1
    outcome = ds["domain_outcome"].values if name == "domains" else ds["trial_outcome"].values
    assert set(np.unique(outcome)) <= {int(o) for o in TrialOutcome}
    if name in ("rar_no_control", "frequentist"):
        any_sup = (dec == ArmDecision.SUPERIOR).any(axis=(1, 2))
        assert np.array_equal(any_sup, outcome == TrialOutcome.SUPERIORITY)
        sup = ds["superior_arm"].values
        assert np.array_equal(sup >= 0, any_sup)
    n = ds["n"].values
    assert np.all(np.diff(n, axis=1) >= 0)  # patients with outcome data never decrease over looks


def test_frequentist_z_statistics_have_their_own_output(run):
    name, _, _, ds = run
    if name != "frequentist":
        assert "z_statistic" not in ds
        return
    assert np.isnan(ds["p_best"].values).all()
    z0 = ds["z_statistic"].isel(look=0).values
    assert np.isfinite(z0).all() and np.all(z0[:, 0] == 0.0)  # the control's own z is 0
    assert np.abs(z0[:, 1:]).max() > 0.0


@pytest.mark.slow  # one more compilation per design
def test_chunk_size_does_not_change_results(run):
    """Integer and boolean results identical; floating-point ones equal to rounding (XLA may order a reduction
    differently for another batch size)."""
    _, design, table, ds = run
    again = run_trials(table, design, n_trials=16, key=stage_key(4, "trials"), chunk_size=5)
    assert list(again.data_vars) == list(ds.data_vars)
    for name in ds.data_vars:
        x, y = ds[name].values, again[name].values
        if x.dtype.kind == "f":
            np.testing.assert_allclose(x, y, rtol=1e-12, atol=1e-14, equal_nan=True, err_msg=name)
        else:
            np.testing.assert_array_equal(x, y, err_msg=name)


def test_decision_labels_follow_the_codes():
    assert DECISIONS == ("none", "superior", "inferior", "futile", "equivalent")
    assert OUTCOMES == ("max", "superiority", "equivalence", "futility")
    assert [int(d) for d in ArmDecision] == list(range(len(DECISIONS)))


def test_check_results_names_what_breaks_the_contract():
    ds = xr.Dataset({"look_n": (("look",), np.array([1, 2]))})
    with pytest.raises(ConfigError, match="results.n"):
        check_results(ds)
    bad = xr.Dataset({name: (var.dims, np.zeros((2,) * len(var.dims))) for name, var in RESULTS_SCHEMA.items()})
    with pytest.raises(ConfigError, match="dtype kind"):
        check_results(bad, strict=True)  # look_n as floats
    check_results(bad)  # dims only: accepted
    with pytest.raises(ConfigError, match="must have dims"):
        check_results(bad.assign(n=(("trial", "look"), np.zeros((2, 2)))))
