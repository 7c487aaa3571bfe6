"""Single commands that clients expose and the engine answers as Redis 7.0 does:
SUBSTR, LCS, LOLWUT, ROLE, REPLICAOF/SLAVEOF, MODULE, CLIENT REPLY.

The engine is a standalone master without modules: ROLE says so, ``REPLICAOF NO ONE`` is the
no-op it is on a master, ``REPLICAOF host port`` answers an error naming what is missing
(rather than pretending to replicate), and MODULE LIST is empty.
"""

from __future__ import annotations

from typing import Any

from engine.args import integer, parse_int
from engine.client import Client
from engine.commands.strings import getrange
from engine.errors import NO_CLUSTER, NOT_INTEGER, SYNTAX, CommandError
from engine.objects import STRING
from engine.protocol import OK, Replies, Reply, Verbatim
from engine.table import command, subcommand

__all__ = ["substr", "lcs", "lolwut", "role", "replicaof", "slaveof", "module_list", "client_reply",
           "cluster", "readonly", "readwrite", "asking", "REPLY_FLAGS"]

REDIS_VERSION = "7.0.15"
#: Client flags that make dispatch drop replies (CLIENT REPLY OFF / SKIP).
REPLY_FLAGS = frozenset({"reply_off", "reply_skip"})
#: MODULE LOAD/LOADEX/UNLOAD are protected commands; enable-module-command is "no" by default.
MODULE_PROTECTED = ('ERR MODULE command not allowed. If the enable-module-command option is set to "local", you can '
                    'run it from a local connection, otherwise you need to set this option in the configuration file, '
                    'and then restart the server.')


@command("substr", arity=4, flags="readonly", keys=(1, 1, 1), acl="@string", group="string", since="1.0.0",
         summary="Get a substring of the string stored at a key")
def substr(ctx: Client, key: bytes, start: bytes, end: bytes) -> Reply:
    return getrange(ctx, key, start, end)


@command("lcs", arity=-3, flags="readonly", keys=(1, 2, 1), acl="@string", group="string", since="7.0.0",
         summary="Find longest common substring")
def lcs(ctx: Client, key_a: bytes, key_b: bytes, *opts: bytes) -> Reply:
    """lcsCommand: the dynamic-programming table and the backward walk of t_string.c,
    including how it emits (and skips) match ranges."""
    db = ctx.db
    va = db.lookup_read(key_a)
    vb = db.lookup_read(key_b)
    if (va is not None and type(va) not in STRING) or (vb is not None and type(vb) not in STRING):
        raise CommandError("ERR The specified keys must contain string values")
    a = bytes(va or b"")
    b = bytes(vb or b"")
    getlen = getidx = withmatchlen = False
    minmatchlen = 0
    j = 0
    while j < len(opts):
        low = opts[j].lower()
        more = len(opts) - 1 - j
        if low == b"idx":
            getidx = True
        elif low == b"len":
            getlen = True
        elif low == b"withmatchlen":
            withmatchlen = True
        elif low == b"minmatchlen" and more:
            minmatchlen = max(0, integer(opts[j + 1]))
            j += 1
        else:
            raise CommandError(SYNTAX)
        j += 1
    if getidx and getlen:
        raise CommandError("ERR If you want both the length and indexes, please just use IDX.")
    alen, blen = len(a), len(b)
    table = [[0] * (blen + 1) for _ in range(alen + 1)]
    for i in range(1, alen + 1):
        row, prev = table[i], table[i - 1]
        ai = a[i - 1]
        for k in range(1, blen + 1):
            if ai == b[k - 1]:
                row[k] = prev[k - 1] + 1
            else:
                row[k] = prev[k] if prev[k] > row[k - 1] else row[k - 1]
    total = table[alen][blen]
    if getlen:
        return total
    idx = total
    result = bytearray(total)
    matches: list[Any] = []
    a_start, a_end, b_start, b_end = alen, 0, 0, 0
    i, k = alen, blen
    while i > 0 and k > 0:
        emit = False
        if a[i - 1] == b[k - 1]:
            result[idx - 1] = a[i - 1]
            if a_start == alen:
                a_start = a_end = i - 1
                b_start = b_end = k - 1
            elif a_start == i and b_start == k:
                a_start -= 1
                b_start -= 1
            else:
                emit = True
            if a_start == 0 or b_start == 0:
                emit = True
            idx -= 1
            i -= 1
            k -= 1
        else:
            if table[i - 1][k] > table[i][k - 1]:
                i -= 1
            else:
                k -= 1
            if a_start != alen:
                emit = True
        match_len = a_end - a_start + 1
        if emit:
            if getidx and (minmatchlen == 0 or match_len >= minmatchlen):
                item: list[Any] = [[a_start, a_end], [b_start, b_end]]
                if withmatchlen:
                    item.append(match_len)
                matches.append(item)
            a_start = alen
    if getidx:
        return {b"matches": matches, b"len": total}
    return bytes(result)


@command("lolwut", arity=-1, flags="readonly fast", acl="@fast", group="server", since="5.0.0",
         summary="Display some computer art and the Redis version")
def lolwut(ctx: Client, *args: bytes) -> Reply:
    """LOLWUT [VERSION v]: the engine draws no art; it answers the version line that
    lolwutUnstableCommand answers for Redis 7."""
    if len(args) >= 2 and args[0].lower() == b"version" and parse_int(args[1]) is None:
        raise CommandError(NOT_INTEGER)
    return Verbatim(f"Redis ver. {REDIS_VERSION}\n".encode())


@command("role", arity=1, flags="noscript loading stale fast", acl="@admin @dangerous", group="server",
         since="2.8.12", summary="Return the role of the instance in the context of replication")
def role(ctx: Client) -> Reply:
    return [b"master", 0, []]


def _replicaof(host: bytes, port: bytes) -> Reply:
    if host.lower() == b"no" and port.lower() == b"one":
        return OK
    if parse_int(port) is None:
        raise CommandError(NOT_INTEGER)
    raise CommandError("ERR REPLICAOF is not supported: this server runs standalone without replication")


@command("replicaof", arity=3, flags="admin noscript stale no_async_loading", acl="@admin @dangerous",
         group="server", since="5.0.0", summary="Make the server a replica of another instance, or promote it as "
                                                "master.")
def replicaof(ctx: Client, host: bytes, port: bytes) -> Reply:
    return _replicaof(host, port)


@command("slaveof", arity=3, flags="admin noscript stale no_async_loading", acl="@admin @dangerous",
         group="server", since="1.0.0", summary="Make the server a replica of another instance, or promote it as "
                                                "master.")
def slaveof(ctx: Client, host: bytes, port: bytes) -> Reply:
    return _replicaof(host, port)


@subcommand("module", "list", arity=2, flags="admin noscript", acl="@admin @dangerous", group="server",
            since="4.0.0", summary="List all modules loaded by the server")
def module_list(ctx: Client) -> Reply:
    return []


@subcommand("module", "load", arity=-3, flags="admin noscript no_async_loading", acl="@admin @dangerous",
            group="server", since="4.0.0", summary="Load a module")
def module_load(ctx: Client, path: bytes, *args: bytes) -> Reply:
    raise CommandError(MODULE_PROTECTED)


@subcommand("module", "loadex", arity=-3, flags="admin noscript no_async_loading", acl="@admin @dangerous",
            group="server", since="7.0.0", summary="Load a module with extended parameters")
def module_loadex(ctx: Client, path: bytes, *args: bytes) -> Reply:
    raise CommandError(MODULE_PROTECTED)


@subcommand("module", "unload", arity=3, flags="admin noscript no_async_loading", acl="@admin @dangerous",
            group="server", since="4.0.0", summary="Unload a module")
def module_unload(ctx: Client, name: bytes) -> Reply:
    raise CommandError(MODULE_PROTECTED)


@subcommand("module", "help", arity=2, flags="loading stale", acl="@admin @dangerous", group="server",
            since="5.0.0", summary="Show helpful text about the different subcommands")
def module_help(ctx: Client) -> Reply:
    return [
        b"MODULE <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        b"LIST",
        b"    Return a list of loaded modules.",
        b"LOAD <path> [<arg> ...]",
        b"    Load a module library from <path>, passing to it any optional arguments.",
        b"LOADEX <path> [[CONFIG NAME VALUE] [CONFIG NAME VALUE]] [ARGS ...]",
        b"    Load a module library from <path>, while passing it module configurations and optional arguments.",
        b"UNLOAD <name>",
        b"    Unload a module.",
        b"HELP",
        b"    Print this help.",
    ]




@command("cluster", arity=-2, flags="", acl="@slow", group="cluster", since="3.0.0",
         summary="A container for cluster commands")
def cluster(ctx: Client, *args: bytes) -> Reply:
    """The engine runs standalone, as redis-server with cluster-enabled no answers."""
    raise CommandError(NO_CLUSTER)


@command("readonly", arity=1, flags="loading stale fast", acl="@connection", group="cluster", since="3.0.0",
         summary="Enables read queries for a connection to a cluster replica node")
def readonly(ctx: Client) -> Reply:
    raise CommandError(NO_CLUSTER)


@command("readwrite", arity=1, flags="loading stale fast", acl="@connection", group="cluster", since="3.0.0",
         summary="Disables read queries for a connection to a cluster replica node")
def readwrite(ctx: Client) -> Reply:
    raise CommandError(NO_CLUSTER)


@command("asking", arity=1, flags="fast", acl="@connection", group="cluster", since="3.0.0",
         summary="Sent by cluster clients after an -ASK redirect")
def asking(ctx: Client) -> Reply:
    raise CommandError(NO_CLUSTER)


@subcommand("client", "reply", arity=3, flags="noscript loading stale", acl="@connection", group="connection",
            since="3.2.0", summary="Instruct the server whether to reply to commands")
def client_reply(ctx: Client, mode: bytes) -> Reply:
    """CLIENT REPLY ON|OFF|SKIP: dispatch drops replies while ``reply_off`` is set, and the
    next one after SKIP (engine/dispatch.py checks :data:`REPLY_FLAGS`)."""
    low = mode.lower()
    if low == b"on":
        ctx.flags.discard("reply_off")
        ctx.flags.discard("reply_skip")
        return OK
    if low == b"off":
        ctx.flags.add("reply_off")
        return Replies()
    if low == b"skip":
        if "reply_off" not in ctx.flags:
            ctx.flags.add("reply_skip")
        return Replies()
    raise CommandError(SYNTAX)
