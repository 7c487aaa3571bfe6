"""Persistence commands (rdb.c, aof.c): SAVE, BGSAVE, BGREWRITEAOF, LASTSAVE.

Importing this module also wires :mod:`engine.persistence` into every server: the data is
loaded when the server starts (before it listens), write commands and key expirations are
appended to the AOF, the cron reaps BGSAVE / rewrite children and applies the ``save``
rules, shutdown fsyncs and saves, and CONFIG SET ``appendonly`` / ``appendfsync`` take
effect at once.  The mechanism itself lives in :mod:`engine.persistence.lifecycle`.
"""

from __future__ import annotations

from typing import Any

from engine import persistence
from engine.client import Client
from engine.config import PARAMS, Param, register_param
from engine.errors import SYNTAX, CommandError, RedisError
from engine.persistence import lifecycle
from engine.protocol import OK, Reply, Status
from engine.server import Server, on_init, on_start
from engine.table import command

__all__ = ["bgrewriteaof", "bgsave", "lastsave", "save"]


@command("save", arity=1, flags="admin noscript no_async_loading no_multi", acl="@admin @slow @dangerous",
         group="server", summary="Synchronously save the dataset to disk")
def save(ctx: Client) -> Reply:
    """SAVE: write the snapshot in the foreground; refused while a BGSAVE child runs."""
    st = persistence.state(ctx.server)
    if st.child_type == lifecycle.CHILD_RDB:
        raise CommandError("ERR Background save already in progress")
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
        raise CommandError("ERR Background save already in progress")
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


# ---------------------------------------------------------------------------------------
# Wiring into the server


#: Commands that run other commands through ``dispatch.call`` (EXEC, scripts, functions):
#: their inner writes reach the AOF one by one, as Redis 7's effects replication, so the
#: outer command itself must not be appended again (it would apply twice on reload).
_EFFECTS_PROPAGATED = frozenset(
    (b"exec", b"eval", b"evalsha", b"eval_ro", b"evalsha_ro", b"fcall", b"fcall_ro")
)


def _propagate(client: Client, cmd: Any, argv: list[bytes]) -> None:
    """After a command that changed the dataset (dispatch.call): append it to the AOF.

    A command whose effect is not reproduced by replaying its arguments (SPOP, INCRBYFLOAT,
    a script) sets ``ctx.also_propagate`` to the list of commands to append instead, as
    Redis's ``alsoPropagate`` / ``rewriteClientCommandVector``; it is consumed here.
    EXEC and scripts are not appended themselves (see :data:`_EFFECTS_PROPAGATED`).
    """
    override = client.__dict__.pop("also_propagate", None)
    if client.server.persistence.aof_file is None or argv[0].lower() in _EFFECTS_PROPAGATED:  # type: ignore[attr-defined]
        return
    if override is None:
        persistence.propagate(client.server, client.db.id, argv)
    else:
        for a in override:
            persistence.propagate(client.server, client.db.id, list(a))


@on_init
def _init(server: Server) -> None:
    st = persistence.state(server)
    lifecycle._dir(server)  # resolve a relative dir before the server chdirs into it
    st.lastsave = server.lastsave
    server.propagate_hooks.append(_propagate)
    server.expire_hooks.append(lambda db, key: persistence.propagate(server, db.id, [b"DEL", key]))
    server.cron_hooks.append(persistence.cron)
    server.shutdown_hooks.append(lambda srv, save: None if persistence.on_shutdown(srv, save) else None)


@on_start
def _start(server: Server) -> None:
    """loadDataFromDisk: before the server listens; the AOF replays through a fake client."""
    from engine import dispatch

    client = Client(server)

    def execute(argv: list[bytes]) -> None:
        try:
            cmd = dispatch.resolve(argv)
        except RedisError as e:
            raise persistence.PersistenceError(
                f"Unknown command '{argv[0].decode(errors='replace')}' reading the append only file: {e}"
            ) from None
        dispatch.call(client, cmd, argv)

    persistence.load_on_start(server, execute)
    server.dirty = 0
    persistence.state(server).started = True


def _apply_appendonly(server: Any, value: Any) -> None:
    if getattr(persistence.state(server), "started", False):
        persistence.set_appendonly(server, bool(value))


def _apply_appendfsync(server: Any, value: Any) -> None:
    f = persistence.state(server).aof_file
    if f is not None:
        f.appendfsync = str(value)


def _apply_stop_writes(server: Any, value: Any) -> None:
    if getattr(persistence.state(server), "started", False):
        persistence.disk_error(server)


if "stop-writes-on-bgsave-error" not in PARAMS:
    register_param(Param("stop-writes-on-bgsave-error", "bool", True, apply=_apply_stop_writes))
PARAMS["appendonly"].apply = _apply_appendonly
PARAMS["appendfsync"].apply = _apply_appendfsync
