"""ACL commands: ACL SETUSER|GETUSER|DELUSER|LIST|USERS|WHOAMI|CAT|LOG|DRYRUN|GENPASS|SAVE|LOAD|HELP.

The users and the checks live in engine/acl.py; these handlers only parse arguments and shape
replies as Redis 7.0's aclCommand (src/acl.c) does.  The server builds its :class:`ACL` in
``Server.__init__``; this module only reads ``server.acl``.
"""

from __future__ import annotations

import os
import time

from engine.acl import ACL, CATEGORIES
from engine.client import Client
from engine.dispatch import resolve
from engine.errors import NOT_INTEGER, CommandError, RedisError
from engine.protocol import OK, Reply
from engine.table import COMMANDS, subcommand
from engine.util import parse_int

__all__ = ["acl_setuser", "acl_getuser", "acl_deluser", "acl_list", "acl_users", "acl_whoami", "acl_cat",
           "acl_log", "acl_dryrun", "acl_genpass", "acl_save", "acl_load", "acl_help"]

_ADMIN = "admin noscript loading stale"
_PLAIN = "noscript loading stale"


def _acl(ctx: Client) -> ACL:
    return ctx.server.acl


def _text(b: bytes) -> str:
    return b.decode("utf-8", "surrogateescape")


@subcommand("acl", "setuser", arity=-3, flags=_ADMIN, since="6.0.0", summary="Modify or create the rules for a specific ACL user")
def acl_setuser(ctx: Client, username: bytes, *rules: bytes) -> Reply:
    _acl(ctx).setuser(_text(username), [_text(r) for r in rules])
    return OK


@subcommand("acl", "getuser", arity=3, flags=_ADMIN, since="6.0.0", summary="Get the rules for a specific ACL user")
def acl_getuser(ctx: Client, username: bytes) -> Reply:
    user = _acl(ctx).users.get(_text(username))
    if user is None:
        return None
    return {
        b"flags": [f.encode("utf-8", "surrogateescape") for f in user.flags()],
        b"passwords": [p.encode("utf-8", "surrogateescape") for p in user.passwords],
        b"commands": user.describe_commands().encode("utf-8", "surrogateescape"),
        b"keys": " ".join(user.describe_keys()).encode("utf-8", "surrogateescape"),
        b"channels": " ".join(user.describe_channels()).encode("utf-8", "surrogateescape"),
        b"selectors": [
            {
                b"commands": sel.describe_commands().encode("utf-8", "surrogateescape"),
                b"keys": " ".join(sel.describe_keys()).encode("utf-8", "surrogateescape"),
                b"channels": " ".join(sel.describe_channels()).encode("utf-8", "surrogateescape"),
            }
            for sel in user.selectors
        ],
    }


@subcommand("acl", "deluser", arity=-3, flags=_ADMIN, since="6.0.0", summary="Remove the specified ACL users")
def acl_deluser(ctx: Client, *usernames: bytes) -> Reply:
    return _acl(ctx).deluser([_text(u) for u in usernames], current=ctx)


@subcommand("acl", "list", arity=2, flags=_ADMIN, since="6.0.0", summary="List the current ACL rules in ACL config file format")
def acl_list(ctx: Client) -> Reply:
    users = _acl(ctx).users
    return [f"user {name} {users[name].describe()}".encode("utf-8", "surrogateescape") for name in sorted(users)]


@subcommand("acl", "users", arity=2, flags=_ADMIN, since="6.0.0", summary="List the username of all the configured ACL users")
def acl_users(ctx: Client) -> Reply:
    return [name.encode("utf-8", "surrogateescape") for name in sorted(_acl(ctx).users)]


@subcommand("acl", "whoami", arity=2, flags=_PLAIN, since="6.0.0", summary="Return the name of the user associated to the current connection")
def acl_whoami(ctx: Client) -> Reply:
    return ctx.user.encode("utf-8", "surrogateescape")


@subcommand("acl", "cat", arity=-2, flags=_PLAIN, since="6.0.0", summary="List the ACL categories or the commands inside a category")
def acl_cat(ctx: Client, *args: bytes) -> Reply:
    if not args:
        return [c.encode("utf-8", "surrogateescape") for c in CATEGORIES]
    if len(args) > 1:
        raise CommandError("ERR wrong number of arguments for 'acl|cat' command")
    cat = _text(args[0]).lower()
    if cat not in CATEGORIES:
        raise CommandError(f"ERR Unknown category '{_text(args[0])[:128]}'")
    flag = "@" + cat
    out: list[bytes] = []
    for cmd in COMMANDS.values():
        if cmd.handler is not None and flag in cmd.acl_categories:
            out.append(cmd.name.encode("utf-8", "surrogateescape"))
        for sub in cmd.subcommands.values():
            if flag in sub.acl_categories:
                out.append(sub.fullname.encode("utf-8", "surrogateescape"))
    return out


@subcommand("acl", "log", arity=-2, flags=_ADMIN, since="6.0.0", summary="List latest events denied because of ACLs in place")
def acl_log(ctx: Client, *args: bytes) -> Reply:
    acl = _acl(ctx)
    count = len(acl.log)
    if args:
        if len(args) > 1:
            raise CommandError("ERR unknown subcommand or wrong number of arguments for 'LOG'. Try ACL HELP.")
        if args[0].lower() == b"reset":
            acl.log.clear()
            return OK
        n = parse_int(args[0])
        if n is None:
            raise CommandError(NOT_INTEGER)
        count = max(n, 0)  # a negative count lists nothing, as in Redis
    now = int(time.time() * 1000)
    return [
        {
            b"count": e.count,
            b"reason": e.reason.encode("utf-8", "surrogateescape"),
            b"context": e.context.encode("utf-8", "surrogateescape"),
            b"object": e.object.encode("utf-8", "surrogateescape"),
            b"username": e.username.encode("utf-8", "surrogateescape"),
            b"age-seconds": (now - e.ctime_ms) / 1000.0,
            b"client-info": e.cinfo.encode("utf-8", "surrogateescape"),
        }
        for e in acl.log[:count]
    ]


@subcommand("acl", "dryrun", arity=-4, flags=_ADMIN, since="7.0.0",
            summary="Returns whether the user can execute the given command without executing the command")
def acl_dryrun(ctx: Client, username: bytes, *argv: bytes) -> Reply:
    acl = _acl(ctx)
    name = _text(username)
    if name not in acl.users:
        raise CommandError(f"ERR User '{name}' not found")
    if COMMANDS.get(argv[0].lower()) is None:
        raise CommandError(f"ERR Command '{_text(argv[0])}' not found")
    try:
        cmd = resolve(list(argv))
    except RedisError as e:
        raise CommandError(e.reply_text()) from None
    denied = acl.dryrun(name, cmd, list(argv))
    return OK if denied is None else denied.encode("utf-8", "surrogateescape")


@subcommand("acl", "genpass", arity=-2, flags=_PLAIN, since="6.0.0", summary="Generate a pseudorandom secure password to use for ACL users")
def acl_genpass(ctx: Client, *args: bytes) -> Reply:
    bits = 256
    if args:
        n = parse_int(args[0])
        if n is None or n <= 0 or n > 4096:
            raise CommandError("ERR ACL GENPASS argument must be the number of bits for the output password, "
                               "a positive number up to 4096")
        bits = n
    chars = (bits + 3) // 4
    return os.urandom((chars + 1) // 2).hex()[:chars].encode("utf-8", "surrogateescape")


@subcommand("acl", "save", arity=2, flags=_ADMIN, since="6.0.0", summary="Save the current ACL rules in the configured ACL file")
def acl_save(ctx: Client) -> Reply:
    _acl(ctx).save_file()
    return OK


@subcommand("acl", "load", arity=2, flags=_ADMIN, since="6.0.0", summary="Reload the ACLs from the configured ACL file")
def acl_load(ctx: Client) -> Reply:
    _acl(ctx).load_file()
    return OK


_HELP = [
    "ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CAT [<category>]",
    "    List all commands that belong to <category>, or all command categories",
    "    when no category is specified.",
    "DELUSER <username> [<username> ...]",
    "    Delete a list of users.",
    "DRYRUN <username> <command> [<arg> ...]",
    "    Returns whether the user can execute the given command without executing the command.",
    "GETUSER <username>",
    "    Get the user's details.",
    "GENPASS [<bits>]",
    "    Generate a secure 256-bit user password. The optional `bits` argument can",
    "    be used to specify a different size.",
    "LIST",
    "    Show users details in config file format.",
    "LOAD",
    "    Reload users from the ACL file.",
    "LOG [<count> | RESET]",
    "    Show the ACL log entries.",
    "SAVE",
    "    Save the current config to the ACL file.",
    "SETUSER <username> <attribute> [<attribute> ...]",
    "    Create or modify a user with the specified attributes.",
    "USERS",
    "    List all the registered usernames.",
    "WHOAMI",
    "    Return the current connection username.",
    "HELP",
    "    Prints this help.",
]


@subcommand("acl", "help", arity=2, flags="loading stale", since="6.0.0", summary="Show helpful text about the different subcommands")
def acl_help(ctx: Client) -> Reply:
    from engine.protocol import Status

    return [Status(line) for line in _HELP]
