"""Soak: mixed commands with big and odd values against an engine process for a bounded time,
while a second client PINGs; reports the engine's RSS over time and the PING latencies.

The load is seeded and pipelined (batches of 50) over a pool of 200 keys, so the dataset is
bounded (at most 200 values of up to 256 KiB plus collections of bounded size): RSS that keeps
growing is a leak, not data.  Odd values: inf/-inf scores, huge and negative counts,
LLONG_MIN/MAX, empty strings and keys, non-integers where integers are expected, unknown
options, patterns with many stars.

Long run (``make soak``)::

    python -m tests.engine.security.soak --seconds 600
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import redis

from tests.support.redis_real import free_port

__all__ = ["SoakResult", "run_soak"]

ODD_INTS = [b"0", b"-1", b"1", b"9223372036854775807", b"-9223372036854775808", b"-9223372036854770000", b"abc", b"",
            b"4611686018427387904", b"100"]
ODD_SCORES = [b"inf", b"-inf", b"0", b"1e308", b"-1e308", b"nan", b"abc", b"", b"1.5"]


@dataclass
class SoakResult:
    seconds: float
    commands: int
    errors: int
    rss_mb: list[tuple[float, float]] = field(default_factory=list)  # (elapsed s, RSS MB)
    ping_ms: list[float] = field(default_factory=list)

    @property
    def ping_max_ms(self) -> float:
        return max(self.ping_ms) if self.ping_ms else 0.0

    def ping_percentile_ms(self, q: float) -> float:
        s = sorted(self.ping_ms)
        return s[int(q * (len(s) - 1))] if s else 0.0

    @property
    def ping_p99_ms(self) -> float:
        return self.ping_percentile_ms(0.99)


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _command(r: random.Random) -> list[bytes]:
    k = b"soak:%d" % r.randrange(200)
    big = b"v" * r.choice([0, 1, 100, 10_000, 262_144])
    n = r.choice(ODD_INTS)
    return r.choice([
        [b"SET", k, big], [b"GET", k], [b"APPEND", k, b"x" * 100], [b"GETRANGE", k, n, n], [b"SETRANGE", k, r.choice([b"0", b"10", b"-1"]), b"abc"],
        [b"INCRBY", k, n], [b"ZADD", k, r.choice(ODD_SCORES), b"m%d" % r.randrange(50)], [b"ZRANGE", k, b"0", b"-1", b"WITHSCORES"],
        [b"ZRANDMEMBER", k, n, b"WITHSCORES"], [b"ZPOPMIN", k, n], [b"ZCOUNT", k, b"-inf", b"+inf"],
        [b"RPUSH", k, big[:1000], b""], [b"LPOP", k, n], [b"LRANGE", k, n, n], [b"LPOS", k, b"", b"COUNT", n], [b"LTRIM", k, b"0", b"99"],
        [b"SADD", k, b"", b"a%d" % r.randrange(100)], [b"SRANDMEMBER", k, r.choice([b"5", b"-5", b"abc", b"0"])], [b"SPOP", k, n],
        [b"HSET", k, b"", big[:1000]], [b"HRANDFIELD", k, n, b"WITHVALUES"], [b"HINCRBYFLOAT", k, b"f", r.choice(ODD_SCORES)],
        [b"KEYS", b"soak:1*1*1*1*1*1*1*1*9"], [b"SCAN", b"0", b"MATCH", b"*a*a*a*a*a*b", b"COUNT", b"100"],
        [b"EXPIRE", k, r.choice([b"1", b"100", b"-1", b"abc"])], [b"DEL", k], [b"SORT", k, b"LIMIT", n, n, b"ALPHA"],
        [b"SETBIT", k, r.choice([b"0", b"100000", b"-1"]), b"1"], [b"BITCOUNT", k, n, n], [b"TYPE", k], [b""], [b"NOSUCH", k],
    ])


def _work(port: int, seed: int, stop: Any, counts: Any, slot: int) -> None:
    """One load process: pipelines of 50 odd commands until ``stop``."""
    rng = random.Random(seed)
    c = redis.Redis(port=port, socket_timeout=30)
    while not stop.is_set():
        pipe = c.pipeline(transaction=False)
        for _ in range(50):
            pipe.execute_command(*_command(rng))
        replies = pipe.execute(raise_on_error=False)
        counts[2 * slot] += len(replies)
        counts[2 * slot + 1] += sum(isinstance(x, Exception) for x in replies)


SERVERS = {
    "engine": [sys.executable, "-m", "engine"],
    "redis": ["redis-server"],
}


def run_soak(seconds: float, seed: int = 1, workers: int = 2, server: str = "engine") -> SoakResult:
    """Start a server process (``engine``, or a real ``redis`` for the side-by-side figure), load
    it for ``seconds`` from ``workers`` processes, PING it every 50 ms from another client; the
    process is stopped before returning."""
    port = free_port()
    proc = subprocess.Popen(
        [*SERVERS[server], "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)},
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                redis.Redis(port=port, socket_timeout=2).ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError(f"{server} process did not start") from None
                time.sleep(0.05)
        result = SoakResult(seconds=seconds, commands=0, errors=0)
        # The load runs in other processes, so the pinger's latency is the server's, not this
        # process's GIL.
        ctx = multiprocessing.get_context("spawn")
        stop = ctx.Event()
        counts = ctx.Array("q", 2 * workers)
        procs = [ctx.Process(target=_work, args=(port, seed * 1000 + i, stop, counts, i), daemon=True)
                 for i in range(workers)]
        t0 = time.monotonic()
        for w in procs:
            w.start()
        pinger = redis.Redis(port=port, socket_timeout=30)
        next_rss = 0.0
        while time.monotonic() - t0 < seconds:
            s = time.perf_counter()
            pinger.ping()
            result.ping_ms.append((time.perf_counter() - s) * 1000)
            now = time.monotonic() - t0
            if now >= next_rss:
                result.rss_mb.append((now, _rss_mb(proc.pid)))
                next_rss = now + 1.0
            time.sleep(0.05)
        stop.set()
        for w in procs:
            w.join(timeout=30)
            if w.is_alive():
                w.kill()
        result.commands = sum(counts[2 * i] for i in range(workers))
        result.errors = sum(counts[2 * i + 1] for i in range(workers))
        result.rss_mb.append((time.monotonic() - t0, _rss_mb(proc.pid)))
        return result
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Soak the engine with mixed odd commands; report RSS and PING latency.")
    p.add_argument("--seconds", type=float, default=600)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--server", choices=sorted(SERVERS), action="append",
                   help="which server to soak (repeat for side by side; default: engine)")
    args = p.parse_args(argv)
    ok = True
    for server in args.server or ["engine"]:
        res = run_soak(args.seconds, args.seed, server=server)
        rss = [m for _, m in res.rss_mb]
        print(f"soak {server}: {res.seconds:.0f} s, {res.commands} commands ({res.errors} error replies), "
              f"RSS start {rss[0]:.0f} MB / max {max(rss):.0f} MB / end {rss[-1]:.0f} MB, "
              f"PING p50 {res.ping_percentile_ms(0.5):.1f} / p95 {res.ping_percentile_ms(0.95):.1f} / "
              f"p99 {res.ping_p99_ms:.1f} / max {res.ping_max_ms:.1f} ms over {len(res.ping_ms)} pings", flush=True)
        ok = ok and res.ping_percentile_ms(0.95) < 50
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
