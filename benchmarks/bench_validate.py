"""`simlab validate` on the default scenario: how long it takes and how well it agrees.

    python benchmarks/bench_validate.py [--quick] [--no-pin] [--poll auto|yes|no] [--redis | --target URL] [--out DIR]

Runs the full validation (nine load points, 10 % to 90 % of saturation) against the engine in
a child process (or --target), prints the wall time (target: under 3 minutes on this 2-core
machine) and the agreement table, and writes table.csv, validation.json and percentiles.png
to --out (default /tmp/bench_validate). The machine's load average is printed beside it: on a
shared machine, latency agreement is only as good as the scheduler lets it be.

By default the engine is pinned to one CPU and the generator's worker to the other (as
`simlab validate` does); ``--no-pin`` runs them unpinned, two workers, for comparison. The
verdict is `simlab validate`'s: agrees (exit 0), disagrees (1), not shown (5: a load point up
to 70 % was an invalid run); this script exits with the same code. ``--redis`` starts a real
redis-server (persistence off, a free loopback port, pinned like the engine, stopped by PID)
and validates against it instead.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from simlab.paths import DEFAULT_SCENARIO  # noqa: E402
from simlab.scenario import load_scenario  # noqa: E402
from simlab.validate import validate  # noqa: E402


def _start_redis(options: list[str]) -> tuple[subprocess.Popen[bytes], str, str]:
    """redis-server on a free loopback port, persistence off, with ``options`` (the scenario's
    maxmemory, as the engine gets them); (process, URL, its directory)."""
    import redis

    from simlab.load.target import free_port

    exe = shutil.which("redis-server")
    if exe is None:
        sys.exit("bench_validate: --redis needs redis-server on PATH (apt-get install redis-server)")
    port = free_port()
    d = tempfile.mkdtemp(prefix="bench-validate-redis-")
    p = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                          "--dir", d, *options], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(500):
        try:
            redis.Redis(port=port, socket_timeout=1).ping()
            return p, f"redis://127.0.0.1:{port}", d
        except redis.ConnectionError:
            time.sleep(0.02)
    os.kill(p.pid, signal.SIGKILL)
    sys.exit("bench_validate: redis-server did not start")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--target")
    ap.add_argument("--scenario", default=str(DEFAULT_SCENARIO))
    ap.add_argument("--out", default="/tmp/bench_validate")
    ap.add_argument("--no-pin", dest="pin", action="store_false", help="leave CPU placement to the scheduler")
    ap.add_argument("--redis", action="store_true", help="validate against a real redis-server started here")
    ap.add_argument("--poll", choices=("auto", "yes", "no"), default="auto",
                    help="pinned worker polls instead of sleeping (auto: when the load average leaves its CPU free)")
    a = ap.parse_args()
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    server: subprocess.Popen[bytes] | None = None
    target, server_pid, rdir = a.target, None, None
    sc = load_scenario(a.scenario)
    if a.redis:
        c = sc.cache
        opts = ([] if not c.maxmemory_bytes else
                ["--maxmemory", str(c.maxmemory_bytes), "--maxmemory-policy", str(c.maxmemory_policy),
                 "--maxmemory-samples", str(c.maxmemory_samples)])
        server, target, rdir = _start_redis(opts)
        server_pid = server.pid
    try:
        v = validate(sc, target, quick=a.quick, pin=a.pin, server_pid=server_pid,
                     spin={"auto": None, "yes": True, "no": False}[a.poll],
                     progress=lambda m: print(f"  {m}", file=sys.stderr))
    finally:
        if server is not None:
            os.kill(server.pid, signal.SIGTERM)
            server.wait(10)
            shutil.rmtree(rdir or "", ignore_errors=True)
    wall = time.perf_counter() - t0
    v.save(a.out)
    cols = ["fraction", "offered_rps", "achieved_rps", "predicted_p50_ms", "measured_p50_ms", "err_p50",
            "err_p50_ci95", "predicted_p99_ms", "measured_p99_ms", "err_p99", "err_p99_ci95",
            "predicted_hit_ratio", "measured_hit_ratio", "predicted_server_busy", "measured_server_busy",
            "send_lag_p99_ms", "verdict"]
    import pandas as pd

    with pd.option_context("display.width", 250, "display.max_columns", 30):
        print(v.table[cols].to_string(index=False, float_format=lambda x: f"{x:.4g}"))
    s = v.saturation
    print(f"saturation measured {s['measured_rps']:.0f} rps (server CPU {s['server_cpu_busy'] * 100:.1f} %, "
          f"generator worker {s['generator_cpu_busy'] * 100:.1f} %), predicted {s['predicted_rps']:.0f} rps")
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
