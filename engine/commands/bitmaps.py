"""Bitmap commands on strings (bitops.c): SETBIT, GETBIT, BITCOUNT, BITPOS.

Bits are numbered from the most significant bit of the first byte, as Redis numbers them.
Ranges follow bitcountCommand / bitposCommand of Redis 7.0: BYTE (default) or BIT units,
negative indexes from the end, and for BITPOS a clear-bit search without an explicit end
treating the string as padded with zeros on the right.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from engine.args import integer, integer_in_range, parse_int
from engine.client import Client
from engine.errors import BIT_OFFSET, BIT_VALUE, BITFIELD_TYPE, SYNTAX, CommandError
from engine.objects import STRING
from engine.protocol import Reply
from engine.table import command

__all__ = ["setbit", "getbit", "bitcount", "bitpos", "bitop", "bitfield", "bitfield_ro", "parse_bit_offset"]


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
    on = integer_in_range(bit_arg, 0, 1, BIT_VALUE)
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
    start = integer(args[0])
    end = integer(args[1])
    if start < 0 and end < 0 and start > end:  # before BYTE|BIT is parsed, as in 7.0.15
        return 0
    isbit = _unit(args[2]) if len(args) == 3 else False
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
    bit = integer(bit_arg)
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
        start = integer(args[0])
        isbit = _unit(args[2]) if len(args) == 3 else False
        if end_given:
            end = integer(args[1])
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


# -- BITOP ---------------------------------------------------------------------------------
@command("bitop", arity=-4, flags="write denyoom", keys=(2, -1, 1), acl="@bitmap", group="bitmap", since="2.6.0",
         summary="Perform bitwise operations between strings")
def bitop(ctx: Client, op_arg: bytes, dest: bytes, *srcs: bytes) -> Reply:
    """bitopCommand: missing keys are empty strings, shorter strings are zero-padded; an
    all-empty result deletes the destination.  Returns the result's length in bytes."""
    op = op_arg.lower()
    if op not in (b"and", b"or", b"xor", b"not"):
        raise CommandError(SYNTAX)
    if op == b"not" and len(srcs) != 1:
        raise CommandError("ERR BITOP NOT must be called with a single source key.")
    db = ctx.db
    values = [db.lookup_read(k, STRING) for k in srcs]
    maxlen = max((len(v) for v in values if v is not None), default=0)
    server = ctx.server
    if not maxlen:
        if db.delete(dest):
            server.notify("g", "del", dest, db.id)
            server.dirty += 1
        return 0
    ints = [int.from_bytes(bytes(v or b"").ljust(maxlen, b"\0"), "big") for v in values]
    if op == b"not":
        acc = ints[0] ^ ((1 << (8 * maxlen)) - 1)
    else:
        acc = ints[0]
        for v in ints[1:]:
            if op == b"and":
                acc &= v
            elif op == b"or":
                acc |= v
            else:
                acc ^= v
    db.set(dest, bytearray(acc.to_bytes(maxlen, "big")))
    server.notify("$", "set", dest, db.id)
    server.dirty += 1
    return maxlen


# -- BITFIELD ------------------------------------------------------------------------------


@lru_cache(maxsize=512)
def _bf_type(raw: bytes) -> tuple[bool, int]:
    """getBitfieldTypeFromArgument: (signed, bits) for ``i1..i64`` / ``u1..u63``."""
    if not raw or raw[:1] not in (b"i", b"u"):
        raise CommandError(BITFIELD_TYPE)
    signed = raw[:1] == b"i"
    bits = integer_in_range(raw[1:], 1, 64 if signed else 63, BITFIELD_TYPE)
    return signed, bits


def _bf_offset(ctx: Client, raw: bytes, bits: int) -> int:
    """getBitOffsetFromArgument with ``#n`` meaning n times the field width."""
    usehash = raw[:1] == b"#"
    n = integer(raw[1:] if usehash else raw, BIT_OFFSET)
    if usehash:
        n *= bits
    if n < 0 or (n >> 3) >= ctx.server.config["proto-max-bulk-len"]:
        raise CommandError(BIT_OFFSET)
    return n


def _bf_get(buf: bytes | bytearray, offset: int, bits: int, signed: bool) -> int:
    last = offset + bits - 1
    lo, hi = offset >> 3, last >> 3
    if hi < len(buf):
        v = int.from_bytes(buf[lo:hi + 1], "big")
    else:  # bits past the end of the string read as zeros
        v = int.from_bytes(bytes(buf[lo:hi + 1]).ljust(hi - lo + 1, b"\0"), "big")
    v = (v >> (7 - (last & 7))) & ((1 << bits) - 1)
    if signed and v >> (bits - 1):
        v -= 1 << bits
    return v


_M64 = (1 << 64) - 1


def _i64(x: int) -> int:
    x &= _M64
    return x - (1 << 64) if x >> 63 else x


def _bf_overflow(value: int, incr: int, bits: int, signed: bool, how: str) -> tuple[bool, int]:
    """check{Signed,Unsigned}BitfieldOverflow with C's 64-bit wraparound kept, since Redis's
    limits ``maxincr``/``minincr`` can wrap (SET i54 to INT64_MIN saturates to the *maximum*).
    Returns (overflowed, the value to store)."""
    # The common case first: a value in the type's range that stays in it (below 64 bits no
    # limit can wrap, so this is exactly the no-overflow case of the checks below).
    if bits < 64:
        if signed:
            hi = (1 << (bits - 1)) - 1
            if -hi - 1 <= value <= hi and -hi - 1 <= value + incr <= hi:
                return False, value + incr
        elif 0 <= value <= (1 << bits) - 1 and 0 <= value + incr <= (1 << bits) - 1:
            return False, value + incr
    if signed:
        hi = (1 << 63) - 1 if bits == 64 else (1 << (bits - 1)) - 1
        lo = -hi - 1
        maxincr = _i64((hi & _M64) - (value & _M64))
        minincr = _i64(lo - value)
        if value > hi or (bits != 64 and incr > maxincr) or (value >= 0 and incr > 0 and incr > maxincr):
            over, sat = True, hi
        elif value < lo or (bits != 64 and incr < minincr) or (value < 0 and incr < 0 and incr < minincr):
            over, sat = True, lo
        else:
            return False, value + incr
        if how == "sat":
            return True, sat
        c = (value + incr) & _M64
        if bits < 64:
            mask = (_M64 << bits) & _M64
            c = c | mask if c & (1 << (bits - 1)) else c & ~mask & _M64
        return over, _i64(c)
    hi = (1 << bits) - 1
    maxincr = _i64(hi - value)
    minincr = _i64(-value)
    if value > hi or (incr > 0 and incr > maxincr):
        sat = hi
    elif incr < 0 and incr < minincr:
        sat = 0
    else:
        return False, (value + incr) & _M64
    if how == "sat":
        return True, sat
    return True, ((value + incr) & _M64) & ~((_M64 << bits) & _M64)


#: Parsed BITFIELD argument lists (an application sends the same few shapes over and over):
#: args -> (ops, highest bit written, the proto-max-bulk-len they were checked against).  Only
#: lists that parsed cleanly are kept; the cache is emptied when it reaches its bound.
_BF_PARSED: dict[tuple[bytes, ...], tuple[list[tuple[str, bool, int, int, int, str]], int, int]] = {}
_BF_PARSED_MAX = 1024


def _bitfield(ctx: Client, key: bytes, args: tuple[bytes, ...], readonly_cmd: bool) -> Reply:
    parsed = _BF_PARSED.get(args)
    max_bulk = ctx.server.config.values.get("proto-max-bulk-len", 0)
    if parsed is None or parsed[2] != max_bulk:
        ops, highest = _bf_parse(ctx, args)
        if len(_BF_PARSED) >= _BF_PARSED_MAX:
            _BF_PARSED.clear()
        parsed = _BF_PARSED[args] = (ops, highest, max_bulk)
    return _bf_run(ctx, key, parsed[0], parsed[1], readonly_cmd)


def _bf_parse(ctx: Client, args: tuple[bytes, ...]) -> tuple[list[tuple[str, bool, int, int, int, str]], int]:
    """bitfieldGeneric's argument loop: the operations and the highest bit a SET/INCRBY writes."""
    ops: list[tuple[str, bool, int, int, int, str]] = []
    overflow = "wrap"
    highest = -1
    j = 0
    n = len(args)
    while j < n:
        rem = n - j - 1
        sub = args[j].lower()
        if sub == b"get" and rem >= 2:
            op = "get"
        elif sub == b"set" and rem >= 3:
            op = "set"
        elif sub == b"incrby" and rem >= 3:
            op = "incrby"
        elif sub == b"overflow" and rem >= 1:
            kind = args[j + 1].lower()
            if kind not in (b"wrap", b"sat", b"fail"):
                raise CommandError("ERR Invalid OVERFLOW type specified")
            overflow = kind.decode()
            j += 2
            continue
        else:
            raise CommandError(SYNTAX)
        signed, bits = _bf_type(args[j + 1])
        offset = _bf_offset(ctx, args[j + 2], bits)
        value = 0
        if op != "get":
            highest = max(highest, offset + bits - 1)
            value = integer(args[j + 3])
        ops.append((op, signed, bits, offset, value, overflow))
        j += 3 if op == "get" else 4
    return ops, highest


def _bf_run(ctx: Client, key: bytes, ops: list[tuple[str, bool, int, int, int, str]], highest: int,
            readonly_cmd: bool) -> Reply:
    db = ctx.db
    if highest < 0:
        current = db.lookup_read(key, STRING)
        return [_bf_get(current or b"", off, bits, signed) for _, signed, bits, off, _, _ in ops]
    if readonly_cmd:
        raise CommandError("ERR BITFIELD_RO only supports the GET subcommand")
    current = db.lookup_write(key, STRING)
    need = (highest >> 3) + 1
    size = len(current) if current is not None else 0
    # a bytearray value is changed in place (Redis's dbUnshareStringValue then setbits)
    buf = current if type(current) is bytearray else bytearray(current or b"")
    if len(buf) < need:
        buf += bytes(need - len(buf))
    out: list[Any] = []
    changes = 0
    for op, signed, bits, offset, value, how in ops:
        # _bf_get and _bf_set inline, sharing the bytes read: one slice and one int a field
        last = offset + bits - 1
        lo = offset >> 3
        hi = (last >> 3) + 1
        if hi > len(buf):  # a GET past the end reads zeros (SET/INCRBY fields are within ``need``)
            out.append(_bf_get(buf, offset, bits, signed))
            continue
        shift = 7 - (last & 7)
        mask = (1 << bits) - 1
        cur = int.from_bytes(buf[lo:hi], "big")
        old = (cur >> shift) & mask
        if signed and old >> (bits - 1):
            old -= 1 << bits
        if op == "get":
            out.append(old)
            continue
        if op == "incrby":
            new = old + value
            # _bf_overflow's first case inline: ``old`` is in the type's range, so the sum
            # staying in it is exactly "no overflow" below 64 bits
            if bits < 64 and (-(mask >> 1) - 1 <= new <= mask >> 1 if signed else 0 <= new <= mask):
                over = False
            else:
                over, new = _bf_overflow(old, value, bits, signed, how)
            ret = new
        else:
            if not signed:
                value &= (1 << 64) - 1  # the signed argument seen as uint64_t
            over, new = _bf_overflow(value, 0, bits, signed, how)
            ret = old
        if over and how == "fail":
            out.append(None)
        else:
            out.append(ret)
            buf[lo:hi] = ((cur & ~(mask << shift)) | ((new & mask) << shift)).to_bytes(hi - lo, "big")
        changes += 1
    if current is buf:  # a bytearray changed (or grown) in place: it is already stored
        if changes or len(buf) != size:
            db.signal_modified(key)
    elif current is None or len(buf) != size or changes:
        db.set(key, buf, keep_ttl=True)
    if changes:
        server = ctx.server
        if server.notify_flags:
            server.notify("$", "setbit", key, db.id)
        server.dirty += changes
    return out


@command("bitfield", arity=-2, flags="write denyoom", keys=(1, 1, 1), acl="@bitmap", group="bitmap", since="3.2.0",
         summary="Perform arbitrary bitfield integer operations on strings")
def bitfield(ctx: Client, key: bytes, *args: bytes) -> Reply:
    return _bitfield(ctx, key, args, readonly_cmd=False)


@command("bitfield_ro", arity=-2, flags="readonly fast", keys=(1, 1, 1), acl="@bitmap", group="bitmap",
         since="6.0.0", summary="Perform arbitrary bitfield integer operations on strings. Read-only variant of "
                                "BITFIELD")
def bitfield_ro(ctx: Client, key: bytes, *args: bytes) -> Reply:
    return _bitfield(ctx, key, args, readonly_cmd=True)
