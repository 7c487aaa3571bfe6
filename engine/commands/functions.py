"""Redis 7 functions: FUNCTION LOAD|LIST|DELETE|FLUSH|STATS|KILL and FCALL / FCALL_RO
(functions.c, function_lua.c).

A library is Lua code that starts with ``#!lua name=<lib>`` and calls
``redis.register_function(name, callback)`` or ``redis.register_function{function_name=...,
callback=..., flags={...}, description=...}`` while it loads.  Libraries run on their own VM
(engine.scripting.function_engine), so SCRIPT FLUSH leaves them alone, with the same sandbox,
conversions and BUSY handling as EVAL.  A function flagged ``no-writes`` runs read-only; FCALL_RO
refuses a function without that flag.  Texts follow redis-server 7.0.15.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

from engine.client import Client
from engine.commands.scripting import request_kill, split_keys
from engine.errors import SCRIPT_WRITE_FLAG_RO, CommandError, RedisError
from engine.protocol import OK, Reply
from engine.scripting import ScriptEngine, function_engine
from engine.scripting_vm import lua_vm
from engine.table import command, container, subcommand
from engine.util import glob_match

__all__ = ["Library", "fcall", "fcall_ro", "library_codes", "load_libraries"]

_NAME_OK = re.compile(rb"[A-Za-z0-9_]+")
_KNOWN_FLAGS = (b"no-writes", b"allow-oom", b"allow-stale", b"no-cluster", b"allow-cross-slot-keys")


@dataclass
class Function:
    name: bytes
    callback: Any
    flags: list[bytes]
    description: bytes | None
    library: Library


@dataclass
class Library:
    name: bytes
    code: bytes
    functions: dict[bytes, Function] = field(default_factory=dict)


def _registry(ctx: Client) -> tuple[ScriptEngine, dict[bytes, Library], dict[bytes, Function]]:
    return _registry_of(ctx.server)


def _registry_of(server: Any) -> tuple[ScriptEngine, dict[bytes, Library], dict[bytes, Function]]:
    eng = function_engine(server)
    return eng, eng.libraries, eng.functions


def _parse_header(code: bytes) -> bytes:
    """The library name from the ``#!<engine> name=<lib>`` line (functionExtractLibMetaData)."""
    if not code.startswith(b"#!"):
        raise CommandError("ERR Missing library metadata")
    line = code.split(b"\n", 1)[0][2:]
    parts = line.split(b" ")
    engine = parts[0]
    if engine.lower() != b"lua":
        raise CommandError(f"ERR Engine '{engine.decode('utf-8', 'replace')}' not found")
    name = None
    for part in parts[1:]:
        if not part:
            continue
        if part.startswith(b"name="):
            name = part[5:]
        else:
            raise CommandError(f"ERR Invalid metadata value given: {part.decode('utf-8', 'replace')}")
    if name is None:
        raise CommandError("ERR Library name was not given")
    if not _NAME_OK.fullmatch(name):
        raise CommandError("ERR Library names can only contain letters, numbers, or underscores(_) and must be at "
                           "least one character long")
    return name


def library_codes(server: Any) -> list[bytes]:
    """The loaded libraries' source codes, in load order (what an RDB snapshot saves)."""
    libs: dict[bytes, Library] | None = getattr(getattr(server, "function_vm", None), "libraries", None)
    return [lib.code for lib in libs.values()] if libs else []


def load_libraries(server: Any, codes: list[bytes]) -> None:
    """Load the libraries an RDB snapshot held (rdbFunctionLoad): a library that fails to
    compile or register, or whose name is taken, raises :class:`CommandError` with Redis's text."""
    for code in codes:
        _load_on(server, code, replace=False)


def _load(ctx: Client, code: bytes, replace: bool) -> bytes:
    return _load_on(ctx.server, code, replace)


def _load_on(server: Any, code: bytes, replace: bool) -> bytes:
    eng, libs, funcs = _registry_of(server)
    name = _parse_header(code)
    old = libs.get(name)
    if old is not None and not replace:
        raise CommandError(f"ERR Library '{name.decode()}' already exists")
    # The header line stays in the code (as a comment for Lua: replaced by an empty line).
    body = b"\n" + code.split(b"\n", 1)[1] if b"\n" in code else b""
    f, err = eng.compile_chunk(body, b"@user_function")
    if f is None:
        raise CommandError(f"ERR Error compiling function: {_text(err)}")
    lib = Library(name, code)
    problems: list[str] = []

    def register(*args: Any) -> None:
        fn = _register_args(args, lib)
        if fn.name in lib.functions:
            raise RedisError("Function already exists in the library")
        lib.functions[fn.name] = fn

    ok, result = eng.load_library(f, register)
    if not ok:
        text = _text(result[b"err"]) if lua_vm.lua_type(result) == "table" else _text(result)
        raise CommandError(f"ERR Error registering functions: {text}")
    if problems:
        raise CommandError(problems[0])
    if not lib.functions:
        raise CommandError("ERR No functions registered")
    for fname in lib.functions:
        owner = funcs.get(fname)
        if owner is not None and owner.library.name != name:
            raise CommandError(f"ERR Function {fname.decode()} already exists")
    if old is not None:
        for fname in old.functions:
            funcs.pop(fname, None)
    libs[name] = lib
    funcs.update(lib.functions)
    server.dirty += 1
    return name


def _register_args(args: tuple[Any, ...], lib: Library) -> Function:
    flags: list[bytes] = []
    description = None
    if len(args) == 1 and lua_vm.lua_type(args[0]) == "table":
        t = args[0]
        name, callback = t[b"function_name"], t[b"callback"]
        raw_flags = t[b"flags"]
        description = t[b"description"]
        for k in t.keys():
            if k not in (b"function_name", b"callback", b"flags", b"description"):
                raise ValueError("unknown argument given to redis.register_function")
        if raw_flags is not None:
            for flag in raw_flags.values():
                if flag not in _KNOWN_FLAGS:
                    raise ValueError("unknown flag given")
                flags.append(flag)
    elif len(args) == 2:
        name, callback = args
    else:
        raise ValueError("wrong number of arguments to redis.register_function")
    if type(name) is not bytes:
        raise ValueError("function_name argument given to redis.register_function must be a string")
    if lua_vm.lua_type(callback) != "function":
        raise ValueError("callback argument given to redis.register_function must be a function")
    if not _NAME_OK.fullmatch(name):
        raise ValueError("Function names can only contain letters, numbers, or underscores(_) and must be at least "
                         "one character long")
    return Function(name, callback, flags, description if type(description) is bytes else None, lib)


def _text(v: Any) -> str:
    return v.decode("utf-8", "replace") if type(v) is bytes else str(v)


container("function", group="scripting", since="7.0.0", summary="A container for function commands")


@subcommand("function", "load", arity=-3, flags="write denyoom noscript", acl="@scripting", group="scripting",
            since="7.0.0", summary="Create a function with the given arguments (name, code, description)")
def function_load(ctx: Client, *args: bytes) -> Reply:
    replace = False
    if len(args) == 2 and args[0].lower() == b"replace":
        replace = True
    elif len(args) != 1:
        raise CommandError("ERR Unknown option given: " + args[0].decode("utf-8", "replace"))
    return _load(ctx, args[-1], replace)


@subcommand("function", "delete", arity=3, flags="write noscript", acl="@scripting", group="scripting",
            since="7.0.0", summary="Delete a library and all its functions")
def function_delete(ctx: Client, name: bytes) -> Reply:
    _, libs, funcs = _registry(ctx)
    lib = libs.pop(name, None)
    if lib is None:
        raise CommandError("ERR Library not found")
    for fname in lib.functions:
        funcs.pop(fname, None)
    ctx.server.dirty += 1
    return OK


@subcommand("function", "flush", arity=-2, flags="write noscript", acl="@scripting", group="scripting",
            since="7.0.0", summary="Delete all functions")
def function_flush(ctx: Client, *mode: bytes) -> Reply:
    if len(mode) > 1 or (mode and mode[0].lower() not in (b"sync", b"async")):
        raise CommandError("ERR FUNCTION FLUSH only supports SYNC|ASYNC option")
    eng, libs, funcs = _registry(ctx)
    libs.clear()
    funcs.clear()
    ctx.server.dirty += 1
    return OK


@subcommand("function", "list", arity=-2, flags="noscript", acl="@scripting", group="scripting", since="7.0.0",
            summary="List information about all the functions")
def function_list(ctx: Client, *args: bytes) -> Reply:
    _, libs, _funcs = _registry(ctx)
    with_code = False
    pattern: bytes | None = None
    i = 0
    while i < len(args):
        opt = args[i].lower()
        if opt == b"withcode" and not with_code:
            with_code = True
        elif opt == b"libraryname" and pattern is None and i + 1 < len(args):
            pattern = args[i + 1]
            i += 1
        else:
            raise CommandError(f"ERR Unknown argument {args[i].decode('utf-8', 'replace')}")
        i += 1
    out = []
    for lib in libs.values():
        if pattern is not None and not glob_match(pattern, lib.name):
            continue
        entry: dict[bytes, Any] = {
            b"library_name": lib.name,
            b"engine": b"LUA",
            b"functions": [
                {b"name": f.name, b"description": f.description, b"flags": set(f.flags)} for f in lib.functions.values()
            ],
        }
        if with_code:
            entry[b"library_code"] = lib.code
        out.append(entry)
    return out


@subcommand("function", "stats", arity=2, flags="noscript allow_busy", acl="@scripting", group="scripting",
            since="7.0.0", summary="Return information about the function currently running (name, description, duration)")
def function_stats(ctx: Client) -> Reply:
    eng, libs, funcs = _registry(ctx)
    running: dict[bytes, Any] | None = None
    if eng.running is not None:
        running = {b"name": eng.running_name, b"command": eng.running_argv,
                   b"duration_ms": int((time.monotonic() - eng.start_s) * 1000)}
    return {b"running_script": running,
            b"engines": {b"LUA": {b"libraries_count": len(libs), b"functions_count": len(funcs)}}}


@subcommand("function", "kill", arity=2, flags="noscript allow_busy", acl="@scripting", group="scripting",
            since="7.0.0", summary="Kill the function currently in execution.")
def function_kill(ctx: Client) -> Reply:
    return request_kill(ctx, functions=True)


def _fcall(ctx: Client, name: bytes, numkeys: bytes, args: tuple[bytes, ...], ro: bool) -> Reply:
    eng, _libs, funcs = _registry(ctx)
    fn = funcs.get(name)
    if fn is None:
        raise CommandError("ERR Function not found")
    keys, argv = split_keys(numkeys, args, bad_number="ERR Bad number of keys provided")
    read_only = b"no-writes" in fn.flags
    if ro and not read_only:
        raise CommandError(SCRIPT_WRITE_FLAG_RO)
    eng.running_name = fn.name
    eng.running_argv = [b"FCALL_RO" if ro else b"FCALL", name, numkeys, *args]
    return eng.execute(ctx, fn.callback, keys, argv, fn.name.decode("utf-8", "replace"), read_only,
                       direct_args=True, function=True)


def _fcall_keys(argv: list[bytes]) -> list[int]:
    from engine.commands.scripting import eval_keys

    return eval_keys(argv)


@command("fcall", arity=-3, flags="noscript skip_monitor may_replicate no_mandatory_keys stale", acl="@scripting",
         group="scripting", since="7.0.0", key_extractor=_fcall_keys, summary="Invoke a function")
def fcall(ctx: Client, name: bytes, numkeys: bytes, *args: bytes) -> Reply:
    return _fcall(ctx, name, numkeys, args, ro=False)


@command("fcall_ro", arity=-3, flags="readonly noscript skip_monitor no_mandatory_keys stale", acl="@scripting",
         group="scripting", since="7.0.0", key_extractor=_fcall_keys, summary="Invoke a read-only function")
def fcall_ro(ctx: Client, name: bytes, numkeys: bytes, *args: bytes) -> Reply:
    return _fcall(ctx, name, numkeys, args, ro=True)
