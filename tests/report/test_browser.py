"""Reports rendered in headless Chromium: every figure loads and nothing overflows the page horizontally.

A copy of ``report.html`` gets a script that, once the page has loaded, writes its checks into the DOM; Chromium's
``--dump-dom`` returns that DOM. Skips, saying why, where Debian's ``chromium`` is not installed (``.ci/run``
installs it as root).
"""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import xarray as xr

from sepsim.platform._operating.trials import operating_characteristics
from sepsim.report import stratum_decisions, synthetic_results, write_report, write_sweep_report
from sepsim.report._decisions import decisions_dataset

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="headless Chromium not installed (Debian: apt-get install chromium; .ci/run does)"
)
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
)  # fmt: skip
CHECK = """<script>
window.addEventListener("load", () => {
  const vw = document.documentElement.clientWidth;
  const imgs = Array.from(document.images);
  const broken = imgs.filter((i) => !(i.complete && i.naturalWidth > 0)).map((i) => i.alt);
  const overflow = Array.from(document.body.querySelectorAll("*"))
    .filter((e) => !e.closest(".wide") && e.getBoundingClientRect().right > vw + 1)
    .map((e) => e.tagName + "." + e.className);
  const out = document.createElement("pre");
  out.id = "sepsim-check";
  out.textContent = JSON.stringify({images: imgs.length, broken, overflow,
    scrollWidth: document.documentElement.scrollWidth, clientWidth: vw});
  document.body.appendChild(out);
});
</script>"""


def _render_checks(page: Path, tmp: Path, width: int) -> dict:
    probe = tmp / f"probe-{page.parent.name}.html"
    probe.write_text(page.read_text().replace("</body>", CHECK + "</body>"))
    out = subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={tmp / 'profile'}", f"--window-size={width},900",
         "--virtual-time-budget=10000", "--dump-dom", probe.as_uri()],
        capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    found = re.search(r'<pre id="sepsim-check">(.*?)</pre>', out.stdout, re.S)
    assert found, f"no checks in the dumped DOM (rc {out.returncode}): {out.stderr[-2000:]}"
    return json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))


@pytest.fixture(scope="module")
def reports(tmp_path_factory, cohort):
    truth = {
        "MALS": {"placebo": 0.2, "anakinra": 0.4, "ifn_gamma": 0.2},
        "immunoparalysis": {"placebo": 0.2, "anakinra": 0.2, "ifn_gamma": 0.35},
    }
    results = synthetic_results(n_trials=40, true_mean=truth, control_arm="placebo", higher_is_better=1, seed=3)
    oc = operating_characteristics(results, n_boot=100)
    config = {
        "name": "browser",
        "description": "Does every figure load and fit?",
        "endpoint": {"variable": "responder"},
    }
    root = tmp_path_factory.mktemp("browser")
    write_report(root / "scenario", results, oc, config=config)
    write_report(root / "mechanistic", results, oc, config=config, cohort=cohort)
    points = []
    for s in (0.9, 0.99):
        for name, seed in (("a", 1), ("b", 2)):
            res = synthetic_results(n_trials=30, seed=seed, looks=(60, 120), control_arm="placebo", superiority=s)
            point = operating_characteristics(res, n_boot=100).assign(
                decisions_dataset(stratum_decisions(res)).data_vars
            )
            points.append(point.expand_dims(superiority=[s], scenario=[name]))
    merged = xr.combine_by_coords(points, combine_attrs="drop_conflicts")
    merged.attrs.update(swept="superiority,scenario")
    write_sweep_report(merged, root / "sweep")
    return root


@pytest.mark.parametrize("kind", ["scenario", "mechanistic", "sweep"])
def test_report_renders_in_chromium(reports, kind):
    page = reports / kind / "report.html"
    checks = _render_checks(page, reports, width=1100)
    n_png = len(list((reports / kind / "figures").glob("*.png")))
    assert checks["images"] == page.read_text().count("<img ") and checks["images"] >= (2 if kind == "sweep" else 4)
    assert checks["images"] == n_png  # every figure on disk is on the page
    assert checks["broken"] == [], checks
    assert checks["overflow"] == [] and checks["scrollWidth"] <= checks["clientWidth"], checks


def test_the_checks_catch_a_broken_figure_and_an_overflow(tmp_path):
    page = tmp_path / "bad" / "report.html"
    page.parent.mkdir()
    page.write_text(
        '<!DOCTYPE html><html><body><img alt="gone" src="data:image/png;base64,AAAA">'
        '<div style="width:3000px">wide</div></body></html>'
    )
    checks = _render_checks(page, tmp_path, width=800)
    assert checks["broken"] == ["gone"] and checks["overflow"] and checks["scrollWidth"] > checks["clientWidth"]
