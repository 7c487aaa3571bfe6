"""Generic keyspace commands (db.c, expire.c): DEL, EXISTS, ... one function per command."""

from __future__ import annotations

from engine.client import Client
from engine.protocol import Reply
from engine.table import command

__all__ = ["del_", "exists"]


@command("del", arity=-2, flags="write", keys=(1, -1, 1), acl="@keyspace", group="generic",
         summary="Delete a key")
def del_(ctx: Client, *keys: bytes) -> Reply:
    db = ctx.db
    server = ctx.server
    removed = 0
    for key in keys:
        if db.exists(key) and db.delete(key):
            removed += 1
            server.dirty += 1
            server.notify("g", "del", key, db.id)
    return removed


@command("exists", arity=-2, flags="readonly fast", keys=(1, -1, 1), acl="@keyspace", group="generic",
         summary="Determine if a key exists")
def exists(ctx: Client, *keys: bytes) -> Reply:
    db = ctx.db
    return sum(1 for key in keys if db.exists(key))
