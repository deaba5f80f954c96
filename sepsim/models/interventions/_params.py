"""Parameter files: every number with its unit, plausible range and source (``params/<name>.yaml``).

Each YAML file maps a parameter name to ``{value, unit, range: [lo, hi], source}``. :func:`load_params` returns the
values only; :func:`load_param_table` returns the full records (used by tests and the README table).
"""

from __future__ import annotations

from functools import cache
from importlib import resources

import yaml

from sepsim._errors import DataFileError

__all__ = ["load_param_table", "load_params", "param_files"]

_REQUIRED = ("value", "unit", "range", "source")


def param_files() -> list[str]:
    """Names (without ``.yaml``) of all intervention parameter files."""
    root = resources.files("sepsim.models.interventions") / "params"
    return sorted(p.name[: -len(".yaml")] for p in root.iterdir() if p.name.endswith(".yaml"))


@cache
def load_param_table(name: str) -> dict[str, dict]:
    """Full records of ``params/<name>.yaml``; raises :class:`DataFileError` on a malformed record."""
    path = resources.files("sepsim.models.interventions") / "params" / f"{name}.yaml"
    try:
        table = yaml.safe_load(path.read_text())
    except FileNotFoundError as err:
        raise DataFileError(str(path), "no such parameter file") from err
    if not isinstance(table, dict):
        raise DataFileError(str(path), "expected a mapping of parameter name -> record")
    for key, rec in table.items():
        if not isinstance(rec, dict) or any(k not in rec for k in _REQUIRED):
            raise DataFileError(str(path), f"record needs keys {_REQUIRED}", column=key)
        lo, hi = rec["range"]
        if not (float(lo) <= float(rec["value"]) <= float(hi)):
            raise DataFileError(str(path), f"value {rec['value']} outside range {rec['range']}", column=key)
    return table


def load_params(name: str) -> dict[str, float]:
    """Values of ``params/<name>.yaml`` as floats."""
    return {k: float(rec["value"]) for k, rec in load_param_table(name).items()}
