"""Every study has its experiment file, its write-up in docs/studies/ and a one-line command in the README's
"Studies" table, and each command composes."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import yaml

from sepsim.cli import CONF_DIR, compose_config

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
SECTION = README[README.index("## Studies") : README.index("## Layout")]
ROWS = re.findall(r"^\| `(\w+)` \| `([^`]+)` \| (.+) \|$", SECTION, flags=re.M)
STUDIES = sorted(
    p.stem for p in (CONF_DIR / "experiment").glob("*.yaml") if (yaml.safe_load(p.read_text()) or {}).get("study")
)


def test_every_study_has_an_experiment_a_write_up_and_a_readme_command():
    assert {"immunosep", "cytosorb", "design_comparison", "thresholds", "platform"} <= set(STUDIES)
    docs = sorted(p.stem for p in (ROOT / "docs" / "studies").glob("*.md"))
    assert docs == STUDIES
    assert sorted(name for name, _, _ in ROWS) == STUDIES
    for name, _, question in ROWS:
        assert f"docs/studies/{name}.md" in question, name
        text = (ROOT / "docs" / "studies" / f"{name}.md").read_text()
        assert "**Question.**" in text and "What to read" in text, name


def test_readme_commands_compose_to_their_study():
    for name, command, _ in ROWS:
        args = shlex.split(command)
        assert args[0] == "sepsim", command
        args = args[1:]
        if args and args[0] == "-m":  # a sweep: compose its first point
            args = [a.split(",")[0] for a in args[1:]]
        assert compose_config(args).name == name, command
