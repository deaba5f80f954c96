"""The design_comparison study: designs composed from the run's design, bad entries named by key, and every cell
on the run's own patients and trial keys."""

from __future__ import annotations

import numpy as np
import pytest
from omegaconf import OmegaConf

from sepsim import stage_key
from sepsim._errors import ConfigError
from sepsim.cli import compose_config
from sepsim.config import validate
from sepsim.studies import study_settings
from sepsim.studies._design_comparison import compose_design, design_comparison_table


def test_compose_replaces_top_level_keys_and_sets_the_scenario():
    base = {"arms": ["p", "a"], "allocation": {"rule": "fixed", "block_factor": 2}, "look_n": [1, 2]}
    out = compose_design(base, {"allocation": {"rule": "thompson"}}, {"time_trend_logit": 1.0})
    assert out["allocation"] == {"rule": "thompson"} and out["look_n"] == [1, 2]
    assert out["scenario"] == {"time_trend_logit": 1.0} and base["allocation"]["block_factor"] == 2


def test_experiment_composes_and_bad_entries_are_named():
    cfg = validate(compose_config(["experiment=design_comparison"]))
    settings = study_settings(cfg)
    assert list(settings["designs"]) == ["fixed", "rar", "group_sequential"]
    assert list(settings["scenarios"]) == ["stable", "time_trend", "endotype_drift"]
    with pytest.raises(ConfigError, match=r"study\.designs\.rar: with scenario 'stable': design\.allocation\.rule"):
        validate(compose_config(["experiment=design_comparison", "study.designs.rar.allocation.rule=nosuch"]))
    with pytest.raises(ConfigError, match=r"study\.scenarios: must be a non-empty mapping"):
        validate(compose_config(["experiment=design_comparison", "study.scenarios.stable=5"]))


@pytest.mark.slow
def test_every_cell_runs_on_the_runs_patients_and_keys():
    from sepsim.platform import design_from_dict, outcomes_from_scenario, run_trials
    from sepsim.platform._operating.trials import operating_characteristics

    cfg = compose_config(["experiment=design_comparison", "design.look_n=[100,200]", "scenario.n_patients=3000"])
    base = OmegaConf.to_container(cfg.design, resolve=True)
    outcomes = outcomes_from_scenario(
        OmegaConf.to_container(cfg.scenario), design_from_dict(base), key=stage_key(1, "o")
    )
    table = design_comparison_table(
        outcomes, base, {"a": {}, "b": {}}, {"stable": {}, "trend": {"time_trend_logit": 2.0}}, n_trials=100, seed=4
    )
    same = table.sel(design="a") - table.sel(design="b")
    assert float(np.abs(same.to_array()).max()) == 0.0  # identical designs: identical trials
    direct = operating_characteristics(
        run_trials(outcomes, design_from_dict(base), n_trials=100, key=stage_key(4, "trials"))
    )
    assert float(table["p_superiority"].sel(design="a", scenario="stable")) == float(
        direct["p_superiority"].sel(stat="estimate")
    )
    assert float(table["sample_size_mean"].sel(design="a", scenario="trend")) > 0
