"""Two-sided Fisher exact test of 2x2 tables, vectorised over any batch shape (one p-value per simulated trial).

The two-sided p-value sums the hypergeometric probabilities of every table (same margins) no more likely than the
observed one, with scipy's relative tolerance ``1 + 1e-7`` (``scipy.stats.fisher_exact``, which it equals;
``tests/studies/test_studies_fisher.py``). It reproduces ImmunoSep's printed P values where chi-square does not
(IS-05: 46/131 vs 26/145 gives 0.0015, printed .002, chi-square .0012; IS-06 immunoparalysis: 34/106 vs 22/122
gives 0.020, printed .02, chi-square .014); IS-06 MALS (12/25 vs 4/23, printed .04) gives .034 (chi-square .025,
Yates .052): the trial's SAP test is not in ../shared/science, so this is the closest standard test [U].
"""

from __future__ import annotations

import numpy as np
from jaxtyping import Float, Int
from scipy.stats import hypergeom

__all__ = ["fisher_two_sided"]

_RELATIVE_TOLERANCE = 1.0 + 1e-7  # scipy.stats.fisher_exact


def fisher_two_sided(
    events_a: Int[np.ndarray, "*batch"],
    n_a: Int[np.ndarray, "*batch"],
    events_b: Int[np.ndarray, "*batch"],
    n_b: Int[np.ndarray, "*batch"],
) -> Float[np.ndarray, "*batch"]:
    """P-value of the two-sided Fisher exact test of ``events_a / n_a`` against ``events_b / n_b``.

    A table with an empty row or column (no patient in a group, or no or only events) has p = 1.
    """
    a, na, b, nb = (np.asarray(x, dtype=np.int64) for x in (events_a, n_a, events_b, n_b))
    a, na, b, nb = np.broadcast_arrays(a, na, b, nb)
    if np.any((a < 0) | (b < 0) | (a > na) | (b > nb)):
        raise ValueError("fisher_two_sided: events must lie in [0, n] in both groups")
    total, events = na + nb, a + b
    x = np.arange(int(na.max(initial=0)) + 1).reshape((-1,) + (1,) * na.ndim)  # every possible events_a
    with np.errstate(divide="ignore", invalid="ignore"):
        pmf = hypergeom.pmf(x, total, events, na)  # (support, *batch); 0 outside the support
        observed = hypergeom.pmf(a, total, events, na)
    p = np.where(pmf <= observed * _RELATIVE_TOLERANCE, pmf, 0.0).sum(axis=0)
    degenerate = (na == 0) | (nb == 0) | (events == 0) | (events == total)
    return np.where(degenerate, 1.0, np.minimum(p, 1.0))
