"""Every YAML design or arms snippet in README.md is accepted by the code (the cookbook cannot drift)."""

import re
from pathlib import Path

import yaml

from sepsim.config import build_arms
from sepsim.platform import design_from_dict

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()
BLOCKS = [yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", README, flags=re.S)]


def test_readme_has_design_and_arm_snippets():
    designs = [b for b in BLOCKS if isinstance(b.get("arms"), list)]
    arm_maps = [b for b in BLOCKS if isinstance(b.get("arms"), dict)]
    assert len(designs) >= 3 and len(arm_maps) >= 1
    for block in designs:
        assert design_from_dict(block).arms == block["arms"]
    for block in arm_maps:
        assert [a.name for a in build_arms(block["arms"])] == list(block["arms"])
