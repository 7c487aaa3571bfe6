"""From a parsed request to a reply: Redis's processCommand and call (server.c).

:func:`process_command` performs the checks a client's request goes through (command lookup,
arity, authentication, ACL, MULTI queueing, pub/sub mode, OOM, loading), then :func:`call`
runs the handler and keeps the statistics (INFO commandstats, SLOWLOG, latency).  MULTI/EXEC
and Lua scripts use :func:`call` directly, which is why it takes a :class:`Client` and never
touches a socket.
"""

from __future__ import annotations

import logging
from time import perf_counter_ns
from typing import Any

from engine import errors
from engine.client import Client
from engine.errors import RedisError
from engine.monitor import feed_monitors
from engine.protocol import QUEUED, Replies
from engine.table import BY_NAME, COMMANDS, Command
from engine.tracking import after_call as tracking_after_call

__all__ = ["process_command", "call", "resolve"]

log = logging.getLogger("engine")

# Commands allowed while a RESP2 client is in subscribed mode (server.c processCommand).
_SUBSCRIBED_OK = frozenset(
    (b"ping", b"subscribe", b"ssubscribe", b"unsubscribe", b"sunsubscribe", b"psubscribe", b"punsubscribe",
     b"quit", b"reset")
)
# Commands executed immediately even inside MULTI.
_MULTI_IMMEDIATE = frozenset((b"exec", b"discard", b"multi", b"watch", b"quit", b"reset"))
# Commands inside MULTI that are not refused for memory (EXEC is, if a queued command is denyoom).
_MULTI_NO_OOM_CHECK = frozenset(("exec", "discard", "quit", "reset"))


def _reject_in_multi(client: Client, cmd: Command, err: RedisError) -> RedisError:
    """rejectCommand inside MULTI: flag the transaction; a rejected EXEC aborts it at once
    (execCommandAbort: "EXECABORT Transaction discarded because of: <error>")."""
    client.multi_error = True
    if cmd.name == "exec" and cmd.parent is None:
        client.discard_transaction()
        return RedisError(errors.EXECABORT.format(err.reply_text()))
    return err


def resolve(argv: list[bytes]) -> Command:
    """The table row for ``argv`` (subcommand row for containers), or raise the arity /
    unknown-command error Redis gives."""
    name = argv[0].lower()
    cmd = COMMANDS.get(name)
    if cmd is None:
        raise errors.unknown_command(argv[0], argv[1:])
    if cmd.subcommands and (len(argv) >= 2 or cmd.handler is None):
        # A container with a handler of its own (COMMAND) runs it when given no subcommand.
        if len(argv) < 2:
            raise errors.wrong_arity(cmd.name)
        sub = cmd.subcommands.get(argv[1].lower())
        if sub is None:
            raise errors.unknown_subcommand(argv[1], cmd.name)
        cmd = sub
    arity = cmd.arity
    if (arity > 0 and len(argv) != arity) or len(argv) < -arity:
        raise errors.wrong_arity(cmd.fullname)
    return cmd


_REPLY_FLAGS = frozenset({"reply_off", "reply_skip"})
# Spellings of command names remembered in BY_NAME (each case variant is one entry: bounded
# so a client sending every spelling of a long name cannot grow it).
_BY_NAME_MAX = 4096


def _process_reply_mode(client: Client, argv: list[bytes]) -> Any:
    """CLIENT REPLY OFF|SKIP (engine/commands/misc.py): run the command, drop its reply."""
    skip = "reply_skip" in client.flags
    client.flags.discard("reply_skip")
    reply = process_command(client, argv, True)
    if skip or "reply_off" in client.flags:
        return Replies()
    return reply


def process_command(client: Client, argv: list[bytes], _reply_mode_seen: bool = False) -> Any:
    """Run one client request; return the reply value (errors returned, not raised)."""
    if client.flags and not _reply_mode_seen and not _REPLY_FLAGS.isdisjoint(client.flags):
        return _process_reply_mode(client, argv)
    server = client.server
    if server.renamed_commands and argv[0].lower() in server.renamed_commands:
        real = server.renamed_commands[argv[0].lower()]
        if not real:  # rename-command NAME "" (or the old name of a renamed command)
            e: RedisError = errors.unknown_command(argv[0], argv[1:])
            if client.multi is not None:
                client.multi_error = True
            server.stats.errors(e)
            return e
        argv[0] = real
    try:
        cmd = BY_NAME.get(argv[0])
        if cmd is None:
            cmd = COMMANDS.get(argv[0].lower())
            if cmd is not None and len(BY_NAME) < _BY_NAME_MAX:
                BY_NAME[argv[0]] = cmd
        if cmd is None or cmd.subcommands or (cmd.arity > 0 and len(argv) != cmd.arity) or len(argv) < -cmd.arity:
            cmd = resolve(argv)
    except RedisError as exc:
        if client.multi is not None:
            client.multi_error = True
        server.stats.errors(exc)
        return exc
    client.last_command = cmd.fullname
    if not client.authenticated and not cmd.noauth:
        cmd.rejected_calls += 1
        e = errors.NoAuthError()
        server.stats.errors(e)
        return e
    if server.script_busy and "allow_busy" not in cmd.flags:
        # A script passed busy-reply-threshold (engine/scripting_busy.py serves us from the script hook).
        cmd.rejected_calls += 1
        e = errors.BusyError(server.script_busy)
        server.stats.errors(e)
        if client.multi is not None:
            return _reject_in_multi(client, cmd, e)  # rejectCommand flags the transaction
        return e
    if server.acl_active:
        denied = server.acl_check(client, cmd, argv)
        if denied is not None:
            cmd.rejected_calls += 1
            if client.multi is not None:
                client.multi_error = True
            server.stats.errors(denied)
            return denied
    if client.multi is not None:
        if server.maxmemory and cmd.name not in _MULTI_NO_OOM_CHECK:
            # Queuing may take unlimited memory: over maxmemory, Redis refuses every command
            # inside MULTI (not only denyoom ones) and flags the transaction (processCommand).
            rejected = server.before_write(client, cmd)
            if rejected is not None:
                cmd.rejected_calls += 1
                server.stats.errors(rejected)
                return _reject_in_multi(client, cmd, rejected)
        if argv[0].lower() not in _MULTI_IMMEDIATE:
            if "no_multi" in cmd.flags:
                client.multi_error = True
                cmd.rejected_calls += 1
                e = errors.CommandError("ERR Command not allowed inside a transaction")
                server.stats.errors(e)
                return e
            client.multi.append((cmd, argv))
            return QUEUED
    if client.resp == 2 and (client.channels or client.patterns or client.shard_channels) and argv[0].lower() not in _SUBSCRIBED_OK:
        cmd.rejected_calls += 1
        e = errors.CommandError(
            f"ERR Can't execute '{cmd.fullname}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"
        )
        server.stats.errors(e)
        return e
    if server.loading and not cmd.loading_ok:
        cmd.rejected_calls += 1
        e = RedisError("LOADING Redis is loading the dataset in memory")
        server.stats.errors(e)
        return e
    if server.disk_error is not None and (cmd.is_write or cmd.name == "ping"):
        # writeCommandsDeniedByDiskError: refuse writes (and PING) while saving fails.
        cmd.rejected_calls += 1
        e = RedisError(server.disk_error)
        server.stats.errors(e)
        return e
    if server.maxmemory and (cmd.denyoom or not client.is_script):
        # processCommand runs performEvictions before every command, so reads free memory too
        # (a lowered maxmemory takes effect at the next command of any kind); only a denyoom
        # command is refused when nothing more can be evicted.  A script's own commands evict
        # nothing unless they are denyoom (the engine's stand-in for scriptCall's OOM check).
        rejected = server.before_write(client, cmd)
        if rejected is not None and cmd.denyoom:
            cmd.rejected_calls += 1
            server.stats.errors(rejected)
            return rejected
    reply = call(client, cmd, argv)
    if server.ready_keys:
        from engine.blocking import handle_clients_blocked_on_keys

        handle_clients_blocked_on_keys(server)
    return reply


def call(client: Client, cmd: Command, argv: list[bytes]) -> Any:
    """Execute a resolved command with statistics; errors come back as reply values."""
    server = client.server
    dirty_before = server.dirty
    if server.monitors:
        feed_monitors(client, cmd, argv, before=True)
    t0 = perf_counter_ns()
    try:
        reply = cmd.handler(client, *argv[1 if cmd.parent is None else 2:])  # type: ignore[misc]
    except RedisError as e:
        reply = e.fill(argv) if isinstance(e, errors.TypedNameError) else e
        cmd.failed_calls += 1
        server.stats.errors(reply)
    except errors.ClientClosing:
        raise
    except RecursionError:
        reply = errors.CommandError("ERR internal error: recursion limit")
        cmd.failed_calls += 1
    except Exception:  # noqa: BLE001 - the last guard: a bug must not take the server down
        log.exception("internal error in %s", cmd.fullname)
        reply = errors.CommandError(f"ERR internal error while executing '{cmd.fullname}'")
        cmd.failed_calls += 1
    elapsed_us = (perf_counter_ns() - t0) // 1000
    cmd.calls += 1
    cmd.usec += elapsed_us
    server.stats.total_commands_processed += 1
    client.tot_cmds += 1
    if elapsed_us >= server.slowlog_log_slower_than >= 0:
        server.slowlog_push(client, argv, elapsed_us)
    latency = server.latency
    if latency.tracking:
        h = latency.hists.get(cmd)
        if h is None or elapsed_us > 1024 or latency.threshold_ms:
            latency.record(cmd, elapsed_us)
        else:  # LatencyState.record's common case inline: one dict update, no call
            h[elapsed_us] = h.get(elapsed_us, 0) + 1
    if server.dirty != dirty_before and (server.persistence.aof_file is not None or client.also_propagate is not None):
        server.propagate(client, argv)  # (no AOF: nothing to append, only also_propagate to drop)
    if server.monitors:
        feed_monitors(client, cmd, argv)
    if server.tracking_clients:
        tracking_after_call(client, cmd, argv, server.dirty != dirty_before)
    return reply
