"""Speed of the capacity planner and of sweeps on Dask (issue 8's targets).

    python benchmarks/bench_plan.py [--budget full|quick] [--points 8] [--skip-plan] [--cpu]

Prints:
  * `plan_capacity` of the default scenario for 1x/2x/5x/10x over the default configuration
    space on a 2-worker LocalCluster, with an empty result cache (target: under 180 s), and
    the quick budget the report uses (target: about 40 s);
  * a sweep of `--points` steady-state points run serially in this process and then on a
    2-worker LocalCluster (target: at least 1.7x the serial rate). The cluster's start-up is
    timed apart and left out of the rate (it is paid once per session, not per point).

Timings on this shared 2-core machine move by +-20 % between runs.
"""

from __future__ import annotations

import argparse
import tempfile
import time


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--budget", default="full", choices=["full", "quick"])
    ap.add_argument("--points", type=int, default=8)
    ap.add_argument("--skip-plan", action="store_true")
    ap.add_argument("--cpu", action="store_true",
                    help="also run each plan serially in this process and print its CPU time: a figure the "
                         "machine's other load does not move, the wall time of an idle machine's serial run")
    args = ap.parse_args()

    from simlab.paths import DEFAULT_SCENARIO
    from simlab.plan import plan_capacity
    from simlab.scenario import load_scenario
    from simlab.sweep import SimSettings, close_client, open_client, run_sweep

    sc = load_scenario(DEFAULT_SCENARIO)
    rows = []

    # --- sweep: serial vs a 2-worker LocalCluster --------------------------------------------
    settings = SimSettings(mode="steady", duration_s=10.0, warmup_accesses=300_000)
    configs = [{"growth": 2.0, "backend.concurrency": 16 + 8 * i} for i in range(args.points)]
    # Both sides are warmed with one point of another seed before they are timed: the first
    # point a process runs pays its imports and first-call costs (numpy, the key sampler),
    # once per session, which is start-up and not the sweep's rate.
    warm = [{"growth": 2.0, "backend.concurrency": 8}]
    with tempfile.TemporaryDirectory() as d:
        run_sweep(sc, warm, seeds=(99,), settings=settings, parallel=False, cache_dir=f"{d}/w", progress=False)
        t = time.perf_counter()
        serial = run_sweep(sc, configs, settings=settings, parallel=False, cache_dir=f"{d}/s", progress=False)
        t_serial = time.perf_counter() - t
        t = time.perf_counter()
        client = open_client(n_workers=2)
        run_sweep(sc, warm, seeds=(97, 98), settings=settings, client=client, cache_dir=f"{d}/w", progress=False)
        t_start = time.perf_counter() - t
        try:
            t = time.perf_counter()
            par = run_sweep(sc, configs, settings=settings, client=client, cache_dir=f"{d}/p", progress=False)
            t_par = time.perf_counter() - t
        finally:
            close_client(client)
        t = time.perf_counter()
        again = run_sweep(sc, configs, settings=settings, parallel=False, cache_dir=f"{d}/p", progress=False)
        t_cached = time.perf_counter() - t
    same = serial.table.drop(columns=["wall_s", "cached"]).equals(par.table.drop(columns=["wall_s", "cached"]))
    rows.append(("sweep points", f"{args.points}", ""))
    rows.append(("serial", f"{t_serial:.1f} s ({args.points / t_serial:.2f} points/s)", ""))
    rows.append(("LocalCluster start + warm-up point", f"{t_start:.1f} s", "once per session"))
    rows.append(("2-worker LocalCluster", f"{t_par:.1f} s ({args.points / t_par:.2f} points/s)", ""))
    rows.append(("speed-up vs serial", f"{t_serial / t_par:.2f}x", ">= 1.7x"))
    rows.append(("rows equal to serial", str(same), "True"))
    rows.append(("re-run from the cache", f"{t_cached:.2f} s, {again.simulated} simulated", "0 simulated"))

    # --- the planner ---------------------------------------------------------------------------
    if not args.skip_plan:
        for budget in ([args.budget, "quick"] if args.budget == "full" else ["quick"]):
            with tempfile.TemporaryDirectory() as d:
                t = time.perf_counter()
                p = plan_capacity(sc, growth=(1, 2, 5, 10), budget=budget, cache_dir=d, progress=False)  # type: ignore[arg-type]
                wall = time.perf_counter() - t
            target = "< 180 s" if budget == "full" else "~40 s"
            rows.append((f"plan 1/2/5/10x ({budget})", f"{wall:.1f} s, {p.simulated} configurations simulated", target))
            for a in p.answers:
                c = a.config or {}
                desc = ("no compliant configuration" if not c else
                        f"{c['cache.maxmemory_bytes'] / 2**20:g} MiB x {c['cache.shards']} shard(s), pool "
                        f"{c['backend.concurrency']}, {c['cache.maxmemory_policy']}, ${a.monthly_cost_usd:.2f}/month; "
                        f"binds {a.binding_slo}/{a.binding_resource}, knee {a.knee_growth or float('nan'):.2f}x")
                rows.append((f"  {a.growth:g}x (today {'meets' if a.baseline_met else 'misses'}, binds "
                             f"{a.baseline_binding_resource})", desc, f"{a.simulated} simulated"))
            if args.cpu:
                c0 = time.process_time()
                p = plan_capacity(sc, growth=(1, 2, 5, 10), budget=budget, parallel=False, cache_dir=None,  # type: ignore[arg-type]
                                  progress=False)
                rows.append((f"plan ({budget}) serial CPU time", f"{time.process_time() - c0:.1f} s for "
                             f"{p.simulated} configurations", "idle-machine serial wall time"))

    w = max(len(r[0]) for r in rows)
    for name, value, target in rows:
        print(f"{name:<{w}}  {value}  {('[' + target + ']') if target else ''}")


if __name__ == "__main__":
    main()
