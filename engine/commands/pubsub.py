"""SUBSCRIBE, PSUBSCRIBE, SSUBSCRIBE and their UN- forms, PUBLISH, SPUBLISH, PUBSUB ...
(pubsub.c).  The registry and delivery live in engine/pubsub.py.

Each (un)subscription is confirmed with its own reply ``[kind, channel, count]``, a push in
RESP3; ``count`` is the client's channel + pattern subscriptions (shard subscriptions for the
S- forms), as ``clientSubscriptionsCount`` / ``clientShardSubscriptionsCount`` count them.
"""

from __future__ import annotations

from engine.client import Client
from engine.protocol import Push, Replies, Reply
from engine.pubsub import PubSub
from engine.table import command, container, subcommand
from engine.util import glob_match

__all__ = ["subscribe", "unsubscribe", "psubscribe", "punsubscribe", "publish", "ssubscribe", "sunsubscribe",
           "spublish"]

_SUB_FLAGS = "pubsub noscript loading stale"


def _registry(ctx: Client) -> PubSub:
    ps: PubSub = ctx.server.pubsub
    return ps


def _count(ctx: Client) -> int:
    return len(ctx.channels) + len(ctx.patterns)


@command("subscribe", arity=-2, flags=_SUB_FLAGS, group="pubsub", since="2.0.0",
         summary="Listen for messages published to the given channels")
def subscribe(ctx: Client, *channels: bytes) -> Reply:
    ps = _registry(ctx)
    out = Replies()
    for ch in channels:
        ps.subscribe(ctx, ch)
        out.append(Push([b"subscribe", ch, _count(ctx)]))
    return out


@command("unsubscribe", arity=-1, flags=_SUB_FLAGS, group="pubsub", since="2.0.0",
         summary="Stop listening for messages posted to the given channels")
def unsubscribe(ctx: Client, *channels: bytes) -> Reply:
    ps = _registry(ctx)
    out = Replies()
    for ch in channels or sorted(ctx.channels):
        ps.unsubscribe(ctx, ch)
        out.append(Push([b"unsubscribe", ch, _count(ctx)]))
    if not out:
        out.append(Push([b"unsubscribe", None, _count(ctx)]))
    return out


@command("psubscribe", arity=-2, flags=_SUB_FLAGS, group="pubsub", since="2.0.0",
         summary="Listen for messages published to channels matching the given patterns")
def psubscribe(ctx: Client, *patterns: bytes) -> Reply:
    ps = _registry(ctx)
    out = Replies()
    for p in patterns:
        ps.psubscribe(ctx, p)
        out.append(Push([b"psubscribe", p, _count(ctx)]))
    return out


@command("punsubscribe", arity=-1, flags=_SUB_FLAGS, group="pubsub", since="2.0.0",
         summary="Stop listening for messages posted to channels matching the given patterns")
def punsubscribe(ctx: Client, *patterns: bytes) -> Reply:
    ps = _registry(ctx)
    out = Replies()
    for p in patterns or sorted(ctx.patterns):
        ps.punsubscribe(ctx, p)
        out.append(Push([b"punsubscribe", p, _count(ctx)]))
    if not out:
        out.append(Push([b"punsubscribe", None, _count(ctx)]))
    return out


@command("ssubscribe", arity=-2, flags=_SUB_FLAGS, keys=(1, -1, 1), group="pubsub", since="7.0.0",
         summary="Listen for messages published to the given shard channels")
def ssubscribe(ctx: Client, *channels: bytes) -> Reply:
    ps = _registry(ctx)
    out = Replies()
    for ch in channels:
        ps.ssubscribe(ctx, ch)
        out.append(Push([b"ssubscribe", ch, len(ctx.shard_channels)]))
    return out


@command("sunsubscribe", arity=-1, flags=_SUB_FLAGS, keys=(1, -1, 1), group="pubsub", since="7.0.0",
         summary="Stop listening for messages posted to the given shard channels")
def sunsubscribe(ctx: Client, *channels: bytes) -> Reply:
    ps = _registry(ctx)
    out = Replies()
    for ch in channels or sorted(ctx.shard_channels):
        ps.sunsubscribe(ctx, ch)
        out.append(Push([b"sunsubscribe", ch, len(ctx.shard_channels)]))
    if not out:
        out.append(Push([b"sunsubscribe", None, 0]))
    return out


@command("publish", arity=3, flags="pubsub loading stale fast may_replicate", group="pubsub", since="2.0.0",
         summary="Post a message to a channel")
def publish(ctx: Client, channel: bytes, message: bytes) -> Reply:
    return _registry(ctx).publish(channel, message)


@command("spublish", arity=3, flags="pubsub loading stale fast may_replicate", keys=(1, 1, 1), group="pubsub",
         since="7.0.0", summary="Post a message to a shard channel")
def spublish(ctx: Client, channel: bytes, message: bytes) -> Reply:
    return _registry(ctx).spublish(channel, message)


container("pubsub", group="pubsub", since="2.8.0", summary="A container for Pub/Sub commands")


@subcommand("pubsub", "channels", arity=-2, flags="pubsub loading stale", group="pubsub", since="2.8.0",
            summary="List active channels")
def pubsub_channels(ctx: Client, *pattern: bytes) -> Reply:
    return _list(_registry(ctx).channels, pattern)


@subcommand("pubsub", "shardchannels", arity=-2, flags="pubsub loading stale", group="pubsub", since="7.0.0",
            summary="List active shard channels")
def pubsub_shardchannels(ctx: Client, *pattern: bytes) -> Reply:
    return _list(_registry(ctx).shard_channels, pattern)


def _list(table: dict[bytes, dict[Client, None]], pattern: tuple[bytes, ...]) -> Reply:
    if len(pattern) > 1:
        from engine.errors import wrong_arity

        raise wrong_arity("pubsub|channels")
    if not pattern:
        return list(table)
    return [ch for ch in table if glob_match(pattern[0], ch)]


@subcommand("pubsub", "numsub", arity=-2, flags="pubsub loading stale", group="pubsub", since="2.8.0",
            summary="Get the count of subscribers for channels")
def pubsub_numsub(ctx: Client, *channels: bytes) -> Reply:
    table = _registry(ctx).channels
    out: list[bytes | int] = []
    for ch in channels:
        out += [ch, len(table.get(ch, ()))]
    return out


@subcommand("pubsub", "shardnumsub", arity=-2, flags="pubsub loading stale", group="pubsub", since="7.0.0",
            summary="Get the count of subscribers for shard channels")
def pubsub_shardnumsub(ctx: Client, *channels: bytes) -> Reply:
    table = _registry(ctx).shard_channels
    out: list[bytes | int] = []
    for ch in channels:
        out += [ch, len(table.get(ch, ()))]
    return out


@subcommand("pubsub", "numpat", arity=2, flags="pubsub loading stale", group="pubsub", since="2.8.0",
            summary="Get the count of unique patterns pattern subscriptions")
def pubsub_numpat(ctx: Client) -> Reply:
    return len(_registry(ctx).patterns)
