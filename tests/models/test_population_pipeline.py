"""The population stage of the pipeline refuses what it cannot honour before any work."""

from pathlib import Path

import jax
import numpy as np
import pytest

from sepsim._errors import ConfigError
from sepsim.cli import compose_config
from sepsim.config import validate
from sepsim.models._cohort import CohortConfig, simulate_cohort
from sepsim.models.population import latent_space
from sepsim.models.population.fit_data import DATA_FITTED, DataFitResult
from sepsim.models.population.fit_data._synthetic import synthetic_dir
from sepsim.pipeline import _fit_data, run_pipeline


def _cfg(*overrides):
    return validate(compose_config(["experiment=immunosep", "n_trials=2", "population.n_patients=300", *overrides]))


def test_bad_data_file_is_refused_before_any_work_naming_row_and_column(tmp_path):
    d = synthetic_dir()
    (tmp_path / "patients.csv").write_text((d / "patients.csv").read_text().replace("S02,76.8", "S02,-76.8"))
    (tmp_path / "measurements.csv").write_text((d / "measurements.csv").read_text())
    overrides = ["experiment=immunosep", "n_trials=2", "population.n_patients=300", "population.source=data"]
    cfg = compose_config([*overrides, f"population.data_file={tmp_path / 'patients.csv'}"])
    with pytest.raises(ConfigError, match="population.data_file: .*patients.csv, row 3, column 'age'"):
        validate(cfg)  # the CLI's preflight refuses it before hydra makes a run directory
    with pytest.raises(ConfigError, match="population.data_file"):
        run_pipeline(cfg, tmp_path / "run")  # and so does the Python entry
    assert not (tmp_path / "run").exists()


class _FakeMCMC:
    """Stands in for a finished Fit 2 sampler: known draws of the fitted hyper-parameters."""

    def __init__(self, mu, sd, n_patients):
        rng = np.random.default_rng(0)
        self.s = {
            "mu_fit": np.broadcast_to(mu, (2, 50, 2)) + 1e-3 * rng.standard_normal((2, 50, 2)),
            "sd_fit": np.broadcast_to(sd, (2, 50, 2)).copy(),
            "theta": np.broadcast_to(mu, (2, 50, n_patients, 2)).copy(),
        }

    def get_samples(self, group_by_chain=True):
        return self.s

    def get_extra_fields(self, group_by_chain=True):
        return {"diverging": np.zeros((2, 50), bool), "num_steps": np.full((2, 50), 7)}


@pytest.mark.filterwarnings("ignore:invalid value encountered")  # R-hat of the stand-in's constant sd draws
def test_data_source_draws_the_cohort_from_the_fit_2_posterior(tmp_path, monkeypatch):
    """source=data: the pipeline fits the data (here a stand-in sampler with known draws, written through the real
    InferenceData and posterior file) and the cohort's fitted parameters follow that posterior, the others their
    prior population."""
    from sepsim.models.population.fit_data import _entry

    space = latent_space()
    idx = [space.names.index(n) for n in DATA_FITTED]
    mu, sd = space.centre[idx] + np.array([1.0, -1.0]) * space.scale[idx], 0.1 * space.scale[idx]

    def fake_run(obs, config):
        return DataFitResult(config, obs, _FakeMCMC(mu, sd, obs.n_patients), 0.0)

    monkeypatch.setattr(_entry, "run_data_fit", fake_run)
    patients = synthetic_dir() / "patients.csv"
    cfg = _cfg("population.source=data", f"population.data_file={patients}", "runtime.cache=false")
    out = _fit_data(cfg, tmp_path)
    assert out.population.source == "posterior" and Path(out.population.posterior_file).is_file()
    pop = out.population
    cohort = simulate_cohort(
        400,
        key=jax.random.key(1),
        config=CohortConfig(source=pop.source, posterior_file=pop.posterior_file, inclusion=pop.inclusion),
    )
    for j, name in enumerate(DATA_FITTED):
        log_x = np.log(cohort[name].values)
        # 400 patients: the sample median's sd is ~1.25 sd / sqrt(400) = 0.06 sd (0.25 sd: 4 of them; the draws'
        # mu jitter is 1e-3); the sample sd's relative sd is 1 / sqrt(800) = 0.035 (0.15: 4 of them)
        assert abs(np.median(log_x) - mu[j]) < 0.25 * sd[j] + 0.005, name
        assert 0.85 < np.std(log_x) / sd[j] < 1.15, name
    h0 = space.names.index("h0")
    assert abs(np.median(np.log(cohort["h0"].values)) - space.centre[h0]) < 0.25 * space.scale[h0]


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
