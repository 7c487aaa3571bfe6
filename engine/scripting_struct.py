"""The ``struct`` library Redis gives scripts (deps/lua/src/lua_struct.c, Roberto Ierusalimschy's
struct 0.2): ``struct.pack(fmt, ...)``, ``struct.unpack(fmt, data [, pos])`` and
``struct.size(fmt)``, with its format language and error texts.

Format: ``>``/``<`` big/little endian (little by default, the native order of Redis's
platforms), ``!n`` maximum alignment (power of 2, default 1), ``x`` a zero byte, ``b B`` char,
``h H`` short, ``l L`` long and ``T`` size_t (8 bytes), ``i In``/``I In`` an integer of n bytes
(default 4, at most 32), ``f`` float, ``d`` double, ``s`` zero-terminated string, ``cn`` fixed
string of n bytes (``c0``: the whole string when packing, the previous value's length when
unpacking).  Lua numbers are doubles, so integers come back as floats (Lua's integral doubles).

The functions are Python callables the script VM wraps; their errors are raised as Python
exceptions whose text is the C library's, and reach the script like any library error.
"""

from __future__ import annotations

import struct as _pystruct
from typing import Any

__all__ = ["pack", "unpack", "size", "StructError"]

_MAXINTSIZE = 32
_MAXALIGN = 8
_INT_MAX = (1 << 31) - 1
_U64 = (1 << 64) - 1
_SIZES = {"b": 1, "B": 1, "h": 2, "H": 2, "l": 8, "L": 8, "T": 8, "f": 4, "d": 8, "x": 1}
_INTEGERS = "bBhHlLTiI"


class StructError(ValueError):
    """A struct library error, worded as lua_struct.c's luaL_error / luaL_argerror."""


def _argerror(n: int, fname: str, msg: str) -> StructError:
    return StructError(f"bad argument #{n} to '{fname}' ({msg})")


def _typename(v: Any) -> str:
    if v is None:
        return "nil"
    if type(v) is bool:
        return "boolean"
    if type(v) in (int, float):
        return "number"
    if type(v) is bytes:
        return "string"
    return "table"


class _Fmt:
    """A cursor over a format string (getnum, optsize, controloptions)."""

    def __init__(self, fmt: bytes, fname: str) -> None:
        self.fmt = fmt.decode("latin-1")
        self.i = 0
        self.fname = fname
        self.little = True
        self.align = 1

    def getnum(self, default: int) -> int:
        if self.i >= len(self.fmt) or not self.fmt[self.i].isdigit():
            return default
        a = 0
        while self.i < len(self.fmt) and self.fmt[self.i].isdigit():
            d = ord(self.fmt[self.i]) - 48
            if a > _INT_MAX // 10 or a * 10 > _INT_MAX - d:
                raise StructError("integral size overflow")
            a = a * 10 + d
            self.i += 1
        return a

    def optsize(self, opt: str) -> int:
        if opt in _SIZES:
            return _SIZES[opt]
        if opt == "c":
            return self.getnum(1)
        if opt in "iI":
            sz = self.getnum(4)
            if sz > _MAXINTSIZE:
                raise StructError(f"integral size {sz} is larger than limit of {_MAXINTSIZE}")
            return sz
        return 0

    def toalign(self, length: int, opt: str, size: int) -> int:
        if size == 0 or opt == "c":
            return 0
        size = min(size, self.align)
        return (size - (length & (size - 1))) & (size - 1)

    def control(self, opt: str) -> None:
        if opt == " ":
            return
        if opt == ">":
            self.little = False
        elif opt == "<":
            self.little = True
        elif opt == "!":
            a = self.getnum(_MAXALIGN)
            if a == 0 or a & (a - 1):
                raise StructError(f"alignment {a} is not a power of 2")
            self.align = a
        else:
            raise _argerror(1, self.fname, f"invalid format option '{opt}'")

    def options(self) -> Any:
        while self.i < len(self.fmt):
            opt = self.fmt[self.i]
            self.i += 1
            yield opt, self.optsize(opt)


def _checkstring(args: tuple[Any, ...], n: int, fname: str) -> bytes:
    v: Any = args[n - 1] if n <= len(args) else None
    if type(v) is bytes:
        return v
    if type(v) in (int, float) and type(v) is not bool:
        return (b"%d" % v) if float(v).is_integer() and abs(v) < 1e15 else (b"%.14g" % v)
    got = "no value" if n > len(args) else _typename(v)
    raise _argerror(n, fname, f"string expected, got {got}")


def _checknumber(args: tuple[Any, ...], n: int, fname: str) -> float:
    """luaL_checknumber; past the last argument b_pack sees the nil it pushed ("got nil")."""
    if fname == "pack":
        args = (*args, None)
    v: Any = args[n - 1] if n <= len(args) else None
    if type(v) in (int, float) and type(v) is not bool:
        return float(v)
    if type(v) is bytes:
        try:
            return float(v.strip())
        except ValueError:
            pass
    got = "no value" if n > len(args) else _typename(v)
    raise _argerror(n, fname, f"number expected, got {got}")


def _to_c_integer(n: float) -> int:
    """(Uinttype)(Inttype)n for negatives, (Uinttype)n otherwise: 64 bits, wrapping."""
    if n != n or n in (float("inf"), float("-inf")):
        return 0
    return int(n) & _U64


def pack(fmt: Any, *args: Any) -> bytes:
    """struct.pack(fmt, v1, v2, ...)."""
    allargs = (fmt, *args)
    f = _Fmt(_checkstring(allargs, 1, "pack"), "pack")
    out = bytearray()
    arg = 2
    for opt, size in f.options():
        pad = f.toalign(len(out), opt, size)
        out += b"\0" * pad
        if opt in _INTEGERS:
            value = _to_c_integer(_checknumber(allargs, arg, "pack"))
            arg += 1
            raw = bytes((value >> (8 * k)) & 0xFF if k < 8 else 0 for k in range(size))
            out += raw if f.little else raw[::-1]
        elif opt == "x":
            out += b"\0"
        elif opt in "fd":
            num = _checknumber(allargs, arg, "pack")
            arg += 1
            out += _pystruct.pack(("<" if f.little else ">") + opt, num)
        elif opt in "cs":
            s = _checkstring(allargs, arg, "pack")
            arg += 1
            if size == 0:
                size = len(s)
            if len(s) < size:
                raise _argerror(arg, "pack", "string too short")
            out += s[:size]
            if opt == "s":
                out += b"\0"
        else:
            f.control(opt)
    return bytes(out)


def unpack(fmt: Any, data: Any = None, pos: Any = None) -> tuple[Any, ...]:
    """struct.unpack(fmt, data [, pos]): the values, then the position after them (1-based)."""
    allargs = tuple(a for a in (fmt, data, pos) if a is not None) if pos is None else (fmt, data, pos)
    f = _Fmt(_checkstring(allargs, 1, "unpack"), "unpack")
    blob = _checkstring(allargs, 2, "unpack")
    p = int(_checknumber((fmt, data, pos), 3, "unpack")) - 1 if pos is not None else 0
    if p < 0 or p > len(blob):
        raise _argerror(3, "unpack", "offset must be 1 or greater")
    out: list[Any] = []
    for opt, size in f.options():
        p += f.toalign(p, opt, size)
        if p + size > len(blob):
            raise _argerror(2, "unpack", "data string too short")
        if opt in _INTEGERS:
            raw = blob[p:p + size]
            value = int.from_bytes(raw, "little" if f.little else "big") & _U64
            if opt.islower():
                if size < 8:
                    mask = 1 << (size * 8 - 1)
                    value = ((value ^ mask) - mask) & _U64
                if value >= 1 << 63:
                    value -= 1 << 64
            out.append(float(value))
        elif opt == "x":
            pass
        elif opt in "fd":
            out.append(_pystruct.unpack(("<" if f.little else ">") + opt, blob[p:p + size])[0])
        elif opt == "c":
            if size == 0:
                if not out or type(out[-1]) is not float:
                    raise StructError("format `c0' needs a previous size")
                size = int(out.pop())
                if p + size > len(blob):
                    raise _argerror(2, "unpack", "data string too short")
            out.append(blob[p:p + size])
        elif opt == "s":
            end = blob.find(b"\0", p)
            if end < 0:
                raise StructError("unfinished string in data")
            size = end - p + 1
            out.append(blob[p:end])
        else:
            f.control(opt)
        p += size
    out.append(p + 1)
    return tuple(int(v) if type(v) is float and v.is_integer() and abs(v) < 2**53 else v for v in out)


def size(fmt: Any = None) -> int:
    """struct.size(fmt): bytes a format packs to (no ``s``, no ``c0``)."""
    f = _Fmt(_checkstring((fmt,) if fmt is not None else (), 1, "size"), "size")
    p = 0
    for opt, sz in f.options():
        p += f.toalign(p, opt, sz)
        if opt == "s":
            raise _argerror(1, "size", "option 's' has no fixed size")
        if opt == "c" and sz == 0:
            raise _argerror(1, "size", "option 'c0' has no fixed size")
        if not opt.isalnum():
            f.control(opt)
        p += sz
    return p
