"""The Lua VM scripts run in: LuaJIT 2.1 (lupa) with its compiler switched off, as Lua 5.1.

Redis bundles PUC Lua 5.1.5 with one change that matters here: its string hash reads every
byte (deps/lua/src/lstring.c, ``step = 1``).  Stock Lua 5.1, as lupa builds it, hashes at
most 32 bytes of a string, spread over its length, so strings that differ only in the bytes
it skips -- ``string.rep('y', 100) .. i`` for a million ``i`` -- share a handful of hash
chains and every new string walks one: the loop that takes Redis 1.4 s took 17-48 s.
LuaJIT 2.1 hashes sparsely too but rehashes densely once a chain grows too long
(``jit.security``), so the same loop takes about as long as in Redis.

LuaJIT speaks Lua 5.1: the same syntax, libraries, error texts and ``_VERSION``.  Its
compiler is switched off before any script runs: count hooks (BUSY, SCRIPT KILL) fire only
in the interpreter, and the interpreter alone is already faster than PUC Lua.  lupa's
counting allocator works with it, so ``lua-max-memory`` still bounds the VM.  What LuaJIT
adds to the 5.1 globals (``jit``, ``table.move``, ``coroutine.isyieldable``) the sandbox
removes, and what Redis's build has and LuaJIT lacks (``math.mod``, ``string.gfind``,
``table.setn``) it adds back (engine/lua/sandbox.lua).
"""

from __future__ import annotations

from lupa import luajit21 as lua_vm

__all__ = ["lua_vm"]
