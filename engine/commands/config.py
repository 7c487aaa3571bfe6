"""CONFIG GET|SET|RESETSTAT|REWRITE|HELP over the parameter table (engine/config.py).

Behaviour and error texts follow Redis 7.0's config.c: GET takes several glob patterns and
answers a map; SET takes several pairs and applies them atomically (every value is parsed
first; if applying one fails, the ones already applied are restored), refusing unknown,
immutable, duplicate or invalid parameters with the texts ``configSetCommand`` uses.
``dir`` and ``dbfilename`` are PROTECTED_CONFIG, as in Redis 7.0: refused with "can't set
protected config" unless ``enable-protected-configs`` is ``yes`` (or ``local`` and the client
is local), so a client cannot point SAVE at a file outside the data directory; when allowed,
``dbfilename`` must still be a bare file name and ``dir`` an existing directory.
"""

from __future__ import annotations

from typing import Any

from engine.client import Client
from engine.config import PARAMS, Config, ConfigError, config_set_error
from engine.errors import SYNTAX, CommandError
from engine.protocol import OK, Reply
from engine.table import COMMANDS, subcommand

__all__ = ["allow_protected_action", "is_local_client", "config_get", "config_set", "config_resetstat", "config_rewrite", "config_help", "help_reply"]

_FLAGS = "admin noscript loading stale"
_NOTIFY_ERROR = "Invalid event class character. Use 'Ag$lshzxeKEtmdn'."


def is_local_client(ctx: Client) -> bool:
    """islocalClient (networking.c): a loopback peer, a Unix socket, or the engine itself."""
    if ctx.is_script or not ctx.addr:
        return True
    host = ctx.addr.rsplit(":", 1)[0].strip("[]")
    return host.startswith("127.") or host == "::1" or host.startswith("/")


def allow_protected_action(mode: str, ctx: Client) -> bool:
    """allowProtectedAction (config.c) for enable-protected-configs / -debug- / -module-command:
    ``yes`` always, ``local`` only from a local connection, ``no`` never."""
    return mode == "yes" or (mode == "local" and is_local_client(ctx))


def help_reply(name: str, lines: list[str]) -> list[bytes]:
    """addReplyHelp (networking.c): a header, the lines, and HELP at the end."""
    out = [f"{name} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:", *lines, "HELP", "    Prints this help."]
    return [s.encode() for s in out]


@subcommand("config", "get", arity=-3, flags=_FLAGS, acl="@admin @slow @dangerous", group="server", since="2.0.0",
            summary="Get the values of configuration parameters", complexity="O(N) when N is the number of "
            "configuration parameters provided")
def config_get(ctx: Client, *patterns: bytes) -> Reply:
    config: Config = ctx.server.config
    found: dict[bytes, bytes] = {}
    for pat in patterns:
        text = pat.decode("utf-8", "replace")
        for name, value in config.match(text):
            found.setdefault(name.encode(), value.encode())
    return found


@subcommand("config", "set", arity=-4, flags=_FLAGS, acl="@admin @slow @dangerous", group="server", since="2.0.0",
            summary="Set configuration parameters to the given values", complexity="O(N) when N is the number of "
            "configuration parameters provided")
def config_set(ctx: Client, *args: bytes) -> Reply:
    if len(args) % 2:
        raise CommandError(SYNTAX)
    server = ctx.server
    config: Config = server.config
    pairs: list[tuple[str, str, str]] = []
    seen: set[str] = set()
    for i in range(0, len(args), 2):
        raw = args[i].decode("utf-8", "replace")
        canon = config.canonical(raw)
        if canon is None:
            raise CommandError(f"ERR Unknown option or number of arguments for CONFIG SET - '{raw}'")
        if not PARAMS[canon].mutable:
            raise config_set_error(raw, "can't set immutable config")
        if PARAMS[canon].protected and not allow_protected_action(server.config["enable-protected-configs"], ctx):
            raise config_set_error(raw, "can't set protected config")
        if canon in seen:
            raise config_set_error(raw, "duplicate parameter")
        seen.add(canon)
        pairs.append((raw, canon, args[i + 1].decode("utf-8", "surrogateescape")))
    for raw, canon, text in pairs:  # validate everything before changing anything
        if canon == "notify-keyspace-events":
            from engine.notify import parse_flags

            if parse_flags(text) is None:
                raise config_set_error(raw, _NOTIFY_ERROR)
            continue
        try:
            value = PARAMS[canon].parse(text)
            check = PARAMS[canon].check
            if check is not None:
                check(value)
        except (ConfigError, ValueError) as e:
            raise config_set_error(raw, str(e) or "argument is invalid") from None
    old = {canon: config.get_text(canon) for _, canon, _ in pairs}
    applied: list[str] = []
    try:
        for raw, canon, text in pairs:  # noqa: B007 - raw names the failing argument below
            if canon == "notify-keyspace-events":
                from engine.notify import format_flags, parse_flags

                config.values[canon] = format_flags(parse_flags(text) or 0)  # read back normalised
                server.set_notify_flags(text)
            else:
                config.set_text(canon, text, server)
            applied.append(canon)
    except (ConfigError, ValueError, OSError) as e:
        for canon in applied:  # restore, as config.c restoreBackupConfig does
            _restore(server, config, canon, old[canon])
        raise config_set_error(raw, str(e) or "argument is invalid") from None
    return OK


def _restore(server: Any, config: Config, canon: str, text: str) -> None:
    if canon == "notify-keyspace-events":
        config.values[canon] = text
        server.set_notify_flags(text)
    else:
        config.set_text(canon, text, server)


@subcommand("config", "resetstat", arity=2, flags=_FLAGS, acl="@admin @slow @dangerous", group="server",
            since="2.0.0", summary="Reset the server's statistics", complexity="O(1)")
def config_resetstat(ctx: Client) -> Reply:
    ctx.server.reset_stats()
    for cmd in COMMANDS.values():
        cmd.reset_stats()
    return OK


@subcommand("config", "rewrite", arity=2, flags=_FLAGS, acl="@admin @slow @dangerous", group="server",
            since="2.8.0", summary="Overwrite the configuration file with the in-memory configuration",
            complexity="O(1)")
def config_rewrite(ctx: Client) -> Reply:
    config: Config = ctx.server.config
    if not config.source_file:
        raise CommandError("ERR The server is running without a config file")
    try:
        config.rewrite(config.source_file)
    except OSError as e:
        raise CommandError(f"ERR Rewriting config file: {e.strerror}") from None
    return OK


@subcommand("config", "help", arity=2, flags="loading stale", acl="@slow", group="server", since="5.0.0",
            summary="Show helpful text about the different subcommands", complexity="O(1)")
def config_help(ctx: Client) -> Reply:
    return help_reply("CONFIG", [
        "GET <pattern>",
        "    Return parameters matching the glob-like <pattern> and their values.",
        "SET <directive> <value>",
        "    Set the configuration <directive> to <value>.",
        "RESETSTAT",
        "    Reset statistics reported by the INFO command.",
        "REWRITE",
        "    Rewrite the configuration file.",
    ])
