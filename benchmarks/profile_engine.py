"""Where the trial engine's time goes: XLA's own profile of one batch of the adaptr design, by kernel and by source.

``bench_trials.py --profile`` times the parts of one look in isolation (each jitted alone, so XLA fuses them
differently than in the engine). This script profiles the engine itself: it runs the compiled trial function of
the adaptr design (``bench_trials._design``; float64 unless ``--dtype float32``) under ``jax.profiler.trace``,
reads the trace (``ProfileData``), and charges each XLA CPU kernel's time to the sepsim source line it was
compiled from (the ``stack_frame_id`` of the kernel's root instruction in the optimised HLO, resolved through the
module's stack-frame table to the innermost frame in ``sepsim/``). It prints:

- the kernels with the most CPU time per trial (summed over the threads XLA splits a kernel across), with the
  output shape and the source line;
- the same time summed by source line and by source file;
- the total kernel time per trial beside the process CPU time per trial of the same batches.

Kernel times are CPU time on the XLA worker threads (a kernel split across two threads counts both), so they add
up to about the process CPU time, not the wall time. A fusion is charged to its root instruction's line; the
operations fused into it may come from other lines (the kernel name says what the root is).

Usage: ``python benchmarks/profile_engine.py [--quick] [--json PATH] [--dtype float64|float32] [--top N]``.
"""

from __future__ import annotations

import argparse
import collections
import glob
import json
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

ROOT = Path(__file__).resolve().parents[1]
_INSTR = re.compile(r"^\s*(?:ROOT )?%([\w.\-]+) = (\S+) .*?stack_frame_id=(\d+)")


def _frame_table(hlo: str) -> tuple[dict[int, tuple[int, int]], dict[int, str]]:
    """``(frames, where)``: frame id -> (location id, parent frame id) and location id -> ``file:line function``,
    from the module's ``FileNames`` / ``FunctionNames`` / ``FileLocations`` / ``StackFrames`` tables."""
    sections: dict[str, list[str]] = {}
    current = None
    for line in hlo.splitlines():
        if line in ("FileNames", "FunctionNames", "FileLocations", "StackFrames"):
            current = line
            sections[current] = []
        elif not line.strip():
            current = None
        elif current:
            sections[current].append(line)

    def table(name: str) -> dict[int, str]:
        return {int(ln.split(" ", 1)[0]): ln.split(" ", 1)[1] for ln in sections.get(name, [])}

    files = {k: v.strip('"') for k, v in table("FileNames").items()}
    funcs = {k: v.strip('"') for k, v in table("FunctionNames").items()}
    where = {}
    for k, v in table("FileLocations").items():
        f = dict(re.findall(r"(\w+)=(\d+)", v))
        path = files.get(int(f["file_name_id"]), "?")
        rel = path.split("/sepsim/", 1)[1] if "/sepsim/" in path else Path(path).name
        rel = ("sepsim/" + rel) if "/sepsim/" in path else rel
        where[k] = f"{rel}:{f['line']} {funcs.get(int(f['function_name_id']), '?')}"
    frames = {}
    for k, v in table("StackFrames").items():
        f = dict(re.findall(r"(\w+)=(\d+)", v))
        frames[k] = (int(f["file_location_id"]), int(f["parent_frame_id"]))
    return frames, where


def _source(frame: int, frames, where) -> str:
    """The innermost ``sepsim/`` location of ``frame`` (or its own location when none is in sepsim)."""
    seen, f, first = set(), frame, None
    while f in frames and f not in seen:
        seen.add(f)
        loc, parent = frames[f]
        w = where.get(loc, "?")
        first = first or w
        if w.startswith("sepsim/"):
            return w
        f = parent
    return first or "?"


def profile(dtype: str, batch: int, repeats: int) -> dict:
    import jax

    jax.config.update("jax_enable_x64", dtype == "float64")
    import bench_trials as bt
    from jax._src.profiler import ProfileData

    from sepsim._keys import index_keys, stage_key
    from sepsim.platform._allocation.factory import make_allocation_rule
    from sepsim.platform._analysis.factory import effects_tables, make_analysis
    from sepsim.platform._decisions.thresholds import design_thresholds
    from sepsim.platform._design.plan import make_plan, plan_tables
    from sepsim.platform._engine.run import _compiled

    # what make_trial_function builds, kept in hand so the jitted function can be lowered again
    design, out = bt._engine_case("adaptr quadrature", None)
    plan, tables = make_plan(design, out), plan_tables(design, out)
    tables.update(effects_tables(design, out))
    jitted, _ = _compiled(plan, make_allocation_rule(design.allocation, plan.n_arms), make_analysis(design, plan, out))
    if not hasattr(jitted, "lower"):
        raise SystemExit("profile on one device (unset --xla_force_host_platform_device_count)")
    dt = tables["outcome"].dtype
    thr = {k: jax.numpy.asarray(v, dtype=dt) for k, v in design_thresholds(design).items()}
    keys = index_keys(stage_key(2, "bench"), 0, batch)

    def fn(keys):
        return jitted(tables, keys, thr)

    jax.block_until_ready(fn(keys))  # compile
    jax.block_until_ready(fn(keys))
    # the optimised HLO of the same compiled function (its instruction names are the profile's kernel names)
    hlo = jitted.lower(tables, keys, thr).compile().as_text()
    frames, where = _frame_table(hlo)
    shape_of, source_of = {}, {}
    for line in hlo.splitlines():
        m = _INSTR.match(line)
        if m:
            shape_of[m.group(1)] = m.group(2)
            source_of[m.group(1)] = _source(int(m.group(3)), frames, where)
    with tempfile.TemporaryDirectory() as tmp:
        c0 = time.process_time()
        with jax.profiler.trace(tmp):
            for _ in range(repeats):
                jax.block_until_ready(fn(keys))
        cpu_s = time.process_time() - c0
        pb = glob.glob(f"{tmp}/**/*.xplane.pb", recursive=True)
        data = ProfileData.from_file(pb[0])
    per_kernel: collections.Counter[str] = collections.Counter()
    for plane in data.planes:
        for line in plane.lines:
            if not line.name.startswith("tf_XLAEigen"):  # XLA's CPU worker threads
                continue
            for ev in line.events:
                if ev.name in shape_of:  # kernels of this module (not the executor's own spans)
                    per_kernel[ev.name] += ev.duration_ns
    scale = 1e-3 / (repeats * batch)  # ns per batch -> us per trial
    kernels = [
        dict(kernel=k, us_per_trial=v * scale, shape=shape_of[k], source=source_of[k])
        for k, v in per_kernel.most_common()
    ]
    by_line: collections.Counter[str] = collections.Counter()
    by_file: collections.Counter[str] = collections.Counter()
    for k in kernels:
        by_line[k["source"]] += k["us_per_trial"]
        by_file[k["source"].split(":", 1)[0]] += k["us_per_trial"]
    return dict(
        dtype=dtype,
        trials=batch,
        repeats=repeats,
        process_cpu_us_per_trial=1e6 * cpu_s / (repeats * batch),
        kernel_us_per_trial=sum(k["us_per_trial"] for k in kernels),
        kernels=kernels,
        by_line=dict(by_line.most_common()),
        by_file=dict(by_file.most_common()),
    )


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="500 trials, 2 repeats")
    ap.add_argument("--json", metavar="PATH", help="write the profile as JSON")
    ap.add_argument("--dtype", default="float64", choices=("float64", "float32"))
    ap.add_argument("--top", type=int, default=25, help="kernels and source lines to print")
    args = ap.parse_args(argv)
    batch, repeats = (500, 2) if args.quick else (2000, 3)
    res = profile(args.dtype, batch, repeats)
    from bench_trials import _machine

    res["machine"] = _machine() | {"date_utc": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    total = res["kernel_us_per_trial"]
    print(
        f"adaptr design, {args.dtype}, {batch} trials x {repeats}: kernels {total:.1f} us CPU per trial "
        f"(process CPU {res['process_cpu_us_per_trial']:.1f} us per trial)"
    )
    print(f"\n{'us/trial':>9s} {'share':>6s}  {'kernel':34s} {'output':34s} source")
    for k in res["kernels"][: args.top]:
        print(
            f"{k['us_per_trial']:9.2f} {k['us_per_trial'] / total:6.1%}  {k['kernel'][:34]:34s} {k['shape'][:34]:34s} "
            f"{k['source']}"
        )
    print(f"\n{'us/trial':>9s} {'share':>6s}  source line")
    for src, us in list(res["by_line"].items())[: args.top]:
        print(f"{us:9.2f} {us / total:6.1%}  {src}")
    print(f"\n{'us/trial':>9s} {'share':>6s}  source file")
    for src, us in res["by_file"].items():
        print(f"{us:9.2f} {us / total:6.1%}  {src}")
    print(json.dumps(res["machine"]))
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1))
    return res


if __name__ == "__main__":
    main()
