"""CPU time per request of the engine's own per-command work, in one process, no sockets.

Why: redis-benchmark's wall-clock ratios (bench_engine.py) need a quiet machine; this measures
what the engine itself spends per request with ``time.process_time``, so a change to the hot
path can be judged before/after on a busy machine.  A real :class:`engine.server.Server` and a
real :class:`engine.connection.Connection` (its transport a sink that counts bytes) are fed the
requests redis-benchmark sends (``-t set,get,incr,hset -r 100000``, 3-byte values), one
request per read (``-P 1``) or 16 per read (``-P 16``); the event loop and the syscalls are
not included.  Then it loads ``--keys`` 100-byte values and reports what the keyspace holds
per key (tracemalloc), the part of RSS the engine decides.

    .venv/bin/python benchmarks/bench_hotpath.py                 # 200k requests per row
    .venv/bin/python benchmarks/bench_hotpath.py --profile SET --pipeline 16
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import pstats
import random
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.config import Config  # noqa: E402
from engine.connection import Connection  # noqa: E402
from engine.server import Server  # noqa: E402

TESTS = ("SET", "GET", "INCR", "HSET")


class SinkTransport:
    """What Connection needs of an asyncio transport; replies are counted, not kept."""

    def __init__(self) -> None:
        self.out_bytes = 0

    def write(self, data: bytes) -> None:
        self.out_bytes += len(data)

    def is_closing(self) -> bool:
        return False

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 40000) if name in ("peername", "sockname") else default

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def close(self) -> None:
        pass

    def abort(self) -> None:
        pass


def _encode(*args: bytes) -> bytes:
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)


def requests(test: str, n: int, rng: random.Random, value: bytes = b"xxx") -> list[bytes]:
    """The requests redis-benchmark sends for ``test`` with ``-r 100000``."""
    out = []
    for _ in range(n):
        r = b"%012d" % rng.randrange(100000)
        if test == "SET":
            out.append(_encode(b"SET", b"key:" + r, value))
        elif test == "GET":
            out.append(_encode(b"GET", b"key:" + r))
        elif test == "INCR":
            out.append(_encode(b"INCR", b"counter:" + r))
        else:
            out.append(_encode(b"HSET", b"myhash", b"element:" + r, value))
    return out


def make_server() -> tuple[Server, Connection, SinkTransport]:
    server = Server(Config(), chdir=False)
    conn = Connection(server)
    transport = SinkTransport()
    conn.connection_made(transport)
    return server, conn, transport


def reads(reqs: list[bytes], pipeline: int) -> list[bytes]:
    return [b"".join(reqs[i:i + pipeline]) for i in range(0, len(reqs), pipeline)]


def cpu_per_request(test: str, n: int, pipeline: int, seed: int) -> float:
    """Microseconds of CPU per request, best of 3 passes over the same reads."""
    rng = random.Random(seed)
    chunks = reads(requests(test, n, rng), pipeline)
    best = float("inf")
    for _ in range(3):
        server, conn, transport = make_server()
        feed = conn.data_received
        gc.collect()
        t0 = time.process_time()
        for c in chunks:
            feed(c)
        dt = time.process_time() - t0
        assert server.stats.total_commands_processed == n, server.stats.total_commands_processed
        best = min(best, dt)
    return best / n * 1e6


def bytes_per_key(keys: int, seed: int) -> float:
    """tracemalloc bytes held after ``keys`` SETs of 100-byte values on distinct keys."""
    rng = random.Random(seed)
    value = b"x" * 100
    chunks = reads([_encode(b"SET", b"key:%012d" % i, value) for i in rng.sample(range(keys * 1000), keys)], 64)
    server, conn, _ = make_server()
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for c in chunks:
        conn.data_received(c)
    del chunks
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return (after - before) / len(server.dbs[0].data)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--requests", type=int, default=200_000)
    ap.add_argument("--keys", type=int, default=200_000, help="keys for the per-key memory figure")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--profile", choices=TESTS, help="cProfile one test instead")
    ap.add_argument("--pipeline", type=int, default=16, help="with --profile: requests per read")
    args = ap.parse_args()
    if args.profile:
        chunks = reads(requests(args.profile, args.requests, random.Random(args.seed)), args.pipeline)
        _, conn, _ = make_server()
        prof = cProfile.Profile()
        prof.enable()
        for c in chunks:
            conn.data_received(c)
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(25)
        return 0
    print(f"CPU per request (us, best of 3, {args.requests:,} requests, process_time)")
    print(f"{'test':<6} {'-P 1':>8} {'-P 16':>8}")
    for t in TESTS:
        p1 = cpu_per_request(t, args.requests, 1, args.seed)
        p16 = cpu_per_request(t, args.requests, 16, args.seed)
        print(f"{t:<6} {p1:>8.2f} {p16:>8.2f}")
    print(f"keyspace bytes per key (tracemalloc, {args.keys:,} SETs of 100-byte values): "
          f"{bytes_per_key(args.keys, args.seed):.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
