"""List commands (t_list.c), blocking forms included.

A list is a ``collections.deque``: pushes and pops at both ends are O(1), as on Redis's
quicklist.  Empty lists are deleted (Redis never keeps an empty list), every change bumps
``server.dirty`` and fires the keyspace event Redis names.  The blocking commands park the
client through engine/blocking.py and are served by the same pop functions used here.
"""

from __future__ import annotations

from collections import deque
from itertools import islice
from typing import Any

from engine import blocking
from engine.args import LLONG_MIN, integer, keys_after_numkeys, mpop, positive
from engine.client import Client
from engine.db import Database
from engine.errors import (
    NO_SUCH_KEY,
    OUT_OF_RANGE,
    SYNTAX,
    CommandError,
)
from engine.objects import LIST
from engine.protocol import NULL_ARRAY, OK, Reply
from engine.table import command

__all__ = [
    "lpush", "rpush", "lpushx", "rpushx", "lpop", "rpop", "lrange", "llen", "lindex", "lset", "lrem",
    "ltrim", "linsert", "lpos", "lmove", "rpoplpush", "lmpop", "blpop", "brpop", "blmove", "brpoplpush",
    "blmpop",
]



def _where(raw: bytes) -> bool:
    """LEFT -> True, RIGHT -> False (getListPositionFromObjectOrReply)."""
    w = raw.lower()
    if w == b"left":
        return True
    if w == b"right":
        return False
    raise CommandError(SYNTAX)


def _push(ctx: Client, key: bytes, elements: tuple[bytes, ...], left: bool, only_existing: bool) -> Reply:
    db = ctx.db
    lst = db.lookup_write(key, LIST)
    if lst is None:
        if only_existing:
            return 0
        lst = deque()
        if left:
            lst.extendleft(elements)
        else:
            lst.extend(elements)
        db.add(key, lst)
    else:
        if left:
            lst.extendleft(elements)
        else:
            lst.extend(elements)
        db.signal_modified(key)
        ctx.server.on_key_written(db, key, lst)
    ctx.server.dirty += len(elements)
    ctx.server.notify("l", "lpush" if left else "rpush", key, db.id)
    return len(lst)


@command("lpush", arity=-3, flags="write denyoom fast", keys=(1, 1, 1), acl="@list", group="list",
         summary="Prepend one or multiple elements to a list")
def lpush(ctx: Client, key: bytes, *elements: bytes) -> Reply:
    return _push(ctx, key, elements, True, False)


@command("rpush", arity=-3, flags="write denyoom fast", keys=(1, 1, 1), acl="@list", group="list",
         summary="Append one or multiple elements to a list")
def rpush(ctx: Client, key: bytes, *elements: bytes) -> Reply:
    return _push(ctx, key, elements, False, False)


@command("lpushx", arity=-3, flags="write denyoom fast", keys=(1, 1, 1), acl="@list", group="list",
         since="2.2.0", summary="Prepend an element to a list, only if the list exists")
def lpushx(ctx: Client, key: bytes, *elements: bytes) -> Reply:
    return _push(ctx, key, elements, True, True)


@command("rpushx", arity=-3, flags="write denyoom fast", keys=(1, 1, 1), acl="@list", group="list",
         since="2.2.0", summary="Append an element to a list, only if the list exists")
def rpushx(ctx: Client, key: bytes, *elements: bytes) -> Reply:
    return _push(ctx, key, elements, False, True)


def pop_elements(ctx: Client, db: Database, key: bytes, lst: deque[bytes], left: bool, count: int) -> list[bytes]:
    """Pop up to ``count`` elements, fire the event, delete the list when it empties."""
    n = min(count, len(lst))
    take = lst.popleft if left else lst.pop
    out = [take() for _ in range(n)]
    ctx.server.dirty += 1
    ctx.server.notify("l", "lpop" if left else "rpop", key, db.id)
    if lst:
        db.signal_modified(key)
        ctx.server.on_key_written(db, key, lst)
    else:
        db.delete(key)
        ctx.server.notify("g", "del", key, db.id)
    return out


def _pop(ctx: Client, left: bool, key: bytes, count_arg: tuple[bytes, ...]) -> Reply:
    if len(count_arg) > 1:
        from engine.errors import wrong_arity

        raise wrong_arity("lpop" if left else "rpop")
    has_count = bool(count_arg)
    count = 1
    if has_count:  # getPositiveLongFromObjectOrReply: one message for "abc" and "-1"
        count = positive(count_arg[0])
    db = ctx.db
    lst = db.lookup_write(key, LIST)
    if lst is None:
        return NULL_ARRAY if has_count else None
    if has_count and count == 0:
        return []
    out = pop_elements(ctx, db, key, lst, left, count)
    return out if has_count else out[0]


@command("lpop", arity=-2, flags="write fast", keys=(1, 1, 1), acl="@list", group="list",
         summary="Remove and get the first elements in a list")
def lpop(ctx: Client, key: bytes, *count: bytes) -> Reply:
    return _pop(ctx, True, key, count)


@command("rpop", arity=-2, flags="write fast", keys=(1, 1, 1), acl="@list", group="list",
         summary="Remove and get the last elements in a list")
def rpop(ctx: Client, key: bytes, *count: bytes) -> Reply:
    return _pop(ctx, False, key, count)


def _slice(n: int, start: int, end: int) -> tuple[int, int] | None:
    """Normalise a Redis inclusive [start, end] over n elements; None when empty."""
    if start < 0:
        start += n
    if end < 0:
        end += n
    if start < 0:
        start = 0
    if start > end or start >= n:
        return None
    if end >= n:
        end = n - 1
    return start, end


@command("lrange", arity=4, flags="readonly", keys=(1, 1, 1), acl="@list", group="list",
         summary="Get a range of elements from a list")
def lrange(ctx: Client, key: bytes, start: bytes, stop: bytes) -> Reply:
    s, e = integer(start), integer(stop)
    lst = ctx.db.lookup_read(key, LIST)
    if lst is None:
        return []
    span = _slice(len(lst), s, e)
    if span is None:
        return []
    s, e = span
    n = len(lst)
    if s > n - 1 - e:  # closer to the tail: walk from the right
        return list(islice(reversed(lst), n - 1 - e, n - s))[::-1]
    return list(islice(lst, s, e + 1))


@command("llen", arity=2, flags="readonly fast", keys=(1, 1, 1), acl="@list", group="list",
         summary="Get the length of a list")
def llen(ctx: Client, key: bytes) -> Reply:
    lst = ctx.db.lookup_read(key, LIST)
    return 0 if lst is None else len(lst)


@command("lindex", arity=3, flags="readonly", keys=(1, 1, 1), acl="@list", group="list",
         summary="Get an element from a list by its index")
def lindex(ctx: Client, key: bytes, index: bytes) -> Reply:
    lst = ctx.db.lookup_read(key, LIST)  # lindexCommand: the key and its type before the index
    if lst is None:
        return None
    i = integer(index)
    if -len(lst) <= i < len(lst):
        return lst[i]
    return None


@command("lset", arity=4, flags="write denyoom", keys=(1, 1, 1), acl="@list", group="list",
         summary="Set the value of an element in a list by its index")
def lset(ctx: Client, key: bytes, index: bytes, element: bytes) -> Reply:
    db = ctx.db
    lst = db.lookup_write(key, LIST)  # lsetCommand: the key and its type before the index
    if lst is None:
        raise CommandError(NO_SUCH_KEY)
    i = integer(index)
    if not -len(lst) <= i < len(lst):
        raise CommandError(OUT_OF_RANGE)
    lst[i] = element
    db.signal_modified(key)
    ctx.server.on_key_written(db, key, lst)
    ctx.server.dirty += 1
    ctx.server.notify("l", "lset", key, db.id)
    return OK


@command("lrem", arity=4, flags="write", keys=(1, 1, 1), acl="@list", group="list",
         summary="Remove elements from a list")
def lrem(ctx: Client, key: bytes, count: bytes, element: bytes) -> Reply:
    n = integer(count)
    db = ctx.db
    lst = db.lookup_write(key, LIST)
    if lst is None:
        return 0
    removed = 0
    limit = abs(n) if n else len(lst)
    if n >= 0:
        kept: list[bytes] = []
        for item in lst:
            if removed < limit and item == element:
                removed += 1
            else:
                kept.append(item)
    else:
        kept = []
        for item in reversed(lst):
            if removed < limit and item == element:
                removed += 1
            else:
                kept.append(item)
        kept.reverse()
    if removed:
        lst.clear()
        lst.extend(kept)
        ctx.server.dirty += removed
        ctx.server.notify("l", "lrem", key, db.id)
        if lst:
            db.signal_modified(key)
            ctx.server.on_key_written(db, key, lst)
        else:
            db.delete(key)
            ctx.server.notify("g", "del", key, db.id)
    return removed


@command("ltrim", arity=4, flags="write", keys=(1, 1, 1), acl="@list", group="list",
         summary="Trim a list to the specified range")
def ltrim(ctx: Client, key: bytes, start: bytes, stop: bytes) -> Reply:
    s, e = integer(start), integer(stop)
    db = ctx.db
    lst = db.lookup_write(key, LIST)
    if lst is None:
        return OK
    n = len(lst)
    span = _slice(n, s, e)
    if span is None:
        ltrim_count, rtrim_count = n, 0
    else:
        ltrim_count, rtrim_count = span[0], n - 1 - span[1]
    for _ in range(ltrim_count):
        lst.popleft()
    for _ in range(rtrim_count):
        lst.pop()
    ctx.server.notify("l", "ltrim", key, db.id)
    if lst:
        db.signal_modified(key)
        ctx.server.on_key_written(db, key, lst)
    else:
        db.delete(key)
        ctx.server.notify("g", "del", key, db.id)
    ctx.server.dirty += ltrim_count + rtrim_count
    return OK


@command("linsert", arity=5, flags="write denyoom", keys=(1, 1, 1), acl="@list", group="list",
         since="2.2.0", summary="Insert an element before or after another element in a list")
def linsert(ctx: Client, key: bytes, where: bytes, pivot: bytes, element: bytes) -> Reply:
    w = where.lower()
    if w not in (b"before", b"after"):
        raise CommandError(SYNTAX)
    db = ctx.db
    lst = db.lookup_write(key, LIST)
    if lst is None:
        return 0
    try:
        i = lst.index(pivot)
    except ValueError:
        return -1
    lst.insert(i if w == b"before" else i + 1, element)
    db.signal_modified(key)
    ctx.server.on_key_written(db, key, lst)
    ctx.server.dirty += 1
    ctx.server.notify("l", "linsert", key, db.id)
    return len(lst)


@command("lpos", arity=-3, flags="readonly", keys=(1, 1, 1), acl="@list", group="list",
         since="6.0.6", summary="Return the index of matching elements on a list")
def lpos(ctx: Client, key: bytes, element: bytes, *options: bytes) -> Reply:
    rank, count, maxlen = 1, -1, 0
    i = 0
    while i < len(options):
        opt = options[i].lower()
        if i + 1 >= len(options):
            raise CommandError(SYNTAX)
        raw = options[i + 1]
        if opt == b"rank":
            rank = integer(raw)
            if rank == LLONG_MIN:
                rank = -1  # Redis negates it in a long: it stays negative, the first match from the tail
            if rank == 0:
                raise CommandError(
                    "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... "
                    "or use negative to start from the end of the list")
        elif opt == b"count":
            count = positive(raw, "ERR COUNT can't be negative")
        elif opt == b"maxlen":
            maxlen = positive(raw, "ERR MAXLEN can't be negative")
        else:
            raise CommandError(SYNTAX)
        i += 2
    lst = ctx.db.lookup_read(key, LIST)
    if lst is None:
        return [] if count != -1 else None
    n = len(lst)
    want = count if count > 0 else (n if count == 0 else 1)
    skip = abs(rank) - 1
    found: list[int] = []
    if rank > 0:
        seq: Any = enumerate(lst)
    else:
        seq = ((n - 1 - j, v) for j, v in enumerate(reversed(lst)))
    for scanned, (idx, value) in enumerate(seq):
        if maxlen and scanned >= maxlen:
            break
        if value == element:
            if skip:
                skip -= 1
                continue
            found.append(idx)
            if len(found) >= want:
                break
    if count == -1:
        return found[0] if found else None
    return found


def _move(ctx: Client, src: bytes, dst: bytes, wherefrom: bool, whereto: bool) -> Reply:
    """lmoveGenericCommand: pop from ``src``, push onto ``dst`` (same key rotates)."""
    db = ctx.db
    lst = db.lookup_write(src, LIST)
    if lst is None:
        return None
    dst_list = db.lookup_write(dst, LIST)  # WRONGTYPE before popping
    value = lst.popleft() if wherefrom else lst.pop()
    server = ctx.server
    if src == dst:
        dst_list = lst
    if dst_list is None:
        dst_list = deque()
        db.add(dst, dst_list)
    if whereto:
        dst_list.appendleft(value)
    else:
        dst_list.append(value)
    # lmoveGenericCommand's order: the push event, then the pop event, then "del"
    server.notify("l", "lpush" if whereto else "rpush", dst, db.id)
    server.notify("l", "lpop" if wherefrom else "rpop", src, db.id)
    db.signal_modified(dst)
    server.on_key_written(db, dst, dst_list)
    if not lst:
        db.delete(src)
        server.notify("g", "del", src, db.id)
    elif src != dst:
        db.signal_modified(src)
        server.on_key_written(db, src, lst)
    server.dirty += 1
    return value


@command("lmove", arity=5, flags="write denyoom", keys=(1, 2, 1), acl="@list", group="list",
         since="6.2.0", summary="Pop an element from a list, push it to another list and return it")
def lmove(ctx: Client, src: bytes, dst: bytes, wherefrom: bytes, whereto: bytes) -> Reply:
    return _move(ctx, src, dst, _where(wherefrom), _where(whereto))


@command("rpoplpush", arity=3, flags="write denyoom", keys=(1, 2, 1), acl="@list", group="list",
         since="1.2.0", summary="Remove the last element in a list, prepend it to another list and return it")
def rpoplpush(ctx: Client, src: bytes, dst: bytes) -> Reply:
    return _move(ctx, src, dst, False, True)


@command("lmpop", arity=-4, flags="write", keys=(0, 0, 0), acl="@list", group="list", since="7.0.0",
         summary="Pop elements from a list", key_extractor=keys_after_numkeys)
def lmpop(ctx: Client, *args: bytes) -> Reply:
    keys, left, count = mpop(args, (b"left", b"right"))
    db = ctx.db
    for key in keys:
        lst = db.lookup_write(key, LIST)
        if lst is not None:
            return [key, pop_elements(ctx, db, key, lst, left, count)]
    return NULL_ARRAY


# -- blocking forms -------------------------------------------------------------------------


def _first_list(ctx: Client, keys: tuple[bytes, ...]) -> tuple[bytes, deque[bytes]] | None:
    db = ctx.db
    for key in keys:
        lst = db.lookup_write(key, LIST)
        if lst is not None:
            return key, lst
    return None


def _ready_list(ctx: Client, key: bytes) -> deque[bytes] | None:
    state = ctx.blocked
    db = state.db if state is not None else ctx.db
    value = db.lookup_write(key)
    return value if type(value) is deque else None


def _bpop(ctx: Client, args: tuple[bytes, ...], left: bool) -> Reply:
    name = "blpop" if left else "brpop"
    timeout = blocking.parse_timeout(args[-1], ctx.server.now_ms())
    keys = args[:-1]
    found = _first_list(ctx, keys)
    twin = b"LPOP" if left else b"RPOP"
    if found is not None:
        key, lst = found
        blocking.propagate_as(ctx, [twin, key])
        return [key, pop_elements(ctx, ctx.db, key, lst, left, 1)[0]]
    if not blocking.can_block(ctx):
        return NULL_ARRAY

    def serve(client: Client, key: bytes) -> Reply:
        lst = _ready_list(client, key)
        if lst is None:
            return blocking.NOT_READY
        blocking.propagate_as(client, [twin, key])
        return [key, pop_elements(client, blocking.blocked_db(client), key, lst, left, 1)[0]]

    blocking.block(ctx, keys, timeout, NULL_ARRAY, serve, name)
    return None


@command("blpop", arity=-3, flags="write noscript blocking", keys=(1, -2, 1), acl="@list", group="list",
         summary="Remove and get the first element in a list, or block until one is available")
def blpop(ctx: Client, *args: bytes) -> Reply:
    return _bpop(ctx, args, True)


@command("brpop", arity=-3, flags="write noscript blocking", keys=(1, -2, 1), acl="@list", group="list",
         summary="Remove and get the last element in a list, or block until one is available")
def brpop(ctx: Client, *args: bytes) -> Reply:
    return _bpop(ctx, args, False)


def _bmove(ctx: Client, name: str, src: bytes, dst: bytes, wherefrom: bool, whereto: bool, raw_timeout: bytes) -> Reply:
    timeout = blocking.parse_timeout(raw_timeout, ctx.server.now_ms())
    twin = [b"LMOVE", src, dst, b"LEFT" if wherefrom else b"RIGHT", b"LEFT" if whereto else b"RIGHT"]
    db = ctx.db
    if db.lookup_write(src, LIST) is not None:
        value = _move(ctx, src, dst, wherefrom, whereto)  # may raise WRONGTYPE: record nothing
        blocking.propagate_as(ctx, twin)
        return value
    if not blocking.can_block(ctx):
        return None

    def serve(client: Client, key: bytes) -> Reply:
        if _ready_list(client, key) is None:
            return blocking.NOT_READY
        # serveClientBlockedOnList: a destination of the wrong type answers WRONGTYPE (raised
        # by _move before it pops) and unblocks this client; the elements stay in the source
        # for the next waiter.
        value = _move(client, src, dst, wherefrom, whereto)
        blocking.propagate_as(client, twin)
        return value

    # A timed-out blocked client gets a null array (replyToBlockedClientTimedOut), while one
    # that may not block (MULTI, scripts) got a null bulk above, as Redis 7.0 answers.
    blocking.block(ctx, (src,), timeout, NULL_ARRAY, serve, name)
    return None


@command("blmove", arity=6, flags="write denyoom noscript blocking", keys=(1, 2, 1), acl="@list", group="list",
         since="6.2.0", summary="Pop an element from a list, push it to another list and return it; or block until one is available")
def blmove(ctx: Client, src: bytes, dst: bytes, wherefrom: bytes, whereto: bytes, timeout: bytes) -> Reply:
    return _bmove(ctx, "blmove", src, dst, _where(wherefrom), _where(whereto), timeout)


@command("brpoplpush", arity=4, flags="write denyoom noscript blocking", keys=(1, 2, 1), acl="@list", group="list",
         since="2.2.0", summary="Pop an element from a list, push it to another list and return it; or block until one is available")
def brpoplpush(ctx: Client, src: bytes, dst: bytes, timeout: bytes) -> Reply:
    return _bmove(ctx, "brpoplpush", src, dst, False, True, timeout)


@command("blmpop", arity=-5, flags="write blocking", keys=(0, 0, 0), acl="@list", group="list", since="7.0.0",
         summary="Pop elements from a list, or block until one is available",
         key_extractor=lambda argv: keys_after_numkeys(argv, 2))
def blmpop(ctx: Client, raw_timeout: bytes, *args: bytes) -> Reply:
    timeout = blocking.parse_timeout(raw_timeout, ctx.server.now_ms())
    keys, left, count = mpop(args, (b"left", b"right"))
    found = _first_list(ctx, keys)
    twin = b"LPOP" if left else b"RPOP"
    if found is not None:
        key, lst = found
        blocking.propagate_as(ctx, [twin, key, b"%d" % count])
        return [key, pop_elements(ctx, ctx.db, key, lst, left, count)]
    if not blocking.can_block(ctx):
        return NULL_ARRAY

    def serve(client: Client, key: bytes) -> Reply:
        lst = _ready_list(client, key)
        if lst is None:
            return blocking.NOT_READY
        blocking.propagate_as(client, [twin, key, b"%d" % count])
        return [key, pop_elements(client, blocking.blocked_db(client), key, lst, left, count)]

    blocking.block(ctx, keys, timeout, NULL_ARRAY, serve, "blmpop")
    return None
