"""Connection commands: PING, ECHO, QUIT, SELECT, HELLO, AUTH, RESET."""

from __future__ import annotations

from engine.args import integer
from engine.client import Client
from engine.errors import (
    CLIENT_NAME_INVALID,
    DB_INDEX_OUT_OF_RANGE,
    SYNTAX,
    CommandError,
    NoAuthError,
    RedisError,
)
from engine.protocol import OK, PONG, Push, Reply, Status
from engine.table import command
from engine.version import VERSION

__all__ = ["ping", "echo", "quit", "select", "hello", "auth", "reset", "authenticate"]


@command("ping", arity=-1, flags="fast", acl="@connection", group="connection", summary="Ping the server")
def ping(ctx: Client, *args: bytes) -> Reply:
    if len(args) > 1:
        raise CommandError("ERR wrong number of arguments for 'ping' command")
    if ctx.resp == 2 and ctx.subscriptions:
        return [b"pong", args[0] if args else b""]
    return args[0] if args else PONG


@command("echo", arity=2, flags="fast", acl="@connection", group="connection", summary="Echo the given string")
def echo(ctx: Client, message: bytes) -> Reply:
    return message


@command("quit", arity=-1, flags="no_auth allow_busy noscript loading stale fast", acl="@connection",
         group="connection", summary="Close the connection")
def quit(ctx: Client, *args: bytes) -> Reply:
    ctx.close()
    return OK


@command("select", arity=2, flags="loading stale fast", acl="@connection", group="connection",
         summary="Change the selected database for the current connection")
def select(ctx: Client, index: bytes) -> Reply:
    n = integer(index)
    if not -(2**31) <= n < 2**31:  # getIntFromObjectOrReply
        raise CommandError("ERR value is out of range, value must between -2147483648 and 2147483647")
    if not 0 <= n < len(ctx.server.dbs):
        raise CommandError(DB_INDEX_OUT_OF_RANGE)
    ctx.select(n)
    return OK


def authenticate(ctx: Client, username: bytes, password: bytes) -> None:
    """Check a username/password pair against the server's ACL users (ACLAuthenticateUser)."""
    ctx.server.acl.authenticate(ctx, username, password)


@command("auth", arity=-2, flags="noscript loading stale fast no_auth allow_busy", acl="@connection",
         group="connection", summary="Authenticate to the server")
def auth(ctx: Client, *args: bytes) -> Reply:
    if len(args) > 2:
        raise CommandError(SYNTAX)
    if len(args) == 1 and not ctx.server.requires_auth():
        raise CommandError(
            "ERR AUTH <password> called without any password configured for the default user. "
            "Are you sure your configuration is correct?"
        )
    user, password = (b"default", args[0]) if len(args) == 1 else (args[0], args[1])
    authenticate(ctx, user, password)
    return OK


@command("hello", arity=-1, flags="noscript loading stale fast no_auth allow_busy", acl="@connection",
         group="connection", since="6.0.0", summary="Handshake with Redis")
def hello(ctx: Client, *args: bytes) -> Reply:
    version = ctx.resp
    i = 0
    if args:
        v = integer(args[0], "ERR Protocol version is not an integer or out of range")
        if v not in (2, 3):
            raise RedisError("NOPROTO unsupported protocol version")
        version = v
        i = 1
    setname: bytes | None = None
    while i < len(args):
        opt = args[i].lower()
        if opt == b"auth" and i + 2 < len(args):
            authenticate(ctx, args[i + 1], args[i + 2])
            i += 3
        elif opt == b"setname" and i + 1 < len(args):
            setname = args[i + 1]
            if any(c <= 32 or c > 126 for c in setname):
                raise CommandError(CLIENT_NAME_INVALID)
            i += 2
        else:
            raise CommandError(f"ERR Syntax error in HELLO option '{args[i].decode('utf-8', 'replace')}'")
    if not ctx.authenticated:
        raise NoAuthError("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO "
                          "AUTH <user> <pass> option can be used to authenticate the client and select the "
                          "RESP protocol version at the same time")
    if setname is not None:
        ctx.name = setname or None
    ctx.resp = version
    return {
        b"server": b"redis",
        b"version": VERSION.encode(),
        b"proto": version,
        b"id": ctx.id,
        b"mode": b"standalone",
        b"role": b"master",
        b"modules": [],
    }


@command("reset", arity=1, flags="noscript loading stale fast no_auth allow_busy", acl="@connection",
         group="connection", since="6.2.0", summary="Reset the connection")
def reset(ctx: Client) -> Reply:
    server = ctx.server
    ctx.multi = None
    ctx.multi_error = False
    server.client_gone(ctx)  # drops WATCHes and subscriptions
    ctx.dirty_cas = False
    ctx.select(0)
    ctx.resp = 2
    ctx.name = None
    ctx.no_evict = False
    ctx.flags.clear()
    ctx.user = "default"
    ctx.authenticated = not server.requires_auth()
    return Status("RESET")


_ = Push  # RESP3 pushes are produced by engine/pubsub.py
