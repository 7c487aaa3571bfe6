"""The overload case: the seed's service at 5x traffic and keyspace for 300 s.

    .venv/bin/python benchmarks/bench_overload.py

Prints wall time and CPU time (this process and the forked cache worker), the load average
(the machine is shared, so wall time moves with it), and what the run says is overloaded.
Target: under 60 s.
"""

from __future__ import annotations

import os
import resource
import time

from simlab.model.run import simulate
from simlab.paths import SCENARIOS_DIR
from simlab.scenario import load_scenario


def main() -> None:
    sc = load_scenario(SCENARIOS_DIR / "overload-5x.yaml")
    load0 = os.getloadavg()[0]
    t, c = time.perf_counter(), time.process_time()
    r = simulate(sc)
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    ch = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(f"overload-5x: {sc.run.duration_s:g} s simulated, {int(r.overall['requests']):,} requests, engine {r.model}")
    print(f"  wall {wall:.1f} s (target < 60 s); CPU {cpu:.1f} s here + {ch.ru_utime + ch.ru_stime:.1f} s in the "
          f"cache worker; load average {load0:.1f} -> {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for o in r.overload["over_capacity"] + r.overload["saturated"]:
        print("  " + o["message"])
    for n in r.overload["unbounded"]:
        print("  unbounded: " + n)


if __name__ == "__main__":
    main()
