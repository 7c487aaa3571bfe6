"""The ``cjson`` library Redis gives scripts (deps/lua/src/lua_cjson.c, Mark Pulford's
lua-cjson 2.1): ``cjson.encode``, ``cjson.decode``, ``cjson.null`` and
``cjson.encode_keep_buffer``, with lua-cjson's number format (``%.14g``), escaping, sparse
array and nesting rules and error texts.

The functions are Python callables the script VM wraps (engine/lua/sandbox.lua); errors are
raised as :class:`ValueError` whose text is the C library's and reach the script like any
library error.  One :class:`CJson` per VM: ``cjson.null`` is a sentinel of that VM.
"""

from __future__ import annotations

import json
import math
from typing import Any

from engine.scripting_convert import lua_text
from engine.scripting_vm import lua_vm

__all__ = ["CJson"]

_MAX_DEPTH = 1000


class CJson:
    """The library's state in one VM: its ``null`` and the encode_keep_buffer switch."""

    def __init__(self, lua: Any) -> None:
        self.lua = lua
        self.null = object()
        self.keep_buffer = True

    # -- cjson.encode --------------------------------------------------------------------------
    def encode(self, v: Any) -> bytes:
        out: list[str] = []
        self._value(v, out, 0)
        return "".join(out).encode("utf-8", "surrogateescape")

    def _value(self, v: Any, out: list[str], depth: int) -> None:
        if depth > _MAX_DEPTH:
            raise ValueError(f"Cannot serialise, excessive nesting ({_MAX_DEPTH + 1})")
        t = type(v)
        if v is None or v is self.null:
            out.append("null")
        elif t is bool:
            out.append("true" if v else "false")
        elif t is int or t is float:
            if isinstance(v, float) and (math.isinf(v) or math.isnan(v)):
                raise ValueError("Cannot serialise number: must not be NaN or Inf")
            out.append(f"{v:.14g}")
        elif t is bytes:
            out.append(_string(v))
        elif lua_vm.lua_type(v) == "table":
            keys = list(v.keys())
            if keys and all(type(k) in (int, float) and k >= 1 and float(k).is_integer() for k in keys):
                n = int(max(keys))
                if n > 10 and n > 2 * len(keys):
                    raise ValueError("Cannot serialise table: excessively sparse array")
                out.append("[")
                for i in range(1, n + 1):
                    if i > 1:
                        out.append(",")
                    self._value(v[i], out, depth + 1)
                out.append("]")
            else:
                out.append("{")
                first = True
                for k in keys:
                    if type(k) is bytes:
                        ks = _string(k)
                    elif type(k) in (int, float):
                        ks = f'"{k:.14g}"'
                    else:
                        raise ValueError("Cannot serialise table: table key must be a number or string")
                    if not first:
                        out.append(",")
                    first = False
                    out.append(ks + ":")
                    self._value(v[k], out, depth + 1)
                out.append("}")
        else:
            raise ValueError(f"Cannot serialise {lua_vm.lua_type(v) or 'userdata'}: type not supported")

    # -- cjson.decode --------------------------------------------------------------------------
    def decode(self, s: Any) -> Any:
        if type(s) is not bytes:
            raise ValueError("bad argument #1 to 'decode' (string expected)")
        try:
            data = json.loads(s.decode("utf-8", "surrogateescape"))
        except ValueError as e:
            raise ValueError(f"Expected value but found invalid token at character {getattr(e, 'pos', 0) + 1}") from None
        return self._from_json(data)

    def _from_json(self, d: Any) -> Any:
        if d is None:
            return self.null
        if isinstance(d, bool):
            return d
        if isinstance(d, (int, float)):
            return float(d) if isinstance(d, int) and abs(d) > 2**53 else d
        if isinstance(d, str):
            return d.encode("utf-8", "surrogateescape")
        if isinstance(d, list):
            return self.lua.table_from([self._from_json(x) for x in d])
        t = self.lua.table()
        for k, x in d.items():
            t[k.encode("utf-8", "surrogateescape")] = self._from_json(x)
        return t

    # -- cjson.encode_keep_buffer ----------------------------------------------------------------
    def encode_keep_buffer(self, *args: Any) -> bool:
        """A buffer-reuse switch in lua_cjson: it changes no output, so only its value and its
        argument checks (json_enum_option) are kept."""
        if len(args) > 1:
            raise ValueError("bad argument #2 to 'encode_keep_buffer' (found too many arguments)")
        if args and args[0] is not None:
            v = args[0]
            if type(v) is bool:
                self.keep_buffer = v
            elif type(v) in (bytes, int, float):
                text = v if type(v) is bytes else (b"%d" % v if float(v).is_integer() else b"%.14g" % v)
                if text not in (b"on", b"off"):
                    raise ValueError(f"bad argument #1 to 'encode_keep_buffer' (invalid option '{lua_text(text)}')")
                self.keep_buffer = text == b"on"
            else:
                raise ValueError("bad argument #1 to 'encode_keep_buffer' (string expected, got "
                                 f"{lua_vm.lua_type(v) or 'userdata'})")
        return self.keep_buffer


def _string(b: bytes) -> str:
    """json_append_string: lua-cjson escapes ``/`` and control characters."""
    out = ['"']
    for ch in b.decode("utf-8", "surrogateescape"):
        o = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "/":
            out.append("\\/")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\b":
            out.append("\\b")
        elif ch == "\f":
            out.append("\\f")
        elif o < 0x20 or o == 0x7F:
            out.append(f"\\u{o:04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)
