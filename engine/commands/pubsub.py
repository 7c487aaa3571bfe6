"""SUBSCRIBE, PSUBSCRIBE, SSUBSCRIBE and their UN- forms, PUBLISH, SPUBLISH, PUBSUB ...
(pubsub.c).  The registry and delivery live in engine/pubsub.py.

Each (un)subscription is confirmed with its own reply ``[kind, channel, count]``, a push in
RESP3; ``count`` is the client's channel + pattern subscriptions (shard subscriptions for the
S- forms), as ``clientSubscriptionsCount`` / ``clientShardSubscriptionsCount`` count them.
"""

from __future__ import annotations

from collections.abc import Callable

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


def _shard_count(ctx: Client) -> int:
    return len(ctx.shard_channels)


def _subscribe(ctx: Client, kind: bytes, names: tuple[bytes, ...], add: Callable[[Client, bytes], object],
               count: Callable[[Client], int]) -> Reply:
    """One confirmation ``[kind, name, count]`` per name, counted after each subscription."""
    out = Replies()
    for name in names:
        add(ctx, name)
        out.append(Push([kind, name, count(ctx)]))
    return out


def _unsubscribe(ctx: Client, kind: bytes, names: tuple[bytes, ...], current: set[bytes],
                 remove: Callable[[Client, bytes], object], count: Callable[[Client], int]) -> Reply:
    """As :func:`_subscribe`; no names means all current ones, and with none at all Redis
    still confirms once with a nil name."""
    out = Replies()
    for name in names or sorted(current):
        remove(ctx, name)
        out.append(Push([kind, name, count(ctx)]))
    if not out:
        out.append(Push([kind, None, count(ctx)]))
    return out


@command("subscribe", arity=-2, flags=_SUB_FLAGS, group="pubsub", since="2.0.0",
         summary="Listen for messages published to the given channels")
def subscribe(ctx: Client, *channels: bytes) -> Reply:
    return _subscribe(ctx, b"subscribe", channels, _registry(ctx).subscribe, _count)


@command("unsubscribe", arity=-1, flags=_SUB_FLAGS, group="pubsub", since="2.0.0",
         summary="Stop listening for messages posted to the given channels")
def unsubscribe(ctx: Client, *channels: bytes) -> Reply:
    return _unsubscribe(ctx, b"unsubscribe", channels, ctx.channels, _registry(ctx).unsubscribe, _count)


@command("psubscribe", arity=-2, flags=_SUB_FLAGS, group="pubsub", since="2.0.0",
         summary="Listen for messages published to channels matching the given patterns")
def psubscribe(ctx: Client, *patterns: bytes) -> Reply:
    return _subscribe(ctx, b"psubscribe", patterns, _registry(ctx).psubscribe, _count)


@command("punsubscribe", arity=-1, flags=_SUB_FLAGS, group="pubsub", since="2.0.0",
         summary="Stop listening for messages posted to channels matching the given patterns")
def punsubscribe(ctx: Client, *patterns: bytes) -> Reply:
    return _unsubscribe(ctx, b"punsubscribe", patterns, ctx.patterns, _registry(ctx).punsubscribe, _count)


@command("ssubscribe", arity=-2, flags=_SUB_FLAGS, keys=(1, -1, 1), group="pubsub", since="7.0.0",
         summary="Listen for messages published to the given shard channels")
def ssubscribe(ctx: Client, *channels: bytes) -> Reply:
    return _subscribe(ctx, b"ssubscribe", channels, _registry(ctx).ssubscribe, _shard_count)


@command("sunsubscribe", arity=-1, flags=_SUB_FLAGS, keys=(1, -1, 1), group="pubsub", since="7.0.0",
         summary="Stop listening for messages posted to the given shard channels")
def sunsubscribe(ctx: Client, *channels: bytes) -> Reply:
    return _unsubscribe(ctx, b"sunsubscribe", channels, ctx.shard_channels, _registry(ctx).sunsubscribe,
                        _shard_count)


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
