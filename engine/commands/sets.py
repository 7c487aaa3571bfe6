"""Set commands (t_set.c).

A set is a Python ``set[bytes]``.  Replies that are whole sets are returned as ``set`` so
RESP3 clients get the ``~`` type as from Redis; empty sets are deleted, every change bumps
``server.dirty`` and fires Redis's keyspace event.  SPOP is propagated as SREM (or DEL when
it empties the set), since replaying a random pop would pick other members.

Random picks (SPOP, SRANDMEMBER) are O(count) through a cached copy of a large set's members
(engine/setsample.py: a Python ``set`` has no random access), so SADD and SMOVE's destination
tell it when members were added.  SSCAN returns every member in one
call (cursor 0), as Redis does for small intset-encoded sets; hashtable-encoded ones are
walked COUNT members per call (engine/collscan.py).
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from typing import Any

from engine import setsample
from engine.args import (
    LLONG_MAX,
    integer,
    intercard_limit,
    keys_after_numkeys,
    parse_numkeys,
    positive,
    scan_cursor,
    scan_options,
)
from engine.client import Client
from engine.collscan import scan_step
from engine.errors import (
    NUMKEYS_NOT_POSITIVE,
    NUMKEYS_TOO_MANY,
    SYNTAX,
    CommandError,
    WrongTypeError,
    value_not_in_range,
)
from engine.objects import SET, encoding, is_hashtable, set_grew
from engine.protocol import Reply
from engine.table import command
from engine.util import glob_match

__all__ = [
    "sadd", "srem", "smembers", "sismember", "smismember", "scard", "spop", "srandmember", "smove",
    "sinter", "sintercard", "sunion", "sdiff", "sinterstore", "sunionstore", "sdiffstore", "sscan",
]

_rng = random.Random()


@command("sadd", arity=-3, flags="write denyoom fast", keys=(1, 1, 1), acl="@set", group="set",
         summary="Add one or more members to a set")
def sadd(ctx: Client, key: bytes, *members: bytes) -> Reply:
    db = ctx.db
    s = db.lookup_write(key, SET)
    if s is None:
        s = set(members)
        set_grew(s, members, ctx.server.config)
        db.add(key, s)
        added = len(s)
    else:
        before = len(s)
        s.update(members)
        added = len(s) - before
        if added:
            setsample.forget(s)
        if added and not is_hashtable(s):
            set_grew(s, members, ctx.server.config)
        if added:
            db.signal_modified(key)
            ctx.server.on_key_written(db, key, s)
    if added:
        ctx.server.dirty += added
        ctx.server.notify("s", "sadd", key, db.id)
    return added


@command("srem", arity=-3, flags="write fast", keys=(1, 1, 1), acl="@set", group="set",
         summary="Remove one or more members from a set")
def srem(ctx: Client, key: bytes, *members: bytes) -> Reply:
    db = ctx.db
    s = db.lookup_write(key, SET)
    if s is None:
        return 0
    before = len(s)
    s.difference_update(members)
    removed = before - len(s)
    if removed:
        server = ctx.server
        server.dirty += removed
        server.notify("s", "srem", key, db.id)
        if s:
            db.signal_modified(key)
            server.on_key_written(db, key, s)
        else:
            db.delete(key)
            server.notify("g", "del", key, db.id)
    return removed


@command("smembers", arity=2, flags="readonly", keys=(1, 1, 1), acl="@set", group="set",
         summary="Get all the members in a set")
def smembers(ctx: Client, key: bytes) -> Reply:
    s = ctx.db.lookup_read(key, SET)
    return set() if s is None else set(s)


@command("sismember", arity=3, flags="readonly fast", keys=(1, 1, 1), acl="@set", group="set",
         summary="Determine if a given value is a member of a set")
def sismember(ctx: Client, key: bytes, member: bytes) -> Reply:
    s = ctx.db.lookup_read(key, SET)
    return 1 if s is not None and member in s else 0


@command("smismember", arity=-3, flags="readonly fast", keys=(1, 1, 1), acl="@set", group="set",
         since="6.2.0", summary="Returns the membership associated with the given elements for a set")
def smismember(ctx: Client, key: bytes, *members: bytes) -> Reply:
    s = ctx.db.lookup_read(key, SET) or ()
    return [1 if m in s else 0 for m in members]


@command("scard", arity=2, flags="readonly fast", keys=(1, 1, 1), acl="@set", group="set",
         summary="Get the number of members in a set")
def scard(ctx: Client, key: bytes) -> Reply:
    s = ctx.db.lookup_read(key, SET)
    return 0 if s is None else len(s)


@command("spop", arity=-2, flags="write fast", keys=(1, 1, 1), acl="@set", group="set",
         summary="Remove and return one or multiple random members from a set")
def spop(ctx: Client, key: bytes, *rest: bytes) -> Reply:
    if len(rest) > 1:
        raise CommandError(SYNTAX)
    has_count = bool(rest)
    count = 1
    if has_count:
        count = positive(rest[0])
    db = ctx.db
    s = db.lookup_write(key, SET)
    if s is None:
        return set() if has_count else None
    if has_count and count == 0:
        return set()
    server = ctx.server
    if count >= len(s):
        popped = list(s)
        s.clear()
    else:
        # set.pop() takes the first hash slot, not a random member: sample instead, O(count)
        # (see the module docstring).
        popped = [setsample.random_member(s, _rng)] if count == 1 else setsample.sample(s, count, _rng)
        s.difference_update(popped)
    server.dirty += len(popped)
    server.notify("s", "spop", key, db.id)
    if s:
        db.signal_modified(key)
        server.on_key_written(db, key, s)
        ctx.also_propagate = [[b"SREM", key, *popped]]
    else:
        db.delete(key)
        server.notify("g", "del", key, db.id)
        ctx.also_propagate = [[b"DEL", key]]
    return set(popped) if has_count else popped[0]


@command("srandmember", arity=-2, flags="readonly", keys=(1, 1, 1), acl="@set", group="set",
         summary="Get one or multiple random members from a set")
def srandmember(ctx: Client, key: bytes, *rest: bytes) -> Reply:
    if len(rest) > 1:
        raise CommandError(SYNTAX)
    if not rest:
        s = ctx.db.lookup_read(key, SET)
        if s is None:
            return None
        return setsample.random_member(s, _rng) if len(s) > 1 else next(iter(s))
    count = integer(rest[0])
    if count < -LLONG_MAX:
        raise CommandError(value_not_in_range(-LLONG_MAX, LLONG_MAX))
    s = ctx.db.lookup_read(key, SET)
    if s is None or count == 0:
        return []
    if count < 0:
        return setsample.choices(s, -count, _rng)
    if count >= len(s):
        return list(s)
    return setsample.sample(s, count, _rng)


@command("smove", arity=4, flags="write fast", keys=(1, 2, 1), acl="@set", group="set",
         summary="Move a member from one set to another")
def smove(ctx: Client, src: bytes, dst: bytes, member: bytes) -> Reply:
    db = ctx.db
    s = db.lookup_write(src)
    d = db.lookup_write(dst)
    if s is None:
        return 0  # before any type check, as smoveCommand
    if type(s) not in SET or (d is not None and type(d) not in SET):
        raise WrongTypeError()
    if src == dst:
        return 1 if member in s else 0
    if member not in s:
        return 0
    server = ctx.server
    s.discard(member)
    server.notify("s", "srem", src, db.id)
    if s:
        db.signal_modified(src)
        server.on_key_written(db, src, s)
    else:
        db.delete(src)
        server.notify("g", "del", src, db.id)
    if d is None:
        d = {member}
        set_grew(d, (member,), server.config)
        db.add(dst, d)
    elif member not in d:
        d.add(member)
        setsample.forget(d)
        if not is_hashtable(d):
            set_grew(d, (member,), server.config)
        db.signal_modified(dst)
        server.on_key_written(db, dst, d)
    server.dirty += 1
    server.notify("s", "sadd", dst, db.id)
    return 1


def _sets(ctx: Client, keys: Iterable[bytes], write: bool) -> list[set[bytes] | None]:
    db = ctx.db
    look = db.lookup_write if write else db.lookup_read
    return [look(k, SET) for k in keys]


def _combine(op: str, sets: list[set[bytes] | None]) -> set[bytes]:
    if op == "inter":
        if any(s is None for s in sets):
            return set()
        ordered = sorted(sets, key=len)  # type: ignore[arg-type]
        return set(ordered[0]).intersection(*ordered[1:])  # type: ignore[arg-type]
    if op == "union":
        out: set[bytes] = set()
        for s in sets:
            if s:
                out |= s
        return out
    first = sets[0]
    if first is None:
        return set()
    return set(first).difference(*(s for s in sets[1:] if s))


def _store(ctx: Client, op: str, dst: bytes, keys: tuple[bytes, ...]) -> Reply:
    result = _combine(op, _sets(ctx, keys, True))
    db = ctx.db
    server = ctx.server
    if result:
        db.set(dst, result)
        server.notify("s", f"s{op}store", dst, db.id)
    elif db.delete(dst):
        server.notify("g", "del", dst, db.id)
    server.dirty += 1
    return len(result)


@command("sinter", arity=-2, flags="readonly", keys=(1, -1, 1), acl="@set", group="set",
         summary="Intersect multiple sets")
def sinter(ctx: Client, *keys: bytes) -> Reply:
    return _combine("inter", _sets(ctx, keys, False))


@command("sunion", arity=-2, flags="readonly", keys=(1, -1, 1), acl="@set", group="set",
         summary="Add multiple sets")
def sunion(ctx: Client, *keys: bytes) -> Reply:
    return _combine("union", _sets(ctx, keys, False))


@command("sdiff", arity=-2, flags="readonly", keys=(1, -1, 1), acl="@set", group="set",
         summary="Subtract multiple sets")
def sdiff(ctx: Client, *keys: bytes) -> Reply:
    return _combine("diff", _sets(ctx, keys, False))


@command("sinterstore", arity=-3, flags="write denyoom", keys=(1, -1, 1), acl="@set", group="set",
         summary="Intersect multiple sets and store the resulting set in a key")
def sinterstore(ctx: Client, dst: bytes, *keys: bytes) -> Reply:
    return _store(ctx, "inter", dst, keys)


@command("sunionstore", arity=-3, flags="write denyoom", keys=(1, -1, 1), acl="@set", group="set",
         summary="Add multiple sets and store the resulting set in a key")
def sunionstore(ctx: Client, dst: bytes, *keys: bytes) -> Reply:
    return _store(ctx, "union", dst, keys)


@command("sdiffstore", arity=-3, flags="write denyoom", keys=(1, -1, 1), acl="@set", group="set",
         summary="Subtract multiple sets and store the resulting set in a key")
def sdiffstore(ctx: Client, dst: bytes, *keys: bytes) -> Reply:
    return _store(ctx, "diff", dst, keys)


@command("sintercard", arity=-3, flags="readonly", keys=(0, 0, 0), acl="@set", group="set", since="7.0.0",
         summary="Intersect multiple sets and return the cardinality of the result",
         key_extractor=keys_after_numkeys)
def sintercard(ctx: Client, numkeys: bytes, *rest: bytes) -> Reply:
    n = parse_numkeys(numkeys, len(rest), minimum=1, below_minimum=NUMKEYS_NOT_POSITIVE,
                    not_integer=NUMKEYS_NOT_POSITIVE, too_many=NUMKEYS_TOO_MANY)
    keys = rest[:n]
    limit = intercard_limit(rest[n:])
    sets = _sets(ctx, keys, False)
    if any(s is None for s in sets):
        return 0
    ordered = sorted(sets, key=len)  # type: ignore[arg-type]
    count = 0
    for m in ordered[0]:  # type: ignore[union-attr]
        if all(m in s for s in ordered[1:]):  # type: ignore[operator]
            count += 1
            if limit and count >= limit:
                break
    return count


@command("sscan", arity=-3, flags="readonly", keys=(1, 1, 1), acl="@set", group="set", since="2.8.0",
         summary="Incrementally iterate Set elements")
def sscan(ctx: Client, key: bytes, cursor: bytes, *opts: bytes) -> Reply:
    """One call returns every member and cursor 0, as Redis does for intset-encoded sets;
    a hashtable-encoded one is walked COUNT members per call (engine/collscan.py)."""
    c = scan_cursor(cursor)
    scan = scan_options(opts, allow_type=False)
    pattern, count = scan.pattern, scan.count
    s = ctx.db.lookup_read(key, SET)
    if s is None:
        return [b"0", []]
    nxt = 0
    members: Any = s
    if encoding(s, ctx.server.config) == "hashtable":
        nxt, members = scan_step(ctx.server, s, c, count)
    members = list(members) if pattern is None else [m for m in members if glob_match(pattern, m)]
    return [b"%d" % nxt, members]



