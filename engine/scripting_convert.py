"""Redis's conversions between Lua values and replies (script_lua.c): a script's return value
to a reply (luaReplyToRedisReply) and a command's reply to the Lua value redis.call returns
(redisProtocolToLuaType, the RESP2 and RESP3 tables).

Both directions work on one VM's values, so a :class:`Conversions` belongs to one VM: it
builds tables with that VM's runtime and reads returned tables through the sandbox's
``reply_view`` (engine/lua/sandbox.lua), which reads them raw as Redis does (a script's
metatables never run while its reply is built).
"""

from __future__ import annotations

from typing import Any

from engine import errors
from engine.errors import RedisError, ScriptError
from engine.protocol import NULL_ARRAY, BigNumber, Push, Status, Verbatim, format_double
from engine.scripting_vm import lua_vm

__all__ = ["Conversions", "lua_to_int", "lua_text"]

_INT64_MIN = -(1 << 63)
_INT64_MAX = (1 << 63) - 1
_MAX_DEPTH = 1000  # nesting past this is "reached lua stack limit" (lua_checkstack fails)


class Conversions:
    def __init__(self, lua: Any, reply_view: Any) -> None:
        self.lua = lua
        self.reply_view = reply_view

    # -- Lua -> reply (luaReplyToRedisReply) ----------------------------------------------------
    def to_reply(self, v: Any, resp: int, depth: int = 0) -> Any:
        """``resp`` is the script's own protocol (redis.setresp): it decides only how booleans
        are sent (luaReplyToRedisReply); maps, sets and doubles follow the caller's."""
        t = type(v)
        if t is bytes:
            return v
        if t is bool:
            if resp == 3:
                return v
            return 1 if v else None
        if t is int or t is float:
            return lua_to_int(v)
        if v is None:
            return None
        if lua_vm.lua_type(v) != "table":
            return None
        if depth > _MAX_DEPTH:
            return errors.CommandError(errors.LUA_STACK_LIMIT)
        kind, x = self.reply_view(v)
        if kind == b"array":
            # Items 1..x exist (raw), so indexing them never reaches a metatable.
            return [self.to_reply(v[i], resp, depth + 1) for i in range(1, x + 1)]
        if kind == b"err":
            text = x.decode("utf-8", "replace")
            if depth == 0:
                return ScriptError(text[1:] if text.startswith("-") else text)
            # Nested: addReplyErrorFormatEx(c, "-%s", msg) sends the text as it is, newlines
            # turned into spaces (redis.error_reply has already given it a code).
            return ScriptError(text.strip("\r\n").replace("\r", " ").replace("\n", " "))
        if kind == b"ok":
            return Status(x.decode("utf-8", "replace").replace("\r", " ").replace("\n", " "))
        if kind == b"double":
            return float(x)
        if kind == b"big_number":
            return BigNumber(x)
        if kind == b"map":
            return {self.to_reply(k, resp, depth + 1): self.to_reply(y, resp, depth + 1) for k, y in x.items()}
        if kind == b"set":
            return {self.to_reply(k, resp, depth + 1) for k in x.keys()}
        return Verbatim(x if type(x) is bytes else b"")

    # -- reply -> Lua (redisProtocolToLuaType) --------------------------------------------------
    def to_lua(self, v: Any, resp: int) -> Any:
        t = type(v)
        if t is bytes:
            return v
        if t is int:
            return v
        if t is Status:
            return self.lua.table_from({b"ok": v.encode()})
        if v is None or v is NULL_ARRAY:
            return None if resp == 3 else False
        if t is bytearray or t is Verbatim:
            return bytes(v)
        if t is bool:
            return v if resp == 3 else int(v)
        if t is float:
            if resp == 3:
                return self.lua.table_from({b"double": v})
            return format_double(v)
        if t is list or t is tuple or t is Push:
            return self.lua.table_from([self.to_lua(x, resp) for x in v])
        if t is dict:
            if resp == 3:
                m = self.lua.table()
                for k, x in v.items():
                    m[self.to_lua(k, resp)] = self.to_lua(x, resp)
                return self.lua.table_from({b"map": m})
            flat: list[Any] = []
            for k, x in v.items():
                flat.append(self.to_lua(k, resp))
                flat.append(self.to_lua(x, resp))
            return self.lua.table_from(flat)
        if t is set or t is frozenset:
            if resp == 3:
                m = self.lua.table()
                for k in v:
                    m[self.to_lua(k, resp)] = True
                return self.lua.table_from({b"set": m})
            return self.lua.table_from([self.to_lua(x, resp) for x in v])
        if isinstance(v, RedisError):
            return self.lua.table_from({b"err": v.reply_text().encode()})
        if t is str:
            return v.encode()
        if isinstance(v, int):
            return int(v)
        return None


def lua_to_int(v: float | int) -> int:
    """(long long) of a Lua number, as luaReplyToRedisReply does; out of range -> INT64_MIN."""
    if type(v) is int:
        return v if _INT64_MIN <= v <= _INT64_MAX else _INT64_MIN
    if v != v or v >= 9.223372036854775807e18 or v < -9.223372036854775808e18:
        return _INT64_MIN
    return int(v)


def lua_text(v: Any) -> str:
    """A Lua string (bytes) or number as text for an error message."""
    if type(v) is bytes:
        return v.decode("utf-8", "replace")
    return str(v)
