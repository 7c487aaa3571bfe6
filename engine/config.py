"""The configuration parameter table: names, types, defaults and what changing one does.

Like Redis's ``standardConfig`` table (config.c), each parameter is one row: its Redis name
(and old aliases), a type that parses and prints values exactly as redis.conf and CONFIG
GET/SET do, a default, whether CONFIG SET may change it at run time, and an optional apply
hook that pushes the new value into the running server (so the hot path reads plain
attributes, never this table).  Every row is declared here, apply hook included: an apply hook
calls the :class:`~engine.server.Server` (a ``set_*`` method that hands the value to the
component owning the mechanism, ``rebind``, or ``server.acl``), so no other module patches
this table.  The same table serves the config file, ``--name value``
command-line options, CONFIG GET (glob patterns), CONFIG SET and CONFIG REWRITE.
"""

from __future__ import annotations

import errno
import fnmatch
import os
import shlex
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.errors import CommandError

if TYPE_CHECKING:
    from engine.server import Server

__all__ = ["Param", "Config", "ConfigError", "PARAMS", "parse_memory", "register_param", "parse_config_text"]


class ConfigError(ValueError):
    """A bad value or unknown name; the text is what CONFIG SET or startup reports."""


def parse_memory(text: str) -> int:
    """Redis's memtoull: ``1gb`` = 1024**3, ``1g`` = 1000**3; k, kb, m, mb, g, gb; no sign."""
    s = text.strip().lower()
    units = (("gb", 1024**3), ("mb", 1024**2), ("kb", 1024), ("g", 1000**3), ("m", 1000**2), ("k", 1000), ("b", 1))
    mul = 1
    for suffix, m in units:
        if s.endswith(suffix):
            s, mul = s[: -len(suffix)], m
            break
    if not s.isdigit():
        raise ConfigError("argument must be a memory value")
    return int(s) * mul


@dataclass(slots=True)
class Param:
    """One row of the table."""

    name: str
    kind: str  # bool | int | memory | enum | string | special
    default: Any
    mutable: bool = True
    aliases: tuple[str, ...] = ()
    choices: tuple[str, ...] = ()
    minimum: int | None = None
    maximum: int | None = None
    parse_fn: Callable[[str], Any] | None = None
    format_fn: Callable[[Any], str] | None = None
    apply: Callable[[Server, Any], None] | None = None  # (server, value)
    doc: str = ""
    # PROTECTED_CONFIG (config.c): CONFIG SET refuses it unless enable-protected-configs allows.
    protected: bool = False
    # Run-time validation of CONFIG SET values (Redis's isValid* callbacks); raises ConfigError.
    check: Callable[[Any], None] | None = None

    def parse(self, text: str) -> Any:
        if self.parse_fn is not None:
            return self.parse_fn(text)
        if self.kind == "bool":
            low = text.lower()
            if low not in ("yes", "no"):
                raise ConfigError("argument must be 'yes' or 'no'")
            return low == "yes"
        if self.kind in ("int", "memory"):
            try:
                value = parse_memory(text) if self.kind == "memory" else int(text)
            except ValueError:
                if self.kind == "memory" and text.strip().startswith("-") and text.strip()[1:].isdigit():
                    value = int(text)
                else:
                    raise ConfigError(
                        "argument must be a memory value" if self.kind == "memory" else "argument couldn't be parsed into an integer"
                    ) from None
            if (self.minimum is not None and value < self.minimum) or (self.maximum is not None and value > self.maximum):
                raise ConfigError(f"argument must be between {self.minimum} and {self.maximum} inclusive")
            return value
        if self.kind == "enum":
            low = text.lower()
            if low not in self.choices:
                raise ConfigError(f"argument(s) must be one of the following: {', '.join(self.choices)}")
            return low
        return text

    def format(self, value: Any) -> str:
        if self.format_fn is not None:
            return self.format_fn(value)
        if self.kind == "bool":
            return "yes" if value else "no"
        return str(value)


PARAMS: dict[str, Param] = {}
_ALIASES: dict[str, str] = {}


def register_param(p: Param) -> Param:
    """Add a row (this module's tables below are the only callers)."""
    PARAMS[p.name] = p
    for a in p.aliases:
        _ALIASES[a] = p.name
    return p


def _save_parse(text: str) -> list[tuple[int, int]]:
    parts = text.split()
    if len(parts) % 2:
        raise ConfigError("Invalid save parameters")
    try:
        rules = [(int(parts[i]), int(parts[i + 1])) for i in range(0, len(parts), 2)]
    except ValueError:
        raise ConfigError("Invalid save parameters") from None
    if any(s < 1 or c < 0 for s, c in rules):
        raise ConfigError("Invalid save parameters")
    return rules


def _save_format(rules: list[tuple[int, int]]) -> str:
    return " ".join(f"{s} {c}" for s, c in rules)


def _bind_parse(text: str) -> list[str]:
    return text.split()


def _string_list_format(v: list[str]) -> str:
    return " ".join(v)


_CLASSES = ("normal", "replica", "slave", "pubsub")


def _obuf_parse(text: str) -> dict[str, tuple[int, int, int]]:
    parts = text.split()
    if len(parts) % 4:
        raise ConfigError("Wrong number of arguments in buffer limit configuration.")
    out: dict[str, tuple[int, int, int]] = {}
    for i in range(0, len(parts), 4):
        cls = parts[i].lower()
        if cls not in _CLASSES:
            raise ConfigError("Invalid client class specified in buffer limit configuration.")
        try:
            hard, soft, secs = parse_memory(parts[i + 1]), parse_memory(parts[i + 2]), int(parts[i + 3])
        except (ConfigError, ValueError):
            raise ConfigError("Error in hard, soft or soft_seconds setting in buffer limit configuration.") from None
        out["replica" if cls == "slave" else cls] = (hard, soft, secs)
    return out


def _obuf_format(v: dict[str, tuple[int, int, int]]) -> str:
    order = ("normal", "replica", "pubsub")
    return " ".join(f"{'slave' if c == 'replica' else c} {v[c][0]} {v[c][1]} {v[c][2]}" for c in order if c in v)


_OBUF_DEFAULT = {"normal": (0, 0, 0), "replica": (268435456, 67108864, 60), "pubsub": (33554432, 8388608, 60)}


def _base_name(name: str, what: str) -> Callable[[Any], None]:
    """isValidDBfilename / isValidAOFfilename: a bare name, never a path, so CONFIG SET cannot
    make SAVE write outside ``dir``."""

    def check(value: Any) -> None:
        text = str(value)
        if "/" in text or "\\" in text:
            raise ConfigError(f"{name} can't be a path, just a {what}")

    return check


def _check_dir(value: Any) -> None:
    """setConfigDirOption: Redis chdir()s and reports strerror; the engine resolves files
    against ``dir`` instead of changing the process's directory, so it checks the same
    conditions (exists, is a directory, can be entered)."""
    try:
        st = os.stat(str(value))
    except OSError as e:
        raise ConfigError(e.strerror or "argument is invalid") from None
    if not stat.S_ISDIR(st.st_mode):
        raise ConfigError(os.strerror(errno.ENOTDIR))
    if not os.access(str(value), os.X_OK):
        raise ConfigError(os.strerror(errno.EACCES))


def _apply_attr(attr: str) -> Callable[[Server, Any], None]:
    def apply(server: Server, value: Any) -> None:
        setattr(server, attr, value)

    return apply


for _p in (
    Param("bind", "special", ["127.0.0.1", "-::1"], parse_fn=_bind_parse, format_fn=_string_list_format,
          apply=lambda server, value: server.rebind(hosts=value)),
    Param("port", "int", 6379, minimum=0, maximum=65535, apply=lambda server, value: server.rebind(port=value)),
    Param("tcp-backlog", "int", 511, mutable=False, minimum=0),
    Param("timeout", "int", 0, minimum=0, apply=_apply_attr("timeout_s")),
    Param("tcp-keepalive", "int", 300, minimum=0),
    Param("databases", "int", 16, mutable=False, minimum=1),
    Param("loglevel", "enum", "notice", choices=("debug", "verbose", "notice", "warning", "nothing")),
    Param("logfile", "string", "", mutable=False),
    Param("pidfile", "string", "", mutable=False),
    Param("daemonize", "bool", False, mutable=False),
    Param("protected-mode", "bool", True),
    Param("requirepass", "string", "", apply=lambda server, value: server.acl.set_requirepass(value)),
    Param("maxclients", "int", 10000, minimum=1, apply=_apply_attr("maxclients")),
    Param("dir", "string", ".", mutable=True, protected=True, check=_check_dir),
    Param("dbfilename", "string", "dump.rdb", protected=True, check=_base_name("dbfilename", "filename")),
    Param("save", "special", [(3600, 1), (300, 100), (60, 10000)], parse_fn=_save_parse, format_fn=_save_format),
    Param("rdbcompression", "bool", True),
    Param("rdbchecksum", "bool", True),
    Param("appendonly", "bool", False, apply=lambda server, value: server.set_appendonly(value)),
    Param("appendfilename", "string", "appendonly.aof", mutable=False),
    Param("appenddirname", "string", "appendonlydir", mutable=False),
    Param("appendfsync", "enum", "everysec", choices=("always", "everysec", "no"),
          apply=lambda server, value: server.set_appendfsync(value)),
    Param("stop-writes-on-bgsave-error", "bool", True,
          apply=lambda server, value: server.set_stop_writes_on_bgsave_error(value)),
    Param("aof-use-rdb-preamble", "bool", True),
    Param("aof-load-truncated", "bool", True),
    Param("auto-aof-rewrite-percentage", "int", 100, minimum=0),
    Param("auto-aof-rewrite-min-size", "memory", 64 * 1024 * 1024),
    Param("maxmemory", "memory", 0, apply=lambda server, value: server.set_maxmemory(value)),
    Param(
        "maxmemory-policy",
        "enum",
        "noeviction",
        choices=(
            "volatile-lru",
            "volatile-lfu",
            "volatile-random",
            "volatile-ttl",
            "allkeys-lru",
            "allkeys-lfu",
            "allkeys-random",
            "noeviction",
        ),
        apply=lambda server, value: server.set_maxmemory_policy(value),
    ),
    Param("maxmemory-samples", "int", 5, minimum=1, maximum=64),
    Param("maxmemory-eviction-tenacity", "int", 10, minimum=0, maximum=100),
    Param("lfu-log-factor", "int", 10, minimum=0),
    Param("lfu-decay-time", "int", 1, minimum=0),
    Param("hz", "int", 10, minimum=1, maximum=500, apply=_apply_attr("hz")),
    Param("dynamic-hz", "bool", True),
    Param("active-expire-effort", "int", 1, minimum=1, maximum=10),
    Param("notify-keyspace-events", "special", ""),
    Param("slowlog-log-slower-than", "int", 10000, apply=_apply_attr("slowlog_log_slower_than")),
    Param("slowlog-max-len", "int", 128, minimum=0, apply=_apply_attr("slowlog_max_len")),
    Param("latency-monitor-threshold", "int", 0, minimum=0, apply=lambda server, value: server.configure_latency()),
    Param("latency-tracking", "bool", True, apply=lambda server, value: server.configure_latency()),
    Param("latency-tracking-info-percentiles", "special", [50.0, 99.0, 99.9],
          parse_fn=lambda t: [float(x) for x in t.split()],
          format_fn=lambda v: " ".join(f"{x:g}" if x != int(x) else str(int(x)) for x in v)),
    Param("proto-max-bulk-len", "memory", 512 * 1024 * 1024, minimum=1024 * 1024, apply=_apply_attr("proto_max_bulk_len")),
    Param("client-query-buffer-limit", "memory", 1024 * 1024 * 1024, minimum=1024 * 1024,
          apply=_apply_attr("client_query_buffer_limit")),
    Param("client-output-buffer-limit", "special", _OBUF_DEFAULT, parse_fn=_obuf_parse, format_fn=_obuf_format),
    Param("busy-reply-threshold", "int", 5000, aliases=("lua-time-limit",), minimum=0),
    Param("lua-max-memory", "memory", 512 * 1024 * 1024,
          doc="cachelab extension: memory one Lua VM (EVAL scripts, or FUNCTION libraries) may hold; a script "
              "that needs more fails with 'not enough memory' instead of growing the server (Redis has no such "
              "bound); 0 = unlimited"),
    Param("enable-debug-command", "enum", "no", mutable=False, choices=("no", "yes", "local")),
    Param("enable-protected-configs", "enum", "no", mutable=False, choices=("no", "yes", "local")),
    Param("enable-module-command", "enum", "no", mutable=False, choices=("no", "yes", "local"),
          doc="validated like Redis 7.0; the engine has no modules, so MODULE stays unavailable"),
    Param("hash-max-listpack-entries", "int", 512, aliases=("hash-max-ziplist-entries",), minimum=0),
    Param("hash-max-listpack-value", "int", 64, aliases=("hash-max-ziplist-value",), minimum=0),
    Param("list-max-listpack-size", "int", -2, aliases=("list-max-ziplist-size",)),
    Param("list-compress-depth", "int", 0, minimum=0),
    Param("set-max-intset-entries", "int", 512, minimum=0),
    Param("zset-max-listpack-entries", "int", 128, aliases=("zset-max-ziplist-entries",), minimum=0),
    Param("zset-max-listpack-value", "int", 64, aliases=("zset-max-ziplist-value",), minimum=0),
    Param("lazyfree-lazy-eviction", "bool", False),
    Param("lazyfree-lazy-expire", "bool", False),
    Param("lazyfree-lazy-server-del", "bool", False),
    Param("lazyfree-lazy-user-del", "bool", False),
    Param("lazyfree-lazy-user-flush", "bool", False),
    Param("tls-port", "int", 0, mutable=False, minimum=0, maximum=65535),
    Param("tls-cert-file", "string", "", mutable=False),
    Param("tls-key-file", "string", "", mutable=False),
    Param("tls-ca-cert-file", "string", "", mutable=False),
    Param("tls-auth-clients", "enum", "yes", mutable=False, choices=("yes", "no", "optional")),
    Param("aclfile", "string", "", mutable=False),
    Param("acllog-max-len", "int", 128, minimum=0),
    Param("acl-pubsub-default", "enum", "resetchannels", choices=("allchannels", "resetchannels"),
          doc="channel permissions of new users (and of the 'reset' rule)"),
    Param("tracking-table-max-keys", "int", 1_000_000, minimum=0),
    Param("stream-node-max-entries", "int", 100, minimum=0),
    Param("stream-node-max-bytes", "memory", 4096, minimum=0),
    Param("hll-sparse-max-bytes", "memory", 3000, minimum=0),
    Param("metrics-port", "int", 0, mutable=False, minimum=0, maximum=65535,
          doc="cachelab extension: HTTP port for /metrics, /healthz, /readyz (0 = off)"),
):
    register_param(_p)



def _memory_or_percent(text: str) -> int | str:
    """maxmemory-clients: a memory value, or a percentage of maxmemory (kept as written)."""
    t = text.strip()
    if t.endswith("%"):
        if not t[:-1].isdigit():
            raise ConfigError("argument must be a memory or percent value")
        return t
    try:
        return parse_memory(t)
    except ConfigError:
        raise ConfigError("argument must be a memory or percent value") from None


# Redis 7.0 parameters whose mechanism the engine does not have (replication, client memory
# eviction, I/O threads): they exist, validate and read back as in Redis so configuration
# files and CONFIG SET scripts written for Redis work, and change nothing.
_NOOP = "accepted and validated like Redis 7.0; no effect in the engine (no replication/I/O threads)"
for _p in (
    Param("repl-backlog-size", "memory", 1024 * 1024, parse_fn=parse_memory, doc=_NOOP),
    Param("repl-backlog-ttl", "int", 3600, minimum=0, maximum=2**31 - 1, doc=_NOOP),
    Param("repl-timeout", "int", 60, minimum=1, maximum=2**31 - 1, doc=_NOOP),
    Param("repl-ping-replica-period", "int", 10, aliases=("repl-ping-slave-period",), minimum=1,
          maximum=2**31 - 1, doc=_NOOP),
    Param("repl-diskless-sync", "bool", True, doc=_NOOP),
    Param("repl-diskless-sync-delay", "int", 5, minimum=0, maximum=2**31 - 1, doc=_NOOP),
    Param("repl-diskless-sync-max-replicas", "int", 0, minimum=0, maximum=2**31 - 1, doc=_NOOP),
    Param("repl-diskless-load", "enum", "disabled", choices=("disabled", "on-empty-db", "swapdb"), doc=_NOOP),
    Param("repl-disable-tcp-nodelay", "bool", False, doc=_NOOP),
    Param("replica-read-only", "bool", True, aliases=("slave-read-only",), doc=_NOOP),
    Param("replica-serve-stale-data", "bool", True, aliases=("slave-serve-stale-data",), doc=_NOOP),
    Param("replica-lazy-flush", "bool", False, aliases=("slave-lazy-flush",), doc=_NOOP),
    Param("replica-priority", "int", 100, aliases=("slave-priority",), minimum=0, maximum=2**31 - 1, doc=_NOOP),
    Param("replica-announce-ip", "string", "", aliases=("slave-announce-ip",), doc=_NOOP),
    Param("replica-announce-port", "int", 0, aliases=("slave-announce-port",), minimum=0, maximum=65535, doc=_NOOP),
    Param("replica-announced", "bool", True, doc=_NOOP),
    Param("replica-ignore-maxmemory", "bool", True, aliases=("slave-ignore-maxmemory",), doc=_NOOP),
    Param("min-replicas-to-write", "int", 0, aliases=("min-slaves-to-write",), minimum=0, maximum=2**31 - 1, doc=_NOOP),
    Param("min-replicas-max-lag", "int", 10, aliases=("min-slaves-max-lag",), minimum=0, maximum=2**31 - 1, doc=_NOOP),
    Param("masterauth", "string", "", doc=_NOOP),
    Param("masteruser", "string", "", doc=_NOOP),
    Param("maxmemory-clients", "special", 0, parse_fn=_memory_or_percent, doc=_NOOP),
    Param("io-threads", "int", 1, mutable=False, minimum=1, maximum=128, doc=_NOOP),
    Param("io-threads-do-reads", "bool", False, mutable=False, doc=_NOOP),
):
    register_param(_p)

def parse_config_text(text: str, source: str = "<config>") -> list[tuple[str, list[str], int]]:
    """Split redis.conf syntax into ``(name, args, line_number)``: one directive per line,
    ``#`` comments, quoted arguments as in Redis's sdssplitargs."""
    out: list[tuple[str, list[str], int]] = []
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            parts = shlex.split(line, posix=True)
        except ValueError as e:
            raise ConfigError(f"{source}:{n}: Unbalanced quotes in configuration line ({e})") from None
        if parts:
            out.append((parts[0].lower(), parts[1:], n))
    return out


@dataclass
class Config:
    """The live values of every parameter, plus file-only directives (rename-command, user)."""

    values: dict[str, Any] = field(default_factory=lambda: {p.name: p.default for p in PARAMS.values()})
    renames: dict[str, str] = field(default_factory=dict)
    users: list[list[str]] = field(default_factory=list)
    source_file: str | None = None

    @staticmethod
    def canonical(name: str) -> str | None:
        low = name.lower()
        if low in PARAMS:
            return low
        return _ALIASES.get(low)

    def __getitem__(self, name: str) -> Any:
        canon = self.canonical(name)
        if canon is None:
            raise KeyError(name)
        return self.values.get(canon, PARAMS[canon].default)

    def set_text(self, name: str, text: str, server: Server | None = None, *, startup: bool = False) -> None:
        """Parse and store one value, applying it to ``server`` when given."""
        canon = self.canonical(name)
        if canon is None:
            raise ConfigError(f"Unknown option '{name}'")
        p = PARAMS[canon]
        if not startup and not p.mutable:
            raise ConfigError("can't set immutable config")
        value = p.parse(text)
        self.values[canon] = value
        if server is not None and p.apply is not None:
            p.apply(server, value)

    def get_text(self, name: str) -> str:
        canon = self.canonical(name)
        if canon is None:
            raise KeyError(name)
        return PARAMS[canon].format(self.values.get(canon, PARAMS[canon].default))

    def match(self, pattern: str) -> list[tuple[str, str]]:
        """(name, value) pairs whose name (or alias) matches a CONFIG GET glob pattern."""
        pat = pattern.lower()
        seen: dict[str, str] = {}
        names: Iterable[str] = list(PARAMS) + list(_ALIASES)
        for name in names:
            if fnmatch.fnmatchcase(name, pat):
                seen[name] = self.get_text(name)
        return list(seen.items())

    def apply_all(self, server: Server) -> None:
        for name, p in PARAMS.items():
            if p.apply is not None:
                p.apply(server, self.values.get(name, p.default))

    def load(self, text: str, source: str) -> None:
        """Apply a redis.conf-style text (file or command-line options) at startup."""
        for name, args, line in parse_config_text(text, source):
            if name == "include":
                for inc in args:
                    self.load(Path(inc).read_text(), inc)
                continue
            if name == "rename-command":
                if len(args) != 2:
                    raise ConfigError(f"{source}:{line}: rename-command needs two arguments")
                self.renames[args[0].lower()] = args[1]
                continue
            if name == "user":
                self.users.append(args)
                continue
            canon = self.canonical(name)
            if canon is None:
                raise ConfigError(f"{source}:{line}: Bad directive or wrong number of arguments: '{name}'")
            p = PARAMS[canon]
            if canon == "save" and args == []:
                args = [""]
            text_value = " ".join(args) if p.kind == "special" or canon == "save" else (args[0] if len(args) == 1 else None)
            if text_value is None:
                raise ConfigError(f"{source}:{line}: Bad directive or wrong number of arguments: '{name}'")
            try:
                if canon == "save" and text_value == "":
                    self.values["save"] = []
                else:
                    self.set_text(canon, text_value, startup=True)
            except ConfigError as e:
                raise ConfigError(f"{source}:{line}: '{name}' {e}") from None

    def rewrite(self, path: str) -> None:
        """CONFIG REWRITE: keep the file's lines, update changed parameters, append new ones."""
        p = Path(path)
        lines = p.read_text().splitlines() if p.exists() else []
        written: set[str] = set()
        out: list[str] = []
        for raw in lines:
            parts = raw.strip().split(None, 1)
            canon = self.canonical(parts[0]) if parts and not raw.strip().startswith("#") else None
            if canon is None:
                out.append(raw)
                continue
            if canon in written:
                continue
            written.add(canon)
            out.append(f"{canon} {self._quoted(canon)}")
        for name, param in PARAMS.items():
            if name not in written and self.values.get(name, param.default) != param.default:
                out.append(f"{name} {self._quoted(name)}")
        tmp = p.with_suffix(p.suffix + ".tmp")
        tmp.write_text("\n".join(out) + "\n")
        tmp.replace(p)

    def _quoted(self, name: str) -> str:
        text = self.get_text(name)
        return '""' if text == "" else (f'"{text}"' if " " in text else text)


def config_set_error(name: str, detail: str) -> CommandError:
    return CommandError(f"ERR CONFIG SET failed (possibly related to argument '{name}') - {detail}")
