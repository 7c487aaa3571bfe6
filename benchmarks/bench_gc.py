"""What Python's cyclic garbage collector costs the engine, under one collector policy per run.

Why: every request allocates tracked containers (argument lists, reply lists, tuples), so with
CPython's default thresholds (700, 10, 10) a young collection runs every few hundred requests,
and a full one walks every tracked object the keyspace holds (hashes are dicts, stream entries
tuples and lists).  The policy the server sets (``engine.server.GC_POLICY``) is chosen from
this script's figures.  Each run is one process (``gc.freeze`` cannot be undone for a fair
second measurement): a real :class:`engine.server.Server` and
:class:`engine.connection.Connection` (bench_hotpath.py's sink transport) are loaded with
``--keys`` strings, ``--hashes`` hashes of ``--fields`` fields and ``--streams`` streams of
``--entries`` entries (pipelined, as an RDB/AOF load or a warm-up would), then fed the requests
bench_engine.py makes redis-benchmark send, one per read.  ``gc.callbacks`` times every
collection: the figures are the time spent collecting per request, the longest pause, and a
full ``gc.collect()`` at the end.

    .venv/bin/python benchmarks/bench_gc.py                    # every policy, one process each
    .venv/bin/python benchmarks/bench_gc.py --policy default --keys 1000000
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_families import requests as family_requests  # noqa: E402
from bench_hotpath import _encode, make_server, reads  # noqa: E402

POLICIES = ("default", "engine", "disabled")
TESTS = ("GET", "SET", "XADD", "PFADD")


class CollectionTimer:
    """Wall time of each collection, by generation, through ``gc.callbacks``."""

    def __init__(self) -> None:
        self.t0 = 0.0
        self.pauses: list[tuple[int, float]] = []

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self.t0 = time.perf_counter()
        else:
            self.pauses.append((info["generation"], time.perf_counter() - self.t0))


def load(conn: object, keys: int, hashes: int, fields: int, streams: int, entries: int) -> None:
    feed = conn.data_received  # type: ignore[attr-defined]
    value = b"x" * 100
    for c in reads([_encode(b"SET", b"key:%012d" % i, value) for i in range(keys)], 64):
        feed(c)
    for h in range(hashes):
        for c in reads([_encode(b"HSET", b"hash:%d" % h, b"f:%d" % i, b"v") for i in range(fields)], 64):
            feed(c)
    for s in range(streams):
        for c in reads([_encode(b"XADD", b"stream:%d" % s, b"*", b"f", b"%d" % i) for i in range(entries)], 64):
            feed(c)


def workload(test: str, n: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    if test == "GET":
        return [_encode(b"GET", b"key:%012d" % rng.randrange(100000)) for _ in range(n)]
    if test == "SET":
        return [_encode(b"SET", b"key:%012d" % rng.randrange(100000), b"xxx") for _ in range(n)]
    return family_requests(test, n, seed)


def run_one(args: argparse.Namespace) -> dict[str, object]:
    if args.policy == "disabled":
        gc.disable()
    elif args.policy == "engine" and args.threshold:
        gc.set_threshold(*args.threshold)
    elif args.policy == "engine":
        from engine.server import GC_THRESHOLDS

        gc.set_threshold(*GC_THRESHOLDS)
    server, conn, _ = make_server()
    t = time.perf_counter()
    timer = CollectionTimer()
    gc.callbacks.append(timer)
    load(conn, args.keys, args.hashes, args.fields, args.streams, args.entries)
    load_s = time.perf_counter() - t
    load_gc_s = sum(p for _, p in timer.pauses)
    if args.policy == "engine":
        gc.freeze()  # what run_server does once the data is loaded
    tracked = len(gc.get_objects()) + gc.get_freeze_count()
    result: dict[str, object] = {
        "policy": args.policy, "load_s": round(load_s, 2), "load_gc_s": round(load_gc_s, 2), "tracked": tracked,
    }
    for test in TESTS:
        reqs = workload(test, args.requests, args.seed)
        timer.pauses.clear()
        t0 = time.process_time()
        for r in reqs:
            conn.data_received(r)
        dt = time.process_time() - t0
        gc_s = sum(p for _, p in timer.pauses)
        result[test] = {
            "us_per_req": round(dt / len(reqs) * 1e6, 2),
            "gc_us_per_req": round(gc_s / len(reqs) * 1e6, 3),
            "collections": [sum(1 for g, _ in timer.pauses if g == k) for k in range(3)],
            "max_pause_ms": round(max((p for _, p in timer.pauses), default=0.0) * 1e3, 2),
        }
    gc.enable()
    timer.pauses.clear()
    t = time.perf_counter()
    gc.collect()
    result["full_collect_ms"] = round((time.perf_counter() - t) * 1e3, 1)
    result["max_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    del server
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--policy", choices=POLICIES, help="run one policy in this process (default: each in a child)")
    ap.add_argument("--keys", type=int, default=1_000_000)
    ap.add_argument("--hashes", type=int, default=4)
    ap.add_argument("--fields", type=int, default=100_000)
    ap.add_argument("--streams", type=int, default=2)
    ap.add_argument("--entries", type=int, default=100_000)
    ap.add_argument("--requests", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threshold", type=int, nargs=3, help="engine policy: these thresholds instead of GC_THRESHOLDS")
    args = ap.parse_args()
    if args.policy:
        print(json.dumps(run_one(args)))
        return 0
    argv = sys.argv[1:]
    print(f"{args.keys:,} keys, {args.hashes} hashes x {args.fields:,} fields, {args.streams} streams x "
          f"{args.entries:,} entries; {args.requests:,} requests per test, one per read")
    print(f"{'policy':<9} {'test':<6} {'us/req':>7} {'gc us/req':>9} {'gen0/1/2':>12} {'max pause ms':>12}")
    for policy in POLICIES:
        out = subprocess.run([sys.executable, __file__, "--policy", policy, *argv], capture_output=True, text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        for test in TESTS:
            x = r[test]
            print(f"{policy:<9} {test:<6} {x['us_per_req']:>7.2f} {x['gc_us_per_req']:>9.3f} "
                  f"{'/'.join(map(str, x['collections'])):>12} {x['max_pause_ms']:>12.2f}")
        print(f"{policy:<9} load {r['load_s']} s (collecting {r['load_gc_s']} s), {r['tracked']:,} tracked objects, "
              f"full gc.collect() {r['full_collect_ms']} ms, max RSS {r['max_rss_mb']} MB", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
