"""Drive a sharded scenario against a real Redis Cluster and read each node's load.

The simulator puts key id ``k`` on shard ``k mod shards`` (:mod:`simlab.model.plan`); a Redis
Cluster puts a key on the node that owns ``CRC16(key) mod 16384`` (its hash slot). To compare
the two on the same requests, the generator names key ``k`` with a hash tag whose slot lies
in the slot range of the cluster's ``k mod shards``-th master (masters ordered by their
first slot), choosing among ``tags_per_shard`` tags by ``k`` so a shard's keys spread over
several slots. Requests then go through redis-py's :class:`redis.cluster.RedisCluster`,
which routes by slot and follows ``MOVED``/``ASK`` redirections.

The run is closed loop (one client, a request after the previous one, labelled so): it
compares *where* load goes, per shard and to the hottest shard, which does not depend on
timing. Each node's load is what the node itself counted: differences of ``INFO
commandstats`` before and after, in visits as the simulator counts them (a session's
HGETALL + EXPIRE pipeline is one visit; EXPIRE is not counted).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from redis.cluster import RedisCluster, key_slot

from simlab.load.target import new_prefix
from simlab.load.worker import K_DEL, K_GET, K_INCR, K_LOCK, K_SESSION, K_SET
from simlab.load.workload import LoadPlan

__all__ = ["ClusterRun", "drive_cluster", "masters_by_slot", "shard_tags"]

#: commands counted as one visit each (EXPIRE rides in the session's pipeline)
_VISIT_COMMANDS = ("get", "set", "del", "incr", "hgetall")


@dataclass
class ClusterRun:
    """Per-shard visits the nodes counted, in the simulator's shard order."""

    mode: str
    requests: int
    elapsed_s: float
    per_shard: pd.DataFrame  # shard, node, visits, share
    errors: int

    @property
    def hot_shard_skew(self) -> float:
        """Largest shard share over the mean share (1.0: perfectly even)."""
        s = self.per_shard["share"]
        return float(s.max() / s.mean())


def masters_by_slot(rc: RedisCluster) -> list[tuple[str, int, list[tuple[int, int]]]]:
    """(host, port, slot ranges) of each master, ordered by its lowest slot."""
    slots: dict[Any, Any] = rc.cluster_slots()  # type: ignore[assignment]  # a dict at runtime
    ranges: dict[tuple[str, int], list[tuple[int, int]]] = {}
    for (lo, hi), info in slots.items():
        primary = info["primary"]
        ranges.setdefault((primary[0], int(primary[1])), []).append((int(lo), int(hi)))
    out = [(h, p, sorted(r)) for (h, p), r in ranges.items()]
    return sorted(out, key=lambda m: m[2][0][0])


def shard_tags(ranges: list[list[tuple[int, int]]], tags_per_shard: int = 16) -> list[list[str]]:
    """For each shard, ``tags_per_shard`` hash tags whose slot is in that shard's ranges."""
    out: list[list[str]] = [[] for _ in ranges]
    i = 0
    while any(len(t) < tags_per_shard for t in out) and i < 1_000_000:
        tag = f"t{i}"
        slot = key_slot(tag.encode())
        for s, rs in enumerate(ranges):
            if len(out[s]) < tags_per_shard and any(lo <= slot <= hi for lo, hi in rs):
                out[s].append(tag)
                break
        i += 1
    return out


def _visits(rc: RedisCluster, nodes: list[tuple[str, int, Any]]) -> list[int]:
    out = []
    for host, port, _ in nodes:
        node = rc.get_node(host=host, port=port)
        stats = rc.info("commandstats", target_nodes=node)
        out.append(sum(int(stats.get(f"cmdstat_{c}", {}).get("calls", 0)) for c in _VISIT_COMMANDS))
    return out


def drive_cluster(plan: LoadPlan, host: str, port: int, *, shards: int, max_requests: int = 20_000,
                  max_seconds: float = 60.0, prefix: str | None = None) -> ClusterRun:
    """Send ``plan``'s rows (at most ``max_requests``, for at most ``max_seconds``) to the
    cluster reachable at ``host:port``; the cluster must have ``shards`` masters. Keys of the
    run are deleted afterwards (bounded)."""
    prefix = prefix or new_prefix()
    rc = RedisCluster(host=host, port=port, socket_timeout=5)
    try:
        nodes = masters_by_slot(rc)
        if len(nodes) != shards:
            raise ValueError(f"the cluster has {len(nodes)} masters, the scenario {shards} shards")
        tags = shard_tags([r for _h, _p, r in nodes])

        def name(kind: str, k: int) -> str:
            s = k % shards
            return f"{prefix}{{{tags[s][(k // shards) % len(tags[s])]}}}:{kind}:{k}"

        rows = plan.rows
        n = min(plan.n, max_requests)
        before = _visits(rc, nodes)
        written: set[str] = set()
        errors = 0
        t0 = time.monotonic()
        sent = 0
        value = b"v" * 4096
        for i in range(n):
            if time.monotonic() - t0 > max_seconds:
                break
            kind, k = int(rows["kind"][i]), int(rows["key"][i])
            v = value[: max(1, min(4096, int(rows["vsize"][i])))]
            try:
                if kind == K_GET:
                    key = name("k", k)
                    if rc.get(key) is None:
                        rc.set(key, v, px=600_000)
                        written.add(key)
                elif kind == K_SET:
                    key = name("k", k)
                    rc.set(key, v, px=600_000)
                    written.add(key)
                elif kind == K_DEL:
                    rc.delete(name("k", k))
                elif kind == K_INCR:
                    key = name("n", k)
                    rc.incr(key)
                    written.add(key)
                elif kind == K_SESSION:
                    key = name("s", k)
                    rc.hgetall(key)
                    rc.expire(key, 600)
                elif kind == K_LOCK:
                    key = name("lock", 0)  # the simulator's hot lock lives on shard 0
                    if rc.set(key, "1", nx=True, px=1000):
                        rc.delete(key)
                else:
                    continue
            except Exception:  # noqa: BLE001 - counted: a cluster run reports errors, not raises
                errors += 1
            sent += 1
        elapsed = time.monotonic() - t0
        after = _visits(rc, nodes)
        for key in written:
            rc.delete(key)
        # the cleanup's DELs and the stats reads are not the run's: count visits up to `after`
        visits = [a - b for a, b in zip(after, before, strict=True)]
        total = max(1, sum(visits))
        per_shard = pd.DataFrame({"shard": range(shards), "node": [f"{h}:{p}" for h, p, _ in nodes],
                                  "visits": visits, "share": np.array(visits) / total})
        return ClusterRun(mode="closed loop", requests=sent, elapsed_s=elapsed, per_shard=per_shard, errors=errors)
    finally:
        rc.close()
