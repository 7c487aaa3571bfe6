"""MEMORY USAGE | STATS | DOCTOR | MALLOC-STATS | PURGE | HELP (object.c memoryCommand) and
the INFO ``memory`` section, all read from the model in engine/memory.py.  OBJECT FREQ is
in engine/commands/keys.py; it reads the LFU word engine/evict.py keeps."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from engine import memory
from engine.client import Client
from engine.errors import NOT_INTEGER, SYNTAX, CommandError
from engine.info import register_section
from engine.protocol import OK, Reply, Verbatim
from engine.table import subcommand
from engine.util import parse_int

if TYPE_CHECKING:
    from engine.server import Server

__all__ = ["memory_usage", "memory_stats", "memory_doctor", "info_memory", "bytes_human"]

_HELP = [
    "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DOCTOR",
    "    Return memory problems reports.",
    "MALLOC-STATS",
    "    Return internal statistics report from the memory allocator.",
    "PURGE",
    "    Attempt to purge dirty pages for reclamation by the allocator.",
    "STATS",
    "    Return information about the memory usage of the server.",
    "USAGE <key> [SAMPLES <count>]",
    "    Return memory in bytes used by <key> and its value. Nested values are",
    "    sampled up to <count> times (default: 5, 0 means sample all).",
    "HELP",
    "    Print this help.",
]


def bytes_human(n: float) -> str:
    """bytesToHuman (server.c): B, K, M, G, T, P with two decimals."""
    if n < 1024:
        return f"{int(n)}B"
    for unit in "KMGTPE":
        n /= 1024
        if n < 1024 or unit == "E":
            return f"{n:.2f}{unit}"
    return f"{n:.2f}E"  # pragma: no cover


@subcommand("memory", "usage", arity=-3, flags="readonly", keys=(2, 2, 1), acl="@keyspace", group="server",
            since="4.0.0", summary="Estimate the memory usage of a key")
def memory_usage(ctx: Client, key: bytes, *args: bytes) -> Reply:
    samples = 5  # OBJ_COMPUTE_SIZE_DEF_SAMPLES
    i = 0
    while i < len(args):
        if args[i].lower() == b"samples" and i + 1 < len(args):
            n = parse_int(args[i + 1])
            if n is None:
                raise CommandError(NOT_INTEGER)
            if n < 0:
                raise CommandError(SYNTAX)
            samples = n if n else 1 << 62
            i += 2
        else:
            raise CommandError(SYNTAX)
    db = ctx.db
    if not db.exists(key):
        return None
    return memory.memory_usage(ctx.server, db, key, samples)


def _stats(server: Server) -> dict[bytes, Any]:
    used = memory.used_memory(server)
    st = memory.state(server)
    startup = memory.USED_MEMORY_STARTUP_BYTES
    clients = memory.CLIENT_BYTES * len(server.connections)
    out: dict[bytes, Any] = {
        b"peak.allocated": st.peak_bytes,
        b"total.allocated": used,
        b"startup.allocated": startup,
        b"replication.backlog": 0,
        b"clients.slaves": 0,
        b"clients.normal": clients,
        b"cluster.links": 0,
        b"aof.buffer": 0,
        b"lua.caches": 0,
        b"functions.caches": 184,
    }
    overhead = startup + clients
    keys = 0
    for db in server.dbs:
        if not db.data:
            continue
        main = memory._buckets(len(db.data)) + memory.DICT_ENTRY * len(db.data)
        exp = memory._buckets(len(db.expires)) + memory.DICT_ENTRY * len(db.expires)
        out[b"db.%d" % db.id] = {b"overhead.hashtable.main": main, b"overhead.hashtable.expires": exp}
        overhead += main + exp
        keys += len(db.data)
    dataset = max(0, used - overhead)
    net = max(1, used - startup)
    out.update({
        b"overhead.total": overhead,
        b"keys.count": keys,
        b"keys.bytes-per-key": (used - startup) // keys if keys else 0,
        b"dataset.bytes": dataset,
        b"dataset.percentage": dataset * 100.0 / net,
        b"peak.percentage": used * 100.0 / max(1, st.peak_bytes),
        b"allocator.allocated": used,
        b"allocator.active": used,
        b"allocator.resident": used,
        b"allocator-fragmentation.ratio": 1.0,
        b"allocator-fragmentation.bytes": 0,
        b"allocator.rss-ratio": 1.0,
        b"allocator.rss-bytes": 0,
        b"rss-overhead.ratio": 1.0,
        b"rss-overhead.bytes": 0,
        b"fragmentation": 1.0,
        b"fragmentation.bytes": 0,
    })
    return out


@subcommand("memory", "stats", arity=2, flags="", acl="@slow", group="server", since="4.0.0",
            summary="Show memory usage details")
def memory_stats(ctx: Client) -> Reply:
    return _stats(ctx.server)


@subcommand("memory", "doctor", arity=2, flags="", acl="@slow", group="server", since="4.0.0",
            summary="Outputs memory problems report")
def memory_doctor(ctx: Client) -> Reply:
    """getMemoryDoctorReport: the 'empty' and 'no issues' reports (the model has no
    fragmentation, RSS or allocator figures to diagnose)."""
    if memory.used_memory(ctx.server) < 1024 * 1024 * 5:
        text = (
            "Hi Sam, this instance is empty or is using very little memory, my issues detector can't be used in "
            "these conditions. Please, leave for your mission on Earth and fill it with some data. The new Sam and "
            "I will be back to our programming as soon as I finished rebooting."
        )
    else:
        text = "Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base."
    return Verbatim(text.encode())


@subcommand("memory", "malloc-stats", arity=2, flags="", acl="@slow", group="server", since="4.0.0",
            summary="Show allocator internal stats")
def memory_malloc_stats(ctx: Client) -> Reply:
    return b"Stats not supported for the current allocator"


@subcommand("memory", "purge", arity=2, flags="", acl="@slow", group="server", since="4.0.0",
            summary="Ask the allocator to release memory")
def memory_purge(ctx: Client) -> Reply:
    return OK


@subcommand("memory", "help", arity=2, flags="loading stale", acl="@slow", group="server", since="4.0.0",
            summary="Show helpful text about the different subcommands")
def memory_help(ctx: Client) -> Reply:
    return [line.encode() for line in _HELP]


def _rss_bytes() -> int:
    """The process's resident set (the engine's real footprint, not the model's)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


def info_memory(server: Server) -> dict[str, Any]:
    """INFO memory in Redis 7.0's field order.  ``used_memory*`` are the model (what Redis
    would allocate); ``used_memory_rss`` is this process's real RSS, so
    ``mem_fragmentation_ratio`` shows the Python engine's cost over Redis's."""
    used = memory.used_memory(server)
    st = memory.state(server)
    startup = memory.USED_MEMORY_STARTUP_BYTES
    overhead = memory.overhead_bytes(server)
    dataset = used - overhead
    rss = _rss_bytes()
    maxmemory = server.maxmemory
    return {
        "used_memory": used,
        "used_memory_human": bytes_human(used),
        "used_memory_rss": rss,
        "used_memory_rss_human": bytes_human(rss),
        "used_memory_peak": st.peak_bytes,
        "used_memory_peak_human": bytes_human(st.peak_bytes),
        "used_memory_peak_perc": f"{used * 100.0 / max(1, st.peak_bytes):.2f}%",
        "used_memory_overhead": overhead,
        "used_memory_startup": startup,
        "used_memory_dataset": dataset,
        "used_memory_dataset_perc": f"{dataset * 100.0 / max(1, used - startup):.2f}%",
        "number_of_cached_scripts": len(getattr(getattr(server, "scripting", None), "scripts", None) or ()),
        "maxmemory": maxmemory,
        "maxmemory_human": bytes_human(maxmemory),
        "maxmemory_policy": server.maxmemory_policy,
        "mem_fragmentation_ratio": f"{rss / used:.2f}" if used else "0.00",
        "mem_fragmentation_bytes": rss - used,
        "mem_not_counted_for_evict": 0,
        "mem_replication_backlog": 0,
        "mem_clients_slaves": 0,
        "mem_clients_normal": memory.CLIENT_BYTES * len(server.connections),
        "mem_aof_buffer": 0,
        "mem_allocator": "jemalloc-model",
        "lazyfree_pending_objects": 0,
        "lazyfreed_objects": 0,
    }


register_section("memory", info_memory)
