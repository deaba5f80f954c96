"""Build an arm from a plain config mapping (hydra ``therapy`` group), validating every key first.

Schema::

    therapies: [anakinra, {name: interferon_gamma, n_doses: 4}]   # names or {name, **regimen/parameter overrides}
    adsorber: cytosorb | {name: cytosorb, mode: sessions, qb_ml_min: 250} | null
    name: optional arm label (ignored here)

``therapy: <name>`` (one therapy) is accepted as a shorthand; ``placebo`` (or nothing) gives :class:`Placebo`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from sepsim._errors import ConfigError

from .._arms import AbstractArm, Placebo
from ._arm import Combination
from ._params import load_param_table, param_files
from .adsorbers import ADSORBERS
from .therapies import THERAPIES

__all__ = ["arm_from_config", "ARM_KEYS"]

ARM_KEYS = ("name", "therapies", "therapy", "adsorber")


def _overridable(cls) -> dict[str, dataclasses.Field]:
    return {
        f.name: f
        for f in dataclasses.fields(cls)
        if f.init and not f.name.startswith("_") and isinstance(f.default, int | float | str)
    }


# parameter file and key prefixes of each therapy/device whose file is not simply params/<name>.yaml with bare keys
_PARAM_FILE = {
    "anti_pd1": ("checkpoint", ("nivolumab", "anti_pd1")),
    "anti_pdl1": ("checkpoint", ("anti_pdl1",)),
    "ivig": ("immunoglobulin", ("ivig",)),
    "igm_ivig": ("immunoglobulin", ("igm",)),
    **{d: ("devices", (d,)) for d in ("oxiris", "toraymyxin", "pmma", "an69st", "hvhf")},
}


def _documented_range(name: str, setting: str) -> tuple[float, float, str] | None:
    """``(low, high, file)`` of ``setting`` in the therapy's or device's parameter file, if it documents one."""
    file, prefixes = _PARAM_FILE.get(name, (name, ()))
    if file not in param_files():
        return None
    table = load_param_table(file)
    for k in (setting, *(f"{p}_{setting}" for p in prefixes)):
        if k in table:
            lo, hi = table[k]["range"]
            return float(lo), float(hi), f"params/{file}.yaml: {k}"
    return None


def _build(kind: str, registry: dict, spec: Any, key: str):
    if isinstance(spec, str):
        spec = {"name": spec}
    if not isinstance(spec, Mapping) or "name" not in spec:
        raise ConfigError(key, f"expected a {kind} name or a mapping with 'name'; allowed names: {sorted(registry)}")
    name = spec["name"]
    if name not in registry:
        raise ConfigError(f"{key}.name", f"unknown {kind} {name!r}; allowed: {sorted(registry)}")
    cls = registry[name]
    fields = _overridable(cls)
    kwargs = {}
    for k, v in spec.items():
        if k == "name":
            continue
        if k not in fields:
            raise ConfigError(f"{key}.{k}", f"unknown setting for {name}; allowed: {sorted(fields)}")
        default = fields[k].default
        if isinstance(default, bool) or isinstance(v, bool):
            raise ConfigError(f"{key}.{k}", f"expected a number or string, got {v!r}")
        if isinstance(default, int):
            if not (isinstance(v, int) or (isinstance(v, float) and float(v).is_integer())) or v < 1:
                raise ConfigError(f"{key}.{k}", f"expected a positive integer, got {v!r}")
            v = int(v)
        elif isinstance(default, float):
            if not isinstance(v, int | float) or v < 0:
                raise ConfigError(f"{key}.{k}", f"expected a non-negative number, got {v!r}")
            v = float(v)
        elif isinstance(default, str) and not isinstance(v, str):
            raise ConfigError(f"{key}.{k}", f"expected a string, got {v!r}")
        documented = None if isinstance(v, str) else _documented_range(name, k)
        if documented is not None and not documented[0] <= v <= documented[1]:
            lo, hi, where = documented
            raise ConfigError(f"{key}.{k}", f"{v!r} is outside the documented range [{lo:g}, {hi:g}] ({where})")
        kwargs[k] = v
    try:
        return cls(**kwargs)
    except (ValueError, TypeError) as err:
        raise ConfigError(key, str(err)) from err


def arm_from_config(config: Mapping[str, Any] | str | None) -> AbstractArm:
    """An arm from its config; raises :class:`ConfigError` (key ``therapy.<...>``) on any unknown name or key.

    Args:
        config: mapping as in the module docstring, a single therapy/device name, ``"placebo"`` or ``None``.

    Returns:
        :class:`Placebo`, a single therapy, a single device, or a :class:`Combination`.
    """
    if config is None or config == "placebo":
        return Placebo()
    if isinstance(config, str):
        if config in ADSORBERS:
            return _build("adsorber", ADSORBERS, config, "therapy.adsorber")
        return _build("therapy", THERAPIES, config, "therapy.therapy")
    if not isinstance(config, Mapping):
        raise ConfigError("therapy", f"expected a mapping with keys {ARM_KEYS}, got {type(config).__name__}")
    for k in config:
        if k not in ARM_KEYS:
            raise ConfigError(f"therapy.{k}", f"unknown key; allowed: {list(ARM_KEYS)}")
    specs = config.get("therapies") or []
    if "therapy" in config and config["therapy"] not in (None, "placebo"):
        specs = [config["therapy"], *specs]
    if isinstance(specs, str | Mapping):
        specs = [specs]
    specs = [s for s in specs if s != "placebo"]
    therapies = tuple(_build("therapy", THERAPIES, s, f"therapy.therapies[{i}]") for i, s in enumerate(specs))
    names = [t.name for t in therapies]
    if len(set(names)) != len(names):
        raise ConfigError("therapy.therapies", f"each therapy may appear once, got {names}")
    adsorber = config.get("adsorber")
    device = None if adsorber in (None, "none") else _build("adsorber", ADSORBERS, adsorber, "therapy.adsorber")
    if device is None and not therapies:
        return Placebo()
    if device is None and len(therapies) == 1:
        return therapies[0]
    if not therapies:
        return device
    return Combination(therapies=therapies, device=device)
