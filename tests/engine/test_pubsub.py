"""Pub/Sub on the engine through redis-py (RESP2 and RESP3, sync and asyncio): channels,
patterns, shard channels, PUBSUB introspection, subscribed-mode rules, fan-out to many
subscribers, and a subscriber that never reads being cut off by client-output-buffer-limit
pubsub while the others keep receiving."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
import redis.asyncio as aioredis

from engine.server import EmbeddedServer


@pytest.fixture(scope="module")
def srv() -> Iterator[EmbeddedServer]:
    with EmbeddedServer(**{"client-output-buffer-limit": "pubsub 256kb 128kb 60"}) as s:
        yield s


def _next(ps: Any, timeout: float = 2.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = ps.get_message(timeout=0.2)
        if m is not None:
            return m  # type: ignore[no-any-return]
    raise AssertionError(f"no message within {timeout:.1f} s")


@pytest.mark.parametrize("protocol", [2, 3])
def test_subscribe_publish_patterns(srv: EmbeddedServer, protocol: int) -> None:
    sub = redis.Redis.from_url(srv.url, protocol=protocol)
    pub = redis.Redis.from_url(srv.url)
    ps = sub.pubsub()
    ps.subscribe("news", "sport")
    ps.psubscribe("n*")
    assert [(_m := _next(ps))["type"] for _ in range(3)] == ["subscribe", "subscribe", "psubscribe"]
    assert _m["data"] == 3
    assert pub.publish("news", "hello") == 2
    assert _next(ps) == {"type": "message", "pattern": None, "channel": b"news", "data": b"hello"}
    assert _next(ps) == {"type": "pmessage", "pattern": b"n*", "channel": b"news", "data": b"hello"}
    assert pub.publish("nope", "x") == 1
    assert _next(ps)["channel"] == b"nope"
    assert pub.publish("other", "x") == 0
    assert sorted(pub.pubsub_channels()) == [b"news", b"sport"]
    assert pub.pubsub_channels("s*") == [b"sport"]
    assert pub.pubsub_numsub("news", "none") == [(b"news", 1), (b"none", 0)]
    assert pub.pubsub_numpat() == 1
    ps.unsubscribe("news")
    assert _next(ps) == {"type": "unsubscribe", "pattern": None, "channel": b"news", "data": 2}
    ps.punsubscribe()
    assert _next(ps)["type"] == "punsubscribe"
    ps.close()
    sub.close()
    deadline = time.monotonic() + 2
    while pub.pubsub_numpat() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert pub.pubsub_numpat() == 0 and pub.pubsub_channels() == []
    pub.close()


def test_raw_replies_and_subscribed_mode_rules(srv: EmbeddedServer) -> None:
    s = socket.create_connection(("127.0.0.1", srv.port))
    s.sendall(b"SUBSCRIBE a b\r\nGET x\r\nPING\r\nUNSUBSCRIBE\r\nUNSUBSCRIBE\r\nGET x\r\n")
    want = (b"*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n*3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:2\r\n"
            b"-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n"
            b"*2\r\n$4\r\npong\r\n$0\r\n\r\n"
            b"*3\r\n$11\r\nunsubscribe\r\n$1\r\na\r\n:1\r\n*3\r\n$11\r\nunsubscribe\r\n$1\r\nb\r\n:0\r\n"
            b"*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n$-1\r\n")
    got = b""
    s.settimeout(2)
    while len(got) < len(want):
        chunk = s.recv(65536)
        if not chunk:
            break
        got += chunk
    s.close()
    assert got == want


def test_resp3_client_subscribes_and_runs_commands_on_one_connection(srv: EmbeddedServer) -> None:
    s = socket.create_connection(("127.0.0.1", srv.port))
    s.settimeout(2)
    s.sendall(b"HELLO 3\r\n")
    time.sleep(0.1)
    s.recv(65536)
    s.sendall(b"SUBSCRIBE c\r\nSET k v\r\n")
    want = b">3\r\n$9\r\nsubscribe\r\n$1\r\nc\r\n:1\r\n+OK\r\n"
    got = b""
    while len(got) < len(want):
        got += s.recv(65536)
    assert got == want
    assert redis.Redis.from_url(srv.url).publish("c", "hi") == 1
    want = b">3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$2\r\nhi\r\n"
    got = b""
    while len(got) < len(want):
        got += s.recv(65536)
    s.sendall(b"GET k\r\n")
    assert s.recv(65536) == b"$1\r\nv\r\n"
    s.close()
    assert got == want


def test_message_to_self_follows_pending_replies(srv: EmbeddedServer) -> None:
    """One pipelined read: the message this RESP3 client publishes to itself comes after the
    replies before PUBLISH and before PUBLISH's own reply, as Redis's single output buffer."""
    s = socket.create_connection(("127.0.0.1", srv.port))
    s.settimeout(2)
    s.sendall(b"HELLO 3\r\n")
    time.sleep(0.1)
    s.recv(65536)
    s.sendall(b"SUBSCRIBE c\r\nSET k v\r\nPUBLISH c hi\r\n")
    want = b">3\r\n$9\r\nsubscribe\r\n$1\r\nc\r\n:1\r\n+OK\r\n>3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$2\r\nhi\r\n:1\r\n"
    got = b""
    while len(got) < len(want):
        got += s.recv(65536)
    s.close()
    assert got == want


def test_shard_channels(srv: EmbeddedServer) -> None:
    sub = redis.Redis.from_url(srv.url)
    ps = sub.pubsub()
    ps.ssubscribe("sh")
    assert _next(ps)["type"] == "ssubscribe"
    pub = redis.Redis.from_url(srv.url)
    assert pub.execute_command("PUBSUB", "SHARDCHANNELS") == [b"sh"]
    assert pub.execute_command("PUBSUB", "SHARDNUMSUB", "sh") == [b"sh", 1]
    assert pub.spublish("sh", "m") == 1
    assert _next(ps) == {"type": "smessage", "pattern": None, "channel": b"sh", "data": b"m"}
    assert pub.publish("sh", "m") == 0  # shard channels are their own namespace
    ps.close()
    sub.close()
    pub.close()


def test_fifty_subscribers_each_get_every_message(srv: EmbeddedServer) -> None:
    subs = []
    for i in range(50):
        c = redis.Redis.from_url(srv.url, protocol=2 + (i % 2))
        ps = c.pubsub()
        ps.subscribe("fan")
        assert _next(ps)["type"] == "subscribe"
        subs.append((c, ps))
    pub = redis.Redis.from_url(srv.url)
    for n in range(20):
        assert pub.publish("fan", f"m{n}") == 50
    for c, ps in subs:
        assert [_next(ps)["data"] for _ in range(20)] == [f"m{n}".encode() for n in range(20)]
        ps.close()
        c.close()
    pub.close()


def test_slow_subscriber_is_disconnected_and_others_keep_receiving(srv: EmbeddedServer) -> None:
    """The limit is pubsub 256kb hard (fixture).  16 MB published to a reader that never
    reads passes it whatever the kernel buffers hold (tcp_wmem max is 4 MB by default, the
    reader's receive buffer 4 KB); a reader that keeps up receives every message."""
    before = srv.server.stats.client_output_buffer_limit_disconnections  # type: ignore[union-attr]
    slow = socket.socket()
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.connect(("127.0.0.1", srv.port))
    slow.sendall(b"SUBSCRIBE flood\r\n")
    good_c = redis.Redis.from_url(srv.url)
    good = good_c.pubsub()
    good.subscribe("flood")
    assert _next(good)["type"] == "subscribe"
    pub = redis.Redis.from_url(srv.url)
    deadline = time.monotonic() + 1
    while pub.pubsub_numsub("flood")[0][1] < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    received = [0]
    n_batches, per_batch = 128, 16
    total = n_batches * per_batch

    def reader() -> None:
        end = time.monotonic() + 30
        while received[0] < total and time.monotonic() < end:
            if good.get_message(timeout=0.1) is not None:
                received[0] += 1

    t = threading.Thread(target=reader)
    t.start()
    payload = b"x" * 8192
    counts: list[int] = []
    for _ in range(n_batches):
        p = pub.pipeline(transaction=False)
        for _ in range(per_batch):
            p.publish("flood", payload)
        counts += p.execute()
    t.join(40)
    assert received[0] == total
    assert counts[0] == 2 and counts[-1] == 1
    assert srv.server.stats.client_output_buffer_limit_disconnections == before + 1  # type: ignore[union-attr]
    # The slow socket sees the end of the stream once it drains what was sent.
    slow.settimeout(5)
    got = 0
    try:
        while chunk := slow.recv(1 << 16):
            got += len(chunk)
    except ConnectionResetError:
        pass
    assert got < total * len(payload)
    slow.close()
    good.close()
    good_c.close()
    pub.close()


def test_asyncio_pubsub(srv: EmbeddedServer) -> None:
    async def main() -> list[Any]:
        c = aioredis.Redis.from_url(srv.url, protocol=3)
        ps = c.pubsub()
        await ps.subscribe("aio")
        out = []
        pub = aioredis.Redis.from_url(srv.url)
        while len(out) < 3:
            m = await ps.get_message(timeout=1.0)
            if m is None:
                continue
            out.append(m)
            if m["type"] == "subscribe":
                await pub.publish("aio", "one")
                await pub.publish("aio", "two")
        await ps.aclose()
        await c.aclose()
        await pub.aclose()
        return out

    msgs = asyncio.run(main())
    assert [m["type"] for m in msgs] == ["subscribe", "message", "message"]
    assert [m["data"] for m in msgs[1:]] == [b"one", b"two"]


def test_reset_and_disconnect_drop_subscriptions(srv: EmbeddedServer) -> None:
    pub = redis.Redis.from_url(srv.url)
    s = socket.create_connection(("127.0.0.1", srv.port))
    s.settimeout(2)
    s.sendall(b"SUBSCRIBE gone\r\nPSUBSCRIBE g*\r\nRESET\r\nGET nokey\r\n")
    want = (b"*3\r\n$9\r\nsubscribe\r\n$4\r\ngone\r\n:1\r\n*3\r\n$10\r\npsubscribe\r\n$2\r\ng*\r\n:2\r\n"
            b"+RESET\r\n$-1\r\n")
    got = b""
    while len(got) < len(want):
        got += s.recv(65536)
    assert got == want
    assert pub.pubsub_numsub("gone") == [(b"gone", 0)] and pub.pubsub_numpat() == 0
    s.sendall(b"SUBSCRIBE gone\r\n")
    s.recv(65536)
    assert pub.pubsub_numsub("gone") == [(b"gone", 1)]
    s.close()
    deadline = time.monotonic() + 2
    while pub.pubsub_numsub("gone")[0][1] and time.monotonic() < deadline:
        time.sleep(0.01)
    assert pub.publish("gone", "x") == 0
    pub.close()
