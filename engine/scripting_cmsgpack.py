"""The ``cmsgpack`` library Redis gives scripts (deps/lua/src/lua_cmsgpack.c, Salvatore
Sanfilippo's lua-cmsgpack 0.4): ``pack``, ``unpack``, ``unpack_one`` and ``unpack_limit`` with
lua-cmsgpack's encoding choices (a float that fits a single is sent as one, a table with keys
1..n is an array, nesting past 16 levels is nil) and its error texts.

Offered when the optional ``msgpack`` package is installed (:data:`AVAILABLE`); the functions
are Python callables the script VM wraps (engine/lua/sandbox.lua).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from engine.scripting_vm import lua_vm

try:
    import msgpack as _msgpack
except ImportError:  # pragma: no cover - depends on the environment
    _msgpack = None

__all__ = ["AVAILABLE", "CMsgpack"]

AVAILABLE = _msgpack is not None
_MAX_NESTING = 16


class CMsgpack:
    """The library in one VM (decoded tables are tables of that VM)."""

    def __init__(self, lua: Any) -> None:
        self.lua = lua

    def functions(self) -> dict[bytes, Callable[..., Any]]:
        """The ``cmsgpack`` table's functions, by name."""
        return {b"pack": self.pack, b"unpack": self.unpack, b"unpack_one": self.unpack_one,
                b"unpack_limit": self.unpack_limit}

    def pack(self, *args: Any) -> bytes:
        assert _msgpack is not None
        packer = _msgpack.Packer(use_bin_type=False, autoreset=True)
        out: list[bytes] = []
        for a in args:
            self._encode(a, packer, out, 0)
        return b"".join(out)

    def _encode(self, v: Any, packer: Any, out: list[bytes], depth: int) -> None:
        t = type(v)
        if v is None or depth > _MAX_NESTING:
            out.append(b"\xc0")
        elif t is bool or t is bytes or t is int:
            out.append(packer.pack(v))
        elif t is float:
            single = struct.pack(">f", v)
            if struct.unpack(">f", single)[0] == v or v != v:
                out.append(b"\xca" + single)
            else:
                out.append(b"\xcb" + struct.pack(">d", v))
        elif lua_vm.lua_type(v) == "table":
            keys = list(v.keys())
            if all(type(k) is int and k > 0 for k in keys) and (not keys or max(keys) == len(keys)):
                out.append(packer.pack_array_header(len(keys)))
                for i in range(1, len(keys) + 1):
                    self._encode(v[i], packer, out, depth + 1)
            else:
                out.append(packer.pack_map_header(len(keys)))
                for k in keys:
                    self._encode(k, packer, out, depth + 1)
                    self._encode(v[k], packer, out, depth + 1)
        else:
            out.append(b"\xc0")

    def unpack(self, data: Any) -> tuple[Any, ...]:
        assert _msgpack is not None
        if type(data) is not bytes:
            raise ValueError("MessagePack decoding needs a string as input.")
        unpacker = _msgpack.Unpacker(raw=True, strict_map_key=False)
        unpacker.feed(data)
        return tuple(self._to_lua(o) for o in unpacker)

    def unpack_full(self, data: Any, limit: int, offset: int) -> tuple[Any, ...]:
        """mp_unpack_full (lua_cmsgpack.c): at most ``limit`` values from byte ``offset``,
        preceded by the offset of the next value (-1 at the end of the input)."""
        assert _msgpack is not None
        if type(data) is not bytes:
            raise ValueError("MessagePack decoding needs a string as input.")
        n = len(data)
        if offset < 0 or limit < 0:
            raise ValueError(f"Invalid request to unpack with offset of {offset} and limit of {n}.")
        if offset > n:
            raise ValueError(f"Start offset {offset} greater than input length {n}.")
        decode_all = not limit and not offset
        unpacker = _msgpack.Unpacker(raw=True, strict_map_key=False)
        unpacker.feed(data[offset:])
        out: list[Any] = []
        consumed = 0
        while consumed < n - offset and (decode_all or len(out) < limit):
            try:
                out.append(self._to_lua(unpacker.unpack()))
            except _msgpack.OutOfData:
                raise ValueError("Missing bytes in input.") from None
            except Exception:  # noqa: BLE001 - any malformed input is the same error in Redis
                raise ValueError("Bad data format in input.") from None
            consumed = unpacker.tell()
        if decode_all:
            return tuple(out)
        return (-1 if offset + consumed >= n else offset + consumed, *out)

    def unpack_one(self, data: Any, offset: Any = 0) -> tuple[Any, ...]:
        return self.unpack_full(data, 1, _int_arg(offset, 2, "unpack_one"))

    def unpack_limit(self, data: Any, limit: Any = None, offset: Any = 0) -> tuple[Any, ...]:
        return self.unpack_full(data, _int_arg(limit, 2, "unpack_limit", required=True),
                                _int_arg(offset, 3, "unpack_limit"))

    def _to_lua(self, o: Any) -> Any:
        if isinstance(o, list):
            return self.lua.table_from([self._to_lua(x) for x in o])
        if isinstance(o, dict):
            t = self.lua.table()
            for k, x in o.items():
                t[self._to_lua(k)] = self._to_lua(x)
            return t
        return o


def _int_arg(v: Any, n: int, fname: str, required: bool = False) -> int:
    """luaL_checkinteger / luaL_optinteger for a Python callable's argument."""
    if v is None and not required:
        return 0
    if type(v) in (int, float) and type(v) is not bool:
        return int(v)
    if type(v) is bytes:
        try:
            return int(float(v))
        except ValueError:
            pass
    got = "no value" if v is None else (lua_vm.lua_type(v) or "userdata")
    raise ValueError(f"bad argument #{n} to '{fname}' (number expected, got {got})")
