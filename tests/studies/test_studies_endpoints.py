"""ImmunoSep secondary end points defined from the outcome table's daily states, on hand-made patients."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from sepsim.studies import immune_dysfunction_reversal, sofa_response, superinfection_by

DAYS = 30


def _table(sofa_rows, death, hla=None, fer=None, infection=None) -> xr.Dataset:
    n = len(sofa_rows)
    sofa = np.array(sofa_rows, dtype=float)[:, None, :]
    day = np.arange(DAYS + 1)
    death = np.array(death, dtype=float)[:, None]
    alive = day[None, None, :] < np.nan_to_num(death, nan=np.inf)[:, :, None]
    hla = np.full((n, 1, DAYS + 1), 3000.0) if hla is None else np.asarray(hla, float)[:, None, :]
    fer = np.full((n, 1, DAYS + 1), 1000.0) if fer is None else np.asarray(fer, float)[:, None, :]
    infection = np.full((n, 1), np.nan) if infection is None else np.asarray(infection, float)[:, None]
    pa, pad = ("patient", "arm"), ("patient", "arm", "day")
    return xr.Dataset(
        {
            "sofa": (pad, np.where(alive, sofa, np.nan)),
            "alive": (pad, alive),
            "death_day": (pa, death),
            "state_hla_dr": (pad, hla),
            "state_ferritin": (pad, fer),
            "infection_day": (pa, infection),
        },
        coords={"patient": np.arange(n), "arm": ["placebo"], "day": day},
    )


def _sofa(day0, later):
    return [day0, day0, *([later] * (DAYS - 1))]


def test_sofa_response_by_day():
    ds = _table(
        [_sofa(10, 8.6), _sofa(10, 8.7), _sofa(10, 8.0), _sofa(10, 5.0), _sofa(10, 5.0)],
        [np.nan, np.nan, 12.0, 9.5, 9.0],
    )
    # exactly 1.4 responds; 1.3 does not; death on day 12 counts by day 9, not by day 15; death on day 9 never
    assert sofa_response(ds, 9)[:, 0].tolist() == [True, False, True, True, False]
    assert sofa_response(ds, 15)[:, 0].tolist() == [True, False, False, False, False]


def test_sofa_response_counts_days_after_death_as_no_decrease():
    """The outcome table's responder rule: NaN after death becomes a drop of 0 in the mean (alive at day D needed)."""
    rows = [[10, 10, 6, 6, 6, 6, 6, 6, 6, 6, *([np.nan] * (DAYS - 9))]]
    ds = _table(rows, [np.nan])  # alive, but SOFA missing after day 9 stands in for days after death
    drop = (4 * 8 + 0 * 6) / 14  # days 2-9 drop 4, days 10-15 count 0
    assert drop >= 1.4 and sofa_response(ds, 15)[0, 0]


def test_immune_dysfunction_reversal_needs_both_criteria_while_alive_by_day_28():
    hla = np.full((5, DAYS + 1), 3000.0)
    fer = np.full((5, DAYS + 1), 1000.0)
    hla[0, 20:] = 9000.0  # reversal on day 20
    hla[1, 20:] = 9000.0
    fer[1, :] = 5000.0  # still hyper-ferritinaemic: no reversal
    hla[2, 29:] = 9000.0  # too late (day 29)
    hla[3, 20:] = 9000.0  # but dead on day 15
    hla[4, 0] = 9000.0  # day 0 (baseline) does not count
    ds = _table([_sofa(5, 5)] * 5, [np.nan, np.nan, np.nan, 15.0, np.nan], hla=hla, fer=fer)
    assert immune_dysfunction_reversal(ds, 28)[:, 0].tolist() == [True, False, False, False, False]


def test_superinfection_by_day_15_and_short_tables_refused():
    ds = _table([_sofa(5, 5)] * 3, [np.nan] * 3, infection=[3.0, 15.0, 15.5])
    assert superinfection_by(ds, 15)[:, 0].tolist() == [True, True, False]
    with pytest.raises(ValueError, match="to day 31"):
        sofa_response(ds, 31)
