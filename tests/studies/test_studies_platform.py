"""The platform study: the platform endotype rule (each criterion and its priority), the compared designs built from
the run's design, bad settings named by key, and (slow) every design on the same patients and keys."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from omegaconf import OmegaConf

from sepsim._errors import ConfigError
from sepsim.cli import compose_config
from sepsim.config import validate
from sepsim.models import PLATFORM_ENDOTYPES, classify_platform_endotype
from sepsim.studies import study_settings
from sepsim.studies._platform import add_platform_endotype, platform_comparison, platform_design


def test_platform_endotype_rule_and_priority():
    # columns: ferritin ng/mL, IL-6 pg/mL, mHLA-DR AB/C, lymphocytes 10^3/uL
    cases = [
        ((5000, 900, 3000, 0.5), "MALS"),  # everything holds: MALS first (IS-04)
        ((4420, 900, 3000, 0.5), "IL6_hyperinflamed"),  # ferritin at the cut-off is not MALS
        ((1000, 530, 3000, 0.5), "immunoparalysis"),  # IL-6 at the cut-off is not hyperinflamed
        ((1000, 100, 5000, 1.1), "lymphopenic"),  # HLA-DR at the cut-off is not immunoparalysis; ALC <= 1.1 is
        ((1000, 100, 8000, 1.2), "unclassified"),
    ]
    values = np.array([c[0] for c in cases], dtype=float).T
    got = np.asarray(PLATFORM_ENDOTYPES)[classify_platform_endotype(*values)]
    assert got.tolist() == [c[1] for c in cases]
    assert classify_platform_endotype(1000, 100, 8000, 1.2, {"lymphocytes": 2.0}).item() == 4


def test_add_platform_endotype_reads_the_measured_screening_values():
    table = xr.Dataset(
        {f"screen_{b}": ("patient", np.array(v, float)) for b, v in
         (("ferritin", [5000, 100]), ("il6", [10, 10]), ("hla_dr", [9000, 9000]), ("lymphocytes", [2, 0.5]))}
    )  # fmt: skip
    assert add_platform_endotype(table)["platform_endotype"].values.tolist() == ["MALS", "lymphopenic"]


def test_all_comers_drops_biomarker_selection():
    base = OmegaConf.to_container(compose_config(["experiment=platform"]).design, resolve=True)
    spec, pooled = platform_design(base, {"all_comers": True})
    assert pooled and spec["strata"] is None and spec["stratum_arms"] is None
    assert spec["stopping"]["per_stratum"] is False and "within_strata" not in spec["allocation"]
    assert base["strata"] and base["stopping"]["per_stratum"] is True  # the base is not changed
    fixed, pooled = platform_design(base, {"allocation": {"rule": "fixed"}})
    assert not pooled and fixed["allocation"] == {"rule": "fixed"} and fixed["strata"] == base["strata"]


def test_experiment_composes_and_bad_settings_are_named():
    cfg = validate(compose_config(["experiment=platform"]))
    assert list(study_settings(cfg)["compare"]) == ["fixed_allocation", "all_comers"]
    assert set(cfg.arms) == {"placebo", "anakinra", "ifn_gamma", "gm_csf", "il7", "anti_pdl1", "cytosorb"}
    with pytest.raises(ConfigError, match=r"study\.compare\.fixed_allocation: design\.allocation\.rule"):
        validate(compose_config(["experiment=platform", "study.compare.fixed_allocation.allocation.rule=nosuch"]))
    with pytest.raises(ConfigError, match=r"design\.strata\[0\].*did you mean 'MALS'"):
        validate(compose_config(["experiment=platform", "design.strata=[mals,IL6_hyperinflamed,immunoparalysis,"
                                 "lymphopenic,unclassified]"]))  # fmt: skip
    with pytest.raises(ConfigError, match=r"endpoint\.stratum: platform_endotype is made by study\.kind=platform"):
        validate(compose_config(["experiment=immunosep", "endpoint.stratum=platform_endotype"]))


@pytest.mark.slow
def test_designs_run_on_the_same_patients():
    rng = np.random.default_rng(2)
    n, arms = 3000, ["placebo", "anakinra", "ifn_gamma", "gm_csf", "il7", "anti_pdl1", "cytosorb"]
    strata = np.asarray(PLATFORM_ENDOTYPES)[rng.integers(0, 5, n)]
    u = rng.random((n, 1))
    rate = np.full((n, 7), 0.2)
    rate[strata == "MALS", 1] = 0.5  # anakinra works in MALS only
    table = xr.Dataset(
        {"responder": (("patient", "arm"), u < rate), "platform_endotype": ("patient", strata)},
        coords={"arm": arms},
    )
    base = OmegaConf.to_container(compose_config(["experiment=platform"]).design, resolve=True)
    ds = platform_comparison(table, base, {"same": {}, "all_comers": {"all_comers": True}}, endpoint="responder",
                             stratum="platform_endotype", n_trials=60, seed=3)  # fmt: skip
    a, b = ds.sel(design="platform"), ds.sel(design="same")
    np.testing.assert_array_equal(a["p_superior"].values, b["p_superior"].values)  # identical design, identical trials
    assert float(a["p_superior"].sel(stratum="MALS", arm="anakinra")) > 0.5  # the stratified platform finds it
    pooled = ds.sel(design="all_comers")
    assert np.isnan(pooled["p_superior"].sel(stratum="MALS")).all() and np.isfinite(
        pooled["p_superior"].sel(stratum="all", arm="anakinra")
    )
    assert float(ds["true_rate"].sel(stratum="MALS", arm="anakinra")) == pytest.approx(0.5, abs=0.05)
