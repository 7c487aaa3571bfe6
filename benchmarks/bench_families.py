"""CPU time per request of XADD, XREADGROUP, PFADD, GEOADD and BITFIELD, in one process.

Why: bench_engine.py's family rows compare ops/s with redis-server at ``-P 1`` and need a quiet
machine; at ``-P 1`` what the engine decides is its CPU per command, which this measures with
``time.process_time`` on a busy machine too.  A real :class:`engine.server.Server` and
:class:`engine.connection.Connection` (transport: a byte-counting sink, from bench_hotpath.py)
are fed the very requests bench_engine.py's family rows make redis-benchmark send
(``-r 100000``: ``__rand_int__`` is a 12-digit number), one request per read.  XREADGROUP
reads a stream that the same number of XADDs filled first (not timed), as in bench_engine.py.
The process runs ``cachelab-server``'s garbage-collector policy (engine/server.py
``set_gc_policy``, the heap frozen after start-up) unless ``--default-gc`` is given.

    .venv/bin/python benchmarks/bench_families.py                  # 100k requests per row
    .venv/bin/python benchmarks/bench_families.py --profile PFADD  # cProfile one row
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import pstats
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_hotpath import _encode, make_server  # noqa: E402

from engine.connection import Connection  # noqa: E402

TESTS = ("XADD", "XREADGROUP", "PFADD", "GEOADD", "BITFIELD")


def _cmd(test: str, r: bytes) -> bytes:
    if test == "XADD":
        return _encode(b"XADD", b"bench:s", b"*", b"f", r)
    if test == "XREADGROUP":
        return _encode(b"XREADGROUP", b"GROUP", b"g", b"c", b"COUNT", b"1", b"STREAMS", b"bench:s", b">")
    if test == "PFADD":
        return _encode(b"PFADD", b"bench:h", b"e:" + r)
    if test == "GEOADD":
        return _encode(b"GEOADD", b"bench:g", b"13.361389", b"38.115556", b"m:" + r)
    return _encode(b"BITFIELD", b"bench:b", b"INCRBY", b"u8", b"100", b"1", b"GET", b"u4", b"0")


def requests(test: str, n: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    return [_cmd(test, b"%012d" % rng.randrange(100000)) for _ in range(n)]


def prepared(test: str, n: int, seed: int) -> Connection:
    """A fresh server's connection, with what ``test`` reads already in place."""
    _, conn, _ = make_server()
    if test == "XREADGROUP":
        for req in requests("XADD", n, seed):
            conn.data_received(req)
        conn.data_received(_encode(b"XGROUP", b"CREATE", b"bench:s", b"g", b"0"))
    return conn


def cpu_per_request(test: str, n: int, seed: int, passes: int = 3) -> float:
    """Microseconds of CPU per request, best of ``passes`` over the same requests."""
    reqs = requests(test, n, seed)
    best = float("inf")
    for _ in range(passes):
        conn = prepared(test, n, seed)
        feed = conn.data_received
        before = conn.server.stats.total_commands_processed
        gc.collect()
        t0 = time.process_time()
        for req in reqs:
            feed(req)
        dt = time.process_time() - t0
        assert conn.server.stats.total_commands_processed - before == n
        best = min(best, dt)
    return best / n * 1e6


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--requests", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--passes", type=int, default=3)
    ap.add_argument("--only", nargs="*", choices=TESTS + ("GET",), help="rows to run (default: all)")
    ap.add_argument("--profile", choices=TESTS, help="cProfile one row instead")
    ap.add_argument("--default-gc", action="store_true", help="CPython's collector thresholds, nothing frozen")
    args = ap.parse_args()
    if not args.default_gc:
        from engine.server import freeze_loaded_heap, set_gc_policy

        set_gc_policy()
        freeze_loaded_heap()
    if args.profile:
        reqs = requests(args.profile, args.requests, args.seed)
        conn = prepared(args.profile, args.requests, args.seed)
        prof = cProfile.Profile()
        prof.enable()
        for req in reqs:
            conn.data_received(req)
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(30)
        return 0
    gc_policy = "CPython's default GC" if args.default_gc else "cachelab-server's GC policy"
    print(f"CPU per request at -P 1 (us, best of {args.passes}, {args.requests:,} requests, process_time, {gc_policy})")
    for t in args.only or TESTS:
        if t == "GET":
            from bench_hotpath import cpu_per_request as hot
            print(f"{'GET':<11} {hot('GET', args.requests, 1, args.seed):>8.2f}")
            continue
        print(f"{t:<11} {cpu_per_request(t, args.requests, args.seed, args.passes):>8.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
