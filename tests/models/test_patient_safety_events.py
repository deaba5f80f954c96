"""Safety events in the outcome table: hazards integrated in the solve, own common random numbers, SAEs."""

import numpy as np
import pytest

from sepsim._keys import stage_key
from sepsim.models import simulate_cohort, simulate_outcomes
from sepsim.models._safety_events import safety_event_days
from sepsim.models.interventions import Placebo, arm_from_config


def test_partly_serious_events_count_in_sae_only_when_serious():
    """Immune-related events are serious with their cited fraction, decided by the patient's own draw."""
    import xarray as xr

    from sepsim.models._outcomes import _add_safety
    from sepsim.models._safety_events import SERIOUS_FRACTION, serious_draws

    frac = SERIOUS_FRACTION["immune_related"]
    assert frac == pytest.approx(7 / 101, abs=5e-4)
    n = 5
    ds = xr.Dataset(
        {
            "death_day": (("patient", "arm"), np.array([[np.nan], [np.nan], [np.nan], [np.nan], [3.0]])),
            "secondary_infection": (("patient", "arm"), np.array([[False], [False], [True], [False], [False]])),
        }
    )
    cum = {"immune_related": np.broadcast_to(np.linspace(0.0, 5.0, 6), (n, 1, 6)).copy()}
    u = {"immune_related": np.array([0.5, 0.01, 0.5, frac + 1e-9, 0.01])}
    out = _add_safety(ds, cum, {"immune_related": np.full(n, 1.0)}, u)
    np.testing.assert_array_equal(out.ae_immune_related.values[:, 0], [1, 1, 1, 1, 1])  # day 1, before death
    np.testing.assert_array_equal(out.ae_immune_related_serious.values[:, 0], [0, 1, 0, 0, 1])
    np.testing.assert_array_equal(out.sae.values[:, 0], [0, 1, 1, 0, 1])  # infection or death are SAEs anyway
    draws = serious_draws(stage_key(2, "outcomes"), np.arange(20_000), ("immune_related",))["immune_related"]
    share = (draws < frac).mean()  # Monte-Carlo: |error| < 4 SE
    assert abs(share - frac) < 4 * np.sqrt(frac * (1 - frac) / 20_000)
    order = np.random.default_rng(0).permutation(20_000)  # per global patient index; same shape: one compile
    again = serious_draws(stage_key(2, "outcomes"), order, ("immune_related",))["immune_related"]
    np.testing.assert_array_equal(again, draws[order])


def test_event_day_on_hand_built_hazard():
    """The event comes where the daily cumulative hazard crosses the draw (linear between days), only before death."""
    cum = np.array([[[0.0, 0.1, 0.3, 0.3, 0.3]], [[0.0, 0.1, 0.3, 0.3, 0.3]], [[0.0, 0.0, 0.0, 0.0, 0.0]]])
    draw = np.array([0.2, 0.2, 0.2])
    death = np.array([[np.inf], [1.2], [np.inf]])
    t = safety_event_days(cum, draw, death)
    np.testing.assert_allclose(t[0, 0], 1.5)
    assert np.isinf(t[1, 0])  # died on day 1.2, before the event
    assert np.isinf(t[2, 0])  # no hazard, no event
    assert np.isinf(safety_event_days(cum[:1], np.array([0.31]), death[:1])[0, 0])  # the hazard stops at 0.3


@pytest.fixture(scope="module")
def safety():
    cohort = simulate_cohort(64, key=stage_key(11, "cohort"))
    arms = [
        Placebo(),
        arm_from_config({"therapies": [{"name": "interleukin7", "route": "iv", "n_doses": 6}]}),
        arm_from_config({"therapies": ["anakinra"]}),
        arm_from_config({"therapies": ["interferon_gamma"]}),
    ]
    return cohort, arms, simulate_outcomes(cohort, arms, key=stage_key(11, "outcomes"), days=28, progress=False)


@pytest.mark.slow  # four arms compiled, ~90 s
def test_safety_events_per_arm_against_cited_rates(safety):
    cohort, arms, out = safety
    names = [str(a) for a in out.arm.values]
    assert out.attrs["safety_events"] == "anemia bleeding fever_resp_distress"
    pla, il7, ana, ifn = (out.sel(arm=n) for n in names)
    for k in ("anemia", "bleeding", "fever_resp_distress"):
        assert not pla[f"ae_{k}"].values.any()  # placebo reports no hazard: never an event
    # IV IL-7: fever/respiratory distress in 3/15 of the IRIS-7 IV arm (s4); 64 patients, count within 4 SD of 20%
    k = int(il7.ae_fever_resp_distress.values.sum())
    assert abs(k - 64 * 0.2) < 4 * np.sqrt(64 * 0.2 * 0.8), k
    onset = il7.ae_fever_resp_distress_day.values
    assert np.all(np.nan_to_num(onset, nan=0.0) < 18.0)  # only during the 6-dose course (last dose day 17.5)
    # anaemia only with anakinra, bleeding only with rhIFN-gamma (IS-14)
    assert ana.ae_anemia.values.any() and not ana.ae_bleeding.values.any()
    assert ifn.ae_bleeding.values.any() and not ifn.ae_anemia.values.any()
    # SAE (ICH E2A): every death and every safety event is one
    for o in (pla, il7, ana, ifn):
        assert np.all(o.sae.values >= np.isfinite(o.death_day.values))
        assert np.all(o.sae.values >= o.ae_anemia.values | o.ae_bleeding.values | o.ae_fever_resp_distress.values)


@pytest.mark.slow  # reuses the compiled rhIFN-gamma arm of the fixture
def test_bleeding_rises_with_thrombocytopenia(safety):
    """Same patients and draws, platelets 30 vs 300 x10^3/uL: bleeding on rhIFN-gamma pathwise at least as often."""
    cohort, arms, _ = safety
    ifn = [arms[3]]
    n = cohort.sizes["patient"]
    low, high = (
        simulate_outcomes(cohort.assign(platelets=("patient", np.full(n, p))), ifn, key=stage_key(11, "outcomes"))
        for p in (30.0, 300.0)
    )
    b_low, b_high = low.ae_bleeding.values[:, 0], high.ae_bleeding.values[:, 0]
    assert np.all(b_low >= b_high) and b_low.sum() > b_high.sum()
