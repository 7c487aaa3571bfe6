"""Client-side caching (tracking.c): CLIENT TRACKING, CACHING, GETREDIR, TRACKINGINFO and the
invalidation messages.

A client that turns tracking on is told when a key it may have cached changes:

* default mode: the keys of every read-only command it runs are remembered in the server's
  tracking table (OPTIN: only right after ``CLIENT CACHING yes``; OPTOUT: unless
  ``CLIENT CACHING no``); the first write to such a key sends one invalidation and forgets it;
* BCAST mode: nothing is remembered; every write to a key under one of its prefixes (all keys
  without a prefix) is announced;
* the message is a RESP3 push ``["invalidate", [key]]``, or, with ``REDIRECT id`` to a RESP2
  connection subscribed to ``__redis__:invalidate``, a Pub/Sub message on that channel;
  FLUSHALL/FLUSHDB send a null key (everything is invalid); NOLOOP skips the writer's own keys.

Which keys a write modified is read from the command's key positions when it dirtied the
dataset (an over-approximation for commands that also read keys, which is safe for a cache);
expired keys invalidate through the expire hook.  The table holds at most
``tracking-table-max-keys`` keys; past that, keys are invalidated and dropped as Redis does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.errors import NOT_INTEGER, SYNTAX, CommandError
from engine.protocol import OK, Push, Reply
from engine.table import key_positions, subcommand
from engine.util import parse_int

if TYPE_CHECKING:
    from engine.client import Client
    from engine.server import Server
    from engine.table import Command

__all__ = ["Tracking", "TrackingState", "client_gone", "after_call", "invalidate_key", "client_tracking", "client_caching", "client_getredir",
           "client_trackinginfo"]

CHANNEL = b"__redis__:invalidate"


class Tracking:
    """One client's tracking options (the CLIENT_TRACKING_* flags)."""

    __slots__ = ("redirect", "bcast", "optin", "optout", "noloop", "caching", "prefixes", "broken")

    def __init__(self, redirect: int, bcast: bool, optin: bool, optout: bool, noloop: bool,
                 prefixes: list[bytes]) -> None:
        self.redirect = redirect
        self.bcast = bcast
        self.optin = optin
        self.optout = optout
        self.noloop = noloop
        self.caching = False
        self.prefixes = sorted(set(prefixes))
        self.broken = False


class TrackingState:
    """The server's invalidation table (tracking.c's TrackingTable and PrefixTable)."""

    __slots__ = ("clients", "table", "prefixes")

    def __init__(self) -> None:
        self.clients: dict[int, Client] = {}  # id -> Client with tracking on
        self.table: dict[bytes, set[int]] = {}  # key -> ids that may cache it
        self.prefixes: dict[bytes, set[int]] = {}  # BCAST prefix -> ids


def _options(client: Client) -> Tracking:
    """The tracking options of a client known to have tracking on (in the state's table)."""
    tr = client.tracking
    assert tr is not None
    return tr


def _state(server: Server) -> TrackingState:
    return server.tracking_state


def _lookup(server: Server, client_id: int) -> Client | None:
    conn = server.connections.get(client_id)
    return conn.client if conn is not None else None


def _send(server: Server, target: Client, keys: list[bytes] | None, current: Client | None) -> None:
    """sendTrackingMessage: to the client or its redirect; ``keys`` is a list or None (flush)."""
    tr = target.tracking
    if tr is None:
        return
    dest = target
    redirected = False
    if tr.redirect:
        other = _lookup(server, tr.redirect)
        if other is None:
            tr.broken = True
            if target.resp > 2:
                _deliver(server, target, Push([b"tracking-redir-broken", tr.redirect]), current)
            return
        dest = other
        redirected = True
    if dest.resp > 2:
        _deliver(server, dest, Push([b"invalidate", keys]), current)
    elif redirected and CHANNEL in dest.channels:
        _deliver(server, dest, Push([b"message", CHANNEL, keys]), current)


def _deliver(server: Server, dest: Client, message: Push, current: Client | None) -> None:
    if dest is current and server.loop is not None:
        # The writer's own invalidation follows the reply to the command being executed.
        server.loop.call_soon(dest.push, message)
    else:
        dest.push(message)


def invalidate_key(server: Server, key: bytes, current: Client | None) -> None:
    """trackingInvalidateKey: tell who may cache ``key`` (and BCAST prefixes) that it changed."""
    st = _state(server)
    if st.prefixes:
        for prefix, subscribed in list(st.prefixes.items()):
            if not key.startswith(prefix):
                continue
            for cid in list(subscribed):
                target = st.clients.get(cid)
                if target is None or (target is current and _options(target).noloop):
                    continue
                _send(server, target, [key], current)
    ids = st.table.pop(key, None)
    if not ids:
        return
    for cid in ids:
        target = st.clients.get(cid)
        if target is None:
            continue
        tr = _options(target)
        if tr.bcast or (tr.noloop and target is current):
            continue
        _send(server, target, [key], current)


def _invalidate_all(server: Server, current: Client | None) -> None:
    """trackingInvalidateKeysOnFlush: a null invalidation to every tracking client."""
    st = _state(server)
    for target in list(st.clients.values()):
        _send(server, target, None, current)
    st.table.clear()


def _remember(server: Server, client: Client, cmd: Command, argv: list[bytes]) -> None:
    """trackingRememberKeys."""
    tr = _options(client)
    if (tr.optin and not tr.caching) or (tr.optout and tr.caching):
        return
    if "pubsub" in cmd.flags:
        return
    st = _state(server)
    for pos in key_positions(cmd, argv):
        st.table.setdefault(argv[pos], set()).add(client.id)
    limit = server.config["tracking-table-max-keys"]
    if limit and len(st.table) > limit:
        for key in list(st.table)[: len(st.table) - limit]:
            invalidate_key(server, key, None)


def after_call(client: Client, cmd: Command, argv: list[bytes], dirtied: bool) -> None:
    """Called by dispatch.call after every command while some client tracks keys."""
    server = client.server
    tr = client.tracking
    if dirtied:
        if cmd.name in ("flushall", "flushdb"):
            _invalidate_all(server, client)
        else:
            caller = client.caller or client
            for pos in key_positions(cmd, argv):
                invalidate_key(server, argv[pos], caller)
    if tr is not None:
        if "readonly" in cmd.flags and not tr.bcast and cmd.name not in ("eval_ro", "evalsha_ro", "fcall_ro"):
            _remember(server, client, cmd, argv)
        if cmd.fullname != "client|caching":
            tr.caching = False


def _disable(server: Server, client: Client) -> None:
    tr, client.tracking = client.tracking, None
    if tr is None:
        return
    st = _state(server)
    st.clients.pop(client.id, None)
    for p in tr.prefixes if tr.bcast else []:
        ids = st.prefixes.get(p)
        if ids is not None:
            ids.discard(client.id)
            if not ids:
                del st.prefixes[p]
    server.tracking_clients = len(st.clients)


def client_gone(server: Server, client: Client) -> None:
    """A disconnected client's tracking state goes with it."""
    _disable(server, client)


def _check_prefixes(st: TrackingState, client: Client, prefixes: list[bytes]) -> None:
    """checkPrefixCollisionsOrReply."""
    own = client.tracking.prefixes if client.tracking is not None else []
    for i, p in enumerate(prefixes):
        for existing in own:
            if existing != p and (existing.startswith(p) or p.startswith(existing)):
                a, b = (existing, p)
                raise CommandError(f"ERR Prefix '{b.decode('utf-8', 'replace')}' overlaps with an existing prefix "
                                   f"'{a.decode('utf-8', 'replace')}'. Prefixes for a single client must not "
                                   "overlap.")
        for j, q in enumerate(prefixes):
            if i != j and (p.startswith(q) or q.startswith(p)):
                raise CommandError(f"ERR Prefix '{p.decode('utf-8', 'replace')}' overlaps with another provided "
                                   f"prefix '{q.decode('utf-8', 'replace')}'. Prefixes for a single client must "
                                   "not overlap.")


@subcommand("client", "tracking", arity=-3, flags="noscript loading stale", acl="@connection",
            group="connection", since="6.0.0", summary="Enable or disable server assisted client side caching "
                                                       "support")
def client_tracking(ctx: Client, mode: bytes, *opts: bytes) -> Reply:
    server = ctx.server
    redirect = 0
    bcast = optin = optout = noloop = False
    prefixes: list[bytes] = []
    j = 0
    while j < len(opts):
        low = opts[j].lower()
        more = len(opts) - 1 - j
        if low == b"redirect" and more:
            j += 1
            if redirect:
                raise CommandError("ERR A client can only redirect to a single other client")
            rid = parse_int(opts[j])
            if rid is None:
                raise CommandError(NOT_INTEGER)
            if _lookup(server, rid) is None:
                raise CommandError("ERR The client ID you want redirect to does not exist")
            redirect = rid
        elif low == b"bcast":
            bcast = True
        elif low == b"optin":
            optin = True
        elif low == b"optout":
            optout = True
        elif low == b"noloop":
            noloop = True
        elif low == b"prefix" and more:
            j += 1
            prefixes.append(opts[j])
        else:
            raise CommandError(SYNTAX)
        j += 1
    st = _state(server)
    on = mode.lower()
    if on == b"on":
        current = ctx.tracking
        if not bcast and prefixes:
            raise CommandError("ERR PREFIX option requires BCAST mode to be enabled")
        if current is not None and current.bcast != bcast:
            raise CommandError("ERR You can't switch BCAST mode on/off before disabling tracking for this client, "
                               "and then re-enabling it with a different mode.")
        if bcast and (optin or optout):
            raise CommandError("ERR OPTIN and OPTOUT are not compatible with BCAST")
        if optin and optout:
            raise CommandError("ERR You can't use both OPTIN and OPTOUT")
        if current is not None and ((optin and current.optout) or (optout and current.optin)):
            raise CommandError("ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, "
                               "and then re-enabling it with a different mode.")
        if bcast:
            _check_prefixes(st, ctx, prefixes)
        old = list(current.prefixes) if current is not None else []
        tr = Tracking(redirect, bcast, optin, optout, noloop, old + prefixes)
        if bcast and not tr.prefixes:
            tr.prefixes = [b""]
        ctx.tracking = tr
        st.clients[ctx.id] = ctx
        if bcast:
            for p in tr.prefixes:
                st.prefixes.setdefault(p, set()).add(ctx.id)
        server.tracking_clients = len(st.clients)
        return OK
    if on == b"off":
        _disable(server, ctx)
        return OK
    raise CommandError(SYNTAX)


@subcommand("client", "caching", arity=3, flags="noscript loading stale", acl="@connection", group="connection",
            since="6.0.0", summary="Instruct the server about tracking or not keys in the next request")
def client_caching(ctx: Client, mode: bytes) -> Reply:
    tr = ctx.tracking
    if tr is None:
        raise CommandError("ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or "
                           "OPTOUT mode enabled")
    low = mode.lower()
    if low == b"yes":
        if not tr.optin:
            raise CommandError("ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.")
    elif low == b"no":
        if not tr.optout:
            raise CommandError("ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.")
    else:
        raise CommandError(SYNTAX)
    tr.caching = True
    return OK


@subcommand("client", "getredir", arity=2, flags="noscript loading stale", acl="@connection", group="connection",
            since="6.0.0", summary="Get tracking notifications redirection client ID if any")
def client_getredir(ctx: Client) -> Reply:
    tr = ctx.tracking
    return tr.redirect if tr is not None else -1


@subcommand("client", "trackinginfo", arity=2, flags="noscript loading stale", acl="@connection",
            group="connection", since="6.2.0", summary="Return information about server assisted client side "
                                                       "caching for the current connection")
def client_trackinginfo(ctx: Client) -> Reply:
    tr = ctx.tracking
    flags: list[bytes] = [b"on" if tr is not None else b"off"]
    if tr is not None:
        if tr.bcast:
            flags.append(b"bcast")
        if tr.optin:
            flags.append(b"optin")
            if tr.caching:
                flags.append(b"caching-yes")
        if tr.optout:
            flags.append(b"optout")
            if tr.caching:
                flags.append(b"caching-no")
        if tr.noloop:
            flags.append(b"noloop")
        if tr.broken:
            flags.append(b"broken_redirect")
    return {
        b"flags": set(flags) if ctx.resp == 3 else flags,
        b"redirect": tr.redirect if tr is not None else -1,
        b"prefixes": [p for p in tr.prefixes] if tr is not None and tr.bcast else [],
    }
