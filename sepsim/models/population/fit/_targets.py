"""Calibration targets as data (``conf/targets/*.yaml``) and their compilation against a patient library.

Every target is a statistic of the virtual patients of the population it was measured in, as a weighted mean over
a library (:mod:`._library`) of indicator columns ``y`` (patient x category) within a mask:

* ``binomial``: one indicator (``responder`` or ``dead_28d`` under ``arm``; ``responder_matched``: under the
  endotype-matched active arm), among patients of ``endotypes``;
* ``multinomial``: one-hot endotype (``endotype``) or the enrolled shares (``endotype_enrolled``: MALS and
  immunoparalysis scaled by ``enrolled_fraction``, the remainder not enrolled);
* ``median``: the two order-statistic indicators ``sofa_baseline <= value - 1`` and ``<= value``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import yaml

from ...._errors import DataFileError
from ._library import ARMS, ENDOTYPE_CODES, Library

__all__ = ["Target", "CompiledTarget", "compile_targets", "default_targets_path", "load_targets"]

_KINDS = ("binomial", "multinomial", "median")


class Target(NamedTuple):
    """One calibration target (a row of the targets file)."""

    id: str
    description: str
    source: str
    population: dict[str, list[Any]]
    kind: str
    statistic: str
    arm: str | None
    endotypes: tuple[str, ...]
    categories: tuple[str, ...]
    counts: np.ndarray  # observed counts per category (binomial: [k, n - k]; median: order-statistic bounds)
    n: int
    value: float | None
    enrolled_fraction: float
    fit: bool


class CompiledTarget(NamedTuple):
    """A target against one library: mask (patient,) and indicator columns (patient, category)."""

    target: Target
    mask: np.ndarray
    y: np.ndarray


def default_targets_path() -> Path:
    """``conf/targets/immunosep.yaml`` of the working directory, else of the source checkout."""
    here = Path("conf/targets/immunosep.yaml")
    return here if here.is_file() else Path(__file__).resolve().parents[4] / "conf" / "targets" / "immunosep.yaml"


def load_targets(path: str | Path | None = None) -> tuple[Target, ...]:
    """Parse and validate a targets file; :class:`DataFileError` names the file and the target id."""
    path = Path(default_targets_path() if path is None else path)
    if not path.is_file():
        raise DataFileError(str(path), "targets file not found")
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    pops = raw.get("populations", {}) if isinstance(raw, dict) else {}
    out = []
    for row in raw.get("targets", []) if isinstance(raw, dict) else []:
        tid = str(row.get("id", "?"))

        def bad(msg: str, tid: str = tid) -> DataFileError:
            return DataFileError(str(path), msg, column=tid)

        for key in ("id", "source", "population", "kind", "statistic"):
            if key not in row:
                raise bad(f"missing field {key!r}")
        if row["kind"] not in _KINDS:
            raise bad(f"kind must be one of {_KINDS}")
        if row["population"] not in pops:
            raise bad(f"unknown population {row['population']!r}; defined: {sorted(pops)}")
        arm = row.get("arm")
        if arm is not None and arm not in ARMS:
            raise bad(f"arm must be one of {ARMS}")
        endos = tuple(row.get("endotypes", ()))
        if not set(endos) <= set(ENDOTYPE_CODES):
            raise bad(f"endotypes must be among {tuple(ENDOTYPE_CODES)}")
        value = None
        if row["kind"] == "binomial":
            k, n = int(row["k"]), int(row["n"])
            if not 0 <= k <= n:
                raise bad("need 0 <= k <= n")
            counts, cats = np.array([k, n - k]), ("event", "no_event")
        elif row["kind"] == "multinomial":
            counts, cats = np.asarray(row["counts"], dtype=int), tuple(row["categories"])
            if len(counts) != len(cats) or (counts < 0).any():
                raise bad("counts must be non-negative, one per category")
            n = int(counts.sum())
        else:
            n, value = int(row["n"]), float(row["value"])
            below = n // 2 - 1 if n % 2 == 0 else (n - 1) // 2  # most patients with SOFA <= value - 1
            counts, cats = np.array([below, n // 2 + 1]), ("below", "at_or_below")  # at least n//2+1 <= value
        out.append(
            Target(
                tid,
                str(row.get("description", "")),
                str(row["source"]),
                dict(pops[row["population"]]),
                row["kind"],
                row["statistic"],
                arm,
                endos,
                cats,
                counts,
                n,
                value,
                float(row.get("enrolled_fraction", 1.0)),
                bool(row.get("fit", True)),
            )
        )
    if not out:
        raise DataFileError(str(path), "no targets")
    return tuple(out)


def _population_mask(lib: Library, population: dict[str, list[Any]]) -> np.ndarray:
    keep = lib.ok.copy()
    for k, allowed in population.items():
        keep &= np.isin(lib.covariate(k).astype(int), allowed)
    return keep


def compile_targets(targets: tuple[Target, ...], lib: Library) -> tuple[CompiledTarget, ...]:
    """Masks and indicator columns of every target on ``lib``."""
    out = []
    endo = lib.endotype
    for t in targets:
        mask = _population_mask(lib, t.population)
        if t.endotypes:
            mask &= np.isin(endo, [ENDOTYPE_CODES[e] for e in t.endotypes])
        if t.kind == "binomial":
            if t.statistic == "responder_matched":
                matched = np.where(endo == ENDOTYPE_CODES["MALS"], lib.responder[:, 1], lib.responder[:, 2])
                y, solved = matched, np.where(endo == ENDOTYPE_CODES["MALS"], lib.solved[:, 1], lib.solved[:, 2])
            else:
                a = ARMS.index(t.arm)
                y = lib.responder[:, a] if t.statistic == "responder" else lib.dead_28d[:, a]
                solved = lib.solved[:, a]
            mask &= solved
            y = np.stack([y, 1.0 - y], 1)
        elif t.kind == "multinomial":
            codes = [ENDOTYPE_CODES.get(c, -1) for c in t.categories]
            y = np.stack([(endo == c).astype(float) for c in codes], 1)
        else:
            s0 = lib.sofa_baseline
            y = np.stack([(s0 <= t.value - 1).astype(float), (s0 <= t.value).astype(float)], 1)
        out.append(CompiledTarget(t, mask, np.nan_to_num(np.asarray(y, dtype=np.float64))))
    return tuple(out)
