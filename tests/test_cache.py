import logging

import numpy as np
import xarray as xr

from sepsim._cache import cache_key, cached_stage


def test_key_depends_on_subtree_and_stage_only():
    a = cache_key("cohort", {"n": 10, "seed": 1})
    assert a == cache_key("cohort", {"seed": 1, "n": 10})  # key order does not matter
    assert a != cache_key("cohort", {"n": 11, "seed": 1})
    assert a != cache_key("outcomes", {"n": 10, "seed": 1})


def test_second_call_reuses_and_says_so(tmp_path, caplog):
    calls = []

    def compute():
        calls.append(1)
        return xr.Dataset({"x": ("patient", np.arange(5.0))})

    with caplog.at_level(logging.INFO, logger="sepsim"):
        first, reused1 = cached_stage("cohort", {"n": 5}, compute, cache_dir=tmp_path)
        second, reused2 = cached_stage("cohort", {"n": 5}, compute, cache_dir=tmp_path)
        _, reused3 = cached_stage("cohort", {"n": 6}, compute, cache_dir=tmp_path)
    assert (reused1, reused2, reused3) == (False, True, False)
    assert len(calls) == 2
    xr.testing.assert_identical(first, second)
    assert any("reusing cached artifact" in r.message for r in caplog.records)


def test_no_cache_dir_always_computes(tmp_path):
    ds, reused = cached_stage("cohort", {}, lambda: xr.Dataset(), cache_dir=None)
    assert not reused


def test_artifact_roundtrips_exactly_even_with_time_like_units(tmp_path):
    """A ``units`` attribute like "days since randomisation" must not be decoded into dates on reuse."""
    ds = xr.Dataset({"death_day": ("patient", np.array([3.5, np.inf]), {"units": "days since randomisation"})})
    first, _ = cached_stage("outcomes", {"k": 1}, lambda: ds, cache_dir=tmp_path)
    again, reused = cached_stage("outcomes", {"k": 1}, lambda: ds, cache_dir=tmp_path)
    assert reused
    xr.testing.assert_identical(again, first)
    np.testing.assert_array_equal(again["death_day"].values, ds["death_day"].values)
    assert again["death_day"].attrs["units"] == "days since randomisation"  # kept as written, never decoded


def test_artifacts_carry_cf_long_names_and_units(tmp_path):
    """The cache writes every variable with a long_name and (numeric) units: plain xr.open_dataset explains it."""
    ds = xr.Dataset(
        {"age": ("patient", np.array([61.0, 70.0])), "dead_28d": ("patient", np.array([True, False]))},
        coords={"patient": [0, 1]},
    )
    cached_stage("cohort", {"k": 2}, lambda: ds, cache_dir=tmp_path)
    (path,) = tmp_path.glob("cohort-*.nc")
    with xr.open_dataset(path) as back:
        assert back["age"].attrs == {"long_name": "age", "units": "year"}
        assert back["dead_28d"].attrs == {"long_name": "dead by day 28", "units": "1"}
