"""Bitmap commands on strings (bitops.c): SETBIT, GETBIT, BITCOUNT, BITPOS.

Bits are numbered from the most significant bit of the first byte, as Redis numbers them.
Ranges follow bitcountCommand / bitposCommand of Redis 7.0: BYTE (default) or BIT units,
negative indexes from the end, and for BITPOS a clear-bit search without an explicit end
treating the string as padded with zeros on the right.
"""

from __future__ import annotations

from engine.client import Client
from engine.errors import BIT_OFFSET, BIT_VALUE, SYNTAX, CommandError
from engine.objects import STRING
from engine.protocol import Reply
from engine.table import command
from engine.util import parse_int, parse_int_arg

__all__ = ["setbit", "getbit", "bitcount", "bitpos", "parse_bit_offset"]


def parse_bit_offset(ctx: Client, raw: bytes) -> int:
    """getBitOffsetFromArgument: 0 <= offset and offset / 8 < proto-max-bulk-len."""
    n = parse_int(raw)
    if n is None or n < 0 or (n >> 3) >= ctx.server.config["proto-max-bulk-len"]:
        raise CommandError(BIT_OFFSET)
    return n


@command("setbit", arity=4, flags="write denyoom", keys=(1, 1, 1), acl="@bitmap", group="bitmap", since="2.2.0",
         summary="Sets or clears the bit at offset in the string value stored at key")
def setbit(ctx: Client, key: bytes, offset_arg: bytes, bit_arg: bytes) -> Reply:
    offset = parse_bit_offset(ctx, offset_arg)
    on = parse_int(bit_arg)
    if on is None or on not in (0, 1):
        raise CommandError(BIT_VALUE)
    db = ctx.db
    current = db.lookup_write(key, STRING)
    byte = offset >> 3
    if current is None:
        buf = bytearray(byte + 1)
    else:
        buf = current if type(current) is bytearray else bytearray(current)
        if len(buf) <= byte:
            buf += bytes(byte + 1 - len(buf))
    mask = 1 << (7 - (offset & 7))
    old = 1 if buf[byte] & mask else 0
    if on:
        buf[byte] |= mask
    else:
        buf[byte] &= ~mask & 0xFF
    db.set(key, buf, keep_ttl=True)
    ctx.server.notify("$", "setbit", key, db.id)
    ctx.server.dirty += 1
    return old


@command("getbit", arity=3, flags="readonly fast", keys=(1, 1, 1), acl="@bitmap", group="bitmap", since="2.2.0",
         summary="Returns the bit value at offset in the string value stored at key")
def getbit(ctx: Client, key: bytes, offset_arg: bytes) -> Reply:
    offset = parse_bit_offset(ctx, offset_arg)
    value = ctx.db.lookup_read(key, STRING)
    if value is None:
        return 0
    byte = offset >> 3
    if byte >= len(value):
        return 0
    return (value[byte] >> (7 - (offset & 7))) & 1


def _unit(raw: bytes) -> bool:
    """True for BIT, False for BYTE, else a syntax error."""
    low = raw.lower()
    if low == b"bit":
        return True
    if low == b"byte":
        return False
    raise CommandError(SYNTAX)


def _clamp(start: int, end: int, total: int) -> tuple[int, int]:
    if start < 0:
        start += total
    if end < 0:
        end += total
    start = max(start, 0)
    end = max(end, 0)
    if end >= total:
        end = total - 1
    return start, end


def _window(data: bytes | bytearray, first_bit: int, last_bit: int) -> int:
    """The bits first_bit..last_bit (inclusive) as an integer, first bit most significant."""
    lo, hi = first_bit >> 3, last_bit >> 3
    v = int.from_bytes(data[lo : hi + 1], "big") >> (7 - (last_bit & 7))
    return v & ((1 << (last_bit - first_bit + 1)) - 1)


@command("bitcount", arity=-2, flags="readonly", keys=(1, 1, 1), acl="@bitmap", group="bitmap", since="2.6.0",
         summary="Count set bits in a string")
def bitcount(ctx: Client, key: bytes, *args: bytes) -> Reply:
    """bitcountCommand (7.0.15): the key is looked up before the range is parsed."""
    value = ctx.db.lookup_read(key, STRING)
    if value is None:
        return 0
    if not args:
        return int.from_bytes(value, "big").bit_count()
    if len(args) not in (2, 3):
        raise CommandError(SYNTAX)
    start = parse_int_arg(args[0])
    end = parse_int_arg(args[1])
    isbit = _unit(args[2]) if len(args) == 3 else False
    if start < 0 and end < 0 and start > end:
        return 0
    total = len(value) * 8 if isbit else len(value)
    start, end = _clamp(start, end, total)
    if start > end:
        return 0
    if not isbit:
        start, end = start * 8, end * 8 + 7
    return _window(value, start, end).bit_count()


@command("bitpos", arity=-3, flags="readonly", keys=(1, 1, 1), acl="@bitmap", group="bitmap", since="2.8.7",
         summary="Find first bit set or clear in a string")
def bitpos(ctx: Client, key: bytes, bit_arg: bytes, *args: bytes) -> Reply:
    bit = parse_int_arg(bit_arg)
    if bit not in (0, 1):
        raise CommandError("ERR The bit argument must be 1 or 0.")
    value = ctx.db.lookup_read(key, STRING)
    if value is None:
        return -1 if bit else 0
    if len(args) > 3:
        raise CommandError(SYNTAX)
    n = len(value)
    end_given = len(args) >= 2
    if args:
        start = parse_int_arg(args[0])
        isbit = _unit(args[2]) if len(args) == 3 else False
        if end_given:
            end = parse_int_arg(args[1])
        else:
            end = n * 8 + 7 if isbit else n - 1
        total = n * 8 if isbit else n
        start, end = _clamp(start, end, total)
        if not isbit:
            start, end = start * 8, end * 8 + 7
    else:
        start, end = 0, n * 8 - 1
    if start > end:
        return -1
    width = end - start + 1
    window = _window(value, start, end)
    if bit == 0:
        window ^= (1 << width) - 1
    if window:
        return start + width - window.bit_length()
    if bit == 1 or end_given:
        return -1
    return ((end >> 3) + 1) * 8
