"""The load generator's ceiling and its own added latency on this machine.

    python benchmarks/bench_loadgen.py [--workers 2] [--connections 16] [--seconds 2] [--pin]

Against a server that answers every command at once (simlab.load.pong, its own process):
the highest open-loop rate held (achieved within 1 % of intended, P99 send lag < 1 ms) and
the latency measured at 5 000 requests/s. Targets (issue 9): ceiling >= 30 000 requests/s,
added latency P99 < 100 us. For the peer: redis-benchmark against the same server, the
ratio printed beside it. The machine is shared: figures move between runs; run it twice.
``--pin`` puts the instant-reply server on one CPU and one worker per remaining CPU on the
others (as `simlab validate` runs by default), so the two are measured side by side with it,
and measures the added latency a second time against the instant-reply server polling its
sockets (simlab.load.pong): the first figure includes the kernel waking the server's idle CPU,
the second is the generator and the loopback alone.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from simlab.load.pong import PongServer  # noqa: E402
from simlab.load.selfcheck import check_generator  # noqa: E402


def redis_benchmark_rps(port: int, requests: int = 200_000) -> float | None:
    """redis-benchmark's GET rate against the instant server (50 clients, closed loop)."""
    exe = shutil.which("redis-benchmark")
    if exe is None:
        return None
    out = subprocess.run([exe, "-p", str(port), "-t", "get", "-n", str(requests), "-q", "-c", "50"],
                         capture_output=True, text=True, timeout=120).stdout
    m = re.search(r"GET: ([\d.]+) requests per second", out.replace("\r", "\n"))
    return float(m.group(1)) if m else None


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--pin", action="store_true", help="server on one CPU, workers on the others")
    a = ap.parse_args()
    chk = check_generator(workers=a.workers, connections=a.connections, seconds=a.seconds, pin=a.pin)
    with PongServer(b"+PONG\r\n") as pong:
        peer = redis_benchmark_rps(pong.port)
    if a.json:
        print(json.dumps({**chk.to_dict(), "redis_benchmark_closed_loop_rps": peer}, indent=2))
        return
    print(f"load generator: {chk.workers} workers x {chk.connections} connections, open loop, instant-reply server; "
          f"{chk.pinning}")
    for t in chk.attempts:
        print(f"  intended {t['intended_rps']:>9.0f} rps  achieved {t['achieved_rps']:>9.0f}  "
              f"send lag P99 {t['send_lag_p99_ms']:6.2f} ms  CPU {t['cpu_us_per_request']:5.1f} us/request  "
              f"{'held' if t['valid'] else 'NOT held'}")
    lat = chk.added_latency_ms
    print(f"ceiling (open loop, held): {chk.ceiling_rps:,.0f} requests/s   target >= 30,000")
    print(f"added latency at {chk.latency_rate_rps:,.0f} rps: P50 {lat['p50_ms'] * 1000:.0f} us, "
          f"P99 {lat['p99_ms'] * 1000:.0f} us, P99.9 {lat['p999_ms'] * 1000:.0f} us   target P99 < 100 us")
    spin = chk.added_latency_polling_server_ms
    if spin is not None:
        print(f"  the same against the instant-reply server polling its sockets (no wake-up of its CPU): "
              f"P50 {spin['p50_ms'] * 1000:.0f} us, P99 {spin['p99_ms'] * 1000:.0f} us, "
              f"P99.9 {spin['p999_ms'] * 1000:.0f} us")
    print(f"load average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (a ceiling below the "
          "CPU figures' 1e6 / (us per request) x workers is the machine's scheduling, not the generator)")
    if peer:
        print(f"redis-benchmark (C, closed loop, 50 clients) on the same server: {peer:,.0f} rps; "
              f"ratio generator/redis-benchmark {chk.ceiling_rps / peer:.2f}")


if __name__ == "__main__":
    main()
