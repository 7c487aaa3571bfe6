"""Eviction at full speed: the engine and redis-server 7.0, each alone and batch by batch.

Why: Redis's approximated LRU reads a clock of one-second resolution (LRU_CLOCK_RESOLUTION
1000 ms, updated by serverCron), so the recency allkeys-lru sees depends on how many requests
fall in one second, that is on the server's throughput.  Run alone at full speed, a slower
server gets a higher allkeys-lru hit ratio with the same algorithm; this script shows it by
running the issue's case (``maxmemory 2mb``, Zipf 0.9 over 30,000 keys, cache-aside with
pipelined GETs and a SET per miss, 100-byte values, batches of 200) in three ways:

* ``alone``: each server by itself, as fast as the client can (the issue's measurement);
* ``paced``: redis-server again, its batches spread over the engine's ``alone`` duration;
* ``paired``: each batch to redis-server, then the same batch to the engine (what
  tests/differential/test_eviction_vs_redis.py asserts: 1 point, 1 % of keys).

Both servers run as subprocesses (the engine as ``cachelab-server``), are sent the same
commands (one PING at start, then redis-py's; each command's latency histogram is 24,688
bytes, about 140 keys of this cache), and are stopped by PID.  The workload is seeded.

    .venv/bin/python benchmarks/bench_eviction.py                     # 150,000 requests, 3 policies
    .venv/bin/python benchmarks/bench_eviction.py --requests 60000 --policies allkeys-lru
"""

from __future__ import annotations

import argparse
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import redis

N_KEYS = 30_000
ALPHA = 0.9
BATCH = 200
VALUE = b"v" * 100
MAXMEMORY = "2mb"
POLICIES = ("allkeys-lru", "allkeys-lfu", "allkeys-random")
ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(64).startswith(b"+PONG")
    except OSError:
        return False


@contextmanager
def server(kind: str, policy: str) -> Iterator[int]:
    """Start redis-server or the engine with the memory limit and ``policy``; yield its port;
    stop it by PID."""
    port = free_port()
    workdir = tempfile.mkdtemp(prefix=f"bench-evict-{kind}-")
    common = ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", workdir,
              "--maxmemory", MAXMEMORY, "--maxmemory-policy", policy]
    if kind == "redis":
        argv = [shutil.which("redis-server") or "redis-server", *common, "--daemonize", "no"]
    else:
        exe = Path(sys.executable).with_name("cachelab-server")
        argv = [str(exe)] if exe.exists() else [sys.executable, "-m", "engine.cli"]
        argv += common
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=workdir)
    try:
        deadline = time.monotonic() + 20
        while not _ping(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{kind} did not answer PING on port {port}")
            time.sleep(0.05)
        yield port
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(workdir, ignore_errors=True)


def client(port: int) -> redis.Redis:
    return redis.Redis(host="127.0.0.1", port=port)


def workload(n: int, seed: int) -> list[list[bytes]]:
    rng = np.random.default_rng(seed)
    p = np.arange(1, N_KEYS + 1, dtype=float) ** -ALPHA
    p /= p.sum()
    keys = rng.choice(N_KEYS, size=n, p=p)
    return [[b"key:%d" % k for k in keys[i:i + BATCH]] for i in range(0, n, BATCH)]


def one_batch(r: redis.Redis, batch: list[bytes]) -> int:
    """Pipelined GETs, then pipelined SETs of the misses; returns the hits."""
    p = r.pipeline(transaction=False)
    for k in batch:
        p.get(k)
    replies = p.execute()
    p = r.pipeline(transaction=False)
    hits = 0
    for k, v in zip(batch, replies, strict=True):
        if v is None:
            p.set(k, VALUE)
        else:
            hits += 1
    p.execute()
    return hits


@dataclass
class Result:
    hit_ratio: float
    keys: int
    seconds: float


def run(r: redis.Redis, batches: list[list[bytes]], duration_s: float = 0.0) -> Result:
    """The whole sequence, as fast as possible or spread evenly over ``duration_s``."""
    n = sum(len(b) for b in batches)
    hits = 0
    t0 = time.perf_counter()
    for i, batch in enumerate(batches):
        if duration_s:
            wait = t0 + duration_s * i / len(batches) - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
        hits += one_batch(r, batch)
    seconds = time.perf_counter() - t0
    return Result(hits / n, int(r.dbsize()), seconds)


def paired(rc: redis.Redis, ec: redis.Redis, batches: list[list[bytes]]) -> tuple[Result, Result]:
    n = sum(len(b) for b in batches)
    rh = eh = 0
    t0 = time.perf_counter()
    for batch in batches:
        rh += one_batch(rc, batch)
        eh += one_batch(ec, batch)
    seconds = time.perf_counter() - t0
    return Result(rh / n, int(rc.dbsize()), seconds), Result(eh / n, int(ec.dbsize()), seconds)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=150_000)
    ap.add_argument("--policies", default=",".join(POLICIES), help="comma-separated maxmemory-policy names")
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args()
    batches = workload(args.requests, args.seed)
    print(f"maxmemory {MAXMEMORY}, Zipf {ALPHA} over {N_KEYS:,} keys, {args.requests:,} cache-aside requests "
          f"in batches of {BATCH}, seed {args.seed}")
    print(f"{'policy':15s} {'mode':7s} {'redis hit':>9s} {'engine hit':>10s} {'diff pts':>8s} "
          f"{'redis keys':>10s} {'engine keys':>11s} {'redis s':>8s} {'engine s':>8s}")

    def row(policy: str, mode: str, a: Result, b: Result) -> None:
        print(f"{policy:15s} {mode:7s} {a.hit_ratio:9.4f} {b.hit_ratio:10.4f} {100 * (b.hit_ratio - a.hit_ratio):+8.2f} "
              f"{a.keys:10d} {b.keys:11d} {a.seconds:8.1f} {b.seconds:8.1f}", flush=True)

    for policy in args.policies.split(","):
        with server("redis", policy) as rp:
            alone_r = run(client(rp), batches)
        with server("engine", policy) as ep:
            alone_e = run(client(ep), batches)
        row(policy, "alone", alone_r, alone_e)
        with server("redis", policy) as rp:
            paced_r = run(client(rp), batches, alone_e.seconds)
        row(policy, "paced", paced_r, alone_e)
        with server("redis", policy) as rp, server("engine", policy) as ep:
            pr, pe = paired(client(rp), client(ep), batches)
        row(policy, "paired", pr, pe)
    print("alone: each server by itself at full speed; paced: redis-server spread over the engine's "
          "alone time (engine column repeated); paired: each batch to both, back to back")


if __name__ == "__main__":
    main()
