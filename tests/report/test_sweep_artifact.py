"""The sweep report of a study's own per-run artifact (thresholds.nc): heat maps over two swept parameters."""

import numpy as np
import pytest
import xarray as xr

from sepsim._errors import DataFileError
from sepsim.report._sweep_artifact import artifact_panels, write_artifact_sweep_report


def _merged(n_swept: int = 2) -> xr.Dataset:
    fer, hla = [3000.0, 4420.0, 6000.0], [4000.0, 5000.0]
    dims = ["study_ferritin_cutoff", "study_hla_dr_cutoff"][:n_swept]
    coords = {"study_ferritin_cutoff": fer, "study_hla_dr_cutoff": hla, "stratum": ["MALS", "immunoparalysis"]}
    coords = {k: v for k, v in coords.items() if k in dims or k == "stratum"}
    shape = [len(coords[d]) for d in dims]
    rng = np.random.default_rng(0)
    ds = xr.Dataset(
        {
            "share_MALS": (dims, rng.uniform(0, 0.2, shape), {"long_name": "share classified MALS"}),
            "power": ([*dims, "stratum"], rng.uniform(0, 1, [*shape, 2])),
            "power_mcse": ([*dims, "stratum"], np.full([*shape, 2], 0.01)),
            "label": ((), "not numeric"),
        },
        coords=coords,
        attrs={"swept": ",".join(dims), "source": "synthetic", "n_runs": int(np.prod(shape)), "title": "thresholds"},
    )
    return ds


def test_every_numeric_quantity_gets_a_panel_with_its_mcse():
    panels = artifact_panels(_merged())
    assert len(panels) == 3  # share_MALS, power[MALS], power[immunoparalysis]; no *_mcse panel, no string
    errs = {label.split(":")[0]: err is not None for label, _, err in panels}
    assert errs == {"share_MALS": False, "power [MALS]": True, "power [immunoparalysis]": True}


@pytest.mark.parametrize("n_swept", [1, 2])
def test_report_writes_page_and_figure(tmp_path, n_swept):
    page = write_artifact_sweep_report(_merged(n_swept), tmp_path / "report")
    text = page.read_text()
    assert "figures/artifact.png" in text and "95% Monte-Carlo" in text
    assert (tmp_path / "report" / "figures" / "artifact.png").stat().st_size > 10_000


def test_no_swept_dims_is_refused(tmp_path):
    ds = _merged().drop_vars(["share_MALS", "power", "power_mcse"])
    with pytest.raises(DataFileError, match="no numeric variable"):
        write_artifact_sweep_report(ds, tmp_path)
