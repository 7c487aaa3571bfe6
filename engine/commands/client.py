"""CLIENT ID|SETNAME|GETNAME|LIST|INFO|KILL|SETINFO|NO-EVICT|PAUSE|UNPAUSE|HELP.

Replies and error texts follow Redis 7.0's networking.c (``clientCommand``); the CLIENT LIST
line has the 7.0 fields in the 7.0 order, so tools that parse it (redis-py's
``client_list()``, redis-cli) read it.  CLIENT SETINFO is a Redis 7.2 subcommand; redis-py 8
sends it on connect and ignores the error 7.0 gives, so the engine accepts it (7.2 rules).
CLIENT UNBLOCK lives with the blocking mechanism (engine/blocking.py).
"""

from __future__ import annotations

import time
from typing import Any

from engine.args import LLONG_MAX, integer_in_range, positive
from engine.client import Client
from engine.commands.config import help_reply
from engine.errors import CLIENT_NAME_INVALID, SYNTAX, TIMEOUT_NOT_INTEGER, CommandError, unknown_client_type
from engine.protocol import OK, Reply, Verbatim
from engine.table import subcommand

__all__ = ["client_line", "client_id", "client_setname", "client_getname", "client_list", "client_info",
           "client_kill", "client_setinfo", "client_no_evict", "client_pause", "client_unpause", "client_help"]

_FLAGS = "noscript loading stale"
_TYPES = ("normal", "master", "replica", "slave", "pubsub")


def _bad_name(name: bytes) -> bool:
    return any(c < 33 or c > 126 for c in name)


def _flags(c: Client) -> str:
    f = ""
    if c.blocked is not None:
        f += "b"
    if c.subscriptions:
        f += "P"
    if c.multi is not None:
        f += "x"
    if c.dirty_cas:
        f += "d"
    if c.closing:
        f += "c"
    if c.no_evict:
        f += "e"
    return f or "N"


def client_line(c: Client, now: float | None = None) -> str:
    """One CLIENT LIST / CLIENT INFO line (networking.c catClientInfoString, Redis 7.0)."""
    now = time.time() if now is None else now
    multi = len(c.multi) if c.multi is not None else -1
    name = (c.name or b"").decode("utf-8", "replace")
    # qbuf: unparsed bytes held for this client; qbuf-free: what is left of the 16 KiB read
    # buffer Redis allocates (PROTO_IOBUF_LEN); argv-mem: arguments of a request still arriving.
    parser = c.conn.parser if c.conn is not None else None
    qbuf = parser.qbuf if parser is not None else 0
    argv_mem = parser.argv_len_sum if parser is not None else 0
    qbuf_free = max(0, 16384 - qbuf) if qbuf else 0
    return (
        f"id={c.id} addr={c.addr} laddr={c.laddr} fd={c.fd} name={name} age={int(now - c.created_s)} "
        f"idle={int(now - c.last_interaction_s)} flags={_flags(c)} db={c.db.id} sub={len(c.channels)} "
        f"psub={len(c.patterns)} ssub={len(c.shard_channels)} multi={multi} qbuf={qbuf} qbuf-free={qbuf_free} "
        f"argv-mem={argv_mem} multi-mem=0 rbs=1024 rbp=0 obl=0 oll=0 omem={c.obuf_bytes} "
        f"tot-mem={1024 + qbuf + argv_mem + c.obuf_bytes} events=r "
        f"cmd={c.last_command} user={c.user} redir=-1 resp={c.resp}"
    )


def _text(ctx: Client, text: str) -> Reply:
    data = text.encode()
    return Verbatim(data) if ctx.resp == 3 else data


def _clients(ctx: Client) -> list[Client]:
    return [conn.client for conn in ctx.server.connections.values()]


@subcommand("client", "id", arity=2, flags=_FLAGS, acl="@connection", group="connection", since="5.0.0",
            summary="Returns the client ID for the current connection", complexity="O(1)")
def client_id(ctx: Client) -> Reply:
    return ctx.id


@subcommand("client", "setname", arity=3, flags=_FLAGS, acl="@connection", group="connection", since="2.6.9",
            summary="Set the current connection name", complexity="O(1)")
def client_setname(ctx: Client, name: bytes) -> Reply:
    if _bad_name(name):
        raise CommandError(CLIENT_NAME_INVALID)
    ctx.name = name or None
    return OK


@subcommand("client", "getname", arity=2, flags=_FLAGS, acl="@connection", group="connection", since="2.6.9",
            summary="Get the current connection name", complexity="O(1)")
def client_getname(ctx: Client) -> Reply:
    return ctx.name


@subcommand("client", "list", arity=-2, flags="admin noscript loading stale", acl="@connection",
            group="connection", since="2.4.0", summary="Get the list of client connections",
            complexity="O(N) where N is the number of client connections")
def client_list(ctx: Client, *args: bytes) -> Reply:
    clients = _clients(ctx)
    if len(args) == 2 and args[0].lower() == b"type":
        kind = args[1].lower().decode("utf-8", "replace")
        if kind not in _TYPES:
            raise CommandError(unknown_client_type(args[1].decode('utf-8', 'replace')))
        if kind == "pubsub":
            clients = [c for c in clients if c.subscriptions]
        elif kind == "normal":
            clients = [c for c in clients if not c.subscriptions]
        else:
            clients = []
    elif len(args) > 1 and args[0].lower() == b"id":
        ids: list[int] = []
        for a in args[1:]:
            n = integer_in_range(a, 1, LLONG_MAX, "ERR Invalid client ID")
            ids.append(n)
        wanted = set(ids)
        clients = [c for c in clients if c.id in wanted]
    elif args:
        raise CommandError(SYNTAX)
    now = time.time()
    return _text(ctx, "".join(client_line(c, now) + "\n" for c in sorted(clients, key=lambda c: c.id)))


@subcommand("client", "info", arity=2, flags=_FLAGS, acl="@connection", group="connection", since="6.2.0",
            summary="Returns information about the current client connection.", complexity="O(1)")
def client_info(ctx: Client) -> Reply:
    return _text(ctx, client_line(ctx) + "\n")


def _kill(ctx: Client, victims: list[Client]) -> int:
    for c in victims:
        if c is ctx:
            ctx.close()  # reply first, then close (CLIENT_CLOSE_AFTER_REPLY)
        else:
            conn = c.conn
            c.closing = True
            if conn is not None:
                conn.close()
    return len(victims)


@subcommand("client", "kill", arity=-3, flags="admin noscript loading stale", acl="@connection",
            group="connection", since="2.4.0", summary="Kill the connection of a client",
            complexity="O(N) where N is the number of client connections")
def client_kill(ctx: Client, *args: bytes) -> Reply:
    clients = _clients(ctx)
    if len(args) == 1:  # old form: CLIENT KILL addr:port
        addr = args[0].decode("utf-8", "replace")
        victims = [c for c in clients if c.addr == addr]
        if not victims:
            raise CommandError("ERR No such client")
        _kill(ctx, victims[:1])
        return OK
    if len(args) % 2:
        raise CommandError(SYNTAX)
    skipme = True
    tests: list[Any] = []
    for i in range(0, len(args), 2):
        opt, val = args[i].lower(), args[i + 1]
        text = val.decode("utf-8", "replace")
        if opt == b"id":
            n = integer_in_range(val, 1, LLONG_MAX, "ERR client-id should be greater than 0")
            tests.append(lambda c, n=n: c.id == n)
        elif opt == b"type":
            kind = text.lower()
            if kind not in _TYPES:
                raise CommandError(unknown_client_type(text))
            tests.append(lambda c, k=kind: (bool(c.subscriptions) if k == "pubsub" else
                                            (not c.subscriptions) if k == "normal" else False))
        elif opt == b"addr":
            tests.append(lambda c, a=text: c.addr == a)
        elif opt == b"laddr":
            tests.append(lambda c, a=text: c.laddr == a)
        elif opt == b"user":
            tests.append(lambda c, u=text: c.user == u)
        elif opt == b"skipme":
            low = val.lower()
            if low not in (b"yes", b"no"):
                raise CommandError(SYNTAX)
            skipme = low == b"yes"
        else:
            raise CommandError(SYNTAX)
    victims = [c for c in clients if all(t(c) for t in tests) and not (skipme and c is ctx)]
    return _kill(ctx, victims)


@subcommand("client", "setinfo", arity=4, flags=_FLAGS, acl="@connection", group="connection", since="7.2.0",
            summary="Set client or connection specific info", complexity="O(1)")
def client_setinfo(ctx: Client, attr: bytes, value: bytes) -> Reply:
    low = attr.lower()
    if low not in (b"lib-name", b"lib-ver"):
        raise CommandError(f"ERR Unrecognized option '{attr.decode('utf-8', 'replace')}'")
    if _bad_name(value):
        raise CommandError(f"ERR {low.decode()} cannot contain spaces, newlines or special characters.")
    if low == b"lib-name":
        ctx.lib_name = value or None
    else:
        ctx.lib_ver = value or None
    return OK


@subcommand("client", "no-evict", arity=3, flags="admin noscript loading stale", acl="@connection",
            group="connection", since="7.0.0", summary="Set client eviction mode for the current connection",
            complexity="O(1)")
def client_no_evict(ctx: Client, mode: bytes) -> Reply:
    low = mode.lower()
    if low not in (b"on", b"off"):
        raise CommandError(SYNTAX)
    ctx.no_evict = low == b"on"
    return OK


@subcommand("client", "pause", arity=-3, flags="admin noscript loading stale", acl="@connection",
            group="connection", since="3.0.0", summary="Stop processing commands from clients for some time",
            complexity="O(1)")
def client_pause(ctx: Client, timeout: bytes, *mode: bytes) -> Reply:
    ms = positive(timeout, TIMEOUT_NOT_INTEGER)
    writes_only = False
    if len(mode) == 1 and mode[0].lower() in (b"write", b"all"):
        writes_only = mode[0].lower() == b"write"
    elif mode:
        raise CommandError("ERR CLIENT PAUSE mode must be WRITE or ALL")
    server = ctx.server
    end = time.monotonic() + ms / 1000
    # pauseClients: a new pause never shortens a longer one, and ALL wins over WRITE.
    if server.pause_until and not server.pause_writes_only and writes_only:
        writes_only = False
    server.pause_writes_only = writes_only
    server.pause_until = max(server.pause_until, end)
    return OK


@subcommand("client", "unpause", arity=2, flags="admin noscript loading stale", acl="@connection",
            group="connection", since="6.2.0", summary="Resume processing of clients that were paused",
            complexity="O(N) Where N is the number of paused clients")
def client_unpause(ctx: Client) -> Reply:
    ctx.server.unpause()
    return OK


@subcommand("client", "help", arity=2, flags="loading stale", acl="@connection", group="connection",
            since="5.0.0", summary="Show helpful text about the different subcommands", complexity="O(1)")
def client_help(ctx: Client) -> Reply:
    return help_reply("CLIENT", [
        "CACHING (YES|NO)",
        "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
        "GETREDIR",
        "    Return the client ID we are redirecting to when tracking is enabled.",
        "GETNAME",
        "    Return the name of the current connection.",
        "ID",
        "    Return the ID of the current connection.",
        "INFO",
        "    Return information about the current client connection.",
        "KILL <ip:port>",
        "    Kill connection made from <ip:port>.",
        "KILL <option> <value> [<option> <value> [...]]",
        "    Kill connections. Options are:",
        "    * ADDR (<ip:port>|<unixsocket>:0)",
        "      Kill connections made from the specified address",
        "    * LADDR (<ip:port>|<unixsocket>:0)",
        "      Kill connections made to specified local address",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
        "      Kill connections by type.",
        "    * USER <username>",
        "      Kill connections authenticated by <username>.",
        "    * SKIPME (YES|NO)",
        "      Skip killing current connection (default: yes).",
        "LIST [options ...]",
        "    Return information about client connections. Options:",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
        "      Return clients of specified type.",
        "UNPAUSE",
        "    Stop the current client pause, resuming traffic.",
        "PAUSE <timeout> [WRITE|ALL]",
        "    Suspend all, or just write, clients for <timeout> milliseconds.",
        "REPLY (ON|OFF|SKIP)",
        "    Control the replies sent to the current connection.",
        "SETNAME <name>",
        "    Assign the name <name> to the current connection.",
        "UNBLOCK <clientid> [TIMEOUT|ERROR]",
        "    Unblock the specified blocked client.",
        "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
        "         [OPTIN] [OPTOUT] [NOLOOP]",
        "    Control server assisted client side caching.",
        "TRACKINGINFO",
        "    Report tracking status for the current connection.",
        "NO-EVICT (ON|OFF)",
        "    Protect current client connection from eviction.",
    ])
