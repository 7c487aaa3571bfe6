"""String commands (t_string.c).  Values are ``bytes``, or ``bytearray`` once modified in
place; replies always hand out ``bytes`` so a queued reply never changes after the fact."""

from __future__ import annotations

from engine.client import Client
from engine.errors import INVALID_EXPIRE, NOT_INTEGER, SYNTAX, CommandError
from engine.objects import STRING
from engine.protocol import OK, Reply
from engine.table import command
from engine.util import LLONG_MAX, parse_int

__all__ = ["get", "set_", "parse_expire"]


@command("get", arity=2, flags="readonly fast", keys=(1, 1, 1), acl="@string", group="string",
         summary="Get the value of a key")
def get(ctx: Client, key: bytes) -> Reply:
    value = ctx.db.lookup_read(key, STRING)
    if value is None:
        return None
    return value if type(value) is bytes else bytes(value)


def parse_expire(ctx: Client, unit_arg: bytes, raw: bytes, cmd: str) -> int:
    """An EX/PX/EXAT/PXAT argument as an absolute unix time in ms (t_string.c getExpireMillisecondsOrReply)."""
    n = parse_int(raw)
    if n is None:
        raise CommandError(NOT_INTEGER)
    unit = unit_arg.lower()
    if n <= 0:
        raise CommandError(INVALID_EXPIRE.format(cmd))
    if unit in (b"ex", b"exat"):
        if n > LLONG_MAX // 1000:
            raise CommandError(INVALID_EXPIRE.format(cmd))
        n *= 1000
    if unit in (b"ex", b"px"):
        now = ctx.server.now_ms()
        if n > LLONG_MAX - now:
            raise CommandError(INVALID_EXPIRE.format(cmd))
        n += now
    return n


@command("set", arity=-3, flags="write denyoom", keys=(1, 1, 1), acl="@string", group="string",
         summary="Set the string value of a key")
def set_(ctx: Client, key: bytes, value: bytes, *options: bytes) -> Reply:
    nx = xx = get_old = keepttl = False
    expire_unit: bytes | None = None
    expire_raw = b""
    i = 0
    while i < len(options):
        opt = options[i].lower()
        if opt == b"nx" and not xx:
            nx = True
        elif opt == b"xx" and not nx:
            xx = True
        elif opt == b"get":
            get_old = True
        elif opt == b"keepttl" and expire_unit is None:
            keepttl = True
        elif opt in (b"ex", b"px", b"exat", b"pxat") and expire_unit is None and not keepttl and i + 1 < len(options):
            expire_unit, expire_raw = opt, options[i + 1]
            i += 1
        else:
            raise CommandError(SYNTAX)
        i += 1
    when = parse_expire(ctx, expire_unit, expire_raw, "set") if expire_unit is not None else None
    db = ctx.db
    old: Reply = None
    if get_old:
        current = db.lookup_write(key, STRING)  # WRONGTYPE before anything changes
        old = None if current is None else bytes(current)
        exists = current is not None
    else:
        exists = (nx or xx) and db.exists(key)
    if (nx and exists) or (xx and not exists):
        return old if get_old else None
    db.set(key, value, keep_ttl=keepttl)
    if when is not None:
        db.set_expire(key, when)
    ctx.server.dirty += 1
    server = ctx.server
    if server.notify_flags:
        server.notify("$", "set", key, db.id)
        if when is not None:
            server.notify("g", "expire", key, db.id)
    return old if get_old else OK
