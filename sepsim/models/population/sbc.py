"""Simulation-based calibration (SBC) ranks: rank ECDF, simultaneous bands, verdict and figure.

SBC (Talts et al. 2018): draw ``theta ~ prior``, data ``y ~ p(y | theta)``, fit, and take the rank of the true value
among ``L`` (roughly independent) posterior draws. If the fit is exact, each rank is uniform on ``0..L``, so the
count ``c_k = #{rank < k}`` over ``N`` replicates is Binomial(N, k / (L + 1)) at every ``k = 1..L``.

Simultaneous band (Säilynoja, Bürkner & Vehtari 2022, "Graphical test for discrete uniformity and its applications
in goodness-of-fit evaluation and multiple sample comparison", Stat Comput 32:32), computed by simulation: for
``sims`` sets of ``N`` exactly uniform ranks, the smallest two-sided pointwise binomial tail probability over ``k``
is recorded; its ``alpha`` quantile ``gamma`` is the pointwise level of a band that all ``L`` points stay inside with
probability ``1 - alpha``. A rank set leaves the band when any ``k`` has two-sided tail probability ``< gamma``.
Monte-Carlo error of the achieved false-alarm rate: about ``sqrt(alpha (1 - alpha) / sims)`` from the quantile
(0.0006 at ``alpha`` = 0.00625, ``sims`` = 20,000: 10% relative); the band is a function of
``(N, L, alpha, sims, seed)`` only.

Several parameters: :func:`sbc_verdict` uses ``alpha / P`` per parameter (Bonferroni), so the family-wise
false-alarm rate of "some parameter leaves its band" is at most ``alpha``.

Fitting the replicates (:func:`nuts_replicates`): numpyro's functional ``hmc`` kernel (NUTS), one chain per
replicate, ``jax.vmap`` over a batch of replicates and ``jax.lax.scan`` over iterations, the replicate's data a traced
argument conditioned into the model (``numpyro.handlers.condition``) and per-replicate constants (``args``) passed
to it, so one compile serves every full batch; the kept draws include the model's deterministic sites.
Under ``vmap`` a NUTS iteration of the batch lasts as long as its longest trajectory. :func:`rank_table` turns
the thinned draws and the true values into the ``(replicate, param)`` ranks, one column per scalar component.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int
from numpyro.distributions.transforms import biject_to
from numpyro.handlers import condition
from numpyro.infer.hmc import hmc
from numpyro.infer.util import constrain_fn, initialize_model
from scipy import stats

__all__ = [
    "print_verdict",
    "EcdfBand",
    "NutsSettings",
    "ReplicateFits",
    "SbcVerdict",
    "ecdf_band",
    "nuts_replicates",
    "plot_rank_ecdf",
    "rank_counts",
    "rank_table",
    "sbc_verdict",
    "tail_probability",
]


class EcdfBand(NamedTuple):
    """Simultaneous band for the rank-ECDF counts ``c_k``, ``k = 1..L`` (inclusive bounds)."""

    lower: np.ndarray  # (L,) smallest count inside the band
    upper: np.ndarray  # (L,) largest count inside the band
    gamma: float  # pointwise two-sided level
    alpha: float  # simultaneous false-alarm rate the band was built for
    n: int  # replicates
    draws: int  # L: posterior draws per replicate (ranks run 0..L)


class SbcVerdict(NamedTuple):
    inside: np.ndarray  # (P,) bool: the parameter's rank ECDF stays inside its band
    min_tail: np.ndarray  # (P,) smallest pointwise tail probability of the parameter's ECDF
    band: EcdfBand  # band at the per-parameter level alpha / P
    family_alpha: float

    @property
    def passed(self) -> bool:
        return bool(self.inside.all())


def rank_counts(ranks: Int[np.ndarray, "replicate param"], draws: int) -> Int[np.ndarray, "param k"]:
    """``c_k = #{rank < k}`` for ``k = 1..draws`` per parameter; ranks must lie in ``0..draws``."""
    r = np.asarray(ranks)
    if r.ndim != 2:
        raise ValueError(f"ranks must be (replicate, param), got shape {r.shape}")
    if r.size and (r.min() < 0 or r.max() > draws):
        raise ValueError(f"ranks must lie in 0..{draws}, got {r.min()}..{r.max()}")
    hist = np.stack([np.bincount(r[:, j], minlength=draws + 1) for j in range(r.shape[1])])
    return np.cumsum(hist, axis=1)[:, :draws]


def tail_probability(counts: Int[np.ndarray, "... k"], n: int, draws: int) -> Float[np.ndarray, "... k"]:
    """Two-sided binomial tail probability of each ``c_k`` under uniform ranks (capped at 1)."""
    z = np.arange(1, draws + 1) / (draws + 1)
    lo = stats.binom.cdf(counts, n, z)
    hi = stats.binom.sf(counts - 1, n, z)
    return np.minimum(1.0, 2.0 * np.minimum(lo, hi))


def ecdf_band(n: int, draws: int, alpha: float, *, sims: int = 20000, seed: int = 0) -> EcdfBand:
    """Simultaneous ``1 - alpha`` band for ``n`` uniform ranks on ``0..draws`` (module docstring), by simulation."""
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    rng = np.random.default_rng(seed)
    grid = np.arange(n + 1)[:, None]  # every possible count, against every k
    table = tail_probability(np.broadcast_to(grid, (n + 1, draws)), n, draws)  # (count, k)
    hist = rng.multinomial(n, np.full(draws + 1, 1.0 / (draws + 1)), size=sims)  # uniform ranks, binned
    c = np.cumsum(hist, axis=1)[:, :draws]
    m = table[c, np.arange(draws)].min(axis=1)
    gamma = float(np.quantile(m, alpha))
    ok = table >= gamma
    lower = ok.argmax(axis=0)
    upper = n - ok[::-1].argmax(axis=0)
    return EcdfBand(lower, upper, gamma, alpha, n, draws)


def sbc_verdict(
    ranks: Int[np.ndarray, "replicate param"], draws: int, alpha: float = 0.05, *, sims: int = 20000, seed: int = 0
) -> SbcVerdict:
    """Whether every parameter's rank ECDF stays inside its simultaneous band (family-wise false alarm <= alpha)."""
    r = np.asarray(ranks)
    band = ecdf_band(r.shape[0], draws, alpha / r.shape[1], sims=sims, seed=seed)
    tails = tail_probability(rank_counts(r, draws), r.shape[0], draws).min(axis=1)
    return SbcVerdict(tails >= band.gamma, tails, band, alpha)


def plot_rank_ecdf(
    ranks: Int[np.ndarray, "replicate param"],
    names: list[str] | tuple[str, ...],
    verdict: SbcVerdict,
    path: str | Path,
    title: str = "",
) -> Path:
    """ECDF-difference plot (``c_k / N - k / (L + 1)``) per parameter with its simultaneous band."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    b = verdict.band
    z = np.arange(1, b.draws + 1) / (b.draws + 1)
    diff = rank_counts(np.asarray(ranks), b.draws) / b.n - z
    cols = 4
    rows = -(-len(names) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.6 * rows), sharex=True, sharey=True, squeeze=False)
    for j, ax in enumerate(axes.flat):
        if j >= len(names):
            ax.axis("off")
            continue
        ax.fill_between(z, b.lower / b.n - z, b.upper / b.n - z, step="mid", color="0.85", lw=0)
        ax.step(z, diff[j], where="mid", color="C0" if verdict.inside[j] else "C3", lw=1.2)
        ax.axhline(0, color="0.4", lw=0.6)
        ax.set_title(f"{names[j]} (min tail {verdict.min_tail[j]:.2g})", fontsize=9)
    for ax in axes[-1]:
        ax.set_xlabel("fractional rank")
    for ax in axes[:, 0]:
        ax.set_ylabel("ECDF - uniform")
    per = b.alpha
    fig.suptitle(
        f"{title}\nN = {b.n} replicates, L = {b.draws} draws; grey: simultaneous band at {1 - per:.4f} per parameter "
        f"(family-wise {1 - verdict.family_alpha:.2f}, Bonferroni), pointwise level {b.gamma:.2g}",
        fontsize=9,
    )
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


class NutsSettings(NamedTuple):
    """NUTS of one SBC replicate (one chain); ``num_samples / thin`` draws are ranked."""

    num_warmup: int
    num_samples: int
    thin: int
    max_tree_depth: int
    target_accept: float
    dense_mass: bool = False
    batch: int = 100  # replicates per vmapped call (one compile for every full batch)

    @property
    def draws(self) -> int:
        return self.num_samples // self.thin


class ReplicateFits(NamedTuple):
    draws: dict[str, np.ndarray]  # site -> (replicate, L, *site shape), constrained values
    divergences: np.ndarray  # (replicate,) post-warmup divergent transitions
    accept: np.ndarray  # (replicate,) mean acceptance probability after warmup
    steps: np.ndarray  # (replicate,) mean leapfrog steps per post-warmup iteration
    first_batch_s: float  # compile and the first batch
    seconds: float  # every batch


def nuts_replicates(
    model: Callable[..., None],
    data: dict[str, Float[Array, "replicate ..."]],
    init: dict[str, Any],
    settings: NutsSettings,
    key: Any,
    *,
    args: dict[str, Any] | None = None,
    progress: Callable[[str], None] | None = None,
) -> ReplicateFits:
    """NUTS on each replicate's data (module docstring): ``model(**a)`` is run under ``condition(data=d)`` for
    the replicate's slices ``d`` of ``data`` and ``a`` of ``args`` (pytrees with a leading replicate axis: per-replicate
    constants of the model); every chain starts at ``init`` (constrained values of the latent sites). The draws
    hold the latent sites and the model's ``numpyro.deterministic`` sites."""
    if settings.num_samples % settings.thin:
        raise ValueError(f"num_samples ({settings.num_samples}) must be a multiple of thin ({settings.thin})")
    n = len(next(iter(data.values())))

    args = {} if args is None else args

    def conditioned(d: dict[str, Any], a: dict[str, Any]) -> None:
        with condition(data=d):
            model(**a)

    k_init, k_run = jax.random.split(key)
    first = jax.tree_util.tree_map(lambda a: a[0], (data, args))
    with jax.numpy_dtype_promotion("standard"):  # numpyro's NUTS internals mix int and float (fails under strict)
        info = initialize_model(k_init, conditioned, model_args=first, dynamic_args=True)
    latent = {k: s for k, s in info.model_trace.items() if s["type"] == "sample" and not s["is_observed"]}
    transforms = {k: biject_to(s["fn"].support) for k, s in latent.items()}
    z0 = {k: transforms[k].inv(jnp.asarray(init[k])) for k in latent}
    init_kernel, sample_kernel = hmc(potential_fn_gen=info.potential_fn, algo="NUTS")
    w, s_ = settings.num_warmup, settings.num_samples

    def fit_one(k: Any, d: dict[str, Any], a: dict[str, Any]) -> tuple[Any, Any, Any, Any]:
        state = init_kernel(
            z0,
            w,
            target_accept_prob=settings.target_accept,
            max_tree_depth=settings.max_tree_depth,
            dense_mass=settings.dense_mass,
            model_args=(d, a),
            rng_key=k,
        )

        def step(st: Any, _: Any) -> tuple[Any, Any]:
            st = sample_kernel(st, model_args=(d, a))
            return st, (st.z, st.diverging, st.accept_prob, st.num_steps)

        _, (z, div, acc, nst) = jax.lax.scan(step, state, None, length=w + s_)
        z = {name: v[w :: settings.thin] for name, v in z.items()}
        z = jax.vmap(lambda p: constrain_fn(conditioned, (d, a), {}, p, return_deterministic=True))(z)
        return z, div[w:].sum(), acc[w:].mean(), nst[w:].mean()

    batched = jax.jit(jax.vmap(fit_one))
    keys = jax.random.split(k_run, n)
    out: list[Any] = []
    t0 = time.monotonic()
    t_first = None
    for b0 in range(0, n, settings.batch):
        sl = slice(b0, min(b0 + settings.batch, n))
        with jax.numpy_dtype_promotion("standard"):
            res = jax.block_until_ready(
                batched(keys[sl], *jax.tree_util.tree_map(lambda a, sl=sl: a[sl], (data, args)))
            )
        out.append(jax.tree_util.tree_map(np.asarray, res))
        t_first = time.monotonic() - t0 if t_first is None else t_first
        if progress is not None:
            progress(f"SBC: {sl.stop}/{n} replicates fitted, {time.monotonic() - t0:.0f} s")
    cat = lambda *a: np.concatenate(a)  # noqa: E731
    z, div, acc, nst = jax.tree_util.tree_map(cat, *out) if len(out) > 1 else out[0]
    return ReplicateFits(z, div, acc, nst, round(t_first or 0.0, 1), round(time.monotonic() - t0, 1))


def rank_table(
    truth: dict[str, np.ndarray], draws: dict[str, np.ndarray], labels: dict[str, list[str]] | None = None
) -> tuple[np.ndarray, tuple[str, ...]]:
    """``(replicate, param)`` ranks ``#{draw < truth}`` of every scalar component of the sites in ``truth``
    (site arrays ``(replicate, *shape)`` against draws ``(replicate, L, *shape)``), and the parameter names:
    ``site[label]`` with ``labels[site]`` naming the flattened components, else ``site[i]`` (``site`` if scalar)."""
    cols, names = [], []
    for site, t in truth.items():
        t = np.asarray(t)
        d = np.asarray(draws[site])
        if d.shape[0] != t.shape[0] or d.shape[2:] != t.shape[1:]:
            raise ValueError(f"draws of {site!r} have shape {d.shape}, truth {t.shape}")
        r = (d < t[:, None]).sum(axis=1).reshape(t.shape[0], -1)
        size = r.shape[1]
        lab = (labels or {}).get(site)
        if lab is not None and len(lab) != size:
            raise ValueError(f"labels of {site!r}: {len(lab)} names for {size} components")
        cols.append(r)
        names += [site] if t.ndim == 1 else [f"{site}[{lab[i] if lab else i}]" for i in range(size)]
    return np.concatenate(cols, axis=1), tuple(names)


def print_verdict(label: str, config: Any, names: Sequence[str], replicates: int, draws: int, v: SbcVerdict) -> None:
    """Print an SBC run's configuration, its band and each parameter's verdict (the Fit 1 and Fit 2 reports)."""
    print(f"{label} SBC: {config}")
    print(f"{replicates} replicates, L = {draws} draws; band: pointwise level {v.band.gamma:.3g} per parameter")
    print(f"(family-wise false-alarm rate {v.family_alpha}, Bonferroni over {len(names)})")
    width = max(len(n) for n in names)
    for name, ok, tail in zip(names, v.inside, v.min_tail, strict=True):
        print(f"  {name:{width}s} {'inside' if ok else 'OUTSIDE'}  min pointwise tail {tail:.3g}")
