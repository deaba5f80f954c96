"""Therapy and device overrides outside the documented ranges of their parameter files are refused, naming the key."""

from pathlib import Path

import pytest
import yaml

from sepsim._errors import ConfigError
from sepsim.models.interventions import arm_from_config
from sepsim.models.interventions._params import load_param_table

CONF = Path(__file__).resolve().parents[2] / "conf"


@pytest.mark.parametrize(
    ("spec", "key", "where"),
    [
        ({"therapies": [{"name": "anakinra", "n_doses": 46}]}, "therapy.therapies[0].n_doses", "anakinra.yaml"),
        ({"therapies": [{"name": "anakinra", "dose_mg": 5000}]}, "therapy.therapies[0].dose_mg", "anakinra.yaml"),
        ({"therapies": ["anakinra", {"name": "interferon_gamma", "n_doses": 16}]}, "therapies[1].n_doses", "gamma"),
        ({"therapies": [{"name": "anti_pd1", "dose_mg": 5}]}, "dose_mg", "checkpoint.yaml: nivolumab_dose_mg"),
        ({"adsorber": {"name": "oxiris", "qb_ml_min": 1000}}, "therapy.adsorber.qb_ml_min", "oxiris_qb_ml_min"),
    ],
)
def test_out_of_range_override_refused(spec, key, where):
    with pytest.raises(ConfigError) as err:
        arm_from_config(spec)
    assert key in err.value.key and where in str(err.value) and "documented range" in str(err.value)


def test_range_edges_accepted():
    hi = load_param_table("anakinra")["n_doses"]["range"][1]
    arm_from_config({"therapies": [{"name": "anakinra", "n_doses": hi}]})  # ImmunoSep's 15 days (IS-18)


def test_shipped_configs_are_within_range():
    """Every regimen and device setting the project ships in conf/ and experiments/ is inside its documented range."""
    built = 0
    for path in sorted((CONF / "therapy").glob("*.yaml")):
        therapies = yaml.safe_load(path.read_text()).get("therapies")
        if therapies:
            arm_from_config({"therapies": therapies})
            built += 1
    for path in sorted((CONF / "adsorber").glob("*.yaml")):
        device = yaml.safe_load(path.read_text()).get("device")
        if device:
            arm_from_config({"adsorber": device})
            built += 1
    for path in sorted((CONF.parent / "experiments").glob("*.yaml")):
        for spec in (yaml.safe_load(path.read_text()).get("arms") or {}).values():
            if "${" in str(spec):  # interpolated from the therapy/adsorber groups, checked above
                continue
            arm_from_config(spec or None)
            built += 1
    assert built >= 20
