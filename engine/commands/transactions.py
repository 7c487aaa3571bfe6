"""MULTI, EXEC, DISCARD, WATCH, UNWATCH: Redis's optimistic transactions (multi.c).

Dispatch queues the requests of a client in MULTI (``client.multi`` holds ``(cmd, argv)``
pairs) and flags a queued request it refused (unknown command, wrong arity) in
``client.multi_error``; EXEC then answers EXECABORT.  WATCH records ``(db, key)`` pairs;
:meth:`engine.db.Database.signal_modified` sets ``client.dirty_cas`` when a watched key is
written, deleted, expired, evicted or flushed, and EXEC answers a null array.  A WATCHed key
whose TTL passes before EXEC aborts the transaction as well (Redis 7.0 isWatchedKeyExpired).
Time is frozen for the whole EXEC, as Redis 7 does, so every queued command sees one clock.
"""

from __future__ import annotations

from typing import Any

from engine.client import Client
from engine.dispatch import call
from engine.errors import EXECABORT, CommandError, ExecAbortError, RedisError
from engine.protocol import NULL_ARRAY, OK, Reply
from engine.table import command

__all__ = ["multi", "exec_", "exec_abort", "discard", "watch", "unwatch", "unwatch_all"]


def unwatch_all(client: Client) -> None:
    """unwatchAllKeys: forget every watched key and the dirty flag."""
    client.unwatch_all()


def _watched_key_expired(client: Client) -> bool:
    """isWatchedKeyExpired: a watched key whose TTL passed since WATCH."""
    if not client.watched:
        return False
    now = client.server.now_ms()
    already = client.watch_expired
    dbs = client.server.dbs
    for db_id, key in client.watched:
        when = dbs[db_id].expires.get(key)
        if when is not None and when < now and (db_id, key) not in already:
            return True
    return False


def exec_abort(client: Client, err: RedisError) -> RedisError:
    """execCommandAbort (multi.c): discard the transaction and answer EXECABORT with the reason."""
    client.discard_transaction()
    return RedisError(EXECABORT.format(err.reply_text()))


@command("multi", arity=1, flags="noscript loading stale fast allow_busy", acl="@transaction", group="transactions",
         since="1.2.0", summary="Start a transaction")
def multi(ctx: Client) -> Reply:
    if ctx.multi is not None:
        raise CommandError("ERR MULTI calls can not be nested")
    ctx.multi = []
    ctx.multi_error = False
    return OK


@command("discard", arity=1, flags="noscript loading stale fast allow_busy", acl="@transaction",
         group="transactions", since="2.0.0", summary="Discard all commands issued after MULTI")
def discard(ctx: Client) -> Reply:
    if ctx.multi is None:
        raise CommandError("ERR DISCARD without MULTI")
    ctx.discard_transaction()
    return OK


@command("exec", arity=1, flags="noscript loading stale skip_slowlog", acl="@transaction", group="transactions",
         since="1.2.0", summary="Execute all commands issued after MULTI")
def exec_(ctx: Client) -> Reply:
    queued = ctx.multi
    if queued is None:
        raise CommandError("ERR EXEC without MULTI")
    if ctx.multi_error:
        ctx.discard_transaction()
        raise ExecAbortError()
    if ctx.dirty_cas or _watched_key_expired(ctx):
        ctx.discard_transaction()
        return NULL_ARRAY
    server = ctx.server
    if server.maxmemory:
        # processCommand treats EXEC as denyoom when a queued command is (server.c).
        for cmd, _argv in queued:
            if cmd.denyoom:
                rejected = server.before_write(ctx, cmd)
                if rejected is not None:
                    raise exec_abort(ctx, rejected)
                break
    # Unwatch before running: our own writes must not matter, and the keys are free now.
    unwatch_all(ctx)
    ctx.multi = None
    ctx.flags.add("multi")  # blocking commands answer at once inside EXEC (blocking.can_block)
    outer_frozen = server.frozen_ms
    if outer_frozen is None:
        server.frozen_ms = server.now_ms()
    replies: list[Any] = []
    try:
        for cmd, argv in queued:
            replies.append(call(ctx, cmd, argv))
    finally:
        server.frozen_ms = outer_frozen
        ctx.flags.discard("multi")
        ctx.multi_error = False
    return replies


@command("watch", arity=-2, flags="noscript loading stale fast allow_busy", keys=(1, -1, 1), acl="@transaction",
         group="transactions", since="2.2.0", summary="Watch keys to determine execution of the MULTI/EXEC block")
def watch(ctx: Client, *keys: bytes) -> Reply:
    if ctx.multi is not None:
        raise CommandError("ERR WATCH inside MULTI is not allowed")
    db = ctx.db
    now = ctx.server.now_ms()
    for key in keys:
        entry = (db.id, key)
        if entry in ctx.watched:
            continue
        ctx.watched.add(entry)
        db.watched.setdefault(key, set()).add(ctx)
        when = db.expires.get(key)
        if when is not None and when < now:
            ctx.watch_expired.add(entry)
    return OK


@command("unwatch", arity=1, flags="noscript loading stale fast allow_busy", acl="@transaction",
         group="transactions", since="2.2.0", summary="Forget about all watched keys")
def unwatch(ctx: Client) -> Reply:
    unwatch_all(ctx)
    return OK
