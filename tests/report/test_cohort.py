"""The virtual-cohort section: true rates per arm and stratum over its own arms, the pool note, the published
ImmunoSep numbers beside the simulated ones, and the figures."""

import numpy as np
import pytest

from sepsim.report._cohort import cohort_section, population_sentences, published_comparisons, true_rates


def test_true_rates_are_pool_means_over_own_arms(cohort):
    rates = true_rates(cohort)
    assert set(rates) == {"MALS", "immunoparalysis"}
    assert set(rates["MALS"]) == {"placebo", "anakinra"}  # ifn_gamma is not randomised in MALS
    sub = cohort.eligible.isel(patient=np.flatnonzero(cohort.eligible["endotype"].values == "MALS"))
    y = sub["responder"].sel(arm="anakinra").values.astype(float)
    assert rates["MALS"]["anakinra"].mean == pytest.approx(y.mean())
    assert rates["MALS"]["anakinra"].mcse == pytest.approx(y.std(ddof=1) / np.sqrt(y.size))


def test_small_pool_note_only_when_trials_share_patients(cohort, make_cohort):
    n_pool = cohort.eligible.sizes["patient"]
    assert "without replacement" in " ".join(population_sentences(cohort))
    big = make_cohort(max(1, n_pool // 6))
    assert "without replacement" not in " ".join(population_sentences(big))


def test_published_immunosep_numbers_beside_simulated(cohort):
    rows = {c.published.quantity: c for c in published_comparisons(cohort)}
    mals = rows["responder rate, MALS, anakinra"]
    assert mals.published.value == 12 / 25 and mals.simulated == true_rates(cohort)["MALS"]["anakinra"].mean
    share = rows["share of screened patients with MALS"]
    assert share.simulated == pytest.approx(np.mean(cohort.table["endotype"].values == "MALS"))
    assert "responder rate, MALS, ifn_gamma" not in rows


def test_cohort_section_writes_its_figures(cohort, tmp_path):
    body, figures, summary = cohort_section(cohort, tmp_path)
    assert set(figures) == {"cohort_endotypes", "cohort_survival", "cohort_trajectories"}
    for _title, path, caption in figures.values():
        assert path.read_bytes().startswith(b"\x89PNG")
        assert "bands:" in caption or "4420" in caption  # every caption says what its bands / lines mean
    assert "Published numbers" in body and "IS-06" in body
    assert summary["pool_per_stratum"] == {
        s: int(np.sum(cohort.eligible["endotype"].values == s)) for s in ("MALS", "immunoparalysis")
    }
