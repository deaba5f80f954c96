"""Every design snippet in sepsim/platform/README_engine.md is accepted by design_from_dict."""

import re
from pathlib import Path

import yaml

from sepsim.platform import design_from_dict

README = Path(__file__).resolve().parents[2] / "sepsim" / "platform" / "README_engine.md"


def test_readme_yaml_designs_validate():
    blocks = re.findall(r"```yaml\n(.*?)```", README.read_text(), flags=re.S)
    assert len(blocks) >= 4
    for text in blocks:
        design = design_from_dict(yaml.safe_load(text))
        assert design.look_n == sorted(design.look_n)
