"""The Python side of the ``redis`` library scripts see (script_lua.c's luaRedis*Command):
``redis.call``/``redis.pcall`` with scriptCall's checks, ``redis.setresp``, ``redis.log``,
``redis.sha1hex`` and ``redis.acl_check_cmd``.  The Lua side (error_reply, status_reply, the
constants, the read-only table) is in engine/lua/sandbox.lua.

A command called from a script runs through dispatch's :func:`~engine.dispatch.call` on the
script's fake client (Redis's lua_client), so it touches the keyspace exactly as a client's
command does; its reply comes back through :class:`~engine.scripting_convert.Conversions`.
"""

from __future__ import annotations

import hashlib
import logging
from typing import TYPE_CHECKING, Any

from engine import errors
from engine.dispatch import call, resolve
from engine.errors import RedisError, ScriptCallError
from engine.table import COMMANDS

if TYPE_CHECKING:
    from engine.scripting import ScriptEngine

__all__ = ["RedisLib"]

log = logging.getLogger("engine")

_LOG_LEVELS = {0: logging.DEBUG, 1: logging.INFO, 2: logging.WARNING, 3: logging.ERROR}


class RedisLib:
    """The callbacks of one VM's ``redis`` table; the running script's state is the engine's."""

    def __init__(self, engine: ScriptEngine) -> None:
        self.engine = engine

    # -- redis.call / redis.pcall / redis.setresp ---------------------------------------------
    def call(self, raise_error: Any, *args: Any) -> tuple[bool, Any]:
        """redis.call / redis.pcall: returns (ok, value); on failure value is the error text.
        ``raise_error`` None is redis.setresp's path."""
        eng = self.engine
        fake = eng.fake
        if fake is None:
            return False, b"ERR redis.call can only be used inside a script"
        if raise_error is None:  # redis.setresp
            v = args[1] if len(args) > 1 else None
            if type(v) is not int and not (type(v) is float and v.is_integer()):
                return False, b"ERR redis.setresp() requires one argument."
            if int(v) not in (2, 3):
                return False, b"ERR RESP version must be 2 or 3."
            fake.resp = int(v)
            return True, None
        if not args:
            return False, errors.LUA_NO_ARGS.encode()
        argv: list[bytes] = []
        for a in args:
            ta = type(a)
            if ta is bytes:
                argv.append(a)
            elif ta is int:
                argv.append(b"%d" % a)
            elif ta is float:
                argv.append(b"%.17g" % a)
            else:
                return False, errors.LUA_BAD_ARG_TYPE.encode()
        checked = self.check_call(argv)
        if isinstance(checked, RedisError):
            return False, checked.reply_text().encode()
        reply = call(fake, checked, argv)
        if isinstance(reply, RedisError):
            return False, reply.reply_text().encode()
        return True, eng.conversions.to_lua(reply, fake.resp)

    def call_raise(self, *args: Any) -> Any:
        """redis.call: the reply, or a Lua error carrying Redis's error text."""
        ok, v = self.call(True, *args)
        if not ok:
            raise ScriptCallError(v.decode("utf-8", "replace"))
        return v

    def setresp(self, *args: Any) -> None:
        ok, v = self.call(None, b"setresp", *args)
        if not ok:
            raise ScriptCallError(v.decode())

    def check_call(self, argv: list[bytes]) -> Any:
        """scriptCall's checks; returns the command row or the error."""
        eng = self.engine
        name = argv[0].lower()
        top = COMMANDS.get(name)
        if top is None:
            return errors.CommandError("ERR Unknown Redis command called from script")
        try:
            cmd = resolve(argv)
        except RedisError as e:
            if top.subcommands and len(argv) >= 2 and argv[1].lower() not in top.subcommands:
                return e
            return errors.CommandError("ERR Wrong number of args calling Redis command from script")
        if "noscript" in cmd.flags:
            return errors.CommandError("ERR This Redis command is not allowed from script")
        server = eng.server
        fake = eng.fake
        assert fake is not None
        if server.acl_active:
            denied = server.acl_check(fake, cmd, argv)
            if denied is not None:
                return denied
        if cmd.is_write:
            if eng.read_only:
                return errors.CommandError("ERR Write commands are not allowed from read-only scripts.")
            if server.disk_error is not None:
                return RedisError(server.disk_error)
            if server.maxmemory and cmd.denyoom and not eng.wrote:
                rejected = server.before_write(fake, cmd)
                if rejected is not None:
                    return rejected
            eng.wrote = True
        return cmd

    # -- redis.log, redis.sha1hex, redis.acl_check_cmd ------------------------------------------
    @staticmethod
    def log(level: Any, message: bytes) -> None:
        lvl = _LOG_LEVELS.get(int(level) if type(level) in (int, float) else 3, logging.WARNING)
        log.log(lvl, "%s", message.decode("utf-8", "replace"))

    @staticmethod
    def sha1hex(s: bytes) -> bytes:
        return hashlib.sha1(s).hexdigest().encode()

    def acl_check_cmd(self, *args: Any) -> bool:
        """redis.acl_check_cmd(cmd, ...): may the script's caller run this command with these
        arguments (ACLCheckAllUserCommandPerm)?  An unknown command is an error."""
        if not args:
            raise ScriptCallError(errors.LUA_NO_ARGS)
        argv: list[bytes] = []
        for a in args:
            if type(a) is bytes:
                argv.append(a)
            elif type(a) in (int, float) and type(a) is not bool:
                argv.append(b"%d" % a if float(a).is_integer() else b"%.17g" % a)
            else:
                raise ScriptCallError(errors.LUA_BAD_ARG_TYPE)
        cmd = COMMANDS.get(argv[0].lower())
        if cmd is not None and cmd.subcommands and len(argv) >= 2:
            cmd = cmd.subcommands.get(argv[1].lower())
        if cmd is None:
            raise ScriptCallError("ERR Invalid command passed to redis.acl_check_cmd()")
        fake = self.engine.fake
        server = self.engine.server
        if fake is None or not server.acl_active:
            return True
        user = server.acl.users.get(fake.user)  # type: ignore[attr-defined]
        return user is not None and (user.unrestricted or user.check_command(cmd, argv) is None)
