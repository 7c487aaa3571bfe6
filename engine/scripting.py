"""The Lua runtime behind EVAL and FCALL (script_lua.c, eval.c): a Lua 5.1 VM (lupa), the
sandbox, the ``redis`` library, ``cjson`` and ``bit``, and Redis's Lua <-> RESP conversions.

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

import functools
import hashlib
import json
import logging
import math
import struct
import time
from typing import TYPE_CHECKING, Any

from lupa import lua51

try:  # cmsgpack is offered when msgpack is installed (it is optional for the engine)
    import msgpack as _msgpack
except ImportError:  # pragma: no cover - depends on the environment
    _msgpack = None

from engine import errors, scripting_struct
from engine.client import Client
from engine.dispatch import call, resolve
from engine.errors import RedisError
from engine.protocol import NULL_ARRAY, BigNumber, Push, Status, Verbatim, format_double
from engine.table import COMMANDS

if TYPE_CHECKING:
    from engine.server import Server

__all__ = ["ScriptEngine", "ScriptKilled", "script_engine", "function_engine", "BUSY_MESSAGE"]

log = logging.getLogger("engine")

BUSY_MESSAGE = "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
FUNCTION_BUSY_MESSAGE = "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE."
_INT64_MIN = -(1 << 63)
_INT64_MAX = (1 << 63) - 1
_HOOK_EVERY = 10_000
_BIT_OPS = ("tobit", "tohex", "bnot", "band", "bor", "bxor", "lshift", "rshift", "arshift", "rol", "ror", "bswap")

_LOG_LEVELS = {0: logging.DEBUG, 1: logging.INFO, 2: logging.WARNING, 3: logging.ERROR}


class ScriptError(RedisError):
    """An error reply a script produced, sent exactly as worded (no ``ERR`` added): Redis
    replies ``-My Err`` to ``return redis.error_reply('My Err')``."""

    def reply_text(self) -> str:
        return self.message


class ScriptCallError(Exception):
    """A failed redis.call, raised into Lua; its text is the error reply."""


class ScriptKilled(Exception):
    """Raised (as a Lua error) by the count hook after SCRIPT KILL / FUNCTION KILL."""


def _deny_attributes(obj: Any, name: Any, is_setting: bool) -> Any:
    raise AttributeError("access to Python objects is not allowed from scripts")


# The setup chunk runs once per VM; it receives the Python callbacks and returns the
# functions the engine needs.  Everything a script can see is built here.
_SETUP = r"""
local pycall, pycall_raise, pysetresp, pylog, pysha1, pycheck, pyjson_encode, pyjson_decode, jnull, pybit, pymsgpack,
      pystruct, pyacl_check, pyjson_keep = ...
local G = _G
local real = {}
local readonly = setmetatable({}, {__mode = "k"})
local type, error, rawget, rawset0, setmetatable0, tostring = type, error, rawget, rawset, setmetatable, tostring
local loadstring0, setfenv, getinfo, sethook = loadstring, setfenv, debug.getinfo, debug.sethook
local select, pairs, unpack, concat = select, pairs, unpack, table.concat
local raw_coroutine = coroutine

-- Redis 7.0 has neither getfenv nor setfenv: with them a script could swap the environment
-- (setfenv(0, ...)) that later scripts of any user run in.  collectgarbage and gcinfo stay.
for _, name in ipairs({"os", "io", "debug", "print", "require", "dofile", "loadfile", "module", "package",
                       "newproxy", "python", "getfenv", "setfenv"}) do
  G[name] = nil
end

local last_call_err = nil

local function readonly_error() error("Attempt to modify a readonly table", 2) end

local function protect(t)
  local proxy = {}
  readonly[proxy] = true
  setmetatable0(proxy, {__index = t, __newindex = readonly_error, __metatable = false})
  return proxy
end

local function safe_loadstring(s, name)
  if type(s) == "string" and s:byte(1) == 27 then
    return nil, "Attempt to load a precompiled chunk"
  end
  local f, e = loadstring0(s, name)
  if f then setfenv(f, G) end
  return f, e
end

local redis = {}
local function call_args_error(e)
  last_call_err = e
  error(e, 0)
end
-- redis.call is the Python callable itself (a C function to Lua), so a failing call keeps the
-- caller's line even in a tail call ("return redis.call(...)"), as Redis's C function does.
redis.call = pycall_raise
redis.pcall = function(...)
  local ok, v = pycall(false, ...)
  if not ok then return {err = v} end
  return v
end
-- luaRedisErrorReplyCommand + luaPushErrorBuff: "-CODE msg" keeps its code, anything else
-- (including "" and a code without a message) gets "ERR"; CR/LF are trimmed from the message.
redis.error_reply = function(e)
  if type(e) ~= "string" then error("wrong number or type of arguments", 2) end
  if e:sub(1, 1) ~= "-" then e = "-" .. e end
  local sp = e:find(" ", 1, true)
  local code, msg = "ERR", e:sub(2)
  if sp then code, msg = e:sub(2, sp - 1), e:sub(sp + 1) end
  msg = msg:gsub("^[\r\n]+", ""):gsub("[\r\n]+$", "")
  return {err = code .. " " .. msg}
end
redis.status_reply = function(s)
  if type(s) ~= "string" then error("wrong number or type of arguments", 2) end
  return {ok = s}
end
redis.sha1hex = function(s)
  if type(s) ~= "string" and type(s) ~= "number" then error("wrong number of arguments", 2) end
  return pysha1(tostring(s))
end
redis.log = function(level, ...)
  if select("#", ...) == 0 then error("redis.log() requires two arguments or more.", 2) end
  if type(level) ~= "number" then error("First argument must be a number (log level).", 2) end
  local parts = {}
  for i = 1, select("#", ...) do parts[i] = tostring((select(i, ...))) end
  pylog(level, concat(parts, " "))
end
redis.setresp = pysetresp
redis.set_repl = function() end
redis.replicate_commands = function() return true end
redis.breakpoint = function() return false end
redis.debug = function() end
redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING = 0, 1, 2, 3
redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE, redis.REPL_REPLICA, redis.REPL_ALL = 0, 1, 2, 2, 3
redis.REDIS_VERSION = "7.0.15"
redis.REDIS_VERSION_NUM = 458767

-- Python callables (C functions to Lua), so their errors keep the caller's line.
local cjson = {encode = pyjson_encode, decode = pyjson_decode, null = jnull, encode_keep_buffer = pyjson_keep}
redis.acl_check_cmd = pyacl_check
local struct = {}
for name, fn in pairs(pystruct) do struct[name] = fn end
G.struct = struct
local bit = {}
for name, fn in pairs(pybit) do bit[name] = fn end

G.redis = redis
G.cjson = cjson
G.bit = bit
if pymsgpack then
  local cmsgpack = {}
  for name, fn in pairs(pymsgpack) do cmsgpack[name] = fn end
  G.cmsgpack = cmsgpack
end
G.loadstring = safe_loadstring
G.load = function(f, name)
  local parts = {}
  while true do
    local piece = f()
    if piece == nil or piece == "" then break end
    parts[#parts + 1] = piece
  end
  return safe_loadstring(concat(parts), name)
end
local pcall0, xpcall0, unpack0, maxn = pcall, xpcall, unpack, table.maxn

-- "user_script:N: " of a frame of user code (``co``'s stack when given), or nil: the position
-- luaL_error gives an error raised by a C function called from that frame.
local function where_at(co, level)
  local i
  if co then i = getinfo(co, level, "Sl") else i = getinfo(level + 1, "Sl") end
  if i and i.what ~= "C" and type(i.source) == "string" and i.source:sub(1, 6) == "@user_" then
    return i.source:sub(2) .. ":" .. tostring(i.currentline) .. ": "
  end
  return nil
end

-- A Python callback raised: Lua sees its exception as userdata.  A script must only ever see
-- what Redis gives it: redis.call's errors as {err = "CODE ..."} tables, other errors (cjson,
-- bit, cmsgpack) as strings with the calling line, as luaL_error words them.
local function py_error_value(e, where)
  local text = tostring(e)
  if text:match("^[A-Z]+ ") then return {err = text} end
  return (where or "") .. text
end

-- luaRedisPcall (Redis 7.0): an error table's text becomes the error value.
local function pcall_handler(e)
  if type(e) == "userdata" then e = py_error_value(e, where_at(nil, 2)) end
  if type(e) == "table" and type(rawget(e, "err")) == "string" then e = rawget(e, "err") end
  return e
end
G.pcall = function(f, ...)
  local n = select("#", ...)
  if n == 0 then return xpcall0(f, pcall_handler) end
  local args = {...}
  return xpcall0(function() return f(unpack0(args, 1, n)) end, pcall_handler)
end
G.xpcall = function(f, h)
  return xpcall0(f, function(e)
    if type(e) == "userdata" then e = py_error_value(e, where_at(nil, 2)) end
    return h(e)
  end)
end
-- The engine's callables are Python objects (userdata): their shared metatable stays out of
-- reach, and tostring does not show Python's repr.
local getmetatable0, tostring0 = getmetatable, tostring
G.getmetatable = function(v)
  if type(v) == "userdata" then return nil end
  return getmetatable0(v)
end
G.tostring = function(v)
  if type(v) == "userdata" then return "userdata" end
  return tostring0(v)
end
-- The library functions are Python callables (userdata to Lua); Redis's are C functions.
-- cjson.null stays userdata, as Redis's lightuserdata is.
local type0 = type
G.type = function(v)
  local t = type0(v)
  if t == "userdata" and v ~= jnull then return "function" end
  return t
end
G.rawset = function(t, k, v)
  if readonly[t] then error("Attempt to modify a readonly table", 0) end
  return rawset0(t, k, v)
end
G.setmetatable = function(t, m)
  if readonly[t] then error("Attempt to modify a readonly table", 0) end
  return setmetatable0(t, m)
end

-- Library tables become read-only proxies; then the globals themselves.
for _, name in ipairs({"string", "table", "math", "coroutine", "redis", "cjson", "bit", "cmsgpack", "struct"}) do
  if G[name] then G[name] = protect(G[name]) end
end
local string_mt = getmetatable("")
string_mt.__index = G.string
string_mt.__metatable = protect({__index = G.string})  -- getmetatable("") is read-only too
for k, v in pairs(G) do real[k] = v end
for k in pairs(real) do G[k] = nil end
G._G = nil
real._G = G
-- A global read is a plain table lookup in ``real`` (the VM follows __index tables without a
-- function call); only a missing name reaches the function that raises Redis's error.
setmetatable0(real, {
  __index = function(_, k)
    local caller = getinfo(2, "S")
    -- Lookups from C (lupa's own error handling) get nil; Lua code gets Redis's error.
    if caller == nil or caller.what == "C" then return nil end
    error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
  end,
})
setmetatable0(G, {
  __index = real,
  __newindex = readonly_error,
  __metatable = protect({}),  -- getmetatable(_G) gives a table that cannot be changed
})
readonly[G] = true

local function error_handler(err)
  local source, line
  for level = 2, 20 do
    local i = getinfo(level, "Sl")
    if not i then break end
    if type(i.source) == "string" and i.source:sub(1, 6) == "@user_" then
      source, line = i.source, i.currentline
      break
    end
  end
  if type(err) == "table" and type(rawget(err, "err")) == "string" then
    err = {err = rawget(err, "err")}
  elseif type(err) == "string" and err == last_call_err then
    err = {err = err}
  elseif type(err) == "userdata" then
    -- A Python callback raised: redis.call's errors carry their code ("ERR ...", "WRONGTYPE
    -- ..."); others (cjson, bit) are worded like a Lua error at the caller's line.
    local text = tostring(err)
    if text:match("^[A-Z]+ ") then
      err = {err = text}
    else
      err = {err = "ERR " .. (source and (source:sub(2) .. ":" .. tostring(line) .. ": ") or "") .. text}
    end
  else
    err = {err = "ERR " .. tostring(err)}
  end
  last_call_err = nil
  err.source, err.line = source, line
  return err
end

local function hook(event)
  if event == "line" then
    -- Line events only come after a kill; the engine's own wrappers (run, error handlers)
    -- must finish, so only lines of the script itself raise.
    local i = getinfo(2, "S")
    if not (i and type(i.source) == "string" and i.source:sub(1, 6) == "@user_") then return end
  end
  local stop = pycheck()
  if stop then
    -- As luaMaskCountHook does after SCRIPT KILL: fire on every line from now on, so a
    -- pcall that catches this error cannot keep the script running.
    sethook(hook, "l")
    error({err = stop})
  end
end

-- A Lua hook belongs to one thread (ldblib keys it by lua_State): coroutines get their own,
-- so a loop inside a coroutine is still seen by BUSY and SCRIPT KILL.
local co_create, co_resume = raw_coroutine.create, raw_coroutine.resume
local function hooked_create(f)
  local co = co_create(f)
  sethook(co, hook, "", HOOK_EVERY)
  return co
end
-- An error raised by a Python callback inside a coroutine reaches the resumer as Redis would
-- give it (a string, or redis.call's error table), never as a Python object; the dead
-- coroutine's stack still holds the frame that made the call.
local function resumed(co, ok, ...)
  if ok then return true, ... end
  local e = ...
  if type(e) == "userdata" then e = py_error_value(e, where_at(co, 1)) end
  return false, e
end
local function safe_resume(co, ...)
  return resumed(co, co_resume(co, ...))
end
raw_coroutine.create = hooked_create
raw_coroutine.resume = safe_resume
raw_coroutine.wrap = (function(f)
  local co = hooked_create(f)
  return function(...)
    local r = {safe_resume(co, ...)}
    if not r[1] then error(r[2], 2) end
    return unpack(r, 2, maxn(r))
  end
end)

local function compile(body, chunkname)
  local f, e = loadstring0(body, chunkname)
  if f then setfenv(f, G) end
  return f, e
end

local function run(f, keys, argv, ...)
  real.KEYS, real.ARGV = keys, argv
  sethook(hook, "", HOOK_EVERY)
  local ok, r = xpcall0(f, error_handler)
  sethook()
  if not ok then return false, r end
  return true, r
end

local function run_with(f, ...)
  local args = {...}
  local n = select("#", ...)
  sethook(hook, "", HOOK_EVERY)
  local ok, r = xpcall0(function() return f(unpack(args, 1, n)) end, error_handler)
  sethook()
  return ok, r
end

-- FUNCTION LOAD: run a library's code with a load-time ``redis`` table that only offers
-- register_function and log (as Redis 7.0's function load run context does); the library's
-- functions see the full ``redis`` table once loading is over.
local function load_library(f, register)
  local lib_redis = {register_function = register, log = redis.log, LOG_DEBUG = 0, LOG_VERBOSE = 1,
                     LOG_NOTICE = 2, LOG_WARNING = 3, REDIS_VERSION = redis.REDIS_VERSION,
                     REDIS_VERSION_NUM = redis.REDIS_VERSION_NUM, setresp = redis.setresp}
  local lib_proxy = setmetatable0({}, {
    __index = function(_, k)
      local v = lib_redis[k]
      if v == nil then error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2) end
      return v
    end,
    __newindex = readonly_error, __metatable = false})
  local loading = true
  local env = setmetatable0({}, {
    __index = function(_, k)
      if k == "redis" then return loading and lib_proxy or real.redis end
      local v = rawget(real, k)
      if v == nil then error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2) end
      return v
    end,
    __newindex = readonly_error, __metatable = false})
  readonly[env], readonly[lib_proxy] = true, true
  setfenv(f, env)
  sethook(hook, "", HOOK_EVERY)
  local ok, err = xpcall0(f, error_handler)
  sethook()
  loading = false
  return ok, err
end

-- luaReplyToRedisReply reads a returned table with lua_rawget: metatables (__index) of the
-- script's tables are never run while the reply is built.  The array part is read raw too.
local function reply_view(t)
  local v = rawget(t, "err")
  if type(v) == "string" then return "err", v end
  v = rawget(t, "ok")
  if type(v) == "string" then return "ok", v end
  v = rawget(t, "double")
  if type(v) == "number" then return "double", v end
  v = rawget(t, "big_number")
  if type(v) == "string" then return "big_number", v end
  v = rawget(t, "map")
  if type(v) == "table" then return "map", v end
  v = rawget(t, "set")
  if type(v) == "table" then return "set", v end
  v = rawget(t, "verbatim_string")
  if type(v) == "table" then return "verbatim_string", rawget(v, "string") end
  local n = 0
  while rawget(t, n + 1) ~= nil do n = n + 1 end
  return "array", n
end

return compile, run, run_with, load_library, real, reply_view
""".replace("HOOK_EVERY", str(_HOOK_EVERY))


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
        self.busy = False
        self.busy_message = BUSY_MESSAGE
        self.running_function = False
        self._fake_client: Client | None = None
        self.json_keep_buffer = True
        self._busy_server: Any = None  # engine.scripting_busy.BusyServer while busy
        self._reset_vm()

    # -- the VM ------------------------------------------------------------------------------
    def _reset_vm(self) -> None:
        # max_memory=0: lupa's counting allocator, so lua-max-memory can bound the VM.
        self.lua = lua51.LuaRuntime(encoding=None, register_eval=False, register_builtins=False,
                                    unpack_returned_tuples=True, attribute_filter=_deny_attributes, max_memory=0)
        self._max_memory = -1  # lua-max-memory as applied to this VM (checked before each run)
        self.null = object()
        mp = None
        if _msgpack is not None:
            mp = self.lua.table_from({b"pack": self._mp_pack, b"unpack": self._mp_unpack,
                                      b"unpack_one": self._mp_unpack_one, b"unpack_limit": self._mp_unpack_limit})
        bit_ops = self.lua.table_from({op.encode(): functools.partial(self._bit, op.encode()) for op in _BIT_OPS})
        setup = self.lua.execute(_SETUP, self._lua_call, self._lua_call_raise, self._lua_setresp, self._lua_log, self._sha1, self._hook_check,
                                 self._json_encode, self._json_decode, self.null, bit_ops, mp,
                                 self.lua.table_from({b"pack": scripting_struct.pack, b"unpack": scripting_struct.unpack,
                                                      b"size": scripting_struct.size}),
                                 self._acl_check_cmd, self._json_keep_buffer)
        # lupa returns the setup chunk's results as a tuple
        self._compile, self._run, self._run_with, self._load_library, self.real_globals, self._reply_view = setup
        self.compiled.clear()

    def flush(self) -> None:
        """SCRIPT FLUSH: forget every script and start a fresh VM (scriptingReset)."""
        self.scripts.clear()
        self._reset_vm()

    # -- compile and run ----------------------------------------------------------------------
    def compile(self, body: bytes, chunkname: bytes = b"@user_script") -> Any:
        """A Lua function for ``body``; raises the compile error as Redis words it."""
        f, err = self._compile(body, chunkname)
        if f is None:
            text = err.decode("utf-8", "replace") if isinstance(err, bytes) else str(err)
            raise errors.CommandError(f"ERR Error compiling script (new function): {text}")
        return f

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
        self.busy = False
        self.running_function = function
        self.busy_message = FUNCTION_BUSY_MESSAGE if function else BUSY_MESSAGE
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
            except lua51.LuaMemoryError:
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
                return ScriptError("ERR Script killed by user with SCRIPT KILL...")
            return self.to_reply(result, fake.resp)
        finally:
            server.frozen_ms = outer_frozen
            self.running = None
            self.fake = None
            if self.busy:
                self.busy = False
                server.script_busy = ""
                # Requests that waited in the sockets of paused connections are served now.
            if self._busy_server is not None:
                self._busy_server.end()
                self._busy_server = None

    def _error_reply(self, err: Any, name: str) -> RedisError:
        if lua51.lua_type(err) != "table":
            return errors.CommandError(f"ERR Error running script {name}, {_text(err)[:100]}")
        msg = _text(err[b"err"])
        source, line = err[b"source"], err[b"line"]
        if source is not None and line is not None:
            msg = f"{msg} script: {name}, on {_text(source)}:{int(line)}."
        return ScriptError(msg[1:] if msg.startswith("-") else msg)

    # -- Lua -> reply (luaReplyToRedisReply) ------------------------------------------------
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
            return _lua_to_int(v)
        if v is None:
            return None
        if lua51.lua_type(v) != "table":
            return None
        if depth > 1000:
            return errors.CommandError("ERR reached lua stack limit")
        kind, x = self._reply_view(v)
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

    # -- reply -> Lua (redisProtocolToLuaType) ----------------------------------------------
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

    # -- callbacks from Lua -------------------------------------------------------------------
    def _lua_call(self, raise_error: Any, *args: Any) -> tuple[bool, Any]:
        """redis.call / redis.pcall: returns (ok, value); on failure value is the error text."""
        fake = self.fake
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
            return False, b"ERR Please specify at least one argument for this redis lib call"
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
                return False, b"ERR Lua redis lib command arguments must be strings or integers"
        err = self._check_call(argv)
        if isinstance(err, RedisError):
            return False, err.reply_text().encode()
        reply = call(fake, err, argv)
        if isinstance(reply, RedisError):
            return False, reply.reply_text().encode()
        return True, self.to_lua(reply, fake.resp)

    def _lua_setresp(self, *args: Any) -> None:
        ok, v = self._lua_call(None, b"setresp", *args)
        if not ok:
            raise ScriptCallError(v.decode())

    def _lua_call_raise(self, *args: Any) -> Any:
        """redis.call: the reply, or a Lua error carrying Redis's error text."""
        ok, v = self._lua_call(True, *args)
        if not ok:
            raise ScriptCallError(v.decode("utf-8", "replace"))
        return v

    def _check_call(self, argv: list[bytes]) -> Any:
        """scriptCall's checks; returns the command row or the error."""
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
        server = self.server
        fake = self.fake
        assert fake is not None
        if server.acl_active:
            denied = server.acl_check(fake, cmd, argv)
            if denied is not None:
                return denied
        if cmd.is_write:
            if self.read_only:
                return errors.CommandError("ERR Write commands are not allowed from read-only scripts.")
            if server.disk_error is not None:
                return RedisError(server.disk_error)
            if server.maxmemory and cmd.denyoom and not self.wrote:
                rejected = server.before_write(fake, cmd)
                if rejected is not None:
                    return rejected
            self.wrote = True
        return cmd

    def _hook_check(self) -> Any:
        """The count hook: after busy-reply-threshold, serve other clients with BUSY; stop the
        script when SCRIPT KILL asked for it."""
        if self.kill_requested:
            return b"ERR Script killed by user with SCRIPT KILL..."
        threshold = self.server.config["busy-reply-threshold"]
        if not threshold or (time.monotonic() - self.start_s) * 1000 < threshold:
            return None
        if not self.busy:
            self.busy = True
            self.server.script_busy = self.busy_message
            log.warning("Slow script detected: still in execution after %d milliseconds.", threshold)
        self._serve_while_blocked()
        if self.kill_requested:
            return b"ERR Script killed by user with SCRIPT KILL..."
        if self._busy_server is not None and self._busy_server.signalled:
            # SIGTERM/SIGINT: end the script; the loop then handles the signal (shutdown).
            return b"ERR Script killed by user with SCRIPT KILL..."
        stopped = self.server._stopped
        if stopped is not None and stopped.is_set():
            # SHUTDOWN NOSAVE arrived while we were busy: the script must end for the loop to stop.
            return b"ERR Script killed by user with SCRIPT KILL..."
        return None

    def _serve_while_blocked(self) -> None:
        """processEventsWhileBlocked: existing and new clients, signals (engine/scripting_busy.py)."""
        if self._busy_server is None:
            from engine.scripting_busy import BusyServer

            self._busy_server = BusyServer(self.server)
            self._busy_server.begin()
        self._busy_server.serve(self.running)

    def _lua_log(self, level: Any, message: bytes) -> None:
        lvl = _LOG_LEVELS.get(int(level) if type(level) in (int, float) else 3, logging.WARNING)
        log.log(lvl, "%s", message.decode("utf-8", "replace"))

    @staticmethod
    def _sha1(s: bytes) -> bytes:
        return hashlib.sha1(s).hexdigest().encode()

    # -- cjson ---------------------------------------------------------------------------------
    def _json_encode(self, v: Any) -> bytes:
        out: list[str] = []
        self._json_value(v, out, 0)
        return "".join(out).encode("utf-8", "surrogateescape")

    def _json_value(self, v: Any, out: list[str], depth: int) -> None:
        if depth > 1000:
            raise ValueError("Cannot serialise, excessive nesting (1001)")
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
            out.append(_json_string(v))
        elif lua51.lua_type(v) == "table":
            keys = list(v.keys())
            if keys and all(type(k) in (int, float) and k >= 1 and float(k).is_integer() for k in keys):
                n = int(max(keys))
                if n > 10 and n > 2 * len(keys):
                    raise ValueError("Cannot serialise table: excessively sparse array")
                out.append("[")
                for i in range(1, n + 1):
                    if i > 1:
                        out.append(",")
                    self._json_value(v[i], out, depth + 1)
                out.append("]")
            else:
                out.append("{")
                first = True
                for k in keys:
                    if type(k) is bytes:
                        ks = _json_string(k)
                    elif type(k) in (int, float):
                        ks = f'"{k:.14g}"'
                    else:
                        raise ValueError("Cannot serialise table: table key must be a number or string")
                    if not first:
                        out.append(",")
                    first = False
                    out.append(ks + ":")
                    self._json_value(v[k], out, depth + 1)
                out.append("}")
        else:
            raise ValueError(f"Cannot serialise {lua51.lua_type(v) or 'userdata'}: type not supported")

    def _json_decode(self, s: Any) -> Any:
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

    # -- cmsgpack (lua-cmsgpack's encoding choices) ----------------------------------------
    def _mp_pack(self, *args: Any) -> bytes:
        assert _msgpack is not None
        packer = _msgpack.Packer(use_bin_type=False, autoreset=True)
        out: list[bytes] = []
        for a in args:
            self._mp_encode(a, packer, out, 0)
        return b"".join(out)

    def _mp_encode(self, v: Any, packer: Any, out: list[bytes], depth: int) -> None:
        t = type(v)
        if v is None or depth > 16:
            out.append(b"\xc0")
        elif t is bool or t is bytes or t is int:
            out.append(packer.pack(v))
        elif t is float:
            single = struct.pack(">f", v)
            if struct.unpack(">f", single)[0] == v or v != v:
                out.append(b"\xca" + single)
            else:
                out.append(b"\xcb" + struct.pack(">d", v))
        elif lua51.lua_type(v) == "table":
            keys = list(v.keys())
            if all(type(k) is int and k > 0 for k in keys) and (not keys or max(keys) == len(keys)):
                out.append(packer.pack_array_header(len(keys)))
                for i in range(1, len(keys) + 1):
                    self._mp_encode(v[i], packer, out, depth + 1)
            else:
                out.append(packer.pack_map_header(len(keys)))
                for k in keys:
                    self._mp_encode(k, packer, out, depth + 1)
                    self._mp_encode(v[k], packer, out, depth + 1)
        else:
            out.append(b"\xc0")

    def _mp_unpack(self, data: Any) -> tuple[Any, ...]:
        assert _msgpack is not None
        if type(data) is not bytes:
            raise ValueError("MessagePack decoding needs a string as input.")
        unpacker = _msgpack.Unpacker(raw=True, strict_map_key=False)
        unpacker.feed(data)
        return tuple(self._mp_to_lua(o) for o in unpacker)

    def _mp_unpack_full(self, data: Any, limit: int, offset: int) -> tuple[Any, ...]:
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
                out.append(self._mp_to_lua(unpacker.unpack()))
            except _msgpack.OutOfData:
                raise ValueError("Missing bytes in input.") from None
            except Exception:  # noqa: BLE001 - any malformed input is the same error in Redis
                raise ValueError("Bad data format in input.") from None
            consumed = unpacker.tell()
        if decode_all:
            return tuple(out)
        return (-1 if offset + consumed >= n else offset + consumed, *out)

    def _mp_unpack_one(self, data: Any, offset: Any = 0) -> tuple[Any, ...]:
        return self._mp_unpack_full(data, 1, _lua_int_arg(offset, 2, "unpack_one"))

    def _mp_unpack_limit(self, data: Any, limit: Any = None, offset: Any = 0) -> tuple[Any, ...]:
        return self._mp_unpack_full(data, _lua_int_arg(limit, 2, "unpack_limit", required=True),
                                    _lua_int_arg(offset, 3, "unpack_limit"))

    # -- cjson.encode_keep_buffer, redis.acl_check_cmd ---------------------------------------
    def _json_keep_buffer(self, *args: Any) -> bool:
        """A buffer-reuse switch in lua_cjson: it changes no output, so only its value and its
        argument checks (json_enum_option) are kept."""
        if len(args) > 1:
            raise ValueError("bad argument #2 to 'encode_keep_buffer' (found too many arguments)")
        if args and args[0] is not None:
            v = args[0]
            if type(v) is bool:
                self.json_keep_buffer = v
            elif type(v) in (bytes, int, float):
                text = v if type(v) is bytes else (b"%d" % v if float(v).is_integer() else b"%.14g" % v)
                if text not in (b"on", b"off"):
                    raise ValueError(f"bad argument #1 to 'encode_keep_buffer' (invalid option '{_text(text)}')")
                self.json_keep_buffer = text == b"on"
            else:
                raise ValueError("bad argument #1 to 'encode_keep_buffer' (string expected, got "
                                 f"{lua51.lua_type(v) or 'userdata'})")
        return self.json_keep_buffer

    def _acl_check_cmd(self, *args: Any) -> bool:
        """redis.acl_check_cmd(cmd, ...): may the script's caller run this command with these
        arguments (ACLCheckAllUserCommandPerm)?  An unknown command is an error."""
        if not args:
            raise ScriptCallError("ERR Please specify at least one argument for this redis lib call")
        argv: list[bytes] = []
        for a in args:
            if type(a) is bytes:
                argv.append(a)
            elif type(a) in (int, float) and type(a) is not bool:
                argv.append(b"%d" % a if float(a).is_integer() else b"%.17g" % a)
            else:
                raise ScriptCallError("ERR Lua redis lib command arguments must be strings or integers")
        cmd = COMMANDS.get(argv[0].lower())
        if cmd is not None and cmd.subcommands and len(argv) >= 2:
            cmd = cmd.subcommands.get(argv[1].lower())
        if cmd is None:
            raise ScriptCallError("ERR Invalid command passed to redis.acl_check_cmd()")
        fake = self.fake
        server = self.server
        if fake is None or not server.acl_active:
            return True
        user = server.acl.users.get(fake.user)  # type: ignore[attr-defined]
        return user is not None and (user.unrestricted or user.check_command(cmd, argv) is None)

    def _mp_to_lua(self, o: Any) -> Any:
        if isinstance(o, list):
            return self.lua.table_from([self._mp_to_lua(x) for x in o])
        if isinstance(o, dict):
            t = self.lua.table()
            for k, x in o.items():
                t[self._mp_to_lua(k)] = self._mp_to_lua(x)
            return t
        return o

    # -- bit -----------------------------------------------------------------------------------
    @staticmethod
    def _bit(op: bytes, *args: Any) -> Any:
        name = op.decode()
        for n, a in enumerate(args, 1):  # luaL_checknumber's wording, as LuaBitOp's C functions give it
            if type(a) not in (int, float) or type(a) is bool:
                if type(a) is bytes:
                    try:
                        float(a)
                        continue
                    except ValueError:
                        pass
                got = "nil" if a is None else ("string" if type(a) is bytes else "boolean" if type(a) is bool
                                              else (lua51.lua_type(a) or "userdata"))
                raise ValueError(f"bad argument #{n} to '{name}' (number expected, got {got})")
        if not args:
            raise ValueError(f"bad argument #1 to '{name}' (number expected, got no value)")
        vals = [_tobit(a) for a in args]
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
            return _tobit(~vals[0])
        if name == "band":
            r = -1
            for x in vals:
                r &= x
            return _tobit(r)
        if name == "bor":
            r = 0
            for x in vals:
                r |= x
            return _tobit(r)
        if name == "bxor":
            r = 0
            for x in vals:
                r ^= x
            return _tobit(r)
        x, n = vals[0] & 0xFFFFFFFF, vals[1] & 31
        if name == "lshift":
            return _tobit(x << n)
        if name == "rshift":
            return _tobit(x >> n)
        if name == "arshift":
            return _tobit(vals[0] >> n)
        if name == "rol":
            return _tobit((x << n) | (x >> (32 - n)))
        if name == "ror":
            return _tobit((x >> n) | (x << (32 - n)))
        if name == "bswap":
            return _tobit(int.from_bytes(x.to_bytes(4, "little"), "big"))
        raise ValueError("unknown bit operation")


def _lua_int_arg(v: Any, n: int, fname: str, required: bool = False) -> int:
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
    got = "no value" if v is None else (lua51.lua_type(v) or "userdata")
    raise ValueError(f"bad argument #{n} to '{fname}' (number expected, got {got})")


def _tobit(v: Any) -> int:
    if type(v) is bytes:
        v = float(v)
    x = int(round(float(v))) if type(v) is float else int(v)
    x &= 0xFFFFFFFF
    return x - (1 << 32) if x >= (1 << 31) else x


def _json_string(b: bytes) -> str:
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


def _lua_to_int(v: float | int) -> int:
    """(long long) of a Lua number, as luaReplyToRedisReply does; out of range -> INT64_MIN."""
    if type(v) is int:
        return v if _INT64_MIN <= v <= _INT64_MAX else _INT64_MIN
    if v != v or v >= 9.223372036854775807e18 or v < -9.223372036854775808e18:
        return _INT64_MIN
    return int(v)


def _text(v: Any) -> str:
    if type(v) is bytes:
        return v.decode("utf-8", "replace")
    return str(v)


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
