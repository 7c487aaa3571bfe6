"""Persistence: Redis's RDB snapshots and multi-part append-only file, on disk in Redis's formats.

Modules, named after Redis's sources: :mod:`~engine.persistence.rdb` (the RDB file),
:mod:`~engine.persistence.aof` (AOF files and manifest), :mod:`~engine.persistence.listpack`,
:mod:`~engine.persistence.ziplist`, :mod:`~engine.persistence.intset`,
:mod:`~engine.persistence.lzf`, :mod:`~engine.persistence.crc64` (the encodings inside an RDB),
and :mod:`~engine.persistence.lifecycle` (what the server calls: load at start, BGSAVE,
BGREWRITEAOF, cron, shutdown, INFO persistence).
"""

from __future__ import annotations

from engine.persistence.lifecycle import (
    PersistenceError,
    PersistenceState,
    aof_rewrite_background,
    check_dir,
    cron,
    disk_error,
    info_fields,
    load_on_start,
    on_shutdown,
    propagate,
    rdb_save,
    rdb_save_background,
    set_appendonly,
    state,
)

__all__ = [
    "PersistenceError",
    "PersistenceState",
    "aof_rewrite_background",
    "check_dir",
    "cron",
    "disk_error",
    "info_fields",
    "load_on_start",
    "on_shutdown",
    "propagate",
    "rdb_save",
    "rdb_save_background",
    "set_appendonly",
    "state",
]
