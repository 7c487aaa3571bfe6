"""The command table: one row per command, read by dispatch, COMMAND, ACL and key extraction.

As in Redis's ``redisCommandTable`` (commands.def), a row carries the name, arity (negative
means "at least"), flags, the legacy key positions (first, last, step), ACL categories, and
the documentation fields COMMAND DOCS prints.  A command is added with a decorator on its
handler, so a new command is one function plus this one row::

    @command("getdel", arity=2, flags="write fast", keys=(1, 1, 1), acl="@string")
    def getdel(ctx: Client, key: bytes) -> Reply: ...

Container commands (CONFIG, CLIENT, OBJECT, ...) are registered with ``handler=None`` and
their subcommands with :func:`subcommand`; each subcommand is a full row of its own
(``config|get``), as in Redis 7.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Command", "COMMANDS", "BY_NAME", "command", "subcommand", "lookup", "all_commands", "key_positions"]

Handler = Callable[..., Any]

# Categories Redis derives from flags (server.c setImplicitACLCategories).
_IMPLICIT = {
    "write": "@write",
    "readonly": "@read",
    "admin": "@admin",
    "pubsub": "@pubsub",
    "fast": "@fast",
    "blocking": "@blocking",
}


@dataclass(eq=False, slots=True)
class Command:
    """One row of the command table, plus its INFO commandstats counters."""

    name: str
    handler: Handler | None
    arity: int
    flags: frozenset[str]
    first_key: int = 0
    last_key: int = 0
    key_step: int = 0
    acl_categories: frozenset[str] = frozenset()
    group: str = "generic"
    since: str = "1.0.0"
    summary: str = ""
    complexity: str = ""
    parent: Command | None = None
    subcommands: dict[bytes, Command] = field(default_factory=dict)
    key_extractor: Callable[[list[bytes]], list[int]] | None = None
    # INFO commandstats
    calls: int = 0
    usec: int = 0
    rejected_calls: int = 0
    failed_calls: int = 0
    # Flags looked up on the hot path, precomputed.
    is_write: bool = False
    is_readonly: bool = False
    denyoom: bool = False
    noauth: bool = False
    loading_ok: bool = True
    id: int = 0
    # ``config|get`` for subcommands, as Redis names them in errors and stats (a plain
    # attribute: dispatch and statistics read it for every command).
    fullname: str = ""

    def reset_stats(self) -> None:
        self.calls = self.usec = self.rejected_calls = self.failed_calls = 0
        for sub in self.subcommands.values():
            sub.reset_stats()


COMMANDS: dict[bytes, Command] = {}
# The row for a command name exactly as clients send it (``SET``, ``set``), filled by dispatch
# so the common request needs no ``lower()``; emptied whenever a row is registered.
BY_NAME: dict[bytes, Command] = {}
_next_id = 0


def _make(
    name: str,
    handler: Handler | None,
    arity: int,
    flags: str,
    keys: tuple[int, int, int],
    acl: str,
    group: str,
    since: str,
    summary: str,
    complexity: str,
    parent: Command | None,
    key_extractor: Callable[[list[bytes]], list[int]] | None,
) -> Command:
    global _next_id
    flag_set = frozenset(flags.split())
    cats = {c if c.startswith("@") else "@" + c for c in acl.split()}
    scripting = "@scripting" in cats  # setImplicitACLCategories keeps scripting commands out of @read
    cats.update(_IMPLICIT[f] for f in flag_set if f in _IMPLICIT and not (scripting and f == "readonly"))
    if "@fast" not in cats:
        cats.add("@slow")
    if "admin" in flag_set:
        cats.add("@dangerous")
    _next_id += 1
    return Command(
        name=name,
        handler=handler,
        arity=arity,
        flags=flag_set,
        first_key=keys[0],
        last_key=keys[1],
        key_step=keys[2],
        acl_categories=frozenset(cats),
        group=group,
        since=since,
        summary=summary,
        complexity=complexity,
        parent=parent,
        key_extractor=key_extractor,
        is_write="write" in flag_set,
        is_readonly="readonly" in flag_set,
        denyoom="denyoom" in flag_set,
        noauth="no_auth" in flag_set,
        loading_ok="loading" in flag_set,
        id=_next_id,
        fullname=f"{parent.name}|{name}" if parent is not None else name,
    )


def command(
    name: str,
    arity: int,
    flags: str = "",
    keys: tuple[int, int, int] = (0, 0, 0),
    acl: str = "",
    group: str = "generic",
    since: str = "1.0.0",
    summary: str = "",
    complexity: str = "",
    key_extractor: Callable[[list[bytes]], list[int]] | None = None,
) -> Callable[[Handler], Handler]:
    """Register ``handler`` as command ``name``; the handler gets ``(ctx, *args)``."""

    def register(handler: Handler) -> Handler:
        row = _make(name, handler, arity, flags, keys, acl, group, since, summary, complexity, None, key_extractor)
        old = COMMANDS.get(name.encode())
        if old is not None:
            row.subcommands = old.subcommands
        COMMANDS[name.encode()] = row
        BY_NAME.clear()
        return handler

    return register


def container(name: str, group: str = "server", since: str = "2.0.0", summary: str = "", acl: str = "") -> Command:
    """Register (or fetch) a container command such as CONFIG, whose rows are subcommands."""
    row = COMMANDS.get(name.encode())
    if row is None:
        row = _make(name, None, -2, "", (0, 0, 0), acl, group, since, summary, "", None, None)
        COMMANDS[name.encode()] = row
        BY_NAME.clear()
    return row


def subcommand(
    parent: str,
    name: str,
    arity: int,
    flags: str = "",
    keys: tuple[int, int, int] = (0, 0, 0),
    acl: str = "",
    group: str | None = None,
    since: str = "1.0.0",
    summary: str = "",
    complexity: str = "",
    key_extractor: Callable[[list[bytes]], list[int]] | None = None,
) -> Callable[[Handler], Handler]:
    """Register ``handler`` as ``parent|name``; the handler gets ``(ctx, *args_after_name)``."""

    def register(handler: Handler) -> Handler:
        top = container(parent, group=group or "server")
        row = _make(name, handler, arity, flags, keys, acl, group or top.group, since, summary, complexity, top, key_extractor)
        top.subcommands[name.encode()] = row
        return handler

    return register


def lookup(name: bytes) -> Command | None:
    """The row for a command name as sent by a client (any case)."""
    return COMMANDS.get(name.lower())


def all_commands() -> list[Command]:
    return list(COMMANDS.values())


def key_positions(cmd: Command, argv: list[bytes]) -> list[int]:
    """Indexes of the key arguments in ``argv`` (COMMAND GETKEYS, ACL key checks, WATCH)."""
    if cmd.key_extractor is not None:
        return cmd.key_extractor(argv)
    if cmd.first_key <= 0:
        return []
    last = cmd.last_key if cmd.last_key >= 0 else len(argv) + cmd.last_key
    return list(range(cmd.first_key, min(last, len(argv) - 1) + 1, max(cmd.key_step, 1)))
