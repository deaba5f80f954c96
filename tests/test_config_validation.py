"""Bad input stops before any work, with one message naming the key and what is allowed (issue 2, item 5)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hydra.errors import HydraException
from omegaconf.errors import OmegaConfBaseException

from sepsim._errors import ConfigError
from sepsim.cli import compose_config, describe_error
from sepsim.config import validate

ROOT = Path(__file__).resolve().parents[1]


def _error_for(overrides: list[str]) -> str:
    """The message a bad override produces, whether hydra rejects it at composition or validation does."""
    try:
        validate(compose_config(overrides))
    except ConfigError as err:
        return str(err)
    except (HydraException, OmegaConfBaseException) as err:
        return describe_error(err)
    pytest.fail(f"{overrides} was accepted")


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (["foo=1"], "foo"),  # unknown key
        (["+foo=1"], "foo"),  # unknown key, even when forced in
        (["scenario.ratez=[0.1]"], "ratez"),  # unknown key in a group
        (["n_trials=abc"], "n_trials"),  # wrong type
        (["n_trials=-5"], "n_trials: must be a positive integer"),  # impossible value
        (["seed=-1"], "seed: must be an integer in [0, 2**63 - 1"),
        (["experiment=adaptr", "scenario.rates=[0.2,1.5,0.3]"], "scenario.rates[1]: must be a probability in [0, 1]"),
        (["experiment=adaptr", "scenario.rates=[0.2,0.3]"], "scenario.rates: needs one rate per design arm (3)"),
        (
            ["experiment=adaptr", "+scenario.stratum_shares.a=0.5", "+scenario.stratum_shares.b=0.6"],
            "scenario.stratum_shares: must sum to 1",
        ),
        (["outcomes=simulated"], "outcomes: must be one of scenario, mechanistic"),
        (["runtime.progress=fancy"], "runtime.progress: must be one of auto, bar, log"),
        (["runtime.chunk_size=0"], "runtime.chunk_size: must be a positive integer"),
        (
            ["outcomes=mechanistic", "+arms.placebo={}", "population.source=data", "population.data_file=/no/x.csv"],
            "population.data_file: file not found: /no/x.csv",
        ),
        (["experiment=no_such_study"], "no_such_study"),
        (["outcomes=mechanistic", "+arms.placebo={}", "population.days=5"], "population.days: must be an integer"),
        (["design.look_n=[400,300,2000]"], "design.look_n: must be a non-empty list of strictly increasing"),
        (["+design.stoping={superiority:0.9}"], "design.stoping: unknown key"),
        (
            ["experiment=adaptr", "design.allocation.min_prob=0.5"],
            "design.allocation.min_prob: min_prob * n_arms must be <= 1",
        ),
    ],
)
def test_bad_input_is_named(overrides, expected):
    assert expected in _error_for(overrides)


def test_defaults_are_valid():
    cfg = validate(compose_config([]))
    assert cfg.n_trials > 0


def _cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("sepsim")
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    return subprocess.run([str(exe), *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=120)


def test_cli_refuses_before_any_work_and_writes_nothing(tmp_path: Path):
    out = _cli(["n_trials=-5"], tmp_path)
    assert out.returncode == 2
    assert "n_trials: must be a positive integer" in out.stderr
    assert list(tmp_path.iterdir()) == []  # no run directory, no cache, nothing written


def test_unknown_arm_key_is_named():
    msg = _error_for(["outcomes=mechanistic", "+arms.anakinra={therapy:[anakinra]}"])
    assert "arms.anakinra" in msg and "therapy" in msg


def test_unknown_therapy_is_named_with_its_arm():
    msg = _error_for(["outcomes=mechanistic", "+arms.a={therapies:[aspirin]}"])
    assert msg.startswith("arms.a.therapies[0].name") and "aspirin" in msg and "anakinra" in msg  # lists allowed


THERAPIES = sorted(p.stem for p in (ROOT / "conf" / "therapy").glob("*.yaml"))
ADSORBERS = sorted(p.stem for p in (ROOT / "conf" / "adsorber").glob("*.yaml"))


def test_every_therapy_and_adsorber_option_builds_an_arm():
    """Each `therapy=` and `adsorber=` choice is a valid arm (validation builds it through the interventions)."""
    assert len(THERAPIES) >= 13 and len(ADSORBERS) >= 8
    for choice in [f"therapy={t}" for t in THERAPIES] + [f"adsorber={a}" for a in ADSORBERS]:
        cfg = validate(compose_config(["experiment=add_on", choice]))
        assert cfg.arms.active is not None


def test_device_setting_is_checked_by_key():
    msg = _error_for(["experiment=add_on", "adsorber=cytosorb", "adsorber.device.qb_ml_min=-5"])
    assert msg.startswith("arms.active.adsorber.qb_ml_min")
