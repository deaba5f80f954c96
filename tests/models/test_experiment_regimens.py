"""The ImmunoSep study runs the regimens its description states: up to 15 days (IS-18)."""

import numpy as np

from sepsim.cli import compose_config
from sepsim.config import build_arms, validate
from sepsim.models.interventions import Anakinra, InterferonGamma


def test_immunosep_regimens_last_15_days():
    cfg = validate(compose_config(["experiment=immunosep"]))
    arms = dict(zip(cfg.arms.keys(), build_arms(cfg.arms), strict=True))
    anakinra, ifng = arms["anakinra"].arm, arms["ifn_gamma"].arm  # one therapy per arm: the labelled arm wraps it
    assert isinstance(anakinra, Anakinra) and isinstance(ifng, InterferonGamma)
    # anakinra 200 mg q8h: 45 doses, the last at 14 d 16 h; rhIFN-gamma q48h: days 0, 2, ..., 14
    times = np.asarray(anakinra.schedule().times)
    assert times.size == 45
    np.testing.assert_allclose(times.max(), 44 * 8.0)
    np.testing.assert_allclose(np.asarray(ifng.schedule().times), 48.0 * np.arange(8))
