"""Hash commands (t_hash.c): HSET, HGET, HINCRBY, HRANDFIELD, HSCAN, ...

A hash is a ``dict[bytes, bytes]``; a hash left empty by HDEL is deleted, as Redis never
keeps an empty aggregate.  Replies, argument order and events follow Redis 7.0's t_hash.c.
"""

from __future__ import annotations

import random
from fractions import Fraction

from engine.args import LLONG_MAX, LLONG_MIN, integer, parse_int, scan_cursor, scan_options
from engine.client import Client
from engine.collscan import scan_step
from engine.commands.strings import add_long_double, format_long_double, parse_long_double
from engine.errors import (
    HASH_NOT_FLOAT,
    HASH_NOT_INTEGER,
    INCR_OVERFLOW,
    NAN_OR_INF,
    NOT_FLOAT,
    SYNTAX,
    VALUE_OUT_OF_RANGE,
    CommandError,
    value_not_in_range,
    wrong_arity,
)
from engine.objects import HASH, encoding, hash_grew, is_hashtable
from engine.protocol import OK, Reply
from engine.table import command
from engine.util import glob_match

__all__ = [
    "hset", "hsetnx", "hmset", "hget", "hmget", "hgetall", "hdel", "hexists", "hlen", "hkeys", "hvals",
    "hincrby", "hincrbyfloat", "hstrlen", "hrandfield", "hscan",
]


def _write_hash(ctx: Client, key: bytes) -> dict[bytes, bytes]:
    """hashTypeLookupWriteOrCreate: the hash at ``key``, created empty when absent."""
    db = ctx.db
    h = db.lookup_write(key, HASH)
    if h is None:
        h = {}
        db.add(key, h)
    return h


def _hset_pairs(ctx: Client, name: str, key: bytes, args: tuple[bytes, ...]) -> int:
    if len(args) % 2:
        raise wrong_arity(name)
    h = _write_hash(ctx, key)
    before = len(h)
    for i in range(0, len(args), 2):
        h[args[i]] = args[i + 1]
    server = ctx.server
    if not is_hashtable(h):
        hash_grew(h, args, server.config)
    db = ctx.db
    db.set(key, h, True)
    if server.notify_flags:
        server.notify("h", "hset", key, db.id)
    server.dirty += len(args) // 2
    return len(h) - before


@command("hset", arity=-4, flags="write denyoom fast", keys=(1, 1, 1), acl="@hash", group="hash", since="2.0.0",
         summary="Set the string value of a hash field")
def hset(ctx: Client, key: bytes, *args: bytes) -> Reply:
    return _hset_pairs(ctx, "hset", key, args)


@command("hmset", arity=-4, flags="write denyoom fast", keys=(1, 1, 1), acl="@hash", group="hash", since="2.0.0",
         summary="Set multiple hash fields to multiple values")
def hmset(ctx: Client, key: bytes, *args: bytes) -> Reply:
    _hset_pairs(ctx, "hmset", key, args)
    return OK


@command("hsetnx", arity=4, flags="write denyoom fast", keys=(1, 1, 1), acl="@hash", group="hash", since="2.0.0",
         summary="Set the value of a hash field, only if the field does not exist")
def hsetnx(ctx: Client, key: bytes, field: bytes, value: bytes) -> Reply:
    h = _write_hash(ctx, key)
    if field in h:
        return 0
    h[field] = value
    if not is_hashtable(h):
        hash_grew(h, (field, value), ctx.server.config)
    db = ctx.db
    db.set(key, h, keep_ttl=True)
    ctx.server.notify("h", "hset", key, db.id)
    ctx.server.dirty += 1
    return 1


@command("hget", arity=3, flags="readonly fast", keys=(1, 1, 1), acl="@hash", group="hash", since="2.0.0",
         summary="Get the value of a hash field")
def hget(ctx: Client, key: bytes, field: bytes) -> Reply:
    h = ctx.db.lookup_read(key, HASH)
    return None if h is None else h.get(field)


@command("hmget", arity=-3, flags="readonly fast", keys=(1, 1, 1), acl="@hash", group="hash", since="2.0.0",
         summary="Get the values of all the given hash fields")
def hmget(ctx: Client, key: bytes, *fields: bytes) -> Reply:
    h = ctx.db.lookup_read(key, HASH)
    if h is None:
        return [None] * len(fields)
    return [h.get(f) for f in fields]


@command("hgetall", arity=2, flags="readonly", keys=(1, 1, 1), acl="@hash", group="hash", since="2.0.0",
         summary="Get all the fields and values in a hash")
def hgetall(ctx: Client, key: bytes) -> Reply:
    h = ctx.db.lookup_read(key, HASH)
    return {} if h is None else dict(h)


@command("hkeys", arity=2, flags="readonly", keys=(1, 1, 1), acl="@hash", group="hash", since="2.0.0",
         summary="Get all the fields in a hash")
def hkeys(ctx: Client, key: bytes) -> Reply:
    h = ctx.db.lookup_read(key, HASH)
    return [] if h is None else list(h)


@command("hvals", arity=2, flags="readonly", keys=(1, 1, 1), acl="@hash", group="hash", since="2.0.0",
         summary="Get all the values in a hash")
def hvals(ctx: Client, key: bytes) -> Reply:
    h = ctx.db.lookup_read(key, HASH)
    return [] if h is None else list(h.values())


@command("hdel", arity=-3, flags="write fast", keys=(1, 1, 1), acl="@hash", group="hash", since="2.0.0",
         summary="Delete one or more hash fields")
def hdel(ctx: Client, key: bytes, *fields: bytes) -> Reply:
    db = ctx.db
    h = db.lookup_write(key, HASH)
    if h is None:
        return 0
    deleted = 0
    for f in fields:
        if h.pop(f, None) is not None:
            deleted += 1
    if deleted:
        server = ctx.server
        server.notify("h", "hdel", key, db.id)
        if not h:
            db.delete(key)
            server.notify("g", "del", key, db.id)
        else:
            db.set(key, h, keep_ttl=True)
        server.dirty += deleted
    return deleted


@command("hexists", arity=3, flags="readonly fast", keys=(1, 1, 1), acl="@hash", group="hash", since="2.0.0",
         summary="Determine if a hash field exists")
def hexists(ctx: Client, key: bytes, field: bytes) -> Reply:
    h = ctx.db.lookup_read(key, HASH)
    return 1 if h is not None and field in h else 0


@command("hlen", arity=2, flags="readonly fast", keys=(1, 1, 1), acl="@hash", group="hash", since="2.0.0",
         summary="Get the number of fields in a hash")
def hlen(ctx: Client, key: bytes) -> Reply:
    h = ctx.db.lookup_read(key, HASH)
    return 0 if h is None else len(h)


@command("hstrlen", arity=3, flags="readonly fast", keys=(1, 1, 1), acl="@hash", group="hash", since="3.2.0",
         summary="Get the length of the value of a hash field")
def hstrlen(ctx: Client, key: bytes, field: bytes) -> Reply:
    h = ctx.db.lookup_read(key, HASH)
    if h is None:
        return 0
    v = h.get(field)
    return 0 if v is None else len(v)


@command("hincrby", arity=4, flags="write denyoom fast", keys=(1, 1, 1), acl="@hash", group="hash", since="2.0.0",
         summary="Increment the integer value of a hash field by the given number")
def hincrby(ctx: Client, key: bytes, field: bytes, amount: bytes) -> Reply:
    incr = integer(amount)
    h = _write_hash(ctx, key)
    old = h.get(field)
    value = 0 if old is None else parse_int(old)
    if value is None:
        raise CommandError(HASH_NOT_INTEGER)
    if (incr < 0 and value < 0 and incr < LLONG_MIN - value) or (incr > 0 and value > 0 and incr > LLONG_MAX - value):
        raise CommandError(INCR_OVERFLOW)
    value += incr
    h[field] = b"%d" % value
    if not is_hashtable(h):
        hash_grew(h, (field, h[field]), ctx.server.config)
    db = ctx.db
    db.set(key, h, keep_ttl=True)
    ctx.server.notify("h", "hincrby", key, db.id)
    ctx.server.dirty += 1
    return value


@command("hincrbyfloat", arity=4, flags="write denyoom fast", keys=(1, 1, 1), acl="@hash", group="hash",
         since="2.6.0", summary="Increment the float value of a hash field by the given amount")
def hincrbyfloat(ctx: Client, key: bytes, field: bytes, amount: bytes) -> Reply:
    """Long double arithmetic and formatting shared with INCRBYFLOAT (engine/commands/strings.py)."""
    incr = parse_long_double(amount, NOT_FLOAT)
    if isinstance(incr, float):
        raise CommandError("ERR value is NaN or Infinity")
    h = _write_hash(ctx, key)
    old = h.get(field)
    value = Fraction(0) if old is None else parse_long_double(old, HASH_NOT_FLOAT)
    total = add_long_double(value, incr)
    if total is None:
        raise CommandError(NAN_OR_INF)
    text = format_long_double(total)
    h[field] = text
    if not is_hashtable(h):
        hash_grew(h, (field, text), ctx.server.config)
    db = ctx.db
    db.set(key, h, keep_ttl=True)
    ctx.server.notify("h", "hincrbyfloat", key, db.id)
    ctx.server.dirty += 1
    ctx.also_propagate = [[b"HSET", key, field, text]]
    return text


_LONG_MAX = LLONG_MAX


@command("hrandfield", arity=-2, flags="readonly", keys=(1, 1, 1), acl="@hash", group="hash", since="6.2.0",
         summary="Get one or multiple random fields from a hash")
def hrandfield(ctx: Client, key: bytes, *args: bytes) -> Reply:
    """hrandfieldCommand: a negative count may repeat fields; RESP3 WITHVALUES gives pairs."""
    if not args:
        h = ctx.db.lookup_read(key, HASH)
        return None if h is None else random.choice(list(h))
    count = integer(args[0])
    if count < -_LONG_MAX:
        raise CommandError(value_not_in_range(-_LONG_MAX, _LONG_MAX))
    withvalues = False
    if len(args) > 2 or (len(args) == 2 and args[1].lower() != b"withvalues"):
        raise CommandError(SYNTAX)
    if len(args) == 2:
        withvalues = True
        if count < -(_LONG_MAX // 2) or count > _LONG_MAX // 2:  # C's -LONG_MAX/2 truncates toward zero
            raise CommandError(VALUE_OUT_OF_RANGE)
    h = ctx.db.lookup_read(key, HASH)
    if h is None or count == 0:
        return []
    fields = list(h)
    if count < 0:
        picked = random.choices(fields, k=-count)
    elif count >= len(fields):
        picked = fields
    else:
        picked = random.sample(fields, count)
    if not withvalues:
        return picked
    if ctx.resp == 3:
        return [[f, h[f]] for f in picked]
    out: list[bytes] = []
    for f in picked:
        out += (f, h[f])
    return out


@command("hscan", arity=-3, flags="readonly", keys=(1, 1, 1), acl="@hash", group="hash", since="2.8.0",
         summary="Incrementally iterate hash fields and associated values")
def hscan(ctx: Client, key: bytes, cursor_arg: bytes, *options: bytes) -> Reply:
    """The whole hash in one reply with cursor 0, as Redis does for listpack-encoded hashes;
    a hashtable-encoded one is walked COUNT fields per call (engine/collscan.py)."""
    cursor = scan_cursor(cursor_arg)
    h = ctx.db.lookup_read(key, HASH)
    if h is None:
        return [b"0", []]
    opts = scan_options(options, allow_type=False)
    count, pattern = opts.count, opts.pattern
    out: list[bytes] = []
    if encoding(h, ctx.server.config) == "hashtable":
        nxt, fields = scan_step(ctx.server, h, cursor, count)
        for f in fields:
            if pattern is None or glob_match(pattern, f):
                out += (f, h[f])
        return [b"%d" % nxt, out]
    for f, v in h.items():
        if pattern is None or glob_match(pattern, f):
            out += (f, v)
    return [b"0", out]
