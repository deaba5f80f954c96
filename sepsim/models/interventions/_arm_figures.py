"""Per-arm figures in the same virtual patients: ``python -m sepsim.models.interventions._arm_figures OUTDIR``.

For every arm (each therapy and device, placebo and two combinations) the same virtual patients (behaviour
parameter sets of ``sepsim.models._behaviours`` with fixed covariates) are solved with the patient solver, arm
states included, and drawn into ``arms_<arm>.png``: one row per patient, columns (a) drug exposure (plasma
concentration of each drug, log scale; device clearance of IL-6, TNF and endotoxin on the right axis), (b) the
pathway(s) the arm targets, treated vs placebo, and (c) the clinical course (organ dysfunction in SOFA points,
probability of being alive from the cumulative death hazard), treated vs placebo.
"""

from __future__ import annotations

import io
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ..._io import atomic_savefig
from .._arms import mediators_from_state
from .._behaviours import BEHAVIOURS
from .._effects import Covariates
from .._outcomes import FERRITIN_MALS, HLA_DR_IP
from .._params import reference_params
from .._patient_rhs import IDX_DEATH, N_STATES, STATE_NAMES, to_physical
from .._solve import make_batch_solver
from ._arm import as_combination
from ._config import arm_from_config

__all__ = ["DEFAULT_ARMS", "PATIENTS", "ArmCourse", "simulate_arms", "plot_arms", "main"]

PATIENTS = ("immunoparalysis", "MALS", "septic_death")
# (label, config for arm_from_config): every therapy and device, placebo, and two combinations
DEFAULT_ARMS: tuple[tuple[str, Any], ...] = (
    ("placebo", "placebo"),
    ("anakinra", "anakinra"),
    ("interferon_gamma", "interferon_gamma"),
    ("gm_csf", "gm_csf"),
    ("interleukin7 (IM)", {"therapies": [{"name": "interleukin7", "route": "im"}]}),
    ("thymosin_alpha1", "thymosin_alpha1"),
    ("anti_pd1", "anti_pd1"),
    ("anti_pdl1", "anti_pdl1"),
    ("ivig", "ivig"),
    ("igm_ivig", "igm_ivig"),
    ("ulinastatin", "ulinastatin"),
    ("ulinastatin + thymosin_alpha1", {"therapies": ["ulinastatin", "thymosin_alpha1"]}),
    ("cytosorb", "cytosorb"),
    ("oxiris", "oxiris"),
    ("toraymyxin", "toraymyxin"),
    ("hvhf", "hvhf"),
    ("anakinra + cytosorb", {"therapies": ["anakinra"], "adsorber": "cytosorb"}),
)
# Fixed covariates per patient (weight kg, haematocrit, CrCl mL/min, platelets 10^3/uL) [U]; same in every arm.
_COVARIATES = {"immunoparalysis": (80.0, 0.30, 60.0, 150.0), "mals": (70.0, 0.28, 90.0, 90.0)}
_DEFAULT_COVARIATES = (65.0, 0.32, 45.0, 120.0)
# Pathway read-outs per therapy/device name; devices all act on IL-6, TNF and endotoxin.
_TARGETS = {
    "placebo": ("ferritin", "hla_dr"),
    "anakinra": ("il1_signal", "ferritin", "il6"),
    "interferon_gamma": ("hla_dr",),
    "gm_csf": ("hla_dr",),
    "thymosin_alpha1": ("hla_dr", "lymphocytes"),
    "interleukin7": ("lymphocytes",),
    "anti_pd1": ("lymphocytes", "hla_dr"),
    "anti_pdl1": ("lymphocytes", "hla_dr"),
    "ivig": ("pathogen", "endotoxin"),
    "igm_ivig": ("pathogen", "endotoxin"),
    "ulinastatin": ("il6", "tnf"),
    "device": ("il6", "tnf", "endotoxin"),
}
_LABELS = {  # read-out -> (axis label with unit, log scale)
    "il1_signal": ("IL-1R signal S1 (fraction of max.)", False),
    "ferritin": ("ferritin (ng/mL)", True),
    "il6": ("IL-6 (pg/mL)", True),
    "tnf": ("TNF (pg/mL)", True),
    "endotoxin": ("endotoxin/PAMP (EU/mL)", True),
    "pathogen": ("pathogen (10^6/mL, floor 1e-6)", True),
    "hla_dr": ("monocyte HLA-DR (AB/C)", False),
    "lymphocytes": ("lymphocytes (10^3/uL)", False),
}
_SHORT = {"il1_signal": "IL-1R signal", "ferritin": "ferritin", "il6": "IL-6", "tnf": "TNF", "endotoxin": "endotoxin",
          "pathogen": "pathogen", "hla_dr": "mHLA-DR", "lymphocytes": "lymphocytes"}  # fmt: skip
_THRESHOLDS = {"ferritin": FERRITIN_MALS, "hla_dr": HLA_DR_IP}  # ImmunoSep endotype cut-offs, dotted
_DPI = 110
_DEVICE_SOLUTES = ("il6", "tnf", "endotoxin")


class ArmCourse(NamedTuple):
    """One arm solved in the figure patients (leading axis: patient; times in hours from randomisation).

    Attributes:
        t_h: saved times, h, shape ``(T,)``.
        ok: per-patient solver success.
        x: patient states in physical units (``STATE_NAMES`` order, then cumulative death and infection hazards),
            shape ``(P, T, 14)``; non-finite after a solver failure.
        readouts: pathway read-outs ``(P, T)`` by name (states of ``_LABELS`` and the IL-1R signal ``il1_signal``).
        concentrations: plasma concentration of each drug ``(P, T)``, ng/mL (ulinastatin kIU/L).
        device_cl: device clearance of IL-6, TNF and endotoxin ``(P, T)``, mL/min (empty without a device).
        targets: the read-outs this arm acts on.
    """

    t_h: np.ndarray
    ok: np.ndarray
    x: np.ndarray
    readouts: dict[str, np.ndarray]
    concentrations: dict[str, np.ndarray]
    device_cl: dict[str, np.ndarray]
    targets: tuple[str, ...]


def _patients(names: Sequence[str]) -> tuple[Any, Covariates]:
    keys = {k.lower(): k for k in BEHAVIOURS}
    unknown = [n for n in names if n.lower() not in keys]
    if unknown:
        raise ValueError(f"unknown patients {unknown}; allowed: {sorted(BEHAVIOURS)}")
    ps = [reference_params(**BEHAVIOURS[keys[n.lower()]]) for n in names]
    params = jax.tree.map(lambda *v: jnp.stack(v), *ps)
    cov = np.array([_COVARIATES.get(n.lower(), _DEFAULT_COVARIATES) for n in names], dtype=np.float64)
    return params, Covariates(*(jnp.asarray(c) for c in cov.T))


def _targets(arm: Any) -> tuple[str, ...]:
    comb = as_combination(arm)
    names = [t.name for t in comb.therapies] + (["device"] if comb.device is not None else [])
    out: list[str] = []
    for n in names or ["placebo"]:
        out += [r for r in _TARGETS.get(n, ()) if r not in out]
    return tuple(out)


def _course(arm: Any, params: Any, cov: Covariates, ts: jnp.ndarray) -> ArmCourse:
    """Solve ``arm`` in the patients (one compile per arm structure) and evaluate its read-outs."""
    n = cov.weight_kg.shape[0]
    sol = make_batch_solver(arm)(params, cov, jnp.broadcast_to(ts, (n, ts.shape[0])))
    ys, comb = sol.ys, as_combination(arm)
    y, z = ys[..., :N_STATES], ys[..., N_STATES:]
    x = np.asarray(to_physical(y))
    over_pt = lambda f: jax.vmap(jax.vmap(f, (0, 0, None)), (0, 0, 0))  # noqa: E731 (patients, then times)

    def block(t, yz, c):
        _, eff = arm.rhs(t, yz[1], mediators_from_state(yz[0]), c)
        return jnp.where(t >= 0.0, eff.il1_block, 0.0)

    tt = jnp.broadcast_to(ts, (n, ts.shape[0]))
    il1_block = np.asarray(over_pt(block)(tt, (y, z), cov))
    il1 = x[..., STATE_NAMES.index("il1b")]
    k = np.asarray(params.k_il1_sig)[:, None]
    with np.errstate(invalid="ignore"):  # non-finite states after a solver failure
        readouts = {"il1_signal": (1.0 - il1_block) * il1**4 / (il1**4 + k**4)}
    for r in _LABELS:
        if r in STATE_NAMES:
            readouts[r] = x[..., STATE_NAMES.index(r)]
    readouts["pathogen"] = np.maximum(readouts["pathogen"], 1e-6)
    conc = {k: np.asarray(v) for k, v in over_pt(lambda t, zz, c: comb.drug_concentrations(zz, c))(tt, z, cov).items()}
    dev_cl = {}
    if comb.device is not None:
        dev = comb.device
        for s in _DEVICE_SOLUTES:
            f = lambda t, zz, c, s=s: dev.clearance_l_h(t, comb.device_state(zz), c, s) * (1000.0 / 60.0)  # noqa: E731
            dev_cl[s] = np.asarray(over_pt(f)(tt, z, cov))
    return ArmCourse(np.asarray(ts), np.asarray(sol.ok), x, readouts, conc, dev_cl, _targets(arm))


def _normalise_arms(arms: Sequence[Any] | None) -> list[tuple[str, Any]]:
    out = []
    for a in DEFAULT_ARMS if arms is None else arms:
        if isinstance(a, tuple) and len(a) == 2 and isinstance(a[0], str):
            out.append(a)
        else:
            label = a if isinstance(a, str) else arm_from_config(a).name
            out.append((str(label), a))
    return out


def simulate_arms(
    arms: Sequence[Any] | None = None, *, patients: Sequence[str] = PATIENTS, days: int = 14
) -> dict[str, ArmCourse]:
    """Solve placebo and every arm in the same patients; the arrays behind :func:`plot_arms`.

    Args:
        arms: configs for :func:`arm_from_config`, or ``(label, config)`` pairs; default :data:`DEFAULT_ARMS`.
        patients: behaviour names of ``sepsim.models._behaviours.BEHAVIOURS`` (case-insensitive).
        days: horizon after randomisation, days (the solve starts at infection onset, day -2).

    Returns:
        ``{label: ArmCourse}`` in the order given, always including ``"placebo"``.
    """
    params, cov = _patients(patients)
    ts = jnp.linspace(-48.0, 24.0 * days, 4 * (48 + 24 * days) + 1)  # every 15 min
    pairs = [(lab, cfg) for lab, cfg in _normalise_arms(arms) if cfg not in (None, "placebo")]
    pairs = [("placebo", "placebo"), *pairs]
    return {label: _course(arm_from_config(cfg), params, cov, ts) for label, cfg in pairs}


def _mask(v: np.ndarray) -> np.ndarray:
    return np.where(np.isfinite(v), v, np.nan)


class _PalettePNG:
    """Adapter for :func:`atomic_savefig`: renders the figure and writes an 8-bit palette PNG (~3x smaller)."""

    def __init__(self, fig: Any):
        self.fig = fig

    def savefig(self, fname: Any, format: str = "png", **kwargs: Any) -> None:  # noqa: A002 (matplotlib's name)
        from PIL import Image

        buf = io.BytesIO()
        self.fig.savefig(buf, format="png", **kwargs)
        buf.seek(0)
        with Image.open(buf) as im:
            pal = im.convert("RGB").quantize(256, dither=Image.Dither.NONE)
        pal.save(fname, format=format.upper(), optimize=True)


def _exposure(ax: Any, d: np.ndarray, i: int, course: ArmCourse) -> None:
    """Panel (a): drug concentrations (log, left axis) and device clearances (mL/min, right axis)."""
    after = course.t_h >= 0.0
    for drug, c in course.concentrations.items():
        unit = "kIU/L" if drug == "ulinastatin" else "ng/mL"
        ax.plot(d[after], np.maximum(_mask(c[i][after]), 1e-6), lw=0.8, label=f"{drug} ({unit})")
    if course.concentrations:
        ax.set_yscale("log")
        top = max(np.nanmax(_mask(c[i])) for c in course.concentrations.values())
        ax.set_ylim(max(top * 1e-4, 1e-6), top * 3)
        uli = "ulinastatin" in course.concentrations
        ax.set_ylabel("plasma conc. (ng/mL" + ("; ulinastatin kIU/L)" if uli else ")"))
        ax.legend(fontsize=6, loc="lower left")
    if course.device_cl:
        ax2 = ax.twinx() if course.concentrations else ax
        for s, cl in course.device_cl.items():
            ax2.plot(d[after], _mask(cl[i][after]), ls=":", lw=1.0, label=f"device CL, {s}")
        ax2.set_ylabel("device clearance (mL/min)")
        ax2.legend(fontsize=5.5, loc="upper right", framealpha=0.6)
        ax2.tick_params(labelsize=7)
        ax2.yaxis.label.set_size(7)
        if ax2 is not ax:
            ax.set_zorder(ax2.get_zorder() + 1)  # drug lines in front of the clearance lines
            ax.patch.set_visible(False)
    if not course.concentrations and not course.device_cl:
        ax.text(0.5, 0.5, "no drug, no device", ha="center", va="center", transform=ax.transAxes)
        ax.set_ylabel("plasma conc. (ng/mL)")
    ax.set_xlim(0.0, d[-1])
    ax.set_title("(a) drug exposure", fontsize=8)


def _plot_one(path: Path, label: str, course: ArmCourse, placebo: ArmCourse, patients: Sequence[str]) -> Path:
    import matplotlib.pyplot as plt

    cols = len(course.targets) + 2
    rows = len(patients)
    fig, axes = plt.subplots(rows, cols, figsize=(2.7 * cols + 0.4, 2.15 * rows + 0.5), squeeze=False)
    d = course.t_h / 24.0
    _, cov = _patients(patients)
    treated = label != "placebo"
    for i, name in enumerate(patients):
        ok = bool(course.ok[i]) and bool(placebo.ok[i])
        w, hct, crcl = (float(np.asarray(c)[i]) for c in cov[:3])
        tag = f"{name}\n{w:.0f} kg, Hct {hct:.2f}, CrCl {crcl:.0f} mL/min" + ("" if ok else "\nSOLVER FAILED")
        axes[i, 0].annotate(tag, xy=(-0.42, 0.5), xycoords="axes fraction", rotation=90, ha="center", va="center",
                            fontsize=8, weight="bold", color="k" if ok else "red")  # fmt: skip
        _exposure(axes[i, 0], d, i, course)
        for j, r in enumerate(course.targets, start=1):
            ax = axes[i, j]
            ylabel, log = _LABELS[r]
            ax.plot(d, _mask(placebo.readouts[r][i]), color="0.4", ls="--", lw=1.0, label="placebo")
            if treated:
                ax.plot(d, _mask(course.readouts[r][i]), color="tab:red", lw=1.0, label="treated")
            if r in _THRESHOLDS:
                ax.axhline(_THRESHOLDS[r], color="k", lw=0.6, ls=":")
            ax.set_yscale("log" if log else "linear")
            ax.set_ylabel(ylabel)
            ax.set_title(f"(b) targeted pathway: {_SHORT[r]}", fontsize=8)
            ax.legend(fontsize=6)
        ax = axes[i, -1]
        for c, col, ls, lab in ((placebo, "0.4", "--", "placebo"), (course, "tab:red", "-", "treated"))[: 1 + treated]:
            surv = np.exp(-c.x[i, -1, IDX_DEATH]) if bool(c.ok[i]) else np.nan
            ax.plot(d, _mask(c.x[i, :, STATE_NAMES.index("organ_dysfunction")]), color=col, ls=ls, lw=1.0,
                    label=f"{lab}, P(alive d{d[-1]:.0f}) {surv:.2f}")  # fmt: skip
        ax.set_ylabel("organ dysfunction (SOFA points)")
        ax.set_title("(c) clinical course", fontsize=8)
        ax.legend(fontsize=6)
        for ax in axes[i]:
            ax.axvline(0.0, color="0.7", lw=0.5)
            ax.set_xlabel("days since randomisation")
            ax.tick_params(which="both", labelsize=7)
            ax.xaxis.label.set_size(7)
            ax.yaxis.label.set_size(7)
    fig.suptitle(f"{label} vs placebo in the same virtual patients (infection onset day -2, randomisation day 0)",
                 fontsize=10)  # fmt: skip
    fig.tight_layout()
    atomic_savefig(_PalettePNG(fig), path, dpi=_DPI)
    plt.close(fig)
    return path


def _slug(label: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")


def plot_arms(
    outdir: str | Path,
    *,
    arms: Sequence[Any] | None = None,
    patients: Sequence[str] = PATIENTS,
    days: int = 14,
    courses: Mapping[str, ArmCourse] | None = None,
) -> list[Path]:
    """Write ``arms_<arm>.png`` per arm into ``outdir`` (see the module docstring); needs float64 JAX.

    Args:
        outdir: output folder (created).
        arms: as in :func:`simulate_arms`; default :data:`DEFAULT_ARMS`.
        patients: behaviour names, one figure row each.
        days: horizon after randomisation, days.
        courses: precomputed :func:`simulate_arms` result for the same arms/patients/days (skips the solves).

    Returns:
        The written paths, one per arm (placebo included), in arm order.
    """
    import matplotlib

    matplotlib.use("Agg")
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    courses = dict(courses) if courses is not None else simulate_arms(arms, patients=patients, days=days)
    return [_plot_one(out / f"arms_{_slug(k)}.png", k, c, courses["placebo"], patients) for k, c in courses.items()]


def main(argv: list[str] | None = None) -> None:
    """Write every arm figure into ``argv[0]`` (default ``docs/figures/interventions``)."""
    jax.config.update("jax_enable_x64", True)
    args = sys.argv[1:] if argv is None else argv
    paths = plot_arms(args[0] if args else "docs/figures/interventions")
    print(f"wrote {len(paths)} figures to {paths[0].parent}")


if __name__ == "__main__":
    main()
