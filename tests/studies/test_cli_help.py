"""`sepsim --help` says what sepsim does, lists every experiment with its question, and shows examples that exist;
hydra's own help stays reachable; bare `sepsim` composes the immunosep study and adaptr stays a named experiment."""

from __future__ import annotations

import re
import sys

import pytest
import yaml

from sepsim import cli
from sepsim.cli import CONF_DIR, compose_config, help_text

EXPERIMENTS = sorted(p.stem for p in (CONF_DIR / "experiment").glob("*.yaml"))


def _run_main(monkeypatch, capsys, *argv: str) -> str:
    monkeypatch.setattr(sys, "argv", ["sepsim", *argv])
    try:
        cli.main()
    except SystemExit as stop:  # hydra's help exits 0 after printing
        assert stop.code in (0, None)
    return capsys.readouterr().out


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_lists_every_experiment_with_its_question(flag, monkeypatch, capsys, tmp_path):
    monkeypatch.chdir(tmp_path)
    out = _run_main(monkeypatch, capsys, flag)
    assert out.startswith("sepsim: in-silico platform trials")
    for name in EXPERIMENTS:
        data = yaml.safe_load((CONF_DIR / "experiment" / f"{name}.yaml").read_text())
        words = cli._one_line(data["description"]).split()
        assert re.search(rf"^  {name}( \(default\))?$", out, re.M), name
        assert " ".join(words[:6]) in " ".join(out.split()), name  # the question, wrapped
    assert "  immunosep (default)" in out
    assert list(tmp_path.iterdir()) == []  # help runs nothing and writes nothing


def test_every_experiment_asks_a_question():
    """Each study's description is its one-line question (calibrate is a fitting job, not a study)."""
    for name in EXPERIMENTS:
        if name == "calibrate":
            continue
        text = yaml.safe_load((CONF_DIR / "experiment" / f"{name}.yaml").read_text())["description"]
        assert text.rstrip().endswith("?") and "\n" not in text, name


def test_help_examples_name_existing_experiments_and_options():
    text = help_text()
    examples = text[text.index("Examples:") :]
    named = re.findall(r"experiment=(\w+)", examples)
    assert named and set(named) <= set(EXPERIMENTS), named
    for group, option in re.findall(r"\b(therapy|adsorber|design|scenario)=(\w+)", examples):
        assert (CONF_DIR / group / f"{option}.yaml").is_file(), (group, option)


def test_help_marks_the_default_of_config_yaml(tmp_path):
    conf = tmp_path / "conf"
    (conf / "experiment").mkdir(parents=True)
    (conf / "config.yaml").write_text("defaults:\n  - _self_\n  - experiment: b\n")
    for name in ("a", "b"):
        (conf / "experiment" / f"{name}.yaml").write_text(f'description: "Question ${{x.y}} {name}?"\n')
    text = help_text(conf)
    assert "  b (default)\n" in text and "  a\n" in text and "Question <x.y> a?" in text


def test_hydra_help_stays_reachable(monkeypatch, capsys, tmp_path):
    monkeypatch.chdir(tmp_path)
    out = _run_main(monkeypatch, capsys, "--hydra-help")
    assert "== Flags ==" in out and "--hydra-help" in out
    assert "Experiments (" not in out


def test_bare_sepsim_is_the_immunosep_study():
    bare, named = compose_config([]), compose_config(["experiment=immunosep"])
    assert bare.name == "immunosep" and bare.outcomes == "mechanistic"
    assert bare == named


def test_adaptr_stays_available_as_a_named_experiment():
    cfg = compose_config(["experiment=adaptr"])
    assert cfg.name == "adaptr" and cfg.outcomes == "scenario"
    assert list(cfg.design.arms) == ["A", "B", "C"] and cfg.scenario.name == "adaptr_null"
