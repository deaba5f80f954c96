"""What statisticians get from Fit 1: InferenceData, convergence gates, the target table, figures.

InferenceData groups: ``posterior`` (the sampled mean shifts ``shift`` (dim ``fitted``), the interpretable
``mu``, ``sd``, ``beta``, ``corr``, ``corr_chol`` and the raw layout with dims ``param``/``covariate``; simulated
target statistics ``sim.<id>``), ``sample_stats``,
``prior`` (the same variables under the hyper-prior), ``prior_predictive`` and ``posterior_predictive``
(replicate observations ``<id>`` at the published n, Monte-Carlo error included), ``observed_data``.
Gates (issue 11): R-hat <= 1.01, bulk and tail ESS >= 400 on every sampled hyper-parameter (``shift``; the rest
of ``phi`` is fixed), no divergent transition.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any, NamedTuple

import arviz as az
import numpy as np
import xarray as xr

from ...._io import atomic_write_text
from .._latent import EFFECT_COVARIATES
from ._calibrate import PopulationFitResult, prior_statistics
from ._likelihood import predictive_counts, site_name

__all__ = ["Gates", "check_gates", "inference_data", "target_table", "write_figures", "write_outputs"]

RHAT_MAX, ESS_MIN = 1.01, 400
_HYPER = ("shift",)


class Gates(NamedTuple):
    max_rhat: float
    min_ess_bulk: float
    min_ess_tail: float
    divergences: int

    @property
    def passed(self) -> bool:
        return (
            self.max_rhat <= RHAT_MAX
            and self.min_ess_bulk >= ESS_MIN
            and self.min_ess_tail >= ESS_MIN
            and self.divergences == 0
        )

    def describe(self) -> str:
        verdict = "CONVERGED" if self.passed else "DID NOT CONVERGE"
        return (
            f"{verdict}: max R-hat {self.max_rhat:.4f} (gate <= {RHAT_MAX}), min bulk ESS {self.min_ess_bulk:.0f} "
            f"(gate >= {ESS_MIN}), min tail ESS {self.min_ess_tail:.0f} (gate >= {ESS_MIN}), "
            f"divergences {self.divergences} (gate 0)"
        )


def _dims(result: PopulationFitResult) -> tuple[dict[str, list], dict[str, list[str]]]:
    coords: dict[str, list] = {
        "param": list(result.space.names),
        "param_": list(result.space.names),
        "covariate": list(EFFECT_COVARIATES),
        "fitted": list(result.prior.fitted),
    }
    dims = {
        "shift": ["fitted"],
        "mu": ["param"],
        "sd": ["param"],
        "mu_raw": ["param"],
        "sd_raw": ["param"],
        "beta": ["param", "covariate"],
        "beta_raw": ["param", "covariate"],
        "corr": ["param", "param_"],
        "corr_chol": ["param", "param_"],
    }
    for t in result.compiled:
        name = site_name(t.target.id)
        coords[f"cat.{name}"] = list(t.target.categories)
        dims[f"sim.{name}"] = [f"cat.{name}"]
        if t.target.kind == "multinomial":
            dims[name] = [f"cat.{name}"]
    return coords, dims


def _predictive(result: PopulationFitResult, stats: dict[str, np.ndarray], rng: np.random.Generator) -> dict:
    out = {}
    for t in result.compiled:
        name = site_name(t.target.id)
        p, ess = np.asarray(stats[f"sim.{name}"]), np.asarray(stats[f"ess.{name}"])
        shape = p.shape[:-1]
        flat = predictive_counts(t, p.reshape(-1, p.shape[-1]), ess.reshape(-1), rng)
        out[name] = flat.reshape(*shape, *flat.shape[1:])
    return out


def _observed(result: PopulationFitResult) -> dict[str, np.ndarray]:
    obs = {}
    for t in result.compiled:
        if t.target.kind == "binomial":
            obs[site_name(t.target.id)] = np.asarray(t.target.counts[0])
        elif t.target.kind == "multinomial":
            obs[site_name(t.target.id)] = np.asarray(t.target.counts)
        else:
            obs[site_name(t.target.id)] = np.asarray(t.target.value)
    return obs


def inference_data(result: PopulationFitResult, *, seed: int = 0, prior_draws: int = 200) -> az.InferenceData:
    """All six groups; predictive replicates at the published n include the library's Monte-Carlo error."""
    import jax

    coords, dims = _dims(result)
    rng = np.random.default_rng(seed)
    post = {k: np.asarray(v) for k, v in result.mcmc.get_samples(group_by_chain=True).items()}
    prior = prior_statistics(result, prior_draws, jax.random.key(seed))
    prior = {k: v[None] for k, v in prior.items()}  # one chain
    extra = result.mcmc.get_extra_fields(group_by_chain=True)
    sample_stats = {"diverging": np.asarray(extra["diverging"])}
    for k in ("num_steps", "accept_prob", "energy"):
        if k in extra:
            sample_stats[{"num_steps": "n_steps", "accept_prob": "acceptance_rate"}.get(k, k)] = np.asarray(extra[k])
    idata = az.from_dict(
        posterior=post,
        sample_stats=sample_stats,
        prior={k: v for k, v in prior.items() if not k.startswith("obs.")},
        posterior_predictive=_predictive(result, post, rng),
        prior_predictive=_predictive(result, prior, rng),
        observed_data=_observed(result),
        coords=coords,
        dims=dims,
    )
    idata.posterior.attrs.update(
        {
            "method": "library re-weighting + NUTS (sepsim.models.population.fit)",
            "library_size": result.library.size,
            "rounds": repr(result.rounds),
        }
    )
    return idata


def check_gates(idata: az.InferenceData, variables: tuple[str, ...] = _HYPER) -> Gates:
    """R-hat, bulk/tail ESS over the sampled hyper-parameters (``variables``), divergences."""
    post = idata.posterior[list(variables)]
    rhat = az.rhat(post)
    bulk = az.ess(post, method="bulk")
    tail = az.ess(post, method="tail")

    def extreme(ds: xr.Dataset, f: Any) -> float:
        # an all-NaN diagnostic (a chain stuck at one value) stays NaN, which fails its gate; numpy's warning is noise
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return float(f([float(f(ds[v].values)) for v in ds.data_vars]))

    return Gates(
        extreme(rhat, np.nanmax),
        extreme(bulk, np.nanmin),
        extreme(tail, np.nanmin),
        int(idata.sample_stats["diverging"].values.sum()),
    )


def target_table(idata: az.InferenceData, result: PopulationFitResult) -> str:
    """Markdown table: every target vs its posterior predictive 95% interval at the published n."""
    rows = [
        "| id | fitted | observed | posterior predictive 95% (at published n) | inside | simulated statistic "
        "(posterior mean) | MC SE | binomial SE at n |",
        "|---|---|---|---|---|---|---|---|",
    ]
    post, pp = idata.posterior, idata.posterior_predictive
    for t in result.compiled:
        name = site_name(t.target.id)
        n = t.target.n
        sim = post[f"sim.{name}"].values.reshape(-1, len(t.target.categories))
        ess = post[f"ess.{name}"].values.reshape(-1)
        rep = pp[name].values.reshape(-1, *pp[name].shape[2:])
        if t.target.kind == "multinomial":
            cells = []
            inside = True
            for c, cat in enumerate(t.target.categories):
                lo, hi = np.quantile(rep[:, c], [0.025, 0.975])
                k = int(t.target.counts[c])
                inside &= bool(lo <= k <= hi)
                cells.append((cat, k, lo, hi))
            observed = ", ".join(f"{cat} {k}/{n}" for cat, k, _, _ in cells)
            interval = ", ".join(f"{cat} {lo:.0f}-{hi:.0f}" for cat, _, lo, hi in cells)
            p = sim.mean(0)
            simulated = ", ".join(f"{100 * v:.1f}%" for v in p)
            q = p[0]
        elif t.target.kind == "binomial":
            k = int(t.target.counts[0])
            lo, hi = np.quantile(rep, [0.025, 0.975])
            inside = bool(lo <= k <= hi)
            observed, interval = f"{k}/{n} ({100 * k / n:.1f}%)", f"{lo:.0f}-{hi:.0f}/{n}"
            q = float(sim[:, 0].mean())
            simulated = f"{100 * q:.1f}%"
        else:
            lo, hi = np.quantile(rep, [0.025, 0.975])
            inside = bool(lo <= t.target.value <= hi)
            observed, interval = f"median {t.target.value:g} (n={n})", f"median {lo:g}-{hi:g}"
            q = float(sim[:, 1].mean())
            simulated = (
                f"P(SOFA<={t.target.value - 1:g}) {100 * sim[:, 0].mean():.1f}%, P(<={t.target.value:g}) {100 * q:.1f}%"
            )
        mc_se = np.sqrt(q * (1 - q) / max(float(np.median(ess)), 1.0))
        bin_se = np.sqrt(q * (1 - q) / n)
        rows.append(
            f"| {t.target.id} | {'yes' if t.target.fit else 'check'} | {observed} | {interval} | "
            f"{'yes' if inside else '**no**'} | {simulated} | {mc_se:.3f} | {bin_se:.3f} |"
        )
    return "\n".join(rows) + "\n"


def write_figures(idata: az.InferenceData, result: PopulationFitResult, out_dir: Path) -> list[Path]:
    """Trace, pair, forest and posterior predictive plots (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []

    def save(name: str) -> None:
        p = out_dir / name
        plt.gcf().savefig(p, dpi=90, bbox_inches="tight")
        plt.close("all")
        paths.append(p)

    az.plot_trace(idata, var_names=["shift"], compact=True)
    save("trace_shift.png")
    az.plot_pair(idata, var_names=["shift"], kind="kde", divergences=True)
    save("pair_shift.png")
    fitted = list(result.prior.fitted)
    az.plot_forest(
        [idata.posterior, idata.prior], model_names=["posterior", "prior"], var_names=["mu"], coords={"param": fitted}
    )
    save("forest_mu.png")
    _plot_ppc(idata, result)
    save("ppc_targets.png")
    return paths


def _plot_ppc(idata: az.InferenceData, result: PopulationFitResult) -> None:
    import matplotlib.pyplot as plt

    labels, obs, lo, hi, plo, phi = [], [], [], [], [], []
    for t in result.compiled:
        name = site_name(t.target.id)
        if t.target.kind == "median":
            continue
        rep = idata.posterior_predictive[name].values.reshape(-1, *idata.posterior_predictive[name].shape[2:])
        prior = idata.prior_predictive[name].values.reshape(-1, *idata.prior_predictive[name].shape[2:])
        cats = range(len(t.target.categories)) if t.target.kind == "multinomial" else [None]
        for c in cats:
            r = rep[:, c] if c is not None else rep
            pr = prior[:, c] if c is not None else prior
            k = t.target.counts[c] if c is not None else t.target.counts[0]
            labels.append(t.target.id + (f" {t.target.categories[c]}" if c is not None else ""))
            obs.append(k / t.target.n)
            lo.append(np.quantile(r, 0.025) / t.target.n)
            hi.append(np.quantile(r, 0.975) / t.target.n)
            plo.append(np.quantile(pr, 0.025) / t.target.n)
            phi.append(np.quantile(pr, 0.975) / t.target.n)
    y = np.arange(len(labels))
    fig, ax = plt.subplots(figsize=(7, 0.4 * len(labels) + 1))
    ax.hlines(y + 0.15, plo, phi, color="0.7", lw=4, label="prior predictive 95%")
    ax.hlines(y - 0.15, lo, hi, color="C0", lw=4, label="posterior predictive 95%")
    ax.plot(obs, y, "kx", label="observed")
    ax.set_yticks(y, labels)
    ax.set_xlabel("proportion at the published n")
    ax.legend(loc="lower right", fontsize=7)
    fig.tight_layout()


def write_outputs(idata: az.InferenceData, result: PopulationFitResult, out_dir: Path, posterior_file: Path | None):
    """The run directory (posterior.nc, targets.md) and, optionally, the shipped posterior (written to a temporary
    name, then renamed into place, so a killed fit never leaves a half-written posterior)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    targets = [out_dir / "posterior.nc"] + ([Path(posterior_file)] if posterior_file is not None else [])
    for path in targets:
        tmp = path.with_name(path.name + ".tmp")
        idata.to_netcdf(str(tmp), engine="h5netcdf")
        os.replace(tmp, path)
    table = target_table(idata, result)
    atomic_write_text(out_dir / "targets.md", table)
    return table
