"""The plan of a run: every request's path through the service as arrays, sampled up front.

Only contended resources (cache instances, the backend's connection pool, the hot lock) need
a queueing solver; everything else on the path (network round trips, proxy and application
service times, which key, hit or miss, errors returned by a hop) does not depend on the state
of a queue and is sampled here as whole arrays. A request is then a chain of at most three
*stages* (five when a reshard adds cluster redirections: `PlanBuilder._redirect`); stage k waits `delay_s[k]` seconds (after the previous stage left its resource, or
after the request started for k = 0), then queues at resource `res[k]` for `service_s[k]`
seconds. The response reaches the client `post` seconds after the last stage.

Both solvers (`simlab.model.events`, simpy, and `simlab.model.fastpath`, numpy) consume the
same plan, so they implement the same model and differ only in how they compute departures.

Flows (see `simlab.scenario.FlowSpec`), stages by resource:
  cache_aside get, hit:   cache(read replica)
  cache_aside get, miss:  cache(read replica) -> backend pool -> cache(primary, SET)
  cache_aside set/del/incr, session, pubsub, command: cache(primary)
  lock:                   cache(primary of the lock key, SET NX) -> lock -> cache(DEL)

Modelling choices (identical in both solvers): hit or miss is decided when the first attempt
reaches the cache, in arrival order, by `simlab.model.cache` (SET and INCR store the key, DEL
removes it, GET fills it on a miss; a miss fills the key at once, so
the few ms until the application's SET are not a window of extra misses); a retry repeats its
first attempt's path and hit/miss; an MGET's keys live in one slot (hash tags); a hop error
(entry proxy, application, backend) still walks the path and is counted as an error.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from simlab.model.cache import replay_trace
from simlab.model.cluster import CLUSTER_SLOTS, slot_owners, slots_of_ids
from simlab.paths import PROJECT_ROOT
from simlab.scenario import Dist, FlowSpec, Scenario
from simlab.workload.arrivals import arrival_times_s
from simlab.workload.distributions import mean_of, sample
from simlab.workload.keyspace import KeySampler, sample_ttls_s
from simlab.workload.trace_stream import TraceStream, mix64
from simlab.workload.traces import OPS, Trace

__all__ = [
    "FLOW_KINDS",
    "MissingServiceTime",
    "Outcome",
    "Plan",
    "PlanBuilder",
    "Pool",
    "Resource",
    "ServiceModel",
    "Windows",
    "finish",
]

FLOW_KINDS = ("cache_aside", "session", "pubsub", "lock", "command")
# cache_aside operations 0 get, 1 set, 2 del, 3 incr as trace operation codes
_TRACE_OP = np.array([OPS.index(x) for x in ("get", "set", "delete", "incr")], dtype=np.int8)
# and back: a trace's operation (OPS code) as a cache_aside operation
_CA_OF_OP = np.array([{"get": 0, "gets": 0, "delete": 2, "incr": 3, "decr": 3}.get(op, 1) for op in OPS], dtype=np.int8)
MAX_STAGES = 3
#: stages per row when a reshard may add redirection hops: a miss's GET and its SET each
#: take one more stage at the source (-ASK), or its GET one (-MOVED)
REDIRECT_STAGES = MAX_STAGES + 2
#: flows whose cache command is routed by its key's slot (PUBLISH is not: any node takes it,
#: and the lock's key is left where it is)
_SLOT_ROUTED = ("cache_aside", "session", "command")
_MIGRATE_BATCH = 10  # keys per MIGRATE (redis-cli --cluster reshard's --cluster-pipeline default)


class Outcome:
    """Outcome codes of a request (small ints, kept in int8 arrays)."""

    OK = 0
    TIMEOUT = 1
    CONNECTION = 2
    UPSTREAM = 3
    REJECTED = 4
    SHED = 5  # refused by a server-side bound: backend pool acquire timeout, load shedding
    POOL_TIMEOUT = 6  # no client pool connection within the pool's timeout (ConnectionError)
    MAXCLIENTS = 7  # a connection refused by the instance: -ERR max number of clients reached
    NAMES = ("ok", "timeout", "connection", "upstream", "rejected", "shed", "pool_timeout", "maxclients")
    #: failures the client learns of at `detect` (+ the way back): retried after a backoff
    REFUSED = (CONNECTION, SHED, POOL_TIMEOUT, MAXCLIENTS)


class MissingServiceTime(KeyError):
    """A command has no service time in `cache.service_time_us` and there is no `default`."""


@dataclass(frozen=True)
class Resource:
    """A contended resource. servers=0 means unlimited (a pure delay).

    Bounds (overload modelled honestly): a job that would wait longer than `max_wait_s`, or
    that finds `max_in_system` jobs there, is not served (Outcome.SHED); the client learns
    it `report_after_s` later (a pool's acquire timeout) or at once (load shedding, maxclients).
    For FIFO servers the decision at arrival is exact: a job's wait depends only on the jobs
    ahead of it, and shed jobs take no service."""

    name: str
    servers: int
    kind: str  # "cache", "backend", "lock"
    max_wait_s: float = float("inf")
    max_in_system: int = 0  # 0: no limit
    report_after_s: float = 0.0

    @property
    def bounded(self) -> bool:
        return self.max_wait_s < float("inf") or self.max_in_system > 0


@dataclass(frozen=True)
class Pool:
    """A client-side connection pool (`simlab.scenario.ClientPoolSpec`) of one owner (a source
    or the application; one per application instance) to one cache instance `res`."""

    name: str
    max_connections: int
    timeout_s: float  # inf: wait as long as it takes
    res: int  # the cache resource its connections go to
    # opening a connection: round trips before its first command (TCP, handshake commands)
    # and the handshake's work at the instance, s
    connect_round_trips: float = 0.0
    handshake_s: float = 0.0

    def as_resource(self) -> Resource:
        """The pool as a resource row (servers = connections, its bound = the timeout)."""
        return Resource(self.name, self.max_connections, "client_pool", max_wait_s=self.timeout_s,
                        report_after_s=0.0 if self.timeout_s == float("inf") else self.timeout_s)


@dataclass
class Windows:
    """Fault windows (see `simlab.model.faults`): per resource restarts (refuse) and slow
    periods (x factor); app -> cache blips; per shard the times its cache is emptied (forced:
    even with persistence); redirections (from resource, from time, to resource) after a
    failover; partitions (resource, start, end); fsync times (primary, start, end, ms); hot
    keys/slots (kind, shard, start, end, share); resync forks (resource, time, pause s)."""

    restart: list[list[tuple[float, float]]]
    slow: list[list[tuple[float, float, float]]]
    blip: list[tuple[float, float, float]]
    wipe: list[list[tuple[float, bool]]] = field(default_factory=list)
    redirect: list[tuple[int, float, int]] = field(default_factory=list)
    partition: list[tuple[int, float, float]] = field(default_factory=list)
    fsync: list[tuple[int, float, float, float]] = field(default_factory=list)
    hot: list[tuple[str, int, float, float, float]] = field(default_factory=list)
    resync: list[tuple[int, float, float]] = field(default_factory=list)
    # (source shard, destination shard, start, end, share moved, migrate work per key in s)
    reshard: list[tuple[int, int, float, float, float, float]] = field(default_factory=list)
    # error bursts: (shard or -1 for every shard, start, end, share of requests that fail)
    errors: list[tuple[int, float, float, float]] = field(default_factory=list)


@dataclass
class Migration:
    """When each slot and key of a reshard moves (hash slots only).

    `redis-cli --cluster reshard` moves the slots one after another: SETSLOT MIGRATING /
    IMPORTING, MIGRATE of the slot's keys (GETKEYSINSLOT order), SETSLOT NODE. The keys go at
    an even rate over the window (as the MIGRATE batches do), so a slot takes its keys' share
    of it; a key has moved from `key_move_s[id]`, when the MIGRATE of its batch (10 keys of
    its slot, redis-cli's `--cluster-pipeline` default) is done; a slot migrates in
    [start_s, done_s), so keys of slots with up to 10 keys are never seen moved (a slot's
    SETSLOT NODE follows its last batch at once)."""

    src: int
    dst: int
    start_s: np.ndarray  # float64 [CLUSTER_SLOTS]: inf for slots not moved
    done_s: np.ndarray  # float64 [CLUSTER_SLOTS]
    key_move_s: np.ndarray  # float64 [num_keys]: inf for keys not moved
    # per client: slots whose -MOVED it has had, MOVED count, time of its last map reload
    known: dict[int, set[int]] = field(default_factory=dict)
    moved_count: dict[int, int] = field(default_factory=dict)
    reloaded_s: dict[int, float] = field(default_factory=dict)


@dataclass
class Plan:
    """Arrays of one chunk of a run; row i is one attempt (first attempts, then background)."""

    t0: np.ndarray  # request start at the client, s
    src: np.ndarray  # int16 source index
    flow: np.ndarray  # int16 flow index
    rec: np.ndarray  # bool: counted in the results (False for background jobs)
    n_stages: np.ndarray  # int8 number of stages
    res: np.ndarray  # int16 [n, 3] resource per stage (-1 unused)
    service_s: np.ndarray  # float64 [n, 3] service time per stage, s
    delay_s: np.ndarray  # float64 [n, 3] delay before each stage, s
    post: np.ndarray  # float64 delay from last departure to the client, s
    deadline: np.ndarray  # float64 t0 + client timeout (inf if none)
    retries: np.ndarray  # int8 retries left
    backoff: np.ndarray  # float64 next backoff, s
    outcome: np.ndarray  # int8 outcome decided by the plan (UPSTREAM, REJECTED) else OK
    hit: np.ndarray  # int8: 1 hit, 0 miss, -1 not a cache read
    # per pubsub flow: (flow index, rows, subscriber one-way delays [rows, subscribers] in s)
    pubsub: list[tuple[int, np.ndarray, np.ndarray]] = field(default_factory=list)
    size: np.ndarray | None = None  # int64 bytes of the key's entry (byte hit ratio of reads)
    # client pools: pool per stage (-1: none) and the one-way app <-> cache leg a connection is
    # held for before the instance and after it (None: no pools in the scenario)
    pool: np.ndarray | None = None  # int32 [n, 3]
    conn_s: np.ndarray | None = None  # float64 [n]: later stages' lead, and every stage's tail
    lead0_s: np.ndarray | None = None  # float64 [n]: stage 0's lead (plus blips, partition waits)
    # cluster redirections of each request during a reshard: -ASK replies (0-2), -MOVED (0-1)
    asks: np.ndarray | None = None  # int8 [n]
    moveds: np.ndarray | None = None  # int8 [n]
    key: np.ndarray | None = None  # int64 [n] key id of each request (with redirections or lag; -1: background)
    # reads from replicas: -1 not one, 0 up to date, 1 stale (a write of its key within the lag)
    stale: np.ndarray | None = None  # int8 [n]

    @property
    def n(self) -> int:
        return len(self.t0)


class ServiceModel:
    """Per-command service times, sampled in seconds from `cache.service_time_us`."""

    def __init__(self, table: dict[str, Dist]) -> None:
        self.table = {k.upper(): v for k, v in table.items()}

    def dist(self, command: str) -> Dist:
        c = command.upper()
        if c in self.table:
            return self.table[c]
        if "DEFAULT" in self.table:
            return self.table["DEFAULT"]
        raise MissingServiceTime(f"no service time for {c} and no `default` in cache.service_time_us")

    def sample_s(self, command: str, rng: np.random.Generator, n: int) -> np.ndarray:
        return sample(self.dist(command), rng, n) * 1e-6


def _half(rng: np.random.Generator, dist: Dist, n: int) -> np.ndarray:
    """One-way delay in s from a round-trip distribution in ms."""
    return sample(dist, rng, n) * 0.5e-3


def finish(steps, hits: np.ndarray) -> Plan:
    """Send the hits into a `PlanBuilder.steps` generator and return its plan."""
    try:
        steps.send(hits)
    except StopIteration as done:
        return done.value
    raise RuntimeError("plan steps did not finish")


class PlanBuilder:
    """Builds the plan of each chunk; holds what lives across chunks (keys, caches, resources)."""

    def __init__(self, sc: Scenario, windows: Windows, seq: np.random.SeedSequence, cache_factory) -> None:
        self.sc = sc
        self.windows = windows
        self.flows: list[tuple[str, FlowSpec]] = list(sc.flows.items())
        self.flow_index = {name: i for i, (name, _) in enumerate(self.flows)}
        cs = sc.cache
        self.copies = cs.replicas + 1
        self.resources: list[Resource] = []
        for s in range(cs.shards):
            for r in range(self.copies):
                role = "primary" if r == 0 else f"replica{r}"
                self.resources.append(Resource(
                    f"cache[{s}].{role}", cs.threads, "cache",
                    max_wait_s=np.inf if cs.shed_wait_ms is None else cs.shed_wait_ms * 1e-3,
                ))
        self.backend_res = len(self.resources)
        acquire_s = np.inf if sc.backend.acquire_timeout_ms is None else sc.backend.acquire_timeout_ms * 1e-3
        self.resources.append(Resource("backend", sc.backend.concurrency or 0, "backend",
                                       max_wait_s=acquire_s, report_after_s=0.0 if acquire_s == np.inf else acquire_s))
        self.lock_res = len(self.resources)
        self.resources.append(Resource("lock", 1, "lock"))
        self._build_pools()
        self.services = ServiceModel(dict(cs.service_time_us))
        key_seq, self._cache_seq = seq.spawn(2)
        self.keys = KeySampler(sc.keyspace, np.random.default_rng(key_seq))
        self.cache_factory = cache_factory
        self.caches: list = [None] * cs.shards
        self._cache_epoch = [0] * cs.shards
        self.lock_key = 0  # the hot lock lives on shard 0
        # traces replayed by sources, streamed chunk by chunk; their key ids live above the
        # keyspace's (trace key + num_keys), so the two never collide
        self.traces = {i: TraceStream(s.trace, base_dir=PROJECT_ROOT) for i, s in enumerate(sc.sources)
                       if s.trace is not None}
        self.trace_key_base = sc.keyspace.num_keys
        self._slot_of_key: np.ndarray | None = None
        self._owners = np.zeros(1, dtype=np.int64)
        self.redirects = bool(windows.reshard) and cs.placement == "hash_slots" and cs.shards > 1
        self.width = REDIRECT_STAGES if self.redirects else MAX_STAGES
        self._migrations: dict[int, Migration] = {}
        # reads from replicas: redis-py's strategy (read_from_replicas alone: round_robin)
        self.read_strategy: str | None = None
        if self.copies > 1 and cs.read_from_replicas:
            self.read_strategy = cs.load_balancing_strategy or "round_robin"
        self._rr: dict[tuple[int, int], int] = {}  # round robin: reads so far per (client, primary)
        self.lag_s = cs.replica_lag_ms * 1e-3 if self.read_strategy is not None else 0.0
        self._last_write = np.full(sc.keyspace.num_keys, -np.inf)  # per keyspace key, carried across chunks

    def _build_pools(self) -> None:
        """Client pools: per owner (a source with its own `pool`, or the application's
        `network.app_pool` shared by the others) and application instance, one pool to each
        cache instance. `pool_group[source]` = (first pool id, instances) or None."""
        sc = self.sc
        n_cache = self.backend_res
        self.pools: list[Pool] = []
        self.pool_group: list[tuple[int, int] | None] = []
        app_group: tuple[int, int] | None = None

        table = {k.upper(): v for k, v in sc.cache.service_time_us.items()}

        def handshake_s(commands) -> float:
            """Mean work of the handshake commands (by name, else `default`, else GET's)."""
            fallback = table.get("DEFAULT", table.get("GET"))
            dists = [table.get(c.upper(), fallback) for c in commands]
            return sum(mean_of(d) for d in dists if d is not None) * 1e-6

        def add(owner: str, spec) -> tuple[int, int]:
            first = len(self.pools)
            timeout_s = np.inf if spec.timeout_ms is None else spec.timeout_ms * 1e-3
            rtts = spec.connect_round_trips + len(spec.handshake)
            work = handshake_s(spec.handshake)
            for j in range(spec.instances):
                who = owner if spec.instances == 1 else f"{owner}#{j}"
                for r in range(n_cache):
                    self.pools.append(Pool(f"pool({who}).{self.resources[r].name}", spec.max_connections,
                                           float(timeout_s), r, rtts, work))
            return first, spec.instances

        for s in sc.sources:
            if s.pool is not None:
                self.pool_group.append(add(s.name, s.pool))
            elif sc.network.app_pool is not None:
                if app_group is None:
                    app_group = add("app", sc.network.app_pool)
                self.pool_group.append(app_group)
            else:
                self.pool_group.append(None)
        # connections each instance still accepts from pools: maxclients less the fixed ones
        fixed = sum(s.connections or 0 for s in sc.sources)
        self.pool_maxclients = max(0, sc.cache.maxclients - fixed)

    def _stale_reads(self, rows: np.ndarray, writes: np.ndarray, keys: np.ndarray, t: np.ndarray,
                     res: np.ndarray) -> np.ndarray:
        """Which reads served by a replica are stale: the last write of the key on the primary
        (a cache-aside SET, DEL or INCR; `t` the arrival at the cache of each of `rows`) came
        less than `replica_lag_ms` before. A constant lag; a miss's fill is not a write here
        (the replica has no old value to return)."""
        n = len(keys)
        out = np.full(n, -1, dtype=np.int8)
        if not len(rows):
            return out
        k = keys[rows]
        o = np.lexsort((t, k))
        ks, ts, ws = k[o], t[o], writes[o]
        starts = np.r_[True, ks[1:] != ks[:-1]]
        last = np.where(ws, ts, -np.inf)
        inside = ks < len(self._last_write)
        first_in = starts & inside
        last[first_in] = np.maximum(last[first_in], self._last_write[ks[first_in]])
        # forward fill within each key: the latest write at or before each access
        idx = np.maximum.accumulate(np.where(ws | starts, np.arange(len(ks)), 0))
        lw = last[idx]
        on_replica = ~ws & (res[rows[o], 0] % self.copies != 0)
        out[rows[o[on_replica]]] = (ts[on_replica] - lw[on_replica] < self.lag_s).astype(np.int8)
        ends = np.r_[ks[1:] != ks[:-1], True] & inside
        self._last_write[ks[ends]] = np.maximum(self._last_write[ks[ends]], lw[ends])
        return out

    def _clients(self, src: np.ndarray, inst: np.ndarray) -> np.ndarray:
        """The cluster client (one slot map, one load balancer) of each row: the application
        instance of its pool owner (a source with its own pool, or the application's pool), or
        its source when it has no pool."""
        owner = np.array([-(i + 1) if g is None else g[0] for i, g in enumerate(self.pool_group)], dtype=np.int64)
        return owner[src] + inst

    def _replica_reads(self, strategy: str, rows: np.ndarray, primary: np.ndarray, client: np.ndarray,
                       t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The copy each read goes to, as redis-py's LoadBalancer picks it: round robin keeps
        one index per client and shard (primary), taken in order of the reads and carried
        from chunk to chunk; `round_robin_replicas` skips index 0 (the primary)."""
        copies = self.copies
        p = primary[rows]
        if strategy == "random_replica":
            return p + 1 + rng.integers(0, copies - 1, len(rows))
        c = client[rows]
        o = np.lexsort((t[rows], p, c))
        c_o, p_o = c[o], p[o]
        new = np.r_[True, (c_o[1:] != c_o[:-1]) | (p_o[1:] != p_o[:-1])]
        starts = np.flatnonzero(new)
        sizes = np.diff(np.r_[starts, len(o)])
        rank = np.arange(len(o)) - np.repeat(starts, sizes)
        offset = np.zeros(len(starts), dtype=np.int64)
        for g, (cl, pr) in enumerate(zip(c_o[starts].tolist(), p_o[starts].tolist(), strict=True)):
            offset[g] = self._rr.get((cl, pr), 0)
            self._rr[(cl, pr)] = offset[g] + int(sizes[g])
        turn = np.repeat(offset, sizes) + rank  # the client's n-th read of this shard
        if strategy == "round_robin":
            idx = turn % copies
        else:
            idx = 1 + turn % (copies - 1)
        out = np.empty(len(rows), dtype=np.int64)
        out[o] = p_o + idx
        return out

    def _instances(self, src: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Which application instance (of its source's pool owner) sends each request."""
        inst = np.zeros(len(src), dtype=np.int64)
        for i, grp in enumerate(self.pool_group):
            if grp is not None and grp[1] > 1:
                rows = np.flatnonzero(src == i)
                inst[rows] = rng.integers(0, grp[1], len(rows))
        return inst

    def _assign_pools(self, src: np.ndarray, res: np.ndarray, n_stages: np.ndarray,
                      rng: np.random.Generator, inst: np.ndarray | None = None) -> np.ndarray:
        """Pool id per stage (-1: none): every stage at a cache instance of a pooled source,
        from the application instance `inst` of each row (drawn here when not given)."""
        n = len(src)
        pool = np.full((n, res.shape[1]), -1, dtype=np.int32)
        n_cache = self.backend_res
        for i, grp in enumerate(self.pool_group):
            if grp is None:
                continue
            first, instances = grp
            rows = np.flatnonzero(src == i)
            base = np.full(len(rows), first, dtype=np.int64)
            if inst is not None:
                base += inst[rows] * n_cache
            elif instances > 1:
                base += rng.integers(0, instances, len(rows)) * n_cache
            for k in range(res.shape[1]):
                r = res[rows, k]
                on_cache = (r >= 0) & (r < n_cache) & (n_stages[rows] > k)
                pool[rows[on_cache], k] = base[on_cache] + r[on_cache]
        return pool

    # --- cache content -------------------------------------------------------------------

    def shard_of(self, keys: np.ndarray) -> np.ndarray:
        """The shard holding each key id (`cache.placement`)."""
        shards = self.sc.cache.shards
        if self.sc.cache.placement == "modulo" or shards == 1:
            return keys % shards
        if self._slot_of_key is None:
            self._slot_of_key = slots_of_ids(np.arange(self.sc.keyspace.num_keys))
            self._owners = slot_owners(shards)
        n = len(self._slot_of_key)
        inside = keys < n
        slots = np.empty(len(keys), dtype=np.int64)
        slots[inside] = self._slot_of_key[keys[inside]]
        if not inside.all():
            slots[~inside] = slots_of_ids(keys[~inside])  # trace keys
        return self._owners[slots]

    def slots_of(self, keys: np.ndarray) -> np.ndarray:
        """The hash slot of each key id (keyspace ids from the table, trace ids computed)."""
        if self._slot_of_key is None:
            self._slot_of_key = slots_of_ids(np.arange(self.sc.keyspace.num_keys))
            self._owners = slot_owners(self.sc.cache.shards)
        inside = keys < len(self._slot_of_key)
        slots = np.empty(len(keys), dtype=np.int64)
        slots[inside] = self._slot_of_key[keys[inside]]
        if not inside.all():
            slots[~inside] = slots_of_ids(keys[~inside])
        return slots

    def migration(self, w: int) -> Migration:
        """The slot and key schedule of reshard window w (`Migration`)."""
        if w in self._migrations:
            return self._migrations[w]
        src, dst, a, b, share, _cost = self.windows.reshard[w]
        self.slots_of(np.zeros(1, dtype=np.int64))
        assert self._slot_of_key is not None
        own = np.flatnonzero(self._owners == src)
        moved = own[len(own) - int(round(share * len(own))):]
        ids = np.arange(self.sc.keyspace.num_keys, dtype=np.int64)
        slot_of = self._slot_of_key
        in_moved = np.zeros(CLUSTER_SLOTS, dtype=bool)
        in_moved[moved] = True
        mk = ids[in_moved[slot_of]]
        mk = mk[np.lexsort((mk, slot_of[mk]))]  # slot by slot, keys in id order
        tau = (b - a) / max(len(mk), 1)
        counts = np.bincount(slot_of[mk], minlength=CLUSTER_SLOTS)[moved]
        cum = np.cumsum(counts)
        start = np.full(CLUSTER_SLOTS, np.inf)
        done = np.full(CLUSTER_SLOTS, np.inf)
        start[moved] = a + (cum - counts) * tau
        done[moved] = a + cum * tau
        # a key is gone from the source when its MIGRATE batch (10 keys of its slot) is done
        rank = np.arange(len(mk)) - np.repeat(cum - counts, counts)
        through = np.minimum((rank // _MIGRATE_BATCH + 1) * _MIGRATE_BATCH, np.repeat(counts, counts))
        key_move = np.full(len(ids), np.inf)
        key_move[mk] = a + (np.repeat(cum - counts, counts) + through) * tau
        m = Migration(src, dst, start, done, key_move)
        self._migrations[w] = m
        return m

    def moved_keys(self, keys: np.ndarray, shard: int, share: float) -> np.ndarray:
        """Which of `keys` (all on `shard`) a reshard of `share` of the shard moves: the last
        slots of its range with hash slots, a hash-chosen share of its keys with modulo."""
        if self.sc.cache.placement == "hash_slots":
            self.shard_of(keys[:1])
            own = np.flatnonzero(self._owners == shard)
            first_moved = own[len(own) - int(round(share * len(own)))] if share > 0 else np.inf
            slots = np.empty(len(keys), dtype=np.int64)
            assert self._slot_of_key is not None
            inside = keys < len(self._slot_of_key)
            slots[inside] = self._slot_of_key[keys[inside]]
            slots[~inside] = slots_of_ids(keys[~inside])
            return slots >= first_moved
        return (mix64(keys) % np.uint64(1_000_000)) < np.uint64(int(share * 1_000_000))

    def _keys_on(self, shard: int) -> np.ndarray:
        """Keyspace ids held by `shard` (for hot keys/slots); with hash slots, one slot's keys."""
        ids = np.arange(max(self.sc.keyspace.num_keys, self.sc.cache.shards), dtype=np.int64)
        if self.sc.cache.placement == "hash_slots" and self.sc.cache.shards > 1:
            self.shard_of(ids[:1])
            slots = self._slot_of_key
            assert slots is not None
            mine = ids[: len(slots)][self._owners[slots] == shard]
            if len(mine):
                one_slot = mine[slots[mine] == slots[mine[0]]]
                return one_slot
            return ids[:1]
        mine = ids[ids % self.sc.cache.shards == shard]
        return mine if len(mine) else ids[:1]

    def _wipes(self, shard: int) -> list[float]:
        """Times the shard's cache is emptied: restarts without persistence, lost nodes."""
        persist = self.sc.cache.persistence.mode != "none"
        wipes = self.windows.wipe[shard] if self.windows.wipe else []
        return sorted(t for t, forced in wipes if forced or not persist)

    def _cache_for(self, shard: int, now_s: float):
        """The shard's cache; a wipe (restart without persistence, lost node) empties it (a
        new cache model)."""
        epoch = sum(1 for t in self._wipes(shard) if t <= now_s)
        if self.caches[shard] is None or epoch != self._cache_epoch[shard]:
            self.caches[shard] = self.cache_factory(shard, epoch)
            self._cache_epoch[shard] = epoch
        return self.caches[shard]

    def _hits(self, keys, times, ops, ttls, sizes=None) -> np.ndarray:
        """Hit/miss of cache accesses in time order, per shard, split at restarts.

        `ops` are `simlab.workload.traces.OPS` codes: reads fill on a miss, writes store,
        deletes remove (`simlab.model.cache.replay_trace` applies them)."""
        out = np.zeros(len(keys), dtype=bool)
        shards = self.sc.cache.shards
        order = np.argsort(times, kind="stable")
        if self.sc.cache.maxmemory_objects is not None:
            sizes = np.ones(len(keys), dtype=np.int64)
        elif sizes is None:
            sizes = self.keys.sizes_bytes(keys)
        for s in range(shards):
            idx = order[self.shard_of(keys[order]) == s]
            if len(idx) == 0:
                continue
            cuts = sorted(set(self._wipes(s)))
            bounds = np.searchsorted(times[idx], cuts) if cuts else np.empty(0, int)
            for part in np.split(idx, bounds):
                if len(part) == 0:
                    continue
                cache = self._cache_for(s, float(times[part[0]]))
                ttl = np.full(len(part), np.nan) if ttls is None else ttls[part]
                trace = Trace(times_s=times[part], keys=keys[part], sizes=sizes[part], ops=ops[part], ttls_s=ttl)
                out[part] = replay_trace(cache, trace)
        return out

    # --- plan ----------------------------------------------------------------------------

    def build(self, start_s: float, end_s: float, seq: np.random.SeedSequence, hour: int | None = None) -> Plan:
        """The plan of requests starting in [start_s, end_s)."""
        steps = self.steps(start_s, end_s, seq, hour)
        query = next(steps)
        return finish(steps, self.hits(query))

    def hits(self, query: tuple) -> np.ndarray:
        """Answer a hit/miss query yielded by `steps` (keys, times, writes, ttls)."""
        return self._hits(*query)

    def steps(self, start_s: float, end_s: float, seq: np.random.SeedSequence, hour: int | None = None):
        """`build` as a generator: yields the cache query, receives the hits, returns the plan.

        Splitting lets a long run answer the next chunk's cache query in another process
        while this one computes queues (the cache is sequential, the chunks are not)."""
        sc = self.sc
        net = sc.network
        streams = iter(seq.spawn(8 + len(sc.sources)))
        t_parts, s_parts, tr_parts = [], [], []
        for i, spec in enumerate(sc.sources):
            rng = np.random.default_rng(next(streams))
            tr = None
            if spec.trace is not None and spec.trace.use != "keys":
                tr = self.traces[i].window(start_s, end_s)
                t = tr.times_s
                if spec.trace.use == "arrivals":
                    tr = None
            else:
                t = arrival_times_s(spec.arrival, spec.rate_rps, start_s, end_s, rng, hour)
                if spec.trace is not None:
                    tr = self.traces[i].next_n(len(t))
            t_parts.append(t)
            s_parts.append(np.full(len(t), i, dtype=np.int16))
            tr_parts.append(tr)
        t0 = np.concatenate(t_parts)
        src = np.concatenate(s_parts)
        order = np.argsort(t0, kind="stable")
        t0, src = t0[order], src[order]
        n = len(t0)
        # per request, the trace's key (-1: none), size, operation and TTL
        t_key = np.concatenate([np.full(len(t), -1, np.int64) if tr is None else tr.keys
                                for t, tr in zip(t_parts, tr_parts, strict=True)])[order]
        if (t_key >= 0).any():
            t_size = np.concatenate([np.zeros(len(t), np.int64) if tr is None else tr.sizes
                                     for t, tr in zip(t_parts, tr_parts, strict=True)])[order]
            t_op = np.concatenate([np.zeros(len(t), np.int8) if tr is None else tr.ops
                                   for t, tr in zip(t_parts, tr_parts, strict=True)])[order]
            t_ttl = np.concatenate([np.full(len(t), np.nan) if tr is None else tr.ttls_s
                                    for t, tr in zip(t_parts, tr_parts, strict=True)])[order]
        from_trace = t_key >= 0
        r_flow = np.random.default_rng(next(streams))
        r_net = np.random.default_rng(next(streams))
        r_svc = np.random.default_rng(next(streams))
        r_key = np.random.default_rng(next(streams))
        r_err = np.random.default_rng(next(streams))
        r_bg = np.random.default_rng(next(streams))
        r_hot = np.random.default_rng(next(streams))
        r_pool = np.random.default_rng(next(streams))  # the 8th stream: which app instance's pool

        flow = np.zeros(n, dtype=np.int16)
        pre = np.zeros(n)
        post = np.zeros(n)
        deadline = np.full(n, np.inf)
        retries = np.zeros(n, dtype=np.int8)
        backoff = np.zeros(n)
        outcome = np.zeros(n, dtype=np.int8)
        rate_limited = np.zeros(n, dtype=bool)
        for i, s in enumerate(sc.sources):
            m = src == i
            k = int(m.sum())
            names = list(s.flows)
            p = np.array([s.flows[f] for f in names], dtype=np.float64)
            flow[m] = np.array([self.flow_index[f] for f in names], dtype=np.int16)[
                r_flow.choice(len(names), size=k, p=p / p.sum())
            ]
            c_half = _half(r_net, s.client_rtt_ms, k)
            pre[m] += c_half + sample(s.entry_service_ms, r_net, k) * 1e-3
            post[m] += c_half
            if s.timeout_ms is not None:
                deadline[m] = t0[m] + s.timeout_ms * 1e-3
                retries[m] = s.retries
            backoff[m] = s.backoff_ms * 1e-3
            if s.entry_error_probability > 0:
                bad = r_err.random(k) < s.entry_error_probability
                outcome[np.flatnonzero(m)[bad]] = Outcome.UPSTREAM
            rate_limited[m] = s.rate_limit is not None
        ea = _half(r_net, net.entry_to_app_rtt_ms, n)
        ac = _half(r_net, net.app_to_cache_rtt_ms, n)
        app = sample(net.app_service_ms, r_net, n) * 1e-3
        for fi, (_name, fs) in enumerate(self.flows):
            if fs.app_service_ms is not None:
                m = flow == fi
                app[m] = sample(fs.app_service_ms, r_net, int(m.sum())) * 1e-3
        pre += ea + app + ac
        post += ea + ac
        if net.loss_probability > 0:
            lost = r_net.random(n) < net.loss_probability
            pre[lost] += net.retransmit_timeout_ms * 1e-3
        lead0 = ac.copy()  # stage 0: from the app sending (holding a connection) to the instance
        for a, b, extra_ms in self.windows.blip:
            blipped = (t0 >= a) & (t0 < b)
            pre[blipped] += extra_ms * 1e-3
            lead0[blipped] += extra_ms * 1e-3
        if net.app_error_probability > 0:
            outcome[(r_err.random(n) < net.app_error_probability) & (outcome == 0)] = Outcome.UPSTREAM

        res = np.full((n, self.width), -1, dtype=np.int16)
        service_s = np.zeros((n, self.width))
        delay_s = np.zeros((n, self.width))
        n_stages = np.ones(n, dtype=np.int8)
        hit = np.full(n, -1, dtype=np.int8)
        delay_s[:, 0] = pre

        copies = self.copies
        keys = self.keys.keys(r_key, n)
        sizes = self.keys.sizes_bytes(keys)
        if from_trace.any():
            keys[from_trace] = t_key[from_trace] + self.trace_key_base
            sizes[from_trace] = t_size[from_trace]
        for kind, hot_shard, a, b, share in self.windows.hot:
            # a hot key: one key of the shard; a hot slot: the keys of one slot of the shard
            m = np.flatnonzero((t0 >= a) & (t0 < b))
            m = m[r_hot.random(len(m)) < share]
            on_shard = self._keys_on(hot_shard)
            if kind == "hot_key":
                keys[m] = on_shard[0]
            else:
                keys[m] = on_shard[keys[m] % len(on_shard)]
            sizes[m] = self.keys.sizes_bytes(keys[m] % sc.keyspace.num_keys)
        shard = self.shard_of(keys).astype(np.int16)
        # reshards: per window, rows of a migrating slot (and whether their key has moved),
        # rows of a slot already done (now on the destination)
        migrating: list[tuple[Migration, np.ndarray, np.ndarray, np.ndarray]] = []
        t_arr = t0 + pre  # when the first command reaches the cluster
        for w, (src_shard, dst_shard, _a, b, share, _cost) in enumerate(self.windows.reshard):
            if not self.redirects:
                moved = (t0 >= b) & (shard == src_shard)
                moved[moved] = self.moved_keys(keys[moved], src_shard, share)
                shard[moved] = dst_shard
                continue
            mig = self.migration(w)
            rows = np.flatnonzero(shard == src_shard)
            sl = self.slots_of(keys[rows])
            ta = t_arr[rows]
            is_done = ta >= mig.done_s[sl]
            now_migrating = (ta >= mig.start_s[sl]) & ~is_done
            mr = rows[now_migrating]
            km = mig.done_s[sl[now_migrating]]  # keys outside the keyspace go with the slot's last batch
            inside = keys[mr] < len(mig.key_move_s)
            km[inside] = mig.key_move_s[keys[mr[inside]]]
            shard[rows[is_done]] = dst_shard
            migrating.append((mig, mr, t_arr[mr] >= km, rows[is_done]))
        primary = shard * copies
        strategy = self.read_strategy
        if strategy == "random":
            reader = primary + r_key.integers(0, copies, n).astype(np.int16)
        else:
            reader = primary  # round robin and random_replica: chosen per read below
        r_red = inst = None
        if self.redirects or strategy in ("round_robin", "round_robin_replicas", "random_replica"):
            r_red = np.random.default_rng(seq.spawn(1)[0])  # a further stream: the others stay as they were
            inst = self._instances(src, r_red)
        ttls = sample_ttls_s(sc.keyspace.ttl, r_key, n)
        if from_trace.any():
            # a traced request carries its own TTL (NaN: none), not the keyspace's
            if ttls is None:
                ttls = np.full(n, np.nan)
            ttls[from_trace] = t_ttl[from_trace]
        svc_of = self.services.sample_s
        fsync_always = (
            sc.cache.persistence.mode in ("aof", "aof+rdb") and sc.cache.persistence.appendfsync == "always"
        )

        def write_cost(rows: np.ndarray) -> np.ndarray:
            """fsync on the event loop per write with appendfsync always (a slow disk's
            `fsync_ms` in its window instead of the usual time)."""
            k = len(rows)
            if not fsync_always:
                return np.zeros(k)
            cost = sample(sc.cache.persistence.fsync_ms, r_svc, k) * 1e-3
            for p_res, a, b, ms in self.windows.fsync:
                m = (primary[rows] == p_res) & (t0[rows] >= a) & (t0[rows] < b)
                cost[m] = ms * 1e-3
            return cost

        cache_rows: list[np.ndarray] = []
        cache_ops: list[np.ndarray] = []
        pubsub: list[tuple[int, np.ndarray, np.ndarray]] = []
        miss_candidates = np.empty(0, np.int64)
        for fi, (_name, fs) in enumerate(self.flows):
            rows = np.flatnonzero(flow == fi)
            k = len(rows)
            if k == 0:
                continue
            if fs.kind == "cache_aside":
                ops = np.zeros(k, dtype=np.int8)  # 0 get, 1 set, 2 del, 3 incr
                if fs.op_mix:
                    mix: dict[str, float] = {str(k): v for k, v in fs.op_mix.items()}
                    p = np.array([mix.get(x, 0.0) for x in ("get", "set", "del", "incr")], dtype=np.float64)
                    ops = r_flow.choice(4, size=k, p=p / p.sum()).astype(np.int8)
                traced = from_trace[rows]
                if traced.any():
                    ops[traced] = _CA_OF_OP[t_op[rows[traced]]]
                g = rows[ops == 0]
                read_cmd = "MGET" if fs.keys_per_request > 1 else "GET"
                res[g, 0] = reader[g]
                service_s[g, 0] = svc_of(read_cmd, r_svc, len(g)) * fs.keys_per_request
                for code, cmd in ((1, "SET"), (2, "DEL"), (3, "INCR")):
                    w = rows[ops == code]
                    res[w, 0] = primary[w]
                    service_s[w, 0] = svc_of(cmd, r_svc, len(w)) + write_cost(w)
                cache_rows.append(rows)
                cache_ops.append(_TRACE_OP[ops])
                miss_candidates = np.concatenate([miss_candidates, g])
            elif fs.kind == "session":
                res[rows, 0] = primary[rows]
                service_s[rows, 0] = svc_of("HGETALL", r_svc, k) + svc_of("EXPIRE", r_svc, k) + write_cost(rows)
            elif fs.kind == "pubsub":
                res[rows, 0] = primary[rows]
                service_s[rows, 0] = svc_of("PUBLISH", r_svc, k) + fs.subscribers * svc_of(
                    "PUBLISH_PER_SUBSCRIBER", r_svc, k
                )
                if fs.subscribers:
                    one_way = _half(r_net, fs.subscriber_rtt_ms, k * fs.subscribers).reshape(k, fs.subscribers)
                    pubsub.append((fi, rows, one_way))
            elif fs.kind == "lock":
                lock_primary = int(self.shard_of(np.array([self.lock_key]))[0]) * copies
                res[rows, 0] = lock_primary
                service_s[rows, 0] = svc_of("SET", r_svc, k) + write_cost(rows)
                res[rows, 1] = self.lock_res
                delay_s[rows, 1] = ac[rows] * 2
                service_s[rows, 1] = sample(fs.hold_ms, r_svc, k) * 1e-3
                res[rows, 2] = lock_primary
                delay_s[rows, 2] = ac[rows] * 2
                service_s[rows, 2] = svc_of("DEL", r_svc, k) + write_cost(rows)
                n_stages[rows] = 3
            elif fs.kind == "command":
                res[rows, 0] = primary[rows]
                for cmd, count in (fs.commands or {"GET": 1}).items():
                    service_s[rows, 0] += svc_of(cmd, r_svc, k) * count

        if r_red is not None and inst is not None and strategy not in (None, "random"):
            reads = np.sort(miss_candidates)
            res[reads, 0] = self._replica_reads(strategy, reads, primary, self._clients(src, inst), t_arr, r_red)

        # partition app <-> cache: a request reaching a cut-off instance waits for the heal
        # (its segments are retransmitted), so the client's timeout decides, not an error
        for p_res, a, b in self.windows.partition:
            arr0 = t0 + delay_s[:, 0]
            m = (res[:, 0] == p_res) & (arr0 >= a) & (arr0 < b)
            delay_s[m, 0] += b - arr0[m]
            lead0[m] += b - arr0[m]

        # maxclients: connections beyond it are refused; the clients holding them fail
        asked = sum(s.connections or 0 for s in sc.sources)
        if asked > sc.cache.maxclients:
            refused = (asked - sc.cache.maxclients) / asked
            for i, s in enumerate(sc.sources):
                if s.connections:
                    ok_rows = np.flatnonzero((src == i) & (outcome == Outcome.OK))
                    refused_rows = ok_rows[r_hot.random(len(ok_rows)) < refused]
                    outcome[refused_rows] = Outcome.MAXCLIENTS
                    n_stages[refused_rows] = 1
                    res[refused_rows, 1:] = -1

        # rate limiting: INCR+EXPIRE pipelined in front; over the limit -> rejected, one stage
        if rate_limited.any():
            for i, s in enumerate(sc.sources):
                if s.rate_limit is None:
                    continue
                rows = np.flatnonzero(src == i)
                service_s[rows, 0] += svc_of("INCR", r_svc, len(rows)) + svc_of("EXPIRE", r_svc, len(rows))
                arr0 = t0[rows] + delay_s[rows, 0]
                o = np.argsort(arr0, kind="stable")
                win = np.floor(arr0[o] / s.rate_limit.window_s).astype(np.int64)
                first = np.r_[0, np.flatnonzero(np.diff(win)) + 1]
                rank = np.arange(len(o)) - np.repeat(first, np.diff(np.r_[first, len(o)]))
                over = rows[o[rank >= s.rate_limit.limit]]
                outcome[over] = Outcome.REJECTED
                n_stages[over] = 1
                res[over, 1:] = -1

        # hit / miss in order of arrival at the cache; misses take the backend and SET
        cr = np.concatenate(cache_rows) if cache_rows else np.empty(0, np.int64)
        cops = np.concatenate(cache_ops) if cache_rows else np.empty(0, np.int8)
        cw = cops != _TRACE_OP[0]
        ct = t0[cr] + delay_s[cr, 0]
        h = yield (keys[cr], ct, cops, None if ttls is None else ttls[cr], sizes[cr])
        if len(cr):
            hit[cr[~cw]] = h[~cw].astype(np.int8)
            miss = miss_candidates[(hit[miss_candidates] == 0) & (outcome[miss_candidates] != Outcome.REJECTED)]
            k = len(miss)
            be = sc.backend
            b_half = _half(r_net, be.rtt_ms, k)
            res[miss, 1] = self.backend_res
            delay_s[miss, 1] = ac[miss] * 2 + b_half
            service_s[miss, 1] = sample(be.latency_ms, r_svc, k) * 1e-3
            res[miss, 2] = primary[miss]
            delay_s[miss, 2] = b_half + ac[miss] * 2
            service_s[miss, 2] = svc_of("SET", r_svc, k) + write_cost(miss)
            n_stages[miss] = 3
            if be.error_probability > 0:
                bad = miss[r_err.random(k) < be.error_probability]
                outcome[bad[outcome[bad] == 0]] = Outcome.UPSTREAM

        stale = self._stale_reads(cr, cw, keys, ct, res) if self.lag_s > 0 else None
        asks = moveds = None
        if self.redirects:
            assert r_red is not None and inst is not None
            asks, moveds = self._redirect(migrating, src, inst, flow, hit, outcome, keys, t_arr,
                                          (res, service_s, delay_s, n_stages), ac, r_red)

        if sc.cache.request_overhead_us is not None:
            # one read and one reply per round trip at an instance, whatever it pipelines
            # (drawn last, so a scenario without it keeps every other draw)
            for j in range(res.shape[1]):
                rt = np.flatnonzero((res[:, j] >= 0) & (res[:, j] < self.backend_res) & (n_stages > j))
                service_s[rt, j] += sample(sc.cache.request_overhead_us, r_svc, len(rt)) * 1e-6
        if sc.cache.pipeline_overhead_us is not None:
            # first round trips that pipeline two or more commands: a session's pair, any
            # request behind a rate limit's INCR + EXPIRE, a command flow of several commands
            multi_flows = [fi for fi, (_n, fs) in enumerate(self.flows)
                           if fs.kind == "session"
                           or (fs.kind == "command" and sum((fs.commands or {"GET": 1}).values()) > 1)]
            multi = np.isin(flow, multi_flows)
            for i, s in enumerate(sc.sources):
                if s.rate_limit is not None:
                    multi |= src == i
            rt = np.flatnonzero(multi & (res[:, 0] >= 0) & (res[:, 0] < self.backend_res))
            service_s[rt, 0] += sample(sc.cache.pipeline_overhead_us, r_svc, len(rt)) * 1e-6

        # slow-period service factors are applied by the solvers (they depend on arrival time)
        bg_t, bg_res, bg_svc = self._background(start_s, end_s, r_bg)
        plan = Plan(
            t0=t0,
            src=src,
            flow=flow,
            rec=np.ones(n, dtype=bool),
            n_stages=n_stages,
            res=res,
            service_s=service_s,
            delay_s=delay_s,
            post=post,
            deadline=deadline,
            retries=retries,
            backoff=backoff,
            outcome=outcome,
            hit=hit,
            pubsub=pubsub,
            size=sizes,
            asks=asks,
            moveds=moveds,
            key=keys if (self.redirects or self.lag_s > 0) else None,
            stale=stale,
        )
        for burst_shard, a, b, share in self.windows.errors:
            # an error burst: a share of the requests starting in the window get an error
            m = np.flatnonzero((t0 >= a) & (t0 < b) & (outcome == Outcome.OK))
            if burst_shard >= 0:
                m = m[shard[m] == burst_shard]
            outcome[m[r_pool.random(len(m)) < share]] = Outcome.UPSTREAM
        if self.pools:
            plan.pool = self._assign_pools(src, res, n_stages, r_pool, inst)
            plan.conn_s = ac
            plan.lead0_s = lead0
        if len(bg_t):
            plan = _append_background(plan, bg_t, bg_res, bg_svc)
        return plan

    def _redirect(self, migrating, src, inst, flow, hit, outcome, keys, t_arr, stages, ac, rng):
        """Add the cluster redirections of a reshard to the stages; returns (asks, moveds) per row.

        -ASK (a key of a migrating slot that has moved, or is absent on the source: a read's
        miss and the SET that fills it): the command first queues at the source primary, whose
        lookup (a GET's time) answers -ASK; the reply goes back, redis-py sends ASKING and
        waits for its reply, then sends the command to the destination primary (ASKING's time
        on top of the command's; its own wait in the queue is not modelled): 4 legs
        app <-> cache more. -MOVED (the first command of a client for a slot already done):
        the source instance the client's map still names answers, the client patches its map
        (or reloads it every `reinitialize_steps`) and resends: 2 legs more. Replicas of the
        source answer reads of a migrating slot themselves (no redirection; in Redis a migrated
        key is then gone from them too, which is not modelled)."""
        res, service_s, delay_s, n_stages = stages
        n = len(src)
        asks = np.zeros(n, dtype=np.int8)
        moveds = np.zeros(n, dtype=np.int8)
        routed_flows = [i for i, (_n, fs) in enumerate(self.flows) if fs.kind in _SLOT_ROUTED]
        served = np.isin(flow, routed_flows) & (outcome != Outcome.REJECTED) & (outcome != Outcome.MAXCLIENTS)
        client = self._clients(src, inst)
        table = self.services.table
        lookup = self.services.dist("GET")
        asking = self.services.dist("ASKING") if ("ASKING" in table or "DEFAULT" in table) else lookup
        copies = self.copies

        def hop(rows: np.ndarray, k: int, first_res: np.ndarray | int, then_res: int | None, legs: int,
                extra: Dist | None) -> None:
            """Stage k of `rows` is preceded by a redirecting stage at `first_res` (one per row,
            or one for all); the command then goes to `then_res` (None: where it went)."""
            if not len(rows):
                return
            for a in (res, service_s, delay_s):
                a[rows, k + 1:] = a[rows, k:-1]
            res[rows, k] = first_res
            service_s[rows, k] = sample(lookup, rng, len(rows)) * 1e-6
            if then_res is not None:
                res[rows, k + 1] = then_res
            delay_s[rows, k + 1] = ac[rows] * legs
            if extra is not None:
                service_s[rows, k + 1] += sample(extra, rng, len(rows)) * 1e-6
            n_stages[rows] += 1

        for mig, mr, moved_now, done_rows in migrating:
            sp, dp = mig.src * copies, mig.dst * copies
            keep = served[mr]
            mr, moved_now = mr[keep], moved_now[keep]
            # a miss's SET: the key is absent on the source, so -ASK (before stage 0's hop
            # shifts the stages)
            sets = mr[(n_stages[mr] == 3) & (res[mr, 1] == self.backend_res) & (res[mr, 2] == sp)]
            sets = sets[n_stages[sets] < res.shape[1]]
            hop(sets, 2, sp, dp, 4, asking)
            asks[sets] += 1
            firsts = mr[(res[mr, 0] == sp) & (moved_now | (hit[mr] == 0))]
            firsts = firsts[n_stages[firsts] < res.shape[1]]
            hop(firsts, 0, sp, dp, 4, asking)
            asks[firsts] += 1
            d = done_rows[served[done_rows]]
            if len(d):
                first = self._first_moved(mig, d, client[d], t_arr[d], self.slots_of(keys[d]))
                first = first[n_stages[first] < res.shape[1]]
                # the instance the old map names: the source's copy in the same role
                hop(first, 0, (sp + res[first, 0] - dp).astype(np.int16), None, 2, None)
                moveds[first] += 1
        return asks, moveds

    def _first_moved(self, mig: Migration, rows: np.ndarray, client: np.ndarray, t: np.ndarray,
                     slots: np.ndarray) -> np.ndarray:
        """Rows that get -MOVED: per client, the first command for each slot already done that
        its map does not know yet (patched at each -MOVED; reloaded whole at every
        `reinitialize_steps`-th, which teaches it every slot done by then)."""
        steps = self.sc.cache.reinitialize_steps
        o = np.lexsort((t, slots, client))
        r, c, sl, tt = rows[o], client[o], slots[o], t[o]
        first = np.r_[True, (c[1:] != c[:-1]) | (sl[1:] != sl[:-1])]
        r, c, sl, tt = r[first], c[first], sl[first], tt[first]
        o = np.argsort(tt, kind="stable")
        out = []
        for row, cl, slot, when in zip(r[o].tolist(), c[o].tolist(), sl[o].tolist(), tt[o].tolist(), strict=True):
            known = mig.known.setdefault(cl, set())
            if slot in known:
                continue
            known.add(slot)
            if mig.done_s[slot] <= mig.reloaded_s.get(cl, -np.inf):
                continue
            count = mig.moved_count.get(cl, 0) + 1
            mig.moved_count[cl] = count
            out.append(row)
            if steps and count % steps == 0:
                mig.reloaded_s[cl] = when
        return np.array(out, dtype=np.int64)

    def _background(self, start_s: float, end_s: float, rng: np.random.Generator):
        """Persistence stalls as blocking jobs on each primary: everysec fsync stalls, RDB forks."""
        ps = self.sc.cache.persistence
        ts, rs, ss = [], [], []
        primaries = [s * self.copies for s in range(self.sc.cache.shards)]
        if ps.mode in ("aof", "aof+rdb") and ps.appendfsync == "everysec" and ps.stall_probability > 0:
            secs = np.arange(np.ceil(start_s), end_s, 1.0)
            for p in primaries:
                st = secs[rng.random(len(secs)) < ps.stall_probability]
                ts.append(st)
                rs.append(np.full(len(st), p))
                ss.append(sample(ps.fsync_ms, rng, len(st)) * 1e-3)
        if ps.mode in ("rdb", "aof+rdb") and ps.fork_ms_per_gb > 0:
            first = np.ceil(start_s / ps.save_interval_s) * ps.save_interval_s
            saves = np.arange(max(first, ps.save_interval_s), end_s, ps.save_interval_s)
            pause_s = ps.fork_ms_per_gb * ps.dataset_bytes / 1e9 * 1e-3
            for p in primaries:
                ts.append(saves)
                rs.append(np.full(len(saves), p))
                ss.append(np.full(len(saves), pause_s))
        everysec = ps.mode in ("aof", "aof+rdb") and ps.appendfsync == "everysec"
        for p_res, a, b, ms in self.windows.fsync:
            # everysec: a write blocks once the background fsync is 2 s late, until it ends
            if everysec and ms > 2000.0:
                period = ms * 1e-3
                st = np.arange(a, b, period)
                st = st[(st >= start_s) & (st < end_s)] + 2.0
                ts.append(st)
                rs.append(np.full(len(st), p_res))
                ss.append(np.full(len(st), period - 2.0))
        for src_shard, dst_shard, a, b, share, cost_s in self.windows.reshard:
            # MIGRATE in batches of 10 keys (redis-cli --cluster reshard's default pipeline),
            # evenly over the window, on the source primary and the destination primary
            ids = np.arange(self.sc.keyspace.num_keys, dtype=np.int64)
            ids = ids[self.shard_of(ids) == src_shard]
            n_moved = int(self.moved_keys(ids, src_shard, share).sum())
            batches = max(1, -(-n_moved // 10))
            st = a + (np.arange(batches) + 0.5) * (b - a) / batches
            st = st[(st >= start_s) & (st < end_s)]
            work = np.full(len(st), n_moved / batches * cost_s)
            for p_res in (src_shard * self.copies, dst_shard * self.copies):
                ts.append(st)
                rs.append(np.full(len(st), p_res))
                ss.append(work)
        for r_res, t, pause_s in self.windows.resync:
            if start_s <= t < end_s and pause_s > 0:
                ts.append(np.array([t]))
                rs.append(np.array([r_res]))
                ss.append(np.array([pause_s]))
        if not ts:
            return np.empty(0), np.empty(0, np.int16), np.empty(0)
        return np.concatenate(ts), np.concatenate(rs).astype(np.int16), np.concatenate(ss)


def _append_background(plan: Plan, t: np.ndarray, r: np.ndarray, s: np.ndarray) -> Plan:
    k = len(t)
    w = plan.res.shape[1]
    res = np.full((k, w), -1, dtype=np.int16)
    res[:, 0] = r
    service_s = np.zeros((k, w))
    service_s[:, 0] = s

    def cat(a, b):
        return np.concatenate([a, b])

    return Plan(
        t0=cat(plan.t0, t),
        src=cat(plan.src, np.full(k, -1, np.int16)),
        flow=cat(plan.flow, np.full(k, -1, np.int16)),
        rec=cat(plan.rec, np.zeros(k, bool)),
        n_stages=cat(plan.n_stages, np.ones(k, np.int8)),
        res=cat(plan.res, res),
        service_s=cat(plan.service_s, service_s),
        delay_s=cat(plan.delay_s, np.zeros((k, w))),
        post=cat(plan.post, np.zeros(k)),
        deadline=cat(plan.deadline, np.full(k, np.inf)),
        retries=cat(plan.retries, np.zeros(k, np.int8)),
        backoff=cat(plan.backoff, np.zeros(k)),
        outcome=cat(plan.outcome, np.zeros(k, np.int8)),
        hit=cat(plan.hit, np.full(k, -1, np.int8)),
        pubsub=plan.pubsub,
        size=None if plan.size is None else cat(plan.size, np.zeros(k, np.int64)),
        pool=None if plan.pool is None else cat(plan.pool, np.full((k, w), -1, np.int32)),
        conn_s=None if plan.conn_s is None else cat(plan.conn_s, np.zeros(k)),
        lead0_s=None if plan.lead0_s is None else cat(plan.lead0_s, np.zeros(k)),
        asks=None if plan.asks is None else cat(plan.asks, np.zeros(k, np.int8)),
        moveds=None if plan.moveds is None else cat(plan.moveds, np.zeros(k, np.int8)),
        key=None if plan.key is None else cat(plan.key, np.full(k, -1, np.int64)),
        stale=None if plan.stale is None else cat(plan.stale, np.full(k, -1, np.int8)),
    )
