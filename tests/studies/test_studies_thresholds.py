"""The thresholds study: re-classification reproduces the model's own rule at IS-04's numbers (and the true-value
rule without assay error), cut-offs move the mix the right way, and the harm to misclassified patients is counted
on their own potential outcomes."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from sepsim._errors import ConfigError
from sepsim.cli import compose_config
from sepsim.config import validate
from sepsim.models import ENDOTYPES, classify_endotype
from sepsim.models._outcomes import ASSAY_CV
from sepsim.studies import study_settings
from sepsim.studies._thresholds import misclassification_harm, reclassify, screened_mix

PAIRS = {"MALS": ("placebo", "anakinra"), "immunoparalysis": ("placebo", "ifn_gamma")}


def _screened(n=5000, seed=1) -> xr.Dataset:
    """Screening values as simulate_outcomes makes them: lognormal assay error on true values, IS-04 rule."""
    rng = np.random.default_rng(seed)
    true = {"ferritin": rng.lognormal(np.log(1500), 1.2, n), "hla_dr": rng.lognormal(np.log(6000), 0.6, n)}
    z = rng.standard_normal((n, 2))
    sig = {b: np.sqrt(np.log1p(ASSAY_CV[b] ** 2)) for b in true}
    meas = {b: true[b] * np.exp(sig[b] * z[:, j]) for j, b in enumerate(true)}
    data = {f"true_{b}": ("patient", v) for b, v in true.items()}
    data.update({f"screen_{b}": ("patient", v) for b, v in meas.items()})
    data["endotype"] = ("patient", np.asarray(ENDOTYPES)[classify_endotype(meas["ferritin"], meas["hla_dr"])])
    data["endotype_true"] = ("patient", np.asarray(ENDOTYPES)[classify_endotype(true["ferritin"], true["hla_dr"])])
    return xr.Dataset(data, coords={"patient": np.arange(n)})


def test_reclassify_reproduces_the_models_rule_and_the_true_rule_without_error():
    ds = _screened()
    same = reclassify(ds)
    np.testing.assert_allclose(same["screen_hla_dr"], ds["screen_hla_dr"], rtol=1e-12)
    assert (same["endotype"].values == ds["endotype"].values).all()
    exact = reclassify(ds, assay_cv_scale=0.0)
    assert (exact["endotype"].values == ds["endotype_true"].values).all()
    assert (ds["endotype"].values != ds["endotype_true"].values).any()  # assay error does misclassify


def test_cut_offs_move_the_mix():
    ds = _screened()
    low, high = (screened_mix(reclassify(ds, ferritin_cutoff=c)) for c in (3000.0, 6000.0))
    assert low["share_MALS"] > high["share_MALS"] > 0
    strict = screened_mix(reclassify(ds, hla_dr_cutoff=3000.0))
    assert strict["share_immunoparalysis"] < screened_mix(ds)["share_immunoparalysis"]
    assert sum(v for k, v in low.items() if k != "enrolled_share") == pytest.approx(1.0)
    assert low["enrolled_share"] == pytest.approx(1.0 - low["share_unclassified"])


def test_harm_is_the_assigned_therapys_effect_on_misclassified_patients():
    # 4 enrolled patients: two misclassified (reference unclassified / immunoparalysis), two correct
    labels = ["MALS", "MALS", "immunoparalysis", "immunoparalysis", "unclassified"]
    reference = ["unclassified", "MALS", "MALS", "immunoparalysis", "unclassified"]
    dead = np.array([[0, 1, 0], [1, 0, 1], [0, 0, 1], [1, 1, 0], [1, 1, 1]], bool)  # placebo, anakinra, ifn_gamma
    resp = np.array([[1, 0, 0], [0, 1, 0], [1, 1, 0], [0, 0, 1], [0, 0, 0]], bool)
    pa = ("patient", "arm")
    ds = xr.Dataset(
        {"endotype": ("patient", labels), "endotype_true": ("patient", reference), "dead_28d": (pa, dead),
         "responder": (pa, resp)},
        coords={"arm": ["placebo", "anakinra", "ifn_gamma"]},
    )  # fmt: skip
    h = misclassification_harm(ds, PAIRS)
    assert h["misclassified_share"] == 0.5
    assert h["harm_mortality_misclassified"] == pytest.approx((1 + 1) / 2)  # anakinra kills p0, IFN-gamma p2
    assert h["harm_mortality_correct"] == pytest.approx((-1 + -1) / 2)
    assert h["harm_response_misclassified"] == pytest.approx((1 + 1) / 2)
    assert h["excess_deaths_per_100_treated"] == pytest.approx(100 * 2 / 4)


def test_experiment_composes_and_bad_settings_are_named():
    cfg = validate(compose_config(["experiment=thresholds", "study.ferritin_cutoff=3000"]))
    assert study_settings(cfg)["ferritin_cutoff"] == 3000
    for key, bad in (("ferritin_cutoff", -1), ("hla_dr_cutoff", "abc"), ("assay_cv_scale", 50)):
        with pytest.raises(ConfigError, match=rf"study\.{key}"):
            study_settings({"study": {"kind": "thresholds", key: bad}})
