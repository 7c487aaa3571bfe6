"""ACL users on disk and in redis.conf (acl.c ACLLoadFromFile / ACLSaveToFile).

The aclfile holds one ``user <name> <rules...>`` line per user, the format ``ACL LIST``
prints; redis.conf's ``user`` directives use the same syntax.  Loading is all or nothing:
every bad line is reported (``<file>:<line>: <error>``) and no user changes; saving writes a
temporary file and renames it over the old one.
"""

from __future__ import annotations

import os
from pathlib import Path

from engine.acl_rules import AclRuleError, User, default_user, merge_selector_args, new_user
from engine.errors import CommandError

__all__ = ["NO_ACLFILE", "parse_user_lines", "read_users", "write_users"]

NO_ACLFILE = (
    "This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL "
    "SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in "
    "order to store users in the Redis configuration."
)


def parse_user_lines(lines: list[tuple[int, list[str]]], source: str, allchannels: bool) -> dict[str, User]:
    """``user <name> <rules...>`` lines into new users (with ``default`` when no line names
    it), or CommandError listing every bad line.  ``allchannels``: acl-pubsub-default."""
    users: dict[str, User] = {}
    errs: list[str] = []
    for n, parts in lines:
        if not parts:
            continue
        if parts[0] != "user" or len(parts) < 2:
            errs.append(f"{source}:{n}: line should start with user keyword")
            continue
        name = parts[1]
        if name in users:
            errs.append(f"{source}:{n}: Duplicate user '{name}' found")
            continue
        u = new_user(name, allchannels)
        u.pubsub_default_all = allchannels
        for rule in merge_selector_args(parts[2:]):
            try:
                u.set_rule(rule)
            except AclRuleError as e:
                errs.append(f"{source}:{n}: {e}. ")
                break
        users[name] = u
    if errs:
        raise CommandError("ERR " + " ".join(errs).strip())
    users.setdefault("default", default_user())
    return users


def read_users(path: str, allchannels: bool) -> dict[str, User]:
    """The users of the aclfile at ``path`` (ACL LOAD, startup)."""
    if not path:
        raise CommandError("ERR " + NO_ACLFILE)
    try:
        text = Path(path).read_bytes().decode("utf-8", "surrogateescape")
    except OSError as e:
        raise CommandError(f"ERR Error loading ACLs, opening file '{path}': {e.strerror}") from None
    lines = [(n, line.split()) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    return parse_user_lines(lines, path, allchannels)


def write_users(path: str, users: dict[str, User]) -> None:
    """ACL SAVE: every user as a ``user`` line, sorted by name, replacing the file atomically."""
    if not path:
        raise CommandError("ERR " + NO_ACLFILE)
    body = "".join(f"user {name} {users[name].describe()}\n" for name in sorted(users))
    tmp = Path(path + ".tmp")
    try:
        tmp.write_bytes(body.encode("utf-8", "surrogateescape"))
        os.replace(tmp, path)
    except OSError:
        raise CommandError("ERR There was an error trying to save the ACLs. Please check the server logs "
                           "for more information") from None
