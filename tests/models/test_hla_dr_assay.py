"""mHLA-DR as % HLA-DR+ monocytes and MFI (``_hla_dr_assay.py``): the conversion against its anchors."""

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.stats import lognorm

from sepsim.models._hla_dr_assay import (
    HLA_DR_ANCHORS,
    HLA_DR_CONVERSION,
    abc_from_percent_positive,
    conversion_constants,
    hla_dr_mfi,
    hla_dr_percent_positive,
)


@pytest.mark.parametrize("name", ["immunoparalysis", "health"])
def test_reproduces_abc_anchors(name):
    abc, frac = HLA_DR_ANCHORS[name]
    assert hla_dr_percent_positive(abc) == pytest.approx(100 * frac, abs=1e-9)


def test_mfi_anchor_14_is_40_percent():
    mfi, frac = HLA_DR_ANCHORS["mfi"]
    abc = abc_from_percent_positive(100 * frac)
    assert hla_dr_mfi(abc) == pytest.approx(mfi, rel=1e-12)
    assert hla_dr_mfi(2 * abc) == pytest.approx(2 * mfi, rel=1e-12)  # MFI proportional to AB/C


def test_percent_positive_is_the_share_of_a_lognormal_above_the_gate():
    """Independent reference: integrate the per-cell lognormal density above the gate."""
    c = HLA_DR_CONVERSION
    for abc in (1500.0, 5000.0, 12451.0, 30000.0):
        cells = lognorm(s=c.log_sd, scale=abc)
        share, _ = quad(cells.pdf, c.gate_abc, np.inf, limit=200)
        assert hla_dr_percent_positive(abc) == pytest.approx(100 * share, abs=1e-6)


def test_monotone_bounded_saturating_and_invertible():
    abc = np.geomspace(100.0, 200_000.0, 400)
    pct = hla_dr_percent_positive(abc)
    assert np.all(np.diff(pct) > 0) and pct[0] > 0 and pct[-1] < 100
    assert pct[-1] > 99.9 and pct[0] < 0.1  # saturates at both ends
    np.testing.assert_allclose(abc_from_percent_positive(pct), abc, rtol=1e-9)
    assert np.isnan(hla_dr_percent_positive(np.nan)) and np.isnan(hla_dr_mfi(np.nan))
    # the immunoparalysis cut-offs keep their order on the % scale: 5,000 < 8,000 < 15,000 AB/C
    assert hla_dr_percent_positive(5000) < hla_dr_percent_positive(8000) < hla_dr_percent_positive(15000)


def test_constants_follow_the_anchors():
    moved = dict(HLA_DR_ANCHORS, health=(20000.0, 0.99))
    c = conversion_constants(moved)
    assert c.log_sd < HLA_DR_CONVERSION.log_sd  # sharper saturation -> narrower per-cell spread
    assert hla_dr_percent_positive(20000.0, c) == pytest.approx(99.0, abs=1e-9)
    assert hla_dr_percent_positive(2666.0, c) == pytest.approx(27.0, abs=1e-9)
