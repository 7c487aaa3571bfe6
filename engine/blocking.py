"""Blocking commands (blocked.c): BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP, BZPOPMIN,
BZPOPMAX, BZMPOP wait for a key instead of answering nil.

The design follows Redis 7.0:

* A handler that cannot serve calls :func:`block`, which stores a :class:`BlockState` in
  ``ctx.blocked`` and appends the client to ``db.blocking[key]`` (a FIFO per key).  The
  connection stops reading that client's input while ``client.blocked`` is set.
* Every write goes through ``db.signal_modified``, which appends ``(db, key)`` to
  ``server.ready_keys`` when someone waits on the key (signalKeyAsReady).
* After each top-level command (``dispatch.process_command``, so only once a MULTI/EXEC or a
  script has finished), :func:`handle_clients_blocked_on_keys` serves the ready keys: the
  clients of one key in the order they blocked (first blocked, first served), each through
  the ``serve`` callback the command left behind, which re-checks the key and pops.
* The timeout is a ``loop.call_later`` timer (Redis checks timeouts in its cron; a timer gives
  the same reply with finer resolution).  A client that goes away is removed everywhere.
* Clients that must not block (inside MULTI, Lua scripts, fake clients without a socket) get
  the timeout reply at once, as CLIENT_DENY_BLOCKING does.

What a served blocking command appends to the AOF is its non-blocking twin (BLPOP -> LPOP,
BLMOVE -> LMOVE), as Redis rewrites the command vector.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from engine.errors import (
    NOT_INTEGER,
    TIMEOUT_NEGATIVE,
    TIMEOUT_NOT_FLOAT,
    TIMEOUT_OUT_OF_RANGE,
    CommandError,
    RedisError,
)
from engine.protocol import Reply, encode
from engine.table import COMMANDS, subcommand

if TYPE_CHECKING:
    from engine.client import Client
    from engine.db import Database
    from engine.server import Server

__all__ = [
    "BlockState",
    "NOT_READY",
    "blocked_db",
    "parse_timeout",
    "can_block",
    "block",
    "unblock",
    "handle_clients_blocked_on_keys",
    "propagate_as",
]

UNBLOCKED_ERROR = "UNBLOCKED client unblocked via CLIENT UNBLOCK"


class _NotReady:
    __slots__ = ()

    def __repr__(self) -> str:
        return "NOT_READY"


#: What a ``serve`` callback returns when the key still cannot satisfy the client.
NOT_READY: Any = _NotReady()

Serve = Callable[["Client", bytes], Reply]


@dataclass(eq=False)
class BlockState:
    """Why a client waits: its keys, what to answer on timeout, how to serve it."""

    db: Database
    keys: tuple[bytes, ...]
    timeout_reply: Reply
    serve: Serve
    command: str
    timer: Any = None
    extra: dict[str, Any] = field(default_factory=dict)


def parse_timeout(raw: bytes, now_ms: int) -> float:
    """getTimeoutFromObjectOrReply: float seconds -> seconds to wait (0 = forever)."""
    try:
        if not raw or raw.strip() != raw:
            raise ValueError
        seconds = float(raw)
    except ValueError:
        raise CommandError(TIMEOUT_NOT_FLOAT) from None
    if math.isnan(seconds) or math.isinf(seconds):
        raise CommandError(TIMEOUT_NOT_FLOAT)
    ms = int(seconds * 1000.0)
    if ms < 0:
        raise CommandError(TIMEOUT_NEGATIVE)
    if ms > (1 << 63) - 1 - now_ms:
        raise CommandError(TIMEOUT_OUT_OF_RANGE)
    return ms / 1000.0


def can_block(ctx: Client) -> bool:
    """False inside MULTI/EXEC, scripts and fake clients (CLIENT_DENY_BLOCKING)."""
    return (
        ctx.multi is None
        and not ctx.is_script
        and "deny_blocking" not in ctx.flags
        and "multi" not in ctx.flags
        and ctx.conn is not None
    )


def block(ctx: Client, keys: tuple[bytes, ...], timeout_s: float, timeout_reply: Reply, serve: Serve,
          command: str) -> None:
    """blockForKeys: park ``ctx`` on ``keys`` until served, timed out or unblocked."""
    db = ctx.db
    state = BlockState(db, tuple(dict.fromkeys(keys)), timeout_reply, serve, command)
    for key in state.keys:
        queue = db.blocking.get(key)
        if queue is None:
            queue = db.blocking[key] = deque()
        queue.append(ctx)
    ctx.blocked = state
    server = ctx.server
    if timeout_s > 0 and server.loop is not None:
        state.timer = server.loop.call_later(timeout_s, _timed_out, ctx, state)


def _detach(client: Client, state: BlockState) -> None:
    db = state.db
    for key in state.keys:
        queue = db.blocking.get(key)
        if queue is None:
            continue
        try:
            queue.remove(client)
        except ValueError:
            pass
        if not queue:
            del db.blocking[key]
    if state.timer is not None:
        state.timer.cancel()
        state.timer = None
    client.blocked = None


def _reply_and_resume(client: Client, reply: Reply) -> None:
    client.write(encode(reply, client.resp))
    conn = client.conn
    loop = client.server.loop
    if conn is not None:
        if loop is not None:
            loop.call_soon(conn.resume)
        else:
            conn.resume()


def _timed_out(client: Client, state: BlockState) -> None:
    if client.blocked is not state:
        return
    state.timer = None
    _detach(client, state)
    _reply_and_resume(client, state.timeout_reply)


def unblock(client: Client, reply: Reply) -> bool:
    """Unblock ``client`` answering ``reply`` (CLIENT UNBLOCK); False if it was not blocked."""
    state = client.blocked
    if state is None:
        return False
    _detach(client, state)
    _reply_and_resume(client, reply)
    return True


def blocked_db(client: Client) -> Database:
    """The database a client being served is blocked in (for the family's serve callback)."""
    state = client.blocked
    assert state is not None, "only a blocked client is served"
    return state.db


def propagate_as(ctx: Client, argv: list[bytes]) -> None:
    """Record ``argv`` (the non-blocking twin) as what the AOF gets for this command."""
    ctx.also_propagate = [argv]


def handle_clients_blocked_on_keys(server: Server) -> None:
    """handleClientsBlockedOnKeys: serve every ready key's waiters in FIFO order.  Serving
    may make further keys ready (BLMOVE pushes), so loop until nothing is left."""
    while server.ready_keys:
        ready, server.ready_keys = server.ready_keys, []
        seen: set[tuple[int, bytes]] = set()
        for db, key in ready:
            if (db.id, key) in seen:
                continue
            seen.add((db.id, key))
            queue = db.blocking.get(key)
            if not queue:
                continue
            for client in list(queue):
                state = client.blocked
                if state is None or state.db is not db:
                    continue
                if key not in db.data:
                    break
                dirty_before = server.dirty
                try:
                    reply = state.serve(client, key)
                except RedisError as e:
                    reply = e
                if reply is NOT_READY:
                    continue
                _detach(client, state)
                cmd = COMMANDS.get(state.command.encode())
                if cmd is not None:
                    cmd.calls += 1
                    server.stats.total_commands_processed += 1
                    if server.dirty != dirty_before:
                        server.propagate(client, [state.command.encode(), key])
                client.also_propagate = None
                _reply_and_resume(client, reply)


def client_gone(server: Server, client: Client) -> None:
    """A disconnected client stops waiting."""
    state = client.blocked
    if state is not None:
        _detach(client, state)


@subcommand("client", "unblock", arity=-3, flags="admin noscript loading stale", acl="@connection",
            group="connection", since="5.0.0", summary="Unblock a client blocked in a blocking command")
def client_unblock(ctx: Client, client_id: bytes, *how: bytes) -> Reply:
    """CLIENT UNBLOCK id [TIMEOUT|ERROR]: 1 when the client was blocked and is now released."""
    from engine.util import parse_int

    target_id = parse_int(client_id)
    if target_id is None:
        raise CommandError(NOT_INTEGER)
    error = False
    if how:
        mode = how[0].lower()
        if len(how) > 1 or mode not in (b"timeout", b"error"):
            raise CommandError("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
        error = mode == b"error"
    conn = ctx.server.connections.get(target_id)
    if conn is None or conn.client.blocked is None:
        return 0
    target = conn.client
    state = target.blocked
    assert state is not None
    reply: Reply = RedisError(UNBLOCKED_ERROR) if error else state.timeout_reply
    return 1 if unblock(target, reply) else 0
