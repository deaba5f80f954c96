"""Checks of a ``sepsim`` command line before hydra makes any directory: compose the run (or every point of a
``-m`` sweep) exactly as hydra will, validate each, check the launcher and the output directories, and rewrite
hydra's own composition errors (missing option, typo'd key, YAML syntax, malformed experiment file) as one
:class:`~sepsim._errors.ConfigError` that says what is allowed.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from .._errors import ConfigError, DataFileError
from ._closed import unknown_key

__all__ = ["preflight", "hydra_error", "check_writable"]

_HELP_FLAGS = ("help", "hydra_help", "cfg", "info", "shell_completion")


def check_writable(path: str | os.PathLike[str], key: str) -> None:
    """``path`` is (or can be made as) a directory this process may write: its nearest existing ancestor is a
    writable directory and nothing on the way is a file."""
    p = Path(path).absolute()
    probe = p
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise ConfigError(key, f"{p} cannot be a directory: {probe} is a file")
    try:  # os.access says yes to root everywhere: try it (the probe directory is removed at once)
        tempfile.TemporaryDirectory(dir=probe, prefix=".sepsim-probe-").cleanup()
    except OSError as err:
        raise ConfigError(key, f"{p} is not writable ({probe}: {err.strerror})") from None


def _group_options(hydra: Any, group: str) -> list[str]:
    from hydra.core.object_type import ObjectType

    try:
        return sorted(hydra.config_loader.get_group_options(group, results_filter=ObjectType.CONFIG))
    except Exception:  # noqa: BLE001 - an unknown group has no options to list
        return []


def hydra_error(err: BaseException, hydra: Any = None) -> ConfigError:
    """Hydra's or OmegaConf's composition error as one ``ConfigError`` naming the key and what is allowed."""
    from hydra.errors import MissingConfigException

    text = str(err).strip()
    cause = err.__cause__
    missing = re.search(r"Could not find '([^']+)/([^']+)'", text)
    if isinstance(err, MissingConfigException) and missing:
        group, option = missing.groups()
        options = list(err.options or []) or (_group_options(hydra, group) if hydra is not None else [])
        return (
            unknown_key(group, options, what=f"no option {option!r}", given=option)
            if options
            else ConfigError(group, text)
        )
    key = getattr(cause, "full_key", None) or getattr(err, "full_key", None)
    not_in = re.search(r"Key '([^']+)' not in '(\w+)'", f"{text}\n{cause or ''}")
    if not_in:
        from ._closed import _SCHEMAS

        cls = _SCHEMAS.get(not_in.group(2))
        if cls is not None:
            import dataclasses

            full = str(key or not_in.group(1))
            return unknown_key(full, [f.name for f in dataclasses.fields(cls)])
    if cause is not None and type(cause).__module__.startswith("yaml"):
        return ConfigError("config file", f"YAML syntax error: {' '.join(str(cause).split())}")
    first = text.splitlines()[0] if text else type(err).__name__
    if cause is not None and str(cause).strip():
        first += "; " + str(cause).strip().splitlines()[0]
    return ConfigError(str(key or "overrides"), first)


def _check_experiment_files(config_dirs: list[Path], overrides: list[str]) -> None:
    """An experiment file must be a mapping starting with ``# @package _global_`` (hydra would otherwise nest it
    under ``experiment`` and refuse it with a traceback, or accept a list)."""
    import yaml

    for ov in overrides:
        m = re.fullmatch(r"\+*experiment=(.+)", ov)
        if not m:
            continue
        for name in m.group(1).split(","):
            for d in config_dirs:
                path = d / "experiment" / f"{name.strip()}.yaml"
                if not path.is_file():
                    continue
                text = path.read_text()
                try:
                    body = yaml.safe_load(text)
                except yaml.YAMLError as err:
                    mark = getattr(err, "problem_mark", None)
                    row = mark.line + 1 if mark is not None else None
                    where = f" at column {mark.column + 1}" if mark is not None else ""
                    raise DataFileError(
                        str(path), f"YAML syntax error{where}: {getattr(err, 'problem', err)}", row=row
                    ) from None
                if "# @package _global_" not in text.split("\n", 1)[0]:
                    raise DataFileError(str(path), "an experiment file must start with '# @package _global_'", row=1)
                if not isinstance(body, dict):
                    raise DataFileError(str(path), f"an experiment file must be a mapping, got {type(body).__name__}")
                break


def _make_hydra(conf_dir: Path, extra_dir: str | None) -> Any:
    from hydra._internal.hydra import Hydra
    from hydra._internal.utils import create_config_search_path
    from hydra.core.config_search_path import SearchPathQuery
    from hydra.core.global_hydra import GlobalHydra

    search_path = create_config_search_path(f"file://{conf_dir}")
    if extra_dir is not None:
        path = Path(extra_dir).absolute()
        if not path.is_dir():
            raise ConfigError("--config-dir", f"{path} is not a directory")
        search_path.prepend("command-line", f"file://{path}", anchor=SearchPathQuery(provider="schema"))
    GlobalHydra.instance().clear()
    return Hydra.create_main_hydra2(task_name="sepsim", config_search_path=search_path)


def _check_launcher(cfg: DictConfig) -> None:
    launcher = OmegaConf.select(cfg, "hydra.launcher._target_") or ""
    if not launcher:
        return
    module = launcher.rsplit(".", 1)[0]
    try:
        import importlib

        importlib.import_module(module)
    except ImportError as err:
        raise ConfigError("hydra/launcher", f"the launcher {launcher} cannot be imported ({err})") from None
    if "Slurm" in launcher and shutil.which("sbatch") is None:
        raise ConfigError(
            "hydra/launcher",
            "a SLURM launcher needs the sbatch command, which is not on PATH: submit from a cluster login node, "
            "or use hydra/launcher=submitit_local (or basic) on this machine",
        )


def _output_dir(cfg: DictConfig, mode: str) -> str | None:
    try:
        return str(OmegaConf.select(cfg, f"hydra.{mode}.dir", throw_on_resolution_failure=True))
    except Exception:  # noqa: BLE001 - a dir made of hydra-only interpolations is checked by hydra itself
        return None


def preflight(argv: list[str], conf_dir: Path, validate: Callable[[DictConfig], Any]) -> int:
    """Validate the command line ``argv`` of ``sepsim``: every run it would make. Returns the number of runs.

    Raises ``ConfigError`` / ``DataFileError`` on the first problem; creates nothing on disk.
    """
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra._internal.utils import get_args_parser
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException
    from hydra.types import RunMode
    from omegaconf.errors import OmegaConfBaseException

    args = get_args_parser().parse_args(argv)
    if any(getattr(args, f, None) for f in _HELP_FLAGS) or args.config_name not in (None, "config"):
        return 0  # hydra's own help and inspection commands, or another root config: hydra handles them
    dirs = [Path(args.config_dir).absolute()] if args.config_dir else []
    _check_experiment_files([*dirs, conf_dir], args.overrides)
    hydra = None
    try:
        hydra = _make_hydra(conf_dir, args.config_dir)
        mode = RunMode.MULTIRUN if args.multirun else RunMode.RUN
        top = hydra.compose_config("config", args.overrides, run_mode=mode, with_log_configuration=False)
        if args.multirun:
            _check_launcher(top)
            parser = OverridesParser.create(config_loader=hydra.config_loader)
            params = OmegaConf.select(top, "hydra.sweeper.params") or {}  # sweeps declared in config
            swept = [f"{k}={v}" for k, v in params.items()] + list(args.overrides)
            jobs = BasicSweeper.split_arguments(parser.parse_overrides(swept), None)[0]
        else:
            jobs = [args.overrides]
        for job in jobs:
            cfg = hydra.compose_config("config", list(job), run_mode=RunMode.RUN, with_log_configuration=False)
            validate(cfg)
    except (ConfigError, DataFileError):
        raise
    except (HydraException, OmegaConfBaseException) as err:
        raise hydra_error(err, hydra) from None
    except Exception as err:  # noqa: BLE001 - hydra's own assertion failures, e.g. on a malformed hydra.* node
        text = " ".join(str(err).split()) or "no message"
        raise ConfigError("overrides", f"hydra could not compose them ({type(err).__name__}: {text})") from None
    finally:
        GlobalHydra.instance().clear()
    out = _output_dir(top, "sweep" if args.multirun else "run")
    if out is not None:
        check_writable(out, "hydra.sweep.dir" if args.multirun else "hydra.run.dir")
    return len(jobs)
