"""HyperLogLog commands (hyperloglog.c): PFADD, PFCOUNT, PFMERGE, PFDEBUG.

The value is a plain string holding Redis's HLL bytes (engine/hll.py), so GET/SET, DUMP and
RESTORE carry it between the engine and redis-server unchanged.  Error texts, the cached
cardinality (PFCOUNT writes it back, as Redis does) and the keyspace events follow Redis 7.0.
"""

from __future__ import annotations

from typing import Any

from engine import hll
from engine.client import Client
from engine.errors import HLL_CORRUPTED, NOT_HLL, CommandError, RedisError
from engine.objects import STRING, is_int_string
from engine.protocol import OK, Reply, Status
from engine.table import command

__all__ = ["pfadd", "pfcount", "pfmerge", "pfdebug"]



def _check(value: bytes | bytearray) -> None:
    if (type(value) is bytes and is_int_string(value)) or not hll.is_hll(value):
        raise RedisError(NOT_HLL)


def _max_bytes(ctx: Client) -> int:
    value = ctx.server.config.values.get("hll-sparse-max-bytes")  # a dict read on PFADD's path
    return int(ctx.server.config["hll-sparse-max-bytes"] if value is None else value)


@command("pfadd", arity=-2, flags="write denyoom fast", keys=(1, 1, 1), acl="@hyperloglog", group="hyperloglog",
         since="2.8.9", summary="Adds the specified elements to the specified HyperLogLog.")
def pfadd(ctx: Client, key: bytes, *elements: bytes) -> Reply:
    db = ctx.db
    current = db.lookup_write(key, STRING)
    updated = 0
    if current is None:
        buf = hll.new_sparse()
        updated = 1
    else:
        _check(current)
        buf = current if type(current) is bytearray else bytearray(current)
    limit = _max_bytes(ctx) if buf[4] != hll.DENSE else 0  # only a sparse HLL has a size limit
    try:
        for e in elements:
            buf, changed = hll.add(buf, e, limit)
            updated += changed
    except hll.HllError:
        raise RedisError(HLL_CORRUPTED) from None
    if updated:
        buf[15] |= 0x80  # hll.invalidate: the cached cardinality is stale
        if buf is current:  # changed in place (dense, or sparse with room): already stored
            db.signal_modified(key)
        else:
            db.set(key, buf, keep_ttl=True)
        server = ctx.server
        if server.notify_flags:
            server.notify("$", "pfadd", key, db.id)
        server.dirty += updated
    return 1 if updated else 0


@command("pfcount", arity=-2, flags="readonly may_replicate", keys=(1, -1, 1), acl="@hyperloglog",
         group="hyperloglog", since="2.8.9",
         summary="Return the approximated cardinality of the set(s) observed by the HyperLogLog at key(s).")
def pfcount(ctx: Client, *keys: bytes) -> Reply:
    db = ctx.db
    if len(keys) > 1:
        regs = [0] * hll.HLL_REGISTERS
        for k in keys:
            v = db.lookup_read(k, STRING)
            if v is None:
                continue
            _check(v)
            try:
                hll.merge_into(regs, v)
            except hll.HllError:
                raise RedisError(HLL_CORRUPTED) from None
        return hll.count(regs)
    key = keys[0]
    v = db.lookup_read(key, STRING)
    if v is None:
        return 0
    _check(v)
    card = hll.cached(v)
    if card is not None:
        return card
    try:
        card = hll.count(hll.registers(v))
    except hll.HllError:
        raise RedisError(HLL_CORRUPTED) from None
    buf = v if type(v) is bytearray else bytearray(v)
    hll.store_cache(buf, card)
    db.set(key, buf, keep_ttl=True)
    ctx.server.dirty += 1
    return card


@command("pfmerge", arity=-2, flags="write denyoom", keys=(1, -1, 1), acl="@hyperloglog", group="hyperloglog",
         since="2.8.9", summary="Merge N different HyperLogLogs into a single one.")
def pfmerge(ctx: Client, dest: bytes, *sources: bytes) -> Reply:
    db = ctx.db
    regs = [0] * hll.HLL_REGISTERS
    use_dense = False
    for k in (dest, *sources):
        v = db.lookup_read(k, STRING)
        if v is None:
            continue
        _check(v)
        if v[4] == hll.DENSE:
            use_dense = True
        try:
            hll.merge_into(regs, v)
        except hll.HllError:
            raise RedisError(HLL_CORRUPTED) from None
    current = db.lookup_write(dest, STRING)
    buf = hll.new_sparse() if current is None else bytearray(current)
    try:
        if use_dense:
            buf = hll.to_dense(buf)
        limit = _max_bytes(ctx)
        for i, r in enumerate(regs):
            if r:
                buf, _ = hll.set_register(buf, i, r, limit)
    except hll.HllError:
        raise RedisError(HLL_CORRUPTED) from None
    hll.invalidate(buf)
    db.set(dest, buf, keep_ttl=True)
    ctx.server.notify("$", "pfadd", dest, db.id)
    ctx.server.dirty += 1
    return OK


@command("pfdebug", arity=3, flags="write denyoom admin", keys=(2, 2, 1), acl="@hyperloglog", group="hyperloglog",
         since="2.8.9", summary="Internal commands for debugging HyperLogLog values")
def pfdebug(ctx: Client, sub: bytes, key: bytes) -> Reply:
    """PFDEBUG GETREG|DECODE|ENCODING|TODENSE key."""
    db = ctx.db
    v = db.lookup_write(key, STRING)
    if v is None:
        raise CommandError("ERR The specified key does not exist")
    _check(v)
    op = sub.lower()
    if op == b"getreg":
        buf = v if v[4] == hll.DENSE else hll.to_dense(bytearray(v))
        if buf is not v:
            db.set(key, buf, keep_ttl=True)
            ctx.server.dirty += 1
        return hll.registers(buf)
    if op == b"encoding":
        return Status("dense" if v[4] == hll.DENSE else "sparse")
    if op == b"todense":
        if v[4] == hll.DENSE:
            return 0
        db.set(key, hll.to_dense(bytearray(v)), keep_ttl=True)
        ctx.server.dirty += 1
        return 1
    if op == b"decode":
        if v[4] != hll.SPARSE:
            raise CommandError("ERR HLL encoding is not sparse")
        return _decode(v).encode()
    raise CommandError(f"ERR Unknown PFDEBUG subcommand '{sub.decode('utf-8', 'replace')}'")


def _decode(v: Any) -> str:
    parts = []
    p = hll.HLL_HDR_SIZE
    while p < len(v):
        op = v[p]
        if op & 0x80:
            parts.append(f"v:{((op >> 2) & 0x1F) + 1},{(op & 3) + 1}")
            p += 1
        elif op & 0x40:
            parts.append(f"Z:{(((op & 0x3F) << 8) | v[p + 1]) + 1}")
            p += 2
        else:
            parts.append(f"z:{(op & 0x3F) + 1}")
            p += 1
    return " ".join(parts)

