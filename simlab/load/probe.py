"""A short, bounded live probe of a cache server: the figures the simulator's
``cache.service_time_us`` stands for, measured rather than assumed.

The probe drives the service's own command mix (cache GET/SET, session HGETALL/HSET +
EXPIRE, PUBLISH, lock SET NX PX) with a seeded Zipf key choice, then reads the server's
``INFO commandstats``: ``usec_per_call`` is the time the server itself spent per command,
the quantity the model queues on.  Client round-trip percentiles are reported beside it.
It talks only through a Redis URL, so it runs the same against the embedded engine
(:func:`probe_embedded`) and against a real redis-server.

Safe on a server it did not start: nothing is reset (the commandstats are the difference of
two ``INFO`` readings, so other clients' commands during the probe count too), every key is
under a fresh prefix and removed afterwards. Superseded by :func:`simlab.validate.validate`
(the scenario's own workload, open loop, predicted against measured).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pandas as pd
import redis

__all__ = ["ProbeResult", "probe_url", "probe_embedded", "embedded_engine"]

_MIX = (("GET", 0.55), ("SET", 0.15), ("HGETALL", 0.12), ("HSET", 0.08), ("PUBLISH", 0.05), ("LOCK", 0.05))


@dataclass(frozen=True)
class ProbeResult:
    """What one probe measured."""

    url: str
    server: str
    requests: int
    elapsed_s: float
    commandstats: pd.DataFrame  # command, calls, usec_per_call
    rtt_ms: pd.DataFrame  # command, p50_ms, p99_ms

    @property
    def throughput_rps(self) -> float:
        return self.requests / self.elapsed_s if self.elapsed_s else 0.0

    def service_time_us(self, command: str) -> float:
        row = self.commandstats[self.commandstats["command"] == command.lower()]
        return float(row["usec_per_call"].iloc[0]) if len(row) else float("nan")

    def _repr_html_(self) -> str:
        return (
            f"<p>{self.server} at {self.url}: {self.requests} requests in {self.elapsed_s:.2f} s</p>"
            + self.commandstats.to_html(index=False)
            + self.rtt_ms.to_html(index=False)
        )


def probe_url(url: str, requests: int = 3000, keys: int = 2000, zipf_alpha: float = 1.0,
              max_seconds: float = 20.0, seed: int = 0) -> ProbeResult:
    """Send at most ``requests`` requests (and for at most ``max_seconds``) to ``url``."""
    rng = np.random.default_rng(seed)
    ranks = np.arange(1, keys + 1, dtype=float)
    weights = ranks ** -zipf_alpha
    key_ids = rng.choice(keys, size=requests, p=weights / weights.sum())
    names = [m for m, _ in _MIX]
    probs = np.array([p for _, p in _MIX])
    ops = rng.choice(len(names), size=requests, p=probs / probs.sum())
    from simlab.load.target import new_prefix, parse_target, remove_prefix

    target = parse_target(url)
    prefix = new_prefix()
    client = redis.Redis.from_url(url, socket_timeout=5)
    info = client.info("server")
    server_name = f"redis {info.get('redis_version', '?')}"
    before = client.info("commandstats")
    value = b"x" * 100
    rtts: dict[str, list[float]] = {n: [] for n in names}
    start = time.perf_counter()
    deadline = start + max_seconds
    sent = 0
    for key_id, op in zip(key_ids, ops, strict=True):
        if time.perf_counter() > deadline:
            break
        name = names[op]
        key = f"{prefix}probe:{key_id}"
        t0 = time.perf_counter()
        if name == "GET":
            if client.get(key) is None:
                client.set(key, value, ex=300)
        elif name == "SET":
            client.set(key, value, ex=300)
        elif name == "HGETALL":
            client.hgetall(f"{prefix}session:{key_id}")
        elif name == "HSET":
            client.hset(f"{prefix}session:{key_id}", mapping={"user": str(key_id), "seen": str(sent)})
            client.expire(f"{prefix}session:{key_id}", 1800)
        elif name == "PUBLISH":
            client.publish(f"{prefix}events", value)
        else:
            if client.set(f"{prefix}lock:{key_id % 10}", "owner", nx=True, px=50):
                client.delete(f"{prefix}lock:{key_id % 10}")
        rtts[name].append((time.perf_counter() - t0) * 1000)
        sent += 1
    elapsed = time.perf_counter() - start
    stats = client.info("commandstats")
    client.close()
    remove_prefix(target, prefix)
    rows = []
    for k, v in stats.items():
        if k.startswith("cmdstat_") and k != "cmdstat_info":
            b = before.get(k, {"calls": 0, "usec": 0})
            calls = int(v["calls"]) - int(b["calls"])
            if calls > 0:
                rows.append({"command": k[len("cmdstat_"):], "calls": calls,
                             "usec_per_call": (int(v["usec"]) - int(b["usec"])) / calls})
    cs = pd.DataFrame(rows, columns=["command", "calls", "usec_per_call"]).sort_values("calls", ascending=False)
    rt = pd.DataFrame(
        [{"request": n, "count": len(v), "p50_ms": float(np.percentile(v, 50)), "p99_ms": float(np.percentile(v, 99))}
         for n, v in rtts.items() if v],
        columns=["request", "count", "p50_ms", "p99_ms"],
    )
    return ProbeResult(url=url, server=server_name, requests=sent, elapsed_s=elapsed,
                       commandstats=cs.reset_index(drop=True), rtt_ms=rt)


@contextmanager
def embedded_engine(**options: str) -> Iterator[str]:
    """The cachelab engine on a free loopback port for the duration of the block; yields its URL."""
    from engine.server import EmbeddedServer

    with EmbeddedServer(**options) as srv:
        yield srv.url


def probe_embedded(requests: int = 3000, seed: int = 0) -> ProbeResult:
    """Start the embedded engine, probe it, stop it."""
    with embedded_engine() as url:
        result = probe_url(url, requests=requests, seed=seed)
    return ProbeResult(url=result.url, server="cachelab engine (embedded)", requests=result.requests,
                       elapsed_s=result.elapsed_s, commandstats=result.commandstats, rtt_ms=result.rtt_ms)
