"""Generic keyspace commands (db.c, expire.c, object.c): DEL, EXISTS, TYPE, KEYS, SCAN,
RENAME, MOVE, COPY, SWAPDB, the EXPIRE family, TTL, PERSIST, OBJECT ... one function per
command, each following the Redis 7.0 function of the same name (``renameGenericCommand``,
``expireGenericCommand``, ``scanGenericCommand``) for argument order, replies and events.
"""

from __future__ import annotations

import copy as _copy
from collections.abc import Iterable
from typing import Any

from engine.args import (
    INT_MAX,
    LLONG_MAX,
    int32,
    integer,
    leading_flags,
    parse_int,
    scan_cursor,
    scan_options,
)
from engine.client import Client
from engine.db import Database
from engine.errors import (
    DB_INDEX_OUT_OF_RANGE,
    INVALID_EXPIRE,
    NO_SUCH_KEY,
    SAME_OBJECT,
    SYNTAX,
    CommandError,
)
from engine.evict import LFU_INIT_VAL, lfu_decr_and_return, lfu_time_in_minutes
from engine.objects import ZSet, encoding, is_hashtable, mark_hashtable, type_name
from engine.protocol import OK, Reply, Status
from engine.table import command, subcommand
from engine.util import glob_match

__all__ = [
    "del_", "unlink", "exists", "type_", "keys", "scan", "randomkey", "rename", "renamenx", "move",
    "copy", "swapdb", "touch", "expire", "pexpire", "expireat", "pexpireat", "ttl", "pttl", "expiretime",
    "pexpiretime", "persist", "object_encoding", "object_freq", "object_idletime", "object_refcount",
    "object_help", "copy_value",
]

_LFU_POLICIES = ("allkeys-lfu", "volatile-lfu")


def _db_at(ctx: Client, index: int) -> Database:
    """selectDb: the database at ``index`` or "DB index is out of range"."""
    if not 0 <= index < len(ctx.server.dbs):
        raise CommandError(DB_INDEX_OUT_OF_RANGE)
    return ctx.server.dbs[index]


def _unlink_keys(ctx: Client, keys: Iterable[bytes]) -> int:
    db = ctx.db
    server = ctx.server
    removed = 0
    for key in keys:
        if db.exists(key) and db.delete(key):
            removed += 1
            server.dirty += 1
            server.notify("g", "del", key, db.id)
    return removed


@command("del", arity=-2, flags="write", keys=(1, -1, 1), acl="@keyspace", group="generic",
         summary="Delete a key")
def del_(ctx: Client, *keys: bytes) -> Reply:
    return _unlink_keys(ctx, keys)


@command("unlink", arity=-2, flags="write fast", keys=(1, -1, 1), acl="@keyspace", group="generic", since="4.0.0",
         summary="Delete a key asynchronously in another thread. Otherwise it is just as DEL, but non blocking.")
def unlink(ctx: Client, *keys: bytes) -> Reply:
    return _unlink_keys(ctx, keys)


@command("exists", arity=-2, flags="readonly fast", keys=(1, -1, 1), acl="@keyspace", group="generic",
         summary="Determine if a key exists")
def exists(ctx: Client, *keys: bytes) -> Reply:
    db = ctx.db
    return sum(1 for key in keys if db.exists(key))


@command("type", arity=2, flags="readonly fast", keys=(1, 1, 1), acl="@keyspace", group="generic",
         summary="Determine the type stored at key")
def type_(ctx: Client, key: bytes) -> Reply:
    value = ctx.db.lookup_read(key)
    return Status("none" if value is None else type_name(value))


def _live_keys(db: Database) -> list[bytes]:
    """Keys whose TTL has not passed, without deleting the stale ones (keysCommand)."""
    if not db.expires:
        return list(db.data)
    now = db.server.now_ms()
    expires = db.expires
    return [k for k in db.data if (w := expires.get(k)) is None or w >= now]


@command("keys", arity=2, flags="readonly", keys=(0, 0, 0), acl="@keyspace @dangerous", group="generic",
         summary="Find all keys matching the given pattern")
def keys(ctx: Client, pattern: bytes) -> Reply:
    live = _live_keys(ctx.db)
    if pattern == b"*":
        return live
    return [k for k in live if glob_match(pattern, k)]


@command("scan", arity=-2, flags="readonly", keys=(0, 0, 0), acl="@keyspace", group="generic", since="2.8.0",
         summary="Incrementally iterate the keys space")
def scan(ctx: Client, cursor_arg: bytes, *options: bytes) -> Reply:
    """The cursor is a KeyIndex slot (engine/keyindex.py): keys present for the whole
    iteration are always returned, as Redis's reverse-binary cursor guarantees."""
    cursor = scan_cursor(cursor_arg)
    opts = scan_options(options, allow_type=True)
    count, pattern, typename = opts.count, opts.pattern, opts.typename
    db = ctx.db
    next_cursor, found = db.keys.scan(cursor, count)
    out: list[bytes] = []
    for key in found:
        if pattern is not None and not glob_match(pattern, key):
            continue
        if db.expires and key in db.expires and db._expired(key):
            continue
        if typename is not None:
            value = db.data.get(key)
            if value is None or type_name(value).encode() != typename:
                continue
        out.append(key)
    return [str(next_cursor).encode(), out]


@command("randomkey", arity=1, flags="readonly", keys=(0, 0, 0), acl="@keyspace", group="generic",
         summary="Return a random key from the keyspace")
def randomkey(ctx: Client) -> Reply:
    return ctx.db.random_key()


def _rename(ctx: Client, src: bytes, dst: bytes, nx: bool) -> Reply:
    db = ctx.db
    value = db.lookup_write(src)
    if value is None:
        raise CommandError(NO_SUCH_KEY)
    if src == dst:
        return 0 if nx else OK
    when = db.get_expire(src)
    if db.lookup_write(dst) is not None:
        if nx:
            return 0
        db.delete(dst)
    db.delete(src)
    db.add(dst, value)
    if when is not None:
        db.set_expire(dst, when)
    server = ctx.server
    server.notify("g", "rename_from", src, db.id)
    server.notify("g", "rename_to", dst, db.id)
    server.dirty += 1
    return 1 if nx else OK


@command("rename", arity=3, flags="write", keys=(1, 2, 1), acl="@keyspace", group="generic",
         summary="Rename a key")
def rename(ctx: Client, src: bytes, dst: bytes) -> Reply:
    return _rename(ctx, src, dst, nx=False)


@command("renamenx", arity=3, flags="write fast", keys=(1, 2, 1), acl="@keyspace", group="generic",
         summary="Rename a key, only if the new key does not exist")
def renamenx(ctx: Client, src: bytes, dst: bytes) -> Reply:
    return _rename(ctx, src, dst, nx=True)


@command("move", arity=3, flags="write fast", keys=(1, 1, 1), acl="@keyspace", group="generic",
         summary="Move a key to another database")
def move(ctx: Client, key: bytes, db_arg: bytes) -> Reply:
    src = ctx.db
    dst = _db_at(ctx, int32(db_arg))
    if dst is src:
        raise CommandError(SAME_OBJECT)
    value = src.lookup_write(key)
    if value is None:
        return 0
    when = src.get_expire(key)
    if dst.lookup_write(key) is not None:
        return 0
    src.delete(key)
    dst.add(key, value)
    if when is not None:
        dst.set_expire(key, when)
    server = ctx.server
    server.notify("g", "move_from", key, src.id)
    server.notify("g", "move_to", key, dst.id)
    server.dirty += 1
    return 1


def copy_value(value: Any) -> Any:
    """A deep copy of a stored value (objectDup-like; strings are immutable ``bytes``)."""
    t = type(value)
    if t is bytes:
        return value
    if t is bytearray:
        return bytearray(value)
    if t is ZSet:
        return value.copy()
    if t is dict or t is set:
        dup = t(value)
        if is_hashtable(value):  # dupSetObject/dupHashObject keep the encoding
            mark_hashtable(dup)
        return dup
    return _copy.copy(value)


@command("copy", arity=-3, flags="write denyoom", keys=(1, 2, 1), acl="@keyspace", group="generic", since="6.2.0",
         summary="Copy a key")
def copy(ctx: Client, src_key: bytes, dst_key: bytes, *options: bytes) -> Reply:
    src = dst = ctx.db
    replace = False
    i = 0
    while i < len(options):
        opt = options[i].lower()
        if opt == b"replace":
            replace = True
        elif opt == b"db" and i + 1 < len(options):
            dst = _db_at(ctx, int32(options[i + 1]))
            i += 1
        else:
            raise CommandError(SYNTAX)
        i += 1
    if src is dst and src_key == dst_key:
        raise CommandError(SAME_OBJECT)
    value = src.lookup_read(src_key)
    if value is None:
        return 0
    when = src.get_expire(src_key)
    if dst.lookup_write(dst_key) is not None:
        if not replace:
            return 0
        dst.delete(dst_key)
    dst.add(dst_key, copy_value(value))
    if when is not None:
        dst.set_expire(dst_key, when)
    ctx.server.notify("g", "copy_to", dst_key, dst.id)
    ctx.server.dirty += 1
    return 1


_DB_FIELDS = ("data", "expires", "lru", "keys", "volatile", "avg_ttl", "resized_keys")


@command("swapdb", arity=3, flags="write fast", keys=(0, 0, 0), acl="@keyspace @dangerous", group="server",
         since="4.0.0", summary="Swaps two Redis databases")
def swapdb(ctx: Client, first: bytes, second: bytes) -> Reply:
    """Contents move, while WATCHes and blocked clients stay with the index (dbSwapDatabases)."""
    a_id = int32(first, "ERR invalid first DB index")
    b_id = int32(second, "ERR invalid second DB index")
    a = _db_at(ctx, a_id)
    b = _db_at(ctx, b_id)
    if a is not b:
        for name in _DB_FIELDS:
            va, vb = getattr(a, name), getattr(b, name)
            setattr(a, name, vb)
            setattr(b, name, va)
        server = ctx.server
        for db, other in ((a, b), (b, a)):
            for key, clients in db.watched.items():
                if key in db.data or key in other.data:
                    for c in clients:
                        c.dirty_cas = True
            if db.blocking:
                for key in db.blocking:
                    if key in db.data:
                        server.ready_keys.append((db, key))
    ctx.server.dirty += 1
    return OK


@command("touch", arity=-2, flags="readonly fast", keys=(1, -1, 1), acl="@keyspace", group="generic", since="3.2.1",
         summary="Alters the last access time of a key(s). Returns the number of existing keys specified.")
def touch(ctx: Client, *keys: bytes) -> Reply:
    db = ctx.db
    return sum(1 for key in keys if db.lookup_read(key) is not None)


# -- expiry ---------------------------------------------------------------------------------

_EXPIRE_FLAGS = frozenset((b"nx", b"xx", b"gt", b"lt"))


def _expire_flags(name: str, options: tuple[bytes, ...]) -> tuple[bool, bool, bool, bool]:
    """parseExtendedExpireArgumentsOrReply."""
    flags, i = leading_flags(options, _EXPIRE_FLAGS)
    if i < len(options):
        raise CommandError(f"ERR Unsupported option {options[i].decode('utf-8', 'replace')}")
    nx, xx, gt, lt = b"nx" in flags, b"xx" in flags, b"gt" in flags, b"lt" in flags
    if nx and (xx or gt or lt):
        raise CommandError("ERR NX and XX, GT or LT options at the same time are not compatible")
    if gt and lt:
        raise CommandError("ERR GT and LT options at the same time are not compatible")
    return nx, xx, gt, lt


def _expire(ctx: Client, name: str, key: bytes, raw: bytes, options: tuple[bytes, ...], unit_ms: int,
            relative: bool) -> Reply:
    """expireGenericCommand: a time at or before now deletes the key (propagated as DEL)."""
    nx, xx, gt, lt = _expire_flags(name, options)
    when = integer(raw)
    server = ctx.server
    if unit_ms == 1000:
        if when > LLONG_MAX // 1000 or when < -(LLONG_MAX // 1000):
            raise CommandError(INVALID_EXPIRE.format(name))
        when *= 1000
    now = server.now_ms()
    base = now if relative else 0
    if when > LLONG_MAX - base:
        raise CommandError(INVALID_EXPIRE.format(name))
    when += base
    db = ctx.db
    if db.lookup_write(key) is None:
        return 0
    if nx or xx or gt or lt:
        current = db.get_expire(key)
        if nx and current is not None:
            return 0
        if xx and current is None:
            return 0
        if gt and (current is None or when <= current):
            return 0
        if lt and current is not None and when >= current:
            return 0
    if when <= now and not server.loading:
        db.delete(key)
        server.dirty += 1
        ctx.also_propagate = [[b"DEL", key]]
        server.notify("g", "del", key, db.id)
        return 1
    db.set_expire(key, when)
    db.signal_modified(key)
    server.notify("g", "expire", key, db.id)
    server.dirty += 1
    return 1


@command("expire", arity=-3, flags="write fast", keys=(1, 1, 1), acl="@keyspace", group="generic",
         summary="Set a key's time to live in seconds")
def expire(ctx: Client, key: bytes, seconds: bytes, *options: bytes) -> Reply:
    return _expire(ctx, "expire", key, seconds, options, 1000, True)


@command("pexpire", arity=-3, flags="write fast", keys=(1, 1, 1), acl="@keyspace", group="generic", since="2.6.0",
         summary="Set a key's time to live in milliseconds")
def pexpire(ctx: Client, key: bytes, ms: bytes, *options: bytes) -> Reply:
    return _expire(ctx, "pexpire", key, ms, options, 1, True)


@command("expireat", arity=-3, flags="write fast", keys=(1, 1, 1), acl="@keyspace", group="generic", since="1.2.0",
         summary="Set the expiration for a key as a UNIX timestamp")
def expireat(ctx: Client, key: bytes, ts: bytes, *options: bytes) -> Reply:
    return _expire(ctx, "expireat", key, ts, options, 1000, False)


@command("pexpireat", arity=-3, flags="write fast", keys=(1, 1, 1), acl="@keyspace", group="generic", since="2.6.0",
         summary="Set the expiration for a key as a UNIX timestamp specified in milliseconds")
def pexpireat(ctx: Client, key: bytes, ts: bytes, *options: bytes) -> Reply:
    return _expire(ctx, "pexpireat", key, ts, options, 1, False)


def _ttl(ctx: Client, key: bytes, ms: bool, absolute: bool) -> Reply:
    """ttlGenericCommand: -2 missing, -1 no TTL; seconds are rounded ((ms + 500) / 1000)."""
    db = ctx.db
    if db.lookup_read(key) is None:
        return -2
    when = db.get_expire(key)
    if when is None:
        return -1
    left = when if absolute else when - ctx.server.now_ms()
    if left < 0:
        left = 0
    return left if ms else (left + 500) // 1000


@command("ttl", arity=2, flags="readonly fast", keys=(1, 1, 1), acl="@keyspace", group="generic",
         summary="Get the time to live for a key in seconds")
def ttl(ctx: Client, key: bytes) -> Reply:
    return _ttl(ctx, key, ms=False, absolute=False)


@command("pttl", arity=2, flags="readonly fast", keys=(1, 1, 1), acl="@keyspace", group="generic", since="2.6.0",
         summary="Get the time to live for a key in milliseconds")
def pttl(ctx: Client, key: bytes) -> Reply:
    return _ttl(ctx, key, ms=True, absolute=False)


@command("expiretime", arity=2, flags="readonly fast", keys=(1, 1, 1), acl="@keyspace", group="generic",
         since="7.0.0", summary="Get the expiration Unix timestamp for a key")
def expiretime(ctx: Client, key: bytes) -> Reply:
    return _ttl(ctx, key, ms=False, absolute=True)


@command("pexpiretime", arity=2, flags="readonly fast", keys=(1, 1, 1), acl="@keyspace", group="generic",
         since="7.0.0", summary="Get the expiration Unix timestamp for a key in milliseconds")
def pexpiretime(ctx: Client, key: bytes) -> Reply:
    return _ttl(ctx, key, ms=True, absolute=True)


@command("persist", arity=2, flags="write fast", keys=(1, 1, 1), acl="@keyspace", group="generic", since="2.2.0",
         summary="Remove the expiration from a key")
def persist(ctx: Client, key: bytes) -> Reply:
    db = ctx.db
    if db.lookup_write(key) is None or not db.persist(key):
        return 0
    db.signal_modified(key)
    ctx.server.notify("g", "persist", key, db.id)
    ctx.server.dirty += 1
    return 1


# -- OBJECT ---------------------------------------------------------------------------------

def _object_lookup(ctx: Client, key: bytes) -> Any:
    """objectCommandLookup: no LRU/LFU touch, lazy expiry applies."""
    db = ctx.db
    return db.peek(key) if db.exists(key) else None


@subcommand("object", "encoding", arity=3, flags="readonly", keys=(2, 2, 1), acl="@keyspace", group="generic",
            since="2.2.3", summary="Inspect the internal encoding of a Redis object")
def object_encoding(ctx: Client, key: bytes) -> Reply:
    value = _object_lookup(ctx, key)
    if value is None:
        return None
    return encoding(value, ctx.server.config).encode()


@subcommand("object", "refcount", arity=3, flags="readonly", keys=(2, 2, 1), acl="@keyspace", group="generic",
            since="2.2.3", summary="Get the number of references to the value of the key")
def object_refcount(ctx: Client, key: bytes) -> Reply:
    """Small integers are shared objects (OBJ_SHARED_REFCOUNT) unless an LRU/LFU policy
    needs per-key access words, as in Redis 7.0."""
    value = _object_lookup(ctx, key)
    if value is None:
        return None
    server = ctx.server
    policy = server.config["maxmemory-policy"]
    shareable = not server.config["maxmemory"] or not ("lru" in policy or "lfu" in policy)
    if type(value) is bytes and shareable:
        n = parse_int(value)
        if n is not None and 0 <= n < 10000:
            return INT_MAX
    return 1


@subcommand("object", "idletime", arity=3, flags="readonly", keys=(2, 2, 1), acl="@keyspace", group="generic",
            since="2.2.3", summary="Get the time since a Redis object was last accessed")
def object_idletime(ctx: Client, key: bytes) -> Reply:
    value = _object_lookup(ctx, key)
    if value is None:
        return None
    server = ctx.server
    if server.config["maxmemory-policy"] in _LFU_POLICIES:
        raise CommandError(
            "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching "
            "between policies at runtime LRU and LFU data will take some time to adjust."
        )
    last = ctx.db.lru.get(key, server.lru_clock)
    return (server.lru_clock - last) & 0xFFFFFF


@subcommand("object", "freq", arity=3, flags="readonly", keys=(2, 2, 1), acl="@keyspace", group="generic",
            since="4.0.0", summary="Get the logarithmic access frequency counter of a Redis object")
def object_freq(ctx: Client, key: bytes) -> Reply:
    """LFUDecrAndReturn (engine/evict.py): the 8-bit counter, decayed by elapsed periods."""
    value = _object_lookup(ctx, key)
    if value is None:
        return None
    server = ctx.server
    if server.config["maxmemory-policy"] not in _LFU_POLICIES:
        raise CommandError(
            "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when "
            "switching between policies at runtime LRU and LFU data will take some time to adjust."
        )
    field = ctx.db.lru.get(key)
    now_min = lfu_time_in_minutes()
    if field is None:  # never touched since the policy changed: a new key's counter
        field = (now_min << 8) | LFU_INIT_VAL
    return lfu_decr_and_return(field, now_min, server.config["lfu-decay-time"])


_OBJECT_HELP = [
    b"OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    b"ENCODING <key>",
    b"    Return the kind of internal representation used in order to store the value",
    b"    associated with a <key>.",
    b"FREQ <key>",
    b"    Return the access frequency index of the <key>. The returned integer is",
    b"    proportional to the logarithm of the recent access frequency of the key.",
    b"IDLETIME <key>",
    b"    Return the idle time of the <key>, that is the approximated number of",
    b"    seconds elapsed since the last access to the key.",
    b"REFCOUNT <key>",
    b"    Return the number of references of the value associated with the specified",
    b"    <key>.",
    b"HELP",
    b"    Prints this help.",
]


@subcommand("object", "help", arity=2, flags="loading stale", acl="@keyspace", group="generic", since="6.2.0",
            summary="Show helpful text about the different subcommands")
def object_help(ctx: Client) -> Reply:
    return [Status(line.decode()) for line in _OBJECT_HELP]

