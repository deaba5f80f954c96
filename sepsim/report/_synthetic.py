"""A small, self-contained toy trial simulator that emits a results Dataset following the results contract.

It exists so that operating characteristics, figures and the report can be tested and demonstrated without the
trial engine. It is *not* the engine: binary outcome, Beta(1, 1) posteriors from a few hundred Monte-Carlo draws,
allocation proportional to ``sqrt(P(best))`` with a floor, superiority when ``P(best) > threshold`` and dropping
when ``P(best) < drop``. Plain NumPy with an explicit seed.
"""

from __future__ import annotations

import json

import numpy as np
import xarray as xr

__all__ = ["synthetic_results"]


def synthetic_results(
    *,
    n_trials: int = 200,
    true_mean: dict[str, float] | dict[str, dict[str, float]] | None = None,
    looks: tuple[int, ...] = (100, 200, 300, 400),
    control_arm: str = "",
    higher_is_better: int = 0,
    superiority: float = 0.99,
    drop: float = 0.01,
    floor: float = 0.1,
    n_draws: int = 400,
    seed: int = 0,
) -> xr.Dataset:
    """Simulate ``n_trials`` toy adaptive trials and return a contract-conforming results Dataset.

    Args:
        n_trials: number of trial replicates.
        true_mean: event probability per arm (``{"A": 0.3, ...}``), or per stratum and arm
            (``{"shock": {"A": 0.4, ...}, "no_shock": {...}}``; patients split equally between strata).
            Defaults to three arms ``{"placebo": 0.30, "anakinra": 0.25, "ifn_gamma": 0.30}``.
        looks: cumulative patients (all strata) with outcome at each look; the last look is the final analysis.
        control_arm: name of the common control arm or ``""``.
        higher_is_better: 1 if a higher event probability is better, 0 if events are undesirable (deaths).
        superiority: P(best) threshold for declaring an arm superior (per stratum).
        drop: P(best) threshold below which an arm is dropped as inferior (per stratum).
        floor: minimum allocation probability of an active arm.
        n_draws: posterior draws per analysis.
        seed: NumPy seed.

    Returns:
        The per-trial results Dataset (see ``sepsim/platform/_results/schema.py``).
    """
    true_mean = true_mean or {"placebo": 0.30, "anakinra": 0.25, "ifn_gamma": 0.30}
    first = next(iter(true_mean.values()))
    by_stratum = true_mean if isinstance(first, dict) else {"all": true_mean}
    strata = list(by_stratum)
    arms = list(next(iter(by_stratum.values())))
    truth = np.array([[by_stratum[s][a] for s in strata] for a in arms], dtype=float)  # (A, S)
    n_arms, n_strata, n_looks = len(arms), len(strata), len(looks)
    rng = np.random.default_rng(seed)
    sign = 1.0 if higher_is_better else -1.0

    shape = (n_trials, n_looks, n_arms, n_strata)
    n = np.zeros(shape, dtype=np.int64)
    events = np.zeros(shape)
    alloc = np.zeros(shape)
    active_out = np.zeros(shape, dtype=bool)
    p_best_out = np.full((n_trials, n_looks, n_arms), np.nan)
    decision = np.zeros((n_trials, n_arms, n_strata), dtype=np.int64)
    decision_look = np.full((n_trials, n_arms, n_strata), -1, dtype=np.int64)
    stop_look = np.full(n_trials, n_looks - 1, dtype=np.int64)
    outcome = np.zeros(n_trials, dtype=np.int64)
    superior_arm = np.full(n_trials, -1, dtype=np.int64)
    estimate = np.zeros((n_trials, n_arms, n_strata))

    for t in range(n_trials):
        nn = np.zeros((n_arms, n_strata), dtype=np.int64)
        ev = np.zeros((n_arms, n_strata))
        act = np.ones((n_arms, n_strata), dtype=bool)
        prob = np.full((n_arms, n_strata), 1.0 / n_arms)
        done = np.zeros(n_strata, dtype=bool)
        previous = 0
        for k, total in enumerate(looks):
            for s in range(n_strata):
                new = (total - previous) // n_strata
                if done[s] or new <= 0:
                    continue
                counts = rng.multinomial(new, prob[:, s])
                nn[:, s] += counts
                ev[:, s] += rng.binomial(counts, truth[:, s])
            previous = total
            for s in range(n_strata):
                if done[s]:
                    continue
                draws = rng.beta(1 + ev[:, s, None], 1 + nn[:, s, None] - ev[:, s, None], (n_arms, n_draws))
                draws = np.where(act[:, s, None], sign * draws, -np.inf)
                pb = np.bincount(draws.argmax(axis=0), minlength=n_arms) / n_draws
                if n_strata == 1:
                    p_best_out[t, k] = pb
                winner = int(pb.argmax())
                if pb[winner] > superiority:
                    decision[t, winner, s], decision_look[t, winner, s] = 1, k
                    done[s] = True
                    act[:, s] = False
                    continue
                dropped = act[:, s] & (pb < drop)
                decision[t, dropped, s], decision_look[t, dropped, s] = 2, k
                act[dropped, s] = False
                weights = np.where(act[:, s], np.sqrt(pb), 0.0)
                weights = np.maximum(weights / weights.sum(), np.where(act[:, s], floor, 0.0))
                prob[:, s] = weights / weights.sum()
            n[t, k], events[t, k], active_out[t, k] = nn, ev, act
            alloc[t, k] = np.where(act, prob, 0.0)
            if done.all():
                stop_look[t] = k
                outcome[t] = 1
                break
        n[t, stop_look[t] + 1 :] = nn
        events[t, stop_look[t] + 1 :] = ev
        winners = np.flatnonzero((decision[t] == 1).any(axis=1))
        superior_arm[t] = winners[0] if outcome[t] == 1 else -1
        estimate[t] = (1 + ev) / (2 + nn)  # Beta(1, 1) posterior mean

    n_total = n[np.arange(n_trials), stop_look].sum(axis=(1, 2))
    events_total = events[np.arange(n_trials), stop_look].sum(axis=(1, 2))
    design = {"kind": "synthetic", "looks": list(looks), "superiority": superiority, "drop": drop, "floor": floor}
    d4, d3 = ("trial", "look", "arm", "stratum"), ("trial", "arm", "stratum")
    return xr.Dataset(
        {
            "look_n": (("look",), np.asarray(looks, dtype=np.int64)),
            "n": (d4, n),
            "events": (d4, events),
            "alloc_prob": (d4, alloc),
            "p_best": (("trial", "look", "arm"), p_best_out),
            "active": (d4, active_out),
            "arm_decision": (d3, decision),
            "decision_look": (d3, decision_look),
            "trial_stop_look": (("trial",), stop_look),
            "trial_outcome": (("trial",), outcome),
            "superior_arm": (("trial",), superior_arm),
            "estimate": (d3, estimate),
            "n_total": (("trial",), n_total),
            "events_total": (("trial",), events_total),
            "true_mean": (("arm", "stratum"), truth),
        },
        coords={"trial": np.arange(n_trials), "look": np.arange(n_looks), "arm": arms, "stratum": strata},
        attrs={
            "higher_is_better": int(higher_is_better),
            "control_arm": control_arm,
            "design": json.dumps(design),
            "seed": int(seed),
        },
    )
