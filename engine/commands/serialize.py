"""DUMP and RESTORE (cluster.c): a key's value in Redis's serialisation format.

The payload is what engine/persistence/rdb.py writes for one value (type byte and RDB body)
followed by the RDB version (2 bytes LE) and the CRC-64 of all that (8 bytes LE), so a payload
DUMPed by redis-server 7.0 RESTOREs here and the other way round, for every type including
streams.  RESTORE's options and error texts follow restoreCommand in Redis 7.0.
"""

from __future__ import annotations

from engine.args import integer
from engine.client import Client
from engine.errors import SYNTAX, CommandError, RedisError
from engine.evict import LRU_CLOCK_MAX, lfu_time_in_minutes
from engine.persistence.rdb import RdbError, dump_payload, restore_payload
from engine.protocol import OK, Reply
from engine.table import command

__all__ = ["dump", "restore"]

_LFU_POLICIES = ("allkeys-lfu", "volatile-lfu")


@command("dump", arity=2, flags="readonly", keys=(1, 1, 1), acl="@keyspace", group="generic", since="2.6.0",
         summary="Return a serialized version of the value stored at the specified key.")
def dump(ctx: Client, key: bytes) -> Reply:
    value = ctx.db.lookup_read(key)
    if value is None:
        return None
    return dump_payload(value)


@command("restore", arity=-4, flags="write denyoom", keys=(1, 1, 1), acl="@keyspace @dangerous", group="generic",
         since="2.6.0", summary="Create a key using the provided serialized value, previously obtained using DUMP.")
def restore(ctx: Client, key: bytes, ttl_raw: bytes, payload: bytes, *opts: bytes) -> Reply:
    replace = absttl = False
    idle = freq = -1
    i = 0
    while i < len(opts):
        low = opts[i].lower()
        more = len(opts) - i - 1
        if low == b"replace":
            replace = True
        elif low == b"absttl":
            absttl = True
        elif low == b"idletime" and more and freq == -1:
            idle = integer(opts[i + 1])
            if idle < 0:
                raise CommandError("ERR Invalid IDLETIME value, must be >= 0")
            i += 1
        elif low == b"freq" and more and idle == -1:
            freq = integer(opts[i + 1])
            if freq < 0 or freq > 255:
                raise CommandError("ERR Invalid FREQ value, must be >= 0 and <= 255")
            i += 1
        else:
            raise CommandError(SYNTAX)
        i += 1
    db = ctx.db
    server = ctx.server
    if not replace and db.lookup_write(key) is not None:
        raise RedisError("BUSYKEY Target key name already exists.")
    ttl = integer(ttl_raw)
    if ttl < 0:
        raise CommandError("ERR Invalid TTL value, must be >= 0")
    try:
        value = restore_payload(payload)
    except RdbError as exc:
        text = str(exc.args[0]) if exc.args else "Bad data format"
        raise CommandError("ERR DUMP payload version or checksum are wrong" if "checksum" in text
                           else "ERR Bad data format") from None
    deleted = db.delete(key) if replace else False
    now = server.now_ms()
    if ttl and not absttl:
        ttl += now
    if ttl and ttl <= now:
        if deleted:
            server.notify("g", "del", key, db.id)
            server.dirty += 1
        return OK
    db.add(key, value)
    if ttl:
        db.set_expire(key, ttl)
    if server.config["maxmemory-policy"] in _LFU_POLICIES:
        if freq >= 0:
            db.lru[key] = (lfu_time_in_minutes() << 8) | freq
    elif idle >= 0:
        when = server.lru_clock - idle
        db.lru[key] = when + LRU_CLOCK_MAX if when < 0 else when
    server.notify("g", "restore", key, db.id)
    server.dirty += 1
    return OK
