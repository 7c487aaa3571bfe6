"""The ACL rule language (acl.c): what ``ACL SETUSER`` rules mean and how a user is checked.

A :class:`User` holds what the rules describe: on/off, SHA-256 password hashes (or
``nopass``), the set of allowed command ids (top-level rows and ``parent|sub`` rows), first-arg
exceptions (``+select|0``), key patterns with read/write flags (``~``, ``%R~``, ``%W~``),
channel patterns (``&``) and 7.0 selectors (``(~k* +get)``: a command is allowed when the root
rules or any selector allow it).  :meth:`User.check_command` is Redis's ACLCheckAllUserCommandPerm;
:meth:`User.describe` prints the rules back as ``ACL LIST`` does (the greedy category choice of
``ACLDescribeSelectorCommandRules``).  Rule texts and error texts follow src/acl.c of Redis 7.0.

The registry of a server's users is engine/acl.py; the ACL LOG engine/acl_log.py; the aclfile
and ``user`` lines of redis.conf engine/acl_file.py.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from engine.errors import CommandError
from engine.table import COMMANDS, Command, key_positions
from engine.util import glob_match

__all__ = ["User", "AclRuleError", "CATEGORIES", "READ", "WRITE", "ALL_PERMS", "hash_password",
           "merge_selector_args", "new_user", "default_user"]

# ACLCommandCategories, in Redis's order (ACL CAT prints them so).
CATEGORIES = (
    "keyspace", "read", "write", "set", "sortedset", "list", "hash", "string", "bitmap", "hyperloglog",
    "geo", "stream", "pubsub", "admin", "fast", "slow", "blocking", "dangerous", "connection",
    "transaction", "scripting",
)

READ = 1
WRITE = 2
ALL_PERMS = READ | WRITE

# Redis 7.0 derives the permission a key needs from its key-spec flags (ACCESS: read,
# INSERT/DELETE/UPDATE: write).  Read-only commands that only look at metadata have no ACCESS
# flag and need neither; write commands that return the value (ACCESS) need both.  Checked with
# ACL DRYRUN against redis-server 7.0.15 (tests/engine/test_acl.py).
_NO_ACCESS = frozenset(("strlen", "exists", "type", "touch", "object", "llen", "scard", "sismember", "hlen",
                        "hexists", "hstrlen", "zcard", "xlen"))
_WRITE_ACCESS = frozenset((
    "getset", "getdel", "getex", "incr", "incrby", "decr", "decrby", "incrbyfloat",
    "lpop", "rpop", "lmove", "rpoplpush", "blpop", "brpop", "blmove", "brpoplpush", "lmpop", "blmpop",
    "spop", "smove", "sinterstore", "sunionstore", "sdiffstore", "rename", "renamenx", "copy", "move",
    "hincrby", "hincrbyfloat", "zincrby", "zpopmin", "zpopmax", "bzpopmin", "bzpopmax", "zmpop", "bzmpop",
    "setbit",
))

# Commands whose keys play different roles: (need of the first key, need of the others).
_KEY_ROLES = {
    **dict.fromkeys(("sinterstore", "sunionstore", "sdiffstore", "zinterstore", "zunionstore", "zdiffstore",
                     "zrangestore", "bitop"), (WRITE, READ)),
    "copy": (READ, WRITE),
    "sort": (READ, WRITE),  # the sorted key is read, a STORE destination written
    **dict.fromkeys(("rename", "renamenx", "lmove", "blmove", "rpoplpush", "brpoplpush", "smove"),
                    (ALL_PERMS, WRITE)),
}

_PUBSUB_CHANNEL_CMDS = frozenset(("publish", "spublish"))
_PUBSUB_SUB_CMDS = frozenset(("subscribe", "ssubscribe"))

_RELEVANCE = {"command": 1, "key": 2, "channel": 4}  # ACL_DENIED_CMD, _KEY, _CHANNEL


class AclRuleError(ValueError):
    """A rule ACL SETUSER rejects; the text is ACLSetUserStringError's."""


def hash_password(password: bytes) -> str:
    """ACLHashPassword: lowercase hex SHA-256."""
    return hashlib.sha256(password).hexdigest()


def _all_rows() -> list[Command]:
    """Every row: top-level commands, each followed by its subcommands."""
    rows: list[Command] = []
    for cmd in COMMANDS.values():
        rows.append(cmd)
        rows.extend(cmd.subcommands.values())
    return rows


def _cmd_lookup(name: str) -> Command | None:
    """ACLLookupCommand: ``get`` or ``config|get``."""
    if "|" in name:
        top, _, sub = name.partition("|")
        parent = COMMANDS.get(top.lower().encode("utf-8", "surrogateescape"))
        if parent is None:
            return None
        return parent.subcommands.get(sub.lower().encode("utf-8", "surrogateescape"))
    return COMMANDS.get(name.lower().encode("utf-8", "surrogateescape"))


@dataclass
class User:
    """One ACL user: flags and passwords, the root selector's permissions, and the 7.0 selectors
    (``(~k* +get)``), each a User of its own whose selector fields alone are used."""

    name: str
    enabled: bool = False
    nopass: bool = False
    sanitize_payload: bool = False
    skip_sanitize_payload: bool = False
    passwords: list[str] = field(default_factory=list)
    allowed: set[int] = field(default_factory=set)
    allcommands: bool = False
    firstargs: dict[int, list[str]] = field(default_factory=dict)
    allkeys: bool = False
    patterns: list[list[Any]] = field(default_factory=list)  # [pattern bytes, READ|WRITE flags]
    allchannels: bool = False
    channels: list[bytes] = field(default_factory=list)
    selectors: list[User] = field(default_factory=list)  # 7.0 "(...)" selectors after the root one
    # Derived from the above on first use after a change (the check runs per command).
    pubsub_default_all: bool = field(default=False, repr=False, compare=False)  # acl-pubsub-default
    _free: bool | None = field(default=None, repr=False, compare=False)
    _key_checks: list[tuple[Callable[[bytes], bool], int]] | None = field(default=None, repr=False, compare=False)

    def copy(self) -> User:
        return User(self.name, self.enabled, self.nopass, self.sanitize_payload, self.skip_sanitize_payload,
                    list(self.passwords), set(self.allowed), self.allcommands,
                    {k: list(v) for k, v in self.firstargs.items()}, self.allkeys,
                    [list(p) for p in self.patterns], self.allchannels, list(self.channels),
                    [sel.copy() for sel in self.selectors])

    @property
    def unrestricted(self) -> bool:
        """May run every command on every key and channel (no check needed)."""
        free = self._free
        if free is None:
            free = self._free = (self.allcommands and self.allkeys and self.allchannels
                                 and all(c.id in self.allowed for c in _all_rows()))
        return free

    # -- rules -----------------------------------------------------------------------------------
    def set_rule(self, op: str) -> None:
        """ACLSetUser: apply one rule, or raise :class:`AclRuleError`."""
        low = op.lower()
        if not op:
            return
        self._free = None
        self._key_checks = None
        if low == "on":
            self.enabled = True
        elif low == "off":
            self.enabled = False
        elif low == "skip-sanitize-payload":
            self.skip_sanitize_payload, self.sanitize_payload = True, False
        elif low == "sanitize-payload":
            self.skip_sanitize_payload, self.sanitize_payload = False, True
        elif low == "nopass":
            self.nopass = True
            self.passwords.clear()
        elif low == "resetpass":
            self.nopass = False
            self.passwords.clear()
        elif op[0] in ">#":
            digest = hash_password(op[1:].encode("utf-8", "surrogateescape")) if op[0] == ">" else _check_hash(op[1:])
            if digest not in self.passwords:
                self.passwords.append(digest)
            self.nopass = False
        elif op[0] in "<!":
            digest = hash_password(op[1:].encode("utf-8", "surrogateescape")) if op[0] == "<" else _check_hash(op[1:])
            if digest not in self.passwords:
                raise AclRuleError("The password you are trying to remove from the user does not exist")
            self.passwords.remove(digest)
        elif op[0] == "(" and op[-1] == ")":
            sel = User("", allchannels=self.pubsub_default_all)
            for token in op[1:-1].split():
                sel._set_selector(token, token.lower())
            self.selectors.append(sel)
        elif low == "clearselectors":
            self.selectors.clear()
        elif low == "reset":
            for rule in ("resetpass", "resetkeys", "resetchannels", "off", "sanitize-payload", "clearselectors",
                         "-@all"):
                self.set_rule(rule)
            self.allchannels = self.pubsub_default_all
        else:
            self._set_selector(op, low)

    def _set_selector(self, op: str, low: str) -> None:
        """ACLSetSelector: commands, keys and channels."""
        if low in ("allkeys", "~*"):
            self.allkeys = True
            self.patterns.clear()
        elif low == "resetkeys":
            self.allkeys = False
            self.patterns.clear()
        elif low in ("allchannels", "&*"):
            self.allchannels = True
            self.channels.clear()
        elif low == "resetchannels":
            self.allchannels = False
            self.channels.clear()
        elif low in ("allcommands", "+@all"):
            self.allowed = {c.id for c in _all_rows()}
            self.allcommands = True
            self.firstargs.clear()
        elif low in ("nocommands", "-@all"):
            self.allowed = set()
            self.allcommands = False
            self.firstargs.clear()
        elif op[0] in "~%":
            if self.allkeys:
                raise AclRuleError(
                    "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have "
                    "any effect. Try 'resetkeys' to start with an empty list of patterns")
            flags, offset = 0, 1
            if op[0] == "%":
                while offset < len(op):
                    ch = op[offset].upper()
                    if ch == "R" and not flags & READ:
                        flags |= READ
                    elif ch == "W" and not flags & WRITE:
                        flags |= WRITE
                    elif op[offset] == "~":
                        offset += 1
                        break
                    else:
                        raise AclRuleError("Syntax error")
                    offset += 1
                else:
                    raise AclRuleError("Syntax error")
            else:
                flags = ALL_PERMS
            pattern = op[offset:].encode("utf-8", "surrogateescape")
            if b" " in pattern:
                raise AclRuleError("Syntax error")
            for p in self.patterns:
                if p[0] == pattern:
                    p[1] |= flags
                    break
            else:
                self.patterns.append([pattern, flags])
            self.allkeys = False
        elif op[0] == "&":
            if self.allchannels:
                raise AclRuleError(
                    "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not "
                    "have any effect. Try 'resetchannels' to start with an empty list of channels")
            chan = op[1:].encode("utf-8", "surrogateescape")
            if b" " in chan:
                raise AclRuleError("Syntax error")
            if chan not in self.channels:
                self.channels.append(chan)
            self.allchannels = False
        elif op[0] == "+" and op[1:2] != "@":
            name = op[1:]
            if "|" not in name:
                cmd = _cmd_lookup(name)
                if cmd is None:
                    raise AclRuleError("Unknown command or category name in ACL")
                self.change_perm(cmd, True)
            else:
                top, _, sub = name.rpartition("|")
                parent = _cmd_lookup(top)
                if parent is None:
                    raise AclRuleError("Unknown command or category name in ACL")
                if parent.parent is not None:
                    raise AclRuleError("Allowing first-arg of a subcommand is not supported")
                if not sub:
                    raise AclRuleError("Syntax error")
                if parent.subcommands:
                    cmd = _cmd_lookup(name)
                    if cmd is None:
                        raise AclRuleError("Unknown command or category name in ACL")
                    self.change_perm(cmd, True)
                else:
                    args = self.firstargs.setdefault(parent.id, [])
                    if sub.lower() not in (a.lower() for a in args):
                        args.append(sub)
        elif op[0] == "-" and op[1:2] != "@":
            cmd = _cmd_lookup(op[1:])
            if cmd is None:
                raise AclRuleError("Unknown command or category name in ACL")
            self.change_perm(cmd, False)
        elif op[0] in "+-" and op[1:2] == "@":
            cat = low[2:]
            if cat not in CATEGORIES:
                raise AclRuleError("Unknown command or category name in ACL")
            flag = "@" + cat
            for cmd in _all_rows():
                if flag in cmd.acl_categories and cmd.handler is not None:
                    self.change_perm(cmd, op[0] == "+")
        else:
            raise AclRuleError("Syntax error")

    def change_perm(self, cmd: Command, allow: bool) -> None:
        """ACLChangeSelectorPerm: a command and all its subcommands."""
        self._free = None
        ids = [cmd.id] + [s.id for s in cmd.subcommands.values()]
        for i in ids:
            self.firstargs.pop(i, None)
            if allow:
                self.allowed.add(i)
            else:
                self.allowed.discard(i)

    # -- description -----------------------------------------------------------------------------
    def describe_commands(self) -> str:
        """ACLDescribeSelectorCommandRules: +@all/-@all, the best categories, then single commands."""
        additive = not self.allcommands
        rules = ["-@all" if additive else "+@all"]
        fake = User("fake")
        fake.set_rule("-@all" if additive else "+@all")
        temp = User("temp", allowed=set(self.allowed))
        rows = [c for c in _all_rows() if c.handler is not None]
        applied: set[str] = set()
        while True:
            best, mindiff, maxsame = None, 1 << 62, 0
            for cat in CATEGORIES:
                if cat in applied:
                    continue
                flag = "@" + cat
                on = off = 0
                for c in rows:
                    if flag in c.acl_categories:
                        if c.id in temp.allowed:
                            on += 1
                        else:
                            off += 1
                diff, same = (off, on) if additive else (on, off)
                if same > diff and (diff < mindiff or (diff == mindiff and same > maxsame)):
                    best, mindiff, maxsame = cat, diff, same
            if best is None:
                break
            op = ("+@" if additive else "-@") + best
            fake.set_rule(op)
            temp.set_rule(("-@" if additive else "+@") + best)
            rules.append(op)
            applied.add(best)
        for cmd in COMMANDS.values():
            self._describe_single(cmd, fake, rules)
            for sub in cmd.subcommands.values():
                self._describe_single(sub, fake, rules)
        return " ".join(rules)

    def _describe_single(self, cmd: Command, fake: User, rules: list[str]) -> None:
        user_bit = cmd.id in self.allowed
        if user_bit != (cmd.id in fake.allowed):
            rules.append(("+" if user_bit else "-") + cmd.fullname)
            fake.change_perm(cmd, user_bit)
        if not user_bit:
            for arg in self.firstargs.get(cmd.id, ()):
                rules.append(f"+{cmd.fullname}|{arg}")

    def describe_keys(self) -> list[str]:
        if self.allkeys:
            return ["~*"]
        out = []
        for pattern, flags in self.patterns:
            prefix = "~" if flags == ALL_PERMS else ("%R~" if flags == READ else "%W~")
            out.append(prefix + pattern.decode("utf-8", "surrogateescape"))
        return out

    def describe_channels(self) -> list[str]:
        return ["&*"] if self.allchannels else ["&" + c.decode("utf-8", "surrogateescape") for c in self.channels]

    def flags(self) -> list[str]:
        out = ["on" if self.enabled else "off"]
        if self.nopass:
            out.append("nopass")
        if self.skip_sanitize_payload:
            out.append("skip-sanitize-payload")
        if self.sanitize_payload:
            out.append("sanitize-payload")
        return out

    def describe_selector(self) -> str:
        """ACLDescribeSelector: keys, channels, commands."""
        parts = self.describe_keys()
        if not self.allchannels:
            parts.append("resetchannels")
        parts += self.describe_channels()
        parts.append(self.describe_commands())
        return " ".join(parts)

    def describe(self) -> str:
        """ACLDescribeUser: the rules that recreate this user (ACL LIST, aclfile)."""
        parts = self.flags() + ["#" + p for p in self.passwords] + [self.describe_selector()]
        return " ".join(parts) + "".join(f" ({sel.describe_selector()})" for sel in self.selectors)

    # -- checks ----------------------------------------------------------------------------------
    def check_command(self, cmd: Command, argv: list[bytes]) -> tuple[str, int] | None:
        """ACLCheckAllUserCommandPerm: allowed if the root selector or any other allows; else the
        most relevant denial (command < key < channel, then the later argument)."""
        denied = self.check_selector(cmd, argv)
        if denied is None or not self.selectors:
            return denied
        best = denied
        for sel in self.selectors:
            d = sel.check_selector(cmd, argv)
            if d is None:
                return None
            if (_RELEVANCE[d[0]], d[1]) > (_RELEVANCE[best[0]], best[1]):
                best = d
        return best

    def unrestricted_key_access(self, cmd: Command, argv: list[bytes], need: int = READ) -> bool:
        """ACLUserCheckCmdWithUnrestrictedKeyAccess: some selector allows the command and grants
        ``need`` on every key (``allkeys`` or a ``*`` pattern).  SORT's BY and GET read keys
        that are not among the command's arguments, so only such a user may use them."""
        for sel in (self, *self.selectors):
            if sel.check_selector(cmd, argv) is not None:
                continue
            if sel.allkeys or any(pat == b"*" and flags & need == need for pat, flags in sel.patterns):
                return True
        return False

    def check_selector(self, cmd: Command, argv: list[bytes]) -> tuple[str, int] | None:
        """ACLSelectorCheckCmd: None, or (reason, index of the denied argument)."""
        if cmd.id not in self.allowed and not cmd.noauth:
            allowed_args = self.firstargs.get(cmd.id)
            if not allowed_args or len(argv) < 2 or argv[1].decode("utf-8", "surrogateescape").lower() not in (
                    a.lower() for a in allowed_args):
                return ("command", 0)
        if not self.allkeys:
            need = READ if cmd.is_readonly else WRITE
            if cmd.is_write and cmd.name in _WRITE_ACCESS:
                need = ALL_PERMS
            if (cmd.parent or cmd).name in _NO_ACCESS:
                # Key specs without ACCESS (STRLEN, EXISTS, OBJECT ...): the key must still match
                # some pattern, whatever its %R/%W flags (ACLSelectorCheckKey with no flags).
                need = 0
            roles = _KEY_ROLES.get(cmd.name)
            checks = self._key_checks
            if checks is None:
                checks = self._key_checks = [(_key_matcher(pat), flags) for pat, flags in self.patterns]
            for n, i in enumerate(key_positions(cmd, argv)):
                if roles is not None:
                    need = roles[0] if n == 0 else roles[1]
                key = argv[i]
                for match, flags in checks:
                    if flags & need == need and match(key):
                        break
                else:
                    return ("key", i)
        if not self.allchannels and cmd.parent is None:
            name = cmd.name
            if name in _PUBSUB_CHANNEL_CMDS and len(argv) > 1:
                if not any(glob_match(p, argv[1]) for p in self.channels):
                    return ("channel", 1)
            elif name in _PUBSUB_SUB_CMDS or name == "psubscribe":
                literal = name == "psubscribe"
                for i in range(1, len(argv)):
                    ch = argv[i]
                    if not any((p == ch) if literal else glob_match(p, ch) for p in self.channels):
                        return ("channel", i)
        return None


def merge_selector_args(args: list[str]) -> list[str]:
    """ACLMergeSelectorArguments: ``(~k* +get)`` may arrive split over several arguments."""
    out: list[str] = []
    acc: list[str] | None = None
    for arg in args:
        if acc is not None:
            acc.append(arg)
            if arg.endswith(")"):
                out.append(" ".join(acc))
                acc = None
        elif arg.startswith("(") and not arg.endswith(")"):
            acc = [arg]
        else:
            out.append(arg)
    if acc is not None:
        raise CommandError(f"ERR Unmatched parenthesis in acl selector starting at '{acc[0]}'.")
    return out


def _key_matcher(pattern: bytes) -> Callable[[bytes], bool]:
    """A matcher for one key pattern: ``*`` and plain ``prefix*`` skip the glob machinery."""
    if pattern == b"*":
        return lambda key: True
    body = pattern[:-1]
    if pattern.endswith(b"*") and body and not any(ch in b"*?[\\" for ch in body):
        return lambda key: key.startswith(body)
    return lambda key: glob_match(pattern, key)


def _check_hash(text: str) -> str:
    if len(text) != 64 or any(c not in "0123456789abcdef" for c in text):
        raise AclRuleError("The password hash must be exactly 64 characters and contain only lowercase hexadecimal "
                           "characters")
    return text


def new_user(name: str, allchannels: bool = False) -> User:
    """ACLCreateUser: off, no passwords, no commands, no keys; channels per acl-pubsub-default."""
    return User(name, allchannels=allchannels)


def default_user() -> User:
    """ACLCreateDefaultUser: +@all ~* &* on nopass."""
    u = User("default")
    for rule in ("+@all", "~*", "&*", "on", "nopass"):
        u.set_rule(rule)
    return u
