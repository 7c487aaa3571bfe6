"""Persistence commands (rdb.c, aof.c): SAVE, BGSAVE, BGREWRITEAOF, LASTSAVE.

The handlers only check for a running child and shape replies; the mechanism lives in
:mod:`engine.persistence.lifecycle`, which ``Server`` drives (load at start, AOF
propagation, cron, shutdown, the ``appendonly`` / ``appendfsync`` apply hooks).
"""

from __future__ import annotations

from engine import persistence
from engine.client import Client
from engine.errors import BGSAVE_IN_PROGRESS, SYNTAX, CommandError
from engine.persistence import lifecycle
from engine.protocol import OK, Reply, Status
from engine.table import command

__all__ = ["bgrewriteaof", "bgsave", "lastsave", "save"]


@command("save", arity=1, flags="admin noscript no_async_loading no_multi", acl="@admin @slow @dangerous",
         group="server", summary="Synchronously save the dataset to disk")
def save(ctx: Client) -> Reply:
    """SAVE: write the snapshot in the foreground; refused while a BGSAVE child runs."""
    st = persistence.state(ctx.server)
    if st.child_type == lifecycle.CHILD_RDB:
        raise CommandError(BGSAVE_IN_PROGRESS)
    if not persistence.rdb_save(ctx.server):
        raise CommandError("ERR")
    return OK


@command("bgsave", arity=-1, flags="admin noscript no_async_loading", acl="@admin @slow @dangerous",
         group="server", summary="Asynchronously save the dataset to disk")
def bgsave(ctx: Client, *args: bytes) -> Reply:
    """BGSAVE [SCHEDULE] (bgsaveCommand)."""
    schedule = False
    if args:
        if len(args) == 1 and args[0].lower() == b"schedule":
            schedule = True
        else:
            raise CommandError(SYNTAX)
    st = persistence.state(ctx.server)
    if st.child_type == lifecycle.CHILD_RDB:
        raise CommandError(BGSAVE_IN_PROGRESS)
    if st.child_pid is not None:
        if schedule:
            st.rdb_bgsave_scheduled = True
            return Status("Background saving scheduled")
        raise CommandError(
            "ERR Another child process is active (AOF?): can't BGSAVE right now. "
            "Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible."
        )
    if not persistence.rdb_save_background(ctx.server):
        raise CommandError("ERR")
    return Status("Background saving started")


@command("bgrewriteaof", arity=1, flags="admin noscript no_async_loading", acl="@admin @slow @dangerous",
         group="server", summary="Asynchronously rewrite the append-only file")
def bgrewriteaof(ctx: Client) -> Reply:
    """BGREWRITEAOF (bgrewriteaofCommand): scheduled when another child is running."""
    st = persistence.state(ctx.server)
    if st.child_type == lifecycle.CHILD_AOF:
        raise CommandError("ERR Background append only file rewriting already in progress")
    if st.child_pid is not None:
        st.aof_rewrite_scheduled = True
        return Status("Background append only file rewriting scheduled")
    if not persistence.aof_rewrite_background(ctx.server):
        raise CommandError(
            "ERR Can't execute an AOF background rewriting. Please check the server logs for more information."
        )
    return Status("Background append only file rewriting started")


@command("lastsave", arity=1, flags="loading stale fast", acl="@admin @fast @dangerous", group="server",
         summary="Get the UNIX time stamp of the last successful save to disk")
def lastsave(ctx: Client) -> Reply:
    return persistence.state(ctx.server).lastsave
