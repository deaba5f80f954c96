"""Simulation-based calibration: the rank-ECDF band machinery (fast) and Fit 1's SBC run (slow)."""

import numpy as np
import pytest
from scipy import stats

from sepsim.models.population.sbc import ecdf_band, rank_counts, sbc_verdict, tail_probability

N, L = 200, 100  # the Fit 1 SBC size: 200 replicates, 100 draws


def test_rank_counts_and_tail_against_direct_counts():
    rng = np.random.default_rng(3)
    r = rng.integers(0, L + 1, size=(N, 2))
    c = rank_counts(r, L)
    assert c.shape == (2, L)
    for k in (1, 37, L):
        assert c[1, k - 1] == (r[:, 1] < k).sum()
    # two-sided tail at the binomial mean is 1; far in a tail it matches scipy
    assert tail_probability(np.array([N // 2]), N, 1)[0] == 1.0
    assert np.isclose(tail_probability(np.array([70]), N, 1)[0], 2 * stats.binom.cdf(70, N, 0.5))
    with pytest.raises(ValueError, match="0..100"):
        rank_counts(r + 1, L)


def test_band_false_alarm_rate_within_monte_carlo_error():
    """On fresh uniform rank sets the band is left at rate alpha (+- 4 binomial SE of the check, 3,000 sets).

    The band's own quantile (4,000 sims) adds sd ~ sqrt(0.1 * 0.9 / 4000) = 0.005; the check's SE is 0.0055."""
    alpha, sims = 0.1, 3000
    band = ecdf_band(N, L, alpha, sims=4000, seed=1)
    assert np.all(band.lower <= np.arange(1, L + 1) / (L + 1) * N)
    assert np.all(band.upper >= np.arange(1, L + 1) / (L + 1) * N)
    rng = np.random.default_rng(2)
    r = rng.integers(0, L + 1, size=(N, sims))
    c = rank_counts(r, L)
    out = np.any((c < band.lower) | (c > band.upper), axis=1)
    se = np.sqrt(alpha * (1 - alpha) / sims + alpha * (1 - alpha) / 4000)
    assert abs(out.mean() - alpha) < 4 * se, out.mean()
    # simultaneous is wider than pointwise: gamma well below alpha
    assert band.gamma < alpha / 5


def test_verdict_passes_uniform_and_fails_biased_and_overconfident_ranks():
    rng = np.random.default_rng(5)
    uniform = rng.integers(0, L + 1, size=(N, 8))
    v = sbc_verdict(uniform, L, 0.05, sims=20000)
    assert v.passed, v.min_tail
    # posterior shifted: true value tends to sit high among the draws (ranks ~ Beta(1.6, 1) on 0..L)
    biased = uniform.copy()
    biased[:, 3] = np.floor(rng.beta(1.6, 1.0, N) * (L + 1)).astype(int)
    v = sbc_verdict(biased, L, 0.05, sims=20000)
    assert not v.passed and not v.inside[3] and v.inside[[0, 1, 2, 4, 5, 6, 7]].all()
    # posterior too narrow: the truth often outside all draws (U-shaped ranks)
    over = uniform.copy()
    u = rng.beta(0.6, 0.6, N)
    over[:, 0] = np.floor(u * (L + 1)).astype(int)
    assert not sbc_verdict(over, L, 0.05, sims=20000).inside[0]


@pytest.mark.slow
def test_fit1_sbc_rank_ecdf_inside_simultaneous_bands():
    """Fit 1 SBC at its reduced configuration (200 replicates; README_population.md, "Simulation-based calibration").

    Fails when any mean shift's rank ECDF leaves its band (family-wise false-alarm rate 5%, Bonferroni over 8)."""
    import jax

    jax.config.update("jax_enable_x64", True)
    from sepsim.models.population.fit import Fit1SbcConfig, run_fit1_sbc

    res = run_fit1_sbc(Fit1SbcConfig())
    assert res.ranks.shape == (200, 8)
    assert res.divergences.sum() == 0
    assert res.verdict.passed, dict(zip(res.names, res.verdict.min_tail, strict=True))
