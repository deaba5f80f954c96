"""Trial replicates split over two forced host devices give the same per-trial results as one device (issue 14)."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = r"""
import json, jax
jax.config.update("jax_enable_x64", True)
import numpy as np
from sepsim import stage_key
from sepsim._keys import index_keys
from sepsim.platform import binary_scenario, design_from_dict, run_trials
from sepsim.platform._engine.run import make_trial_function

design = design_from_dict(dict(
    arms=["C", "A", "B"], control="C", look_n=[40, 80], higher_is_better=False,
    allocation=dict(rule="thompson", min_prob=0.15),
    stopping=dict(superiority=0.9, inferiority=0.1, futility_prob=0.8, futility_margin=0.05),
))
outcomes = binary_scenario([0.4, 0.25, 0.3], 2000, key=stage_key(3, "cohort"))
key = stage_key(4, "trials")
ds = run_trials(outcomes, design, n_trials=10, key=key, progress=False)  # one chunk of 10: 5 per device
fn, _ = make_trial_function(design, outcomes)
keys = index_keys(key, 0, 10)
sharded = fn(keys)  # the same compiled function as run_trials
one = fn(jax.device_put(keys, jax.devices()[0])[:9])  # 9 trials: not divisible by 2 -> one device
leaves = lambda r: jax.tree_util.tree_leaves(jax.device_get(r))
same = all(np.array_equal(a[:9], b, equal_nan=True) for a, b in zip(leaves(sharded), leaves(one), strict=True))
print(json.dumps(dict(
    devices=len(jax.devices()),
    sharded_devices=len(sharded["units"].outcome.sharding.device_set),
    single_devices=len(one["units"].outcome.sharding.device_set),
    same=bool(same),
    n_leaves=len(leaves(one)),
    outcome=ds.trial_outcome.values.tolist(),
    outcome_single=np.asarray(one["units"].outcome)[:, 0].tolist(),
    decisions=int(np.sum(ds.arm_decision.values != 0)),
)))
"""


def test_two_host_devices_give_the_single_device_results():
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2", JAX_PLATFORMS="cpu")
    out = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert r["devices"] == 2 and r["sharded_devices"] == 2 and r["single_devices"] == 1
    assert r["same"] and r["n_leaves"] > 10  # every per-look and per-trial array, bit for bit
    assert r["outcome"][:9] == r["outcome_single"]  # run_trials (sharded chunks) agrees too
    assert r["decisions"] > 0  # the trials decide something (the comparison is not of empty results)
