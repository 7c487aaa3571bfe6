"""Request parsing alone, in-process: hiredis's Reader against engine.request.RequestParser.

Why: the engine parses requests with a port of networking.c's parser (issue 12: no header may
decide an allocation before its bytes are there), and parsing is a visible share of each
pipelined request's cost (issue 14).  This prints microseconds per request for GET and SET with a
100-byte value, in pipelines of 16 and 1000 requests, each pipeline fed as it arrives from one
socket read (one ``feed``) or in 16 KiB reads (what Redis reads per turn, PROTO_IOBUF_LEN), and
the ratio engine/hiredis.  hiredis does no limit checking at all, so it is the floor, not a
target.  Each figure is the best of ``--rounds`` rounds (the least disturbed by other load on a
shared machine) of enough repetitions for ~0.2 s.

    .venv/bin/python benchmarks/bench_parser.py
    .venv/bin/python benchmarks/bench_parser.py --rounds 7
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import hiredis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.request import RequestParser  # noqa: E402

MAX_BULK = 512 * 1024 * 1024  # proto-max-bulk-len's default
BUDGET = 512  # engine.connection.TURN_BUDGET: requests taken per parse_batch call
READ = 16 * 1024


def encode(*args: bytes) -> bytes:
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)


def pipeline(kind: str, n: int) -> bytes:
    if kind == "GET":
        return b"".join(encode(b"GET", b"key:%06d" % i) for i in range(n))
    return b"".join(encode(b"SET", b"key:%06d" % i, bytes([97 + i % 26]) * 100) for i in range(n))


def chunks(data: bytes, size: int | None) -> list[bytes]:
    if size is None:
        return [data]
    return [data[i:i + size] for i in range(0, len(data), size)]


def run_hiredis(parts: list[bytes], n: int) -> None:
    reader = hiredis.Reader()
    got = 0
    for part in parts:
        reader.feed(part)
        while True:
            req = reader.gets()
            if req is False:
                break
            got += 1
    assert got == n, got


def run_engine(parts: list[bytes], n: int) -> None:
    parser = RequestParser()
    got = 0
    for part in parts:
        parser.feed(part)
        while True:
            batch = parser.parse_batch(MAX_BULK, True, BUDGET)
            if not batch:
                break
            got += len(batch)
    assert got == n, got


def us_per_request(fn: Callable[[list[bytes], int], None], parts: list[bytes], n: int, rounds: int) -> float:
    fn(parts, n)  # warm up, and check the count
    reps = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(reps):
            fn(parts, n)
        dt = time.perf_counter() - t0
        if dt > 0.05:
            break
        reps *= 4
    reps = max(1, int(reps * 0.2 / dt))
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(reps):
            fn(parts, n)
        best = min(best, (time.perf_counter() - t0) / (reps * n))
    return best * 1e6


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5, help="rounds per figure; the best is printed (default 5)")
    args = ap.parse_args(argv)
    print(f"{'request':<10}{'pipeline':>9}{'reads':>8}{'hiredis us':>12}{'engine us':>11}{'ratio':>8}")
    for kind in ("GET", "SET-100B"):
        for n in (16, 1000):
            data = pipeline(kind.split("-")[0], n)
            for size, label in ((None, "one"), (READ, "16KiB")):
                if size is not None and len(data) <= size:
                    continue
                parts = chunks(data, size)
                h = us_per_request(run_hiredis, parts, n, args.rounds)
                e = us_per_request(run_engine, parts, n, args.rounds)
                print(f"{kind:<10}{n:>9}{label:>8}{h:>12.3f}{e:>11.3f}{e / h:>8.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
