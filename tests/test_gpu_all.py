"""benchmarks/gpu_all.py: the roofline arithmetic (fast) and a --quick run of every part on the CPU (slow)."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def _gpu_all():
    spec = importlib.util.spec_from_file_location("gpu_all", BENCH / "gpu_all.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_peaks_match_device_kinds():
    g = _gpu_all()
    assert g.peaks_for("NVIDIA H100 80GB HBM3")["matched"] == "H100"
    assert g.peaks_for("NVIDIA H100 PCIe")["matched"] == "H100 PCIe"
    assert g.peaks_for("NVIDIA H200")["bandwidth_tbs"] == 4.8
    assert g.peaks_for("NVIDIA H200 NVL")["fp64_tflops"] == 30.0
    assert g.peaks_for("cpu") is None


def test_roofline_fractions():
    g = _gpu_all()
    peaks = g.peaks_for("NVIDIA H100 80GB HBM3")
    # 1e6 units/s x 6.8e6 FLOP = 6.8 TFLOP/s = 20% of FP64 34; x 3.35e5 bytes = 0.335 TB/s = 10% of 3.35
    r = g.roofline(6.8e6, 3.35e5, 1e6, "float64", peaks)
    assert r["fraction_flops"] == pytest.approx(0.20)
    assert r["fraction_bandwidth"] == pytest.approx(0.10)
    assert r["arithmetic_intensity"] == pytest.approx(6.8e6 / 3.35e5)
    assert r["ridge_point"] == pytest.approx(34 / 3.35)
    assert "compute-bound side" in r["bound"]  # 20.3 FLOP/byte > ridge 10.1
    r32 = g.roofline(6.8e6, 3.35e5, 1e6, "float32", peaks)
    assert r32["fraction_flops"] == pytest.approx(6.8 / 67)
    assert "memory-bound side" in g.roofline(1e3, 1e6, 1e6, "float64", peaks)["bound"]
    assert g.roofline(1e3, 1e6, 1e6, "float64", None)["fraction_flops"] is None


@pytest.mark.slow
def test_quick_run_on_cpu(tmp_path):
    out = tmp_path / "gpu_all.json"
    cmd = [sys.executable, str(BENCH / "gpu_all.py"), "--quick", "--json", str(out)]
    subprocess.run(cmd, check=True, cwd=BENCH.parent, env={**os.environ, "JAX_PLATFORMS": "cpu"})
    r = json.loads(out.read_text())
    assert r["device"]["platform"] == "cpu" and r["device"]["peaks"] is None
    assert {p["arm"] for p in r["patients"]} == {"placebo", "anakinra+cytosorb"}
    assert all(p["all_solved"] and p["courses_per_s"] > 0 for p in r["patients"])
    assert all(p["roofline"]["flops_per_unit"] > 0 for p in r["patients"])
    for dtype in ("float64", "float32"):
        a = r["adaptr"][dtype]
        assert a["trials"] == 256 and a["trials_per_s"] > 0 and 0.0 <= a["p_superiority"] <= 0.2
    cmp = r["adaptr"]["float32_vs_float64"]  # the same 512 trials in both precisions (CPU: 3 end differently)
    assert cmp["trials"] == 512 and cmp["trials_ending_differently"] <= 0.02 * 512
    assert abs(cmp["p_superiority_float32"] - cmp["p_superiority_float64"]) <= 0.02
    s = r["study"]
    assert s["n_trials"] == 100 and s["n_patients"] == 800 and s["stages"]["trials"]["wall_s"] > 0
