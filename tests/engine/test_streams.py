"""Streams through stock redis-py: blocking reads, consumer groups, claiming, XINFO, events.

The reply-by-reply agreement with redis-server is in tests/differential/test_differential_streams.py;
this module covers what depends on time or on several clients (blocking, idle times, claims).
Idle-time tolerances: a freshly delivered entry's idle time is compared with the wall time the
test has spent since, read on the same machine (no fixed timing is asserted).
"""

from __future__ import annotations

import threading
import time

import pytest
import redis


def test_xadd_auto_ids_increase_and_ranges(r: redis.Redis) -> None:
    ids = [r.xadd("s", {"n": i}) for i in range(5)]
    assert ids == sorted(ids, key=lambda b: tuple(int(x) for x in b.split(b"-")))
    assert len(set(ids)) == 5
    assert [e[0] for e in r.xrange("s")] == ids
    assert [e[0] for e in r.xrevrange("s", count=2)] == ids[:-3:-1]
    assert r.xrange("s", min=f"({ids[0].decode()}", max=f"({ids[-1].decode()}") == r.xrange("s")[1:-1]
    assert r.type("s") == b"stream"
    assert r.object("encoding", "s") == b"stream"


def test_xread_blocks_until_xadd(r: redis.Redis, srv: object) -> None:
    r.xadd("s", {"a": 1}, id="1-0")
    other = redis.Redis(port=r.connection_pool.connection_kwargs["port"])
    result: list[object] = []

    def reader() -> None:
        result.append(other.xread({"s": "$"}, block=5000))

    t = threading.Thread(target=reader)
    t.start()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and b"xread" not in str(r.client_list()).encode():
        time.sleep(0.02)
    r.xadd("s", {"b": 2}, id="2-0")
    t.join(10)
    other.close()
    assert not t.is_alive()
    reply = result[0]
    entries = reply[b"s"][0] if isinstance(reply, dict) else reply[0][1]
    assert entries == [(b"2-0", {b"b": b"2"})]


def test_xread_block_times_out_with_nil(r: redis.Redis) -> None:
    r.xadd("s", {"a": 1})
    assert r.xread({"s": "$"}, block=50) in (None, [], {})


def test_xreadgroup_blocking_delivers_to_one_consumer(r: redis.Redis) -> None:
    r.xgroup_create("s", "g", id="$", mkstream=True)
    port = r.connection_pool.connection_kwargs["port"]
    got: dict[str, object] = {}

    def consume(name: str) -> None:
        c = redis.Redis(port=port)
        got[name] = c.xreadgroup("g", name, {"s": ">"}, count=1, block=3000)
        c.close()

    threads = [threading.Thread(target=consume, args=(n,)) for n in ("c1", "c2")]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and len(r.xinfo_consumers("s", "g")) < 2:
        time.sleep(0.02)
    r.xadd("s", {"job": 1}, id="1-0")
    for t in threads:
        t.join(10)
    delivered = [v for v in got.values() if v]
    assert len(delivered) == 1  # the other timed out: one entry goes to one consumer
    assert r.xpending("s", "g")["pending"] == 1


def test_pending_idle_claim_and_autoclaim(r: redis.Redis) -> None:
    r.xadd("s", {"a": 1}, id="1-0")
    r.xadd("s", {"b": 2}, id="2-0")
    r.xgroup_create("s", "g", id="0")
    t0 = time.monotonic()
    r.xreadgroup("g", "alice", {"s": ">"})
    time.sleep(0.05)
    rows = r.xpending_range("s", "g", "-", "+", 10)
    elapsed_ms = (time.monotonic() - t0) * 1000
    assert [row["message_id"] for row in rows] == [b"1-0", b"2-0"]
    assert all(0 <= row["time_since_delivered"] <= elapsed_ms + 5 for row in rows)
    assert all(row["times_delivered"] == 1 for row in rows)
    # IDLE filter: nothing has been idle for an hour.
    assert r.xpending_range("s", "g", "-", "+", 10, idle=3_600_000) == []
    # XCLAIM with a min-idle-time above the idle time claims nothing; RETRYCOUNT sets the counter.
    assert r.xclaim("s", "g", "bob", 3_600_000, ["1-0"]) == []
    claimed = r.xclaim("s", "g", "bob", 0, ["1-0"], idle=5000, retrycount=7)
    assert claimed == [(b"1-0", {b"a": b"1"})]
    row = r.xpending_range("s", "g", "1-0", "1-0", 1)[0]
    assert row["consumer"] == b"bob" and row["times_delivered"] == 7 and row["time_since_delivered"] >= 5000
    # XAUTOCLAIM moves the rest to carol and returns a 0-0 cursor at the end.
    cursor, entries, deleted = r.xautoclaim("s", "g", "carol", 0, "0-0")
    assert cursor == b"0-0" and [e[0] for e in entries] == [b"1-0", b"2-0"] and deleted == []
    assert {c["name"]: c["pending"] for c in r.xinfo_consumers("s", "g")} == {b"alice": 0, b"bob": 0, b"carol": 2}


def test_xinfo_full_lists_pel_and_consumers(r: redis.Redis) -> None:
    r.xadd("s", {"a": 1}, id="1-0")
    r.xgroup_create("s", "g", id="0")
    r.xreadgroup("g", "alice", {"s": ">"})
    info = r.xinfo_stream("s", full=True)
    assert info["length"] == 1 and info["entries-added"] == 1
    group = info["groups"][0]
    assert group["name"] == b"g" and group["pel-count"] == 1 and group["lag"] == 0 and group["entries-read"] == 1
    # redis-py decodes only the outer map's keys in RESP3; real redis-server's reply has the same shape.
    consumer = {(k.decode() if isinstance(k, bytes) else k): v for k, v in group["consumers"][0].items()}
    assert consumer["name"] == b"alice" and consumer["pel-count"] == 1


def test_stream_keyspace_events(r: redis.Redis) -> None:
    r.config_set("notify-keyspace-events", "Et")
    p = r.pubsub()
    p.psubscribe("__keyevent@0__:*")
    assert p.get_message(timeout=1)["type"] == "psubscribe"
    r.xadd("s", {"a": 1}, id="1-0", maxlen=0)
    r.xgroup_create("s", "g", id="0")
    r.xgroup_createconsumer("s", "g", "c")
    r.xdel("s", "1-0")
    events = []
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline and len(events) < 4:
        m = p.get_message(timeout=0.2)
        if m and m["type"] == "pmessage":
            events.append(m["channel"].split(b":", 1)[1])
    p.close()
    r.config_set("notify-keyspace-events", "")
    assert events[:4] == [b"xadd", b"xtrim", b"xgroup-create", b"xgroup-createconsumer"]


def test_copy_and_wrongtype(r: redis.Redis) -> None:
    r.xadd("s", {"a": 1}, id="1-0")
    r.xgroup_create("s", "g", id="0")
    assert r.copy("s", "t")
    r.xadd("t", {"b": 2}, id="2-0")
    assert r.xlen("s") == 1 and r.xlen("t") == 2
    assert [g["name"] for g in r.xinfo_groups("t")] == [b"g"]
    r.set("str", "x")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        r.xadd("str", {"a": 1})


def test_xreadgroup_common_form_propagation() -> None:
    """XREADGROUP's common form (GROUP g c [COUNT n] STREAMS key >, served without the general
    parse) appends what Redis propagates: XGROUP CREATECONSUMER for a new consumer, an XCLAIM
    ... FORCE JUSTID per delivered entry and XGROUP SETID with the read counter; nothing when
    there is nothing new and the consumer exists."""
    from engine.server import EmbeddedServer
    from tests.engine.conftest import aof_commands

    with EmbeddedServer(appendonly="yes", appendfsync="always") as srv:
        r = redis.Redis(port=srv.port)
        r.xadd("s", {"f": "v"}, id="1-1")
        r.xadd("s", {"f": "w"}, id="2-1")
        r.xgroup_create("s", "g", id="0")
        before = len(aof_commands(srv))
        assert r.execute_command("XREADGROUP", "GROUP", "g", "c", "COUNT", "1", "STREAMS", "s", ">") == [
            [b"s", [(b"1-1", {b"f": b"v"})]]]
        assert r.execute_command("XREADGROUP", "group", "g", "c", "streams", "s", ">") == [
            [b"s", [(b"2-1", {b"f": b"w"})]]]
        assert r.execute_command("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">") == []  # nil, as redis-py gives it
        with pytest.raises(redis.ResponseError, match="value is not an integer"):
            r.execute_command("XREADGROUP", "GROUP", "g", "c", "COUNT", "x", "STREAMS", "s", ">")
        with pytest.raises(redis.ResponseError, match="NOGROUP"):
            r.execute_command("XREADGROUP", "GROUP", "nog", "c", "COUNT", "1", "STREAMS", "s", ">")
        r.close()
        got = aof_commands(srv)[before:]
    assert [c[:2] for c in got] == [[b"XGROUP", b"CREATECONSUMER"], [b"XCLAIM", b"s"], [b"XGROUP", b"SETID"],
                                    [b"XCLAIM", b"s"], [b"XGROUP", b"SETID"]]
    assert got[1][5] == b"1-1" and got[2][4:] == [b"1-1", b"ENTRIESREAD", b"1"]
    assert got[3][5] == b"2-1" and got[4][4:] == [b"2-1", b"ENTRIESREAD", b"2"]


def test_xadd_auto_id_propagates_the_generated_id() -> None:
    """XADD with ``*`` (or ``ms-*``) appends the ID it generated, so replaying the AOF makes the
    same entry; an explicit full ID is appended as sent."""
    from engine.server import EmbeddedServer
    from tests.engine.conftest import aof_commands

    with EmbeddedServer(appendonly="yes", appendfsync="always") as srv:
        r = redis.Redis(port=srv.port)
        auto = r.xadd("s", {"f": "v"})
        partial = r.execute_command("XADD", "s", "MAXLEN", "5", "99999999999999-*", "f", "w")
        r.xadd("s", {"f": "x"}, id="99999999999999-7")
        r.close()
        got = [c for c in aof_commands(srv) if c[0] == b"XADD"]
    assert got == [[b"XADD", b"s", auto, b"f", b"v"], [b"XADD", b"s", b"MAXLEN", b"5", partial, b"f", b"w"],
                   [b"XADD", b"s", b"99999999999999-7", b"f", b"x"]]


def test_xreadgroup_count_one_walks_consecutive_and_sparse_ids(r: redis.Redis) -> None:
    """COUNT 1 reads each entry once in ID order whether the next ID is the very next one (1-1,
    1-2) or further on (3-0), and a deleted last entry is not waited for."""
    for sid in ("1-1", "1-2", "3-0", "4-0", "4-1"):
        r.xadd("s", {"f": sid}, id=sid)
    r.xgroup_create("s", "g", id="0")
    r.xdel("s", "4-1")
    read = [r.execute_command("XREADGROUP", "GROUP", "g", "c", "COUNT", "1", "STREAMS", "s", ">") for _ in range(5)]
    # RESP2: [[key, [entry]]]; RESP3 as redis-py parses it: {key: [[entry]]}; nil comes as []
    entries = [(list(v.values())[0][0] if isinstance(v, dict) else v[0][1]) if v else [] for v in read]
    got = [e[0][0] if e else None for e in entries]
    assert got == [b"1-1", b"1-2", b"3-0", b"4-0", None]
    assert r.xpending("s", "g")["pending"] == 4
