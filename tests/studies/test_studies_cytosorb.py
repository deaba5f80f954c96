"""The cytosorb study: eligibility from organ support at randomisation, IL-6/SOFA course and the paired IL-6 ratio
against direct computation, its settings checked by key, and the experiment composing."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from sepsim._errors import ConfigError
from sepsim.cli import compose_config
from sepsim.config import validate
from sepsim.studies import cytosorb_course, prepare_study_table, study_settings, ventilated_at_randomisation


def _table(n=60, days=14, seed=0) -> xr.Dataset:
    rng = np.random.default_rng(seed)
    il6_control = rng.lognormal(np.log(200), 1.0, (n, days + 1))
    il6 = np.stack([il6_control, 0.5 * il6_control], 1)  # the device halves IL-6 in every patient
    death = np.where(rng.random(n) < 0.3, rng.uniform(1, days, n), np.inf)
    day = np.arange(days + 1)
    alive = np.broadcast_to((day[None, :] < death[:, None])[:, None, :], (n, 2, days + 1))
    support = np.zeros((n, 2, days + 1), bool)
    support[: n // 2, :, 0] = True
    sofa = np.where(alive, rng.integers(0, 15, (n, 1, days + 1)) * np.ones((1, 2, 1)), np.nan)
    pad = ("patient", "arm", "day")
    return xr.Dataset(
        {"state_il6": (pad, il6), "alive": (pad, alive), "organ_support": (pad, support), "sofa": (pad, sofa)},
        coords={"patient": np.arange(n), "arm": ["standard_care", "cytosorb"], "day": day},
    )


def test_course_against_direct_computation():
    ds = _table()
    course = cytosorb_course(ds, control="standard_care", device="cytosorb", last_day=10)
    assert course.sizes["day"] == 11
    np.testing.assert_allclose(course["il6_ratio"], 0.5, rtol=1e-12)
    np.testing.assert_allclose(course["il6_ratio_lower"], 0.5, rtol=1e-9)  # no spread in the paired ratio
    d = 7
    alive = ds["alive"].values[:, 0, d]
    log_il6 = np.log(ds["state_il6"].values[alive, 0, d])
    assert float(course.il6_geometric_mean.sel(arm="standard_care", day=d)) == pytest.approx(np.exp(log_il6.mean()))
    half = float(np.log(course.il6_gm_upper.sel(arm="standard_care", day=d) / course.il6_geometric_mean.sel(
        arm="standard_care", day=d)))  # fmt: skip
    from scipy.stats import t

    assert half == pytest.approx(t.ppf(0.975, alive.sum() - 1) * log_il6.std(ddof=1) / np.sqrt(alive.sum()))
    assert float(course.alive_share.sel(arm="cytosorb", day=d)) == pytest.approx(alive.mean())
    assert float(course.sofa_mean.sel(arm="cytosorb", day=d)) == pytest.approx(ds["sofa"].values[alive, 1, d].mean())


def test_eligibility_is_organ_support_at_randomisation():
    ds = _table()
    assert ventilated_at_randomisation(ds).tolist() == [True] * 30 + [False] * 30
    cfg = {"study": {"kind": "cytosorb"}, "arms": {"standard_care": {}, "cytosorb": {}}}
    assert prepare_study_table(cfg, ds).sizes["patient"] == 30
    off = {"study": {"kind": "cytosorb", "require_organ_support": False}}
    assert prepare_study_table(off, ds).sizes["patient"] == 60
    assert prepare_study_table({"study": {}}, ds) is ds  # no study: untouched


def test_experiment_composes_and_bad_settings_are_named():
    cfg = validate(compose_config(["experiment=cytosorb"]))
    assert cfg.endpoint.variable == "dead_60d" and cfg.population.days >= 60
    assert cfg.arms.cytosorb.adsorber.mode == "sessions" and cfg.arms.cytosorb.adsorber.hours_per_day == 6.0
    assert study_settings(cfg)["device"] == "cytosorb"
    with pytest.raises(ConfigError, match=r"study\.device: 'oxiris' is not an arm"):
        validate(compose_config(["experiment=cytosorb", "study.device=oxiris"]))
    with pytest.raises(ConfigError, match=r"study\.course_days"):
        validate(compose_config(["experiment=cytosorb", "study.course_days=0"]))
