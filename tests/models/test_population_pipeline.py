"""The population stage of the pipeline refuses what it cannot honour before any work."""

import pytest

from sepsim._errors import ConfigError
from sepsim.cli import compose_config
from sepsim.config import validate
from sepsim.pipeline import run_pipeline


def _cfg(*overrides):
    return validate(compose_config(["experiment=immunosep", "n_trials=2", "population.n_patients=300", *overrides]))


def test_data_source_is_refused_before_any_work(tmp_path):
    data = tmp_path / "patients.csv"
    data.write_text("patient_id\n")
    overrides = ["experiment=immunosep", "n_trials=2", "population.n_patients=10", "population.source=data"]
    cfg = compose_config([*overrides, f"population.data_file={data}"])
    with pytest.raises(ConfigError, match="population.source: 'data'"):
        validate(cfg)  # the CLI's preflight refuses it before hydra makes a run directory
    with pytest.raises(ConfigError, match="population.source: 'data'"):
        run_pipeline(cfg, tmp_path / "run")  # and so does the Python entry
    assert not (tmp_path / "run").exists()


def test_missing_posterior_is_refused_before_any_work(tmp_path):
    cfg = _cfg("population=immunosep", f"population.posterior_file={tmp_path / 'none.nc'}")
    with pytest.raises(ConfigError, match="population.posterior_file: file not found"):
        run_pipeline(cfg, tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_population_configs_compose_with_their_inclusion_criteria():
    assert _cfg("population=septic_shock").population.inclusion == {"infection_site": [0, 1, 2, 3], "shock": [1]}
    assert _cfg("population=prior").population.source == "prior"
    with pytest.raises(ConfigError, match="population.source"):
        _cfg("population.source=oracle")
