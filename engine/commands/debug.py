"""DEBUG SLEEP|OBJECT|POPULATE|HELP: the parts of Redis's debug.c validation runs need.

Redis 7.0 refuses DEBUG unless ``enable-debug-command`` is ``yes``, or ``local`` and the
client is on a loopback address (server.c ``allowProtectedAction``); the embedded server's
callers pass ``enable_debug_command="local"``.  DEBUG SLEEP blocks the whole server, as
Redis's does: it is how latency is injected on purpose.
"""

from __future__ import annotations

import time

from engine.args import parse_float, positive
from engine.client import Client
from engine.commands.config import help_reply
from engine.errors import NO_SUCH_KEY, CommandError
from engine.objects import encoding
from engine.protocol import OK, Reply, Status
from engine.table import command

__all__ = ["debug", "debug_allowed"]

_DENIED = (
    "ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a "
    "local connection, otherwise you need to set this option in the configuration file, and then restart the server."
)


def debug_allowed(ctx: Client) -> bool:
    mode = ctx.server.config["enable-debug-command"]
    if mode == "yes":
        return True
    host = ctx.addr.rsplit(":", 1)[0]
    return mode == "local" and (host.startswith("127.") or host in ("::1", "[::1]", "") or ctx.is_script)


def _populate(ctx: Client, args: tuple[bytes, ...]) -> Reply:
    """DEBUG POPULATE count [prefix] [size]: keys ``prefix:N`` with value ``value:N`` padded
    with NUL bytes (or cut) to ``size``; existing keys are left alone (debug.c)."""
    count = positive(args[0])
    prefix = args[1] if len(args) > 1 else b"key"
    size = None
    if len(args) > 2:
        size = positive(args[2])
    db = ctx.db
    data = db.data
    for i in range(count):
        key = b"%s:%d" % (prefix, i)
        if key in data:
            continue
        value = b"value:%d" % i
        if size is not None:
            value = value[:size].ljust(size, b"\0")
        db.add(key, value)
    ctx.server.dirty += count
    return OK


@command("debug", arity=-2, flags="admin noscript loading stale protected", acl="@admin @slow @dangerous",
         group="server", since="1.0.0", summary="A container for debugging commands", complexity="Depends on subcommand.")
def debug(ctx: Client, sub: bytes, *args: bytes) -> Reply:
    if not debug_allowed(ctx):
        raise CommandError(_DENIED)
    name = sub.lower()
    if name == b"sleep" and len(args) == 1:
        seconds = parse_float(args[0])
        if seconds > 0:
            time.sleep(seconds)
        return OK
    if name == b"object" and len(args) == 1:
        if not ctx.db.exists(args[0]):  # expires lazily, counts no hit or miss
            raise CommandError(NO_SUCH_KEY)
        value = ctx.db.data[args[0]]
        enc = encoding(value, ctx.server.config)
        lru = ctx.db.lru.get(args[0], ctx.server.lru_clock)
        idle = max(0, ctx.server.lru_clock - lru)
        size = len(value) if isinstance(value, (bytes, bytearray)) else 0
        return Status(f"Value at:0x{id(value):x} refcount:1 encoding:{enc} serializedlength:{size} "
                      f"lru:{lru} lru_seconds_idle:{idle}")
    if name == b"populate" and 1 <= len(args) <= 3:
        return _populate(ctx, args)
    if name == b"help":
        return help_reply("DEBUG", [
            "OBJECT <key>",
            "    Show low level info about the `key` and associated value.",
            "POPULATE <count> [<prefix>] [<size>]",
            "    Create <count> string keys named key:<num>. If <prefix> is specified then",
            "    it is used instead of the 'key' prefix. These are not propagated to",
            "    replicas. Cluster slots are not updated.",
            "SLEEP <seconds>",
            "    Stop the server for <seconds>. Decimals allowed.",
        ])
    raise CommandError(f"ERR unknown subcommand '{sub.decode('utf-8', 'replace')}'. Try DEBUG HELP.")
