"""Pydantic models of a scenario: the one place that says what a scenario file may contain.

A scenario is data (as in ciw: a network is data, the engine that runs it is separate). It is
one YAML file; `load_scenario` validates it and raises `ScenarioError` naming the file, the
field path and what was expected, never a bare traceback. `scenario_json_schema` is what
`simlab schema` prints.

Units are in the field names: `_ms`, `_us`, `_s`, `_rps`, `_bytes`, `_usd`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

__all__ = [
    "AlertWindowSpec",
    "ArrivalSpec",
    "BackendSpec",
    "CacheServiceSpec",
    "ClientPoolSpec",
    "CostSpec",
    "Dist",
    "FAILOVER_DEFAULTS",
    "FLOW_SHARE_TOLERANCE",
    "FaultSpec",
    "FlowSpec",
    "KeyspaceSpec",
    "MaxmemoryPolicy",
    "NetworkSpec",
    "ObjectiveSpec",
    "PersistenceSpec",
    "PodResourcesSpec",
    "PromQuerySpec",
    "RateLimitSpec",
    "ReferenceSpec",
    "RunSpec",
    "Scenario",
    "ScenarioError",
    "SloSpec",
    "SloWindowSpec",
    "SourceSpec",
    "TraceColumns",
    "TraceSpec",
    "check_traces",
    "load_scenario",
    "scenario_from_dict",
    "scenario_json_schema",
]


class ScenarioError(ValueError):
    """An invalid scenario: which file, which field, what was expected."""

    def __init__(self, file: str, problems: list[tuple[str, str]]) -> None:
        self.file = file
        self.problems = problems
        lines = [f"{file}: {len(problems)} problem(s) in the scenario"]
        lines += [f"  at {loc or '<root>'}: {msg}" for loc, msg in problems]
        super().__init__("\n".join(lines))


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- distributions ---------------------------------------------------------------------------
# The unit of a distribution is the unit in the name of the field that holds it.


class Constant(_Model):
    kind: Literal["constant"]
    value: float = Field(ge=0)


class Exponential(_Model):
    kind: Literal["exponential"]
    mean: float = Field(gt=0)


class Lognormal(_Model):
    """Lognormal given by its median and the sigma of log(x); P99 = median * exp(2.326 sigma)."""

    kind: Literal["lognormal"]
    median: float = Field(gt=0)
    sigma: float = Field(ge=0)
    shift: float = Field(default=0.0, ge=0, description="constant added to every sample")


class Gamma(_Model):
    """Gamma by mean and coefficient of variation (cv=1 is exponential, cv->0 is constant)."""

    kind: Literal["gamma"]
    mean: float = Field(gt=0)
    cv: float = Field(gt=0)
    shift: float = Field(default=0.0, ge=0)


class Uniform(_Model):
    kind: Literal["uniform"]
    low: float = Field(ge=0)
    high: float = Field(ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> Uniform:
        if self.high < self.low:
            raise ValueError("high must be >= low")
        return self


class Empirical(_Model):
    """A discrete distribution: values with weights (normalised)."""

    kind: Literal["empirical"]
    values: list[float] = Field(min_length=1)
    weights: list[float] | None = None

    @model_validator(mode="after")
    def _same_length(self) -> Empirical:
        if self.weights is not None and len(self.weights) != len(self.values):
            raise ValueError("weights must have one entry per value")
        if self.weights is not None and (min(self.weights) < 0 or sum(self.weights) <= 0):
            raise ValueError("weights must be >= 0 and not all zero")
        return self


Dist = Annotated[Constant | Exponential | Lognormal | Gamma | Uniform | Empirical, Field(discriminator="kind")]


def _const(value: float) -> Constant:
    return Constant(kind="constant", value=value)


# --- traffic ---------------------------------------------------------------------------------


class MmppState(_Model):
    multiplier: float = Field(ge=0, description="rate multiplier in this state")
    mean_dwell_s: float = Field(gt=0, description="mean exponential holding time of the state")


class ArrivalSpec(_Model):
    """How requests of one source arrive.

    poisson: exponential gaps; deterministic: constant gaps; mmpp: a Markov-modulated Poisson
    process cycling through `states` (bursts); diurnal: Poisson with a piecewise-constant rate,
    `hourly_multipliers` (24 values) times the source rate; trace: replay the timestamps
    (seconds, first column) of `trace_path`, relative to the first one.
    """

    kind: Literal["poisson", "deterministic", "mmpp", "diurnal", "trace"] = "poisson"
    states: list[MmppState] | None = None
    hourly_multipliers: list[float] | None = None
    start_hour: int = Field(default=0, ge=0, le=23)
    trace_path: str | None = None

    @model_validator(mode="after")
    def _needs(self) -> ArrivalSpec:
        if self.kind == "mmpp" and not self.states:
            raise ValueError("mmpp needs `states` (at least one)")
        if self.kind == "diurnal":
            if self.hourly_multipliers is None or len(self.hourly_multipliers) != 24:
                raise ValueError("diurnal needs `hourly_multipliers` with exactly 24 values")
            if min(self.hourly_multipliers) < 0:
                raise ValueError("hourly_multipliers must be >= 0")
        if self.kind == "trace" and not self.trace_path:
            raise ValueError("trace needs `trace_path`")
        return self


#: How far a source's flow shares may be from summing to 1 (rounding in hand-written files).
FLOW_SHARE_TOLERANCE = 1e-3


class TraceColumns(_Model):
    """Which column holds what in a CSV/TSV trace: a 0-based index, or a name from the header
    row (`header: true`). `time` None: the request index is the time; `size` None: 1 byte."""

    time: int | str | None = 0
    key: int | str = 1
    size: int | str | None = 2
    op: int | str | None = None
    ttl: int | str | None = None


class TraceSpec(_Model):
    """A request trace replayed in order, with its sizes (and operations and TTLs where the
    format has them).

    format: `oracleGeneral` (libCacheSim's binary: uint32 time s, uint64 id, uint32 size,
    int64 next access; size-0 records skipped as libCacheSim does), `csv`/`tsv` (columns by
    index or header name), `twitter` (twitter/cache-trace: `timestamp,key,key_size,value_size,
    client_id,operation,TTL`, size = key + value, TTL 0 = none).
    use: `both` (the trace's times are the arrivals and its keys the keys), `arrivals` (times
    only; keys from `keyspace`), `keys` (keys, sizes, operations in trace order at the source's
    own arrival process; the trace restarts at its end).
    Times are relative to the first request, in `time_unit`, multiplied by `time_scale`
    (0.5 replays twice as fast). `sample_rate` < 1 keeps the keys whose hash falls below
    the rate (spatial sampling as in SHARDS, Waldspurger et al. FAST'15): every request of a
    kept key, a `sample_rate` share of the keys; scale the cache capacity by the same rate to
    estimate the full cache's hit ratio. The file is streamed (bounded memory).
    """

    path: str
    format: Literal["oracleGeneral", "csv", "tsv", "twitter"] = "oracleGeneral"
    use: Literal["both", "arrivals", "keys"] = "both"
    columns: TraceColumns = TraceColumns()
    header: bool = Field(default=False, description="csv/tsv: the first line names the columns")
    time_unit: Literal["s", "ms", "us", "ns"] = "s"
    time_scale: float = Field(default=1.0, gt=0)
    sample_rate: float = Field(default=1.0, gt=0, le=1)

    @model_validator(mode="after")
    def _columns(self) -> TraceSpec:
        c = self.columns
        named = [v for v in (c.time, c.key, c.size, c.op, c.ttl) if isinstance(v, str)]
        if named and not self.header:
            raise ValueError(f"columns named {named} need `header: true`")
        return self


#: How far a source's flow shares may be from summing to 1 (rounding in hand-written files).
FLOW_SHARE_TOLERANCE = 1e-3


class RateLimitSpec(_Model):
    """A fixed-window limiter (INCR + EXPIRE per window): requests over `limit` are rejected."""

    limit: int = Field(gt=0, description="requests allowed per window per source")
    window_s: float = Field(gt=0)


class ClientPoolSpec(_Model):
    """A client-side connection pool to each cache instance, as redis-py's
    `BlockingConnectionPool(max_connections=..., timeout=...)`: a command takes an idle
    connection, or opens a new one while fewer than `max_connections` are open (connections
    are opened lazily and stay open), or waits up to `timeout_ms` for one to be released and
    then fails (`ConnectionError: No connection available.`; outcome `pool_timeout`). A
    connection is held from sending the command until its reply is back at the application
    (app -> cache leg, queue and service at the instance, cache -> app leg); a cache-aside
    miss releases it between its GET and its SET (the backend call holds none), a lock between
    its SET NX and its DEL. Opening a connection beyond the instance's `cache.maxclients` is
    refused (`-ERR max number of clients reached`; outcome `maxclients`). Each of `instances`
    application instances has its own pool; requests are spread over them uniformly at random.
    Opening a connection (the pool growing, or the first use of each connection after its
    instance restarted or failed over, when redis-py reconnects) delays its command by
    `connect_round_trips` app <-> cache round trips plus one per `handshake` command, and
    adds the handshake commands' mean service times (`cache.service_time_us` by name, else
    `default`, else GET's) to the command's work at the instance (their own queue waits are
    not modelled)."""

    max_connections: int = Field(gt=0, description="connections per pool (redis-py max_connections)")
    timeout_ms: float | None = Field(
        default=20000.0, gt=0,
        description="how long a command waits for a connection before failing (redis-py's "
        "BlockingConnectionPool timeout, 20 s by default); None: waits as long as it takes")
    instances: int = Field(default=1, ge=1, description="application instances, each with its own pool")
    connect_round_trips: float = Field(
        default=1.0, ge=0,
        description="round trips to set up a connection before its first command: 1 for TCP's handshake; "
        "add 1 for TLS 1.3 (2 for TLS 1.2); 0: free")
    handshake: tuple[Literal["HELLO", "AUTH", "CLIENT SETNAME", "CLIENT SETINFO", "SELECT", "READONLY"], ...] = Field(
        default=("CLIENT SETINFO", "CLIENT SETINFO"),
        description="commands redis-py sends one by one on a new connection, one round trip each: by "
        "default (redis-py >= 5) CLIENT SETINFO LIB-NAME and LIB-VER; a password adds AUTH (or HELLO with "
        "RESP3), client_name CLIENT SETNAME, db != 0 SELECT, cluster replica reads READONLY")


class SourceSpec(_Model):
    """One traffic source and the first hop of its path (client -> its entry proxy)."""

    name: str
    rate_rps: float = Field(gt=0)
    arrival: ArrivalSpec = ArrivalSpec()
    flows: dict[str, float] = Field(description="flow name -> share of this source's requests")
    client_rtt_ms: Dist = _const(0.0)
    entry_service_ms: Dist = _const(0.0)
    entry_error_probability: float = Field(default=0.0, ge=0, le=1)
    timeout_ms: float | None = Field(default=None, gt=0, description="client timeout per attempt")
    retries: int = Field(default=0, ge=0, le=10)
    backoff_ms: float = Field(default=50.0, ge=0, description="first retry backoff; doubles per retry")
    rate_limit: RateLimitSpec | None = None
    connections: int | None = Field(
        default=None,
        gt=0,
        description="connections this source holds to each cache instance (pool size x app instances), "
        "checked against cache.maxclients; None: not counted",
    )
    trace: TraceSpec | None = Field(
        default=None,
        description="replay a trace; with use both/arrivals its times replace rate_rps and arrival",
    )
    pool: ClientPoolSpec | None = Field(
        default=None,
        description="this source's own connection pool to each cache instance; None: the application's "
        "(`network.app_pool`) if there is one, else no pool (connections are not a limit)",
    )

    @model_validator(mode="after")
    def _shares(self) -> SourceSpec:
        if self.pool is not None and self.connections is not None:
            raise ValueError("give `pool` (connections opened on demand) or `connections` (a fixed count), not both")
        if not self.flows or min(self.flows.values()) < 0 or sum(self.flows.values()) <= 0:
            raise ValueError("flows must map at least one flow name to a share > 0")
        total = sum(self.flows.values())
        if abs(total - 1.0) > FLOW_SHARE_TOLERANCE:
            raise ValueError(f"flow shares of source {self.name!r} add up to {total:g}, not 1")
        return self


# --- keyspace --------------------------------------------------------------------------------


class PopularitySpec(_Model):
    """zipf: P(rank r) ~ r^-alpha; uniform; hotset: `hot_share` of requests go to the first
    `hot_fraction` of keys; trace: key ids from the second column of `trace_path`."""

    kind: Literal["zipf", "uniform", "hotset", "trace"] = "zipf"
    alpha: float = Field(default=1.0, ge=0)
    hot_fraction: float = Field(default=0.1, gt=0, le=1)
    hot_share: float = Field(default=0.9, ge=0, le=1)
    trace_path: str | None = None


class TtlEntry(_Model):
    ttl_s: float = Field(gt=0)
    share: float = Field(ge=0)


class TtlSpec(_Model):
    """none; fixed `ttl_s`; jittered: ttl_s * U(1 - jitter, 1 + jitter); mix: shares of TTLs
    (as the `common TTL` column of the Twitter cluster stats)."""

    kind: Literal["none", "fixed", "jittered", "mix"] = "none"
    ttl_s: float | None = Field(default=None, gt=0)
    jitter_fraction: float = Field(default=0.1, ge=0, lt=1)
    mix: list[TtlEntry] | None = None

    @model_validator(mode="after")
    def _needs(self) -> TtlSpec:
        if self.kind in ("fixed", "jittered") and self.ttl_s is None:
            raise ValueError(f"{self.kind} TTL needs `ttl_s`")
        if self.kind == "mix" and not self.mix:
            raise ValueError("mix TTL needs `mix` entries")
        return self


def _smallest_size(d: Constant | Exponential | Lognormal | Gamma | Uniform | Empirical) -> float | None:
    """The smallest value a size distribution can give when that is a fixed number (constant,
    uniform, empirical); None for continuous ones on (shift, inf), which are whole bytes
    rounded down with 1 byte the least."""
    if isinstance(d, Constant):
        return d.value
    if isinstance(d, Uniform):
        return d.low
    if isinstance(d, Empirical):
        return min(d.values)
    return None


class KeyspaceSpec(_Model):
    """Keys and their sizes in bytes. A size must be at least 1 byte: a constant, uniform or
    empirical size below 1 is an error (it used to become 1 silently)."""

    num_keys: int = Field(gt=0)
    popularity: PopularitySpec = PopularitySpec()
    key_size_bytes: Dist = _const(32)
    value_size_bytes: Dist = _const(256)
    ttl: TtlSpec = TtlSpec()

    @model_validator(mode="after")
    def _sizes(self) -> KeyspaceSpec:
        for name in ("key_size_bytes", "value_size_bytes"):
            low = _smallest_size(getattr(self, name))
            if low is not None and low < 1:
                raise ValueError(f"{name} can be {low:g}; sizes must be at least 1 byte")
        return self


# --- flows -----------------------------------------------------------------------------------


class FlowSpec(_Model):
    """One of the service's flows: its commands and what the application does around them.

    cache_aside: a read pipeline (`GET`, or `MGET` with `keys_per_request`); on a miss the app
    calls the backend then SETs the value. `op_mix` turns a share of requests into direct
    writes (set), deletes (del) or counters (incr) instead of the read.
    session: HGETALL plus a sliding-expiry EXPIRE, pipelined (one round trip).
    pubsub: PUBLISH fanned out to `subscribers`; delivery latency reported per subscriber.
    lock: SET NX PX on one hot lock key, wait in line for it, hold it `hold_ms`, DEL.
    command: just the `commands` pipeline.
    """

    kind: Literal["cache_aside", "session", "pubsub", "lock", "command"]
    commands: dict[str, int] | None = Field(default=None, description="command -> count in the pipeline")
    keys_per_request: int = Field(default=1, ge=1, description="MGET fan-out")
    op_mix: dict[Literal["get", "set", "del", "incr"], float] | None = None
    subscribers: int = Field(default=0, ge=0)
    subscriber_rtt_ms: Dist = _const(0.0)
    hold_ms: Dist = _const(1.0)
    app_service_ms: Dist | None = Field(default=None, description="overrides network.app_service_ms")


# --- network path, backend, cache service ----------------------------------------------------


class NetworkSpec(_Model):
    """The hops after the entry proxy: entry -> app -> cache (round trips, service times)."""

    entry_to_app_rtt_ms: Dist = _const(0.0)
    app_service_ms: Dist = _const(0.0)
    app_to_cache_rtt_ms: Dist = _const(0.0)
    app_error_probability: float = Field(default=0.0, ge=0, le=1)
    loss_probability: float = Field(default=0.0, ge=0, le=1, description="per request, one lost segment")
    retransmit_timeout_ms: float = Field(default=200.0, ge=0, description="Linux TCP_RTO_MIN is 200 ms")
    app_pool: ClientPoolSpec | None = Field(
        default=None,
        description="the application's connection pool to each cache instance, used by every source "
        "without its own `pool`; None: no pool",
    )


class BackendSpec(_Model):
    """What a cache-aside miss calls (a database): its latency and how many calls at once."""

    latency_ms: Dist = _const(10.0)
    rtt_ms: Dist = _const(0.0)
    concurrency: int | None = Field(default=None, gt=0, description="None: unlimited")
    acquire_timeout_ms: float | None = Field(
        default=None,
        gt=0,
        description="a miss that cannot get a pool connection within this time fails (outcome `shed`); "
        "None: it waits as long as it takes (an unbounded queue)",
    )
    error_probability: float = Field(default=0.0, ge=0, le=1)

    @model_validator(mode="after")
    def _pool(self) -> BackendSpec:
        if self.acquire_timeout_ms is not None and self.concurrency is None:
            raise ValueError("acquire_timeout_ms needs a pool: set `concurrency`")
        return self


class PersistenceSpec(_Model):
    """Persistence and its cost. appendfsync=always adds `fsync_ms` to every write;
    everysec stalls the server for `fsync_ms` once a second with `stall_probability`
    (Redis blocks writes when the background fsync is late, see redis.io persistence docs);
    rdb forks every `save_interval_s` and pauses the server `fork_ms_per_gb` x dataset."""

    mode: Literal["none", "aof", "rdb", "aof+rdb"] = "none"
    appendfsync: Literal["always", "everysec", "no"] = "everysec"
    fsync_ms: Dist = _const(1.0)
    stall_probability: float = Field(default=0.0, ge=0, le=1)
    save_interval_s: float = Field(default=300.0, gt=0)
    fork_ms_per_gb: float = Field(default=10.0, ge=0)
    dataset_bytes: int = Field(default=0, ge=0)


#: Redis's maxmemory-policy values (redis.io eviction docs) plus the exact `lru` and `fifo`.
MaxmemoryPolicy = Literal[
    "noeviction",
    "allkeys-lru",
    "allkeys-lfu",
    "allkeys-random",
    "volatile-lru",
    "volatile-lfu",
    "volatile-random",
    "volatile-ttl",
    "lru",
    "fifo",
]


class CacheServiceSpec(_Model):
    shards: int = Field(default=1, ge=1)
    replicas: int = Field(default=0, ge=0, description="replicas per shard")
    read_from_replicas: bool = Field(
        default=False,
        description="reads (cache-aside GETs) also go to replicas (READONLY), by `load_balancing_strategy`; "
        "writes and a miss's SET go to the primary. Replicas hold what their primary holds (hit ratio unchanged)",
    )
    replica_lag_ms: float = Field(
        default=0.0,
        ge=0,
        description="replication lag: a read served by a replica within this many ms after a write (SET, DEL, "
        "INCR) of its key on the primary returns the old value, counted as a stale read (`replica_reads` in "
        "the output); 0: replicas are never behind",
    )
    load_balancing_strategy: Literal["round_robin", "round_robin_replicas", "random", "random_replica"] | None = Field(
        default=None,
        description="redis-py's LoadBalancingStrategy for reads from a shard's copies (giving it implies "
        "read_from_replicas; read_from_replicas alone means round_robin, as in redis-py >= 5.3): "
        "`round_robin` cycles primary, replica1, ... per client and shard; `round_robin_replicas` cycles "
        "the replicas only; `random` picks any copy uniformly; `random_replica` any replica uniformly",
    )
    threads: int = Field(default=1, ge=1, description="command-executing threads per instance")
    service_time_us: dict[str, Dist] = Field(default_factory=dict, description="per command; `default` too")
    request_overhead_us: Dist | None = Field(
        default=None,
        description="server CPU per round trip on top of its commands' service times, once per request "
        "however many commands it pipelines (the event loop reading the request and writing the reply); "
        "unset: folded into the commands' times, as INFO commandstats and most calibrations give them",
    )
    pipeline_overhead_us: Dist | None = Field(
        default=None,
        description="server CPU per round trip that carries two or more commands (a session's HGETALL + "
        "EXPIRE, a rate limit's INCR + EXPIRE in front), on top of `request_overhead_us`: a server's general "
        "request path where a lone command takes a shorter one (the cachelab engine's does); unset: none",
    )
    service_times_file: str | None = Field(default=None, description="YAML with the same mapping")
    maxmemory_bytes: int = Field(default=0, ge=0, description="0: no limit")
    maxmemory_objects: int | None = Field(
        default=None,
        gt=0,
        description="capacity in objects instead of bytes: every key counts 1 and no overhead "
        "is charged (libCacheSim's ignore_obj_size); give this or maxmemory_bytes, not both",
    )
    maxmemory_policy: MaxmemoryPolicy = Field(
        default="allkeys-lru",
        description="Redis's eight maxmemory-policy values, or the exact textbook `lru` and `fifo` "
        "(identical to libCacheSim's LRU and FIFO when per_key_overhead_bytes is 0)",
    )
    maxmemory_samples: int = Field(default=5, ge=1)
    per_key_overhead_bytes: int = Field(
        default=64,
        ge=0,
        description="bytes charged per key on top of key + value payload: Redis 7's dictEntry "
        "(32 B jemalloc class) + bucket pointer (8) + value robj (16) + two sdshdr8 headers with "
        "NUL (4 + 4) = 64 B on 64-bit Linux; 0 counts payload only, as libCacheSim does",
    )
    expire_overhead_bytes: int = Field(
        default=40, ge=0, description="extra bytes of a key with a TTL: its `expires` dictEntry (32) + bucket (8)"
    )
    persistence: PersistenceSpec = PersistenceSpec()
    maxclients: int = Field(
        default=10000,
        ge=1,
        description="connections each instance accepts at once. Fixed `connections` of sources are opened "
        "first; when they add up to more, the excess clients are refused ('ERR max number of clients "
        "reached'): that share of their requests fails. Connection pools open connections on demand; "
        "one opened beyond the limit is refused and its command fails. Outcome `maxclients` (an error)",
    )
    shed_wait_ms: float | None = Field(
        default=None,
        gt=0,
        description="load shedding in front of each instance: a request that would wait longer is refused "
        "at once (outcome `shed`); None: no shedding",
    )
    placement: Literal["modulo", "hash_slots"] = Field(
        default="modulo",
        description="which shard holds a key: `modulo` (key id mod shards) or `hash_slots` (Redis Cluster: "
        "CRC16 of the key name `key:<id>` mod 16384, slots in contiguous ranges per shard)",
    )
    reinitialize_steps: int = Field(
        default=5,
        ge=0,
        description="cluster clients (redis-py RedisCluster's `reinitialize_steps`): after a -MOVED a client "
        "patches that slot in its map, and every this many -MOVED it reloads the whole map (CLUSTER SLOTS), "
        "learning every slot moved so far; 0: never reload. Counts `moved` redirections during a reshard",
    )

    @model_validator(mode="before")
    @classmethod
    def _strategy_reads_replicas(cls, data: Any) -> Any:
        """redis-py reads from replicas whenever a load balancing strategy is given."""
        if isinstance(data, dict) and data.get("load_balancing_strategy") is not None:
            data = {**data, "read_from_replicas": True}
        return data

    @model_validator(mode="after")
    def _capacity(self) -> CacheServiceSpec:
        if self.maxmemory_objects is not None and self.maxmemory_bytes:
            raise ValueError("give maxmemory_bytes or maxmemory_objects, not both")
        return self


#: Failure detection and promotion defaults (seconds) per failover mechanism. Sentinel:
#: `down-after-milliseconds` 30000 in the shipped sentinel.conf, then quorum, leader election
#: and `REPLICAOF NO ONE` (~2 s). Cluster: `cluster-node-timeout` 15000 (PFAIL -> FAIL), then
#: the replica's election delay 500 ms + random 0-500 ms + rank x 1 s (~1 s for rank 0).
FAILOVER_DEFAULTS: dict[str, tuple[float, float]] = {"sentinel": (30.0, 2.0), "cluster": (15.0, 1.0)}


class FaultSpec(_Model):
    """A fault at `at_s`, or as a Poisson process with `rate_per_hour`, lasting `duration_s`,
    on one shard (`shard`) or every shard. Kinds:

    restart: the instance refuses connections (cache emptied unless persistence reloads it).
    slow: cache service times x `factor`. blip: `extra_latency_ms` on the app -> cache network.
    failover: the primary fails; its clients get connection errors until a replica is promoted
    after `detection_s` + `promotion_s` (defaults per `failover_mode`, see FAILOVER_DEFAULTS);
    then requests go to the promoted replica (its cache content survives), clients retry with
    their own policy; when the old primary returns after `duration_s` it resyncs from the new
    one (`resync: full` costs a fork on the new primary, `fork_ms_per_gb` x dataset; `partial`
    costs nothing); other replicas re-attach with a partial resync (PSYNC2). Needs replicas.
    node_loss: the node is gone with its disk: with replicas, a failover that never returns;
    without, the shard refuses connections for `duration_s` and comes back empty.
    backend_slow: backend latency x `factor`. backend_outage: backend calls fail (a miss is an
    error; hits still succeed).
    partition: app <-> cache packets are lost: requests reaching the shard in the window wait
    for the heal (TCP retransmission) and are served then, so clients see timeouts, not errors.
    slow_disk: fsync takes `fsync_ms`: with appendfsync always every write pays it on the event
    loop; with everysec a write blocks once the background fsync is over 2 s late (Redis's
    aof_delayed_fsync), i.e. stalls of fsync_ms - 2000 ms every fsync_ms.
    hot_key / hot_slot: a `share` of requests go to one key / to keys of one hash slot on
    `shard` (default 0).
    reshard: a `share` of `shard`'s slots (its last ones; with modulo placement, a hash-chosen
    share of its keys) move to `to_shard` during the window, as `redis-cli --cluster reshard`
    does: MIGRATE in batches of 10 keys, `migrate_us_per_key` of work on the source primary
    and the same on the destination's, spread evenly over the window; the data moves along.
    With `hash_slots`, slots move one after another (each for the time of its keys' share of
    the window, keys in id order) and clients are redirected as Redis Cluster and redis-py do:
    a command for a key of a migrating slot that has already moved (or is absent, as a read
    miss and its SET are) goes to the source, gets -ASK, and is resent to the destination
    after an ASKING round trip; once a slot is done, each client's first command for it gets
    -MOVED (one per client per slot, fewer with `cache.reinitialize_steps`), then goes direct.
    Counts are `cluster_redirections` in the output. With `modulo`, the moved keys switch at
    the window's end without redirections (not Redis Cluster).
    error_burst: a `share` of the requests starting in the window fail with an error response
    (a bad deploy, a dependency returning errors); with `shard`, only requests to that shard.
    They still take their path (as any error a hop returns) and count as upstream errors.
    """

    kind: Literal["restart", "slow", "blip", "failover", "node_loss", "backend_slow", "backend_outage",
                  "partition", "slow_disk", "hot_key", "hot_slot", "reshard", "error_burst"]
    at_s: float | None = Field(default=None, ge=0)
    rate_per_hour: float | None = Field(default=None, gt=0)
    duration_s: float = Field(gt=0)
    shard: int | None = Field(default=None, ge=0, description="None: every shard")
    factor: float = Field(default=2.0, ge=1)
    extra_latency_ms: float = Field(default=0.0, ge=0)
    failover_mode: Literal["sentinel", "cluster"] = "sentinel"
    detection_s: float | None = Field(default=None, ge=0, description="failover: time to declare the primary down")
    promotion_s: float | None = Field(default=None, ge=0, description="failover: election + promotion")
    resync: Literal["full", "partial"] = "full"
    fsync_ms: float = Field(default=0.0, ge=0, description="slow_disk: fsync time during the fault")
    share: float = Field(default=0.0, ge=0, le=1, description="hot_key/hot_slot: share of requests redirected; "
                         "reshard: share of the shard's slots (keys) moved; error_burst: share of requests that fail")
    to_shard: int | None = Field(default=None, ge=0, description="reshard: destination (default: the next shard)")
    migrate_us_per_key: float = Field(
        default=50.0, ge=0, description="reshard: MIGRATE work per key on the source and RESTORE on the destination")

    @model_validator(mode="after")
    def _when(self) -> FaultSpec:
        if (self.at_s is None) == (self.rate_per_hour is None):
            raise ValueError("give exactly one of `at_s` or `rate_per_hour`")
        if self.kind in ("hot_key", "hot_slot", "error_burst") and self.share <= 0:
            raise ValueError(f"{self.kind} needs `share` > 0")
        if self.kind == "slow_disk" and self.fsync_ms <= 0:
            raise ValueError("slow_disk needs `fsync_ms` > 0")
        if self.kind == "reshard" and (self.shard is None or self.at_s is None or self.share <= 0):
            raise ValueError("reshard needs `shard`, `at_s` and `share` > 0")
        return self

    def failover_delay_s(self) -> float:
        """Detection plus promotion time of a failover."""
        d, p = FAILOVER_DEFAULTS[self.failover_mode]
        return (d if self.detection_s is None else self.detection_s) + (p if self.promotion_s is None else self.promotion_s)


SliKind = Literal["availability", "latency", "error_rate"]
#: How a deliberate refusal (HTTP 429 from a rate limiter, load shedding) counts in an SLI.
RejectedPolicy = Literal["bad", "good", "excluded"]
BudgetingMethod = Literal["occurrences", "timeslices", "ratio_timeslices"]


class SloWindowSpec(_Model):
    """The error-budget window: `days` long (30 by default), rolling or calendar-aligned.

    `elapsed_days` is how much of the window the simulated behaviour has lasted when the
    budget is read (a calendar window's position, or the days since the current configuration
    went live); None means the whole window (steady state for `days`). The budget spent in
    that time is the simulated burn rate times elapsed_days / days."""

    days: float = Field(default=30.0, gt=0)
    kind: Literal["rolling", "calendar"] = "rolling"
    elapsed_days: float | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _inside(self) -> SloWindowSpec:
        if self.elapsed_days is not None and self.elapsed_days > self.days:
            raise ValueError(f"elapsed_days {self.elapsed_days:g} is longer than the window ({self.days:g} days)")
        return self


class PromQuerySpec(_Model):
    """PromQL of an SLI for the exported rules, sloth's form: `{{.window}}` is the range."""

    error_query: str
    total_query: str


class ObjectiveSpec(_Model):
    """One SLO on simulated events (see `simlab.slo` for what counts as bad per SLI kind).

    availability: good = answered without error (429s per `rejected`); latency: good = answered
    within `threshold_ms`; error_rate: good = not an error response (a 429 is not an error).
    Scope: the whole service, or one `source` or one `flow`."""

    name: str
    sli: SliKind
    target: float = Field(gt=0, le=1, description="fraction of good events (or good timeslices)")
    threshold_ms: float | None = Field(default=None, gt=0, description="latency SLI: good if <= this")
    source: str | None = None
    flow: str | None = None
    budgeting: BudgetingMethod = "occurrences"
    timeslice_s: float = Field(default=60.0, gt=0, description="timeslice length (whole minutes)")
    timeslice_target: float | None = Field(default=None, gt=0, le=1, description="a slice is good if its ratio >= this")
    rejected: RejectedPolicy | None = Field(default=None, description="None: the `slo.rejected` default")
    budget_spent_before: float = Field(
        default=0.0, ge=0, le=1,
        description="fraction of the window's budget already spent before the simulated behaviour "
        "began (earlier incidents, an earlier deployment), e.g. read off production's dashboard")
    prometheus: PromQuerySpec | None = None

    @model_validator(mode="after")
    def _consistent(self) -> ObjectiveSpec:
        if self.sli == "latency" and self.threshold_ms is None:
            raise ValueError("a latency SLO needs `threshold_ms`")
        if self.source is not None and self.flow is not None:
            raise ValueError("scope an SLO to one `source` or one `flow`, not both")
        if self.budgeting != "occurrences" and abs(self.timeslice_s / 60.0 - round(self.timeslice_s / 60.0)) > 1e-9:
            raise ValueError("timeslice_s must be a whole number of minutes (the series is per minute)")
        if self.budgeting == "timeslices" and self.timeslice_target is None:
            raise ValueError("timeslices budgeting needs `timeslice_target`")
        return self


class AlertWindowSpec(_Model):
    """A multi-window burn-rate alert: fires while the burn rate over both windows is >=
    `burn_rate` (Google SRE Workbook, ch. 5 "Alerting on SLOs"). Windows: 5m, 1h, 3d ..."""

    severity: Literal["page", "ticket"]
    long_window: str = Field(pattern=r"^\d+(\.\d+)?[mhd]$")
    short_window: str = Field(pattern=r"^\d+(\.\d+)?[mhd]$")
    burn_rate: float = Field(gt=0)


class SloSpec(_Model):
    """SLOs of the scenario. The short form (`availability`, `latency_p99_ms`, `error_rate`)
    stands for three objectives: availability >= `availability`; latency: `latency_target` of
    requests within `latency_p99_ms` (P99 < 200 ms is "99 % within 200 ms"); error rate <=
    `error_rate`. `objectives` replaces the short form when given."""

    availability: float = Field(default=0.999, gt=0, le=1)
    latency_p99_ms: float = Field(default=200.0, gt=0)
    latency_target: float = Field(default=0.99, gt=0, le=1)
    error_rate: float = Field(default=0.001, ge=0, le=1)
    rejected: RejectedPolicy = Field(
        default="bad", description="a 429 / shed request: bad (default), good, or excluded from the SLIs")
    window: SloWindowSpec = SloWindowSpec()
    budget_spent_before: dict[str, float] = Field(
        default_factory=dict, description="short form: objective name -> budget fraction spent before")
    objectives: list[ObjectiveSpec] = Field(default_factory=list)
    alerts: list[AlertWindowSpec] | None = Field(default=None, description="None: the SRE Workbook's three")
    service: str | None = Field(default=None, description="service label of exported rules (default: scenario name)")

    def resolved_objectives(self) -> list[ObjectiveSpec]:
        """The objectives, the short form expanded when `objectives` is empty."""
        if self.objectives:
            return list(self.objectives)
        spent = self.budget_spent_before
        return [
            ObjectiveSpec(name="availability", sli="availability", target=self.availability,
                          budget_spent_before=spent.get("availability", 0.0)),
            ObjectiveSpec(name="latency", sli="latency", target=self.latency_target, threshold_ms=self.latency_p99_ms,
                          budget_spent_before=spent.get("latency", 0.0)),
            ObjectiveSpec(name="error-rate", sli="error_rate", target=1.0 - self.error_rate,
                          budget_spent_before=spent.get("error-rate", 0.0)),
        ]

    def latency_thresholds_ms(self) -> list[float]:
        """Latency thresholds the run must count requests over (per minute)."""
        return sorted({o.threshold_ms for o in self.resolved_objectives() if o.threshold_ms is not None})


class PodResourcesSpec(_Model):
    """Kubernetes requests and limits of one cache pod (what a cluster bills by)."""

    cpu_request: float = Field(gt=0, description="vCPU (100m = 0.1)")
    cpu_limit: float | None = Field(default=None, gt=0)
    memory_request_bytes: int = Field(gt=0)
    memory_limit_bytes: int | None = Field(default=None, gt=0)
    storage_bytes: int = Field(default=0, ge=0, description="persistent volume")


class CostSpec(_Model):
    """How the service is priced (`simlab.cost`): a price table (name in data/pricing/ or a
    path) and either the pod's requests (`pod`) or a node type (`node_type`) per instance.
    `monthly_usd` and the `*_usd` parts are optional reference figures (e.g. a dashboard's),
    printed next to the computed cost."""

    pricing: str | None = None
    pod: PodResourcesSpec | None = None
    node_type: str | None = None
    memory_fragmentation_ratio: float = Field(
        default=1.2, ge=1, description="RSS / used_memory (jemalloc), for memory actually used")
    billed_network_share: float = Field(
        default=0.0, ge=0, le=1, description="share of the bytes the cache sends that is billed "
        "(crosses a zone; traffic inside a zone is free on the big clouds)")
    monthly_usd: float | None = Field(default=None, ge=0)
    cpu_usd: float = Field(default=0.0, ge=0)
    memory_usd: float = Field(default=0.0, ge=0)
    storage_usd: float = Field(default=0.0, ge=0)
    network_usd: float = Field(default=0.0, ge=0)
    efficiency: float | None = Field(default=None, ge=0, le=1, description="reference efficiency score")

    @model_validator(mode="after")
    def _adds_up(self) -> CostSpec:
        parts = self.cpu_usd + self.memory_usd + self.storage_usd + self.network_usd
        if parts > 0 and self.monthly_usd is not None and abs(parts - self.monthly_usd) > 0.005:
            raise ValueError(f"cost parts add up to {parts:.2f}, not monthly_usd {self.monthly_usd:.2f}")
        if self.pod is not None and self.node_type is not None:
            raise ValueError("give `pod` (requests/limits) or `node_type`, not both")
        return self


class ReferenceSpec(_Model):
    """Measured figures the scenario is calibrated against (e.g. a production dashboard);
    `simlab report` prints the simulation next to them."""

    source: str = ""
    p50_ms: float | None = Field(default=None, gt=0)
    p90_ms: float | None = Field(default=None, gt=0)
    p99_ms: float | None = Field(default=None, gt=0)
    max_ms: float | None = Field(default=None, gt=0)
    error_rate: float | None = Field(default=None, ge=0, le=1)


class RunSpec(_Model):
    duration_s: float = Field(default=60.0, gt=0)
    warmup_s: float = Field(default=5.0, ge=0)
    seed: int = Field(default=0, ge=0)
    replications: int = Field(default=1, ge=1)
    model: Literal["auto", "simpy", "vector"] = "auto"
    latency_resolution_ns: int = Field(
        default=1000,
        ge=1,
        le=1000,
        description="unit latencies are recorded in: 1000 (whole microseconds, 3 significant digits) "
        "or down to 1 for sub-microsecond service times (in-memory calls, pipelined commands)",
    )
    parallel: bool = Field(
        default=False,
        description="answer the cache's hit/miss queries of the next chunk in a forked process while "
        "this one computes queues (same results; faster on 2+ cores for long or overloaded runs)",
    )


class Scenario(_Model):
    name: str
    description: str = ""
    sources: list[SourceSpec] = Field(min_length=1)
    keyspace: KeyspaceSpec
    flows: dict[str, FlowSpec] = Field(min_length=1)
    network: NetworkSpec = NetworkSpec()
    backend: BackendSpec = BackendSpec()
    cache: CacheServiceSpec = CacheServiceSpec()
    faults: list[FaultSpec] = Field(default_factory=list)
    slo: SloSpec = SloSpec()
    cost: CostSpec | None = None
    reference: ReferenceSpec | None = None
    run: RunSpec = RunSpec()
    calibration: str | None = Field(
        default=None,
        description="a calibration file from `simlab calibrate` (path, or a name in data/calibration/): "
        "its measured per-command service times replace cache.service_time_us",
    )

    @model_validator(mode="after")
    def _slo_scopes(self) -> Scenario:
        sources = {s.name for s in self.sources}
        names = set()
        for o in self.slo.resolved_objectives():
            if o.name in names:
                raise ValueError(f"slo objective names must be unique: {o.name!r} twice")
            names.add(o.name)
            if o.source is not None and o.source not in sources:
                raise ValueError(f"slo {o.name!r} scoped to unknown source {o.source!r}; known: {sorted(sources)}")
            if o.flow is not None and o.flow not in self.flows:
                raise ValueError(f"slo {o.name!r} scoped to unknown flow {o.flow!r}; known: {sorted(self.flows)}")
        unknown = set(self.slo.budget_spent_before) - {"availability", "latency", "error-rate"}
        if unknown and not self.slo.objectives:
            raise ValueError(f"slo.budget_spent_before names unknown objectives {sorted(unknown)}")
        return self

    @model_validator(mode="after")
    def _references(self) -> Scenario:
        names = [s.name for s in self.sources]
        if len(set(names)) != len(names):
            raise ValueError("source names must be unique")
        for src in self.sources:
            for flow in src.flows:
                if flow not in self.flows:
                    raise ValueError(f"source {src.name!r} uses unknown flow {flow!r}; known: {sorted(self.flows)}")
        for fault in self.faults:
            if fault.shard is not None and fault.shard >= self.cache.shards:
                raise ValueError(f"fault shard {fault.shard} >= cache.shards {self.cache.shards}")
            if fault.kind == "reshard" and (self.cache.shards < 2 or (fault.to_shard or 0) >= self.cache.shards
                                            or fault.to_shard == fault.shard):
                raise ValueError("reshard needs 2+ shards and a `to_shard` other than `shard`, below cache.shards")
            if fault.kind == "failover" and self.cache.replicas < 1:
                raise ValueError("a failover fault needs cache.replicas >= 1 (nothing to promote)")
        table = {k.upper() for k in self.cache.service_time_us}
        if "DEFAULT" not in table:
            for where, cmd in self.commands_used():
                if cmd not in table:
                    raise ValueError(
                        f"cache.service_time_us has no time for {cmd} (used by {where}) and no `default`"
                    )
        return self

    @model_validator(mode="after")
    def _pools(self) -> Scenario:
        if self.run.model == "vector" and self.has_client_pools():
            raise ValueError("run.model: the vector solver cannot model client connection pools "
                             "(sources.*.pool, network.app_pool); use auto or simpy")
        return self

    def has_client_pools(self) -> bool:
        """Whether any request goes through a client-side connection pool."""
        return self.network.app_pool is not None or any(s.pool is not None for s in self.sources)

    def commands_used(self) -> list[tuple[str, str]]:
        """(who, COMMAND) for every command the model will need a service time for."""
        out: list[tuple[str, str]] = []
        for name, f in self.flows.items():
            who = f"flow {name!r}"
            if f.kind == "cache_aside":
                out.append((who, "MGET" if f.keys_per_request > 1 else "GET"))
                out.append((who, "SET"))
                for op, share in (f.op_mix or {}).items():
                    if share > 0 and op != "get":
                        out.append((who, {"set": "SET", "del": "DEL", "incr": "INCR"}[op]))
            elif f.kind == "session":
                out += [(who, "HGETALL"), (who, "EXPIRE")]
            elif f.kind == "pubsub":
                out.append((who, "PUBLISH"))
                if f.subscribers:
                    out.append((who, "PUBLISH_PER_SUBSCRIBER"))
            elif f.kind == "lock":
                out += [(who, "SET"), (who, "DEL")]
            else:
                out += [(who, c.upper()) for c in (f.commands or {"GET": 1})]
        for src in self.sources:
            if src.rate_limit is not None:
                out += [(f"source {src.name!r} rate_limit", "INCR"), (f"source {src.name!r} rate_limit", "EXPIRE")]
        return out


def _problems(err: ValidationError) -> list[tuple[str, str]]:
    out = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"])
        out.append((loc, e["msg"]))
    return out


def scenario_from_dict(data: Any, file: str = "<dict>") -> Scenario:
    """Validate `data`; raise `ScenarioError` (file, field path, expectation) when invalid."""
    try:
        return Scenario.model_validate(data)
    except ValidationError as err:
        raise ScenarioError(file, _problems(err)) from None


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate one scenario YAML file. Relative trace/calibration paths stay relative
    to the current directory; the file itself is named in any error."""
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as err:
        raise ScenarioError(str(p), [("", f"cannot read file: {err.strerror}")]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ScenarioError(str(p), [("", f"not valid YAML: {err}")]) from None
    if not isinstance(data, dict):
        raise ScenarioError(str(p), [("", "expected a mapping at the top level")])
    sc = scenario_from_dict(data, str(p))
    check_traces(sc, str(p))
    if sc.calibration is not None:
        from simlab.calibrate import CalibrationError, apply_calibration

        try:
            sc = apply_calibration(sc, base_dir=p.parent)
        except CalibrationError as err:
            raise ScenarioError(str(p), [("calibration", str(err))]) from None
    return sc


def check_traces(sc: Scenario, file: str = "<dict>") -> None:
    """Open every trace the scenario names and read its first requests, so a missing file, a
    header row, a binary file given as CSV or a missing column is a `ScenarioError` naming
    the field at load time rather than a failure in the middle of a run."""
    from simlab.paths import PROJECT_ROOT
    from simlab.workload.trace_stream import TraceError, check_trace

    problems = []
    for i, src in enumerate(sc.sources):
        if src.trace is None:
            continue
        try:
            check_trace(src.trace, base_dir=PROJECT_ROOT)
        except TraceError as err:
            problems.append((f"sources.{i}.trace", str(err)))
    if problems:
        raise ScenarioError(file, problems)


def scenario_json_schema() -> dict[str, Any]:
    """The JSON Schema of a scenario file (what `simlab schema` prints)."""
    return Scenario.model_json_schema()
