"""INFO: a registry of sections, each a function returning ``(field, value)`` pairs.

Redis builds INFO in one long function (server.c ``genRedisInfoString``); here each mechanism
registers the section it owns with :func:`register_section` (persistence, memory, latency
stats), and :func:`render` prints the requested ones in Redis's order with Redis's field
names, so INFO parsers written for Redis (redis-py's ``info()``, redis_exporter) read it.
Sections not named in the default set (commandstats, latencystats) print only for ``all``,
``everything`` or when asked for by name, as in Redis 7.0.
"""

from __future__ import annotations

import itertools
import os
import resource
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from engine.memory import used_memory
from engine.table import COMMANDS, Command
from engine.version import VERSION

if TYPE_CHECKING:
    from engine.server import Server

__all__ = ["register_section", "render", "SECTIONS", "DEFAULT_SECTIONS"]

Fields = list[tuple[str, Any]]
SectionFn = Callable[["Server"], "Fields | dict[str, Any]"]

SECTIONS: dict[str, SectionFn] = {}
# Sections printed by plain INFO / INFO default (server.c: everything except these).
_NOT_DEFAULT = {"commandstats", "latencystats"}
DEFAULT_SECTIONS: list[str] = []


def register_section(name: str, fn: SectionFn, default: bool | None = None) -> None:
    """Add or replace section ``name`` (lower case); order of first registration is kept.
    ``fn(server)`` returns ``(field, value)`` pairs or a dict, in print order."""
    name = name.lower()
    if name not in SECTIONS and (default if default is not None else name not in _NOT_DEFAULT):
        DEFAULT_SECTIONS.append(name)
    SECTIONS[name] = fn


def _title(name: str) -> str:
    return {"cpu": "CPU", "commandstats": "Commandstats", "errorstats": "Errorstats",
            "latencystats": "Latencystats"}.get(name, name.capitalize())


def render(server: Server, args: list[str]) -> str:
    """The INFO text for the section arguments ``args`` (already lower-cased)."""
    wanted: list[str] = []
    if not args:
        args = ["default"]
    for a in args:
        if a in ("all", "everything"):
            extra = [n for n in SECTIONS if n not in wanted]
            wanted.extend(extra)
        elif a == "default":
            wanted.extend(n for n in DEFAULT_SECTIONS if n not in wanted)
        elif a in SECTIONS and a not in wanted:
            wanted.append(a)
    order = list(SECTIONS)
    wanted.sort(key=order.index)
    parts: list[str] = []
    for name in wanted:
        lines = [f"# {_title(name)}"]
        fields = SECTIONS[name](server)
        items = fields.items() if isinstance(fields, dict) else fields
        lines.extend(f"{k}:{v}" for k, v in items)
        parts.append("\r\n".join(lines) + "\r\n")
    return "\r\n".join(parts)


def _server(server: Server) -> Fields:
    uptime = int(time.time() - server.start_time)
    return [
        ("redis_version", VERSION),
        ("redis_git_sha1", "00000000"),
        ("redis_git_dirty", 0),
        ("redis_build_id", "cachelab"),
        ("redis_mode", "standalone"),
        ("os", f"{os.uname().sysname} {os.uname().release} {os.uname().machine}"),
        ("arch_bits", 64 if sys.maxsize > 2**32 else 32),
        ("monotonic_clock", "POSIX clock_gettime"),
        ("multiplexing_api", "epoll"),
        ("atomicvar_api", "c11-builtin"),
        ("gcc_version", "0.0.0"),
        ("process_id", os.getpid()),
        ("process_supervised", "no"),
        ("run_id", server.run_id),
        ("tcp_port", server.port),
        ("server_time_usec", time.time_ns() // 1000),
        ("uptime_in_seconds", uptime),
        ("uptime_in_days", uptime // 86400),
        ("hz", server.hz),
        ("configured_hz", server.config["hz"]),
        ("lru_clock", server.lru_clock),
        ("executable", os.path.abspath(sys.argv[0]) if sys.argv and sys.argv[0] else ""),
        ("config_file", server.config.source_file or ""),
        ("io_threads_active", 0),
    ]


def _clients(server: Server) -> Fields:
    conns = list(server.connections.values())
    blocked = sum(1 for c in conns if c.client.blocked is not None)
    pubsub = sum(1 for c in conns if c.client.subscriptions)
    return [
        ("connected_clients", len(conns)),
        ("cluster_connections", 0),
        ("maxclients", server.maxclients),
        ("client_recent_max_input_buffer", 0),
        ("client_recent_max_output_buffer", 0),
        ("blocked_clients", blocked),
        ("tracking_clients", 0),
        ("clients_in_timeout_table", blocked),
        ("pubsub_clients", pubsub),
    ]


def _bytes_human(n: int) -> str:
    """bytesToHuman (server.c)."""
    for unit, scale in (("G", 1024**3), ("M", 1024**2), ("K", 1024)):
        if n >= scale:
            return f"{n / scale:.2f}{unit}"
    return f"{n}B"


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


def _memory(server: Server) -> Fields:
    rss = _rss_bytes()
    used = used_memory(server)
    peak = server.memory.peak_bytes  # used_memory() keeps it; CONFIG RESETSTAT resets it
    maxmemory = server.maxmemory
    return [
        ("used_memory", used),
        ("used_memory_human", _bytes_human(used)),
        ("used_memory_rss", rss),
        ("used_memory_rss_human", _bytes_human(rss)),
        ("used_memory_peak", peak),
        ("used_memory_peak_human", _bytes_human(peak)),
        ("maxmemory", maxmemory),
        ("maxmemory_human", _bytes_human(maxmemory)),
        ("maxmemory_policy", server.maxmemory_policy),
        ("mem_fragmentation_ratio", f"{rss / used:.2f}" if used else "0.00"),
        ("mem_allocator", "libc"),
    ]


def _stats(server: Server) -> Fields:
    st = server.stats
    return [
        ("total_connections_received", st.total_connections_received),
        ("total_commands_processed", st.total_commands_processed),
        ("instantaneous_ops_per_sec", st.instantaneous_ops_per_sec()),
        ("total_net_input_bytes", st.total_net_input_bytes),
        ("total_net_output_bytes", st.total_net_output_bytes),
        ("instantaneous_input_kbps", "0.00"),
        ("instantaneous_output_kbps", "0.00"),
        ("rejected_connections", st.rejected_connections),
        ("sync_full", 0),
        ("sync_partial_ok", 0),
        ("sync_partial_err", 0),
        ("expired_keys", st.expired_keys),
        ("expired_stale_perc", "0.00"),
        ("expired_time_cap_reached_count", 0),
        ("expire_cycle_cpu_milliseconds", 0),
        ("evicted_keys", st.evicted_keys),
        ("evicted_clients", 0),
        ("total_eviction_exceeded_time", 0),
        ("current_eviction_exceeded_time", 0),
        ("keyspace_hits", st.keyspace_hits),
        ("keyspace_misses", st.keyspace_misses),
        ("pubsub_channels", len(server.pubsub.channels)),
        ("pubsub_patterns", len(server.pubsub.patterns)),
        ("latest_fork_usec", 0),
        ("total_forks", 0),
        ("migrate_cached_sockets", 0),
        ("slave_expires_tracked_keys", 0),
        ("active_defrag_hits", 0),
        ("active_defrag_misses", 0),
        ("active_defrag_key_hits", 0),
        ("active_defrag_key_misses", 0),
        ("total_active_defrag_time", 0),
        ("current_active_defrag_time", 0),
        ("tracking_total_keys", 0),
        ("tracking_total_items", 0),
        ("tracking_total_prefixes", 0),
        ("unexpected_error_replies", 0),
        ("total_error_replies", st.total_error_replies),
        ("dump_payload_sanitizations", 0),
        ("total_reads_processed", st.total_commands_processed),
        ("total_writes_processed", st.total_commands_processed),
        ("io_threaded_reads_processed", 0),
        ("io_threaded_writes_processed", 0),
        ("client_query_buffer_limit_disconnections", getattr(st, "client_query_buffer_limit_disconnections", 0)),
        ("client_output_buffer_limit_disconnections", st.client_output_buffer_limit_disconnections),
    ]


def _persistence(server: Server) -> Fields:
    try:
        from engine.persistence.lifecycle import info_fields
    except ImportError:
        info_fields = None  # type: ignore[assignment]
    if info_fields is not None:
        try:
            return list(info_fields(server))
        except (AttributeError, KeyError):
            pass
    return [("loading", int(server.loading)), ("rdb_changes_since_last_save", server.dirty),
            ("rdb_bgsave_in_progress", 0), ("rdb_last_save_time", server.lastsave), ("aof_enabled", 0)]


def _replication(server: Server) -> Fields:
    return [
        ("role", "master"),
        ("connected_slaves", 0),
        ("master_failover_state", "no-failover"),
        ("master_replid", server.run_id),
        ("master_replid2", "0" * 40),
        ("master_repl_offset", 0),
        ("second_repl_offset", -1),
        ("repl_backlog_active", 0),
        ("repl_backlog_size", 1048576),
        ("repl_backlog_first_byte_offset", 0),
        ("repl_backlog_histlen", 0),
    ]


def _cpu(server: Server) -> Fields:
    me = resource.getrusage(resource.RUSAGE_SELF)
    ch = resource.getrusage(resource.RUSAGE_CHILDREN)
    return [
        ("used_cpu_sys", f"{me.ru_stime:.6f}"),
        ("used_cpu_user", f"{me.ru_utime:.6f}"),
        ("used_cpu_sys_children", f"{ch.ru_stime:.6f}"),
        ("used_cpu_user_children", f"{ch.ru_utime:.6f}"),
        ("used_cpu_sys_main_thread", f"{me.ru_stime:.6f}"),
        ("used_cpu_user_main_thread", f"{me.ru_utime:.6f}"),
    ]


def _cmdstat(cmd: Command, out: Fields) -> None:
    if cmd.calls or cmd.rejected_calls or cmd.failed_calls:
        per = cmd.usec / cmd.calls if cmd.calls else 0.0
        out.append((f"cmdstat_{cmd.fullname}",
                    f"calls={cmd.calls},usec={cmd.usec},usec_per_call={per:.2f},"
                    f"rejected_calls={cmd.rejected_calls},failed_calls={cmd.failed_calls}"))
    for sub in cmd.subcommands.values():
        _cmdstat(sub, out)


def _commandstats(server: Server) -> Fields:
    out: Fields = []
    for cmd in COMMANDS.values():
        _cmdstat(cmd, out)
    return out


def _errorstats(server: Server) -> Fields:
    return [(f"errorstat_{code}", f"count={n}") for code, n in server.stats.errorstats.items()]


def _keyspace(server: Server) -> Fields:
    out: Fields = []
    now = server.now_ms()
    for db in server.dbs:
        n = len(db)
        if not n:
            continue
        expires = db.expires
        avg = 0
        if expires:
            sample = itertools.islice(expires.values(), 1000)  # Redis also estimates avg_ttl from samples
            ttls = [t - now for t in sample if t > now]
            avg = int(sum(ttls) / len(ttls)) if ttls else 0
        out.append((f"db{db.id}", f"keys={n},expires={len(expires)},avg_ttl={avg}"))
    return out


for _name, _fn in (
    ("server", _server),
    ("clients", _clients),
    ("memory", _memory),
    ("persistence", _persistence),
    ("stats", _stats),
    ("replication", _replication),
    ("cpu", _cpu),
    ("modules", lambda s: []),
    ("commandstats", _commandstats),
    ("errorstats", _errorstats),
    ("cluster", lambda s: [("cluster_enabled", 0)]),
    ("keyspace", _keyspace),
):
    register_section(_name, _fn)
