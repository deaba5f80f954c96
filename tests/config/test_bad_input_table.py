"""The bad-input table (issue 13): every kind of bad input is refused before any work with one message that names
the key (or file) and what is allowed, and nothing is written.

``cli`` rows go through :func:`sepsim.config.preflight`, the exact check the ``sepsim`` command runs before hydra
makes a directory (a few rows also run the real command, below); ``collect`` rows run ``sepsim-collect`` in-process
on a small fabricated sweep; ``api`` rows call the Python API. Each row: (arguments, key, allowed) where ``allowed``
are substrings the message must hold (the options, the range, the closest match).
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sepsim._errors import ConfigError, DataFileError
from sepsim.cli import CONF_DIR
from sepsim.config import preflight, validate

IMMUNO = ["experiment=immunosep"]
ADD_ON = ["experiment=add_on"]
PARAMETRIC = ["experiment=adaptr"]  # the parametric base (bare `sepsim` runs the mechanistic immunosep study)

# (id, argv, key, allowed substrings)
CLI_CASES = [
    # top level
    ("typo_top_key", ["n_trails=5"], "n_trails", ["n_trials", "did you mean 'n_trials'"]),
    ("plus_unknown_top", ["+foo=1"], "foo", ["n_trials", "seed"]),
    ("n_trials_type", ["n_trials=abc"], "n_trials", ["Integer"]),
    ("n_trials_negative", ["n_trials=-5"], "n_trials", ["positive integer"]),
    ("n_trials_zero", ["n_trials=0"], "n_trials", ["positive integer"]),
    ("n_trials_absurd", ["n_trials=100000000000"], "n_trials", ["runtime.allow_large=true", "1e+10"]),
    ("seed_negative", ["seed=-1"], "seed", ["[0, 2**63 - 1"]),
    ("seed_beyond_64_bits", ["seed=100000000000000000000000"], "seed", ["[0, 2**63 - 1"]),
    ("seed_float", ["seed=1.5"], "seed", ["Integer"]),
    ("outcomes_unknown", ["outcomes=simulated"], "outcomes", ["scenario, mechanistic"]),
    ("name_traversal", ["name=../../somewhere"], "name", ["one directory name", "no '/' or '..'"]),
    ("name_empty", ["name="], "name", ["one directory name"]),
    ("name_slash", ["name=a/b"], "name", ["one directory name"]),
    ("name_hidden", ["name=.hidden"], "name", ["not starting with ."]),
    # config groups: missing options list what exists
    ("experiment_missing", ["experiment=no_such_study"], "experiment", ["adaptr", "immunosep", "ordinal_platform"]),
    ("scenario_missing", ["scenario=nosuch"], "scenario", ["adaptr_null", "immunosep_alt"]),
    ("design_missing", ["design=nosuch"], "design", ["adaptr_3arm", "two_arm"]),
    ("therapy_missing", ["therapy=aspirin"], "therapy", ["anakinra", "gm_csf"]),
    ("therapy_typo", ["therapy=anakinara"], "therapy", ["did you mean 'anakinra'"]),
    ("adsorber_missing", ["adsorber=nosuch"], "adsorber", ["cytosorb", "oxiris"]),
    ("endpoint_missing", ["endpoint=nosuch"], "endpoint", ["death28", "responder"]),
    ("population_missing", ["population=nosuch"], "population", ["prior"]),
    ("launcher_missing", ["-m", "hydra/launcher=nosuch", "seed=1,2"], "hydra/launcher", ["basic", "submitit_local"]),
    # scenario group
    ("scenario_plus_key", ["+scenario.drift=0.5"], "scenario.drift", ["rates", "n_patients"]),
    ("scenario_options", ["+scenario.options.drift=0.5"], "scenario.options", ["rates", "stratum_shares"]),
    ("scenario_typo", ["scenario.ratez=[0.1]"], "scenario.ratez", ["did you mean 'rates'"]),
    ("scenario_rate_range", [*PARAMETRIC, "scenario.rates=[0.2,1.5,0.3]"], "scenario.rates[1]", ["[0, 1]"]),
    (
        "scenario_rate_count",
        [*PARAMETRIC, "scenario.rates=[0.2,0.3]"],
        "scenario.rates",
        ["one rate per design arm (3)"],
    ),
    ("scenario_kind", [*PARAMETRIC, "scenario.kind=poisson"], "scenario.kind", ["binary, ordinal, factorial"]),
    ("scenario_pool_small", [*PARAMETRIC, "scenario.n_patients=5"], "scenario.n_patients", ["at least 2000"]),
    ("scenario_pool_zero", [*PARAMETRIC, "scenario.n_patients=0"], "scenario.n_patients", ["positive integer"]),
    (
        "scenario_shares_sum",
        [*PARAMETRIC, "+scenario.stratum_shares.a=0.5", "+scenario.stratum_shares.b=0.6"],
        "scenario.stratum_shares",
        ["must sum to 1"],
    ),
    # population group
    ("population_plus_key", ["+population.n_patient=50"], "population.n_patient", ["did you mean 'n_patients'"]),
    ("population_options", ["+population.options.foo=1"], "population.options.foo", ["fixed", "screening_window_h"]),
    ("population_days", [*IMMUNO, "population.days=5"], "population.days", ["[10, 365]"]),
    ("population_source", [*IMMUNO, "population.source=web"], "population.source", ["prior, posterior, data"]),
    (
        "population_daily_states_unknown",
        [*IMMUNO, "population.daily_states=[hla_dr,ferritin,il7]"],
        "population.daily_states",
        ["unknown state(s) ['il7']", "'il6'"],
    ),
    ("population_daily_states_word", [*IMMUNO, "population.daily_states=some"], "population.daily_states", ['"all"']),
    ("population_daily_states_number", [*IMMUNO, "population.daily_states=5"], "population.daily_states", ['"all"']),
    (
        "population_daily_states_study",
        [*IMMUNO, "population.daily_states=[il6]"],
        "population.daily_states",
        ["study immunosep reads the daily states ['hla_dr', 'ferritin']", "['hla_dr', 'ferritin']"],
    ),
    ("population_pool_small", [*IMMUNO, "population.n_patients=10"], "population.n_patients", ["at least 280"]),
    (
        "population_fixed_unknown",
        [*IMMUNO, "+population.options.fixed.nosuch=1"],
        "population.options.fixed.nosuch",
        ["a_il6", "age"],
    ),
    (
        "population_window_reversed",
        [*IMMUNO, "+population.options.screening_window_h=[0,-24]"],
        "population.options.screening_window_h",
        ["low <= high <= 0"],
    ),
    (
        "population_data_missing",
        [*IMMUNO, "population.source=data", "population.data_file=/no/x.csv"],
        "population.data_file",
        ["file not found"],
    ),
    # endpoint group
    ("endpoint_plus_key", ["+endpoint.stratum_variable=endotype"], "endpoint.stratum_variable", ["stratum"]),
    ("endpoint_variable", [*IMMUNO, "endpoint.variable=nosuch"], "endpoint.variable", ["dead_28d", "responder"]),
    ("endpoint_variable_typo", [*IMMUNO, "endpoint.variable=dead28"], "endpoint.variable", ["did you mean 'dead_28d'"]),
    ("endpoint_stratum", [*IMMUNO, "endpoint.stratum=nosuch"], "endpoint.stratum", ["endotype, endotype_true"]),
    ("endpoint_kind", ["endpoint.kind=count"], "endpoint.kind", ["binary, continuous, ordinal"]),
    ("endpoint_direction", [*IMMUNO, "endpoint=death28"], "design.higher_is_better", ["set design.higher_is_better"]),
    ("endpoint_direction_api", [*PARAMETRIC, "endpoint.higher_is_better=true"], "design.higher_is_better", ["false"]),
    ("endpoint_kind_vs_scenario", ["experiment=ordinal_platform", "endpoint=responder"], "endpoint.kind", ["ordinal"]),
    # design group
    (
        "design_strata_unknown",
        [*IMMUNO, "design.strata=[mals,immunoparalysis]"],
        "design.strata[0]",
        ["MALS", "did you mean 'MALS'"],
    ),
    ("design_typo", ["+design.stoping={superiority:0.9}"], "design.stoping", ["stopping", "did you mean 'stopping'"]),
    (
        "design_thresholds_crossed",
        ["design.stopping.superiority=0.01", "design.stopping.inferiority=0.99"],
        "design.stopping.inferiority",
        ["below design.stopping.superiority"],
    ),
    ("design_look_n", ["design.look_n=[400,300,2000]"], "design.look_n", ["strictly increasing"]),
    ("design_min_prob", [*PARAMETRIC, "design.allocation.min_prob=0.5"], "design.allocation.min_prob", ["<= 1"]),
    # arms, therapy and adsorber
    ("arm_unknown_key", ["outcomes=mechanistic", "+arms.a={therapy:[anakinra]}"], "arms.a.therapy", ["therapies"]),
    (
        "arm_unknown_therapy",
        ["outcomes=mechanistic", "+arms.a={therapies:[aspirin]}"],
        "arms.a.therapies[0].name",
        ["anakinra"],
    ),
    ("therapy_plus_key", [*IMMUNO, "+therapy.foo=1"], "therapy.foo", ["name, therapies"]),
    (
        "dose_nan",
        [*IMMUNO, "arms.anakinra.therapies=[{name:anakinra,dose_mg:nan}]"],
        "arms.anakinra.therapies[0].dose_mg",
        ["finite"],
    ),
    (
        "dose_inf",
        [*IMMUNO, "arms.anakinra.therapies=[{name:anakinra,dose_mg:inf}]"],
        "arms.anakinra.therapies[0].dose_mg",
        ["finite"],
    ),
    (
        "interval_zero",
        [*IMMUNO, "arms.anakinra.therapies=[{name:anakinra,interval_h:0}]"],
        "arms.anakinra.therapies[0].interval_h",
        ["> 0"],
    ),
    (
        "device_negative_flow",
        [*ADD_ON, "adsorber=cytosorb", "adsorber.device.qb_ml_min=-5"],
        "arms.active.adsorber.qb_ml_min",
        ["non-negative"],
    ),
    # runtime group
    ("runtime_plus_key", ["+runtime.threads=4"], "runtime.threads", ["chunk_size", "precision"]),
    ("runtime_progress", ["runtime.progress=fancy"], "runtime.progress", ["auto, bar, log"]),
    ("runtime_precision", ["runtime.precision=float16"], "runtime.precision", ["float64, float32"]),
    ("runtime_chunk", ["runtime.chunk_size=0"], "runtime.chunk_size", ["positive integer"]),
    ("runtime_processes_zero", ["runtime.processes=0"], "runtime.processes", ["positive integer or 'auto'"]),
    ("runtime_processes_word", ["runtime.processes=many"], "runtime.processes", ["positive integer or 'auto'"]),
    ("runtime_cache_unwritable", ["runtime.cache_dir=/proc/x/y"], "runtime.cache_dir", ["not writable"]),
    # hydra: run directories, sweeps, launchers
    ("run_dir_unwritable", ["hydra.run.dir=/proc/x"], "hydra.run.dir", ["not writable"]),
    ("sweep_dir_unwritable", ["-m", "seed=1,2", "hydra.sweep.dir=/proc/x"], "hydra.sweep.dir", ["not writable"]),
    ("sweep_point_bad", ["-m", "n_trials=20,-1"], "n_trials", ["positive integer"]),
    ("sweep_plus_key", ["-m", "seed=1,2", "+scenario.drift=1"], "scenario.drift", ["rates"]),
    (
        "sweep_slurm_off_cluster",
        ["-m", "hydra/launcher=slurm_gpu", "seed=1,2"],
        "hydra/launcher",
        ["sbatch", "submitit_local"],
    ),
]


def _snapshot(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def _refusal(fn) -> Exception:
    try:
        fn()
    except (ConfigError, DataFileError) as err:
        return err
    pytest.fail("accepted")


def _check(err: Exception, key: str, allowed: list[str]) -> None:
    text = str(err)
    assert "\n" not in text, text  # one line
    named = err.key if isinstance(err, ConfigError) else err.path
    assert named == key or text.startswith(key), text
    for word in allowed:
        assert word in text, f"{word!r} not in {text!r}"


@pytest.mark.parametrize(("argv", "key", "allowed"), [c[1:] for c in CLI_CASES], ids=[c[0] for c in CLI_CASES])
def test_cli_refuses(argv, key, allowed, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _check(_refusal(lambda: preflight(argv, CONF_DIR, validate)), key, allowed)
    assert _snapshot(tmp_path) == set()


# experiment files under --config-dir: (id, file text, key, allowed)
EXPERIMENT_FILES = [
    ("yaml_syntax", "# @package _global_\nn_trials: [1,\n", "experiment/bad.yaml", ["YAML syntax error", "row 3"]),
    ("no_package_line", "n_trials: 5\n", "experiment/bad.yaml", ["# @package _global_"]),
    ("a_list", "# @package _global_\n- 1\n- 2\n", "experiment/bad.yaml", ["must be a mapping"]),
    ("unknown_key", "# @package _global_\nn_trails: 5\n", "n_trails", ["did you mean 'n_trials'"]),
]


@pytest.mark.parametrize(
    ("text", "key", "allowed"), [c[1:] for c in EXPERIMENT_FILES], ids=[c[0] for c in EXPERIMENT_FILES]
)
def test_bad_experiment_file_under_config_dir(text, key, allowed, tmp_path, monkeypatch):
    conf = tmp_path / "conf"
    (conf / "experiment").mkdir(parents=True)
    (conf / "experiment" / "bad.yaml").write_text(text)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    err = _refusal(lambda: preflight(["--config-dir", str(conf), "experiment=bad"], CONF_DIR, validate))
    named = err.key if isinstance(err, ConfigError) else err.path
    assert named.endswith(key) or str(err).startswith(key), str(err)
    _check(err, named, allowed)
    assert _snapshot(work) == set()


# ---------------------------------------------------------------------------------------------------- sepsim-collect


def _sweep(root: Path, seeds=(1, 2)) -> Path:
    """A fabricated, complete two-point sweep (seed=1,2): what ``sepsim -m seed=1,2`` leaves, in miniature."""
    import numpy as np
    import xarray as xr

    from sepsim._io import atomic_to_netcdf
    from sepsim._rundir import finish_run

    for i, seed in enumerate(seeds):
        run = root / str(i)
        (run / ".hydra").mkdir(parents=True)
        (run / ".hydra" / "overrides.yaml").write_text(f"- seed={seed}\n")
        atomic_to_netcdf(
            xr.Dataset({"power": ("arm", np.array([0.1, 0.2]) * seed)}, {"arm": ["a", "b"]}), run / "oc.nc"
        )
        (run / "config.yaml").write_text(f"seed: {seed}\n")
        finish_run(run, f"seed: {seed}\n")
    return root


def _truncate(run: Path) -> None:
    (run / "oc.nc").write_bytes((run / "oc.nc").read_bytes()[:100])


def _empty_with_manifest(run: Path) -> None:
    from sepsim._rundir import finish_run

    (run / "oc.nc").write_bytes(b"")
    finish_run(run, "seed: 2\n")


def _duplicate(root: Path) -> None:
    import shutil

    shutil.copytree(root / "0", root / "2")
    (root / "2" / ".hydra" / "overrides.yaml").write_text("- seed=2\n")  # seed 1's numbers labelled seed 2


COLLECT_CASES = [
    ("incomplete_run", lambda r: (r / "1" / "manifest.json").unlink(), "1", ["incomplete run", "hydra.sweep.dir="]),
    ("truncated_oc", lambda r: _truncate(r / "1"), "1/oc.nc", ["differs from the run's manifest"]),
    ("empty_oc", lambda r: _empty_with_manifest(r / "1"), "1/oc.nc", ["not a readable netCDF"]),
    (
        "overrides_yaml_syntax",
        lambda r: (r / "1/.hydra/overrides.yaml").write_text("- [a\n"),
        "1/.hydra/overrides.yaml",
        ["YAML syntax error", "row"],
    ),
    (
        "overrides_mapping",
        lambda r: (r / "1/.hydra/overrides.yaml").write_text("seed: 2\n"),
        "1/.hydra/overrides.yaml",
        ["list of 'key=value'"],
    ),
    (
        "overrides_row",
        lambda r: (r / "1/.hydra/overrides.yaml").write_text("- seed\n"),
        "1/.hydra/overrides.yaml",
        ["expected 'key=value'", "row 1"],
    ),
    ("duplicate_point", _duplicate, "2", ["claims the same sweep point", "seed=2", "different numbers"]),
    ("missing_artifact", lambda r: (r / "1" / "oc.nc").unlink(), "1/oc.nc", ["missing", "manifest.json lists it"]),
]


@pytest.mark.parametrize(
    ("damage", "where", "allowed"), [c[1:] for c in COLLECT_CASES], ids=[c[0] for c in COLLECT_CASES]
)
def test_collect_refuses(damage, where, allowed, tmp_path, capsys):
    from sepsim.cli import collect_main

    root = _sweep(tmp_path / "sw")
    damage(root)
    before = _snapshot(tmp_path)
    with pytest.raises(SystemExit) as exit_:
        collect_main([str(root)])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith(f"sepsim-collect: {root / where}"), err
    for word in allowed:
        assert word in err, err
    assert _snapshot(tmp_path) == before  # no merged.nc


def test_collect_refuses_what_is_not_a_sweep(tmp_path):
    from sepsim.collect import collect

    _check(_refusal(lambda: collect(tmp_path)), str(tmp_path), ["holds no hydra run directories"])
    with pytest.raises(FileNotFoundError, match="not a directory"):
        collect(tmp_path / "nosuch")


def test_collect_merges_a_duplicate_with_identical_numbers(tmp_path):
    import shutil

    from sepsim.collect import collect

    root = _sweep(tmp_path / "sw")
    shutil.copytree(root / "1", root / "2")  # a rerun of the same point: same numbers, merged once
    merged, _ = collect(root)
    assert merged.attrs["n_runs"] == 2 and list(merged["seed"].values) == [1, 2]
    assert float(merged["power"].sel(seed=2, arm="b")) == pytest.approx(0.4)


# ------------------------------------------------------------------------------------------------------ Python API


def _pipeline(overrides, tmp_path):
    from sepsim.cli import compose_config
    from sepsim.pipeline import run_pipeline

    return lambda: run_pipeline(compose_config(overrides), tmp_path / "run")


def _compose(overrides):
    from sepsim.cli import compose_config

    return lambda: compose_config(overrides)


def _design(**extra):
    from sepsim.platform import design_from_dict

    return lambda: design_from_dict({"arms": ["a", "b"], "control": "a", "look_n": [100, 200], **extra})


def _trials(n_pool, n_trials=2):
    def go():
        from sepsim._keys import stage_key
        from sepsim.platform import binary_scenario, design_from_dict, run_trials

        design = design_from_dict({"arms": ["a", "b"], "control": "a", "look_n": [100, 200]})
        pool = binary_scenario([0.2, 0.3], n_pool, key=stage_key(1, "outcomes"), arms=["a", "b"])
        run_trials(pool, design, n_trials=n_trials, key=stage_key(1, "trials"))

    return go


def _cohort(n=2, **config):
    def go():
        from sepsim._keys import stage_key
        from sepsim.models import CohortConfig, simulate_cohort

        simulate_cohort(n, key=stage_key(1, "cohort"), config=CohortConfig(**config))

    return go


def _arm(spec):
    def go():
        from sepsim.models.interventions import arm_from_config

        arm_from_config(spec)

    return go


# (id, callable factory (tmp_path -> callable), key, allowed)
API_CASES = [
    pytest.param(lambda p: _pipeline(["n_trials=-5"], p), "n_trials", ["positive integer"], id="run_pipeline_n_trials"),
    pytest.param(lambda p: _pipeline(["+scenario.drift=1"], p), "scenario.drift", ["rates"], id="run_pipeline_plus"),
    pytest.param(
        lambda p: lambda: validate({"n_trails": 5}), "n_trails", ["did you mean 'n_trials'"], id="validate_dict_typo"
    ),
    pytest.param(lambda p: lambda: validate({"seed": 2**70}), "seed", ["2**63 - 1"], id="validate_dict_seed"),
    pytest.param(
        lambda p: lambda: validate({"population": {"options": {"foo": 1}}}),
        "population.options.foo",
        ["fixed"],
        id="validate_dict_options",
    ),
    pytest.param(lambda p: lambda: validate({"name": "../x"}), "name", ["one directory name"], id="validate_name"),
    pytest.param(lambda p: _compose(["n_trails=5"]), "n_trails", ["did you mean 'n_trials'"], id="compose_typo"),
    pytest.param(lambda p: _compose(["design=nosuch"]), "design", ["two_arm"], id="compose_missing_option"),
    pytest.param(lambda p: _design(stoping={}), "design.stoping", ["stopping"], id="design_from_dict_typo"),
    pytest.param(
        lambda p: _design(stopping={"superiority": math.nan}),
        "design.stopping.superiority",
        ["[0, 1]"],
        id="design_from_dict_nan",
    ),
    pytest.param(
        lambda p: _design(stopping={"superiority": 0.01, "inferiority": 0.99}),
        "design.stopping.inferiority",
        ["superiority"],
        id="design_from_dict_crossed",
    ),
    pytest.param(lambda p: _trials(500, n_trials=-1), "n_trials", ["positive integer"], id="run_trials_n_trials"),
    pytest.param(
        lambda p: _trials(50),
        "n_patients",
        ["200"],
        id="run_trials_pool_small",
    ),
    pytest.param(lambda p: _cohort(0), "cohort.n", ["positive integer"], id="simulate_cohort_n"),
    pytest.param(lambda p: _cohort(fixed={"nosuch": 1.0}), "cohort.fixed", ["nosuch"], id="simulate_cohort_fixed"),
    pytest.param(
        lambda p: _cohort(fixed={"age": math.nan}),
        "cohort.fixed.age",
        ["finite"],
        id="simulate_cohort_nan",
    ),
    pytest.param(
        lambda p: _cohort(screening_window_h=(0.0, -24.0)),
        "cohort.screening_window_h",
        ["low <= high"],
        id="simulate_cohort_window",
    ),
    pytest.param(
        lambda p: _arm({"therapies": [{"name": "anakinra", "dose_mg": math.nan}]}),
        "therapy.therapies[0].dose_mg",
        ["documented range [100, 800]"],
        id="arm_from_config_nan_dose",
    ),
    pytest.param(
        lambda p: _arm({"therapies": [{"name": "anakinra", "interval_h": 0}]}),
        "therapy.therapies[0].interval_h",
        ["documented range [4, 24]"],
        id="arm_from_config_zero_interval",
    ),
]


@pytest.mark.parametrize(("make", "key", "allowed"), API_CASES)
def test_api_refuses(make, key, allowed, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _check(_refusal(make(tmp_path)), key, allowed)
    assert _snapshot(tmp_path) == set()


# ----------------------------------------------------------------------------------------- the real commands, a few


def _command(name: str, args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name(name)
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    return subprocess.run([str(exe), *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=300)


REAL = [
    pytest.param(["-m", "seed=1,2", "+scenario.drift=1"], "scenario.drift", id="sweep_plus_key"),
    pytest.param(
        ["experiment=nosuch"],
        "experiment: no option 'nosuch'; allowed: adaptr",
        id="missing_option",
        marks=pytest.mark.slow,
    ),
    pytest.param(
        ["-m", "hydra/launcher=slurm_gpu", "seed=1,2"], "sbatch", id="slurm_off_cluster", marks=pytest.mark.slow
    ),
    pytest.param(["name=../../x"], "name: must be one directory name", id="name_traversal", marks=pytest.mark.slow),
]


@pytest.mark.parametrize(("args", "expected"), REAL)
def test_sepsim_command_refuses_in_one_line(args, expected, tmp_path):
    out = _command("sepsim", args, tmp_path)
    assert out.returncode == 2, out.stderr[-2000:]
    lines = [ln for ln in out.stderr.splitlines() if "Warning" not in ln and ln.strip()]
    assert len(lines) == 1 and expected in lines[0], out.stderr
    assert _snapshot(tmp_path) == set()


def test_sepsim_collect_command_refuses_in_one_line(tmp_path):
    root = _sweep(tmp_path / "sw")
    (root / "1" / "manifest.json").unlink()
    out = _command("sepsim-collect", [str(root)], tmp_path)
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and "incomplete run" in out.stderr, out.stderr
    assert not (root / "merged.nc").exists()
