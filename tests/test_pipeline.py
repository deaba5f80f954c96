"""Pipeline helpers."""

import numpy as np
import xarray as xr

from sepsim.pipeline import _solved


def test_failed_solves_are_counted_and_excluded():
    ok = np.array([[True, True], [True, False], [True, True]])
    table = xr.Dataset({"solver_ok": (("patient", "arm"), ok), "y": (("patient", "arm"), np.ones((3, 2)))})
    kept, n_failed = _solved(table)
    assert n_failed == 1 and kept.sizes["patient"] == 2


def test_daily_states_reach_the_outcome_table_and_its_cache_key(monkeypatch):
    """``population.daily_states`` is passed to ``simulate_outcomes`` (normalised to the model's order in the cache
    key of the outcome table, which the default leaves unchanged); the cohort's key never holds it."""
    import sepsim.models as models
    import sepsim.pipeline as pipeline
    from sepsim.cli import compose_config
    from sepsim.config import validate

    seen: dict = {}

    def stage(name, subtree, compute, cache_dir=None):
        seen[name] = subtree
        return compute(), False

    def outcomes(cohort, arms, **kw):
        seen["daily_states"] = kw["daily_states"]
        return xr.Dataset()

    monkeypatch.setattr(pipeline, "cached_stage", stage)
    monkeypatch.setattr(models, "simulate_cohort", lambda n, **kw: xr.Dataset())
    monkeypatch.setattr(models, "simulate_outcomes", outcomes)
    keys = {}
    for daily in ("all", "[ferritin,hla_dr]", "[hla_dr,ferritin]"):
        cfg = validate(compose_config(["experiment=immunosep", f"population.daily_states={daily}"]))
        pipeline._outcomes_from_models(cfg)
        assert "daily_states" not in seen["cohort"]["population"]
        keys[daily] = (seen["cohort"], seen["outcomes"], seen["daily_states"])
    assert keys["all"][2] == "all" and "daily_states" not in keys["all"][1]
    assert list(keys["[ferritin,hla_dr]"][2]) == ["ferritin", "hla_dr"]  # as given to the library, which orders it
    assert keys["[ferritin,hla_dr]"][1]["daily_states"] == ["ferritin", "hla_dr"]  # STATE_NAMES order
    assert keys["[ferritin,hla_dr]"][1] == keys["[hla_dr,ferritin]"][1] != keys["all"][1]
    assert keys["all"][0] == keys["[hla_dr,ferritin]"][0]  # the cohort is shared
