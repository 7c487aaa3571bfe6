-- The sandbox every script and function library runs in (script_lua.c's scriptingInit,
-- luaSetErrorMetatable, luaSetTableProtectionRecursively; function_lua.c's load run context).
--
-- engine/scripting.py runs this chunk once per VM with the Python callbacks below and keeps
-- the functions it returns.  Everything a script can see is built here: the removed globals,
-- the read-only library and global tables, redis.* (redis.call is the Python callable itself),
-- cjson, cmsgpack, bit and struct around their Python implementations, error values worded as
-- Redis words them, and the count hook that lets the engine answer BUSY and SCRIPT KILL.
local pycall, pycall_raise, pysetresp, pylog, pysha1, pycheck, pyjson_encode, pyjson_decode, jnull, pybit, pymsgpack,
      pystruct, pyacl_check, pyjson_keep, HOOK_EVERY = ...
local G = _G
local real = {}
local readonly = setmetatable({}, {__mode = "k"})
local type, error, rawget, rawset0, setmetatable0, tostring = type, error, rawget, rawset, setmetatable, tostring
local loadstring0, setfenv, getinfo, sethook = loadstring, setfenv, debug.getinfo, debug.sethook
local select, pairs, unpack, concat = select, pairs, unpack, table.concat
local raw_coroutine = coroutine

-- The VM is LuaJIT 2.1 (engine/scripting_vm.py) with its compiler off, so count hooks fire;
-- it must look like Redis's Lua 5.1.5: LuaJIT's additions go, and the 5.1 compatibility
-- functions Redis's build has come back (math.mod and string.gfind are aliases in 5.1.5).
if G.jit then G.jit.off() end
G.jit = nil
table.move = nil
coroutine.isyieldable = nil
math.mod = math.fmod
string.gfind = string.gmatch
table.setn = function() error("'setn' is obsolete", 0) end

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
G.tostring = function(...)
  if select("#", ...) == 0 then error("bad argument #1 to 'tostring' (value expected)", 2) end
  local v = ...
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
