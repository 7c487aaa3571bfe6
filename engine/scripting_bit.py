"""The ``bit`` library Redis gives scripts (deps/lua/src/lua_bit.c, Mike Pall's LuaBitOp 1.0):
32-bit operations on Lua numbers, with LuaBitOp's normalisation (``tobit``) and
luaL_checknumber's error texts.

The functions are Python callables the script VM wraps (engine/lua/sandbox.lua builds the
``bit`` table from :func:`library`); their errors are raised as :class:`ValueError` whose text
is the C library's, and reach the script like any library error.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from engine.scripting_vm import lua_vm

__all__ = ["BIT_OPS", "bit_op", "library", "tobit"]

BIT_OPS = ("tobit", "tohex", "bnot", "band", "bor", "bxor", "lshift", "rshift", "arshift", "rol", "ror", "bswap")


def library() -> dict[bytes, Callable[..., Any]]:
    """The ``bit`` table's functions, by name."""
    return {op.encode(): functools.partial(bit_op, op) for op in BIT_OPS}


def tobit(v: Any) -> int:
    """LuaBitOp's barg: a Lua number as a signed 32-bit integer."""
    if type(v) is bytes:
        v = float(v)
    x = int(round(float(v))) if type(v) is float else int(v)
    x &= 0xFFFFFFFF
    return x - (1 << 32) if x >= (1 << 31) else x


def _check_numbers(name: str, args: tuple[Any, ...]) -> None:
    """luaL_checknumber's wording, as LuaBitOp's C functions give it."""
    for n, a in enumerate(args, 1):
        if type(a) not in (int, float) or type(a) is bool:
            if type(a) is bytes:
                try:
                    float(a)
                    continue
                except ValueError:
                    pass
            got = "nil" if a is None else ("string" if type(a) is bytes else "boolean" if type(a) is bool
                                          else (lua_vm.lua_type(a) or "userdata"))
            raise ValueError(f"bad argument #{n} to '{name}' (number expected, got {got})")
    if not args:
        raise ValueError(f"bad argument #1 to '{name}' (number expected, got no value)")


def bit_op(name: str, *args: Any) -> Any:
    """``bit.<name>(args...)``."""
    _check_numbers(name, args)
    vals = [tobit(a) for a in args]
    if name == "tobit":
        return vals[0]
    if name == "tohex":
        n = int(args[1]) if len(args) > 1 else 8
        upper = n < 0
        n = min(abs(n), 8)
        text = "%08x" % (vals[0] & 0xFFFFFFFF)
        text = text[8 - n:] if n else ""
        return (text.upper() if upper else text).encode()
    if name == "bnot":
        return tobit(~vals[0])
    if name == "band":
        r = -1
        for x in vals:
            r &= x
        return tobit(r)
    if name == "bor":
        r = 0
        for x in vals:
            r |= x
        return tobit(r)
    if name == "bxor":
        r = 0
        for x in vals:
            r ^= x
        return tobit(r)
    x, n = vals[0] & 0xFFFFFFFF, vals[1] & 31
    if name == "lshift":
        return tobit(x << n)
    if name == "rshift":
        return tobit(x >> n)
    if name == "arshift":
        return tobit(vals[0] >> n)
    if name == "rol":
        return tobit((x << n) | (x >> (32 - n)))
    if name == "ror":
        return tobit((x >> n) | (x << (32 - n)))
    if name == "bswap":
        return tobit(int.from_bytes(x.to_bytes(4, "little"), "big"))
    raise ValueError("unknown bit operation")
