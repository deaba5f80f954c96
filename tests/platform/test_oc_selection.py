"""adaptr's arm-selection strategies for trials without a superior arm (``extract_results(select_strategy=)``,
INCEPTdk/adaptr ``R/extract_results.R``), on hand-built trial results where the selected arm is known."""

import numpy as np
import pytest
import xarray as xr

from sepsim._errors import ConfigError
from sepsim.platform._operating.trials import SELECT_STRATEGIES, check_selection, operating_characteristics

NAN = np.nan
# Six trials of arms (arm0 = the design's control, arm1, arm2); one stratum; two looks (stop at look 1).
# decision codes: 0 none, 1 superior, 2 inferior, 3 futile, 4 equivalent; outcome: 0 max, 1 sup, 2 equiv, 3 futility
DECISION = [[0, 0, 1], [0, 0, 0], [2, 0, 0], [0, 4, 4], [0, 3, 3], [0, 4, 0]]
DECISION_LOOK = [[-1, -1, 1], [-1, -1, -1], [0, -1, -1], [-1, 1, 0], [-1, 1, 1], [-1, 0, -1]]
OUTCOME = [1, 0, 0, 2, 3, 0]
FINAL_CONTROL = [0, 0, 1, 0, 0, 0]  # trial 2: arm1 became the control, arm0 was dropped
P_BEST_LAST = [[0.1, 0.2, 0.7], [0.2, 0.5, 0.3], [NAN, 0.3, 0.7], [0.6, 0.4, NAN], [0.5, 0.3, 0.2], [0.3, 0.6, 0.1]]
# trial 0: superior arm2 always; 1: nothing decided; 2: control dropped; 3: equivalence at look 1 (arm1 at the final
# look, arm2 earlier, so only arm0 and arm1 remain); 4: futility (only the control remains); 5: arm1 dropped earlier
# for equivalence (arm0 and arm2 remain). Expected selection per trial (3 = none), preferences [arm2, arm1]:
EXPECTED = {
    "none": [2, 3, 3, 3, 3, 3],
    "control if available": [2, 0, 3, 0, 0, 0],
    "control": [2, 0, 3, 0, 0, 0],
    "final control": [2, 0, 1, 0, 0, 0],
    "control or best": [2, 0, 2, 0, 0, 0],
    "best": [2, 1, 2, 0, 0, 0],
    "list": [2, 2, 2, 1, 3, 2],
    "list or best": [2, 2, 2, 1, 0, 2],
}


def results(control="arm0"):
    t_n, a_n, l_n = 6, 3, 2
    dec = np.asarray(DECISION)[:, :, None]
    n = np.full((t_n, l_n, a_n, 1), 10)
    p_best = np.full((t_n, l_n, a_n), 0.25)
    p_best[:, 1] = P_BEST_LAST  # the stop look
    d4, d3 = ("trial", "look", "arm", "stratum"), ("trial", "arm", "stratum")
    return xr.Dataset(
        {
            "look_n": (("look",), np.array([20, 40])),
            "n": (d4, n),
            "events": (d4, 0.25 * n),
            "alloc_prob": (d4, np.full(n.shape, 1 / 3)),
            "p_best": (("trial", "look", "arm"), p_best),
            "arm_decision": (d3, dec),
            "decision_look": (d3, np.asarray(DECISION_LOOK)[:, :, None]),
            "trial_stop_look": (("trial",), np.full(t_n, 1)),
            "trial_outcome": (("trial",), np.asarray(OUTCOME)),
            "final_control": (("trial",), np.asarray(FINAL_CONTROL)),
            "estimate": (d3, np.full(dec.shape, 0.25)),
            "n_total": (("trial",), np.full(t_n, 30)),
            "events_total": (("trial",), np.full(t_n, 7.5)),
            "true_mean": (("arm", "stratum"), np.array([[0.3], [0.25], [0.2]])),
        },
        coords={"arm": ["arm0", "arm1", "arm2"], "stratum": ["all"], "look": [0, 1], "trial": np.arange(t_n)},
        attrs={"higher_is_better": 0, "control_arm": control, "design": "{}", "seed": 0},
    )


@pytest.mark.parametrize("strategy", SELECT_STRATEGIES)
def test_selected_arm_matches_adaptr_semantics(strategy):
    prefs = ["arm2", "arm1"] if strategy.startswith("list") else None
    oc = operating_characteristics(results(), select_strategy=strategy, select_preferences=prefs, n_boot=100)
    expected = np.bincount(EXPECTED[strategy], minlength=4) / 6
    np.testing.assert_allclose(oc["p_select"].sel(stat="estimate").values[0], expected, atol=1e-15)
    assert oc.attrs["select_strategy"] == strategy


def test_ties_in_p_best_select_the_first_listed_arm():
    res = results()
    res["p_best"][1, 1] = [0.2, 0.4, 0.4]  # trial 1: arm1 and arm2 tie (R's which.max takes the first)
    oc = operating_characteristics(res, select_strategy="best", n_boot=100)
    np.testing.assert_allclose(oc["p_select"].sel(stat="estimate").values[0], np.array([3, 1, 2, 0]) / 6)


@pytest.mark.parametrize(
    ("strategy", "prefs", "control", "key"),
    [
        ("worst", None, "arm0", "select_strategy"),
        ("control", None, None, "select_strategy"),  # needs a common control (as adaptr)
        ("final control", None, None, "select_strategy"),
        ("control or best", None, None, "select_strategy"),
        ("list", None, "arm0", "select_preferences"),  # the list strategies need a list
        ("list or best", ["arm9"], "arm0", "select_preferences"),
        ("list", ["arm1", "arm1"], "arm0", "select_preferences"),
        ("best", ["arm1"], "arm0", "select_preferences"),  # a list that would be ignored
    ],
)
def test_bad_selection_names_the_key(strategy, prefs, control, key):
    with pytest.raises(ConfigError) as info:
        check_selection(strategy, prefs, ["arm0", "arm1", "arm2"], control)
    assert info.value.key == key


def test_no_control_design_refuses_control_strategies_in_operating_characteristics():
    with pytest.raises(ConfigError) as info:
        operating_characteristics(results(control=""), select_strategy="control", n_boot=100)
    assert info.value.key == "select_strategy"


def test_config_key_is_validated_and_closed():
    from sepsim.cli import compose_config
    from sepsim.config import validate

    ok = validate(compose_config(["experiment=adaptr", "selection.strategy=best", "runtime.cache=false"]))
    assert ok.selection.strategy == "best" and list(ok.selection.preferences) == []
    for override, key in (
        ("selection.strategy=worst", "selection.strategy"),
        ("selection.strategy=control", "selection.strategy"),  # the adaptr design has no common control
        ("selection.preferences=[A]", "selection.preferences"),  # only for the list strategies
    ):
        with pytest.raises(ConfigError) as info:
            validate(compose_config(["experiment=adaptr", override, "runtime.cache=false"]))
        assert info.value.key == key
    with pytest.raises(Exception, match="unknown_key"):  # closed schema: hydra refuses unknown keys
        validate(compose_config(["experiment=adaptr", "+selection.unknown_key=1"]))
