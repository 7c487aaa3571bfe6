"""`simlab validate` on the default scenario: how long it takes and how well it agrees.

    python benchmarks/bench_validate.py [--quick] [--no-pin] [--target URL] [--out DIR]

Runs the full validation (nine load points, 10 % to 90 % of saturation) against the engine in
a child process (or --target), prints the wall time (target: under 3 minutes on this 2-core
machine) and the agreement table, and writes table.csv, validation.json and percentiles.png
to --out (default /tmp/bench_validate). The machine's load average is printed beside it: on a
shared machine, latency agreement is only as good as the scheduler lets it be.

By default the engine is pinned to one CPU and the generator's worker to the other (as
`simlab validate` does); ``--no-pin`` runs them unpinned, two workers, for comparison. The
verdict is `simlab validate`'s: agrees (exit 0), disagrees (1), not shown (5: a load point up
to 70 % was an invalid run); this script exits with the same code.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from simlab.paths import DEFAULT_SCENARIO  # noqa: E402
from simlab.scenario import load_scenario  # noqa: E402
from simlab.validate import validate  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--target")
    ap.add_argument("--scenario", default=str(DEFAULT_SCENARIO))
    ap.add_argument("--out", default="/tmp/bench_validate")
    ap.add_argument("--no-pin", dest="pin", action="store_false", help="leave CPU placement to the scheduler")
    a = ap.parse_args()
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    v = validate(load_scenario(a.scenario), a.target, quick=a.quick, pin=a.pin,
                 progress=lambda m: print(f"  {m}", file=sys.stderr))
    wall = time.perf_counter() - t0
    v.save(a.out)
    cols = ["fraction", "offered_rps", "achieved_rps", "predicted_p50_ms", "measured_p50_ms", "err_p50",
            "predicted_p99_ms", "measured_p99_ms", "err_p99", "predicted_hit_ratio", "measured_hit_ratio",
            "send_lag_p99_ms", "verdict"]
    import pandas as pd

    with pd.option_context("display.width", 250, "display.max_columns", 30):
        print(v.table[cols].to_string(index=False, float_format=lambda x: f"{x:.4g}"))
    s = v.saturation
    print(f"saturation measured {s['measured_rps']:.0f} rps (server CPU {s['server_cpu_busy'] * 100:.0f} %, "
          f"generator worker {s['generator_cpu_busy'] * 100:.0f} %), predicted {s['predicted_rps']:.0f} rps")
    print(f"generator round trip P50 {v.generator_rtt_us['p50']:.0f} us, P99 {v.generator_rtt_us['p99']:.0f} us")
    cpu = [f"{m.generator_cpu_us_per_request:.1f}" for m in v.loads]
    print(f"CPUs: {v.pinning}; generator CPU per request by load point (us): {', '.join(cpu)}")
    for note in v.notes:
        print(f"note: {note}")
    print(f"validation {v.verdict}; wall time {wall:.1f} s (target < 180 s); "
          f"load average {load0:.1f} before, {os.getloadavg()[0]:.1f} after on {os.cpu_count()} cores")
    sys.exit({"agrees": 0, "disagrees": 1}.get(v.verdict, 5))


if __name__ == "__main__":
    main()
