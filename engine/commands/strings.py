"""String commands (t_string.c).  Values are ``bytes``, or ``bytearray`` once modified in
place; replies always hand out ``bytes`` so a queued reply never changes after the fact."""

from __future__ import annotations

import math
import re
from decimal import Decimal
from fractions import Fraction

from engine.args import LLONG_MAX, LLONG_MIN, integer, parse_int
from engine.client import Client
from engine.errors import (
    INCR_OVERFLOW,
    INVALID_EXPIRE,
    NAN_OR_INF,
    NOT_FLOAT,
    NOT_INTEGER,
    STRING_TOO_LONG,
    SYNTAX,
    CommandError,
    wrong_arity,
)
from engine.objects import STRING
from engine.protocol import OK, Reply
from engine.table import command

__all__ = [
    "get", "set_", "parse_expire", "setnx", "setex", "psetex", "mget", "mset", "msetnx", "getset", "getdel",
    "getex", "append", "strlen", "getrange", "setrange", "incr", "decr", "incrby", "decrby", "incrbyfloat",
    "round_long_double", "parse_long_double", "format_long_double", "add_long_double",
]


@command("get", arity=2, flags="readonly fast", keys=(1, 1, 1), acl="@string", group="string",
         summary="Get the value of a key")
def get(ctx: Client, key: bytes) -> Reply:
    value = ctx.db.lookup_read(key, STRING)
    if value is None:
        return None
    return value if type(value) is bytes else bytes(value)


def parse_expire(ctx: Client, unit_arg: bytes, raw: bytes, cmd: str) -> int:
    """An EX/PX/EXAT/PXAT argument as an absolute unix time in ms (t_string.c getExpireMillisecondsOrReply)."""
    n = integer(raw)
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
    if not options:  # plain SET key value: the common case, no option to parse
        db = ctx.db
        db.set(key, value)
        server = ctx.server
        server.dirty += 1
        if server.notify_flags:
            server.notify("$", "set", key, db.id)
        return OK
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
        elif opt in (b"ex", b"px", b"exat", b"pxat") and expire_unit in (None, opt) and not keepttl and i + 1 < len(options):
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


def _old_string(value: bytes | bytearray | None) -> bytes | None:
    return None if value is None else bytes(value)


def _set_with_expire(ctx: Client, key: bytes, value: bytes, when: int | None) -> None:
    db = ctx.db
    db.set(key, value)
    if when is not None:
        db.set_expire(key, when)
    server = ctx.server
    server.dirty += 1
    if server.notify_flags:
        server.notify("$", "set", key, db.id)
        if when is not None:
            server.notify("g", "expire", key, db.id)


@command("setnx", arity=3, flags="write denyoom fast", keys=(1, 1, 1), acl="@string", group="string",
         summary="Set the value of a key, only if the key does not exist")
def setnx(ctx: Client, key: bytes, value: bytes) -> Reply:
    if ctx.db.exists(key):
        return 0
    _set_with_expire(ctx, key, value, None)
    return 1


@command("setex", arity=4, flags="write denyoom", keys=(1, 1, 1), acl="@string", group="string", since="2.0.0",
         summary="Set the value and expiration of a key")
def setex(ctx: Client, key: bytes, seconds: bytes, value: bytes) -> Reply:
    _set_with_expire(ctx, key, value, parse_expire(ctx, b"ex", seconds, "setex"))
    return OK


@command("psetex", arity=4, flags="write denyoom", keys=(1, 1, 1), acl="@string", group="string", since="2.6.0",
         summary="Set the value and expiration in milliseconds of a key")
def psetex(ctx: Client, key: bytes, ms: bytes, value: bytes) -> Reply:
    _set_with_expire(ctx, key, value, parse_expire(ctx, b"px", ms, "psetex"))
    return OK


@command("mget", arity=-2, flags="readonly fast", keys=(1, -1, 1), acl="@string", group="string",
         summary="Get the values of all the given keys")
def mget(ctx: Client, *keys: bytes) -> Reply:
    """A key holding another type reads as nil, not WRONGTYPE (mgetCommand)."""
    db = ctx.db
    out: list[bytes | None] = []
    for key in keys:
        value = db.lookup_read(key)
        t = type(value)
        out.append(value if t is bytes else bytes(value) if t is bytearray else None)
    return out


def _mset_pairs(name: str, args: tuple[bytes, ...]) -> None:
    if len(args) % 2:
        raise wrong_arity(name)


@command("mset", arity=-3, flags="write denyoom", keys=(1, -1, 2), acl="@string", group="string", since="1.0.1",
         summary="Set multiple keys to multiple values")
def mset(ctx: Client, *args: bytes) -> Reply:
    _mset_pairs("mset", args)
    db = ctx.db
    server = ctx.server
    notify = server.notify if server.notify_flags else None
    for i in range(0, len(args), 2):
        db.set(args[i], args[i + 1])
        if notify is not None:
            notify("$", "set", args[i], db.id)
    server.dirty += len(args) // 2
    return OK


@command("msetnx", arity=-3, flags="write denyoom", keys=(1, -1, 2), acl="@string", group="string", since="1.0.1",
         summary="Set multiple keys to multiple values, only if none of the keys exist")
def msetnx(ctx: Client, *args: bytes) -> Reply:
    _mset_pairs("msetnx", args)
    db = ctx.db
    if any(db.exists(args[i]) for i in range(0, len(args), 2)):
        return 0
    for i in range(0, len(args), 2):
        _set_with_expire(ctx, args[i], args[i + 1], None)
    return 1


@command("getset", arity=3, flags="write denyoom fast", keys=(1, 1, 1), acl="@string", group="string",
         summary="Set the string value of a key and return its old value")
def getset(ctx: Client, key: bytes, value: bytes) -> Reply:
    old = _old_string(ctx.db.lookup_read(key, STRING))
    _set_with_expire(ctx, key, value, None)
    return old


@command("getdel", arity=2, flags="write fast", keys=(1, 1, 1), acl="@string", group="string", since="6.2.0",
         summary="Get the value of a key and delete the key")
def getdel(ctx: Client, key: bytes) -> Reply:
    db = ctx.db
    value = db.lookup_read(key, STRING)
    if value is None:
        return None
    db.delete(key)
    ctx.server.notify("g", "del", key, db.id)
    ctx.server.dirty += 1
    return bytes(value)


@command("getex", arity=-2, flags="write fast", keys=(1, 1, 1), acl="@string", group="string", since="6.2.0",
         summary="Get the value of a key and optionally set its expiration")
def getex(ctx: Client, key: bytes, *options: bytes) -> Reply:
    """getexCommand: options parsed first, then the key; a past EXAT/PXAT deletes it."""
    unit: bytes | None = None
    raw = b""
    persist = False
    i = 0
    while i < len(options):
        opt = options[i].lower()
        if opt in (b"ex", b"px", b"exat", b"pxat") and unit in (None, opt) and not persist and i + 1 < len(options):
            unit, raw = opt, options[i + 1]
            i += 1
        elif opt == b"persist" and unit is None:
            persist = True
        else:
            raise CommandError(SYNTAX)
        i += 1
    db = ctx.db
    value = db.lookup_read(key, STRING)
    if value is None:
        return None
    when = parse_expire(ctx, unit, raw, "getex") if unit is not None else None
    reply = bytes(value)
    server = ctx.server
    if when is not None and unit in (b"exat", b"pxat") and when <= server.now_ms():
        db.delete(key)
        ctx.also_propagate = [[b"DEL", key]]
        server.notify("g", "del", key, db.id)
        server.dirty += 1
    elif when is not None:
        db.set_expire(key, when)
        db.signal_modified(key)
        server.notify("g", "expire", key, db.id)
        server.dirty += 1
    elif persist and db.persist(key):
        db.signal_modified(key)
        server.notify("g", "persist", key, db.id)
        server.dirty += 1
    return reply


def _check_length(ctx: Client, offset: int, extra: int) -> None:
    """checkStringLength: the result may not exceed proto-max-bulk-len."""
    if offset + extra > ctx.server.config["proto-max-bulk-len"]:
        raise CommandError(STRING_TOO_LONG)


@command("append", arity=3, flags="write denyoom", keys=(1, 1, 1), acl="@string", group="string", since="2.0.0",
         summary="Append a value to a key")
def append(ctx: Client, key: bytes, value: bytes) -> Reply:
    db = ctx.db
    current = db.lookup_write(key, STRING)
    if current is None:
        db.add(key, value)
        length = len(value)
    else:
        _check_length(ctx, len(current), len(value))
        buf = current if type(current) is bytearray else bytearray(current)
        buf += value
        db.set(key, buf, keep_ttl=True)
        length = len(buf)
    ctx.server.notify("$", "append", key, db.id)
    ctx.server.dirty += 1
    return length


@command("strlen", arity=2, flags="readonly fast", keys=(1, 1, 1), acl="@string", group="string", since="2.2.0",
         summary="Get the length of the value stored in a key")
def strlen(ctx: Client, key: bytes) -> Reply:
    value = ctx.db.lookup_read(key, STRING)
    return 0 if value is None else len(value)


@command("getrange", arity=4, flags="readonly", keys=(1, 1, 1), acl="@string", group="string", since="2.4.0",
         summary="Get a substring of the string stored at a key")
def getrange(ctx: Client, key: bytes, start_arg: bytes, end_arg: bytes) -> Reply:
    start = integer(start_arg)
    end = integer(end_arg)
    value = ctx.db.lookup_read(key, STRING)
    if value is None:
        return b""
    n = len(value)
    if start < 0 and end < 0 and start > end:
        return b""
    if start < 0:
        start += n
    if end < 0:
        end += n
    start = max(start, 0)
    end = max(end, 0)
    if end >= n:
        end = n - 1
    if start > end or n == 0:
        return b""
    return bytes(value[start : end + 1])


@command("setrange", arity=4, flags="write denyoom", keys=(1, 1, 1), acl="@string", group="string", since="2.2.0",
         summary="Overwrite part of a string at key starting at the specified offset")
def setrange(ctx: Client, key: bytes, offset_arg: bytes, value: bytes) -> Reply:
    offset = integer(offset_arg)
    if offset < 0:
        raise CommandError("ERR offset is out of range")
    db = ctx.db
    current = db.lookup_write(key, STRING)
    if current is None:
        if not value:
            return 0
        _check_length(ctx, offset, len(value))
        buf = bytearray(offset)
    else:
        if not value:
            return len(current)
        _check_length(ctx, offset, len(value))
        buf = current if type(current) is bytearray else bytearray(current)
    if len(buf) < offset:
        buf += bytes(offset - len(buf))
    buf[offset : offset + len(value)] = value
    db.set(key, buf, keep_ttl=True)
    ctx.server.notify("$", "setrange", key, db.id)
    ctx.server.dirty += 1
    return len(buf)


def _incr(ctx: Client, key: bytes, incr: int) -> Reply:
    """incrDecrCommand: the TTL is kept; the result is stored as its decimal text."""
    db = ctx.db
    current = db.lookup_write(key, STRING)
    value = 0 if current is None else parse_int(current)
    if value is None:
        raise CommandError(NOT_INTEGER)
    if (incr < 0 and value < 0 and incr < LLONG_MIN - value) or (incr > 0 and value > 0 and incr > LLONG_MAX - value):
        raise CommandError(INCR_OVERFLOW)
    value += incr
    db.set(key, b"%d" % value, True)
    server = ctx.server
    if server.notify_flags:
        server.notify("$", "incrby", key, db.id)
    server.dirty += 1
    return value


@command("incr", arity=2, flags="write denyoom fast", keys=(1, 1, 1), acl="@string", group="string",
         summary="Increment the integer value of a key by one")
def incr(ctx: Client, key: bytes) -> Reply:
    return _incr(ctx, key, 1)


@command("decr", arity=2, flags="write denyoom fast", keys=(1, 1, 1), acl="@string", group="string",
         summary="Decrement the integer value of a key by one")
def decr(ctx: Client, key: bytes) -> Reply:
    return _incr(ctx, key, -1)


@command("incrby", arity=3, flags="write denyoom fast", keys=(1, 1, 1), acl="@string", group="string",
         summary="Increment the integer value of a key by the given amount")
def incrby(ctx: Client, key: bytes, amount: bytes) -> Reply:
    return _incr(ctx, key, integer(amount))


@command("decrby", arity=3, flags="write denyoom fast", keys=(1, 1, 1), acl="@string", group="string",
         summary="Decrement the integer value of a key by the given number")
def decrby(ctx: Client, key: bytes, amount: bytes) -> Reply:
    n = integer(amount)
    if n == LLONG_MIN:
        raise CommandError("ERR decrement would overflow")
    return _incr(ctx, key, -n)


# -- long double arithmetic (INCRBYFLOAT, HINCRBYFLOAT) -----------------------------------
# Redis adds in C ``long double`` (x87 80-bit: 64-bit significand) and prints with "%.17Lf"
# minus trailing zeros (util.c ld2string, LD_STR_HUMAN).  Exact rational arithmetic rounded
# to a 64-bit significand reproduces those digits without depending on the platform.

_LD_MANTISSA_BITS = 64
_LD_MAX = Fraction((1 << 64) - 1) * Fraction(2) ** (16383 - 63)
_LD_MIN_EXP = -16382 - 63  # smallest subnormal exponent
_LD_DIGITS = 5 * 1024  # MAX_LONG_DOUBLE_CHARS
_LD_RE = re.compile(rb"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|inf|infinity)", re.I)
_LD_HEX_RE = re.compile(rb"([+-]?)0x([0-9a-f]*)(?:\.([0-9a-f]*))?(?:p([+-]?[0-9]+))?", re.I)


def _hex_fraction(raw: bytes) -> Fraction | None:
    """A C99 hexadecimal float ("0x1.8p3"), which strtold accepts, as an exact fraction."""
    m = _LD_HEX_RE.fullmatch(raw)
    if m is None or not (m.group(2) or m.group(3)):
        return None
    sign, whole, frac, exp = m.group(1), m.group(2), m.group(3) or b"", m.group(4)
    mantissa = int((whole + frac) or b"0", 16)
    power = int(exp or 0)
    if mantissa and not -40000 < power < 40000:
        power = 40000 if power > 0 else -40000  # far outside long double either way (ERANGE)
    value = Fraction(mantissa, 16 ** len(frac)) * Fraction(2) ** power
    return -value if sign == b"-" else value


def round_long_double(x: Fraction) -> Fraction | float:
    """``x`` rounded to the nearest x87 long double (ties to even); +-inf on overflow."""
    if x == 0:
        return Fraction(0)
    sign = -1 if x < 0 else 1
    a = abs(x)
    e = a.numerator.bit_length() - a.denominator.bit_length()  # floor(log2(a)) or one more
    if Fraction(2) ** e > a:
        e -= 1
    shift = max(e - (_LD_MANTISSA_BITS - 1), _LD_MIN_EXP)
    scaled = a / (Fraction(2) ** shift)
    m = round(scaled)
    r = m * Fraction(2) ** shift
    if r > _LD_MAX:
        return sign * math.inf
    return sign * r


def parse_long_double(raw: bytes | bytearray, error: str) -> Fraction | float:
    """string2ld: strtold without leading spaces or NaN; ``inf`` parses (as strtold does)."""
    if not raw or len(raw) >= _LD_DIGITS:
        raise CommandError(error)
    text = bytes(raw).lower()
    exact = _hex_fraction(text)
    if exact is None:
        if _LD_RE.fullmatch(text) is None:
            raise CommandError(error)
        if text.lstrip(b"+-") in (b"inf", b"infinity"):
            return -math.inf if text.startswith(b"-") else math.inf
        dec = Decimal(text.decode())
        if dec and not -4960 < dec.adjusted() < 4940:  # far outside long double: ERANGE, no bignum work
            raise CommandError(error)
        exact = Fraction(dec)
    value = round_long_double(exact)
    if isinstance(value, float) or (value == 0 and exact != 0):
        raise CommandError(error)  # ERANGE: overflow, or underflow to zero
    return value


def _decimal_digits(n: int) -> str:
    """str(n) for integers past Python's 4300-digit conversion limit (long doubles reach 4933)."""
    if n < 10**4000:
        return str(n)
    high, low = divmod(n, 10**4000)
    return _decimal_digits(high) + str(low).rjust(4000, "0")


def format_long_double(x: Fraction) -> bytes:
    """ld2string(LD_STR_HUMAN): "%.17Lf" with trailing zeros (and a bare '.') removed."""
    q = round(x * 10**17)
    sign = "-" if q < 0 or (q == 0 and x < 0) else ""
    digits = _decimal_digits(abs(q)).rjust(18, "0")
    text = (sign + digits[:-17] + "." + digits[-17:]).rstrip("0").rstrip(".")
    return b"0" if text == "-0" else text.encode()


def add_long_double(a: Fraction | float, b: Fraction | float) -> Fraction | None:
    """a + b in long double, or None when the result is NaN or infinite."""
    if isinstance(a, float) or isinstance(b, float):
        return None
    r = round_long_double(a + b)
    return None if isinstance(r, float) else r


@command("incrbyfloat", arity=3, flags="write denyoom fast", keys=(1, 1, 1), acl="@string", group="string",
         since="2.6.0", summary="Increment the float value of a key by the given amount")
def incrbyfloat(ctx: Client, key: bytes, amount: bytes) -> Reply:
    db = ctx.db
    current = db.lookup_write(key, STRING)
    value = Fraction(0) if current is None else parse_long_double(current, NOT_FLOAT)
    incr = parse_long_double(amount, NOT_FLOAT)
    total = add_long_double(value, incr)
    if total is None:
        raise CommandError(NAN_OR_INF)
    text = format_long_double(total)
    db.set(key, text, keep_ttl=True)
    ctx.server.notify("$", "incrbyfloat", key, db.id)
    ctx.server.dirty += 1
    ctx.also_propagate = [[b"SET", key, text, b"KEEPTTL"]]
    return text
