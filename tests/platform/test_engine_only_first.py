"""adaptr's ``equivalence_only_first`` / ``futility_only_first``: hand-built posterior probabilities fed to the
stopping step (INCEPTdk/adaptr ``R/run_trial.R``: the checks are switched off when a new control is declared)."""

import jax.numpy as jnp
import numpy as np
import pytest

from sepsim._errors import ConfigError
from sepsim._keys import stage_key
from sepsim.platform import binary_scenario, design_from_dict, run_trials
from sepsim.platform._decisions.decide import UnitState, decide_unit
from sepsim.platform._design.plan import make_plan

ARMS = ["ctrl", "A", "B"]


class _Stub:
    """P(better), P(equivalent), P(futile) of each arm against each possible control: rows = control."""

    def p_best(self, ctx, active):
        return jnp.where(active, 1.0 / jnp.maximum(jnp.sum(active), 1).astype(jnp.float64), 0.0)

    def vs_control(self, ctx, active, control):
        return ctx["pb"][control], ctx["pe"][control], ctx["pf"][control]


def _design(**stopping):
    st = dict(superiority=0.99, inferiority=0.01, equivalence_prob=0.9, equivalence_margin=0.05)
    st.update(futility_prob=0.9, futility_margin=0.0)
    st.update(stopping)
    return design_from_dict(dict(arms=ARMS, control="ctrl", look_n=[100, 200], stopping=st))


def _decide(design, ctx, control=0):
    out = binary_scenario([0.3, 0.3, 0.3], 1000, key=stage_key(0, "cohort"), arms=ARMS)
    plan = make_plan(design, out)
    st = UnitState(
        decision=jnp.zeros(3, jnp.int32),
        decision_look=jnp.full(3, -1, jnp.int32),
        control=jnp.asarray(control, jnp.int32),
        stopped=jnp.asarray(False),
        outcome=jnp.asarray(0, jnp.int32),
        superior=jnp.asarray(-1, jnp.int32),
        stop_look=jnp.asarray(1, jnp.int32),
    )
    active = jnp.asarray([True, True, True]) if control == 0 else jnp.asarray([False, True, True])
    thr = {
        k: jnp.asarray(v)
        for k, v in dict(superiority=0.99, inferiority=0.01, equivalence_prob=0.9, futility_prob=0.9).items()
    }
    ctx = {k: jnp.asarray(v, dtype=jnp.float64) for k, v in ctx.items()}
    new, act, _, _ = decide_unit(plan, _Stub(), ctx, active, st, jnp.asarray(0, jnp.int32), thr)
    return np.asarray(new.decision), np.asarray(act), int(new.outcome), int(new.control)


# A beats the original control (P(better) 0.999) and becomes the control; B is then equivalent to A (0.95) and
# futile against A (0.95). Against the original control B is neither.
_NAN = np.nan
CTX = dict(
    pb=[[_NAN, 0.999, 0.5], [0.0005, _NAN, 0.5], [0.5, 0.5, _NAN]],
    pe=[[_NAN, 0.0, 0.1], [0.0, _NAN, 0.95], [0.1, 0.95, _NAN]],
    pf=[[_NAN, 0.0, 0.1], [1.0, _NAN, 0.95], [0.9, 0.95, _NAN]],
)


def test_checks_against_new_control_by_default():
    dec, act, outcome, ctrl = _decide(_design(), CTX)
    assert ctrl == 1
    assert dec.tolist() == [2, 0, 4]  # old control dropped, B equivalent to A (A stays, as adaptr "active")
    assert outcome == 2  # stopped for equivalence


@pytest.mark.parametrize("which", ["equivalence", "futility", "both"])
def test_only_first_skips_checks_against_new_control(which):
    flags = dict(equivalence_only_first=which != "futility", futility_only_first=which != "equivalence")
    dec, act, outcome, ctrl = _decide(_design(**flags), CTX)
    assert ctrl == 1
    # equivalence only first: B not equivalent to A but futile against it (decision 3) -> futility stop;
    # futility only first: B still equivalent (4); both: B stays active and the trial goes on
    expect = {"equivalence": ([2, 0, 3], 3), "futility": ([2, 0, 4], 2), "both": ([2, 0, 0], 0)}[which]
    assert dec.tolist() == expect[0]
    assert outcome == expect[1]
    if which == "both":
        assert act.tolist() == [False, True, True]


def test_only_first_at_a_later_look_and_with_the_original_control():
    # control already changed at an earlier look: no equivalence/futility checks at all
    ctx = dict(CTX, pb=[[_NAN, 0.5, 0.5], [0.5, _NAN, 0.5], [0.5, 0.5, _NAN]])
    flags = dict(equivalence_only_first=True, futility_only_first=True)
    dec, act, outcome, _ = _decide(_design(**flags), ctx, control=1)
    assert dec.tolist() == [0, 0, 0] and outcome == 0
    dec, _, outcome, _ = _decide(_design(), ctx, control=1)
    assert dec.tolist() == [0, 0, 4] and outcome == 2
    # with the original control the checks run as usual
    ctx0 = dict(
        CTX,
        pb=[[_NAN, 0.5, 0.5], [0.5, _NAN, 0.5], [0.5, 0.5, _NAN]],
        pe=[[_NAN, 0.95, 0.1], [0.95, _NAN, 0.1], [0.1, 0.1, _NAN]],
        pf=[[_NAN, 0.0, 0.95], [0.0, _NAN, 0.0], [0.0, 0.0, _NAN]],
    )
    dec, _, outcome, _ = _decide(_design(**flags), ctx0)
    assert dec.tolist() == [0, 4, 3] and outcome == 3  # A equivalent, B futile: the control is left


def test_only_first_validation():
    with pytest.raises(ConfigError, match="design.stopping.equivalence_only_first"):
        design_from_dict(dict(arms=ARMS, look_n=[100], stopping=dict(equivalence_only_first=True)))
    with pytest.raises(ConfigError, match="design.stopping.futility_only_first"):
        design_from_dict(dict(arms=ARMS, control="ctrl", look_n=[100], stopping=dict(futility_only_first=True)))
    with pytest.raises(ConfigError, match="design.stopping.futility_only_first"):
        design_from_dict(dict(arms=ARMS, control="ctrl", look_n=[100], stopping=dict(futility_only_first="yes")))


@pytest.mark.slow
def test_only_first_in_the_engine():
    # A clearly better than the control: once it is the control, B (equal to A) could only stop for
    # equivalence against A; with equivalence_only_first it never does
    out = binary_scenario([0.5, 0.2, 0.2], 20_000, key=stage_key(3, "cohort"), arms=ARMS)
    base = dict(arms=ARMS, control="ctrl", look_n=[200, 400, 600, 800], higher_is_better=False)
    st = dict(superiority=0.99, inferiority=0.01, equivalence_prob=0.5, equivalence_margin=0.1)
    ds1 = run_trials(
        out, dict(base, stopping=dict(st, equivalence_only_first=True)), n_trials=60, key=stage_key(4, "trials")
    )
    new_ctrl = ds1.final_control.values != 0
    assert new_ctrl.sum() > 20
    dec1 = ds1.arm_decision.values[:, :, 0]
    assert not np.any((dec1 == 4) & new_ctrl[:, None])  # no equivalence once the control changed
    assert not np.any(ds1.trial_outcome.values[new_ctrl] == 2)
