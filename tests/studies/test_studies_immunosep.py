"""The immunosep study table: common random numbers across quantities, the simulated truth, the Fisher test's size
and power against exact values, the published calibration numbers, and its settings checked by key."""

from __future__ import annotations

import numpy as np
import pytest
import yaml
from scipy.stats import binom

from sepsim._errors import ConfigError
from sepsim.cli import CONF_DIR, compose_config
from sepsim.config import validate
from sepsim.platform import design_from_dict
from sepsim.studies import PUBLISHED, Quantity, fisher_two_sided, immunosep_table, study_settings
from sepsim.studies._immunosep import _counts, final_analysis_design

DESIGN = {**yaml.safe_load((CONF_DIR / "design" / "immunosep.yaml").read_text()), "strata": ["MALS", "immunoparalysis"]}
N_TRIALS = 200  # one engine compilation shared by every test here (same pool size and trial count)


def _quantity(name, fn, higher=True):
    return Quantity(name, name, higher, fn)


def test_every_quantity_is_read_on_the_same_patients_and_allocations(immunosep_pool):
    design = design_from_dict(final_analysis_design(DESIGN))
    yes = _quantity("x", lambda d: d["responder"].values)
    no = _quantity("not_x", lambda d: ~d["responder"].values)
    e1, n1, arms = _counts(immunosep_pool, yes, design, "endotype", N_TRIALS, _key())
    e2, n2, _ = _counts(immunosep_pool, no, design, "endotype", N_TRIALS, _key())
    assert arms == ["placebo", "anakinra", "ifn_gamma"]
    np.testing.assert_array_equal(n1, n2)
    np.testing.assert_array_equal(e1 + e2, n1)  # complementary read-outs of the same patients
    assert (n1.sum(axis=(1, 2)) == 280).all()


def _key():
    from sepsim import stage_key

    return stage_key(5, "study")


def _exact_power(na, nc, pa, pc, alpha):
    """P(Fisher p < alpha) with a ~ Bin(na, pa), c ~ Bin(nc, pc), by enumeration."""
    a, c = np.meshgrid(np.arange(na + 1), np.arange(nc + 1), indexing="ij")
    reject = fisher_two_sided(a, na, c, nc) < alpha
    return float((binom.pmf(a, na, pa) * binom.pmf(c, nc, pc) * reject).sum())


@pytest.mark.parametrize("effect", [0.0, 0.35])
def test_significance_matches_exact_fisher_power_given_each_trials_sizes(effect):
    from conftest import synthetic_table

    pool = synthetic_table(n=4000, effect=effect)
    primary = (_quantity("sofa_response_d9", lambda d: d["responder"].values),)
    ds = immunosep_table(pool, DESIGN, stratum="endotype", n_trials=N_TRIALS, seed=5, quantities=primary)
    design = design_from_dict(final_analysis_design(DESIGN))
    _, n, _ = _counts(pool, primary[0], design, "endotype", N_TRIALS, _key())
    truth = ds["true_proportion"].sel(quantity="sofa_response_d9", stratum="MALS").values  # placebo, anakinra
    sizes, counts = np.unique(np.stack([n[:, 1, 0], n[:, 0, 0]], 1), axis=0, return_counts=True)
    expected = (
        sum(k * _exact_power(na, nc, truth[1], truth[0], 0.05) for (na, nc), k in zip(sizes, counts, strict=True))
        / N_TRIALS
    )
    got = float(ds["p_significant"].sel(quantity="sofa_response_d9", stratum="MALS"))
    mcse = np.sqrt(expected * (1 - expected) / N_TRIALS)
    assert abs(got - expected) <= 3 * mcse + 1e-9, (got, expected, mcse)  # sampling with replacement from the pool
    if effect == 0.0:
        assert got <= 0.05 + 3 * mcse  # Fisher's test keeps its size
    else:
        assert expected > 0.5  # the check has power to fail


def test_observed_proportions_centre_on_the_pool_truth(immunosep_pool):
    ds = immunosep_table(immunosep_pool, DESIGN, stratum="endotype", n_trials=N_TRIALS, seed=2)
    mean, truth = ds["proportion_mean"], ds["true_proportion"]
    spread = (ds["proportion_q975"] - ds["proportion_q025"]) / (2 * 1.96)  # one trial's SD
    ok = np.abs(mean - truth) <= 4 * spread / np.sqrt(N_TRIALS) + 1e-3  # ratio-estimator bias is O(1/n)
    assert bool(ok.where(np.isfinite(truth), True).all()), (mean - truth).to_dataframe(name="d").query("abs(d) > 0.01")
    assert ds["active_arm"].values.tolist() == ["anakinra", "ifn_gamma", "matched"]
    # published calibration numbers sit in their cells, nowhere else
    events = ds["published_events"]
    assert int((events >= 0).sum()) == len(PUBLISHED)
    assert int(events.sel(quantity="sofa_response_d9", stratum="all", arm="active")) == 46
    assert np.isfinite(ds["z_published"]).sum() == len(PUBLISHED)
    # the pooled stratum adds the strata's randomised patients
    n = ds["n_mean"].isel(quantity=0)
    assert float(n.sel(stratum="all").sum()) == pytest.approx(280.0)


@pytest.mark.parametrize(
    ("study", "key"),
    [
        ({"kind": "immunosepp"}, "study.kind"),
        ({"kind": "immunosep", "alpah": 0.05}, "study.alpah"),
        ({"kind": "immunosep", "alpha": 1.5}, "study.alpha"),
        ({"kind": "immunosep", "n_trials": 0}, "study.n_trials"),
    ],
)
def test_bad_study_settings_are_named(study, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        study_settings({"study": study})


def test_the_experiment_composes_with_its_study_and_refuses_parametric_outcomes():
    cfg = validate(compose_config(["experiment=immunosep"]))
    assert study_settings(cfg) == {"kind": "immunosep", "alpha": 0.05, "n_trials": None}
    assert cfg.population.days >= 90  # 90-day mortality is in the table
    with pytest.raises(ConfigError, match="study.kind: study immunosep needs outcomes=mechanistic"):
        validate(compose_config(["experiment=immunosep_parametric", "+study.kind=immunosep"]))
