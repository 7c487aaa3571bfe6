"""Capacity planning: the cheapest configuration that keeps every SLO as traffic grows.

(Not to be confused with `simlab.model.plan`, the per-chunk request plan of the simulator.)

For each growth factor g (traffic and keyspace x g) `plan_capacity` answers: which
configuration of the space is the cheapest that meets every SLO at g x (1 + headroom)
traffic, which SLO and which resource bind, where that configuration breaks (the knee), and
how many configurations were simulated to find out. It is smarter than a grid in three ways:

1. **The miss-ratio curve picks `maxmemory`.** Che's approximation (`simlab.cache_theory`)
   over the scenario's popularity gives the hit ratio at every cache size; it is calibrated
   by the simulated hit ratio of today's configuration at g (the simulator's sampled LRU with
   TTLs, so the curve's shape comes from theory and its level from the model). For each
   backend pool size the planner takes the smallest `maxmemory` that keeps the backend's
   offered load under `max_offered_load`, then raises it to what the container or node it
   must buy anyway holds (memory already paid for is not left idle).
2. **Bounds prune.** Operational analysis (Denning & Buzen, "The operational analysis of
   queueing network models", Computing Surveys 10(3), 1978): the offered load of each
   resource is arrivals x mean service / servers, from the demands measured in one simulation
   of today's configuration at g. A candidate with any resource over `max_offered_load` cannot
   meet a latency SLO and is not simulated. Dominated configurations (replicas that take no
   reads cost more and serve the same load; of the `maxmemory` values a space lists, only the
   smallest meeting the bound is kept) are dropped too.
3. **Simulate in price order.** The survivors are simulated cheapest first, each growth
   factor's next candidate in one round (the rounds of all growth factors share the Dask
   workers), with short steady-state windows (`SimSettings(mode="steady")`: the cache is
   warmed by accesses alone until it can fill, then `window_s` seconds are simulated in full);
   the first that meets every SLO is the answer. The knee is the asymptotic bound
   X* = min_r servers_r / D_r with the demands D_r per request measured at the chosen point,
   and, with `bisect_steps`, the load multiplier at which the SLOs stop being met, found by
   bisection between g and the bound.

Memory is sized the way operators get bitten (`memory_sizing`): the dataset the cache holds
plus Redis's per-key overhead, allocator fragmentation, replication and client output buffers
and the copy-on-write pages a BGSAVE or AOF rewrite fork duplicates, against the container's
memory limit, so "will this pod be OOM-killed during a snapshot" has an answer.

`scale_out_whatif` answers the seed's `kubectl scale deployment/redis --replicas=3`: three
independent caches behind a load balancer are not a cluster.
"""

from __future__ import annotations

import dataclasses
import html
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from simlab.cache_theory import che_hit_ratio
from simlab.scenario import Scenario
from simlab.sweep import DEFAULT_CACHE_DIR, SimSettings, apply_config, run_sweep, scale_scenario
from simlab.workload.distributions import mean_of

__all__ = [
    "CLIENT_POOL_KEY",
    "CLIENT_POOL_SIZES",
    "CapacityPlan",
    "ConfigSpace",
    "GrowthAnswer",
    "MemorySizing",
    "PlanError",
    "expand_config",
    "hit_ratio_curve",
    "memory_sizing",
    "plan_capacity",
    "scale_out_whatif",
]

MIB = 1 << 20
GIB = 1 << 30
PAGE_BYTES = 4096
# engine/simlab per-key accounting (simlab.model.cache): dictEntry + robj + sds headers, and
# the expires-dict entry of a key with a TTL
KEY_OVERHEAD_BYTES = 64
NODE_RESERVED_FRACTION = 0.25
EXPIRE_OVERHEAD_BYTES = 40


class PlanError(ValueError):
    """A configuration space or planning request that cannot be answered."""


# --- the configuration space ------------------------------------------------------------------


@dataclass(frozen=True)
class ConfigSpace:
    """What the planner may change. `None` means "the scenario's own value only", except
    `maxmemory_bytes` (None: chosen from the miss-ratio curve). Containers are sized by
    `memory_sizing` (the smallest standard size, 128 MiB to 64 GiB, holding the snapshot peak);
    node types come from the price table.

    Pools: the backend's (`backend.concurrency`) and, when the scenario has client connection
    pools (`sources[].pool`, `network.app_pool`), their size (`max_connections`, every pool
    set to the same value): a connection is held for the command's round trip and its time at
    the instance, so a small pool binds before the cache does. `client_pool` None: 8 to 256
    connections when the scenario has pools, nothing otherwise; today's sizes are always
    candidates. For each candidate the
    smallest size keeping every pool's offered load under the bound is taken (larger pools
    cost nothing in the price model and change nothing else, so they are dominated)."""

    maxmemory_bytes: tuple[int, ...] | None = None
    maxmemory_policy: tuple[str, ...] = ("allkeys-lru", "allkeys-lfu")
    shards: tuple[int, ...] = (1, 2, 3, 4, 6, 8)
    replicas: tuple[int, ...] = (0, 1)
    persistence: tuple[str, ...] | None = None
    backend_concurrency: tuple[int, ...] = (32, 64, 128)
    client_pool: tuple[int, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()}


# --- memory sizing ----------------------------------------------------------------------------


@dataclass(frozen=True)
class MemorySizing:
    """Memory of one Redis instance at its peak, by part, against a container limit.

    `peak_bytes` = (dataset + per-key overhead) x fragmentation + replication backlog +
    replica output buffers + client buffers + copy-on-write during a fork + baseline."""

    dataset_bytes: float
    key_overhead_bytes: float
    fragmentation_ratio: float
    fragmentation_bytes: float
    replication_backlog_bytes: float
    replica_output_buffer_bytes: float
    client_buffer_bytes: float
    cow_bytes: float
    baseline_bytes: float
    used_memory_bytes: float
    peak_bytes: float
    container_limit_bytes: float | None
    oom_during_snapshot: bool | None
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["notes"] = list(self.notes)
        return d

    @property
    def table(self) -> pd.DataFrame:
        parts = ["dataset_bytes", "key_overhead_bytes", "fragmentation_bytes", "replication_backlog_bytes",
                 "replica_output_buffer_bytes", "client_buffer_bytes", "cow_bytes", "baseline_bytes", "peak_bytes"]
        return pd.DataFrame({"part": parts, "MiB": [getattr(self, p) / MIB for p in parts]})


def _mean_entry_bytes(sc: Scenario) -> tuple[float, float]:
    """(payload bytes per key: key + value, TTL share of keys)."""
    ks = sc.keyspace
    payload = mean_of(ks.key_size_bytes) + mean_of(ks.value_size_bytes)
    ttl_share = 0.0 if ks.ttl.kind == "none" else 1.0
    return payload, ttl_share


def _write_rate_rps(sc: Scenario, hit_ratio: float) -> float:
    """Writes reaching the cache per second: cache-aside SET/DEL/INCR and miss fills,
    sessions' EXPIRE, lock SET/DEL (what dirties memory pages and fills replica buffers)."""
    total = 0.0
    for src in sc.sources:
        shares = sum(src.flows.values())
        for name, share in src.flows.items():
            f = sc.flows[name]
            rate = src.rate_rps * share / shares
            if f.kind == "cache_aside":
                mix = {str(k): v for k, v in (f.op_mix or {"get": 1.0}).items()}
                tot = sum(mix.values())
                get = mix.get("get", 0.0) / tot
                total += rate * ((1 - get) + get * (1 - hit_ratio))
            elif f.kind in ("session", "lock"):
                total += rate * (2 if f.kind == "lock" else 1)
    return total


def memory_sizing(
    sc: Scenario,
    *,
    maxmemory_bytes: int | None = None,
    shards: int | None = None,
    replicas: int | None = None,
    persistence: str | None = None,
    container_limit_bytes: float | None = None,
    hit_ratio: float = 0.85,
    fragmentation_ratio: float | None = None,
    clients: int = 50,
    snapshot_write_mb_s: float = 150.0,
    replication_backlog_bytes: float = 1 * MIB,
    replica_sync_s: float | None = None,
) -> MemorySizing:
    """Peak memory of one instance (one shard's primary) and whether it fits the container.

    - dataset: the live keys of this shard (the keyspace's payload, over `shards`), capped by
      `maxmemory` (Redis's maxmemory counts keys plus overhead, so the cap applies to both).
    - per-key overhead: dictEntry + robj + sds headers (64 B), + 40 B in the expires dict
      for keys with a TTL (the accounting of `simlab.model.cache`).
    - fragmentation: jemalloc's RSS over used memory (`mem_fragmentation_ratio`): the
      scenario's `cost.memory_fragmentation_ratio` unless given (1.2 without a cost block, a
      common steady value for small mixed-size values).
    - the container limit: the scenario's `cost.pod.memory_limit_bytes` unless given.
    - replication: the backlog (`repl-backlog-size`, 1 MiB by default) when the shard has
      replicas, and each replica's output buffer during a full sync: the writes arriving
      while the RDB is produced and transferred (`replica_sync_s`, default the snapshot time
      plus the same again for the transfer), capped by `client-output-buffer-limit replica
      256mb` (Redis drops the replica above it).
    - client buffers: `clients` x 16 KiB of query and reply buffers (typical small requests).
    - copy-on-write: a BGSAVE or AOF rewrite forks; every page the parent then writes is
      copied. Reads write too (the object's LRU/LFU field is updated on access), so the pages
      touched during the snapshot are copied: with the snapshot lasting dataset /
      `snapshot_write_mb_s`, accesses x that time touch pages P(1 - exp(-accesses/P)) of the
      dataset's P pages (uniform page choice; Zipf traffic touches fewer, so this is an upper
      estimate).
    - baseline: 3 MiB for the server itself (`used_memory` of an empty Redis 7).
    """
    cs = sc.cache
    if fragmentation_ratio is None:
        fragmentation_ratio = sc.cost.memory_fragmentation_ratio if sc.cost is not None else 1.2
    if container_limit_bytes is None and sc.cost is not None and sc.cost.pod is not None:
        container_limit_bytes = getattr(sc.cost.pod, "memory_limit_bytes", None)
    shards = cs.shards if shards is None else shards
    replicas = cs.replicas if replicas is None else replicas
    mode = cs.persistence.mode if persistence is None else persistence
    maxmemory = cs.maxmemory_bytes if maxmemory_bytes is None else maxmemory_bytes
    payload, ttl_share = _mean_entry_bytes(sc)
    per_key = KEY_OVERHEAD_BYTES + EXPIRE_OVERHEAD_BYTES * ttl_share
    keys = sc.keyspace.num_keys / shards
    full = keys * (payload + per_key)
    held = min(full, maxmemory) if maxmemory > 0 else full
    dataset = held * payload / (payload + per_key)
    overhead = held - dataset
    frag = held * (fragmentation_ratio - 1.0)
    rate = sum(s.rate_rps for s in sc.sources) / shards
    writes = _write_rate_rps(sc, hit_ratio) / shards
    snap_s = held / (snapshot_write_mb_s * MIB)
    backlog = replication_backlog_bytes if replicas > 0 else 0.0
    sync_s = 2 * snap_s if replica_sync_s is None else replica_sync_s
    replica_buf = min(256 * MIB, writes * sync_s * (payload + 32)) * replicas
    clients_b = clients * 16 * 1024
    notes = []
    if mode != "none" or replicas > 0:
        pages = max(1.0, held * fragmentation_ratio / PAGE_BYTES)
        touched = pages * (1 - math.exp(-rate * snap_s / pages))
        cow = touched * PAGE_BYTES
        notes.append(f"fork for {'BGSAVE/AOF rewrite' if mode != 'none' else 'replica full sync'} lasts ~{snap_s:.1f} s; "
                     f"{rate * snap_s:,.0f} accesses touch {touched / pages * 100:.0f} % of pages")
    else:
        cow = 0.0
        notes.append("no persistence and no replicas: no fork, no copy-on-write")
    base = 3 * MIB
    used = held + backlog + clients_b + base
    peak = held * fragmentation_ratio + backlog + replica_buf + clients_b + cow + base
    oom = None if container_limit_bytes is None else bool(peak > container_limit_bytes)
    return MemorySizing(
        dataset_bytes=dataset, key_overhead_bytes=overhead, fragmentation_ratio=fragmentation_ratio,
        fragmentation_bytes=frag, replication_backlog_bytes=backlog, replica_output_buffer_bytes=replica_buf,
        client_buffer_bytes=clients_b, cow_bytes=cow, baseline_bytes=base, used_memory_bytes=used,
        peak_bytes=peak, container_limit_bytes=container_limit_bytes, oom_during_snapshot=oom, notes=tuple(notes),
    )


# --- the miss-ratio curve ---------------------------------------------------------------------


def hit_ratio_curve(sc: Scenario) -> Callable[[float], float]:
    """LRU hit ratio of the scenario's keyspace as a function of total cache bytes (keys plus
    per-key overhead, summed over shards), from Che's approximation over its popularity.

    Shards split the keys, each an LRU of its own `maxmemory`: under the independent reference
    model s shards of M bytes hit like one cache of s x M (each holds the keys whose
    characteristic time is the same), so the curve is read at the total."""
    ks = sc.keyspace
    n = ks.num_keys
    pop = ks.popularity
    if pop.kind == "zipf":
        p = np.arange(1, n + 1, dtype=np.float64) ** -pop.alpha
    elif pop.kind == "hotset":
        hot = max(1, round(pop.hot_fraction * n))
        p = np.empty(n)
        p[:hot] = pop.hot_share / hot
        p[hot:] = (1 - pop.hot_share) / max(1, n - hot)
    else:
        p = np.ones(n)
    p /= p.sum()
    payload, ttl_share = _mean_entry_bytes(sc)
    per_obj = payload + KEY_OVERHEAD_BYTES + EXPIRE_OVERHEAD_BYTES * ttl_share
    memo: dict[int, float] = {}

    def h(total_bytes: float) -> float:
        c = total_bytes / per_obj
        if c >= n - 1:
            return 1.0
        if c < 1:
            return 0.0
        k = int(c)
        if k not in memo:
            memo[k] = che_hit_ratio(p, float(k))
        return memo[k]

    return h


def _min_bytes_for(h: Callable[[float], float], target: float, hi: float) -> float | None:
    """Smallest total bytes with h >= target (bisection on the increasing curve)."""
    if h(hi) < target:
        return None
    lo = 0.0
    for _ in range(40):
        mid = (lo + hi) / 2
        if h(mid) >= target:
            hi = mid
        else:
            lo = mid
        if hi - lo < MIB:
            break
    return hi


# --- prices -----------------------------------------------------------------------------------


def _container_for(peak: float, sizes: Sequence[int]) -> int | None:
    for s in sorted(sizes):
        if s >= peak:
            return s
    return None


Pricer = Callable[[Scenario, int, float, float], tuple[float, str, float]]


def _price_fn(sc: Scenario, pricing: Any) -> tuple[Pricer, str]:
    """A function (configured scenario, instances, peak bytes per instance, vCPU per instance)
    -> (monthly USD, what was bought, memory bought per instance), and the table's name.

    With a price table of per-resource prices (a Kubernetes cost allocation), each instance is
    a pod whose memory request and limit is the smallest standard container size holding the
    peak (128 MiB to 64 GiB), its CPU request what the cache keeps busy, and its volume the
    scenario's when persistent. With node types only, each instance is the cheapest node type
    whose usable memory (a quarter reserved: ElastiCache's default `reserved-memory-percent`,
    and room for the OS on a self-managed VM) holds the peak. A callable `pricing` is used as is."""
    from simlab.cost import PriceTable, cost_of_config, load_pricing

    if callable(pricing) and not isinstance(pricing, PriceTable):
        user = pricing

        def wrapped(s: Scenario, instances: int, peak: float, vcpu: float) -> tuple[float, str, float]:
            cost, what = user(s, instances, peak, vcpu)
            return float(cost), str(what), peak

        return wrapped, "pricing callable"
    if pricing is None:
        name = sc.cost.pricing if sc.cost is not None and sc.cost.pricing else None
        if name is None:
            raise PlanError("no pricing: give `pricing=` (a table name in data/pricing/) or `cost.pricing` in the scenario")
        pricing = name
    table = pricing if isinstance(pricing, PriceTable) else load_pricing(pricing)
    pod = sc.cost.pod if sc.cost is not None else None
    storage_now = int(pod.storage_bytes) if pod is not None and getattr(pod, "storage_bytes", None) else 0

    def priced(s: Scenario, instances: int, peak: float, vcpu: float) -> tuple[float, str, float]:
        shards, replicas = s.cache.shards, s.cache.replicas
        storage = storage_now if s.cache.persistence.mode != "none" else 0
        if table.resources is not None:
            cont = _container_for(peak, _SIZES)
            if cont is None:
                return math.inf, "no container size holds the peak", 0.0
            cfg = {"shards": shards, "replicas": replicas, "cpu_request": vcpu, "memory_request_bytes": cont,
                   "storage_bytes": storage}
            rep = cost_of_config(cfg, table)
            return float(rep.monthly_cost_usd), f"pod {vcpu * 1000:g}m CPU, {cont / MIB:g} MiB", float(cont)
        best: tuple[float, str, float] = (math.inf, "no node type holds the peak", 0.0)
        for node in table.node_types:
            usable = node.memory_gib * GIB * (1 - NODE_RESERVED_FRACTION)
            if usable >= peak:
                rep = cost_of_config({"shards": shards, "replicas": replicas, "node_type": node.name,
                                      "storage_bytes": storage}, table)
                if rep.monthly_cost_usd < best[0]:
                    best = (float(rep.monthly_cost_usd), node.name, usable)
        return best

    return priced, table.name


_SIZES: tuple[int, ...] = tuple(int(x * GIB) for x in (0.125, 0.25, 0.5, 1, 2, 4, 8, 16, 32, 64))


# --- the plan ---------------------------------------------------------------------------------


@dataclass
class GrowthAnswer:
    """The planner's answer for one growth factor."""

    growth: float
    load_multiplier: float  # growth x (1 + headroom): the traffic simulated
    baseline_met: bool
    baseline_binding_slo: str | None
    baseline_binding_resource: str
    baseline: dict[str, Any]
    config: dict[str, Any] | None
    monthly_cost_usd: float | None
    binding_slo: str | None
    binding_resource: str | None
    knee_rps: float | None
    knee_growth: float | None
    slo_knee_growth: float | None
    memory: MemorySizing | None
    figures: dict[str, Any]
    simulated: int
    pruned: int
    candidates: int
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in self.__dict__.items() if k != "memory"}
        d["memory"] = None if self.memory is None else self.memory.to_dict()
        return _clean(d)


def _clean(v: Any) -> Any:
    if isinstance(v, dict):
        return {str(k): _clean(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_clean(x) for x in v]
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


@dataclass
class CapacityPlan:
    """Per growth factor: the cheapest configuration meeting every SLO with headroom."""

    scenario: str
    headroom: float
    answers: list[GrowthAnswer]
    settings: SimSettings
    space: ConfigSpace
    simulated: int
    cached: int
    wall_s: float
    pricing_source: str
    today_memory: MemorySizing | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def table(self) -> pd.DataFrame:
        rows = []
        for a in self.answers:
            c = a.config or {}
            rows.append({
                "growth": a.growth, "today_meets_slos": a.baseline_met,
                "today_binding_slo": a.baseline_binding_slo, "today_binding_resource": a.baseline_binding_resource,
                "maxmemory_mib": c.get("cache.maxmemory_bytes", math.nan) / MIB if c else math.nan,
                "policy": c.get("cache.maxmemory_policy"), "shards": c.get("cache.shards"),
                "replicas": c.get("cache.replicas"), "persistence": c.get("cache.persistence.mode"),
                "backend_pool": c.get("backend.concurrency"),
                "client_pool": c.get(CLIENT_POOL_KEY),
                "instance": a.figures.get("instance"),
                "monthly_cost_usd": a.monthly_cost_usd, "binding_slo": a.binding_slo,
                "binding_resource": a.binding_resource, "knee_growth": a.knee_growth,
                "slo_knee_growth": a.slo_knee_growth, "p99_ms": a.figures.get("p99_ms"),
                "hit_ratio": a.figures.get("hit_ratio"), "simulated": a.simulated, "pruned": a.pruned,
            })
        return pd.DataFrame(rows)

    def to_dict(self) -> dict[str, Any]:
        return _clean({
            "scenario": self.scenario, "headroom": self.headroom, "settings": self.settings.to_dict(),
            "space": self.space.to_dict(), "simulated": self.simulated, "cached": self.cached,
            "wall_s": self.wall_s, "pricing": self.pricing_source, "notes": self.notes,
            "today_memory": None if self.today_memory is None else self.today_memory.to_dict(),
            "growth": [a.to_dict() for a in self.answers],
        })

    def _repr_html_(self) -> str:
        head = (f"<h4>Capacity plan for {html.escape(self.scenario)}: headroom {self.headroom:.0%}, "
                f"{self.simulated} configurations simulated ({self.cached} from the cache), {self.wall_s:.0f} s</h4>")
        notes = "".join(f"<p>{html.escape(n)}</p>" for n in self.notes)
        return head + self.table.to_html(index=False, float_format=lambda x: f"{x:.4g}", na_rep="-") + notes


#: The configuration key of the client pool size in a plan's answers (applied to every pool).
CLIENT_POOL_KEY = "client_pool.max_connections"
#: Client pool sizes searched when the space does not say.
CLIENT_POOL_SIZES: tuple[int, ...] = (8, 16, 32, 64, 128, 256)


def _pool_paths(sc: Scenario) -> list[str]:
    """Dotted paths of every client pool's `max_connections` in the scenario."""
    paths = [f"sources.{i}.pool.max_connections" for i, s in enumerate(sc.sources) if s.pool is not None]
    if sc.network.app_pool is not None:
        paths.append("network.app_pool.max_connections")
    return paths


def expand_config(sc: Scenario, cfg: dict[str, Any]) -> dict[str, Any]:
    """A plan configuration as `apply_config` keys: the client pool size set on every pool."""
    if CLIENT_POOL_KEY not in cfg:
        return cfg
    out = {k: v for k, v in cfg.items() if k != CLIENT_POOL_KEY}
    for path in _pool_paths(sc):
        out[path] = cfg[CLIENT_POOL_KEY]
    return out


def _client_pool_size(sc: Scenario, res: dict[str, dict[str, float]], sizes: Sequence[int],
                      max_load: float) -> tuple[int | None, int]:
    """(the smallest pool size keeping every client pool's offered load under `max_load`,
    sizes pruned below it), from the loads measured on today's pools at the same traffic;
    None when no size does."""
    need = 0.0
    for name, r in res.items():
        if name.startswith("pool(") and r.get("servers"):
            need = max(need, r.get("offered_load", 0.0) * r["servers"] / max_load)
    ok = [c for c in sorted(sizes) if c >= need]
    return (ok[0] if ok else None), len(sizes) - len(ok)


def _resources(row: dict[str, Any]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for k, v in row.items():
        if k.startswith("res.") and isinstance(v, int | float):
            name, fig = k[4:].rsplit(".", 1)
            out.setdefault(name, {})[fig] = float(v)
    return out


def _binding(row: dict[str, Any]) -> tuple[str | None, str]:
    """(the SLO with the highest burn rate, the resource with the highest offered load)."""
    burns = {k[4:-10]: v for k, v in row.items() if k.startswith("slo.") and k.endswith(".burn_rate")
             and isinstance(v, int | float) and math.isfinite(v)}
    slo = max(burns, key=lambda k: burns[k]) if burns else None
    res = _resources(row)
    load = {n: r.get("offered_load", r.get("utilisation", 0.0)) for n, r in res.items()}
    resource = max(load, key=lambda n: load[n]) if load else "-"
    return slo, resource


def _knee(row: dict[str, Any], rps_1x: float) -> tuple[float | None, float | None, str | None]:
    """Asymptotic bound: throughput at which the busiest resource saturates, from the demands
    measured at this point (servers x throughput / offered load per request)."""
    thr = row.get("throughput_rps")
    if not thr:
        return None, None, None
    best, who = math.inf, None
    for name, r in _resources(row).items():
        load = r.get("offered_load", r.get("utilisation"))
        servers = r.get("servers", 0)
        if not load or not servers or load <= 0:
            continue
        x = thr / load  # offered load grows with throughput at fixed demands
        if x < best:
            best, who = x, name
    if not math.isfinite(best):
        return None, None, None
    return best, best / rps_1x, who


BUDGETS: dict[str, dict[str, Any]] = {
    # window_s: simulated seconds per point; warmup_accesses: cache warm-up before it;
    # max_sims: verifications per growth factor; bisect_steps: SLO-knee bisection steps
    "quick": {"window_s": 5.0, "warmup_accesses": 150_000, "warmup_fill": 1.0, "max_sims": 2, "bisect_steps": 0},
    "full": {"window_s": 10.0, "warmup_accesses": 400_000, "warmup_fill": 2.0, "max_sims": 4, "bisect_steps": 2},
}


def plan_capacity(
    scenario: Scenario,
    *,
    growth: Sequence[float] = (1, 2, 5, 10),
    space: ConfigSpace | None = None,
    headroom: float = 0.25,
    max_offered_load: float = 0.8,
    pricing: Any = None,
    budget: Literal["quick", "full"] = "full",
    seed: int = 0,
    client: Any = None,
    scheduler: str | None = None,
    parallel: bool = True,
    cache_dir: Any = DEFAULT_CACHE_DIR,
    progress: bool | Callable[[int, int], None] = True,
) -> CapacityPlan:
    """Find, per growth factor, the cheapest configuration of `space` meeting every SLO of
    `scenario` at growth x (1 + `headroom`) traffic (keyspace x growth).

    Simulations run through `simlab.sweep.run_sweep` (Dask: `client`, `scheduler`, or a new
    2-worker LocalCluster kept for the whole plan; cached on disk). `budget`: "quick" (5 s
    windows, at most 2 verifications per growth factor, no bisection) or "full"
    (10 s windows, up to 4 verifications, 2 bisection steps for the SLO knee)."""
    if headroom < 0:
        raise PlanError(f"headroom must be >= 0, not {headroom}")
    if budget not in BUDGETS:
        raise PlanError(f"budget must be one of {sorted(BUDGETS)}, not {budget!r}")
    t_start = time.perf_counter()
    space = space or ConfigSpace()
    b = BUDGETS[budget]
    price, table_name = _price_fn(scenario, pricing)
    rps_1x = sum(s.rate_rps for s in scenario.sources)
    cs = scenario.cache
    policies = space.maxmemory_policy or (cs.maxmemory_policy,)
    modes = space.persistence or (cs.persistence.mode,)
    total_sim, total_cached = 0, 0
    own = client is None and parallel
    if own:
        from simlab.sweep import open_client

        client = open_client(scheduler)
    notes = [
        f"each point: {b['window_s']:g} s of steady-state traffic after the cache is warmed by "
        f"max({b['warmup_accesses']:,} accesses, {b['warmup_fill']:g} x the objects its caches hold), within "
        "10-300 s; faults are not represented in these windows",
        "an SLO counts as met when its burn rate over the window is <= 1 (the SLI meets its target)",
        "growth multiplies every source's rate, its rate limit and the number of keys; "
        f"headroom: SLOs must hold at growth x {1 + headroom:g} traffic",
        ("client pool size is searched: every pool's max_connections set to the smallest size keeping its "
         "offered load under the bound" if _pool_paths(scenario) else
         "client pool size is not searched: the scenario has no client connection pools (sources[].pool, "
         "network.app_pool), so connections are not a limit in it"),
    ]

    def sweep(configs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        nonlocal total_sim, total_cached
        st = SimSettings(mode="steady", duration_s=b["window_s"], warmup_accesses=b["warmup_accesses"],
                         warmup_fill=b["warmup_fill"])
        configs = [expand_config(scenario, c) for c in configs]
        res = run_sweep(scenario, configs, seeds=(seed,), settings=st, client=client, parallel=parallel,
                        cache_dir=cache_dir, progress=progress)
        total_sim += res.simulated
        total_cached += res.cached
        return res.table.to_dict("records")

    answers: list[GrowthAnswer] = []
    try:
        # 1. today's configuration at every growth factor, in one batch
        load = [g * (1 + headroom) for g in growth]
        base_rows = sweep([{"growth": g, "traffic": 1 + headroom} for g in growth])
        gens = [_plan_one(scenario, g, lm, base, space, policies, modes, price, b, max_offered_load, rps_1x)
                for g, lm, base in zip(growth, load, base_rows, strict=True)]
        done: dict[int, GrowthAnswer] = {}
        pending: dict[int, list[dict[str, Any]]] = {}
        for k, gen in enumerate(gens):
            try:
                pending[k] = next(gen)
            except StopIteration as stop:
                done[k] = stop.value
        # 2. verification rounds: every growth factor's next candidate in one sweep
        while pending:
            flat: list[dict[str, Any]] = []
            spans: dict[int, tuple[int, int]] = {}
            for k, cfgs in pending.items():
                spans[k] = (len(flat), len(flat) + len(cfgs))
                flat += cfgs
            rows = sweep(flat)
            nxt: dict[int, list[dict[str, Any]]] = {}
            for k, (lo, hi) in spans.items():
                try:
                    nxt[k] = gens[k].send(rows[lo:hi])
                except StopIteration as stop:
                    done[k] = stop.value
            pending = nxt
        answers = [done[k] for k in range(len(gens))]
        # 3. SLO knee by bisection on load for each chosen configuration (all growths at once)
        if b["bisect_steps"]:
            _bisect_knees(answers, headroom, b["bisect_steps"], sweep)
    finally:
        if own and client is not None:
            from simlab.sweep import close_client

            close_client(client)
    return CapacityPlan(
        scenario=scenario.name, headroom=headroom, answers=answers,
        settings=SimSettings(mode="steady", duration_s=b["window_s"], warmup_accesses=b["warmup_accesses"],
                             warmup_fill=b["warmup_fill"]), space=space,
        simulated=total_sim, cached=total_cached, wall_s=time.perf_counter() - t_start,
        pricing_source=table_name, notes=notes,
        today_memory=memory_sizing(scenario, hit_ratio=float(base_rows[0].get("hit_ratio") or 0.85)),
    )


def _plan_one(sc, g, lm, base, space, policies, modes, price, b, max_load, rps_1x):
    """A generator: yields the configurations it wants simulated (a list), receives their
    rows, and returns the `GrowthAnswer` of growth factor `g`."""
    cs = sc.cache
    slo_b, res_b = _binding(base)
    sc_g = scale_scenario(sc, g)
    res = _resources(base)
    hit_sim = float(base.get("hit_ratio") or 0.0)
    curve = hit_ratio_curve(sc_g)
    shards_now = cs.shards
    total_now = cs.maxmemory_bytes * shards_now if cs.maxmemory_bytes else sc_g.keyspace.num_keys * 1e4
    h_che_now = curve(total_now)
    # calibration: the simulated miss ratio over Che's at today's size (TTLs, sampling, warm-up)
    miss_scale = (1 - hit_sim) / max(1e-6, 1 - h_che_now) if hit_sim else 1.0
    backend = res.get("backend", {})
    misses = backend.get("throughput_rps", 0.0)
    reads = misses / max(1e-6, 1 - hit_sim) if hit_sim < 1 else 0.0
    svc_b = backend.get("mean_service_ms", 0.0) / 1e3
    caches = {n: r for n, r in res.items() if n.startswith("cache[")}
    cache_load = sum(r.get("offered_load", 0.0) for r in caches.values())  # total over instances
    lock_load = res.get("lock", {}).get("offered_load", 0.0)
    candidates: list[tuple[float, dict[str, Any], MemorySizing, str]] = []
    frag = sc.cost.memory_fragmentation_ratio if sc.cost is not None else 1.2
    pod = sc.cost.pod if sc.cost is not None else None
    vcpu_now = float(pod.cpu_request) if pod is not None else 0.1
    pruned = 0
    n_keys_bytes = sc_g.keyspace.num_keys * (_mean_entry_bytes(sc_g)[0] + KEY_OVERHEAD_BYTES + EXPIRE_OVERHEAD_BYTES)
    pool_sizes: tuple[int | None, ...] = (None,)
    if _pool_paths(sc):
        today = {s.pool.max_connections for s in sc.sources if s.pool is not None}
        if sc.network.app_pool is not None:
            today.add(sc.network.app_pool.max_connections)
        sizes = sorted(set(space.client_pool or CLIENT_POOL_SIZES) | today)  # today's size is a candidate
        size, cut = _client_pool_size(sc, res, sizes, max_load)
        pruned += cut
        pool_sizes = (size,) if size is not None else ()
    if lock_load > max_load:
        note = f"the hot lock alone is offered {lock_load:.2f} of its capacity: no configuration in the space helps"
    else:
        note = ""
    for pool in space.backend_concurrency:
        # smallest total cache bytes keeping the backend under max_load
        if reads > 0 and svc_b > 0:
            max_miss = max_load * pool / svc_b / reads  # miss ratio allowed
            target_h = 1 - max_miss / max(miss_scale, 1e-6)
            if target_h <= 0:
                need_total = 0.0
            else:
                need_total = _min_bytes_for(curve, target_h, n_keys_bytes * 1.01) or math.inf
        else:
            need_total = 0.0
        for shards in space.shards:
            per_shard_cache = cache_load / shards
            if per_shard_cache > max_load:
                pruned += 1
                continue
            if space.maxmemory_bytes is not None:
                mm_choices = [m for m in space.maxmemory_bytes if m * shards >= need_total] or []
                pruned += len(space.maxmemory_bytes) - len(mm_choices)
                mm_choices = mm_choices[:1]  # the smallest that meets the bound; larger ones are dominated
            else:
                if not math.isfinite(need_total):
                    pruned += 1
                    continue
                per = max(need_total / shards, 16 * MIB)
                mm_choices = [int(math.ceil(per / (16 * MIB)) * 16 * MIB)]  # in 16 MiB steps
            for mm in mm_choices:
                for mode in modes:
                    for replicas in space.replicas:
                        if replicas > 0 and not cs.read_from_replicas:
                            pruned += 1  # a replica that takes no reads: same load, more cost
                            continue
                        cfg = {"cache.maxmemory_bytes": int(mm), "cache.shards": shards, "cache.replicas": replicas,
                               "cache.persistence.mode": mode, "backend.concurrency": pool}
                        if not pool_sizes:
                            pruned += 1  # no client pool size in the space carries the load
                            continue
                        if pool_sizes[0] is not None:
                            cfg[CLIENT_POOL_KEY] = pool_sizes[0]
                        s_cfg = apply_config(sc_g, expand_config(sc, cfg))
                        mem = memory_sizing(s_cfg, hit_ratio=hit_sim, fragmentation_ratio=frag)
                        vcpu = max(vcpu_now, math.ceil(per_shard_cache / max_load * 10 - 1e-9) / 10)
                        cost, bought, capacity = price(s_cfg, shards * (replicas + 1), mem.peak_bytes, vcpu)
                        if not math.isfinite(cost):
                            pruned += 1
                            continue
                        if space.maxmemory_bytes is None:
                            # use what is paid for: the largest maxmemory (16 MiB steps) whose
                            # snapshot peak still fits the memory bought, up to the whole keyspace
                            cfg, mem = _fill(sc_g, cfg, mem, capacity, n_keys_bytes / shards, hit_sim, frag)
                        mem = dataclasses.replace(mem, container_limit_bytes=capacity,
                                                  oom_during_snapshot=bool(mem.peak_bytes > capacity))
                        candidates.append((cost, cfg, mem, bought))
    # policies: same memory and price; the simulation decides between them
    ranked: list[tuple[float, dict[str, Any], MemorySizing, str]] = []
    for cost, cfg, mem, cont in sorted(candidates, key=lambda c: (c[0], c[1]["backend.concurrency"], c[1]["cache.shards"])):
        for pol in policies:
            ranked.append((cost, {**cfg, "cache.maxmemory_policy": pol}, mem, cont))
    # dedupe identical configurations
    seen, uniq = set(), []
    for item in ranked:
        k = tuple(sorted(item[1].items()))
        if k not in seen:
            seen.add(k)
            uniq.append(item)
    ranked = uniq
    chosen = None
    simulated = 0
    for item in ranked[: b["max_sims"]]:
        # one candidate per round: `plan_capacity` runs the rounds of every growth factor
        # together, so the workers stay busy without simulating a candidate past the answer
        rows = yield [{**expand_config(sc, item[1]), "growth": g, "traffic": lm / g}]
        simulated += 1
        if rows[0].get("slo_met"):
            chosen = (item, rows[0])
            break
    if chosen is None:
        return GrowthAnswer(
            growth=g, load_multiplier=lm, baseline_met=bool(base.get("slo_met")), baseline_binding_slo=slo_b,
            baseline_binding_resource=res_b, baseline=_summary(base), config=None, monthly_cost_usd=None,
            binding_slo=None, binding_resource=None, knee_rps=None, knee_growth=None, slo_knee_growth=None,
            memory=None, figures={}, simulated=simulated, pruned=pruned, candidates=len(ranked),
            note=note or f"no configuration among the {min(len(ranked), b['max_sims'])} cheapest candidates met every SLO",
        )
    (cost, cfg, mem, cont), row = chosen
    slo_c, res_c = _binding(row)
    knee_rps, knee_g, knee_res = _knee(row, rps_1x)
    return GrowthAnswer(
        growth=g, load_multiplier=lm, baseline_met=bool(base.get("slo_met")), baseline_binding_slo=slo_b,
        baseline_binding_resource=res_b, baseline=_summary(base), config=cfg, monthly_cost_usd=cost,
        binding_slo=slo_c, binding_resource=knee_res or res_c, knee_rps=knee_rps, knee_growth=knee_g,
        slo_knee_growth=None, memory=mem, figures={**_summary(row), "instance": cont},
        simulated=simulated, pruned=pruned, candidates=len(ranked), note=note,
    )


def _fill(sc_g: Scenario, cfg: dict[str, Any], mem: MemorySizing, capacity: float, cap_bytes: float,
          hit: float, frag: float) -> tuple[dict[str, Any], MemorySizing]:
    """Raise maxmemory (in 16 MiB steps, by bisection: the peak grows with it) to the largest
    whose peak fits `capacity`, at most `cap_bytes` (the shard's whole keyspace)."""
    step = 16 * MIB
    lo = int(cfg["cache.maxmemory_bytes"]) // step
    hi = max(lo, int(math.ceil(min(cap_bytes, capacity) / step)))

    def sized(units: int) -> MemorySizing:
        return memory_sizing(apply_config(sc_g, expand_config(sc_g, {**cfg, "cache.maxmemory_bytes": units * step})),
                             hit_ratio=hit, fragmentation_ratio=frag)

    if hi <= lo:
        return cfg, mem
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if sized(mid).peak_bytes <= capacity:
            lo = mid
        else:
            hi = mid
    if sized(hi).peak_bytes <= capacity:
        lo = hi
    if lo * step <= int(cfg["cache.maxmemory_bytes"]):
        return cfg, mem
    new = {**cfg, "cache.maxmemory_bytes": lo * step}
    return new, sized(lo)


def _summary(row: dict[str, Any]) -> dict[str, Any]:
    keep = ("throughput_rps", "p50_ms", "p99_ms", "max_ms", "hit_ratio", "error_rate", "rejected_rate", "slo_met")
    out = {k: row.get(k) for k in keep}
    for name, r in _resources(row).items():
        out[f"{name}.offered_load"] = r.get("offered_load", r.get("utilisation"))
    return out


def _bisect_knees(answers: list[GrowthAnswer], headroom: float, steps: int, sweep) -> None:
    """The load multiplier (x today's traffic, keys at the growth factor) where each chosen
    configuration stops meeting its SLOs: bisection between the load it was verified at
    (met) and its saturation bound (not met), all growth factors in each step together."""
    live = [a for a in answers if a.config is not None and a.knee_growth]
    brackets = {id(a): [a.load_multiplier, max(a.knee_growth or 0, a.load_multiplier * 1.05)] for a in live}
    for _ in range(steps):
        todo = [a for a in live if brackets[id(a)][1] / brackets[id(a)][0] > 1.02]
        if not todo:
            break
        mids = [math.sqrt(brackets[id(a)][0] * brackets[id(a)][1]) for a in todo]
        for a, m in zip(todo, mids, strict=True):
            assert a.config is not None
            row = sweep([{**a.config, "growth": a.growth, "traffic": m / a.growth}])[0]
            if row.get("slo_met"):
                brackets[id(a)][0] = m
            else:
                brackets[id(a)][1] = m
    for a in live:
        a.slo_knee_growth = brackets[id(a)][0]


# --- kubectl scale --replicas=3 ----------------------------------------------------------------


def scale_out_whatif(
    scenario: Scenario,
    *,
    pods: int = 3,
    seed: int = 0,
    settings: SimSettings | None = None,
    client: Any = None,
    parallel: bool = False,
    cache_dir: Any = DEFAULT_CACHE_DIR,
    progress: bool = False,
) -> pd.DataFrame:
    """Today's single instance, `pods` independent caches behind a load balancer (what
    `kubectl scale deployment/redis --replicas=N` makes of a Deployment), and an N-shard
    cluster, side by side: hit ratio, backend load, latency.

    Independent pods: the load balancer sends each request to any pod, so every pod sees the
    whole keyspace at 1/N of the traffic with its own `maxmemory`; a key is cached N times
    over and each copy is refreshed N times less often. One pod is simulated at 1/N of the
    traffic and its backend pool share (pool / N: the application's pool is shared by the
    pods' misses; splitting it is pessimistic for queueing, as pooled servers are) and the
    backend load is N times the pod's. Sessions and locks break outright: a session written
    through one pod is read through another (N-1)/N of the time, and a lock held on one pod
    does not exclude a client on another; the table says so rather than pricing it.
    A cluster partitions the keys (CRC16 slots), so each shard holds 1/N of them at the full
    per-key rate."""
    # the warm-up must fill today's cache (at 1x it takes ~15 minutes of accesses), or an
    # unfilled cache hides what sharding and splitting do to the hit ratio
    settings = settings or SimSettings(mode="steady", duration_s=10.0, warmup_s=1200.0)
    pool = scenario.backend.concurrency
    configs: list[dict[str, Any]] = [
        {},
        {"traffic": 1.0 / pods, **({"backend.concurrency": max(1, round(pool / pods))} if pool else {})},
        {"cache.shards": pods},
    ]
    res = run_sweep(scenario, configs, seeds=(seed,), settings=settings, client=client, parallel=parallel,
                    cache_dir=cache_dir, progress=progress)
    rows = res.table.to_dict("records")
    out = []
    names = ["today: 1 instance", f"{pods} independent pods (Deployment replicas)", f"{pods}-shard cluster"]
    for name, row, k in zip(names, rows, (1, pods, 1), strict=True):
        r = _resources(row)
        be = r.get("backend", {})
        out.append({
            "setup": name, "hit_ratio": row["hit_ratio"], "backend_rps": be.get("throughput_rps", 0.0) * k,
            "backend_offered_load": be.get("offered_load", be.get("utilisation")),
            "p50_ms": row["p50_ms"], "p99_ms": row["p99_ms"], "error_rate": row["error_rate"],
            "cache_bytes_total": scenario.cache.maxmemory_bytes * pods if k > 1 or "shard" in name else scenario.cache.maxmemory_bytes,
            "sessions_and_locks": "broken: state split across pods" if k > 1 else "consistent",
        })
    return pd.DataFrame(out)
