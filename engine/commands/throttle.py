"""CL.THROTTLE: the redis-cell module's GCRA rate limiter as a native command.

redis-cell (https://github.com/brandur/redis-cell) is the common way to get a server-side rate
limiter on Redis; clients written against it call::

    CL.THROTTLE <key> <max_burst> <count per period> <period> [<quantity>]

and read an array of five integers: limited (0/1), the limit (``max_burst + 1``), remaining,
retry_after and reset_after in whole seconds (``-1`` for retry_after when allowed).  This
command gives the engine the same interface so those clients can point at it unchanged.  The
arithmetic is :func:`engine.recipes.gcra.gcra`, shared with the tests; here is only what
redis-cell's ``ThrottleCommand::run`` and ``InternalRedisStore`` do around it: argument
parsing with its error texts, the TAT stored as a decimal string of Unix nanoseconds, and the
key's expiry set to the TTL the algorithm computes (whole milliseconds).

One deliberate difference: redis-cell replicates the command verbatim, so a replica or an AOF
replay re-runs GCRA at *its* time and may store a different TAT.  Here the AOF records the
effect instead (``SET key tat PXAT when``, or ``DEL key``) through ``ctx.also_propagate``, as
Redis itself rewrites non-deterministic commands (``rewriteClientCommandVector``).
"""

from __future__ import annotations

import time

from engine.client import Client
from engine.errors import CommandError
from engine.recipes.gcra import GcraError, gcra, throttle_reply
from engine.table import command

__all__ = ["cl_throttle"]

USAGE = "Usage: cl.throttle <key> <max_burst> <count per period> <period> [<quantity>]"
_STRING = (bytes, bytearray)
_NS_PER_MS = 1_000_000


def _parse_i64(arg: bytes) -> int:
    """Rust's ``str::parse::<i64>``: optional sign and ASCII digits, nothing else."""
    text = arg.decode("utf-8", "replace")
    body = text[1:] if text[:1] in ("+", "-") else text
    if not body or not body.isascii() or not body.isdigit():
        raise CommandError(f"Couldn't parse as integer: {text}")
    value = int(text)
    if not -(2**63) <= value < 2**63:
        raise CommandError(f"Couldn't parse as integer: {text}")
    return value


@command(
    "cl.throttle",
    arity=-2,
    flags="write denyoom",
    keys=(1, 1, 1),
    acl="@write",
    group="module",
    since="7.0.0",
    summary="Rate limit with GCRA, as the redis-cell module's CL.THROTTLE.",
    complexity="O(1)",
)
def cl_throttle(ctx: Client, key: bytes, *args: bytes) -> list[int]:
    """CL.THROTTLE key max_burst count period [quantity]: one GCRA step on ``key``."""
    if len(args) not in (3, 4):
        raise CommandError(USAGE)
    max_burst, count, period_s = (_parse_i64(a) for a in args[:3])
    quantity = _parse_i64(args[3]) if len(args) == 4 else 1

    db = ctx.db
    stored = db.lookup_write(key, _STRING)
    tat_ns = None
    if stored is not None and len(stored) > 0:
        text = bytes(stored)
        body = text[1:] if text[:1] in (b"+", b"-") else text
        if not body.isdigit():  # bytes.isdigit is ASCII-only, like Rust's parse
            raise CommandError("invalid digit found in string")
        tat_ns = int(text)
    now_ns = time.time_ns()
    try:
        decision = gcra(tat_ns, now_ns, max_burst, count, period_s, quantity)
    except GcraError as exc:
        raise CommandError(str(exc)) from None

    if decision.new_tat_ns is not None:
        ttl_ms = int(decision.ttl_ns / _NS_PER_MS)
        if ttl_ms > 0:
            value = str(decision.new_tat_ns).encode()
            when_ms = now_ns // _NS_PER_MS + ttl_ms
            db.set(key, value)
            db.set_expire(key, when_ms)
            effect = [b"SET", key, value, b"PXAT", str(when_ms).encode()]
        elif stored is not None:  # an expiry of zero: the key is gone as soon as it is written
            db.delete(key)
            effect = [b"DEL", key]
        else:  # a zero-quantity peek at a missing key changes nothing
            return throttle_reply(decision)
        ctx.also_propagate = [effect]
        ctx.server.dirty += 1
    return throttle_reply(decision)
