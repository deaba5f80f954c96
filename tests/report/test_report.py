"""The run report (files, JSON with MC intervals, HTML with figures) and atomic writes under SIGKILL."""

import base64
import importlib.util
import json
import math
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import yaml

import sepsim._io as atomic
from sepsim._errors import ConfigError
from sepsim.platform._operating.trials import operating_characteristics
from sepsim.report import (
    plot_allocation,
    plot_decisions,
    plot_expected_n,
    plot_sample_size,
    plot_stopping,
    synthetic_results,
    write_report,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
CONFIG = {"design": {"n_max": 400, "looks": [100, 200, 300, 400], "rule": "sqrt-P(best)"}, "seed": 5}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One report of a stratified, controlled toy design (written once for the module)."""
    truth = {
        "shock": {"placebo": 0.40, "anakinra": 0.28, "ifn": 0.40},
        "no_shock": {"placebo": 0.2, "anakinra": 0.2, "ifn": 0.2},
    }
    results = synthetic_results(n_trials=60, true_mean=truth, control_arm="placebo", superiority=0.95, seed=5)
    oc = operating_characteristics(results)
    run_dir = tmp_path_factory.mktemp("run")
    write_report(run_dir, results, oc, config=CONFIG, extra={"wall_s": 1.5, "note": "toy"})
    return run_dir, results, oc


def _strict_json(path):
    def no_constants(name):
        raise AssertionError(f"non-standard JSON constant {name}")

    return json.loads(Path(path).read_text(), parse_constant=no_constants)


LEAF = {"mean", "q025", "q975", "mcse", "units"}


def _intervals(tree):
    """Every {"mean", "q025", "q975", "mcse", "units"} leaf of a nested summary."""
    if isinstance(tree, dict) and set(tree) == LEAF:
        yield tree
    elif isinstance(tree, dict):
        for v in tree.values():
            yield from _intervals(v)


def _figure_names(results):
    from sepsim.report._figures import figures_for

    return tuple(figures_for(results))


def test_report_files_exist(run):
    run_dir, results, _ = run
    for name in ("summary.json", "report.html"):
        assert (run_dir / name).stat().st_size > 0, name
    assert {"patients", "decisions", "stopping", "expected_n"} <= set(_figure_names(results))
    for name in _figure_names(results):
        assert (run_dir / "figures" / f"{name}.png").read_bytes().startswith(PNG_MAGIC), name
    assert not [p for p in run_dir.rglob("*.tmp")], "temporary files left behind"


def test_summary_json_has_mc_intervals(run):
    run_dir, results, oc = run
    summary = _strict_json(run_dir / "summary.json")
    headline = summary["headline"]
    for key in ("p_efficacy_any_stratum", "p_conclusive", "expected_sample_size", "median_sample_size"):
        item = headline[key]
        assert set(item) == LEAF, key
        assert item["mcse"] >= 0 and item["q025"] <= item["mean"] <= item["q975"], key
    assert headline["expected_sample_size"]["units"] == "patients" and headline["p_conclusive"]["units"] == "1"
    # the engine counts an eligible (non-control) arm superior in any stratum: the same trials
    assert headline["p_efficacy_any_stratum"]["mean"] == oc["p_superiority"].sel(stat="estimate").item()
    assert headline["expected_sample_size"]["mean"] == pytest.approx(results["n_total"].values.mean())
    assert set(summary["per_stratum"]) == {"shock", "no_shock"}
    assert summary["per_stratum"]["shock"]["best_arm"] == "anakinra"
    assert summary["per_stratum"]["shock"]["efficacy_meaning"] == "power"
    assert summary["per_stratum"]["no_shock"]["efficacy_meaning"] == "type-I error"
    assert summary["operating_characteristics"]["idp"]["no_shock"]["mean"] is None  # undefined: null, not NaN
    leaves = list(_intervals(summary["operating_characteristics"]))
    n_figures = sum(v.size // 4 for v in oc.data_vars.values() if "stat" in v.dims)
    assert len(leaves) == n_figures
    p = summary["operating_characteristics"]["p_decision"]["anakinra"]["shock"]["superior"]
    assert p["mean"] == oc["p_decision"].sel(arm="anakinra", stratum="shock", decision="superior", stat="estimate")
    assert summary["provenance"]["versions"]["numpy"] == np.__version__
    assert len(summary["key_comparisons"]) == 2
    assert summary["config"] == CONFIG and summary["extra"]["note"] == "toy"


def test_report_html_is_self_contained(run):
    run_dir, results, oc = run
    page = (run_dir / "report.html").read_text()
    assert page.count('src="data:image/png;base64,') == len(_figure_names(results))
    for name in _figure_names(results):
        png = (run_dir / "figures" / f"{name}.png").read_bytes()
        assert f'href="figures/{name}.png"' in page
        assert base64.b64encode(png).decode() in page  # the embedded image is the file on disk
    assert "<script" not in page and "http://" not in page and "https://" not in page
    assert yaml.safe_dump(CONFIG, sort_keys=False).splitlines()[0] in page
    assert "rule: sqrt-P(best)" in page
    assert f"<td>numpy</td><td>{np.__version__}</td>" in page
    assert f"{oc['sample_size_mean'].sel(stat='mcse').item():.4g}" in page  # MC SE in the table
    assert page.index("Key comparisons") < page.index("<details>") < page.index("Resolved configuration")


def test_oc_netcdf_round_trips(run, tmp_path):
    _, _, oc = run
    atomic.atomic_to_netcdf(oc, tmp_path / "oc.nc")
    with xr.open_dataset(tmp_path / "oc.nc", engine="h5netcdf") as back:
        xr.testing.assert_allclose(back["p_decision"], oc["p_decision"])
        assert list(back["best_arm"].values) == ["anakinra", ""]
        assert list(back["null_scenario"].values) == [False, True]


def test_each_figure_function_returns_its_path(tmp_path):
    results = synthetic_results(n_trials=20, seed=9, looks=(60, 120))
    oc = operating_characteristics(results)
    calls = {
        "a.png": lambda p: plot_allocation(results, p),
        "b.png": lambda p: plot_sample_size(results, p),
        "c.png": lambda p: plot_stopping(results, p),
        "d.png": lambda p: plot_decisions(oc, p),
        "e.png": lambda p: plot_expected_n(results, oc, p),
    }
    for name, draw in calls.items():
        path = draw(tmp_path / "sub" / name)
        assert path == tmp_path / "sub" / name and path.read_bytes().startswith(PNG_MAGIC)


def test_bad_input_writes_nothing(tmp_path):
    results = synthetic_results(n_trials=10, seed=1, looks=(60, 120))
    oc = operating_characteristics(results)
    with pytest.raises(ConfigError) as info:
        write_report(tmp_path / "r", results, oc.drop_vars("idp"), config={})
    assert info.value.key == "oc.idp"
    with pytest.raises(ConfigError) as info:
        write_report(tmp_path / "r", results.drop_vars("n"), oc, config={})
    assert info.value.key == "results.n"
    assert not (tmp_path / "r").exists()


# ------------------------------------------------------------------------------------------------- atomic writes
def test_atomic_writers_replace_and_clean_up(tmp_path):
    target = tmp_path / "x.json"
    atomic.atomic_write_json(target, {"a": 1})
    with pytest.raises(ValueError):
        atomic.atomic_write_json(target, {"a": math.nan})  # strict JSON: refused before touching the file
    assert json.loads(target.read_text()) == {"a": 1}
    atomic.atomic_write_text(target, '{"b": 2}')
    assert json.loads(target.read_text()) == {"b": 2}
    ds = xr.Dataset({"v": ("x", np.arange(3.0))})
    atomic.atomic_to_netcdf(ds, tmp_path / "d.nc")
    with xr.open_dataset(tmp_path / "d.nc", engine="h5netcdf") as back:
        xr.testing.assert_identical(back.load(), ds)

    class Boom:
        def savefig(self, fname, **kwargs):
            Path(fname).write_bytes(b"partial")
            raise RuntimeError("renderer crashed")

    atomic.atomic_write_bytes(tmp_path / "f.png", b"old")
    with pytest.raises(RuntimeError):
        atomic.atomic_savefig(Boom(), tmp_path / "f.png")
    assert (tmp_path / "f.png").read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.nc", "f.png", "x.json"]


_SLOW_WRITER = """
import importlib.util, sys, time
spec = importlib.util.spec_from_file_location("atomic_under_test", sys.argv[1])
atomic = importlib.util.module_from_spec(spec)
spec.loader.exec_module(atomic)

def slow_chunk(fh, chunk):
    fh.write(chunk)
    fh.flush()
    print("chunk", flush=True)
    time.sleep(0.02)

atomic._write_chunk = slow_chunk
atomic._CHUNK = 1 << 16
atomic.atomic_write_bytes(sys.argv[2], b"N" * ((1 << 16) * int(sys.argv[3])))
print("done", flush=True)
"""


def _slow_writer(target: Path, n_chunks: int) -> subprocess.Popen:
    module = importlib.util.find_spec("sepsim._io").origin
    return subprocess.Popen(
        [sys.executable, "-c", _SLOW_WRITER, module, str(target), str(n_chunks)],
        stdout=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize("kill_after", [1, 7])
def test_sigkill_mid_write_leaves_old_or_new_never_torn(tmp_path, kill_after):
    target = tmp_path / "big.bin"
    old = b"O" * (1 << 18)
    atomic.atomic_write_bytes(target, old)
    n_chunks = 30
    proc = _slow_writer(target, n_chunks)
    try:
        for _ in range(kill_after):
            assert proc.stdout.readline().strip() == "chunk"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    assert target.read_bytes() == old  # killed mid-write: the old content, whole
    partial = [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert len(partial) == 1 and 0 < partial[0].stat().st_size < (1 << 16) * n_chunks  # the kill was mid-write

    proc = _slow_writer(target, 4)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0 and out.split()[-1] == "done"
    assert target.read_bytes() == b"N" * ((1 << 16) * 4)  # completed: the new content, whole


def test_config_may_be_a_resolved_omegaconf_mapping(tmp_path):
    omegaconf = pytest.importorskip("omegaconf")
    config = omegaconf.OmegaConf.create({"n_max": 120, "design": {"looks": [60, "${n_max}"]}})
    results = synthetic_results(n_trials=10, seed=2, looks=(60, 120))
    oc = operating_characteristics(results)
    write_report(tmp_path, results, oc, config=config, extra={"x": np.float64("nan"), "k": np.int64(3)})
    summary = _strict_json(tmp_path / "summary.json")
    assert summary["config"] == {"n_max": 120, "design": {"looks": [60, 120]}}
    assert summary["extra"] == {"x": None, "k": 3}
    assert "- 120" in (tmp_path / "report.html").read_text()  # the interpolation, resolved, in the YAML


@pytest.mark.parametrize("calendar", [False, True])
def test_look_days_label_only_calendar_time_runs(run, calendar):
    """Looks are labelled with their mean calendar day only when the run has an accrual model (finite look_time)."""
    import matplotlib.pyplot as plt

    from sepsim.report._figures import _look_ticks

    _, results, _ = run
    days = np.arange(results.sizes["look"], dtype=np.float64) * 30.0 + 30.0
    look_time = np.broadcast_to(days if calendar else np.full_like(days, np.nan), (results.sizes["trial"], days.size))
    res = results.assign(look_time=(("trial", "look"), look_time))
    fig, ax = plt.subplots()
    ax.set_xlabel("patients with outcome at look")
    _look_ticks(ax, res)
    labels = [t.get_text() for t in ax.get_xticklabels()]
    plt.close(fig)
    assert ("calendar day" in ax.get_xlabel()) is calendar
    assert any("day 30" in s for s in labels) is calendar


def test_a_study_adds_its_own_section(tmp_path):
    """The extension point: a ReportSection's body, figure (with caption) and numbers reach the page and the JSON."""
    from sepsim.report import ReportSection, SectionFigure

    results = synthetic_results(n_trials=10, seed=2, looks=(60, 120))
    oc = operating_characteristics(results)
    png = plot_expected_n(results, oc, tmp_path / "figures" / "mine.png")
    section = ReportSection(
        "Main results table", "<p>my table</p>", [SectionFigure("Mine", "bands: none", png)], {"rows": 3}
    )
    write_report(tmp_path, results, oc, config={"name": "study"}, sections=[section])
    page = (tmp_path / "report.html").read_text()
    assert "<h2>Main results table</h2>\n<p>my table</p>" in page and "bands: none" in page
    assert page.index("Main results table") < page.index("<details>")
    assert _strict_json(tmp_path / "summary.json")["sections"] == {"Main results table": {"rows": 3}}
    with pytest.raises(ConfigError) as info:
        write_report(tmp_path / "x", results, oc, config={}, sections=["<p>raw</p>"])
    assert info.value.key == "sections[0]"


def test_adaptr_null_run_prints_the_published_calibration(tmp_path):
    oracle = yaml.safe_load((Path(__file__).resolve().parents[1] / "oracles" / "adaptr_null.yaml").read_text())
    s, p_pub = oracle["design"]["superiority_threshold"], oracle["published"]["prob_superiority"]
    n_pub = oracle["published"]["n_simulations"]
    results = synthetic_results(n_trials=50, seed=3, looks=(60, 120), true_mean={"a": 0.25, "b": 0.25, "c": 0.25})
    oc = operating_characteristics(results)
    config = {"scenario": {"name": "adaptr_null"}, "design": {"stopping": {"superiority": s}}}
    write_report(tmp_path, results, oc, config=config)
    (row,) = _strict_json(tmp_path / "summary.json")["sections"]["Published numbers beside the simulated ones"][
        "published_comparisons"
    ]
    p = np.mean((results["arm_decision"].values == 1).any(axis=(1, 2)))
    assert row["published"] == p_pub and row["simulated"] == pytest.approx(p)
    se = math.hypot(math.sqrt(p * (1 - p) / 50), math.sqrt(p_pub * (1 - p_pub) / n_pub))
    assert row["z"] == pytest.approx((p - p_pub) / se)
    z = abs(row["z"])
    assert row["verdict"] == ("consistent" if z < 2 else "differs" if z < 3 else "differs strongly")
    assert "Published numbers beside the simulated ones" in (tmp_path / "report.html").read_text()
