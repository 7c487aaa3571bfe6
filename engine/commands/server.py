"""Server commands: SHUTDOWN, DBSIZE, FLUSHDB, FLUSHALL, TIME, COMMAND, ..."""

from __future__ import annotations

import time
from typing import Any

from engine.args import LLONG_MAX, integer_in_range
from engine.client import Client
from engine.commands.config import help_reply
from engine.errors import SYNTAX, CommandError
from engine.keyspecs import keys_and_flags
from engine.protocol import OK, OrderedSet, Reply, Status
from engine.table import COMMANDS, Command, command, key_positions, subcommand
from engine.util import glob_match

__all__ = ["shutdown", "dbsize", "flushdb", "flushall", "time_", "command_count", "command_", "command_info",
           "command_docs", "command_getkeys", "command_getkeysandflags", "command_list", "command_help",
           "slowlog_get", "slowlog_len", "slowlog_reset", "slowlog_help"]


@command("shutdown", arity=-1, flags="admin noscript loading stale no_multi allow_busy", acl="@admin @dangerous",
         group="server", summary="Synchronously save the dataset to disk and then shut down the server")
def shutdown(ctx: Client, *args: bytes) -> Reply:
    save: bool | None = None
    for a in args:
        low = a.lower()
        if low == b"nosave":
            save = False
        elif low == b"save":
            save = True
        elif low in (b"now", b"force", b"abort"):
            continue
        else:
            raise CommandError(SYNTAX)
    ctx.server.request_shutdown(save)
    ctx.close()
    return None


@command("dbsize", arity=1, flags="readonly fast", acl="@keyspace", group="server",
         summary="Return the number of keys in the selected database")
def dbsize(ctx: Client) -> Reply:
    return len(ctx.db)


def _flush_mode(args: tuple[bytes, ...]) -> None:
    if len(args) > 1 or (args and args[0].lower() not in (b"async", b"sync")):
        raise CommandError(SYNTAX)


@command("flushdb", arity=-1, flags="write", acl="@keyspace @dangerous", group="server",
         summary="Remove all keys from the current database")
def flushdb(ctx: Client, *args: bytes) -> Reply:
    _flush_mode(args)
    ctx.server.dirty += ctx.db.flush() or 1
    return OK


@command("flushall", arity=-1, flags="write", acl="@keyspace @dangerous", group="server",
         summary="Remove all keys from all databases")
def flushall(ctx: Client, *args: bytes) -> Reply:
    _flush_mode(args)
    removed = sum(db.flush() for db in ctx.server.dbs)
    ctx.server.dirty += removed + 1
    return OK


@command("time", arity=1, flags="loading stale fast", acl="@fast", group="server", summary="Return the current server time")
def time_(ctx: Client) -> Reply:
    now = time.time_ns() // 1000
    return [str(now // 1_000_000).encode(), str(now % 1_000_000).encode()]


# COMMAND INFO prints flags and ACL categories in Redis's own order (server.c addReplyCommandFlags,
# the ACL category table in acl.c).
_FLAG_ORDER = ("write", "readonly", "denyoom", "module", "admin", "pubsub", "noscript", "blocking", "loading",
               "stale", "skip_monitor", "skip_slowlog", "asking", "fast", "no_auth", "may_replicate", "sentinel",
               "only_sentinel", "no_mandatory_keys", "protected", "module_getkeys", "module_no_cluster",
               "no_async_loading", "no_multi", "movablekeys", "allow_busy", "module_getchannels")
_ACL_ORDER = ("@keyspace", "@read", "@write", "@set", "@sortedset", "@list", "@hash", "@string", "@bitmap",
              "@hyperloglog", "@geo", "@stream", "@pubsub", "@admin", "@fast", "@slow", "@blocking", "@dangerous",
              "@connection", "@transaction", "@scripting")


def _ordered(items: frozenset[str] | set[str], order: tuple[str, ...]) -> list[str]:
    known = [x for x in order if x in items]
    return known + sorted(x for x in items if x not in order)


def _status_set(ctx: Client, items: list[str]) -> Any:
    """A set of status replies in RESP3 (addReplySetLen), an array in RESP2."""
    values = [Status(x) for x in items]
    return set(values) if ctx.resp == 3 else values


def _key_specs(cmd: Command) -> list[Any]:
    if cmd.first_key <= 0:
        return []
    access = ["RO", "access"] if cmd.is_readonly else ["RW", "update"] if cmd.is_write else ["RO"]
    last = cmd.last_key - cmd.first_key if cmd.last_key >= 0 else cmd.last_key
    return [{
        b"flags": _status_set_plain(access),
        b"begin_search": {b"type": b"index", b"spec": {b"index": cmd.first_key}},
        b"find_keys": {b"type": b"range", b"spec": {b"lastkey": last, b"keystep": max(cmd.key_step, 1), b"limit": 0}},
    }]


def _status_set_plain(items: list[str]) -> list[Status]:
    return [Status(x) for x in items]


def _info_row(ctx: Client, cmd: Command) -> list[Any]:
    """One COMMAND INFO entry in Redis 7's layout (server.c addReplyCommandInfo)."""
    flags = set(cmd.flags)
    tips: list[bytes] = []
    if "random" in flags:  # a Redis 6 flag; Redis 7 reports it as a command tip
        flags.discard("random")
        tips.append(b"nondeterministic_output")
    if cmd.key_extractor is not None:
        flags.add("movablekeys")
    return [
        cmd.fullname.encode(),
        cmd.arity,
        _status_set(ctx, _ordered(flags, _FLAG_ORDER)),
        cmd.first_key,
        cmd.last_key,
        cmd.key_step,
        _status_set(ctx, _ordered(cmd.acl_categories, _ACL_ORDER)),
        tips,
        _key_specs(cmd),
        [_info_row(ctx, sub) for sub in cmd.subcommands.values()],
    ]


def _docs(cmd: Command) -> dict[bytes, Any]:
    """One COMMAND DOCS entry (server.c addReplyCommandDocs): summary, since, group, complexity."""
    doc: dict[bytes, Any] = {
        b"summary": cmd.summary.encode(),
        b"since": cmd.since.encode(),
        b"group": cmd.group.encode(),
    }
    if cmd.complexity:
        doc[b"complexity"] = cmd.complexity.encode()
    if cmd.subcommands:
        doc[b"subcommands"] = {sub.fullname.encode(): _docs(sub) for sub in cmd.subcommands.values()}
    return doc


@command("command", arity=-1, flags="loading stale", acl="@connection", group="server", since="2.8.13",
         summary="Get array of Redis command details", complexity="O(N) where N is the total number of Redis commands")
def command_(ctx: Client) -> Reply:
    return [_info_row(ctx, cmd) for cmd in COMMANDS.values()]


@subcommand("command", "count", arity=2, flags="loading stale", acl="@connection", group="server", since="2.8.13",
            summary="Get total number of Redis commands", complexity="O(1)")
def command_count(ctx: Client) -> Reply:
    return len(COMMANDS)


def _find(name: bytes) -> Command | None:
    """A row by name, ``parent|sub`` included (lookupCommandBySds)."""
    parent, _, sub = name.lower().partition(b"|")
    cmd = COMMANDS.get(parent)
    if cmd is not None and sub:
        return cmd.subcommands.get(sub)
    return cmd


@subcommand("command", "info", arity=-2, flags="loading stale", acl="@connection", group="server", since="2.8.13",
            summary="Get array of specific Redis command details, or all when no argument is given",
            complexity="O(N) where N is the number of commands to look up")
def command_info(ctx: Client, *names: bytes) -> Reply:
    if not names:
        return [_info_row(ctx, cmd) for cmd in COMMANDS.values()]
    out: list[Any] = []
    for name in names:
        cmd = _find(name)
        out.append(None if cmd is None else _info_row(ctx, cmd))
    return out


@subcommand("command", "docs", arity=-2, flags="loading stale", acl="@connection", group="server", since="7.0.0",
            summary="Get array of specific Redis command documentation",
            complexity="O(N) where N is the number of commands to look up")
def command_docs(ctx: Client, *names: bytes) -> Reply:
    if not names:
        return {cmd.fullname.encode(): _docs(cmd) for cmd in COMMANDS.values()}
    out: dict[bytes, Any] = {}
    for name in names:
        cmd = _find(name)
        if cmd is not None:
            out[cmd.fullname.encode()] = _docs(cmd)
    return out


def _getkeys(argv: tuple[bytes, ...]) -> tuple[Command, list[int]]:
    cmd = COMMANDS.get(argv[0].lower())
    if cmd is not None and cmd.subcommands and len(argv) > 1:
        cmd = cmd.subcommands.get(argv[1].lower(), cmd)
    if cmd is None:
        raise CommandError("ERR Invalid command specified")
    if (cmd.arity > 0 and len(argv) != cmd.arity) or len(argv) < -cmd.arity:
        raise CommandError("ERR Invalid number of arguments specified for command")
    positions = key_positions(cmd, list(argv))
    if not positions:
        raise CommandError("ERR The command has no key arguments")
    return cmd, positions


@subcommand("command", "getkeys", arity=-3, flags="loading stale", acl="@connection", group="server",
            since="2.8.13", summary="Extract keys given a full Redis command",
            complexity="O(N) where N is the number of arguments to the command")
def command_getkeys(ctx: Client, *argv: bytes) -> Reply:
    _, positions = _getkeys(argv)
    return [argv[i] for i in positions]


@subcommand("command", "getkeysandflags", arity=-4, flags="loading stale", acl="@connection", group="server",
            since="7.0.0", summary="Extract keys and access flags given a full Redis command",
            complexity="O(N) where N is the number of arguments to the command")
def command_getkeysandflags(ctx: Client, *argv: bytes) -> Reply:
    cmd, positions = _getkeys(argv)
    specs = keys_and_flags(cmd.fullname, list(argv))  # Redis's key specs (engine/keyspecs.py)
    if specs is not None:
        return [[argv[i], OrderedSet(Status(f) for f in flags)] for i, flags in specs]
    access = ["RO", "access"] if cmd.is_readonly else ["RW", "update"] if cmd.is_write else ["RO"]
    return [[argv[i], _status_set(ctx, access)] for i in positions]


@subcommand("command", "list", arity=-2, flags="loading stale", acl="@connection", group="server", since="7.0.0",
            summary="Get an array of Redis command names",
            complexity="O(N) where N is the total number of Redis commands")
def command_list(ctx: Client, *args: bytes) -> Reply:
    test = None
    if args:
        if len(args) != 3 or args[0].lower() != b"filterby":
            raise CommandError(SYNTAX)
        kind, value = args[1].lower(), args[2]
        if kind == b"module":
            return []  # no modules are loaded
        if kind == b"aclcat":
            cat = "@" + value.decode("utf-8", "replace").lower()
            test = lambda c: cat in c.acl_categories  # noqa: E731
        elif kind == b"pattern":
            test = lambda c: glob_match(value, c.fullname.encode(), nocase=True)  # noqa: E731
        else:
            raise CommandError(SYNTAX)
    out: list[bytes] = []
    for cmd in COMMANDS.values():
        for row in (cmd, *cmd.subcommands.values()):
            if test is None or test(row):
                out.append(row.fullname.encode())
    return out


@subcommand("command", "help", arity=2, flags="loading stale", acl="@connection", group="server", since="5.0.0",
            summary="Show helpful text about the different subcommands", complexity="O(1)")
def command_help(ctx: Client) -> Reply:
    return help_reply("COMMAND", [
        "(no subcommand)",
        "    Return details about all Redis commands.",
        "COUNT",
        "    Return the total number of commands in this Redis server.",
        "LIST",
        "    Return a list of all commands in this Redis server.",
        "INFO [<command-name> ...]",
        "    Return details about multiple Redis commands.",
        "    If no command names are given, documentation details for all",
        "    commands are returned.",
        "DOCS [<command-name> ...]",
        "    Return documentation details about multiple Redis commands.",
        "    If no command names are given, documentation details for all",
        "    commands are returned.",
        "GETKEYS <full-command>",
        "    Return the keys from a full Redis command.",
        "GETKEYSANDFLAGS <full-command>",
        "    Return the keys and the access flags from a full Redis command.",
    ])


# -- SLOWLOG (slowlog.c) ------------------------------------------------------------------------
@subcommand("slowlog", "get", arity=-2, flags="admin loading stale", acl="@admin @slow @dangerous", group="server",
            since="2.2.12", summary="Get the slow log's entries", complexity="O(N) where N is the number of entries returned")
def slowlog_get(ctx: Client, *args: bytes) -> Reply:
    count = 10
    if len(args) > 1:
        raise CommandError(SYNTAX)
    if args:
        n = integer_in_range(args[0], -1, LLONG_MAX, "ERR count should be greater than or equal to -1")
        count = len(ctx.server.slowlog) if n == -1 else n
    return [list(entry) for entry in list(ctx.server.slowlog)[:count]]


@subcommand("slowlog", "len", arity=2, flags="admin loading stale", acl="@admin @slow @dangerous", group="server",
            since="2.2.12", summary="Get the slow log's length", complexity="O(1)")
def slowlog_len(ctx: Client) -> Reply:
    return len(ctx.server.slowlog)


@subcommand("slowlog", "reset", arity=2, flags="admin loading stale", acl="@admin @slow @dangerous", group="server",
            since="2.2.12", summary="Clear all entries from the slow log",
            complexity="O(N) where N is the number of entries in the slowlog")
def slowlog_reset(ctx: Client) -> Reply:
    ctx.server.slowlog.clear()
    return OK


@subcommand("slowlog", "help", arity=2, flags="loading stale", acl="@slow", group="server", since="6.2.0",
            summary="Show helpful text about the different subcommands", complexity="O(1)")
def slowlog_help(ctx: Client) -> Reply:
    return help_reply("SLOWLOG", [
        "GET [<count>]",
        "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
        "    Entries are made of:",
        "    id, timestamp, time in microseconds, arguments array, client IP and port,",
        "    client name",
        "LEN",
        "    Return the length of the slowlog.",
        "RESET",
        "    Reset the slowlog.",
    ])
