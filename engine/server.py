"""The server: what one running engine is made of, its cron, shutdown, and the embedded-server API.

:class:`Server` builds every component in ``__init__``, in the order Redis's ``initServer``
builds them (the keyspace, Pub/Sub, statistics, persistence state, the eviction pool and
memory accounting, the slow log and latency monitor, ACL), then pushes the configuration
into them; :meth:`Server.start` loads the data from disk (``loadDataFromDisk``) and opens the
listeners (TCP, TLS, the metrics HTTP port).  Nothing is added to a server by importing a
module: the server calls each component where Redis calls it (``serverCron``, ``call``,
``freeClient``, ``prepareForShutdown``), so this file is the one place that says what a server
does.  The class docstring lists the components and the module that owns each.

:class:`EmbeddedServer` starts a server on a free loopback port in a background thread and
stops it again; tests, notebooks and the simulator's validation runs use it::

    with EmbeddedServer(maxmemory="10mb") as srv:
        r = redis.Redis.from_url(srv.url)
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import socket
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import engine.commands  # noqa: F401 - fills the command table (the layer between the server and its parts)
from engine import blocking, evict, expire, memory, metrics, monitor, setsample, tls, tracking
from engine.acl import ACL
from engine.client import Client
from engine.config import Config
from engine.connection import Connection
from engine.db import Database
from engine.dispatch import call, resolve
from engine.errors import RedisError
from engine.evict import EvictState
from engine.latency import LatencyState
from engine.memory import MemoryState
from engine.metrics import MetricsHTTPServer
from engine.notify import CLASSES, KEYEVENT, KEYSPACE, parse_flags
from engine.persistence import aof, lifecycle
from engine.persistence.lifecycle import PersistenceState
from engine.pubsub import PubSub
from engine.renames import rename_table
from engine.table import COMMANDS
from engine.tracking import TrackingState
from engine.version import VERSION

if TYPE_CHECKING:
    from engine.table import Command

__all__ = ["Server", "Stats", "EmbeddedServer", "run_server", "VERSION", "GC_THRESHOLDS", "set_gc_policy", "freeze_loaded_heap"]

log = logging.getLogger("engine")

PROTECTED_MODE_MESSAGE = (
    "DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the "
    "default user. In this mode connections are only accepted from the loopback interface. If you want to connect "
    "from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode "
    "sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the "
    "same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. "
    "Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by "
    "editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the "
    "server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' "
    "option. 4) Setup a an authentication password for the default user. NOTE: You only need to do one of the above "
    "things in order for the server to start accepting connections from the outside."
)


class Stats:
    """Counters INFO prints; plain attributes because the hot path increments them."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.keyspace_hits = 0
        self.keyspace_misses = 0
        self.expired_keys = 0
        self.evicted_keys = 0
        self.total_commands_processed = 0
        self.total_connections_received = 0
        self.rejected_connections = 0
        self.total_net_input_bytes = 0
        self.total_net_output_bytes = 0
        self.total_error_replies = 0
        self.client_output_buffer_limit_disconnections = 0
        self.client_query_buffer_limit_disconnections = 0
        self.errorstats: dict[str, int] = {}
        self.ops_samples: deque[tuple[float, int]] = deque(maxlen=16)

    def errors(self, e: RedisError) -> None:
        """Count an error reply under its code (INFO errorstats)."""
        self.total_error_replies += 1
        code = e.reply_text().split(" ", 1)[0]
        self.errorstats[code] = self.errorstats.get(code, 0) + 1

    def instantaneous_ops_per_sec(self) -> int:
        s = self.ops_samples
        if len(s) < 2 or s[-1][0] <= s[0][0]:
            return 0
        return int((s[-1][1] - s[0][1]) / (s[-1][0] - s[0][0]))


class Server:
    """One running engine, assembled in :meth:`__init__` as Redis's ``initServer`` assembles it.

    What a server is made of (each a typed attribute; the module that owns it in brackets):

    * ``config``: the live parameter values (engine/config.py); each row's apply hook calls a
      ``set_*`` method below, which hands the value to the component that owns it;
    * ``dbs``: the keyspace, one :class:`~engine.db.Database` per SELECT index (engine/db.py);
      expiry is lazy in the lookups and active in the cron (engine/expire.py);
    * ``pubsub``: channels, patterns and their subscribers (engine/pubsub.py), also the
      carrier of keyspace notifications (:meth:`notify`);
    * ``stats``, ``slowlog``: the counters INFO prints and the SLOWLOG entries (here);
    * ``persistence``: the RDB/AOF state: files, the child being waited for, save times
      (engine/persistence/lifecycle.py);
    * ``evict``: the eviction pool and the running flag of maxmemory eviction (engine/evict.py);
    * ``memory``: the modelled ``used_memory`` and its per-key estimates (engine/memory.py);
    * ``latency``: per-command latency histograms and the latency monitor (engine/latency.py);
    * ``acl``: users, the ACL LOG, the aclfile (engine/acl.py), and ``renamed_commands``,
      the rename-command map (engine/renames.py);
    * ``tracking_state``, ``monitors``: client-side caching invalidation (engine/tracking.py)
      and MONITOR clients (engine/monitor.py);
    * ``listeners``: the TCP and TLS listening sockets (here and engine/tls.py) and
      ``metrics_http``, the Prometheus port (engine/metrics.py), opened by :meth:`start`.

    The hot path reads plain attributes (``maxmemory``, ``hz``, ...); the methods below are
    where the mechanisms meet: a key written, read, removed or expired, a command propagated,
    a client gone, the cron tick, shutdown.
    """

    def __init__(self, config: Config | None = None, *, chdir: bool = True) -> None:
        self.config = config or Config()
        self.chdir = chdir  # False for an embedded server: never change a shared process's cwd
        # Attributes the hot path reads; the apply hooks keep them equal to the config.
        self.hz = 10
        self.maxmemory = 0
        self.maxmemory_policy = "noeviction"
        self.lfu = False  # the policy is an LFU one: db.lru holds LFU words (engine/evict.py)
        self.maxclients = 10000
        self.timeout_s = 0
        self.slowlog_log_slower_than = 10000
        self.slowlog_max_len = 128
        self.proto_max_bulk_len = 512 * 1024 * 1024
        self.client_query_buffer_limit = 1024 * 1024 * 1024
        self.notify_flags = 0
        # -- the keyspace and Pub/Sub (initServer: server.db[], pubsub_channels)
        self.dbs = [Database(i, self) for i in range(self.config["databases"])]
        self.ready_keys: list[tuple[Database, bytes]] = []  # keys blocked clients wait on (db.c)
        self.pubsub = PubSub()
        # -- clients and statistics
        self.connections: dict[int, Connection] = {}
        self.paused_connections: set[Connection] = set()
        self.pause_until = 0.0
        self.pause_writes_only = False
        self.stats = Stats()
        self.start_time = time.time()
        self.run_id = os.urandom(20).hex()
        self.lru_clock = int(time.time()) & 0xFFFFFF
        self.frozen_ms: int | None = None  # the time a script or transaction sees
        self.script_busy = ""  # the BUSY reply text while a script is past busy-reply-threshold
        self.cron_errors: dict[tuple[str, str], int] = {}  # (job, exception type) -> failures
        # -- persistence (initServer: aof state, lastsave; the files are opened by start())
        self.dirty = 0
        self.lastsave = int(time.time())
        self.loading = False
        self.aof_fsync_due: aof.AppendOnlyFile | None = None  # appendfsync always: fsync before the next reply
        self.disk_error: str | None = None  # MISCONF text while persisting fails
        self.persistence = PersistenceState(lastsave=self.lastsave)
        lifecycle.data_dir(self)  # resolve a relative dir before the server chdirs into it
        # -- maxmemory: the eviction pool (evictionPoolAlloc) and memory accounting
        self.evict = EvictState()
        self.memory = MemoryState(len(self.dbs))
        # -- the slow log and the latency monitor (slowlogInit, latencyMonitorInit)
        self.slowlog: deque[list[Any]] = deque()
        self.slowlog_next_id = 0
        self.latency = LatencyState()
        # -- access control (ACLInit) and rename-command
        self.acl_active = False  # some user is restricted: dispatch calls acl_check
        self.acl: ACL = ACL(self)
        self.renamed_commands: dict[bytes, bytes] = rename_table(self.config)
        # -- client-side caching and MONITOR
        self.tracking_state = TrackingState()
        self.tracking_clients = 0
        self.monitors: list[Client] = []
        # -- listeners, opened by start()
        self.listeners: list[asyncio.AbstractServer] = []
        self.bound_hosts: list[str] = []  # the addresses the TCP listeners are bound to
        self.port = 0
        self.tls_port = 0
        self.metrics_http: MetricsHTTPServer | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self._stopped: asyncio.Event | None = None
        self._cron_task: asyncio.Task[None] | None = None
        self.freeze_after_load = False  # run_server's GC policy (set_gc_policy); never an embedded server's
        # The configuration reaches every component (requirepass: ACLUpdateDefaultUserPassword),
        # then the users of redis.conf or the aclfile are loaded (main: ACLLoadUsersAtStartup).
        self.config.apply_all(self)
        self.set_notify_flags(self.config.get_text("notify-keyspace-events"))
        self.acl.load_startup_users()

    # -- apply hooks of the configuration table (engine/config.py names these) ----------------
    def set_maxmemory(self, value: int) -> None:
        """updateMaxmemory: a lower limit starts evicting at once (from the cron), not at the
        next write."""
        self.maxmemory = value
        if value:
            self.evict.running = True

    def set_maxmemory_policy(self, value: str) -> None:
        old = self.maxmemory_policy
        self.maxmemory_policy = value
        self.lfu = value.endswith("lfu")
        if old != value:
            evict.policy_changed(self, old, value)

    def configure_latency(self) -> None:
        """latency-tracking / latency-monitor-threshold changed."""
        self.latency.configure(self.config["latency-tracking"], self.config["latency-monitor-threshold"])

    def set_appendonly(self, value: bool) -> None:
        if self.persistence.started:
            lifecycle.set_appendonly(self, bool(value))

    def set_appendfsync(self, value: str) -> None:
        f = self.persistence.aof_file
        if f is not None:
            f.appendfsync = str(value)

    def set_stop_writes_on_bgsave_error(self, value: bool) -> None:
        if self.persistence.started:
            lifecycle.disk_error(self)

    # -- time and keys -------------------------------------------------------------------------
    def now_ms(self) -> int:
        """Wall-clock ms, frozen while a script or transaction runs (as Redis 7 does)."""
        f = self.frozen_ms
        return f if f is not None else time.time_ns() // 1_000_000

    def touch(self, db: Database, key: bytes) -> None:
        """A key was read or written: its LRU clock stamp, or the LFU counter (evict.py)."""
        if self.lfu:
            evict.lfu_touch(self, db, key)
        else:
            db.lru[key] = self.lru_clock

    def on_key_written(self, db: Database, key: bytes, value: Any) -> None:
        """A key was stored (setKey/dbAdd): a new LFU key starts at LFU_INIT_VAL."""
        if self.lfu:
            evict.lfu_key_written(db, key)
        else:
            db.lru[key] = self.lru_clock

    def on_key_removed(self, db: Database, key: bytes, value: Any) -> None:
        """A key left the keyspace: memory accounting drops its estimate."""
        memory.key_removed(self, db, key)

    def expire_key(self, db: Database, key: bytes) -> None:
        """Delete a key whose TTL passed: count it, fire 'expired', propagate DEL."""
        db.delete(key)
        self.stats.expired_keys += 1
        self.notify("x", "expired", key, db.id)
        self.propagate_deletion(db, key)

    def propagate_deletion(self, db: Database, key: bytes) -> None:
        """A key the server deleted by itself (expired, evicted): DEL to the AOF
        (propagateDeletion) and an invalidation to clients that may cache it."""
        tracking.invalidate_key(self, key, None)
        lifecycle.propagate(self, db.id, [b"DEL", key])

    def before_write(self, client: Client, cmd: Command | None) -> RedisError | None:
        """Before a ``denyoom`` command when maxmemory is set: evict, or the OOM error."""
        return evict.before_write(self, client)

    def propagate(self, client: Client, argv: list[bytes]) -> None:
        """After a command that changed the dataset (call): append it, or what the handler put
        in ``client.also_propagate`` instead, to the AOF."""
        also = client.also_propagate
        if also is not None:
            client.also_propagate = None
        if self.persistence.aof_file is not None:
            lifecycle.propagate_command(self, client.db.id, argv, also)

    # -- keyspace notifications ----------------------------------------------------------------
    def set_notify_flags(self, text: str) -> bool:
        flags = parse_flags(text)
        if flags is None:
            return False
        self.notify_flags = flags
        return True

    def notify(self, cls: str, event: str, key: bytes, db_id: int) -> None:
        """notifyKeyspaceEvent: publish to __keyspace@N__:key and/or __keyevent@N__:event."""
        flags = self.notify_flags
        if not flags or not (flags & CLASSES[cls]):
            return
        if flags & KEYSPACE:
            self.pubsub.publish(b"__keyspace@%d__:" % db_id + key, event.encode())
        if flags & KEYEVENT:
            self.pubsub.publish(b"__keyevent@%d__:" % db_id + event.encode(), key)

    # -- clients -------------------------------------------------------------------------------
    def requires_auth(self) -> bool:
        """authRequired: the default user has a password or is disabled."""
        return self.acl.requires_auth()

    def acl_check(self, client: Client, cmd: Command, argv: list[bytes]) -> RedisError | None:
        """ACLCheckAllPerm (dispatch calls it only while ``acl_active``)."""
        return self.acl.check(client, cmd, argv)

    def protected_mode_refusal(self, peer: object) -> str | None:
        """networking.c: protected mode holds while the default user is ``nopass``, enabled or
        not (a disabled default user does not open the server to other users from outside)."""
        if not self.config["protected-mode"] or not self.acl.default.nopass:
            return None
        host = peer[0] if isinstance(peer, tuple) and peer else ""
        if not host or host.startswith("127.") or host in ("::1", "localhost") or host.startswith("::ffff:127."):
            return None
        return PROTECTED_MODE_MESSAGE

    def client_gone(self, client: Client) -> None:
        """freeClient: forget a disconnected client everywhere it may be registered."""
        client.unwatch_all()
        self.pubsub.unsubscribe_all(client)
        blocking.client_gone(self, client)
        monitor.client_gone(self, client)
        tracking.client_gone(self, client)

    def pause_blocks(self, client: Client, argv: list[bytes]) -> bool:
        """CLIENT PAUSE: should this request wait?"""
        if not self.pause_until:
            return False
        if time.monotonic() >= self.pause_until:
            self.unpause()
            return False
        if self.pause_writes_only:
            cmd = COMMANDS.get(argv[0].lower())
            return cmd is not None and (cmd.is_write or argv[0].lower() in (b"eval", b"evalsha", b"fcall", b"publish"))
        return True

    def unpause(self) -> None:
        self.pause_until = 0.0
        waiting, self.paused_connections = self.paused_connections, set()
        for conn in waiting:
            conn.resume()

    def slowlog_push(self, client: Client, argv: list[bytes], duration_us: int) -> None:
        """SLOWLOG entry: id, unix time, µs, argv (at most 32 args of 128 bytes), addr, name."""
        if self.slowlog_max_len <= 0:
            return
        shown: list[bytes] = []
        for i, a in enumerate(argv):
            if i == 31 and len(argv) > 32:
                shown.append(b"... (%d more arguments)" % (len(argv) - 31))
                break
            shown.append(a if len(a) <= 128 else a[:128] + b"... (%d more bytes)" % (len(a) - 128))
        self.slowlog.appendleft(
            [self.slowlog_next_id, int(time.time()), duration_us, shown, client.addr.encode(), client.name or b""]
        )
        self.slowlog_next_id += 1
        while len(self.slowlog) > self.slowlog_max_len:
            self.slowlog.pop()

    def reset_stats(self) -> None:
        """CONFIG RESETSTAT: the counters, the peak memory (resetServerStats) and the latency
        histograms (resetCommandTableStats); the latency monitor's events stay."""
        self.stats.reset()
        self.memory.peak_bytes = 0
        self.latency.reset_histograms()

    # -- lifecycle -----------------------------------------------------------------------------
    async def start(self) -> None:
        """Load the data (loadDataFromDisk), open the listeners, start the cron."""
        self.loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        if self.chdir:
            self.check_dir()
        self.load_data()
        if self.freeze_after_load:
            freeze_loaded_heap()  # (run_server's policy, set_gc_policy: before any client connects)
        tls.start_tls_listeners(self)
        self.metrics_http = metrics.start_metrics(self)
        # Count the loaded data set at once rather than at the first cron tick.
        self.loop.call_soon(self._cron_job, memory.cron, self)
        port = self.config["port"]
        hosts = [h.lstrip("-") for h in self.config["bind"]]
        self.bound_hosts = hosts
        for host in hosts:
            try:
                srv = await self.loop.create_server(
                    lambda: Connection(self), host=host, port=port, backlog=self.config["tcp-backlog"], reuse_address=True
                )
            except OSError as e:
                if len(hosts) > 1 and host in ("::1", "::"):
                    continue  # IPv6 unavailable: Redis skips '-' prefixed binds that fail
                raise OSError(f"Could not create server TCP listening socket {host}:{port}: {e.strerror}") from e
            self.listeners.append(srv)
            if not self.port:
                self.port = srv.sockets[0].getsockname()[1]
                port = self.port
        self._cron_task = self.loop.create_task(self._cron())
        log.info("Ready to accept connections tcp on %s:%d", ",".join(hosts), self.port)

    def load_data(self) -> None:
        """loadDataFromDisk, before the server listens: the AOF replays through a client with
        no connection (Redis's fake AOF client)."""
        replay = Client(self)

        def execute(argv: list[bytes]) -> None:
            try:
                cmd = resolve(argv)
            except RedisError as e:
                raise lifecycle.PersistenceError(
                    f"Unknown command '{argv[0].decode(errors='replace')}' reading the append only file: {e}"
                ) from None
            call(replay, cmd, argv)

        lifecycle.load_on_start(self, execute)
        self.dirty = 0
        self.persistence.started = True

    def rebind(self, hosts: list[str] | None = None, port: int | None = None) -> None:
        """CONFIG SET bind / port at run time (changeBindAddr / changeListenPort): the old
        listening sockets are closed, the new ones bound; if one cannot be bound the old
        addresses are bound again and OSError carries Redis's message.  Connected clients stay."""
        if self.loop is None or not self.listeners:
            return  # not started yet: start() binds what the config says
        hosts = [h.lstrip("-") for h in (hosts if hosts is not None else self.config["bind"])]
        port = self.port if port is None else port
        if port == self.port and hosts == self.bound_hosts:
            return  # unchanged (also CONFIG SET's rollback to the values in use)
        old_hosts, old_port = self.bound_hosts, self.port
        for srv in self.listeners:
            srv.close()
        self.listeners = []
        try:
            socks = self._bind_sockets(hosts, port)
        except OSError:
            try:
                self._serve_sockets(self._bind_sockets(old_hosts, old_port), old_hosts, old_port)
            except OSError:
                log.warning("Could not listen again on %s:%d", ",".join(old_hosts), old_port)
            raise OSError("Unable to listen on this port. Check server logs." if port != old_port
                          else "Failed to bind to specified addresses.") from None
        self._serve_sockets(socks, hosts, port)

    def _bind_sockets(self, hosts: list[str], port: int) -> list[socket.socket]:
        socks: list[socket.socket] = []
        try:
            for host in hosts:
                family = socket.AF_INET6 if ":" in host else socket.AF_INET
                try:
                    sock = socket.socket(family, socket.SOCK_STREAM)
                except OSError:
                    if len(hosts) > 1 and host in ("::1", "::"):
                        continue  # IPv6 unavailable: skipped as start() does
                    raise
                socks.append(sock)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if family == socket.AF_INET6:
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                try:
                    sock.bind((host, port))
                except OSError:
                    if len(hosts) > 1 and host in ("::1", "::"):
                        socks.pop().close()
                        continue
                    raise
                sock.listen(self.config["tcp-backlog"])
                sock.setblocking(False)
        except OSError:
            for sock in socks:
                sock.close()
            raise
        return socks

    def _serve_sockets(self, socks: list[socket.socket], hosts: list[str], port: int) -> None:
        if port == 0 and socks:
            port = socks[0].getsockname()[1]
        self.port = port
        self.bound_hosts = hosts
        loop = self.loop
        assert loop is not None
        for sock in socks:
            task = loop.create_task(loop.create_server(lambda: Connection(self), sock=sock))
            task.add_done_callback(lambda t: self.listeners.append(t.result()) if not t.exception() else None)

    def check_dir(self) -> None:
        """Chdir to ``dir`` like Redis, and report a missing or non-writable one at start."""
        d = self.config["dir"]
        try:
            os.chdir(d)
        except OSError as e:
            raise OSError(f"Can't chdir to '{d}': {e.strerror}") from e

    async def _cron(self) -> None:
        while True:
            await asyncio.sleep(1 / self.hz)
            try:
                self.cron()
            except Exception:  # noqa: BLE001 - the cron must survive a failing job
                log.exception("error in server cron")

    def cron(self) -> None:
        """serverCron: the clock, then each mechanism's periodic work, each job contained."""
        now = time.time()
        self.lru_clock = int(now) & 0xFFFFFF
        self.stats.ops_samples.append((now, self.stats.total_commands_processed))
        self._cron_job(expire.active_expire_cycle, self)  # databasesCron: active expiry
        if self.timeout_s:
            self._cron_job(self._close_idle_clients, now)  # clientsCron: idle timeout
        if self.pause_until and time.monotonic() >= self.pause_until:
            self._cron_job(self.unpause)
        self._cron_job(memory.cron, self)  # used_memory kept current
        self._cron_job(evict.cron, self)  # evictionTimeProc: eviction left over from a write
        self._cron_job(lifecycle.cron, self)  # children done, save rules, AOF rewrite, fsync retry
        self._cron_job(setsample.cron)  # member snapshots of sets that are gone

    def _cron_job(self, job: Callable[..., Any], *args: Any) -> None:
        """Run one cron job; a failure is logged once per job and error type and never stops
        the jobs after it (one bad value must not silence expiry, eviction or persistence)."""
        try:
            job(*args)
        except Exception as e:  # noqa: BLE001 - contained: the other jobs still run
            name = getattr(job, "__qualname__", repr(job))
            key = (name, type(e).__name__)
            self.cron_errors[key] = self.cron_errors.get(key, 0) + 1
            if self.cron_errors[key] == 1:
                log.exception("cron job %s failed (reported once; it keeps running each tick)", name)

    def _close_idle_clients(self, now: float) -> None:
        for conn in list(self.connections.values()):
            c = conn.client
            if now - c.last_interaction_s > self.timeout_s and c.blocked is None and not c.subscriptions:
                conn.close()

    def request_shutdown(self, save: bool | None = None) -> None:
        """prepareForShutdown: final save and AOF fsync, stop the metrics port, stop
        accepting, close every client."""
        lifecycle.on_shutdown(self, save)
        metrics.stop_metrics(self.metrics_http)
        self.metrics_http = None
        for srv in self.listeners:
            srv.close()
        for conn in list(self.connections.values()):
            conn.close()
        if self._cron_task is not None:
            self._cron_task.cancel()
        if self._stopped is not None:
            self._stopped.set()
        log.info("Redis is now ready to exit, bye bye...")

    async def wait_stopped(self) -> None:
        assert self._stopped is not None
        await self._stopped.wait()
        for srv in self.listeners:
            srv.close()
            await srv.wait_closed()


#: The cyclic collector's thresholds in a ``cachelab-server`` process (CPython's are 700, 10, 10).
GC_THRESHOLDS = (10_000, 10, 10)


def set_gc_policy() -> None:
    """The garbage-collector policy of a ``cachelab-server`` process: higher thresholds now,
    and :func:`freeze_loaded_heap` once the data is loaded.

    Why: reference counting frees what a request allocates; the cyclic collector only runs
    when tracked containers accumulate (net allocations), which is what a growing keyspace
    does (an XADD keeps a list per entry, HSET a dict per hash).  With CPython's thresholds a
    young collection runs every 700 such objects and a full one walks every tracked object the
    process holds, modules and loaded data included.  Measured with
    ``benchmarks/bench_gc.py`` (2026-12-01, quiet machine, 300,000 XADDs on an empty server):
    collecting cost 1.18 us per XADD with the longest pause 75 ms by default; 0.70 us / 45 ms
    with the heap frozen after start-up; 0.16 us / 11 ms frozen and at (10,000, 10, 10);
    0.20 us / 38 ms at (50,000, 10, 10), whose gen-1 collections walk up to 500,000 objects.
    With 1,000,000 keys, 4 hashes of 100,000 fields and 2 streams of 100,000 entries loaded,
    100,000 XADDs cost 1.74 us each in collections by default (263/23/1 collections of
    generations 0/1/2; the full one paused 164 ms) and 0.10 us under this policy (19/1/0, longest
    pause 4.3 ms); a full ``gc.collect()`` took 170 ms, 8 ms with the loaded heap frozen, and
    loading spent 0.82 s collecting, 0.36 s at these thresholds.  GET, SET and PFADD on existing keys
    allocate no net containers and trigger no collection under any policy.

    Memory stays bounded: cycles are still collected (young garbage within 10,000 net
    allocations; a full collection is due every 1,000,000 and runs once CPython's own rule, a
    quarter of the long-lived objects being new, allows it).  Only what :func:`freeze_loaded_heap`
    moved to the permanent generation is never walked again: a cycle in the data loaded at
    start (a stream's consumer and its PEL entries point at each other) that is deleted later
    is not reclaimed, once, for that loaded data.  An :class:`EmbeddedServer` leaves its host
    process's policy alone."""
    gc.set_threshold(*GC_THRESHOLDS)


def freeze_loaded_heap() -> None:
    """gc.freeze() after start-up and loading (before any client connects): the modules, the
    command table and the loaded data are never walked by a full collection again."""
    gc.collect()
    gc.freeze()


def new_event_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop

        return uvloop.new_event_loop()
    except ImportError:  # pragma: no cover - uvloop is a Linux dependency
        return asyncio.new_event_loop()


def run_server(config: Config) -> int:
    """Run in the foreground until SIGTERM/SIGINT/SHUTDOWN; the ``cachelab-server`` entry."""
    set_gc_policy()
    loop = new_event_loop()
    asyncio.set_event_loop(loop)
    server = Server(config)
    server.freeze_after_load = True
    try:
        loop.run_until_complete(server.start())
    except OSError as e:
        log.warning("%s", e)
        return 1
    def on_signal(sig: int) -> None:
        log.warning("Received %s, scheduling shutdown...", signal.Signals(sig).name)
        server.request_shutdown()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal, sig)
    loop.run_until_complete(server.wait_stopped())
    loop.close()
    return 0


class EmbeddedServer:
    """A server on a free loopback port in a background thread (tests, notebooks, simlab).

    Options are redis.conf names with string values (``maxmemory="10mb"``, or
    ``**{"maxmemory-policy": "allkeys-lru"}``); ``dir`` defaults to a fresh temporary
    directory and ``save`` to no snapshots, so embedding never writes into the caller's cwd.
    """

    def __init__(self, **options: str | int) -> None:
        self.config = Config()
        opts = {k.replace("_", "-"): str(v) for k, v in options.items()}
        opts.setdefault("port", "0")
        opts.setdefault("bind", "127.0.0.1")
        opts.setdefault("save", "")
        if "dir" not in opts:
            self._tmp = tempfile.mkdtemp(prefix="cachelab-engine-")
            opts["dir"] = self._tmp
        lines = [f'{k} "{v}"' if k != "bind" else f"{k} {v}" for k, v in opts.items()]
        self.config.load("\n".join(lines), "<embedded>")
        self.server: Server | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._cwd = os.getcwd()

    @property
    def port(self) -> int:
        assert self.server is not None
        return self.server.port

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def start(self) -> EmbeddedServer:
        self._thread = threading.Thread(target=self._run, name="cachelab-engine", daemon=True)
        self._thread.start()
        self._ready.wait(30)
        if self._error is not None:
            raise self._error
        return self

    def _run(self) -> None:
        loop = new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            self.server = Server(self.config, chdir=False)  # no chdir in a shared process
            loop.run_until_complete(self.server.start())
        except BaseException as e:  # noqa: BLE001 - reported to the starting thread
            self._error = e
            self._ready.set()
            return
        self._ready.set()
        loop.run_until_complete(self.server.wait_stopped())
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()

    def stop(self) -> None:
        if self.server is not None and self.server.loop is not None and self._thread is not None and self._thread.is_alive():
            self.server.loop.call_soon_threadsafe(self.server.request_shutdown)
            self._thread.join(30)

    def __enter__(self) -> EmbeddedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
