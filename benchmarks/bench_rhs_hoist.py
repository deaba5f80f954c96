"""Benchmark: is the parameter-only work of the patient right-hand side recomputed inside the lane-refill step loop?

Two measurements (issue 14, go/no-go for precomputing derived per-patient constants at lane refill):

1. **HLO of the step loop.** The default patient solver (``_solve._batch_impl``: ``tsit5_queue``, 128 lanes, refill
   8; with ``--devices 2`` one loop per device under ``shard_map``, as ``bench_patient.py`` runs it) is compiled for
   512 cohort patients per device; in the optimised HLO the step loop is the ``while`` with the most fusions.
   Printed: its loop-carried values, how many of them the body passes through unchanged (loop-invariant: the lanes'
   parameters and whatever XLA's while-loop invariant code motion hoisted out of the body), and the arithmetic
   instructions inside the body's fusions whose inputs are loop-invariant values or constants only (parameter-only
   work that is still recomputed every step).
2. **Right-hand side alone.** ``_solve._lanes_rhs`` on ``(n_states, lanes)``, a ``fori_loop`` of ``--evals``
   evaluations, ``time.process_time`` best of ``--repeats``: parameters and covariates loop-invariant (as in the
   step loop) vs passed through the loop carry behind ``optimization_barrier`` (nothing can be hoisted, every
   evaluation recomputes the parameter-only work). The difference is the parameter-only share of an evaluation.

Usage: ``python benchmarks/bench_rhs_hoist.py [--quick] [--json PATH] [--arm placebo|anakinra_cytosorb] [--devices 1]``
(``--quick``: 2,000 evaluations, best of 5, instead of 10,000, best of 9). Results: ``bench_patient.md``.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import re
import sys
import time

os.environ.setdefault("JAX_PLATFORMS", "cpu")
_DEVICES = int(sys.argv[sys.argv.index("--devices") + 1]) if "--devices" in sys.argv else 1
os.environ.setdefault("XLA_FLAGS", f"--xla_force_host_platform_device_count={_DEVICES}")

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from sepsim._keys import stage_key  # noqa: E402
from sepsim.models import Placebo, SolverConfig, simulate_cohort  # noqa: E402
from sepsim.models._outcomes import _chunk_inputs  # noqa: E402
from sepsim.models._patient_rhs import initial_state  # noqa: E402
from sepsim.models._solve import _batch_impl, _lanes_rhs, shard_patients  # noqa: E402

_COMPUTATION = re.compile(r"\n(?:ENTRY )?%([\w.\-]+) \(.*?\n\}", re.S)
_SHAPE_ONLY = ("bitcast", "slice", "broadcast", "reshape", "copy", "transpose")


def _arm(name: str):
    if name == "placebo":
        return Placebo()
    from sepsim.models.interventions import Anakinra, Combination, CytoSorb

    return Combination(therapies=(Anakinra(),), device=CytoSorb(mode="sessions", qb_ml_min=250.0))


def step_loop_invariants(hlo: str) -> dict:
    """Carry size, loop-invariant carry entries and invariant-only arithmetic of the while body with most fusions."""
    comps = {m.group(1): m.group(0).split("\n") for m in _COMPUTATION.finditer(hlo)}
    bodies = re.findall(r" while\(.*?body=%([\w.\-]+)", hlo)
    body = max(bodies, key=lambda b: sum(" fusion(" in line for line in comps[b]))
    lines = comps[body]
    gte = {}
    for line in lines:
        m = re.match(r"\s*%(\S+) = .*get-tuple-element\(%[^)]*\), index=(\d+)", line)
        if m:
            gte[m.group(1)] = int(m.group(2))
    root = next(line for line in lines if "ROOT" in line)
    outputs = re.findall(r"%([\w.\-]+)", root.split("tuple(", 1)[1])
    invariant_in = {name for name, i in gte.items() if outputs[i] == name}  # passed through unchanged
    n_ops, kinds = 0, {}
    for line in lines:
        m = re.match(r"\s*%\S+ = \S+ fusion\((.*?)\), kind=\w+, calls=%([\w.\-]+)", line)
        if not m:
            continue
        operands = re.findall(r"%([\w.\-]+)", m.group(1))
        invariant = set()
        for inner in comps[m.group(2)][1:]:
            m2 = re.match(r"\s*(?:ROOT )?%(\S+) = \S+ (\S+?)\((.*)\)", inner)
            if not m2:
                continue
            name, op, args = m2.groups()
            if op == "parameter":
                if operands[int(re.match(r"\d+", args).group(0))] in invariant_in:
                    invariant.add(name)
                continue
            if op == "constant":
                invariant.add(name)
                continue
            n_ops += 1
            refs = re.findall(r"%([\w.\-]+)", args)
            if refs and all(r in invariant for r in refs):
                invariant.add(name)
                if op not in _SHAPE_ONLY:
                    kinds[op] = kinds.get(op, 0) + 1
    return {"carry": len(outputs), "invariant": len(invariant_in), "instructions": n_ops, "invariant_only": kinds}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arm", default="placebo", choices=("placebo", "anakinra_cytosorb"))
    ap.add_argument("--lanes", type=int, default=128)
    ap.add_argument("--devices", type=int, default=1, help="XLA CPU devices (the solver runs one loop per device)")
    ap.add_argument("--evals", type=int, default=None, help="right-hand-side evaluations per timed loop")
    ap.add_argument("--repeats", type=int, default=None)
    ap.add_argument("--quick", action="store_true", help="2,000 evaluations, best of 5")
    ap.add_argument("--json", default=None, help="write figures as JSON to this path")
    args = ap.parse_args()
    args.evals = args.evals or (2000 if args.quick else 10_000)
    args.repeats = args.repeats or (5 if args.quick else 9)
    arm, lanes = _arm(args.arm), args.lanes
    print(f"# load average before: {os.getloadavg()[0]:.2f}; {args.arm}, {len(jax.devices())} XLA CPU device(s)")

    n = 4 * lanes * len(jax.devices())
    p, c, ts = _chunk_inputs(simulate_cohort(n, key=stage_key(3, "cohort")), slice(0, n), n, 28)
    solve = jax.jit(functools.partial(_batch_impl, arm, SolverConfig(lanes=lanes)))  # the default patient solver
    loop = step_loop_invariants(solve.lower(*shard_patients((p, c, ts))).compile().as_text())
    print(
        f"step loop ({n} patients, {lanes} lanes per device): {loop['carry']} loop-carried values, {loop['invariant']} "
        f"loop-invariant; {loop['instructions']} instructions in its fusions, of which arithmetic on invariant "
        f"values only: {sum(loop['invariant_only'].values())} {loop['invariant_only']}"
    )

    p, c = jax.tree.map(lambda a: a[:lanes], (p, c))
    y0 = jax.vmap(initial_state)(p)
    z0 = jax.vmap(lambda ci: jnp.asarray(arm.init_state(ci), y0.dtype))(c)
    yz0 = jnp.concatenate([y0, z0], axis=1).T  # state-major (n, L)
    tau = jnp.full((lanes,), 60.0)  # solver time: 12 h after randomisation (arm on, hazards on)

    @jax.jit
    def invariant(yz, p, c):
        return jax.lax.fori_loop(0, args.evals, lambda i, yz: yz + 1e-9 * _lanes_rhs(arm, tau, yz, p, c), yz)

    @jax.jit
    def carried(yz, p, c):
        def body(i, s):
            yz, p, c = s
            p, c = jax.lax.optimization_barrier((p, c))
            return yz + 1e-9 * _lanes_rhs(arm, tau, yz, p, c), p, c

        return jax.lax.fori_loop(0, args.evals, body, (yz, p, c))[0]

    variants = {"parameters loop-invariant": invariant, "parameters in the carry": carried}
    times = {k: [] for k in variants}
    for f in variants.values():
        jax.block_until_ready(f(yz0, p, c))  # compile
    for _ in range(args.repeats):
        for k, f in variants.items():
            c0 = time.process_time()
            jax.block_until_ready(f(yz0, p, c))
            times[k].append(time.process_time() - c0)
    np.testing.assert_allclose(np.asarray(invariant(yz0, p, c)), np.asarray(carried(yz0, p, c)), rtol=1e-12)
    per_eval = {k: min(v) / (args.evals * lanes) * 1e9 for k, v in times.items()}
    for k, v in per_eval.items():
        print(f"right-hand side, {k}: {v:.1f} ns CPU per patient-evaluation (best of {args.repeats})")
    a, b = per_eval.values()
    print(f"parameter-only share of an evaluation when nothing is hoisted: {(b - a) / b:.1%}")
    print(f"# load average after: {os.getloadavg()[0]:.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"arm": args.arm, "lanes": lanes, "evals": args.evals, "step_loop": loop, "ns": per_eval}, f)


if __name__ == "__main__":
    main()
