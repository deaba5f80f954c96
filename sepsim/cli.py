"""Command-line entry points: ``sepsim`` (a hydra app over ``conf/``) and ``sepsim-collect`` (merge a sweep).

``sepsim experiment=NAME key=value ...`` runs one study (bare ``sepsim`` runs ``immunosep``, the default of
``conf/config.yaml``); ``sepsim -m key=a,b ...`` sweeps with hydra's multirun (launchers: basic,
``hydra/launcher=submitit_local``, ``hydra/launcher=submitit_slurm``). Experiments live in ``experiments/`` at the
repository root; ``conf/experiment`` links to it so hydra's search path finds them. ``sepsim --help`` prints what
sepsim does, the experiments with the question each answers (its ``description``) and examples; hydra's own help
stays at ``sepsim --hydra-help``.
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
import textwrap
from pathlib import Path

import hydra
from hydra.core.config_store import ConfigStore
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from ._errors import ConfigError, DataFileError
from .config import RunConfig

__all__ = ["main", "collect_main", "help_text", "CONF_DIR"]

REPO_ROOT = Path(__file__).resolve().parents[1]
CONF_DIR = REPO_ROOT / "conf"
log = logging.getLogger("sepsim")

ConfigStore.instance().store(name="run_schema", node=RunConfig)


_HELP_HEAD = """\
sepsim: in-silico platform trials of precision immunotherapy in sepsis.

Virtual septic patients (a Bayesian population model) are run through JAX cytokine, immune, drug and adsorber
dynamics under every trial arm; thousands of simulated trials (fixed, response-adaptive or group-sequential
designs) then draw their patients from that table. A run writes one directory (outputs/<study>/<date>_<time>/)
with results.nc, oc.nc, summary.json, figures/ and report.html.

Usage:
  sepsim [experiment=NAME] [key=value ...]    one study (bare `sepsim` runs the default below)
  sepsim -m experiment=NAME key=a,b ...       a sweep (hydra multirun), merged by `sepsim-collect DIR`
"""
_HELP_TAIL = """\
Examples:
  sepsim                                          the default study (immunosep), a few minutes on 2 CPU cores
  sepsim experiment=adaptr n_trials=5000          a named study with an override
  sepsim experiment=add_on therapy=gm_csf adsorber=cytosorb
  sepsim -m experiment=thresholds study.ferritin_cutoff=3000,4420,6000 study.hla_dr_cutoff=4000,5000,8000
  sepsim experiment=design_comparison n_trials=200
  sepsim --cfg job experiment=cytosorb            print the composed config and exit

More: `sepsim --hydra-help` (hydra's own flags: --cfg, --multirun, --info, ...), README.md, docs/studies/.
"""


def _one_line(description: str) -> str:
    """An experiment's description for the help: interpolations (``${therapy.name}``) shown as ``<therapy.name>``."""
    return re.sub(r"\$\{([^}]+)\}", r"<\1>", " ".join(str(description).split()))


def help_text(conf_dir: Path = CONF_DIR) -> str:
    """What ``sepsim --help`` prints: what sepsim does, every experiment with its question, examples."""
    import yaml

    defaults = (yaml.safe_load((conf_dir / "config.yaml").read_text()) or {}).get("defaults", [])
    default = next((d["experiment"] for d in defaults if isinstance(d, dict) and "experiment" in d), None)
    rows = []
    for path in sorted((conf_dir / "experiment").glob("*.yaml")):
        data = yaml.safe_load(path.read_text()) or {}
        question = _one_line(data.get("description", "")) or "(no description)"
        mark = " (default)" if path.stem == default else ""
        wrapped = textwrap.wrap(question, width=86, initial_indent="    ", subsequent_indent="    ")
        rows.append(f"  {path.stem}{mark}\n" + "\n".join(wrapped))
    groups = []
    for group in ("design", "scenario", "endpoint", "population", "therapy", "adsorber"):
        options = ", ".join(sorted(p.stem for p in (conf_dir / group).glob("*.yaml")))
        groups.append(textwrap.fill(options, width=110, initial_indent=f"  {group}=", subsequent_indent="    "))
    return (
        _HELP_HEAD
        + "\nExperiments (experiments/<name>.yaml; sepsim experiment=<name>):\n"
        + "\n".join(rows)
        + "\n\nConfig groups (group=option):\n"
        + "\n".join(groups)
        + "\n\n"
        + _HELP_TAIL
    )


def _refuse(err: Exception) -> None:
    """One line on stderr naming the key (or file) and what is allowed; exit status 2."""
    print(f"sepsim: invalid configuration, nothing was run: {err}", file=sys.stderr)
    raise SystemExit(2)


def describe_error(err: BaseException) -> str:
    """The first line of a hydra/OmegaConf error and of its cause (the cause says what was wrong with the value)."""
    lines = [str(err).strip().splitlines()[0]]
    if err.__cause__ is not None and str(err.__cause__).strip():
        lines.append(str(err.__cause__).strip().splitlines()[0])
    return "; ".join(lines)


def compose_config(overrides: list[str]) -> DictConfig:
    """Compose ``conf/`` with command-line style overrides (no hydra run directory is created).

    Hydra's composition errors (a missing option, a typo'd key) become the CLI's ``ConfigError``.
    """
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from .config import hydra_error

    with initialize_config_dir(version_base="1.3", config_dir=str(CONF_DIR), job_name="sepsim"):
        try:
            return compose(config_name="config", overrides=overrides)
        except (HydraException, OmegaConfBaseException) as err:
            raise hydra_error(err) from None


def _prevalidate(argv: list[str]) -> None:
    """Compose and validate the run, or every point of a ``-m`` sweep, before hydra makes any directory."""
    from .config import preflight, validate

    try:
        preflight(argv, CONF_DIR, validate)
    except (ConfigError, DataFileError) as err:
        _refuse(err)


def _configure_runtime(precision: str) -> None:
    """Process-wide settings of a CLI job (never done at import time): JAX precision, quiet third-party loggers."""
    import jax

    jax.config.update("jax_enable_x64", precision == "float64")
    for name in ("jax", "absl", "matplotlib", "h5py"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _run(cfg: DictConfig) -> None:
    from .config import validate
    from .pipeline import run_pipeline

    try:
        run_cfg = validate(cfg)
    except (ConfigError, DataFileError) as err:
        log.error("invalid configuration, nothing was run: %s", err)
        _refuse(err)
    _configure_runtime(run_cfg.runtime.precision)
    try:
        run_pipeline(run_cfg, Path(HydraConfig.get().runtime.output_dir))
    except (ConfigError, DataFileError) as err:  # found only once the data exist (e.g. no eligible patient)
        log.error("refused: %s", err)
        print(f"sepsim: refused: {err}", file=sys.stderr)
        raise SystemExit(2) from None


def main() -> None:
    """Entry point of the ``sepsim`` console script."""
    if not CONF_DIR.is_dir():
        sys.exit(f"sepsim: config directory {CONF_DIR} not found (install from the source tree: pip install -e .)")
    if {"--help", "-h"} & set(sys.argv[1:]):  # hydra's own help stays at --hydra-help
        print(help_text())
        return
    _prevalidate(sys.argv[1:])
    hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="config")(_run)()


def collect_main(argv: list[str] | None = None) -> None:
    """Entry point of ``sepsim-collect MULTIRUN_DIR``: merge a sweep into one netCDF with swept parameters as dims."""
    from .collect import collect

    parser = argparse.ArgumentParser(prog="sepsim-collect", description=collect_main.__doc__)
    parser.add_argument("multirun_dir", type=Path, help="a hydra multirun directory (holds 0/, 1/, ...)")
    parser.add_argument("--artifact", default="oc.nc", help="per-run file to merge (default: oc.nc)")
    parser.add_argument("-o", "--output", type=Path, default=None, help="output file (default: MULTIRUN_DIR/merged.nc)")
    parser.add_argument(
        "--report",
        action="store_true",
        help="also write MULTIRUN_DIR/report/ (report.html: the OCs, or with another --artifact every quantity of that"
        " file, against the sweep; heat maps when two parameters are swept)",
    )
    args = parser.parse_args(argv)
    try:
        merged, out = collect(args.multirun_dir, artifact=args.artifact, output=args.output)
        if args.report:
            from .report import write_sweep_report
            from .report._sweep_artifact import write_artifact_sweep_report

            write = write_sweep_report if args.artifact == "oc.nc" else write_artifact_sweep_report
            page = write(merged, Path(args.multirun_dir) / "report")
    except (ConfigError, DataFileError, FileNotFoundError) as err:
        print(f"sepsim-collect: {err}", file=sys.stderr)
        raise SystemExit(2) from None
    print(f"merged {merged.attrs['n_runs']} runs over [{merged.attrs['swept']}] into {out}")
    if args.report:
        print(f"sweep report: {page}")
    print(merged)


if __name__ == "__main__":
    main()
