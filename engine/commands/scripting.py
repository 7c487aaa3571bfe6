"""EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT LOAD|EXISTS|FLUSH|KILL (eval.c).

The Lua VM lives in engine/scripting.py (the sandbox, libraries and conversions beside it).  Scripts are cached
by the SHA1 of their body (EVAL caches too, so EVALSHA works after it); SCRIPT FLUSH drops
the cache and the VM.  Replies and error texts follow Redis 7.0.15, checked against
redis-server by tests/differential/test_differential_scripts.py.
"""

from __future__ import annotations

import hashlib

from engine import errors
from engine.args import parse_numkeys
from engine.client import Client
from engine.errors import CommandError, NoScriptError, RedisError
from engine.protocol import OK, Reply
from engine.scripting import ScriptEngine, function_engine, script_engine
from engine.table import command, container, subcommand

__all__ = ["eval_", "evalsha", "eval_ro", "evalsha_ro", "split_keys"]


def eval_keys(argv: list[bytes]) -> list[int]:
    """Key positions of EVAL-like commands: ``numkeys`` at argv[2], keys after it."""
    try:
        n = int(argv[2])
    except (ValueError, IndexError):
        return []
    if n < 0 or n > len(argv) - 3:
        return []
    return list(range(3, 3 + n))


def split_keys(numkeys: bytes, args: tuple[bytes, ...], bad_number: str = errors.NOT_INTEGER) -> tuple[list[bytes], list[bytes]]:
    """(KEYS, ARGV) from ``numkeys arg...`` with Redis's checks."""
    n = parse_numkeys(numkeys, len(args), minimum=0, below_minimum="ERR Number of keys can't be negative",
                      not_integer=bad_number, too_many=errors.NUMKEYS_TOO_MANY)
    return list(args[:n]), list(args[n:])


_SHEBANG_FLAGS = (b"no-writes", b"allow-oom", b"allow-stale", b"no-cluster", b"allow-cross-slot-keys")


def shebang(body: bytes) -> tuple[bytes, frozenset[bytes] | None]:
    """(code to compile, flags) of a script; flags is None for a script without ``#!lua``
    (Redis 7's evalExtractShebangFlags).  The shebang line compiles as an empty line so line
    numbers in errors stay those of the script."""
    if not body.startswith(b"#!"):
        return body, None
    line, _, rest = body.partition(b"\n")
    parts = line.split(b" ")
    if parts[0] != b"#!lua":
        raise CommandError(f"ERR Unexpected engine in script shebang: {parts[0].decode('utf-8', 'replace')}")
    flags: set[bytes] = set()
    for part in parts[1:]:
        if not part:
            continue
        if not part.startswith(b"flags="):
            raise CommandError(f"ERR Unknown lua shebang option: {part.decode('utf-8', 'replace')}")
        for flag in part[6:].split(b","):
            if not flag:
                continue
            if flag not in _SHEBANG_FLAGS:
                raise CommandError(f"ERR Unexpected flag in script shebang: {flag.decode('utf-8', 'replace')}")
            flags.add(flag)
    return b"\n" + rest, frozenset(flags)


def _run(ctx: Client, eng: ScriptEngine, sha: str, body: bytes, keys: list[bytes], argv: list[bytes],
         read_only: bool, cache: bool = False) -> Reply:
    code, flags = shebang(body)
    # evalGenericCommand compiles and caches the script before scriptPrepareForRun checks its
    # flags, so a script refused by EVAL_RO or OOM, or failing at run time, is still cached.
    fn = eng.function_for(sha, code)
    if cache:
        eng.scripts[sha] = body
    if flags is not None:
        if b"no-writes" in flags:
            read_only = True
        elif read_only:
            raise CommandError(errors.SCRIPT_WRITE_FLAG_RO)
        elif b"allow-oom" not in flags and ctx.server.maxmemory:
            # evalGetCommandFlags: a #!lua script that may write is a denyoom command, so over
            # maxmemory it is refused before it runs (scripts without a shebang check per call).
            rejected = ctx.server.before_write(ctx, None)
            if rejected is not None:
                raise rejected
    return eng.execute(ctx, fn, keys, argv, sha, read_only)


def _run_body(ctx: Client, body: bytes, numkeys: bytes, args: tuple[bytes, ...], read_only: bool) -> Reply:
    keys, argv = split_keys(numkeys, args)
    eng = script_engine(ctx.server)
    sha = hashlib.sha1(body).hexdigest()
    return _run(ctx, eng, sha, body, keys, argv, read_only, cache=True)


def _run_sha(ctx: Client, sha: bytes, numkeys: bytes, args: tuple[bytes, ...], read_only: bool) -> Reply:
    keys, argv = split_keys(numkeys, args)
    eng = script_engine(ctx.server)
    name = sha.decode("latin-1").lower()
    body = eng.scripts.get(name) if len(name) == 40 else None
    if body is None:
        raise NoScriptError()
    return _run(ctx, eng, name, body, keys, argv, read_only)


_FLAGS = "noscript skip_monitor may_replicate no_mandatory_keys stale"
_RO_FLAGS = "readonly noscript skip_monitor no_mandatory_keys stale"


@command("eval", arity=-3, flags=_FLAGS, acl="@scripting", group="scripting", since="2.6.0",
         key_extractor=eval_keys, summary="Execute a Lua script server side")
def eval_(ctx: Client, body: bytes, numkeys: bytes, *args: bytes) -> Reply:
    return _run_body(ctx, body, numkeys, args, read_only=False)


@command("evalsha", arity=-3, flags=_FLAGS, acl="@scripting", group="scripting", since="2.6.0",
         key_extractor=eval_keys, summary="Execute a Lua script server side")
def evalsha(ctx: Client, sha: bytes, numkeys: bytes, *args: bytes) -> Reply:
    return _run_sha(ctx, sha, numkeys, args, read_only=False)


@command("eval_ro", arity=-3, flags=_RO_FLAGS, acl="@scripting", group="scripting", since="7.0.0",
         key_extractor=eval_keys, summary="Execute a read-only Lua script server side")
def eval_ro(ctx: Client, body: bytes, numkeys: bytes, *args: bytes) -> Reply:
    return _run_body(ctx, body, numkeys, args, read_only=True)


@command("evalsha_ro", arity=-3, flags=_RO_FLAGS, acl="@scripting", group="scripting", since="7.0.0",
         key_extractor=eval_keys, summary="Execute a read-only Lua script server side")
def evalsha_ro(ctx: Client, sha: bytes, numkeys: bytes, *args: bytes) -> Reply:
    return _run_sha(ctx, sha, numkeys, args, read_only=True)


container("script", group="scripting", since="2.6.0", summary="A container for Lua scripts management commands")


@subcommand("script", "load", arity=3, flags="noscript stale", acl="@scripting", group="scripting", since="2.6.0",
            summary="Load the specified Lua script into the script cache")
def script_load(ctx: Client, body: bytes) -> Reply:
    eng = script_engine(ctx.server)
    sha = hashlib.sha1(body).hexdigest()
    eng.function_for(sha, shebang(body)[0])
    eng.scripts[sha] = body
    return sha.encode()


@subcommand("script", "exists", arity=-3, flags="noscript", acl="@scripting", group="scripting", since="2.6.0",
            summary="Check existence of scripts in the script cache")
def script_exists(ctx: Client, *shas: bytes) -> Reply:
    scripts = script_engine(ctx.server).scripts
    return [1 if s.decode("latin-1").lower() in scripts else 0 for s in shas]


@subcommand("script", "flush", arity=-2, flags="noscript", acl="@scripting", group="scripting", since="2.6.0",
            summary="Remove all the scripts from the script cache")
def script_flush(ctx: Client, *mode: bytes) -> Reply:
    if len(mode) > 1 or (mode and mode[0].lower() not in (b"sync", b"async")):
        raise CommandError("ERR SCRIPT FLUSH only support SYNC|ASYNC option")
    script_engine(ctx.server).flush()
    return OK


@subcommand("script", "kill", arity=2, flags="noscript allow_busy", acl="@scripting", group="scripting",
            since="2.6.0", summary="Kill the script currently in execution")
def script_kill(ctx: Client) -> Reply:
    return request_kill(ctx, functions=False)


def request_kill(ctx: Client, functions: bool) -> Reply:
    """SCRIPT KILL / FUNCTION KILL (scriptKill): only a script that has not written."""
    eng = script_engine(ctx.server)
    other = function_engine(ctx.server)
    if functions:
        eng, other = other, eng
    if eng.running is None:
        if other.running is not None:
            raise RedisError(other.busy_message)
        raise RedisError("NOTBUSY No scripts in execution right now.")
    if eng.wrote:
        raise RedisError(
            "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the "
            "script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command."
        )
    eng.kill_requested = True
    return OK
