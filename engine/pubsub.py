"""The Pub/Sub registry (pubsub.c): channels, patterns and shard channels with their
subscribers, and message delivery.

``server.pubsub`` is one :class:`PubSub`; keyspace notifications (``Server.notify``) publish
through it too.  A message is encoded once per protocol version and the same bytes are
written to every subscriber (``client.write`` sends right away, and the connection's
client-output-buffer-limit check disconnects a subscriber that does not read), so PUBLISH to
N subscribers costs N socket writes and at most two encodings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.protocol import Push, encode
from engine.util import glob_match

if TYPE_CHECKING:
    from engine.client import Client

__all__ = ["PubSub"]


class PubSub:
    """Subscribers per channel / pattern / shard channel, in subscription order."""

    __slots__ = ("channels", "patterns", "shard_channels")

    def __init__(self) -> None:
        self.channels: dict[bytes, dict[Client, None]] = {}
        self.patterns: dict[bytes, dict[Client, None]] = {}
        self.shard_channels: dict[bytes, dict[Client, None]] = {}

    # -- subscriptions ---------------------------------------------------------------------
    def subscribe(self, client: Client, channel: bytes) -> bool:
        if channel in client.channels:
            return False
        client.channels.add(channel)
        self.channels.setdefault(channel, {})[client] = None
        return True

    def unsubscribe(self, client: Client, channel: bytes) -> bool:
        if channel not in client.channels:
            return False
        client.channels.discard(channel)
        _drop(self.channels, channel, client)
        return True

    def psubscribe(self, client: Client, pattern: bytes) -> bool:
        if pattern in client.patterns:
            return False
        client.patterns.add(pattern)
        self.patterns.setdefault(pattern, {})[client] = None
        return True

    def punsubscribe(self, client: Client, pattern: bytes) -> bool:
        if pattern not in client.patterns:
            return False
        client.patterns.discard(pattern)
        _drop(self.patterns, pattern, client)
        return True

    def ssubscribe(self, client: Client, channel: bytes) -> bool:
        if channel in client.shard_channels:
            return False
        client.shard_channels.add(channel)
        self.shard_channels.setdefault(channel, {})[client] = None
        return True

    def sunsubscribe(self, client: Client, channel: bytes) -> bool:
        if channel not in client.shard_channels:
            return False
        client.shard_channels.discard(channel)
        _drop(self.shard_channels, channel, client)
        return True

    def unsubscribe_all(self, client: Client) -> None:
        """Drop every subscription of a client that went away."""
        for ch in client.channels:
            _drop(self.channels, ch, client)
        for p in client.patterns:
            _drop(self.patterns, p, client)
        for ch in client.shard_channels:
            _drop(self.shard_channels, ch, client)
        client.channels.clear()
        client.patterns.clear()
        client.shard_channels.clear()

    # -- delivery --------------------------------------------------------------------------
    def publish(self, channel: bytes, message: bytes) -> int:
        """pubsubPublishMessage: deliver to channel subscribers, then to matching patterns;
        returns the number of deliveries."""
        receivers = 0
        subs = self.channels.get(channel)
        if subs:
            frames = _Frames(Push([b"message", channel, message]))
            for c in list(subs):
                c.write(frames.get(c.resp))
                receivers += 1
        if self.patterns:
            for pattern, psubs in list(self.patterns.items()):
                if not glob_match(pattern, channel):
                    continue
                frames = _Frames(Push([b"pmessage", pattern, channel, message]))
                for c in list(psubs):
                    c.write(frames.get(c.resp))
                    receivers += 1
        return receivers

    def spublish(self, channel: bytes, message: bytes) -> int:
        subs = self.shard_channels.get(channel)
        if not subs:
            return 0
        frames = _Frames(Push([b"smessage", channel, message]))
        for c in list(subs):
            c.write(frames.get(c.resp))
        return len(subs)


class _Frames:
    """One message encoded lazily, once per protocol version."""

    __slots__ = ("msg", "resp2", "resp3")

    def __init__(self, msg: Push) -> None:
        self.msg = msg
        self.resp2: bytes | None = None
        self.resp3: bytes | None = None

    def get(self, resp: int) -> bytes:
        if resp == 3:
            if self.resp3 is None:
                self.resp3 = encode(self.msg, 3)
            return self.resp3
        if self.resp2 is None:
            self.resp2 = encode(self.msg, 2)
        return self.resp2


def _drop(table: dict[bytes, dict[Client, None]], name: bytes, client: Client) -> None:
    subs = table.get(name)
    if subs is not None:
        subs.pop(client, None)
        if not subs:
            del table[name]
