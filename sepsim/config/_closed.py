"""Closed schemas: every key of a composed run config must be one something reads.

OmegaConf's structured merge refuses most unknown keys, but a key forced in with hydra's ``+`` prefix under a group
that hydra already typed (``+scenario.drift=0.5``) and any key under a free-form mapping (``population.options``)
slip through. This walk compares the plain config against the dataclass schemas and the keys the code reads, and
refuses the first unknown key with the list of allowed keys and the closest match (:func:`unknown_key`).
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Iterable, Mapping
from typing import Any

from .._errors import ConfigError
from ._schema import ArmConfig, RunConfig

__all__ = ["check_closed", "unknown_key", "closest"]

# population.options is passed to the patient model's CohortConfig(**options): its fields are the allowed keys
_POPULATION_OPTIONS = ("fixed", "screening_window_h")


def closest(word: str, allowed: Iterable[str]) -> str | None:
    """The allowed word nearest to ``word`` (difflib ratio >= 0.6, ignoring case), or None."""
    by_lower = {str(a).lower(): str(a) for a in allowed}
    hits = difflib.get_close_matches(str(word).lower(), list(by_lower), n=1)
    return by_lower[hits[0]] if hits else None


def unknown_key(
    key: str, allowed: Iterable[str], *, what: str = "unknown key", given: str | None = None
) -> ConfigError:
    """``ConfigError`` for an unknown ``key`` (or an unknown value ``given`` of it): lists what is allowed and names
    the closest match."""
    allowed = sorted(str(a) for a in allowed)
    near = closest(key.rsplit(".", 1)[-1] if given is None else given, allowed)
    hint = f"; did you mean {near!r}?" if near else ""
    listed = ", ".join(allowed) if allowed else "none (nothing reads keys here)"
    return ConfigError(key, f"{what}; allowed: {listed}{hint}")


def _fields(cls: type) -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(cls)}


def _walk(node: Any, cls: type, prefix: str) -> None:
    if not isinstance(node, Mapping):
        return
    fields = _fields(cls)
    for key, value in node.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if key not in fields:
            raise unknown_key(path, fields)
        sub = fields[key].type
        sub_cls = _SCHEMAS.get(sub if isinstance(sub, str) else getattr(sub, "__name__", ""))
        if sub_cls is not None:
            _walk(value, sub_cls, path)


def _schemas() -> dict[str, type]:
    from . import _schema

    return {name: getattr(_schema, name) for name in _schema.__all__}


_SCHEMAS = _schemas()


def check_closed(plain: Mapping[str, Any]) -> None:
    """Refuse the first key of ``plain`` (a run config as a plain dict, without ``hydra``) that nothing reads."""
    _walk({k: v for k, v in plain.items() if k != "hydra"}, RunConfig, "")
    options = (plain.get("population") or {}).get("options") or {}
    if isinstance(options, Mapping):
        for key in options:
            if key not in _POPULATION_OPTIONS:
                raise unknown_key(f"population.options.{key}", _POPULATION_OPTIONS)
    arms = plain.get("arms") or {}
    if isinstance(arms, Mapping):
        for name, arm in arms.items():
            if isinstance(arm, Mapping):
                _walk(arm, ArmConfig, f"arms.{name}")
