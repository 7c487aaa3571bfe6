"""Stream commands (t_stream.c): XADD, XRANGE, XREAD, consumer groups, XPENDING, XCLAIM, XINFO ...

Arguments, replies, error texts and keyspace events follow Redis 7.0's t_stream.c; the value
itself is :class:`engine.streamtype.Stream`.  Blocking XREAD/XREADGROUP use the same
mechanism as BLPOP (engine/blocking.py): every XADD signals the key, and the waiting client's
``serve`` callback re-reads the stream.
"""

from __future__ import annotations

import itertools
from typing import Any

from engine.args import integer, parse_int
from engine.blocking import NOT_READY, block, can_block
from engine.client import Client
from engine.errors import (
    BUSYGROUP,
    COUNT_NOT_POSITIVE,
    NO_SUCH_KEY,
    STREAM_BAD_START,
    STREAM_EXHAUSTED,
    STREAM_INVALID_ID,
    SYNTAX,
    TIMEOUT_NEGATIVE,
    TIMEOUT_NOT_INTEGER,
    XADD_SMALLER,
    XADD_ZERO,
    CommandError,
    RedisError,
    TypedNameError,
    no_such_group,
    wrong_arity,
)
from engine.protocol import NULL_ARRAY, OK, Encoded, PairMap, Reply
from engine.streamtype import (
    INVALID_ENTRIES_READ,
    MAX_ID,
    MIN_ID,
    NACK,
    U64,
    Consumer,
    Group,
    Stream,
    StreamID,
    first_from,
    format_id,
)
from engine.table import command, subcommand

__all__ = [
    "STREAM", "parse_id", "xadd", "xlen", "xrange", "xrevrange", "xread", "xreadgroup", "xdel", "xtrim",
    "xack", "xpending", "xclaim", "xautoclaim", "xsetid",
]

STREAM: tuple[type, ...] = (Stream,)


NEEDS_KEY = ("ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use "
             "the MKSTREAM option to create an empty stream automatically.")


# -- IDs ----------------------------------------------------------------------------------
#: addReplySubcommandSyntaxError: the subcommand as typed, the command upper-cased.
SUBCOMMAND_SYNTAX = "ERR unknown subcommand or wrong number of arguments for '{argv1}'. Try {ARGV0} HELP."


def _u64(raw: bytes) -> int | None:
    if not raw or not raw.isdigit():
        return None
    n = int(raw)
    return n if n <= U64 else None


def parse_id(raw: bytes, missing_seq: int = 0, strict: bool = False, allow_partial: bool = False
             ) -> tuple[StreamID, bool]:
    """streamGenericParseIDOrReply: ``ms[-seq]``, ``-``/``+`` unless ``strict``; with
    ``allow_partial`` ``ms-*`` returns ``seq_given=False``.  Returns (id, seq_given)."""
    if len(raw) > 127:
        raise CommandError(STREAM_INVALID_ID)
    if raw == b"-" or raw == b"+":
        if strict:
            raise CommandError(STREAM_INVALID_ID)
        return (MIN_ID if raw == b"-" else MAX_ID), True
    ms_part, dash, seq_part = raw.partition(b"-")
    ms = _u64(ms_part)
    if ms is None:
        raise CommandError(STREAM_INVALID_ID)
    if not dash:
        return (ms, missing_seq), True
    if allow_partial and seq_part == b"*":
        return (ms, 0), False
    seq = _u64(seq_part)
    if seq is None:
        raise CommandError(STREAM_INVALID_ID)
    return (ms, seq), True


def _strict(raw: bytes) -> StreamID:
    return parse_id(raw, strict=True)[0]


def _incr(sid: StreamID) -> StreamID | None:
    ms, seq = sid
    if seq == U64:
        if ms == U64:
            return None
        return (ms + 1, 0)
    return (ms, seq + 1)


def _decr(sid: StreamID) -> StreamID | None:
    ms, seq = sid
    if seq == 0:
        if ms == 0:
            return None
        return (ms - 1, U64)
    return (ms, seq - 1)


def _interval(raw: bytes, missing_seq: int) -> tuple[StreamID, bool]:
    """streamParseIntervalIDOrReply: ``(id`` is exclusive (strict syntax after the paren)."""
    if len(raw) > 1 and raw[:1] == b"(":
        return parse_id(raw[1:], missing_seq, strict=True)[0], True
    return parse_id(raw, missing_seq)[0], False


def _range_bounds(start_raw: bytes, end_raw: bytes) -> tuple[StreamID, StreamID]:
    start, start_ex = _interval(start_raw, 0)
    if start_ex:
        nxt = _incr(start)
        if nxt is None:
            raise CommandError(STREAM_BAD_START)
        start = nxt
    end, end_ex = _interval(end_raw, U64)
    if end_ex:
        prev = _decr(end)
        if prev is None:
            raise CommandError("ERR invalid end ID for the interval")
        end = prev
    return start, end


# -- helpers ------------------------------------------------------------------------------
def _entry(sid: StreamID, fields: list[bytes]) -> list[Any]:
    """An entry as every stream reply gives it: [id, [field, value, ...]]."""
    return [format_id(sid), list(fields)]


def _claimed(s: Stream, sid: StreamID, justid: bool) -> Any:
    """An entry XCLAIM / XAUTOCLAIM claimed: its ID alone with JUSTID, else the entry."""
    return format_id(sid) if justid else _entry(sid, s.entries[sid])


def _entries_read(g: Group) -> int | None:
    """A group's entries-read counter, nil while it is unknown (XINFO GROUPS, XINFO STREAM FULL)."""
    return None if g.entries_read == INVALID_ENTRIES_READ else g.entries_read


def _first(pel: Any, count: int) -> list[tuple[StreamID, NACK]]:
    """The first ``count`` pending entries of a PEL (all of them when count is 0)."""
    items = pel.items()
    return list(items if not count else itertools.islice(items, count))


def _range(s: Stream, start: StreamID, end: StreamID, count: int, rev: bool = False) -> list[Any]:
    if start > end:
        return []
    out = []
    for sid in s.entries.irange(start, end, reverse=rev):
        out.append(_entry(sid, s.entries[sid]))
        if count and len(out) >= count:
            break
    return out


def _changed(ctx: Client, key: bytes, s: Stream, event: str, dirty: int = 1) -> None:
    db = ctx.db
    db.set(key, s, keep_ttl=True)
    ctx.server.notify("t", event, key, db.id)
    ctx.server.dirty += dirty


def _group_or_error(s: Stream | None, key: bytes, group: bytes, where: str = "") -> Group:
    g = s.groups.get(group) if s is not None else None
    if g is None:
        raise RedisError(f"NOGROUP No such key '{key.decode('utf-8', 'replace')}' or consumer group "
                         f"'{group.decode('utf-8', 'replace')}'{where}")
    return g


def _lookup_consumer(ctx: Client, g: Group, name: bytes, refresh: bool = True) -> Consumer | None:
    c = g.consumers.get(name)
    if c is not None and refresh:
        c.seen_time = ctx.server.now_ms()
    return c


def _create_consumer(ctx: Client, key: bytes, g: Group, name: bytes) -> Consumer | None:
    """streamCreateConsumer: None when it exists; fires xgroup-createconsumer."""
    if name in g.consumers:
        return None
    c = g.consumers[name] = Consumer(name, ctx.server.now_ms())
    ctx.server.notify("t", "xgroup-createconsumer", key, ctx.db.id)
    ctx.server.dirty += 1
    return c


def _consumer(ctx: Client, key: bytes, g: Group, name: bytes, props: list[list[bytes]] | None = None) -> Consumer:
    c = _lookup_consumer(ctx, g, name)
    if c is None:
        c = _create_consumer(ctx, key, g, name)
        assert c is not None
        if props is not None:
            props.append([b"XGROUP", b"CREATECONSUMER", key, g.name, name])
    return c


# -- XADD / XTRIM -------------------------------------------------------------------------
class _TrimArgs:
    __slots__ = ("maxlen", "minid", "approx", "limit", "nomkstream", "id", "seq_given", "id_given")

    def __init__(self) -> None:
        self.maxlen: int | None = None
        self.minid: StreamID | None = None
        self.approx = False
        self.limit = 0
        self.nomkstream = False
        self.id: StreamID = MIN_ID
        self.seq_given = True
        self.id_given = False


def _parse_add_trim(ctx: Client, args: tuple[bytes, ...], xadd: bool) -> tuple[_TrimArgs, int]:
    """streamParseAddOrTrimArgsOrReply: returns the options and the index of the ID (XADD)."""
    a = _TrimArgs()
    limit_given = False
    strategy = False
    i = 0
    n = len(args)
    while i < n:
        more = n - 1 - i
        opt = args[i]
        low = opt.lower()
        if xadd and opt == b"*":
            break
        if low in (b"maxlen", b"minid") and more:
            if strategy:
                raise CommandError("ERR syntax error, MAXLEN and MINID options at the same time are not compatible")
            a.approx = False
            nxt = args[i + 1]
            if more >= 2 and nxt == b"~":
                a.approx = True
                i += 1
            elif more >= 2 and nxt == b"=":
                i += 1
            if low == b"maxlen":
                a.maxlen = integer(args[i + 1])
                if a.maxlen < 0:
                    raise CommandError("ERR The MAXLEN argument must be >= 0.")
            else:
                a.minid = _strict(args[i + 1])
            i += 2
            strategy = True
            continue
        if low == b"limit" and more:
            a.limit = integer(args[i + 1])
            if a.limit < 0:
                raise CommandError("ERR The LIMIT argument must be >= 0.")
            limit_given = True
            i += 2
            continue
        if xadd and low == b"nomkstream":
            a.nomkstream = True
            i += 1
            continue
        if xadd:
            a.id, a.seq_given = parse_id(opt, strict=True, allow_partial=True)
            a.id_given = True
            break
        raise CommandError(SYNTAX)
    if a.limit and not strategy:
        raise CommandError("ERR syntax error, LIMIT cannot be used without specifying a trimming strategy")
    if not xadd and not strategy:
        raise CommandError("ERR syntax error, XTRIM must be called with a trimming strategy")
    if limit_given:
        if not a.approx:
            raise CommandError("ERR syntax error, LIMIT cannot be used without the special ~ option")
    elif a.approx:
        a.limit = 100 * ctx.server.config["stream-node-max-entries"]
        if a.limit <= 0 or a.limit > 10000:
            a.limit = 10000
    else:
        a.limit = 0
    return a, i


def _node_limits(ctx: Client) -> tuple[int, int]:
    cfg = ctx.server.config
    values = cfg.values  # the live values by canonical name: two dict reads on XADD's path
    entries, size = values.get("stream-node-max-entries"), values.get("stream-node-max-bytes")
    if entries is None or size is None:
        return cfg["stream-node-max-entries"], cfg["stream-node-max-bytes"]
    return entries, size


def _xadd_auto(ctx: Client, key: bytes, args: tuple[bytes, ...]) -> Reply:
    """XADD key * field value ...: what :func:`xadd` does without options and with an auto ID."""
    db = ctx.db
    server = ctx.server
    s = db.lookup_write(key, STREAM)
    created = s is None
    if created:
        s = Stream()
    if s.last_id == MAX_ID:
        raise CommandError(STREAM_EXHAUSTED)
    now = server.now_ms()
    ms, seq = s.last_id
    # Stream.next_id's first two cases inline: a new ms, or the next sequence within one
    sid = (now, 0) if now > ms else (ms, seq + 1) if seq != U64 else s.next_id(now)
    if sid is None:
        raise CommandError(STREAM_EXHAUSTED)
    values = server.config.values  # _node_limits's two dict reads, inline
    max_entries, max_bytes = values.get("stream-node-max-entries"), values.get("stream-node-max-bytes")
    if max_entries is None or max_bytes is None:
        max_entries, max_bytes = _node_limits(ctx)
    s.append(sid, list(args[1:]), max_entries, max_bytes)
    if created:
        db.add(key, s)
    if server.notify_flags:
        server.notify("t", "xadd", key, db.id)
    if not created:  # the stream stored there changed in place: what db.set adds is done
        db.signal_modified(key)
    server.dirty += 1
    reply = b"%d-%d" % sid
    if server.persistence.aof_file is not None:
        # The AOF gets the ID actually generated, so a replay makes the same entry.
        ctx.also_propagate = [[b"XADD", key, reply, *args[1:]]]
    return reply


@command("xadd", arity=-5, flags="write denyoom fast", keys=(1, 1, 1), acl="@stream", group="stream", since="5.0.0",
         summary="Appends a new entry to a stream")
def xadd(ctx: Client, key: bytes, *args: bytes) -> Reply:
    if args[0] == b"*":  # the common form: no options, auto ID
        if len(args) % 2 == 0 or len(args) < 3:
            raise wrong_arity("xadd")
        return _xadd_auto(ctx, key, args)
    a, idpos = _parse_add_trim(ctx, args, xadd=True)
    fields = list(args[idpos + 1:])
    if len(fields) < 2 or len(fields) % 2:
        raise wrong_arity("xadd")
    if a.id_given and a.seq_given and a.id == MIN_ID:
        raise CommandError(XADD_ZERO)
    db = ctx.db
    s = db.lookup_write(key, STREAM)
    created = False
    if s is None:
        if a.nomkstream:
            return None
        s = Stream()
        created = True
    if s.last_id == MAX_ID:
        raise CommandError(STREAM_EXHAUSTED)
    if a.id_given:
        if a.seq_given:
            sid = a.id
        elif s.last_id[0] == a.id[0]:
            if s.last_id[1] == U64:
                raise CommandError(XADD_SMALLER)
            sid = (s.last_id[0], s.last_id[1] + 1)
        else:
            sid = a.id
        if sid <= s.last_id:
            raise CommandError(XADD_SMALLER)
    else:
        nxt = s.next_id(ctx.server.now_ms())
        if nxt is None:
            raise CommandError(STREAM_EXHAUSTED)
        sid = nxt
    max_entries, max_bytes = _node_limits(ctx)
    s.append(sid, fields, max_entries, max_bytes)
    if created:
        db.add(key, s)
    ctx.server.notify("t", "xadd", key, db.id)
    if not created:
        db.set(key, s, keep_ttl=True)
    ctx.server.dirty += 1
    if a.maxlen is not None or a.minid is not None:
        if s.trim(a.maxlen, a.minid, a.approx, a.limit):
            ctx.server.notify("t", "xtrim", key, db.id)
    reply = b"%d-%d" % sid
    if not (a.id_given and a.seq_given) and ctx.server.persistence.aof_file is not None:
        # The AOF gets the ID actually generated, so a replay makes the same entry.
        ctx.also_propagate = [[b"XADD", key, *args[:idpos], reply, *args[idpos + 1:]]]
    return reply


@command("xtrim", arity=-4, flags="write", keys=(1, 1, 1), acl="@stream", group="stream", since="5.0.0",
         summary="Deletes messages from the beginning of a stream")
def xtrim(ctx: Client, key: bytes, *args: bytes) -> Reply:
    a, _ = _parse_add_trim(ctx, args, xadd=False)
    s = ctx.db.lookup_write(key, STREAM)
    if s is None:
        return 0
    deleted = s.trim(a.maxlen, a.minid, a.approx, a.limit)
    if deleted:
        _changed(ctx, key, s, "xtrim", deleted)
    return deleted


@command("xlen", arity=2, flags="readonly fast", keys=(1, 1, 1), acl="@stream", group="stream", since="5.0.0",
         summary="Return the number of entries in a stream")
def xlen(ctx: Client, key: bytes) -> Reply:
    s = ctx.db.lookup_read(key, STREAM)
    return 0 if s is None else len(s)


def _xrange(ctx: Client, key: bytes, start_raw: bytes, end_raw: bytes, opts: tuple[bytes, ...], rev: bool) -> Reply:
    start, end = _range_bounds(start_raw, end_raw)
    count = -1
    i = 0
    while i < len(opts):
        if opts[i].lower() == b"count" and i + 1 < len(opts):
            count = max(0, integer(opts[i + 1]))
            i += 2
        else:
            raise CommandError(SYNTAX)
    s = ctx.db.lookup_read(key, STREAM)
    if s is None:
        return []
    if count == 0:
        return NULL_ARRAY
    return _range(s, start, end, max(count, 0), rev)


@command("xrange", arity=-4, flags="readonly", keys=(1, 1, 1), acl="@stream", group="stream", since="5.0.0",
         summary="Return a range of elements in a stream, with IDs matching the specified IDs interval")
def xrange(ctx: Client, key: bytes, start: bytes, end: bytes, *opts: bytes) -> Reply:
    return _xrange(ctx, key, start, end, opts, rev=False)


@command("xrevrange", arity=-4, flags="readonly", keys=(1, 1, 1), acl="@stream", group="stream", since="5.0.0",
         summary="Return a range of elements in a stream, with IDs matching the specified IDs interval, "
                 "in reverse order (from greater to smaller IDs) compared to XRANGE")
def xrevrange(ctx: Client, key: bytes, end: bytes, start: bytes, *opts: bytes) -> Reply:
    return _xrange(ctx, key, start, end, opts, rev=True)


@command("xdel", arity=-3, flags="write fast", keys=(1, 1, 1), acl="@stream", group="stream", since="5.0.0",
         summary="Removes the specified entries from the stream. Returns the number of items actually deleted, "
                 "that may be different from the number of IDs passed in case certain IDs do not exist.")
def xdel(ctx: Client, key: bytes, *ids: bytes) -> Reply:
    # Redis 7.0 looks the key up (0, WRONGTYPE) before it parses any ID.
    s = ctx.db.lookup_write(key, STREAM)
    if s is None:
        return 0
    parsed = [_strict(raw) for raw in ids]
    deleted = 0
    first = False
    for sid in parsed:
        if s.delete(sid):
            if sid == s.first_id:
                first = True
            if sid > s.max_deleted_id:
                s.max_deleted_id = sid
            deleted += 1
    if deleted:
        if not s.entries or first:
            s.refresh_first()
        _changed(ctx, key, s, "xdel", deleted)
    return deleted


@command("xsetid", arity=-3, flags="write denyoom fast", keys=(1, 1, 1), acl="@stream", group="stream",
         since="5.0.0", summary="An internal command for replicating stream values")
def xsetid(ctx: Client, key: bytes, id_raw: bytes, *opts: bytes) -> Reply:
    sid = _strict(id_raw)
    entries_added = -1
    max_xdel = MIN_ID
    i = 0
    while i < len(opts):
        low = opts[i].lower()
        if low == b"entriesadded" and i + 1 < len(opts):
            entries_added = integer(opts[i + 1])
            if entries_added < 0:
                raise CommandError("ERR entries_added must be positive")
        elif low == b"maxdeletedid" and i + 1 < len(opts):
            max_xdel = _strict(opts[i + 1])
            if sid < max_xdel:
                raise CommandError("ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id")
        else:
            raise CommandError(SYNTAX)
        i += 2
    s = ctx.db.lookup_write(key, STREAM)
    if s is None:
        raise CommandError(NO_SUCH_KEY)
    if s.entries:
        if sid < s.entries.peekitem(-1)[0]:
            raise CommandError("ERR The ID specified in XSETID is smaller than the target stream top item")
        if entries_added != -1 and len(s) > entries_added:
            raise CommandError("ERR The entries_added specified in XSETID is smaller than the target stream length")
    if sid < s.max_deleted_id:
        raise CommandError("ERR The ID specified in XSETID is smaller than current max_deleted_entry_id")
    s.last_id = sid
    if entries_added != -1:
        s.entries_added = entries_added
    if max_xdel != MIN_ID:
        s.max_deleted_id = max_xdel
    _changed(ctx, key, s, "xsetid")
    return OK


# -- XREAD / XREADGROUP ---------------------------------------------------------------------
def _deliver(ctx: Client, key: bytes, s: Stream, g: Group, consumer: Consumer, start: StreamID, count: int,
             noack: bool, props: list[list[bytes]] | None) -> list[Any]:
    """streamReplyWithRange with a group: new entries after ``start``, into the PELs.  What the
    AOF gets is Redis's propagation of it: an XCLAIM ... FORCE JUSTID per pending entry and an
    XGROUP SETID with the read counter (``props``; None when there is no AOF to append to)."""
    out = []
    now = ctx.server.now_ms()
    entries = s.entries
    gpel = g.pel
    cpel = consumer.pel
    if count == 1 and start in entries:
        sids: Any = (start,)  # the very next ID is an entry (IDs added within one ms): no search
    else:
        i = entries.bisect_left(start)
        stop = len(entries) if not count else min(len(entries), i + count)
        # one entry (COUNT 1, the common read) is fetched by position, not through an iterator
        sids = (entries.peekitem(i)[0],) if stop == i + 1 else entries.islice(i, stop)
    for sid in sids:
        if sid > g.last_id:
            if g.entries_read != INVALID_ENTRIES_READ and (s.max_deleted_id == MIN_ID
                                                           or not s.range_has_tombstones(sid, None)):
                g.entries_read += 1
            elif s.entries_added:
                g.entries_read = s.estimate_distance(sid)
            g.last_id = sid
        out.append([b"%d-%d" % sid, list(entries[sid])])
        if not noack:
            nack = gpel.get(sid)
            if nack is None:
                nack = NACK(now, 1, consumer)
                gpel[sid] = nack
            else:
                nack.consumer.pel.pop(sid, None)
                nack.consumer = consumer
                nack.delivery_time = now
                nack.delivery_count = 1
            cpel[sid] = nack
            if props is not None:
                props.append([b"XCLAIM", key, g.name, consumer.name, b"0", format_id(sid), b"TIME", b"%d" % now,
                              b"RETRYCOUNT", b"1", b"FORCE", b"JUSTID", b"LASTID", format_id(g.last_id)])
    if out and props is not None:
        props.append([b"XGROUP", b"SETID", key, g.name, format_id(g.last_id), b"ENTRIESREAD",
                      b"%d" % g.entries_read])
    return out


def _history(ctx: Client, s: Stream, consumer: Consumer, start: StreamID, count: int) -> list[Any]:
    """streamReplyWithRangeFromConsumerPEL: the consumer's pending entries from ``start``."""
    out: list[Any] = []
    now = ctx.server.now_ms()
    for sid in consumer.pel.irange(start, None):
        fields = s.entries.get(sid)
        if fields is None:
            out.append([format_id(sid), NULL_ARRAY])
        else:
            out.append(_entry(sid, fields))
            nack = consumer.pel[sid]
            nack.delivery_time = now
            nack.delivery_count += 1
        if count and len(out) >= count:
            break
    return out


def _last_valid(s: Stream) -> StreamID:
    return s.entries.peekitem(-1)[0] if s.entries else MIN_ID


def _pack(ctx: Client, pairs: list[tuple[bytes, list[Any]]]) -> Reply:
    if ctx.resp == 3:
        # A key named twice is answered twice, as Redis does (a dict would fold the two); a
        # script gets a Lua table, where the two fold as they do in Redis.
        return {k: v for k, v in pairs} if len(pairs) < 2 or ctx.is_script else PairMap(pairs)
    return [[k, v] for k, v in pairs]


def _xreadgroup_new(ctx: Client, args: tuple[bytes, ...]) -> Reply:
    """XREADGROUP's common form, ``GROUP g c [COUNT n] STREAMS key >``: one stream, new entries,
    no BLOCK/NOACK.  The same checks, in the same order, with the same replies and propagation
    as :func:`_xread_generic` gives this argument list, without its general parse."""
    count = 0 if len(args) == 6 else 1 if args[4] == b"1" else max(0, integer(args[4]))
    key = args[-2]
    s = ctx.db.lookup_read(key, STREAM)
    g = s.groups.get(args[1]) if s is not None else None
    if g is None:
        g = _group_or_error(s, key, args[1], " in XREADGROUP with GROUP option")
    server = ctx.server
    props: list[list[bytes]] | None = [] if server.persistence.aof_file is not None else None
    now = server.now_ms()
    consumer = g.consumers.get(args[2])
    if consumer is not None:  # _consumer's common case inline: a known consumer is seen now
        consumer.seen_time = now
    else:
        consumer = _consumer(ctx, key, g, args[2], props)
    entries = s.entries  # type: ignore[union-attr]
    # the last entry's ID: last_id itself unless XDEL or XSETID left it past the last entry
    if entries and (s.last_id if s.last_id in entries else entries.peekitem(-1)[0]) > g.last_id:  # type: ignore[union-attr]
        server.dirty += 1
        ctx.also_propagate = props
        if count == 1 and props is None and not ctx.is_script:
            return _deliver_one(ctx.resp, key, s, g, consumer, now)  # type: ignore[arg-type]
        out = _deliver(ctx, key, s, g, consumer, _incr(g.last_id) or MAX_ID, count, False, props)  # type: ignore[arg-type]
        return {key: out} if ctx.resp == 3 else [[key, out]]
    if props:
        ctx.also_propagate = props
    return NULL_ARRAY


def _deliver_one(resp: int, key: bytes, s: Stream, g: Group, consumer: Consumer, now: int) -> Encoded:
    """:func:`_deliver` of the one entry after the group's last ID (``COUNT 1``, no AOF to feed,
    at least one such entry), with the XREADGROUP reply written at once: what every read of a
    consumer polling one entry at a time costs (benchmarks/bench_families.py)."""
    entries = s.entries
    ms, seq = g.last_id
    start = (ms, seq + 1) if seq != U64 else _incr(g.last_id) or MAX_ID
    # the very next ID is an entry when IDs were added within one ms; else the next one after it
    sid: StreamID = start if start in entries else first_from(entries, start)  # type: ignore[assignment]
    if g.entries_read != INVALID_ENTRIES_READ and (s.max_deleted_id == MIN_ID or not s.range_has_tombstones(sid, None)):
        g.entries_read += 1
    elif s.entries_added:
        g.entries_read = s.estimate_distance(sid)
    g.last_id = sid
    gpel = g.pel
    nack = gpel.get(sid)
    if nack is None:
        nack = NACK(now, 1, consumer)
        gpel[sid] = nack
    else:  # (pending already: XCLAIM FORCE, or XGROUP SETID moved the group back)
        nack.consumer.pel.pop(sid, None)
        nack.consumer = consumer
        nack.delivery_time = now
        nack.delivery_count = 1
    consumer.pel[sid] = nack
    fields = entries[sid]
    sid_b = b"%d-%d" % sid
    if len(fields) == 2:  # one field: the whole reply in one formatting
        f, v = fields
        return Encoded((_ONE_FIELD_RESP3 if resp == 3 else _ONE_FIELD_RESP2)
                       % (len(key), key, len(sid_b), sid_b, len(f), f, len(v), v))
    head = (_HEAD_RESP3 if resp == 3 else _HEAD_RESP2) % (len(key), key, len(sid_b), sid_b)
    return Encoded(b"".join([head, b"*%d\r\n" % len(fields), *[b"$%d\r\n%s\r\n" % (len(x), x) for x in fields]]))


# _deliver_one's reply: {key: [[id, [field, value, ...]]]} (a map in RESP3, pairs in RESP2)
_HEAD_RESP2 = b"*1\r\n*2\r\n$%d\r\n%s\r\n*1\r\n*2\r\n$%d\r\n%s\r\n"
_HEAD_RESP3 = b"%%1\r\n$%d\r\n%s\r\n*1\r\n*2\r\n$%d\r\n%s\r\n"
_ONE_FIELD_RESP2 = _HEAD_RESP2 + b"*2\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n"
_ONE_FIELD_RESP3 = _HEAD_RESP3 + b"*2\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n"


def _xread_generic(ctx: Client, args: tuple[bytes, ...], xreadgroup: bool) -> Reply:
    n = len(args)
    name = "xreadgroup" if xreadgroup else "xread"
    timeout = -1.0
    count = 0
    streams_arg = -1
    noack = False
    group_name: bytes | None = None
    consumer_name = b""
    i = 0
    while i < n:
        more = n - i - 1
        low = args[i].lower()
        if low == b"block" and more:
            if ctx.is_script:
                raise CommandError(f"ERR {name} command is not allowed with BLOCK option from scripts")
            i += 1
            raw = args[i]
            ms = integer(raw, TIMEOUT_NOT_INTEGER)
            if ms < 0:
                raise CommandError(TIMEOUT_NEGATIVE)
            timeout = ms / 1000.0
        elif low == b"count" and more:
            i += 1
            count = max(0, integer(args[i]))
        elif low == b"streams" and more:
            streams_arg = i + 1
            rest = n - streams_arg
            if rest % 2:
                # Redis 7.0 names XREAD and '$' for XREADGROUP too (7.2 names the command).
                raise CommandError("ERR Unbalanced XREAD list of streams: for each stream key an ID or "
                                   "'$' must be specified.")
            break
        elif low == b"group" and more >= 2:
            if not xreadgroup:
                raise CommandError("ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.")
            group_name, consumer_name = args[i + 1], args[i + 2]
            i += 2
        elif low == b"noack":
            if not xreadgroup:
                raise CommandError("ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.")
            noack = True
        else:
            raise CommandError(SYNTAX)
        i += 1
    if streams_arg < 0:
        raise CommandError(SYNTAX)
    if xreadgroup and group_name is None:
        raise CommandError("ERR Missing GROUP option for XREADGROUP")
    nstreams = (n - streams_arg) // 2
    keys = list(args[streams_arg:streams_arg + nstreams])
    db = ctx.db
    ids: list[StreamID] = []
    groups: list[Group | None] = []
    for j, raw in enumerate(args[streams_arg + nstreams:]):
        key = keys[j]
        s = db.lookup_read(key, STREAM)
        g: Group | None = None
        if group_name is not None:
            g = _group_or_error(s, key, group_name, " in XREADGROUP with GROUP option")
        groups.append(g)
        if raw == b"$":
            if xreadgroup:
                raise CommandError(
                    "ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of "
                    "this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would "
                    "just return an empty result set.")
            ids.append(s.last_id if s is not None else MIN_ID)
            continue
        if raw == b">":
            if not xreadgroup:
                raise CommandError("ERR The > ID can be specified only when calling XREADGROUP using the GROUP "
                                   "<group> <consumer> option.")
            ids.append(MAX_ID)
            continue
        ids.append(_strict(raw))
    out: list[tuple[bytes, list[Any]]] = []
    # the commands the AOF gets instead of XREADGROUP; not built when there is no AOF
    aof = ctx.server.persistence.aof_file
    props: list[list[bytes]] | None = [] if aof is not None else None
    for j, key in enumerate(keys):
        s = db.peek(key) if key in db.data else None
        if type(s) is not Stream:
            continue
        gt = ids[j]
        g = groups[j]
        if g is not None:
            consumer = _consumer(ctx, key, g, consumer_name, props)
            if gt != MAX_ID:
                out.append((key, _history(ctx, s, consumer, _incr(gt) or MAX_ID, count)))
                ctx.server.dirty += 1
            elif s.entries and _last_valid(s) > g.last_id:
                out.append((key, _deliver(ctx, key, s, g, consumer, _incr(g.last_id) or MAX_ID, count, noack,
                                          props)))
                ctx.server.dirty += 1
        elif s.entries and _last_valid(s) > gt:
            start = _incr(gt)
            out.append((key, _range(s, start or MAX_ID, MAX_ID, count)))
    if xreadgroup and (out or props):
        # What the AOF gets instead of XREADGROUP (dispatch consumes it when the call dirtied).
        ctx.also_propagate = props
    if out:
        return _pack(ctx, out)
    if timeout < 0:
        return NULL_ARRAY
    if not can_block(ctx):
        return NULL_ARRAY
    targets = dict(zip(keys, ids, strict=True))

    def serve(client: Client, key: bytes) -> Reply:
        s = client.db.peek(key)
        if type(s) is not Stream:
            return NOT_READY
        gt = targets.get(key)
        if gt is None:
            return NOT_READY
        if group_name is None:
            if not s.entries or _last_valid(s) <= gt:
                return NOT_READY
            return _pack(client, [(key, _range(s, _incr(gt) or MAX_ID, MAX_ID, count))])
        g = s.groups.get(group_name)
        if g is None:
            return RedisError("NOGROUP the consumer group this client was blocked on no longer exists")
        if not s.entries or _last_valid(s) <= g.last_id:
            return NOT_READY
        served: list[list[bytes]] = []
        consumer = _consumer(client, key, g, consumer_name, served)
        client.server.dirty += 1
        reply = _pack(client, [(key, _deliver(client, key, s, g, consumer, _incr(g.last_id) or MAX_ID, count,
                                              noack, served))])
        client.also_propagate = served
        return reply

    block(ctx, tuple(keys), timeout, NULL_ARRAY, serve, name)
    return None


def _xread_keys(argv: list[bytes]) -> list[int]:
    """Key positions of XREAD/XREADGROUP: the first half of the arguments after STREAMS."""
    for i in range(1, len(argv)):
        if argv[i].lower() == b"streams":
            rest = len(argv) - i - 1
            return list(range(i + 1, i + 1 + rest // 2))
    return []


@command("xread", arity=-4, flags="readonly blocking", keys=(0, 0, 0), acl="@stream", group="stream",
         since="5.0.0", key_extractor=_xread_keys,
         summary="Return never seen elements in multiple streams, with IDs greater than the ones reported by the "
                 "caller for each stream. Can block.")
def xread(ctx: Client, *args: bytes) -> Reply:
    return _xread_generic(ctx, args, xreadgroup=False)


@command("xreadgroup", arity=-7, flags="write blocking", keys=(0, 0, 0), acl="@stream", group="stream",
         since="5.0.0", key_extractor=_xread_keys,
         summary="Return new entries from a stream using a consumer group, or access the history of the pending "
                 "entries for a given consumer. Can block.")
def xreadgroup(ctx: Client, *args: bytes) -> Reply:
    n = len(args)
    # GROUP g c [COUNT n] STREAMS key >, the keywords as redis-benchmark and clients send them or not
    if (n == 8 or n == 6) and args[-1] == b">" and (
            (args[-3] == b"STREAMS" and args[0] == b"GROUP" and (n == 6 or args[3] == b"COUNT"))
            or (args[-3].lower() == b"streams" and args[0].lower() == b"group" and (n == 6 or args[3].lower() == b"count"))):
        return _xreadgroup_new(ctx, args)
    return _xread_generic(ctx, args, xreadgroup=True)


# -- XGROUP -------------------------------------------------------------------------------
def _xgroup_common(ctx: Client, key: bytes, group: bytes, mkstream: bool, need_group: bool
                   ) -> tuple[Stream | None, Group | None]:
    s = ctx.db.lookup_write(key, STREAM)
    g = s.groups.get(group) if s is not None else None
    if not mkstream:
        if s is None:
            raise CommandError(NEEDS_KEY)
        if g is None and need_group:
            raise RedisError(no_such_group(key, group))
    return s, g


def _entries_read_opt(raw: bytes) -> int:
    n = integer(raw)
    if n < 0 and n != INVALID_ENTRIES_READ:
        raise CommandError("ERR value for ENTRIESREAD must be positive or -1")
    return n


@subcommand("xgroup", "create", arity=-5, flags="write denyoom", keys=(2, 2, 1), acl="@stream", group="stream",
            since="5.0.0", summary="Create a consumer group.")
def xgroup_create(ctx: Client, key: bytes, group: bytes, id_raw: bytes, *opts: bytes) -> Reply:
    mkstream = False
    entries_read = INVALID_ENTRIES_READ
    i = 0
    while i < len(opts):
        low = opts[i].lower()
        if low == b"mkstream":
            mkstream = True
            i += 1
        elif low == b"entriesread" and i + 1 < len(opts):
            entries_read = _entries_read_opt(opts[i + 1])
            i += 2
        else:
            raise TypedNameError(SUBCOMMAND_SYNTAX)
    s, _ = _xgroup_common(ctx, key, group, mkstream, need_group=False)
    if id_raw == b"$":
        sid = s.last_id if s is not None else MIN_ID
    else:
        sid = _strict(id_raw)
    db = ctx.db
    if s is None:
        s = Stream()
        db.add(key, s)
    if group in s.groups:
        raise RedisError(BUSYGROUP)
    s.groups[group] = Group(group, sid, entries_read)
    ctx.server.dirty += 1
    ctx.server.notify("t", "xgroup-create", key, db.id)
    return OK


@subcommand("xgroup", "setid", arity=-5, flags="write", keys=(2, 2, 1), acl="@stream", group="stream",
            since="5.0.0", summary="Set a consumer group to an arbitrary last delivered ID value.")
def xgroup_setid(ctx: Client, key: bytes, group: bytes, id_raw: bytes, *opts: bytes) -> Reply:
    entries_read = INVALID_ENTRIES_READ
    if opts:
        if len(opts) != 2 or opts[0].lower() != b"entriesread":
            raise TypedNameError(SUBCOMMAND_SYNTAX)
        entries_read = _entries_read_opt(opts[1])
    s, g = _xgroup_common(ctx, key, group, False, need_group=True)
    assert s is not None and g is not None
    sid = s.last_id if id_raw == b"$" else parse_id(id_raw)[0]
    g.last_id = sid
    g.entries_read = entries_read
    ctx.server.dirty += 1
    ctx.server.notify("t", "xgroup-setid", key, ctx.db.id)
    return OK


@subcommand("xgroup", "destroy", arity=4, flags="write", keys=(2, 2, 1), acl="@stream", group="stream",
            since="5.0.0", summary="Destroy a consumer group.")
def xgroup_destroy(ctx: Client, key: bytes, group: bytes) -> Reply:
    s, g = _xgroup_common(ctx, key, group, False, need_group=False)
    assert s is not None
    if g is None:
        return 0
    del s.groups[group]
    ctx.server.dirty += 1
    ctx.server.notify("t", "xgroup-destroy", key, ctx.db.id)
    ctx.db.signal_modified(key)
    return 1


@subcommand("xgroup", "createconsumer", arity=5, flags="write denyoom", keys=(2, 2, 1), acl="@stream",
            group="stream", since="6.2.0", summary="Create a consumer in a consumer group.")
def xgroup_createconsumer(ctx: Client, key: bytes, group: bytes, name: bytes) -> Reply:
    _, g = _xgroup_common(ctx, key, group, False, need_group=True)
    assert g is not None
    return 1 if _create_consumer(ctx, key, g, name) is not None else 0


@subcommand("xgroup", "delconsumer", arity=5, flags="write", keys=(2, 2, 1), acl="@stream", group="stream",
            since="5.0.0", summary="Delete a consumer from a consumer group.")
def xgroup_delconsumer(ctx: Client, key: bytes, group: bytes, name: bytes) -> Reply:
    _, g = _xgroup_common(ctx, key, group, False, need_group=True)
    assert g is not None
    c = g.consumers.get(name)
    if c is None:
        return 0
    pending = len(c.pel)
    for sid in list(c.pel):
        g.pel.pop(sid, None)
    del g.consumers[name]
    ctx.server.dirty += 1
    ctx.server.notify("t", "xgroup-delconsumer", key, ctx.db.id)
    return pending


@subcommand("xgroup", "help", arity=2, flags="loading stale", acl="@stream", group="stream", since="5.0.0",
            summary="Show helpful text about the different subcommands")
def xgroup_help(ctx: Client) -> Reply:
    return [
        b"XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        b"CREATE <key> <groupname> <id|$> [option]",
        b"    Create a new consumer group. Options are:",
        b"    * MKSTREAM",
        b"      Create the empty stream if it does not exist.",
        b"    * ENTRIESREAD entries_read",
        b"      Set the group's entries_read counter (internal use).",
        b"CREATECONSUMER <key> <groupname> <consumer>",
        b"    Create a new consumer in the specified group.",
        b"DELCONSUMER <key> <groupname> <consumer>",
        b"    Remove the specified consumer.",
        b"DESTROY <key> <groupname>",
        b"    Remove the specified group.",
        b"SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
        b"    Set the current group ID and entries_read counter.",
        b"HELP",
        b"    Print this help.",
    ]


# -- XACK / XPENDING / XCLAIM / XAUTOCLAIM -----------------------------------------------------
@command("xack", arity=-4, flags="write fast", keys=(1, 1, 1), acl="@stream", group="stream", since="5.0.0",
         summary="Marks a pending message as correctly processed, effectively removing it from the pending entries "
                 "list of the consumer group. Return value of the command is the number of messages successfully "
                 "acknowledged, that is, the IDs we were actually able to resolve in the PEL.")
def xack(ctx: Client, key: bytes, group: bytes, *ids: bytes) -> Reply:
    # Redis 7.0: no key or no group answers 0 before any ID is parsed.
    s = ctx.db.lookup_write(key, STREAM)
    g = s.groups.get(group) if s is not None else None
    if g is None:
        return 0
    parsed = [_strict(raw) for raw in ids]
    acked = 0
    for sid in parsed:
        nack = g.pel.pop(sid, None)
        if nack is not None:
            nack.consumer.pel.pop(sid, None)
            acked += 1
    if acked:
        ctx.server.dirty += acked
    return acked


@command("xpending", arity=-3, flags="readonly", keys=(1, 1, 1), acl="@stream", group="stream", since="5.0.0",
         summary="Return information and entries from a stream consumer group pending entries list, that are "
                 "messages fetched but never acknowledged.")
def xpending(ctx: Client, key: bytes, group: bytes, *args: bytes) -> Reply:
    justinfo = not args
    total = len(args) + 3
    if total != 3 and (total < 6 or total > 9):
        raise CommandError(SYNTAX)
    minidle = 0
    consumer_name: bytes | None = None
    start = end = MIN_ID
    count = 0
    if args:
        i = 0
        if args[0].lower() == b"idle":
            minidle = integer(args[1])
            if total < 8:
                raise CommandError(SYNTAX)
            i = 2
        count = max(0, integer(args[i + 2]))
        start, end = _range_bounds(args[i], args[i + 1])
        if i + 3 < len(args):
            consumer_name = args[i + 3]
    s = ctx.db.lookup_read(key, STREAM)
    g = _group_or_error(s, key, group)
    if justinfo:
        if not g.pel:
            return [0, None, None, NULL_ARRAY]
        owners: list[Any] = []
        for name in sorted(g.consumers):
            c = g.consumers[name]
            if c.pel:
                owners.append([name, b"%d" % len(c.pel)])
        return [len(g.pel), format_id(g.pel.peekitem(0)[0]), format_id(g.pel.peekitem(-1)[0]), owners]
    pel = g.pel
    if consumer_name is not None:
        owner = g.consumers.get(consumer_name)
        if owner is None:
            return []
        pel = owner.pel
    now = ctx.server.now_ms()
    out: list[Any] = []
    if start > end:
        return out
    for sid in pel.irange(start, end):
        if not count:
            break
        nack = pel[sid]
        idle = now - nack.delivery_time
        if minidle and idle < minidle:
            continue
        out.append([format_id(sid), nack.consumer.name, max(0, idle), nack.delivery_count])
        count -= 1
    return out


@command("xclaim", arity=-6, flags="write fast", keys=(1, 1, 1), acl="@stream", group="stream", since="5.0.0",
         summary="Changes (or acquires) ownership of a message in a consumer group, as if the message was "
                 "delivered to the specified consumer.")
def xclaim(ctx: Client, key: bytes, group: bytes, consumer_name: bytes, minidle_raw: bytes, *args: bytes) -> Reply:
    s = ctx.db.lookup_read(key, STREAM)
    g = _group_or_error(s, key, group)
    assert s is not None
    minidle = max(0, integer(minidle_raw, "ERR Invalid min-idle-time argument for XCLAIM"))
    ids: list[StreamID] = []
    j = 0
    while j < len(args):
        try:
            ids.append(_strict(args[j]))
        except CommandError:
            break
        j += 1
    now = ctx.server.now_ms()
    force = justid = False
    retrycount = -1
    deliverytime = -1
    last_id = MIN_ID
    while j < len(args):
        more = len(args) - 1 - j
        low = args[j].lower()
        if low == b"force":
            force = True
        elif low == b"justid":
            justid = True
        elif low == b"idle" and more:
            j += 1
            deliverytime = now - integer(args[j], "ERR Invalid IDLE option argument for XCLAIM")
        elif low == b"time" and more:
            j += 1
            deliverytime = integer(args[j], "ERR Invalid TIME option argument for XCLAIM")
        elif low == b"retrycount" and more:
            j += 1
            retrycount = integer(args[j], "ERR Invalid RETRYCOUNT option argument for XCLAIM")
        elif low == b"lastid" and more:
            j += 1
            last_id = _strict(args[j])
        else:
            raise CommandError(f"ERR Unrecognized XCLAIM option '{args[j].decode('utf-8', 'replace')}'")
        j += 1
    if last_id > g.last_id:
        g.last_id = last_id
    if deliverytime == -1 or deliverytime < 0 or deliverytime > now:
        deliverytime = now
    consumer: Consumer | None = None
    out: list[Any] = []
    for sid in ids:
        nack = g.pel.get(sid)
        if sid not in s.entries:
            if nack is not None:
                del g.pel[sid]
                nack.consumer.pel.pop(sid, None)
                ctx.server.dirty += 1
            continue
        fresh = False
        if force and nack is None:
            nack = NACK(now, 1, None)  # type: ignore[arg-type]
            g.pel[sid] = nack
            fresh = True
        if nack is None:
            continue
        if not fresh and minidle and now - nack.delivery_time < minidle:
            continue
        if consumer is None:
            consumer = _consumer(ctx, key, g, consumer_name)
        if nack.consumer is not consumer and nack.consumer is not None:
            nack.consumer.pel.pop(sid, None)
        nack.delivery_time = deliverytime
        if retrycount >= 0:
            nack.delivery_count = retrycount
        elif not justid:
            nack.delivery_count += 1
        nack.consumer = consumer
        consumer.pel[sid] = nack
        out.append(_claimed(s, sid, justid))
        ctx.server.dirty += 1
    return out


@command("xautoclaim", arity=-6, flags="write fast", keys=(1, 1, 1), acl="@stream", group="stream",
         since="6.2.0", summary="Changes (or acquires) ownership of messages in a consumer group, as if the "
                                "messages were delivered to the specified consumer.")
def xautoclaim(ctx: Client, key: bytes, group: bytes, consumer_name: bytes, minidle_raw: bytes, start_raw: bytes,
               *opts: bytes) -> Reply:
    minidle = max(0, integer(minidle_raw, "ERR Invalid min-idle-time argument for XAUTOCLAIM"))
    start, start_ex = _interval(start_raw, 0)
    if start_ex:
        nxt = _incr(start)
        if nxt is None:
            raise CommandError(STREAM_BAD_START)
        start = nxt
    count = 100
    justid = False
    j = 0
    while j < len(opts):
        more = len(opts) - 1 - j
        low = opts[j].lower()
        if low == b"count" and more:
            count = parse_int(opts[j + 1]) or 0
            if count < 1 or count > ((1 << 63) - 1) // 16:
                raise CommandError(COUNT_NOT_POSITIVE)
            j += 1
        elif low == b"justid":
            justid = True
        else:
            raise CommandError(SYNTAX)
        j += 1
    s = ctx.db.lookup_read(key, STREAM)
    g = _group_or_error(s, key, group)
    assert s is not None
    attempts = count * 10
    now = ctx.server.now_ms()
    consumer: Consumer | None = None
    claimed: list[Any] = []
    deleted: list[bytes] = []
    candidates = list(g.pel.irange(start, None))
    pos = 0
    while attempts and count and pos < len(candidates):
        attempts -= 1
        sid = candidates[pos]
        pos += 1
        nack = g.pel[sid]
        if sid not in s.entries:
            del g.pel[sid]
            nack.consumer.pel.pop(sid, None)
            deleted.append(format_id(sid))
            ctx.server.dirty += 1
            count -= 1
            continue
        if minidle and now - nack.delivery_time < minidle:
            continue
        if consumer is None:
            consumer = _consumer(ctx, key, g, consumer_name)
        if nack.consumer is not consumer:
            nack.consumer.pel.pop(sid, None)
        nack.delivery_time = now
        if not justid:
            nack.delivery_count += 1
        nack.consumer = consumer
        consumer.pel[sid] = nack
        claimed.append(_claimed(s, sid, justid))
        count -= 1
        ctx.server.dirty += 1
    cursor = format_id(candidates[pos]) if pos < len(candidates) else b"0-0"
    return [cursor, claimed, deleted]


# -- XINFO --------------------------------------------------------------------------------
def _xinfo_stream(ctx: Client, key: bytes, s: Stream, full: bool, count: int) -> Reply:
    keys = len(s.nodes)
    out: dict[bytes, Any] = {
        b"length": len(s),
        b"radix-tree-keys": keys,
        b"radix-tree-nodes": keys + 1 if keys else 1,
        b"last-generated-id": format_id(s.last_id),
        b"max-deleted-entry-id": format_id(s.max_deleted_id),
        b"entries-added": s.entries_added,
        b"recorded-first-entry-id": format_id(s.first_id),
    }
    if not full:
        out[b"groups"] = len(s.groups)
        first = s.entries.peekitem(0) if s.entries else None
        last = s.entries.peekitem(-1) if s.entries else None
        out[b"first-entry"] = _entry(*first) if first else None
        out[b"last-entry"] = _entry(*last) if last else None
        return out
    out[b"entries"] = _range(s, MIN_ID, MAX_ID, count)
    groups = []
    for name in sorted(s.groups):
        g = s.groups[name]
        pel = [[format_id(sid), nack.consumer.name, nack.delivery_time, nack.delivery_count]
               for sid, nack in _first(g.pel, count)]
        consumers = []
        for cname in sorted(g.consumers):
            c = g.consumers[cname]
            cpel = [[format_id(sid), nack.delivery_time, nack.delivery_count] for sid, nack in _first(c.pel, count)]
            consumers.append({b"name": cname, b"seen-time": c.seen_time, b"pel-count": len(c.pel),
                              b"pending": cpel})
        groups.append({
            b"name": name,
            b"last-delivered-id": format_id(g.last_id),
            b"entries-read": _entries_read(g),
            b"lag": s.lag(g),
            b"pel-count": len(g.pel),
            b"pending": pel,
            b"consumers": consumers,
        })
    out[b"groups"] = groups
    return out


@subcommand("xinfo", "stream", arity=-3, flags="readonly", keys=(2, 2, 1), acl="@stream", group="stream",
            since="5.0.0", summary="Get information about a stream")
def xinfo_stream(ctx: Client, key: bytes, *opts: bytes) -> Reply:
    # Redis 7.0 looks the key up (no such key, WRONGTYPE) before it parses FULL/COUNT.
    s = ctx.db.lookup_read(key, STREAM)
    if s is None:
        raise CommandError(NO_SUCH_KEY)
    full = False
    count = 10
    if opts:
        if opts[0].lower() != b"full" or len(opts) not in (1, 3):
            raise TypedNameError(SUBCOMMAND_SYNTAX)
        full = True
        if len(opts) == 3:
            if opts[1].lower() != b"count":
                raise TypedNameError(SUBCOMMAND_SYNTAX)
            count = max(0, integer(opts[2]))
    return _xinfo_stream(ctx, key, s, full, count)


@subcommand("xinfo", "groups", arity=3, flags="readonly", keys=(2, 2, 1), acl="@stream", group="stream",
            since="5.0.0", summary="List the consumer groups of a stream")
def xinfo_groups(ctx: Client, key: bytes) -> Reply:
    s = ctx.db.lookup_read(key, STREAM)
    if s is None:
        raise CommandError(NO_SUCH_KEY)
    out = []
    for name in sorted(s.groups):
        g = s.groups[name]
        out.append({
            b"name": name,
            b"consumers": len(g.consumers),
            b"pending": len(g.pel),
            b"last-delivered-id": format_id(g.last_id),
            b"entries-read": _entries_read(g),
            b"lag": s.lag(g),
        })
    return out


@subcommand("xinfo", "consumers", arity=4, flags="readonly", keys=(2, 2, 1), acl="@stream", group="stream",
            since="5.0.0", summary="List the consumers in a consumer group")
def xinfo_consumers(ctx: Client, key: bytes, group: bytes) -> Reply:
    s = ctx.db.lookup_read(key, STREAM)
    if s is None:
        raise CommandError(NO_SUCH_KEY)
    g = s.groups.get(group)
    if g is None:
        raise RedisError(no_such_group(key, group))
    now = ctx.server.now_ms()
    out = []
    for name in sorted(g.consumers):
        c = g.consumers[name]
        out.append({b"name": name, b"pending": len(c.pel), b"idle": max(0, now - c.seen_time)})
    return out


@subcommand("xinfo", "help", arity=2, flags="loading stale", acl="@stream", group="stream", since="5.0.0",
            summary="Show helpful text about the different subcommands")
def xinfo_help(ctx: Client) -> Reply:
    return [
        b"XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        b"CONSUMERS <key> <groupname>",
        b"    Show consumers of <groupname>.",
        b"GROUPS <key>",
        b"    Show the stream consumer groups.",
        b"STREAM <key> [FULL [COUNT <count>]",
        b"    Show information about the stream.",
        b"HELP",
        b"    Print this help.",
    ]
