"""The Lua runtime behind EVAL and FCALL (script_lua.c, eval.c): one Lua 5.1 VM (lupa) per
engine, the EVAL script cache, and the state of the script now running.

The parts, one job each:

* engine/scripting_vm.py -- which VM: LuaJIT 2.1 with its compiler off, as Lua 5.1, because
  stock Lua 5.1's string hash makes some scripts quadratic where Redis's patched copy is not;
* engine/scripting_tailcall.py -- keeps the script's frame in ``return redis.call(...)``, so
  errors name the script's line as PUC Lua's do;
* engine/lua/sandbox.lua -- the sandbox and the Lua side of every library, run once per VM;
* engine/scripting_redis.py -- ``redis.call``/``pcall`` and the other ``redis.*`` callbacks;
* engine/scripting_cjson.py, scripting_cmsgpack.py, scripting_bit.py, scripting_struct.py --
  the ``cjson``, ``cmsgpack``, ``bit`` and ``struct`` libraries;
* engine/scripting_convert.py -- Lua values <-> replies;
* engine/scripting_busy.py -- serving other clients while a script is busy.

Sandbox.  The VM is created without lupa's ``python`` bridge; ``os``, ``io``, ``debug``,
``print``, ``require``, ``dofile``, ``loadfile``, ``module``, ``package`` and ``newproxy``
are removed (as Redis 7.0 does).  The globals table and every library table are replaced by
empty read-only proxies, so writing a global or a library field fails with Redis 7.0's
"Attempt to modify a readonly table" and reading a missing global with "Script attempted to
access nonexistent global variable"; ``rawset`` refuses the proxies and their metatables are
locked.  ``loadstring``/``load`` refuse precompiled (binary) chunks, so ``string.dump``
bytecode cannot be loaded.  No Python object is reachable from a script: the callbacks the
``redis`` library uses are captured as upvalues of Lua wrappers, and ``attribute_filter``
refuses attribute access on anything Python that leaks anyway.

Long scripts.  Redis runs a script on its only thread and, from inside a Lua count hook,
keeps serving clients with BUSY after ``busy-reply-threshold`` (processEventsWhileBlocked).
We do the same: a count hook (every 10 000 VM instructions) checks the clock, and once the
threshold has passed engine/scripting_busy.py reads the other connections' sockets directly
(their fds are non-blocking), accepts new connections, and runs their requests through
dispatch, which answers BUSY to everything but the ``allow_busy`` commands (SCRIPT KILL,
FUNCTION KILL, SHUTDOWN); SIGTERM ends the script so the server can shut down.  This keeps
the script on the loop thread, so atomicity needs no locks and commands from a script touch
the keyspace exactly as client commands do; a worker thread would need both.  After SCRIPT
KILL the hook fires on every line of the script, so a ``pcall`` cannot swallow the kill.
"""

from __future__ import annotations

import time
from importlib import resources
from typing import TYPE_CHECKING, Any

from engine import errors, scripting_bit, scripting_struct
from engine.client import Client
from engine.errors import RedisError, ScriptError
from engine.scripting_busy import BusyServer
from engine.scripting_cjson import CJson
from engine.scripting_cmsgpack import AVAILABLE as _CMSGPACK
from engine.scripting_cmsgpack import CMsgpack
from engine.scripting_convert import Conversions, lua_text
from engine.scripting_redis import RedisLib
from engine.scripting_tailcall import keep_caller_frames
from engine.scripting_vm import lua_vm

if TYPE_CHECKING:
    from engine.server import Server

__all__ = ["ScriptEngine", "script_engine", "function_engine"]

_HOOK_EVERY = 10_000  # VM instructions between two checks of the clock and of SCRIPT KILL
_SANDBOX = resources.files("engine").joinpath("lua/sandbox.lua").read_text(encoding="utf-8")


def _deny_attributes(obj: Any, name: Any, is_setting: bool) -> Any:
    raise AttributeError("access to Python objects is not allowed from scripts")


class ScriptEngine:
    """One Lua VM per server, the EVAL script cache, and the state of the running script."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.scripts: dict[str, bytes] = {}  # sha -> body (SCRIPT LOAD / EVAL)
        self.compiled: dict[str, Any] = {}
        self.running: Client | None = None  # the caller of the script now running
        self.fake: Client | None = None
        self.read_only = False
        self.wrote = False
        self.start_s = 0.0
        self.kill_requested = False
        self.busy_message = errors.BUSY_SCRIPT
        self.running_name = b""  # FUNCTION STATS: the function running and the FCALL that called it
        self.running_argv: list[bytes] = []
        self.libraries: dict[bytes, Any] = {}  # FUNCTION libraries and functions (engine/commands/functions.py)
        self.functions: dict[bytes, Any] = {}
        self._fake_client: Client | None = None
        self._busy: BusyServer | None = None  # while the running script is past busy-reply-threshold
        self._reset_vm()

    # -- the VM ------------------------------------------------------------------------------
    def _reset_vm(self) -> None:
        # max_memory=0: lupa's counting allocator, so lua-max-memory can bound the VM.
        lua = self.lua = lua_vm.LuaRuntime(encoding=None, register_eval=False, register_builtins=False,
                                          unpack_returned_tuples=True, attribute_filter=_deny_attributes,
                                          max_memory=0)
        self._max_memory = -1  # lua-max-memory as applied to this VM (checked before each run)
        self.cjson = CJson(lua)
        redis = RedisLib(self)
        cmsgpack = lua.table_from(CMsgpack(lua).functions()) if _CMSGPACK else None
        setup = lua.execute(_SANDBOX, redis.call, redis.call_raise, redis.setresp, redis.log, redis.sha1hex,
                            self._hook_check, self.cjson.encode, self.cjson.decode, self.cjson.null,
                            lua.table_from(scripting_bit.library()), cmsgpack,
                            lua.table_from({b"pack": scripting_struct.pack, b"unpack": scripting_struct.unpack,
                                            b"size": scripting_struct.size}),
                            redis.acl_check_cmd, self.cjson.encode_keep_buffer, _HOOK_EVERY)
        # lupa returns the setup chunk's results as a tuple
        self._compile, self._run, self._run_with, self._load_library, _real_globals, reply_view = setup
        self.conversions = Conversions(lua, reply_view)
        self.compiled.clear()

    def flush(self) -> None:
        """SCRIPT FLUSH: forget every script and start a fresh VM (scriptingReset)."""
        self.scripts.clear()
        self._reset_vm()

    # -- compile and run ----------------------------------------------------------------------
    def compile_chunk(self, body: bytes, chunkname: bytes) -> tuple[Any, Any]:
        """(function, None) or (None, Lua's compile error) for ``body`` in the sandbox.

        The script as written is compiled first, so a compile error is Lua's own; the function
        kept is the one whose library tail calls keep the script's frame
        (engine/scripting_tailcall.py)."""
        f, err = self._compile(body, chunkname)  # lupa gives the chunk's two results as a tuple
        if f is not None:
            kept = keep_caller_frames(body)
            if kept is not body:
                f, err = self._compile(kept, chunkname)
        return f, err

    def compile(self, body: bytes, chunkname: bytes = b"@user_script") -> Any:
        """A Lua function for ``body``; raises the compile error as Redis words it."""
        f, err = self.compile_chunk(body, chunkname)
        if f is None:
            raise errors.CommandError(f"ERR Error compiling script (new function): {lua_text(err)}")
        return f

    def load_library(self, f: Any, register: Any) -> tuple[bool, Any]:
        """Run a FUNCTION library's code with the load-time ``redis`` table (register_function)."""
        ok, result = self._load_library(f, register)
        return ok, result

    def function_for(self, sha: str, body: bytes) -> Any:
        f = self.compiled.get(sha)
        if f is None:
            f = self.compile(body)
            self.compiled[sha] = f
        return f

    def execute(self, ctx: Client, fn: Any, keys: list[bytes], args: list[bytes], name: str, read_only: bool,
                direct_args: bool = False, function: bool = False) -> Any:
        """Run ``fn`` for ``ctx`` and return the reply value (scriptCall + luaCallFunction)."""
        server = self.server
        fake = self._fake_client
        if fake is None or fake.server is not server:
            # One fake client per VM, as Redis keeps one lua_client (scripts never nest).
            fake = self._fake_client = Client(server)
            fake.is_script = True
        fake.db = ctx.db
        fake.user = ctx.user
        fake.authenticated = True
        fake.resp = 2
        fake.caller = ctx  # type: ignore[attr-defined]
        self.fake = fake
        self.running = ctx
        self.read_only = read_only
        self.wrote = False
        self.kill_requested = False
        self.busy_message = errors.BUSY_FUNCTION if function else errors.BUSY_SCRIPT
        self.start_s = time.monotonic()
        outer_frozen = server.frozen_ms
        if outer_frozen is None:
            server.frozen_ms = server.now_ms()
        lua = self.lua
        limit = int(server.config["lua-max-memory"])
        if limit != self._max_memory:
            lua.set_max_memory(limit)
            self._max_memory = limit
        try:
            try:
                if direct_args:
                    ok, result = self._run_with(fn, lua.table_from(keys), lua.table_from(args))
                else:
                    ok, result = self._run(fn, lua.table_from(keys), lua.table_from(args))
            except lua_vm.LuaMemoryError:
                ok, result = False, b"not enough memory"
            if not ok:
                if result == b"not enough memory":
                    self.lua.gccollect()  # give the memory back before anyone else runs
                    return errors.CommandError(
                        f"ERR Error running script {name}, not enough memory (lua-max-memory "
                        f"{self.server.config['lua-max-memory']} bytes reached)")
                return self._error_reply(result, name)
            if self.kill_requested:
                # Killed inside a coroutine whose error the script caught: still killed.
                return ScriptError(errors.SCRIPT_KILLED)
            return self.conversions.to_reply(result, fake.resp)
        finally:
            server.frozen_ms = outer_frozen
            self.running = None
            self.fake = None
            if self._busy is not None:
                # Requests that waited in the sockets of paused connections are served now.
                self._busy.end()
                self._busy = None

    def _error_reply(self, err: Any, name: str) -> RedisError:
        if lua_vm.lua_type(err) != "table":
            return errors.CommandError(f"ERR Error running script {name}, {lua_text(err)[:100]}")
        msg = lua_text(err[b"err"])
        source, line = err[b"source"], err[b"line"]
        if source is not None and line is not None:
            msg = f"{msg} script: {name}, on {lua_text(source)}:{int(line)}."
        return ScriptError(msg[1:] if msg.startswith("-") else msg)

    def _hook_check(self) -> Any:
        """The count hook: after busy-reply-threshold, serve other clients with BUSY; stop the
        script when SCRIPT KILL asked for it (the error text the sandbox raises), else None."""
        killed = errors.SCRIPT_KILLED.encode()
        if self.kill_requested:
            return killed
        threshold = self.server.config["busy-reply-threshold"]
        if not threshold or (time.monotonic() - self.start_s) * 1000 < threshold:
            return None
        busy = self._busy
        if busy is None:
            busy = self._busy = BusyServer(self.server, self.busy_message)
            busy.begin(threshold)
        busy.serve(self.running)
        if self.kill_requested or busy.must_stop():
            return killed
        return None


def script_engine(server: Server) -> ScriptEngine:
    """The server's script engine, created on first use."""
    eng: ScriptEngine | None = getattr(server, "scripting", None)
    if eng is None:
        eng = ScriptEngine(server)
        server.scripting = eng  # type: ignore[attr-defined]
    return eng


def function_engine(server: Server) -> ScriptEngine:
    """The VM of FUNCTION libraries: separate from EVAL's, so SCRIPT FLUSH keeps them."""
    eng: ScriptEngine | None = getattr(server, "function_vm", None)
    if eng is None:
        eng = ScriptEngine(server)
        server.function_vm = eng  # type: ignore[attr-defined]
    return eng
