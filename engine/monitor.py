"""MONITOR (replicationFeedMonitors in replication.c): every executed command, as a line.

A client that sent MONITOR gets, after each command any client runs, one simple-string line::

    +1339518083.107412 [0 127.0.0.1:60866] "keys" "*"

(db number, the peer address or ``lua`` for commands a script runs, and each argument quoted
with sdscatrepr's escapes).  As in Redis 7.0 the line is fed after the command has executed, so
commands run by EXEC come before the EXEC line, while EVAL/FCALL are shown before the commands
their script runs (evalCommand feeds them first), and admin commands (MONITOR,
CONFIG, DEBUG, ...) and AUTH/HELLO are not shown.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from engine.table import command

if TYPE_CHECKING:
    from engine.client import Client
    from engine.server import Server
    from engine.table import Command

__all__ = ["feed_monitors", "quote", "monitor", "client_gone"]

_SKIP = frozenset({"auth", "hello"})
#: evalCommand / fcallCommand feed MONITOR themselves before running the script.
_FEED_FIRST = frozenset({"eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro"})
_ESCAPES = {0x5C: b"\\\\", 0x22: b'\\"', 0x0A: b"\\n", 0x0D: b"\\r", 0x09: b"\\t", 0x07: b"\\a", 0x08: b"\\b"}


def quote(arg: bytes) -> bytes:
    """sdscatrepr: a double-quoted string with C escapes and ``\\xHH`` for the unprintable."""
    out = bytearray(b'"')
    for c in arg:
        esc = _ESCAPES.get(c)
        if esc is not None:
            out += esc
        elif 32 <= c < 127:
            out.append(c)
        else:
            out += b"\\x%02x" % c
    out.append(0x22)
    return bytes(out)


def feed_monitors(client: Client, cmd: Command, argv: list[bytes], before: bool = False) -> None:
    """Send the command line to every monitoring client.  dispatch.call calls this before
    running a command (``before=True``: only scripts, which Redis feeds first so that their
    commands follow them) and after it (everything else)."""
    server = client.server
    if (cmd.name in _FEED_FIRST) != before:
        return
    if "admin" in cmd.flags or cmd.name in _SKIP or server.loading:
        return
    now = time.time()
    where = "lua" if client.is_script else client.addr
    head = b"+%d.%06d [%d %s] " % (int(now), int(now * 1_000_000) % 1_000_000, client.db.id, where.encode())
    line = head + b" ".join(quote(a) for a in argv) + b"\r\n"
    for m in list(server.monitors):
        m.write(line)


def client_gone(server: Server, client: Client) -> None:
    """A disconnected client stops monitoring."""
    monitors = server.monitors
    if client in monitors:
        monitors.remove(client)


@command("monitor", arity=1, flags="admin noscript loading stale", acl="@admin @dangerous", group="server",
         since="1.0.0", summary="Listen for all requests received by the server in real time")
def monitor(ctx: Client) -> Any:
    from engine.protocol import OK

    if ctx.multi is not None or "multi" in ctx.flags:
        from engine.errors import CommandError

        raise CommandError("ERR MONITOR isn't allowed for DENY BLOCKING client")
    monitors = ctx.server.monitors
    if ctx not in monitors:
        ctx.flags.add("monitor")
        monitors.append(ctx)
    return OK
