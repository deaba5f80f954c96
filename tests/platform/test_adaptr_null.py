"""Reproduce adaptr's published null-scenario calibration (trial_oracles.md; INCEPTdk/adaptr README).

Design: arms A, B, C with true event rates 0.25 (undesirable outcome), no common control, RAR proportional to
P(best) with minimum allocation 0.2, Beta(1, 1) priors, analyses when 300, 400, ..., 2000 patients have outcome data
while 400, 500, ..., 2000, 2000 are randomised (the README's ``randomised_at_looks``), equivalence stopping at
P(all within 0.05) > 0.9, superiority s = 0.9814318 and inferiority 1 - s.

Published (1000 simulations): P(superiority) 0.048, P(equivalence) 0.381, mean sample size 1749.6 (SE 11.36).
Tolerance: 3 combined Monte-Carlo standard errors (ours plus the published estimate's own).
"""

import math
from pathlib import Path

import numpy as np
import pytest
import yaml

from sepsim import stage_key
from sepsim.platform import binary_scenario, calibrate_threshold, run_trials
from sepsim.platform._engine.run import make_trial_function

ORACLE = yaml.safe_load((Path(__file__).resolve().parents[1] / "oracles" / "adaptr_null.yaml").read_text())
PUB = ORACLE["published"]
_D = ORACLE["design"]
S = _D["superiority_threshold"]
_LOOKS, _RAND = _D["looks_with_outcome"], _D["randomised_at_looks"]
ADAPTR = dict(
    arms=_D["arms"],
    look_n=list(range(_LOOKS["from"], _LOOKS["to"] + 1, _LOOKS["by"])),
    higher_is_better=False,
    allocation=dict(rule="thompson", min_prob=_D["min_allocation"]),
    stopping=dict(
        superiority=S,
        inferiority=1 - S,
        equivalence_prob=_D["equivalence"]["probability"],
        equivalence_margin=_D["equivalence"]["margin"],
    ),
    enrolment=dict(randomised_n=list(range(_RAND["from"], _RAND["to"] + 1, _RAND["by"])) + _RAND["then"]),
)
PUBLISHED_N = PUB["n_simulations"]


def _null(seed=11):
    return binary_scenario(_D["true_event_rates"], 50_000, key=stage_key(seed, "cohort"))


def _check_prob(ours, n_ours, published, name):
    se = math.sqrt(published * (1 - published) / PUBLISHED_N + ours * (1 - ours) / n_ours)
    assert abs(ours - published) < 3 * se, f"{name}: ours {ours:.4f} vs published {published} (3 SE = {3 * se:.4f})"


def _check_published(ds):
    n = ds.sizes["trial"]
    out = ds.trial_outcome.values
    _check_prob(float(np.mean(out == 1)), n, PUB["prob_superiority"], "P(superiority)")
    _check_prob(float(np.mean(out == 2)), n, PUB["prob_equivalence"], "P(equivalence)")
    size = ds.n_total.values
    se = math.sqrt(PUB["mean_sample_size_se"] ** 2 + size.var() / n)
    assert abs(size.mean() - PUB["mean_sample_size"]) < 3 * se
    assert size.min() >= 400 and size.max() == 2000


def test_adaptr_null_quadrature():
    ds = run_trials(_null(), ADAPTR, n_trials=3000, key=stage_key(1, "trials"))
    _check_published(ds)
    # adaptr semantics: superiority in a no-control design means one arm is left or P(best) > s
    sup = ds.trial_outcome.values == 1
    assert np.all(ds.superior_arm.values[sup] >= 0) and np.all(ds.superior_arm.values[~sup] == -1)


def test_thresholds_do_not_recompile():
    from sepsim._keys import index_keys
    from sepsim.platform import design_from_dict

    fn, _ = make_trial_function(design_from_dict(ADAPTR), _null())
    keys = index_keys(stage_key(2, "trials"), 0, 64)
    a = fn(keys, {"superiority": 0.95, "inferiority": 0.05})["units"].outcome
    before = fn.traces[0]
    b = fn(keys, {"superiority": 0.999, "inferiority": 0.001})["units"].outcome
    assert fn.traces[0] == before
    # a stricter threshold never adds superiority stops on the same trials (common random numbers)
    assert np.sum(np.asarray(b) == 1) <= np.sum(np.asarray(a) == 1)


@pytest.mark.slow
def test_adaptr_null_draws_like_adaptr():
    """The same with adaptr's own method (5000 posterior draws per arm per look)."""
    design = dict(ADAPTR, analysis=dict(method="draws", n_draws=5000))
    ds = run_trials(_null(), design, n_trials=1000, key=stage_key(3, "trials"))
    _check_published(ds)


@pytest.mark.slow
def test_adaptr_null_large():
    ds = run_trials(_null(), ADAPTR, n_trials=20000, key=stage_key(4, "trials"))
    _check_published(ds)


@pytest.mark.slow
def test_calibration_reproduces_threshold():
    res = calibrate_threshold(_null(), ADAPTR, n_trials=4000, key=stage_key(5, "trials"), target=0.05, tol=1e-5)
    assert res.probability <= 0.05
    # bisection bracket: just below the threshold the rate exceeds the target
    below = [p for s, p in res.history if s < res.threshold]
    assert below and max(below) > 0.05
    # the published threshold lies within the calibration's Monte-Carlo spread: P(sup) there is near 0.05
    ds = run_trials(_null(), ADAPTR, n_trials=4000, key=stage_key(5, "trials"))
    _check_prob(float(np.mean(ds.trial_outcome.values == 1)), 4000, PUB["prob_superiority"], f"P(superiority) at {S}")
    assert 0.97 < res.threshold < 0.995


def test_calibration_small():
    res = calibrate_threshold(_null(), ADAPTR, n_trials=500, key=stage_key(6, "trials"), target=0.05, tol=1e-3)
    assert res.probability <= 0.05
    assert len(res.history) >= 3
    ps = [p for _, p in sorted(res.history)]
    assert all(b <= a + 1e-12 for a, b in zip(ps, ps[1:], strict=False))  # non-increasing in the threshold (CRN)
