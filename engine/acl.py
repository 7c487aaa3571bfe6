"""The users of one server and the ACL check: the registry part of Redis 7.0's acl.c.

:class:`ACL` owns a server's users (``ACL SETUSER`` / ``DELUSER``, ``AUTH``), decides each
command (:meth:`ACL.check`, Redis's ACLCheckAllPerm with processCommand's NOPERM reply and log
entry), and keeps the ACL LOG and the aclfile through the modules that hold those jobs:

* engine/acl_rules.py: the rule language (:class:`User`, categories, selectors, ``ACL LIST``);
* engine/acl_log.py: the ACL LOG;
* engine/acl_file.py: the aclfile and redis.conf ``user`` lines.

The dispatch hot path pays nothing while every user may do everything: ``server.acl_active``
is set only when some user is restricted, and only then does dispatch call
:meth:`ACL.check`.  ``requirepass`` is the default user's password, as in Redis 7 (config.c
``updateRequirePass`` -> ``ACLUpdateDefaultUserPassword``).  ``Server.protected_mode_refusal``
reads the default user's ``nopass`` flag.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from engine.acl_file import parse_user_lines, read_users, write_users
from engine.acl_log import LogEntry, add_entry, client_info
from engine.acl_rules import (
    CATEGORIES,
    AclRuleError,
    User,
    default_user,
    hash_password,
    merge_selector_args,
    new_user,
)
from engine.errors import NOPERM_COMMAND, WRONGPASS, CommandError, NoPermError, RedisError
from engine.table import Command
from engine.util import glob_match

if TYPE_CHECKING:
    from engine.client import Client
    from engine.server import Server

__all__ = ["ACL", "User", "AclRuleError", "CATEGORIES", "hash_password", "client_info"]

_SCRIPT_DENIED = {
    "command": "ERR The user executing the script can't run this command or subcommand",
    "key": "ERR The user executing the script can't access at least one of the keys mentioned in the command arguments",
    "channel": "ERR The user executing the script can't publish to the channel mentioned in the command",
}


class ACL:
    """The users of one server, its ACL LOG and its aclfile."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.users: dict[str, User] = {"default": default_user()}
        self.log: list[LogEntry] = []

    # -- users -----------------------------------------------------------------------------------
    @property
    def default(self) -> User:
        return self.users["default"]

    def setuser(self, name: str, rules: list[str]) -> None:
        """ACL SETUSER: all rules or none (raises CommandError naming the bad modifier)."""
        user = self.users.get(name)
        all_default = self.server.config["acl-pubsub-default"] == "allchannels"
        work = user.copy() if user is not None else new_user(name, all_default)
        work.pubsub_default_all = all_default
        for rule in merge_selector_args(rules):
            try:
                work.set_rule(rule)
            except AclRuleError as e:
                raise CommandError(f"ERR Error in ACL SETUSER modifier '{rule}': {e}") from None
        self.users[name] = work
        self.refresh()
        if not (work.allchannels or any(sel.allchannels for sel in work.selectors)):
            self.kill_pubsub_clients(work)

    def kill_pubsub_clients(self, user: User) -> None:
        """ACLKillPubsubClientsIfNeeded: close this user's clients subscribed to channels (or
        patterns, matched literally) it may no longer access."""
        for conn in list(self.server.connections.values()):
            c = conn.client
            if c.user != user.name or not c.subscriptions:
                continue
            allowed = [p for sel in (user, *user.selectors) for p in sel.channels]
            ok = all(any(glob_match(p, ch) for p in allowed) for ch in c.channels | c.shard_channels) and \
                all(pat in allowed for pat in c.patterns)
            if not ok:
                c.close()
                conn.close()

    def deluser(self, names: list[str], current: Client | None = None) -> int:
        if "default" in names:
            raise CommandError("ERR The 'default' user cannot be removed")
        n = 0
        for name in names:
            if self.users.pop(name, None) is not None:
                n += 1
                self.disconnect_user(name, current)
        self.refresh()
        return n

    def disconnect_user(self, name: str, current: Client | None = None) -> None:
        """Clients authenticated as a deleted user are closed, as Redis does; the calling
        client gets its reply first (CLIENT_CLOSE_AFTER_COMMAND)."""
        for conn in list(self.server.connections.values()):
            if conn.client.user == name:
                conn.client.close()
                if conn.client is not current:
                    conn.close()

    def refresh(self) -> None:
        """Turn the dispatch ACL check on only when some user is restricted."""
        self.server.acl_active = not all(u.unrestricted for u in self.users.values())

    def requires_auth(self) -> bool:
        """authRequired: the default user has a password or is disabled."""
        d = self.default
        return not d.nopass or not d.enabled

    def load_startup_users(self) -> None:
        """ACLLoadUsersAtStartup: the ``user`` lines of redis.conf, or the aclfile (not both)."""
        config = self.server.config
        users = config.users
        if users and config["aclfile"]:
            raise RedisError("Configuring Redis with users defined in redis.conf and at the same setting an ACL file "
                             "path is invalid. This setup is very likely to lead to configuration errors and security "
                             "holes, please define either an ACL file or declare users directly in your redis.conf, "
                             "but not both.")
        if users:
            loaded = self.load_lines([(i, ["user", *args]) for i, args in enumerate(users, 1)], "redis.conf")
            self.users.update(loaded if any(args and args[0] == "default" for args in users)
                              else {k: v for k, v in loaded.items() if k != "default"})
        elif config["aclfile"] and Path(config["aclfile"]).exists():
            self.load_file()
        self.refresh()

    def set_requirepass(self, password: str) -> None:
        """ACLUpdateDefaultUserPassword."""
        d = self.default
        d.set_rule("resetpass")
        d.set_rule(">" + password if password else "nopass")
        self.refresh()

    # -- authentication --------------------------------------------------------------------------
    def authenticate(self, client: Client, username: bytes, password: bytes) -> None:
        """ACLAuthenticateUser: set the client's user or log and raise WRONGPASS."""
        name = username.decode("utf-8", "surrogateescape")
        user = self.users.get(name)
        if user is not None and user.enabled and (user.nopass or hash_password(password) in user.passwords):
            client.authenticated = True
            client.user = name
            return
        self.add_log(client, "auth", "AUTH", name)
        raise RedisError(WRONGPASS)

    # -- the dispatch check ----------------------------------------------------------------------
    def check(self, client: Client, cmd: Command, argv: list[bytes]) -> RedisError | None:
        """ACLCheckAllPerm + the NOPERM reply and the ACL LOG entry of processCommand."""
        user = self.users.get(client.user)
        if user is None:
            return NoPermError(NOPERM_COMMAND.format(cmd.fullname))
        if user.unrestricted:
            return None
        denied = user.check_command(cmd, argv)
        if denied is None:
            return None
        reason, idx = denied
        if client.is_script:
            # scriptCall words these differently, as plain errors (Redis 7.0 script.c).
            obj = cmd.fullname if reason == "command" else argv[idx].decode("utf-8", "surrogateescape")
            self.add_log(client, reason, obj, client.user)
            return CommandError(_SCRIPT_DENIED[reason])
        if reason == "command":
            obj = cmd.fullname
            err = NOPERM_COMMAND.format(cmd.fullname)
        elif reason == "key":
            obj = argv[idx].decode("utf-8", "surrogateescape")
            err = "NOPERM this user has no permissions to access one of the keys used as arguments"
        else:
            obj = argv[idx].decode("utf-8", "surrogateescape")
            err = "NOPERM this user has no permissions to access one of the channels used as arguments"
        self.add_log(client, reason, obj, client.user)
        return NoPermError(err)

    def full_key_access(self, client: Client, cmd: Command, argv: list[bytes]) -> bool:
        """May ``client`` read any key with ``cmd`` (see :meth:`User.unrestricted_key_access`)?"""
        user = self.users.get(client.user)
        return user is not None and (user.unrestricted or user.unrestricted_key_access(cmd, argv))

    def dryrun(self, name: str, cmd: Command, argv: list[bytes]) -> str | None:
        user = self.users[name]
        denied = user.check_command(cmd, argv)
        if denied is None:
            return None
        reason, idx = denied
        if reason == "command":
            return f"This user has no permissions to run the '{cmd.fullname}' command"
        what = argv[idx].decode("utf-8", "surrogateescape")
        return f"This user has no permissions to access the '{what}' {reason}"

    # -- ACL LOG ---------------------------------------------------------------------------------
    def add_log(self, client: Client, reason: str, obj: str, username: str) -> None:
        """addACLLogEntry (engine/acl_log.py)."""
        add_entry(self.log, client, reason, obj, username, self.server.config["acllog-max-len"])

    # -- aclfile and redis.conf users (engine/acl_file.py) ---------------------------------------
    def _allchannels(self) -> bool:
        return bool(self.server.config["acl-pubsub-default"] == "allchannels")

    def load_lines(self, lines: list[tuple[int, list[str]]], source: str) -> dict[str, User]:
        """``user`` lines into new users (or raise), with this server's acl-pubsub-default."""
        return parse_user_lines(lines, source, self._allchannels())

    def load_file(self) -> None:
        """ACL LOAD: replace every user with the aclfile's; clients of a user that is gone
        are disconnected."""
        self.users = read_users(self.server.config["aclfile"], self._allchannels())
        for conn in list(self.server.connections.values()):
            if conn.client.user not in self.users:
                conn.client.close()
                conn.close()
        self.refresh()

    def save_file(self) -> None:
        """ACL SAVE."""
        write_users(self.server.config["aclfile"], self.users)
