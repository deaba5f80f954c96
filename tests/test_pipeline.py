"""Pipeline helpers."""

import numpy as np
import xarray as xr

from sepsim.pipeline import _solved


def test_failed_solves_are_counted_and_excluded():
    ok = np.array([[True, True], [True, False], [True, True]])
    table = xr.Dataset({"solver_ok": (("patient", "arm"), ok), "y": (("patient", "arm"), np.ones((3, 2)))})
    kept, n_failed = _solved(table)
    assert n_failed == 1 and kept.sizes["patient"] == 2
