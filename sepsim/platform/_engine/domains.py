"""Factorial platforms with several domains (REMAP-CAP style): one randomisation and one analysis per domain.

Every patient is randomised independently in every domain (e.g. immunomodulation {placebo, anakinra, rhIFN-gamma}
and adsorption {none, CytoSorb}); his outcome is the outcome table's column for his combination of arms, named
``"<arm1>+<arm2>"`` (:func:`~sepsim.platform._design.design.domain_combinations`). At each look each domain analyses its
own arms marginally, pooling over the other domains' assignments, with its own allocation rule and stopping rules
(the single-domain machinery: the allocation rules, :class:`BetaBinomialAnalysis` and :func:`decide_unit`). A domain
that stops keeps assigning its winner (the superior arm, else its control, else its arm with the highest P(best))
to every later patient; the trial stops when every domain has stopped, or at the last look.

Patients are numbered in order of randomisation; look ``k`` sees the outcomes of patients ``< look_n[k]`` and
happens when ``randomised_n[k]`` are randomised (fixed schedule, as adaptr's ``randomised_at_looks``). Trial ``i``
draws everything from ``index_keys(key, start + i, 1)``, so results do not depend on the chunk size.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr
from jaxtyping import Array, Key

from ..._errors import ConfigError
from ..._keys import index_keys
from .._allocation.factory import make_allocation_rule
from .._analysis.factory import make_analysis
from .._decisions.decide import UnitState, decide_unit
from .._decisions.thresholds import design_thresholds
from .._design.design import TrialDesign, design_to_json, domain_combinations
from .._design.plan import Plan, make_plan
from .._outcomes.table import PotentialOutcomes
from .._results.schema import DOMAIN_RESULTS_SCHEMA, check_results
from .batches import Batched, run_batches
from .carry import init_units
from .look import allocate_next, initial_allocation
from .shard import over_trial_devices
from .window import draw_index, next_window, slice_window

__all__ = ["run_domain_trials", "domain_designs"]

_U32 = 1.0 / 4294967296.0


@dataclass(frozen=True)
class DomainsPlan:
    plans: tuple[Plan, ...]  # one single-domain plan per domain
    look_n: tuple[int, ...]
    rand_n: tuple[int, ...]
    n_max: int
    w_r0: int
    w_r: int
    strides: tuple[int, ...]  # combination index = sum(arm_d * strides[d])
    n_table: int
    combo_cols: tuple[int, ...]  # outcome-table column of each combination


def domain_designs(design: TrialDesign) -> list[TrialDesign]:
    """Each domain as a single-domain design (its arms, control, allocation and stopping; the trial's looks,
    direction and analysis)."""
    return [
        dataclasses.replace(
            design,
            arms=list(dom.arms),
            control=dom.control,
            allocation=dom.allocation,
            stopping=dom.stopping,
            domains=[],
        ).validate()
        for dom in design.domains
    ]


def _plan(design: TrialDesign, outcomes: PotentialOutcomes) -> DomainsPlan:
    combos = domain_combinations(design.domains)
    missing = [c for c in combos if c not in outcomes.arms]
    if missing:
        raise ConfigError(
            "design.domains", f"the outcome table lacks the combination arms {missing[:4]} ('<arm1>+<arm2>')"
        )
    plans = []
    for sub in domain_designs(design):
        dummy = PotentialOutcomes(
            outcome=jnp.zeros((1, len(sub.arms))),
            stratum=jnp.zeros((1,), dtype=jnp.int32),
            arms=tuple(sub.arms),
            strata=("all",),
        )
        plans.append(make_plan(sub, dummy))
    sizes = [len(d.arms) for d in design.domains]
    strides = tuple(int(np.prod(sizes[i + 1 :])) for i in range(len(sizes)))
    ln = tuple(int(x) for x in design.look_n)
    rn = tuple(int(x) for x in (design.enrolment.randomised_n or ln))
    return DomainsPlan(
        plans=tuple(plans),
        look_n=ln,
        rand_n=rn,
        n_max=ln[-1],
        w_r0=rn[0],
        w_r=max([b - a for a, b in zip(rn, rn[1:], strict=False)] + [1]),
        strides=strides,
        n_table=outcomes.n_patients,
        combo_cols=tuple(outcomes.arms.index(c) for c in combos),
    )


@dataclass(frozen=True)
class _DomainTrial:
    """One factorial trial's shared inputs (traced arrays built by :func:`_simulate`)."""

    dp: DomainsPlan
    rules: tuple
    analyses: tuple
    thresholds: tuple
    table: Array
    u: Array  # (patient, 1 + domain) uniforms: patient draw, then one assignment uniform per domain
    pid_all: Array
    k_look: Array
    strides: Array


def _randomise(tr: _DomainTrial, c: dict, lo, hi, width: int) -> dict:
    """Randomise patients ``lo <= i < hi`` independently in every domain; record arms and outcomes."""
    n_d = len(tr.dp.plans)
    start, idx, m = slice_window(tr.dp.n_max, lo, hi, width)
    uw = jax.lax.dynamic_slice(tr.u, (start, jnp.int32(0)), (width, 1 + n_d))
    arms = []
    for d in range(n_d):
        cdf = jnp.cumsum(c["alloc"][d])
        a = jnp.sum(uw[:, 1 + d, None] * cdf[-1] > cdf[None, :], axis=1, dtype=jnp.int32)
        arms.append(jnp.minimum(a, tr.dp.plans[d].n_arms - 1))
    arm = jnp.stack(arms)  # (D, W)
    combo = jnp.sum(arm * tr.strides[:, None], axis=0, dtype=jnp.int32)
    y = tr.table[tr.pid_all[idx], combo]
    old_a = jax.lax.dynamic_slice(c["arm"], (jnp.int32(0), start), (n_d, width))
    old_y = jax.lax.dynamic_slice(c["y"], (start,), (width,))
    return dict(
        c,
        arm=jax.lax.dynamic_update_slice(c["arm"], jnp.where(m[None, :], arm, old_a), (jnp.int32(0), start)),
        y=jax.lax.dynamic_update_slice(c["y"], jnp.where(m, y, old_y), (start,)),
    )


def _counts(tr: _DomainTrial, c: dict, n_seen, d: int):
    """Domain ``d``'s per-arm patients and events among the first ``n_seen`` patients (marginal over domains)."""
    n_max, fdt = tr.dp.n_max, tr.table.dtype
    seen = (jnp.arange(n_max, dtype=jnp.int32) < n_seen) & (c["arm"][d] >= 0)
    oh = jax.nn.one_hot(c["arm"][d], tr.dp.plans[d].n_arms, dtype=fdt) * seen[:, None].astype(fdt)
    return jnp.sum(oh, axis=0), jnp.sum(oh * c["y"][:, None], axis=0)


def _init_unit(plan: Plan, l_n: int) -> UnitState:
    """A domain is one decision unit: the single-domain engine's unit state without its unit axis."""
    return jax.tree.map(lambda x: x[0], init_units(1, plan.n_arms, plan.control, l_n))


def _domain_look(tr: _DomainTrial, c: dict, k, d: int):
    """Domain ``d`` at look ``k``: analyse its arms marginally, decide, allocate (the single-domain parts)."""
    plan, rule, analysis, thr = tr.dp.plans[d], tr.rules[d], tr.analyses[d], tr.thresholds[d]
    n_d, fdt = len(tr.dp.plans), tr.table.dtype
    un: UnitState = c["units"][d]
    n, ev = _counts(tr, c, jnp.asarray(tr.dp.look_n, dtype=jnp.int32)[k], d)
    in_play = (un.decision == 0) & ~un.stopped
    ctx = analysis.prepare(n, ev, in_play, key=jax.random.fold_in(tr.k_look, k * n_d + d))
    st2, act, pb_first, pb_final = decide_unit(plan, analysis, ctx, in_play, un, k, thr)
    _, alloc = allocate_next(plan, rule, analysis, ctx, pb_final, act, st2.control, n)
    # a stopped domain keeps its winner: the superior arm, else the control, else the arm with top P(best)
    best = jnp.argmax(jnp.where(in_play, pb_first, -1.0)).astype(jnp.int32)
    winner = jnp.where(st2.superior >= 0, st2.superior, jnp.where(st2.control >= 0, st2.control, best))
    kept = jnp.where(~un.stopped & st2.stopped, winner, c["kept"][d])
    alloc = jnp.where(st2.stopped, jax.nn.one_hot(kept, plan.n_arms, dtype=fdt), alloc)
    out = dict(n=n, events=ev, alloc_prob=alloc, p_best=jnp.where(in_play, pb_first, jnp.nan), active=act)
    return st2, alloc, kept, out


def _step(tr: _DomainTrial, c: dict, k):
    n_d, l_n = len(tr.dp.plans), len(tr.dp.look_n)
    rand_n = jnp.asarray(tr.dp.rand_n, dtype=jnp.int32)
    res = [_domain_look(tr, c, k, d) for d in range(n_d)]
    units = [r[0] for r in res]
    done = c["done"] | jnp.all(jnp.stack([u_.stopped for u_ in units]))
    was_done, final_look = c["done"], k == l_n - 1
    c2 = dict(
        c,
        units=units,  # decide_unit freezes stopped domains
        alloc=[jnp.where(was_done, c["alloc"][d], res[d][1]) for d in range(n_d)],
        kept=[r[2] for r in res],
        done=done,
    )
    out = []
    for d in range(n_d):
        o = dict(res[d][3])
        o["alloc_prob"] = jnp.where(was_done | done | final_look, 0.0, o["alloc_prob"])
        o["active"] = jnp.where(was_done | done | final_look, False, o["active"])
        o["p_best"] = jnp.where(was_done, jnp.nan, o["p_best"])
        out.append(o)
    lo, hi, go, n_next = next_window(rand_n, k, done, l_n)
    c2 = _randomise(tr, c2, lo, hi, tr.dp.w_r)
    n_rand = c["n_rand"]
    c2["n_rand"] = jnp.where(go, n_next, c["n_rand"])
    return c2, (out, n_rand)


def _simulate(dp: DomainsPlan, rules, analyses, table, key, thresholds):
    """One trial; per-domain outputs are lists (domains have different numbers of arms)."""
    n_d, l_n, n_max = len(dp.plans), len(dp.look_n), dp.n_max
    fdt = table.dtype
    k_bits, k_look = jax.random.split(key)
    bits = jax.random.bits(k_bits, (n_max, 1 + n_d), dtype=jnp.uint32)
    u = (bits.astype(fdt) + 0.5) * _U32
    pid_all = draw_index(bits[:, 0], 32, dp.n_table, dp.n_table, fdt)  # the same patients in float32 and float64
    rand_n = jnp.asarray(dp.rand_n, dtype=jnp.int32)
    strides = jnp.asarray(dp.strides, dtype=jnp.int32)
    tr = _DomainTrial(dp, rules, analyses, thresholds, table, u, pid_all, k_look, strides)

    carry = dict(
        arm=jnp.full((n_d, n_max), -1, dtype=jnp.int32),
        y=jnp.zeros((n_max,), dtype=fdt),
        alloc=[initial_allocation(p, jnp.ones((p.n_arms,), dtype=bool), fdt) for p in dp.plans],
        units=[_init_unit(p, l_n) for p in dp.plans],
        kept=[jnp.asarray(-1, dtype=jnp.int32) for _ in dp.plans],
        done=jnp.asarray(False),
        n_rand=rand_n[0],
    )
    carry = _randomise(tr, carry, 0, rand_n[0], dp.w_r0)
    c_end, (per_look, n_randomised) = jax.lax.scan(
        lambda c, k: _step(tr, c, k), carry, jnp.arange(l_n, dtype=jnp.int32)
    )
    stop_looks = jnp.stack([u_.stop_look for u_ in c_end["units"]])
    trial_stop = jnp.max(stop_looks)
    n_all = [_counts(tr, c_end, n_max, d) for d in range(n_d)]
    combo = jnp.sum(c_end["arm"] * strides[:, None], axis=0, dtype=jnp.int32)
    randomised = c_end["arm"][0] >= 0
    n_combo = jnp.sum(
        jax.nn.one_hot(combo, int(np.prod([p.n_arms for p in dp.plans])), dtype=fdt) * randomised[:, None].astype(fdt),
        axis=0,
    )
    return dict(
        per_look=per_look,
        n_randomised=n_randomised,
        units=c_end["units"],
        n_all=[x[0] for x in n_all],
        events_all=[x[1] for x in n_all],
        estimate=[analyses[d].posterior_mean(*n_all[d]) for d in range(n_d)],
        trial_stop_look=trial_stop,
        n_total=jnp.sum(randomised, dtype=jnp.int32),
        n_combination=n_combo,
    )


@functools.lru_cache(maxsize=8)
def _compiled(dp: DomainsPlan, rules: tuple, analyses: tuple):
    def batched(table, keys, thr):
        return jax.vmap(lambda k: _simulate(dp, rules, analyses, table, k, thr))(keys)

    return over_trial_devices(batched)  # split over the local devices (shard.py)


def run_domain_trials(
    outcomes: PotentialOutcomes,
    design: TrialDesign,
    *,
    n_trials: int,
    key: Key[Array, ""],
    chunk_size: int | None = None,
    start: int = 0,
    progress: bool | None = None,
    seed: int | None = None,
    processes: int | str = 1,
) -> xr.Dataset:
    """Simulate ``n_trials`` trials of a design with ``design.domains`` (called by :func:`run_trials`).

    Returns:
        A Dataset with dims ``trial``, ``look``, ``domain``, ``domain_arm`` (arm index within a domain, padded to
        the largest domain; ``arm_name`` (domain, domain_arm) names them, "" for padding) and ``arm`` (the
        combinations): per look ``n``, ``events``, ``alloc_prob``, ``p_best``, ``active`` (trial, look, domain,
        domain_arm), ``n_randomised`` (trial, look); per domain ``arm_decision``, ``decision_look``, ``n_final``,
        ``events_final``, ``estimate`` (trial, domain, domain_arm), ``domain_outcome`` (0 max, 1 superiority,
        2 equivalence, 3 futility), ``domain_stop_look``, ``domain_superior_arm``, ``final_control`` (trial,
        domain); ``trial_stop_look``, ``n_total`` (trial); ``n_combination`` (trial, arm): patients randomised to
        each combination.
    """

    dp = _plan(design, outcomes)
    chunk = int(chunk_size or min(n_trials, 2000))
    if chunk < 1:
        raise ConfigError("chunk_size", "must be a positive integer")
    res = run_batches(
        domain_batches(design, outcomes),
        index_keys(key, start, -(-n_trials // chunk) * chunk),
        n_trials=n_trials,
        chunk=chunk,
        progress=progress,
        processes=processes,
    )
    return _to_dataset(res, design, dp, start=start, seed=seed)


def domain_batches(design: TrialDesign, outcomes: PotentialOutcomes):
    """The factorial design's compiled trials as a :class:`~.batches.Batched` (``keys -> results``)."""
    dp = _plan(design, outcomes)
    subs = domain_designs(design)
    rules = tuple(make_allocation_rule(d.allocation, len(d.arms)) for d in subs)
    analyses = tuple(make_analysis(d, p) for d, p in zip(subs, dp.plans, strict=True))
    table = jnp.asarray(outcomes.outcome)[:, jnp.asarray(dp.combo_cols)]
    thr = tuple({k: jnp.asarray(v, dtype=table.dtype) for k, v in design_thresholds(d).items()} for d in subs)
    fn = _compiled(dp, rules, analyses)
    return Batched(fn, (table,), (thr,))


def _pad(xs: list[np.ndarray], width: int, fill) -> np.ndarray:
    """Stack per-domain arrays (..., arm_d) into (..., domain, width)."""
    out = []
    for x in xs:
        pad = np.full(x.shape[:-1] + (width - x.shape[-1],), fill, dtype=np.result_type(x, type(fill)))
        out.append(np.concatenate([x, pad], axis=-1))
    return np.stack(out, axis=-2)


def _to_dataset(res, design: TrialDesign, dp: DomainsPlan, *, start: int, seed) -> xr.Dataset:
    doms = design.domains
    width = max(len(d.arms) for d in doms)
    pl = res["per_look"]
    un = res["units"]
    t_n = res["trial_stop_look"].shape[0]
    stop = res["trial_stop_look"].astype(int)
    after = np.arange(len(dp.look_n))[None, :] > stop[:, None]  # (T, L): looks after the trial stopped

    def per_look(name, fill):
        x = _pad([np.asarray(o[name]) for o in pl], width, fill)  # (T, L, D, W)
        if name in ("n", "events"):  # frozen at the stop look, as in run_trials
            x = np.where(after[:, :, None, None], x[np.arange(t_n), stop][:, None], x)
        return x

    tlda = ("trial", "look", "domain", "domain_arm")
    tda = ("trial", "domain", "domain_arm")
    td = ("trial", "domain")
    names = np.array([list(d.arms) + [""] * (width - len(d.arms)) for d in doms], dtype=object)
    n_rand = np.where(after, res["n_randomised"][np.arange(t_n), stop][:, None], res["n_randomised"])
    ds = xr.Dataset(
        {
            "look_n": (("look",), np.asarray(dp.look_n, dtype=np.int64)),
            "n": (tlda, per_look("n", 0.0).astype(np.int64)),
            "events": (tlda, per_look("events", 0.0).astype(np.float64)),
            "alloc_prob": (tlda, per_look("alloc_prob", 0.0).astype(np.float64)),
            "p_best": (tlda, per_look("p_best", np.nan).astype(np.float64)),
            "active": (tlda, per_look("active", False).astype(bool)),
            "n_randomised": (("trial", "look"), n_rand.astype(np.int64)),
            "arm_decision": (tda, _pad([np.asarray(u_.decision) for u_ in un], width, 0).astype(np.int64)),
            "decision_look": (tda, _pad([np.asarray(u_.decision_look) for u_ in un], width, -1).astype(np.int64)),
            "n_final": (tda, _pad(res["n_all"], width, 0.0).astype(np.int64)),
            "events_final": (tda, _pad(res["events_all"], width, 0.0).astype(np.float64)),
            "estimate": (tda, _pad(res["estimate"], width, np.nan).astype(np.float64)),
            "domain_outcome": (td, np.stack([u_.outcome for u_ in un], axis=1).astype(np.int64)),
            "domain_stop_look": (td, np.stack([u_.stop_look for u_ in un], axis=1).astype(np.int64)),
            "domain_superior_arm": (td, np.stack([u_.superior for u_ in un], axis=1).astype(np.int64)),
            "final_control": (td, np.stack([u_.control for u_ in un], axis=1).astype(np.int64)),
            "trial_stop_look": (("trial",), stop.astype(np.int64)),
            "n_total": (("trial",), res["n_total"].astype(np.int64)),
            "n_combination": (("trial", "arm"), res["n_combination"].astype(np.int64)),
        },
        coords={
            "trial": np.arange(start, start + t_n, dtype=np.int64),
            "look": np.arange(len(dp.look_n), dtype=np.int64),
            "domain": [d.name for d in doms],
            "domain_arm": np.arange(width, dtype=np.int64),
            "arm_name": (("domain", "domain_arm"), names.astype(str)),
            "arm": domain_combinations(doms),
        },
        attrs={
            "higher_is_better": int(bool(design.higher_is_better)),
            "design": design_to_json(design),
            "seed": -1 if seed is None else int(seed),
        },
    )
    check_results(ds, DOMAIN_RESULTS_SCHEMA, strict=True)  # the results contract (_results/schema.py)
    return ds
