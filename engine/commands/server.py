"""Server commands: SHUTDOWN, DBSIZE, FLUSHDB, FLUSHALL, TIME, COMMAND, ..."""

from __future__ import annotations

import time

from engine.client import Client
from engine.errors import SYNTAX, CommandError
from engine.protocol import OK, Reply
from engine.table import COMMANDS, command, subcommand

__all__ = ["shutdown", "dbsize", "flushdb", "flushall", "time_", "command_count"]


@command("shutdown", arity=-1, flags="admin noscript loading stale no_multi allow_busy", acl="@admin @dangerous",
         group="server", summary="Synchronously save the dataset to disk and then shut down the server")
def shutdown(ctx: Client, *args: bytes) -> Reply:
    save: bool | None = None
    for a in args:
        low = a.lower()
        if low == b"nosave":
            save = False
        elif low == b"save":
            save = True
        elif low in (b"now", b"force", b"abort"):
            continue
        else:
            raise CommandError(SYNTAX)
    ctx.server.request_shutdown(save)
    ctx.close()
    return None


@command("dbsize", arity=1, flags="readonly fast", acl="@keyspace", group="server",
         summary="Return the number of keys in the selected database")
def dbsize(ctx: Client) -> Reply:
    return len(ctx.db)


def _flush_mode(args: tuple[bytes, ...]) -> None:
    if len(args) > 1 or (args and args[0].lower() not in (b"async", b"sync")):
        raise CommandError(SYNTAX)


@command("flushdb", arity=-1, flags="write", acl="@keyspace @dangerous", group="server",
         summary="Remove all keys from the current database")
def flushdb(ctx: Client, *args: bytes) -> Reply:
    _flush_mode(args)
    ctx.server.dirty += ctx.db.flush() or 1
    return OK


@command("flushall", arity=-1, flags="write", acl="@keyspace @dangerous", group="server",
         summary="Remove all keys from all databases")
def flushall(ctx: Client, *args: bytes) -> Reply:
    _flush_mode(args)
    removed = sum(db.flush() for db in ctx.server.dbs)
    ctx.server.dirty += removed + 1
    return OK


@command("time", arity=1, flags="loading stale fast", acl="@fast", group="server", summary="Return the current server time")
def time_(ctx: Client) -> Reply:
    now = time.time_ns() // 1000
    return [str(now // 1_000_000).encode(), str(now % 1_000_000).encode()]


@subcommand("command", "count", arity=2, flags="loading stale", acl="@connection", group="server",
            summary="Get total number of Redis commands")
def command_count(ctx: Client) -> Reply:
    return len(COMMANDS)
