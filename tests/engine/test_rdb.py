"""Unit tests of the RDB codecs: CRC-64, LZF, listpack, intset, ziplist and the RDB file itself.

Known values come from Redis's sources: the CRC-64 check value is crc64.c's self-test; the
listpack and intset bytes follow the layouts in listpack.c / intset.c (and are checked against
real DUMP payloads in tests/differential/test_rdb_interop.py).
"""

from __future__ import annotations

import math
import os
import struct
import time
from collections import deque
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.config import Config
from engine.objects import ZSet
from engine.persistence import intset, listpack, lzf, rdb, ziplist
from engine.persistence.crc64 import crc64
from engine.server import Server

small = settings(max_examples=60, deadline=None)


def test_crc64_check_value() -> None:
    assert crc64(b"123456789") == 0xE9C6D914C4B8D9CA
    assert crc64(b"") == 0
    # Incremental use equals one pass (the RDB writer feeds 64 KiB chunks).
    assert crc64(b"56789", crc64(b"1234")) == crc64(b"123456789")


@small
@given(st.binary(max_size=3000))
def test_lzf_round_trip(data: bytes) -> None:
    assert lzf.decompress(lzf.compress(data), len(data)) == data


def test_lzf_known_stream_and_errors() -> None:
    # literal "ab" (ctrl 1), then a back reference (ctrl 0x40: len 2 + 2 = 4 bytes, offset 1 + 1).
    assert lzf.decompress(b"\x01ab\x40\x01", 6) == b"ababab"
    assert lzf.compress(b"a" * 100) != b"a" * 100 and len(lzf.compress(b"a" * 100)) < 10
    with pytest.raises(lzf.LzfError):
        lzf.decompress(b"\x01ab\x40\x01", 5)
    with pytest.raises(lzf.LzfError):
        lzf.decompress(b"\x20\x05", 3)


elements = st.lists(
    st.one_of(
        st.binary(max_size=5000),
        st.integers(-(1 << 63), (1 << 63) - 1).map(lambda v: str(v).encode()),
        st.sampled_from([b"0", b"-0", b"007", b"127", b"128", b"-4096", b"-4097", b"4095", b"4096"]),
    ),
    max_size=30,
)


@small
@given(elements)
def test_listpack_round_trip(els: list[bytes]) -> None:
    assert listpack.decode(listpack.encode(els)) == els


@small
@given(elements)
def test_ziplist_round_trip(els: list[bytes]) -> None:
    assert ziplist.decode(ziplist.encode(els)) == els


def test_listpack_known_bytes() -> None:
    # total 12, count 2; "a" = 0x81 'a' backlen 2; 1 = 0x01 backlen 1; 0xFF.
    assert listpack.encode([b"a", b"1"]) == bytes.fromhex("0c000000020081610201 01ff".replace(" ", ""))
    assert listpack.encode([b"-1"])[6:9] == bytes((0xDF, 0xFF, 2))  # 13-bit int -1
    assert listpack.encode([b"x" * 200])[6:8] == bytes((0xE0, 200))  # 12-bit length
    with pytest.raises(listpack.ListpackError):
        listpack.decode(b"\x07\x00\x00\x00\x00\x00\xfe")
    with pytest.raises(listpack.ListpackError):
        listpack.decode(listpack.encode([b"a"])[:-1])


@small
@given(st.sets(st.integers(-(1 << 63), (1 << 63) - 1), max_size=50))
def test_intset_round_trip(vals: set[int]) -> None:
    assert intset.decode(intset.encode(vals)) == sorted(vals)


def test_intset_known_bytes() -> None:
    assert intset.encode([3, 1, 2]) == struct.pack("<II3h", 2, 3, 1, 2, 3)
    assert intset.encode([1, 70000])[:4] == struct.pack("<I", 4)
    assert intset.encode([1, 1 << 40])[:4] == struct.pack("<I", 8)
    with pytest.raises(intset.IntsetError):
        intset.decode(struct.pack("<II2h", 2, 2, 5, 1))


def _zset(pairs: dict[bytes, float]) -> ZSet:
    z = ZSet()
    for m, s in pairs.items():
        z.add(m, s)
    return z


def sample() -> dict[bytes, object]:
    return {
        b"s": b"hello",
        b"n": b"-123",
        b"ba": bytearray(b"mutable"),
        b"long": b"ab" * 500,
        b"h": {b"f": b"v"},
        b"H": {b"f%d" % i: b"v" for i in range(600)},
        b"l": deque([b"1", b"two", b"x" * 10000]),
        b"si": {b"1", b"2", b"3"},
        b"ss": {b"a", b"b"},
        b"z": _zset({b"a": 1.0, b"b": 0.1, b"c": -math.inf, b"d": -0.0}),
        b"Z": _zset({b"m%d" % i: float(i) for i in range(300)}),
    }


@pytest.mark.parametrize("compression", [True, False])
def test_rdb_round_trip(compression: bool) -> None:
    data = sample()
    blob = rdb.dumps([rdb.DatabaseImage(0, data, {b"s": 10**13}), rdb.DatabaseImage(15, {b"k": b"v"})],
                     compression=compression)
    assert blob.startswith(b"REDIS0010")
    res = rdb.loads(blob)
    expected = {k: (bytes(v) if isinstance(v, bytearray) else v) for k, v in data.items()}
    assert res.dbs == {0: (expected, {b"s": 10**13}), 15: ({b"k": b"v"}, {})}
    assert res.end_offset == len(blob)
    assert res.aux[b"redis-ver"] == rdb.REDIS_VERSION


def test_rdb_drops_expired_keys_when_asked() -> None:
    blob = rdb.dumps([rdb.DatabaseImage(0, {b"old": b"1", b"new": b"2"}, {b"old": 1000, b"new": 5000})])
    res = rdb.loads(blob, now_ms=2000)
    assert res.dbs[0] == ({b"new": b"2"}, {b"new": 5000}) and res.expired_skipped == 1
    assert len(rdb.loads(blob).dbs[0][0]) == 2


def test_rdb_corruption_is_reported_with_offset(tmp_path: Path) -> None:
    blob = bytearray(rdb.dumps([rdb.DatabaseImage(0, {b"key": b"value"})]))
    flipped = bytearray(blob)
    flipped[blob.index(b"value")] ^= 1
    with pytest.raises(rdb.RdbError, match="CRC error"):
        rdb.loads(bytes(flipped))
    # A zero checksum means "not computed" (rdbchecksum no).
    unchecked = bytes(flipped[:-8]) + bytes(8)
    assert rdb.loads(unchecked).dbs[0][0] == {b"key": b"walue"}
    (tmp_path / "dump.rdb").write_bytes(bytes(blob[:-12]))
    with pytest.raises(rdb.RdbError) as info:
        rdb.load(tmp_path / "dump.rdb")
    assert "dump.rdb" in str(info.value) and "offset" in str(info.value)
    with pytest.raises(rdb.RdbError, match="signature"):
        rdb.loads(b"NOTREDIS0" + bytes(blob[9:]))


def test_module_aux_and_function_skipped() -> None:
    def s(b: bytes) -> bytes:
        return bytes((len(b),)) + b

    body = b"REDIS0010"
    # MODULE_AUX: module id (64-bit length), when_opcode 2, when 2, UINT 7, STRING "x", EOF.
    body += b"\xf7" + b"\x81" + struct.pack(">Q", 0x1234) + b"\x02\x02" + b"\x02\x07" + b"\x05" + s(b"x") + b"\x00"
    body += b"\xf5" + s(b"#!lua name=lib\nreturn 1")
    body += b"\xfe\x00\x00" + s(b"k") + s(b"v") + b"\xff"
    blob = body + struct.pack("<Q", crc64(body))
    assert rdb.loads(blob).dbs == {0: ({b"k": b"v"}, {})}


def test_save_is_atomic(tmp_path: Path) -> None:
    target = tmp_path / "dump.rdb"
    rdb.save(target, [rdb.DatabaseImage(0, {b"a": b"1"})])
    first = target.read_bytes()

    class Boom(dict):
        def items(self):  # type: ignore[override]
            yield b"b", b"2"
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        rdb.save(target, [rdb.DatabaseImage(0, Boom(x=1))])
    assert target.read_bytes() == first
    assert [p.name for p in tmp_path.iterdir()] == ["dump.rdb"]


# ---------------------------------------------------------------------------------------
# The server side: SAVE, BGSAVE (fork), save rules, load at start, on a real server that
# is built but not started (no sockets, no event loop): the persistence code is driven
# directly, as the cron and the commands drive it.


def make_server(dir: Path, **options: str) -> Server:
    """A server on ``dir`` with no save rules unless given (redis.conf names and values)."""
    config = Config()
    opts = {"dir": str(dir), "save": "", **options}
    config.load("\n".join(f'{k} "{v}"' for k, v in opts.items()), "<test>")
    return Server(config, chdir=False)


def wait_child(server: Server, timeout_s: float = 10.0) -> None:
    from engine.persistence import lifecycle

    deadline = time.monotonic() + timeout_s
    while lifecycle.state(server).child_pid is not None:
        assert time.monotonic() < deadline, "child did not finish"
        lifecycle.cron(server)
        time.sleep(0.01)


def test_save_bgsave_and_load_on_start(tmp_path: Path) -> None:
    from engine import persistence

    srv = make_server(tmp_path)
    srv.dbs[0].data.update(sample())
    srv.dbs[0].expires[b"s"] = 4102444800000
    srv.dbs[2].data[b"x"] = b"y"
    srv.dirty = 7
    assert persistence.rdb_save(srv)
    assert srv.dirty == 0 and (tmp_path / "dump.rdb").exists()
    srv.dbs[2].data[b"x"] = b"z"
    srv.dirty = 3
    assert persistence.rdb_save_background(srv)
    assert not persistence.rdb_save_background(srv)  # one child at a time
    srv.dbs[2].data[b"x"] = b"after-fork"  # the child's copy-on-write image is unaffected
    srv.dirty = 4
    wait_child(srv)
    info = dict(persistence.info_fields(srv))
    assert info["rdb_last_bgsave_status"] == "ok" and info["rdb_bgsave_in_progress"] == 0
    assert srv.dirty == 1  # changes made while the child ran stay counted
    fresh = make_server(tmp_path)
    persistence.load_on_start(fresh)
    assert fresh.dbs[2].data == {b"x": b"z"}
    assert fresh.dbs[0].expires == {b"s": 4102444800000}
    assert fresh.dbs[0].data[b"Z"] == srv.dbs[0].data[b"Z"]
    assert [p.name for p in tmp_path.iterdir()] == ["dump.rdb"]


def test_save_rules_trigger_bgsave(tmp_path: Path) -> None:
    from engine import persistence

    srv = make_server(tmp_path, save="1 2")
    persistence.state(srv).lastsave = int(time.time()) - 5
    srv.dbs[0].data[b"k"] = b"v"
    srv.dirty = 1
    persistence.cron(srv)
    assert persistence.state(srv).child_pid is None  # 1 change < 2
    srv.dirty = 2
    persistence.cron(srv)
    assert persistence.state(srv).child_pid is not None
    wait_child(srv)
    assert rdb.load(tmp_path / "dump.rdb").dbs[0][0] == {b"k": b"v"}
    assert srv.dirty == 0


def test_failed_bgsave_is_reported(tmp_path: Path) -> None:
    from engine import persistence

    srv = make_server(tmp_path, dbfilename="missing-dir/dump.rdb")
    srv.dbs[0].data[b"k"] = b"v"
    assert persistence.rdb_save_background(srv)
    wait_child(srv)
    assert dict(persistence.info_fields(srv))["rdb_last_bgsave_status"] == "err"
    assert not persistence.rdb_save(srv)


def test_corrupt_rdb_and_unwritable_dir_fail_at_start(tmp_path: Path) -> None:
    from engine import persistence

    (tmp_path / "dump.rdb").write_bytes(b"REDIS0010\xfe")
    with pytest.raises(persistence.PersistenceError, match="Fatal error loading the DB"):
        persistence.load_on_start(make_server(tmp_path))
    with pytest.raises(persistence.PersistenceError, match="chdir"):
        persistence.load_on_start(make_server(tmp_path / "nope"))
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        # root writes through mode bits; /proc refuses new files to everyone.
        target = ro if not os.access(ro, os.W_OK) else Path("/proc")
        with pytest.raises(persistence.PersistenceError, match="cannot write"):
            persistence.load_on_start(make_server(target))
    finally:
        ro.chmod(0o755)


def test_shutdown_saves_per_argument(tmp_path: Path) -> None:
    from engine import persistence

    srv = make_server(tmp_path)
    srv.dbs[0].data[b"k"] = b"v"
    assert persistence.on_shutdown(srv, save=None)  # no save rules: nothing written
    assert not (tmp_path / "dump.rdb").exists()
    assert persistence.on_shutdown(srv, save=False)
    assert not (tmp_path / "dump.rdb").exists()
    assert persistence.on_shutdown(srv, save=True)
    assert rdb.load(tmp_path / "dump.rdb").dbs[0][0] == {b"k": b"v"}
    srv.config.set_text("save", "3600 1")
    srv.dbs[0].data[b"k"] = b"w"
    assert persistence.on_shutdown(srv, save=None)
    assert rdb.load(tmp_path / "dump.rdb").dbs[0][0] == {b"k": b"w"}


# ---------------------------------------------------------------------------------------
# Through the running server (EmbeddedServer): the commands' replies and error texts.


def raw(c: object, *args: str) -> object:
    """The reply as sent (redis-py's callbacks turn status replies into booleans)."""
    conn = c.connection_pool.get_connection()  # type: ignore[attr-defined]
    try:
        conn.send_command(*args)
        return conn.read_response()
    finally:
        c.connection_pool.release(conn)  # type: ignore[attr-defined]


def test_save_commands_on_a_running_server(tmp_path: Path) -> None:
    import redis

    from engine.server import EmbeddedServer

    with EmbeddedServer(dir=str(tmp_path)) as srv:
        c = redis.Redis.from_url(srv.url)
        c.set("k", "v")
        assert raw(c, "SAVE") == b"OK"
        assert rdb.load(tmp_path / "dump.rdb").dbs[0][0] == {b"k": b"v"}
        assert isinstance(raw(c, "LASTSAVE"), int)
        with pytest.raises(redis.ResponseError, match="^syntax error$"):
            c.execute_command("BGSAVE", "now")
        c.set("k", "w")
        assert raw(c, "BGSAVE") == b"Background saving started"
        deadline = time.monotonic() + 10
        while rdb.load(tmp_path / "dump.rdb").dbs[0][0] != {b"k": b"w"}:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        # With appendonly no, Redis 7.0 still writes a base and a manifest naming only it.
        # (scheduled when the BGSAVE child has not been reaped by the cron yet)
        assert raw(c, "BGREWRITEAOF") in (b"Background append only file rewriting started",
                                          b"Background append only file rewriting scheduled")
        manifest = tmp_path / "appendonlydir" / "appendonly.aof.manifest"
        while not manifest.exists():
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert manifest.read_text() == "file appendonly.aof.1.base.rdb seq 1 type b\n"
        with pytest.raises(redis.ResponseError, match="^syntax error$"):
            c.execute_command("BGSAVE", "foo")
        with pytest.raises(redis.ResponseError, match="wrong number of arguments for 'save'"):
            c.execute_command("SAVE", "x")
    with EmbeddedServer(dir=str(tmp_path)) as srv:
        assert redis.Redis.from_url(srv.url).get("k") == b"w"


def test_failed_bgsave_refuses_writes_with_misconf(tmp_path: Path) -> None:
    """stop-writes-on-bgsave-error (default yes) with save rules: after a failed BGSAVE,
    writes and PING get Redis's MISCONF error, reads still work (processCommand)."""
    import redis

    from engine.persistence.lifecycle import MISCONF_RDB
    from engine.server import EmbeddedServer

    with EmbeddedServer(dir=str(tmp_path), save="3600 1", dbfilename="no-such-dir/dump.rdb") as srv:
        c = redis.Redis.from_url(srv.url)
        c.set("k", "v")
        assert raw(c, "BGSAVE") == b"Background saving started"
        deadline = time.monotonic() + 10
        last = b"v"
        for i in range(10_000):
            try:
                c.set("k", i)
            except redis.ResponseError as e:
                assert str(e) == MISCONF_RDB
                break
            last = b"%d" % i
            assert time.monotonic() < deadline
            time.sleep(0.02)
        with pytest.raises(redis.ResponseError, match="^MISCONF"):
            c.ping()
        assert c.get("k") == last
