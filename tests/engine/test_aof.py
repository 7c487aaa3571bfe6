"""The multi-part AOF: manifest, RESP command files, truncation policy, rewrite, interop.

Interop: the engine's AOF directory is accepted by ``redis-check-aof`` (on the manifest) and
loaded by a real ``redis-server --appendonly yes`` started on it; an AOF directory written by
real redis-server is replayed by the engine's loader.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections import deque
from pathlib import Path

import pytest

from engine.objects import ZSet
from engine.persistence import aof, rdb
from engine.server import Server
from tests.support.redis_real import real_redis


def replay_into(dbs: dict[int, dict[bytes, object]]):
    """A minimal command applier for the loader tests: SELECT, SET, RPUSH, HSET, DEL, PEXPIREAT."""
    state = {"db": 0}
    expires: dict[tuple[int, bytes], int] = {}

    def apply(argv: list[bytes]) -> None:
        name = argv[0].lower()
        db = dbs.setdefault(state["db"], {})
        if name == b"select":
            state["db"] = int(argv[1])
        elif name == b"set":
            db[argv[1]] = argv[2]
        elif name == b"rpush":
            db.setdefault(argv[1], deque()).extend(argv[2:])  # type: ignore[union-attr]
        elif name == b"hset":
            h = db.setdefault(argv[1], {})
            for i in range(2, len(argv), 2):
                h[argv[i]] = argv[i + 1]  # type: ignore[index]
        elif name == b"sadd":
            db.setdefault(argv[1], set()).update(argv[2:])  # type: ignore[union-attr]
        elif name == b"zadd":
            z = db.setdefault(argv[1], ZSet())
            for i in range(2, len(argv), 2):
                z.add(argv[i + 1], float(argv[i]))  # type: ignore[union-attr]
        elif name == b"del":
            for k in argv[1:]:
                db.pop(k, None)
        elif name == b"pexpireat":
            expires[(state["db"], argv[1])] = int(argv[2])
        elif name in (b"multi", b"exec"):
            pass
        else:
            raise AssertionError(f"unexpected command {argv!r}")

    def apply_rdb(res: rdb.RdbLoadResult) -> None:
        for i, (d, e) in res.dbs.items():
            dbs.setdefault(i, {}).update(d)
            expires.update({(i, k): v for k, v in e.items()})

    return apply, apply_rdb, expires


def test_encode_and_parse_commands() -> None:
    raw = aof.encode_command([b"SET", "k", 10]) + aof.encode_command([b"x" * 3, b""])
    assert raw.startswith(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\n10\r\n")
    assert [a for a, _ in aof.iter_commands(raw)] == [[b"SET", b"k", b"10"], [b"xxx", b""]]


def test_manifest_round_trip() -> None:
    text = (
        "file appendonly.aof.2.base.rdb seq 2 type b\n"
        "file appendonly.aof.1.incr.aof seq 1 type h\n"
        "file appendonly.aof.2.incr.aof seq 2 type i\n"
        "file appendonly.aof.3.incr.aof seq 3 type i\n"
    )
    m = aof.AofManifest.parse(text)
    assert m.base and m.base.name == "appendonly.aof.2.base.rdb"
    assert [i.seq for i in m.incrs] == [2, 3] and m.curr_incr_seq == 3
    assert m.text() == text
    with pytest.raises(aof.AofError):
        aof.AofManifest.parse("file a seq x type b\n")


def open_aof(tmp_path: Path, **kw) -> aof.AppendOnlyFile:
    f = aof.AppendOnlyFile(tmp_path, **kw)
    f.open_on_start(None, lambda: [])
    return f


def test_layout_feed_and_reload(tmp_path: Path) -> None:
    f = open_aof(tmp_path, appendfsync=aof.FSYNC_ALWAYS)
    d = tmp_path / "appendonlydir"
    assert sorted(os.listdir(d)) == [
        "appendonly.aof.1.base.rdb",
        "appendonly.aof.1.incr.aof",
        "appendonly.aof.manifest",
    ]
    assert (d / "appendonly.aof.manifest").read_text() == (
        "file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n"
    )
    f.feed(0, [b"SET", b"a", b"1"])
    f.feed(0, [b"SET", b"b", b"2"])
    f.feed(3, [b"RPUSH", b"l", b"x", b"y"])
    f.close()
    assert (d / "appendonly.aof.1.incr.aof").read_bytes().count(b"SELECT") == 2
    dbs: dict[int, dict[bytes, object]] = {}
    apply, apply_rdb, _ = replay_into(dbs)
    res = aof.load(d, "appendonly.aof.manifest", apply_command=apply, apply_rdb=apply_rdb)
    assert res.commands == 5 and res.truncated_at is None
    assert dbs[0] == {b"a": b"1", b"b": b"2"} and dbs[3] == {b"l": deque([b"x", b"y"])}


def test_truncated_tail_and_corrupt_middle(tmp_path: Path) -> None:
    f = open_aof(tmp_path)
    for i in range(5):
        f.feed(0, [b"SET", b"k%d" % i, b"v"])
    f.close()
    incr = tmp_path / "appendonlydir" / "appendonly.aof.1.incr.aof"
    whole = incr.read_bytes()
    incr.write_bytes(whole[:-7])  # tear the last command
    d = tmp_path / "appendonlydir"
    with pytest.raises(aof.AofError, match="Unexpected end of file.*appendonly.aof.1.incr.aof"):
        aof.load(d, "appendonly.aof.manifest", apply_command=lambda a: None, apply_rdb=lambda r: None,
                 load_truncated=False)
    dbs: dict[int, dict[bytes, object]] = {}
    apply, apply_rdb, _ = replay_into(dbs)
    res = aof.load(d, "appendonly.aof.manifest", apply_command=apply, apply_rdb=apply_rdb)
    assert res.truncated_at is not None and sorted(dbs[0]) == [b"k0", b"k1", b"k2", b"k3"]
    assert incr.read_bytes() == whole[: res.truncated_at[1]]  # truncated to the last whole command
    # A bad byte in the middle refuses to load and names the file and offset.
    bad = bytearray(whole)
    at = whole.index(b"*3", 40)
    bad[at] = ord("?")
    incr.write_bytes(bytes(bad))
    with pytest.raises(aof.AofError) as info:
        aof.load(d, "appendonly.aof.manifest", apply_command=lambda a: None, apply_rdb=lambda r: None)
    assert info.value.offset == at and "appendonly.aof.1.incr.aof" in str(info.value)
    assert f"offset {at}" in str(info.value)


def test_unfinished_multi_is_dropped(tmp_path: Path) -> None:
    f = open_aof(tmp_path)
    f.feed(0, [b"SET", b"a", b"1"])
    f.feed(0, [b"MULTI"])
    f.feed(0, [b"SET", b"b", b"2"])
    f.close()
    dbs: dict[int, dict[bytes, object]] = {}
    apply, apply_rdb, _ = replay_into(dbs)
    res = aof.load(tmp_path / "appendonlydir", "appendonly.aof.manifest", apply_command=apply, apply_rdb=apply_rdb)
    assert dbs[0] == {b"a": b"1"} and res.truncated_at is not None


@pytest.mark.parametrize("preamble", [True, False])
def test_rewrite_replaces_base_and_old_incrs(tmp_path: Path, preamble: bool) -> None:
    f = open_aof(tmp_path, use_rdb_preamble=preamble)
    f.feed(0, [b"SET", b"old", b"1"])
    f.start_rewrite()
    f.feed(0, [b"SET", b"during", b"2"])  # lands in incr 2
    temp = f.temp_rewrite_path(12345)
    snapshot = [rdb.DatabaseImage(0, {b"old": b"1", b"h": {b"f": b"v"}}, {b"old": 4102444800000})]
    aof.write_base(temp, snapshot, use_rdb_preamble=preamble)
    assert f.finish_rewrite(temp, ok=True)
    f.close()
    d = tmp_path / "appendonlydir"
    ext = "rdb" if preamble else "aof"
    assert sorted(os.listdir(d)) == sorted(
        [f"appendonly.aof.2.base.{ext}", "appendonly.aof.2.incr.aof", "appendonly.aof.manifest"]
    )
    dbs: dict[int, dict[bytes, object]] = {}
    apply, apply_rdb, expires = replay_into(dbs)
    aof.load(d, "appendonly.aof.manifest", apply_command=apply, apply_rdb=apply_rdb)
    assert dbs[0] == {b"old": b"1", b"h": {b"f": b"v"}, b"during": b"2"}
    assert expires[(0, b"old")] == 4102444800000


def _check_aof(path: Path) -> None:
    exe = shutil.which("redis-check-aof")
    if exe is None:
        pytest.skip("redis-check-aof not installed")
    proc = subprocess.run([exe, str(path)], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0 and "is valid" in proc.stdout, proc.stdout + proc.stderr


@pytest.mark.redis_server
@pytest.mark.parametrize("preamble", [True, False])
def test_engine_aof_accepted_by_redis(tmp_path: Path, preamble: bool) -> None:
    far = int(time.time() * 1000) + 600_000
    f = open_aof(tmp_path, use_rdb_preamble=preamble)
    f.feed(0, [b"SET", b"a", b"1"])
    f.start_rewrite()
    temp = f.temp_rewrite_path(1)
    z = ZSet()
    z.add(b"m", 2.5)
    aof.write_base(temp, [rdb.DatabaseImage(0, {b"a": b"1", b"z": z, b"s": {b"x", b"y"}}, {b"a": far})],
                   use_rdb_preamble=preamble)
    f.finish_rewrite(temp, ok=True)
    f.feed(2, [b"HSET", b"h", b"f", b"v"])
    f.feed(0, [b"RPUSH", b"l", b"1", b"2"])
    f.close()
    _check_aof(tmp_path / "appendonlydir" / "appendonly.aof.manifest")
    with real_redis("--appendonly", "yes", dir=tmp_path) as srv:
        c = srv.client()
        assert c.get("a") == b"1" and c.execute_command("PEXPIRETIME", "a") == far
        assert c.zrange("z", 0, -1, withscores=True) == [(b"m", 2.5)]
        assert c.smembers("s") == {b"x", b"y"} and c.lrange("l", 0, -1) == [b"1", b"2"]
        assert srv.client(db=2).hgetall("h") == {b"f": b"v"}


@pytest.mark.redis_server
def test_redis_aof_replayed_by_engine_loader(tmp_path: Path) -> None:
    with real_redis("--appendonly", "yes", "--appendfsync", "always", dir=tmp_path) as srv:
        c = srv.client()
        c.set("a", "1")
        c.rpush("l", "x", "y")
        c.execute_command("SELECT", 1)
        c.execute_command("HSET", "h", "f", "v")
        c.execute_command("DEL", "nothing")
    d = tmp_path / "appendonlydir"
    assert (d / "appendonly.aof.manifest").exists()
    dbs: dict[int, dict[bytes, object]] = {}
    apply, apply_rdb, _ = replay_into(dbs)
    aof.load(d, "appendonly.aof.manifest", apply_command=apply, apply_rdb=apply_rdb)
    assert dbs[0] == {b"a": b"1", b"l": deque([b"x", b"y"])} and dbs[1] == {b"h": {b"f": b"v"}}


def test_relative_expiries_become_absolute() -> None:
    now = 1_700_000_000_000
    f = aof.absolute_expiry_argv
    assert f([b"SET", b"k", b"v", b"EX", b"10"], now) == [b"SET", b"k", b"v", b"PXAT", b"1700000010000"]
    assert f([b"SET", b"k", b"v", b"NX", b"px", b"5"], now) == [b"SET", b"k", b"v", b"NX", b"PXAT", b"1700000000005"]
    assert f([b"SET", b"k", b"v", b"PXAT", b"7"], now) == [b"SET", b"k", b"v", b"PXAT", b"7"]
    assert f([b"SETEX", b"k", b"2", b"v"], now) == [b"SET", b"k", b"v", b"PXAT", b"1700000002000"]
    assert f([b"PSETEX", b"k", b"2", b"v"], now) == [b"SET", b"k", b"v", b"PXAT", b"1700000000002"]
    assert f([b"EXPIRE", b"k", b"3", b"NX"], now) == [b"PEXPIREAT", b"k", b"1700000003000", b"NX"]
    assert f([b"pexpire", b"k", b"3"], now) == [b"PEXPIREAT", b"k", b"1700000000003"]
    assert f([b"EXPIREAT", b"k", b"3"], now) == [b"PEXPIREAT", b"k", b"3000"]
    assert f([b"GETEX", b"k", b"EX", b"1"], now) == [b"PEXPIREAT", b"k", b"1700000001000"]
    assert f([b"GETEX", b"k", b"PERSIST"], now) == [b"PERSIST", b"k"]
    assert f([b"RESTORE", b"k", b"5", b"x", b"REPLACE"], now) == \
        [b"RESTORE", b"k", b"1700000000005", b"x", b"REPLACE", b"ABSTTL"]
    assert f([b"RESTORE", b"k", b"0", b"x"], now) == [b"RESTORE", b"k", b"0", b"x"]
    assert f([b"INCR", b"k"], now) == [b"INCR", b"k"]


# ---------------------------------------------------------------------------------------
# The server side with a stand-in server (see tests/engine/test_rdb.py): start, propagate,
# BGREWRITEAOF in a forked child, restart.


def _server(tmp_path: Path, **config: str) -> Server:
    """A real server on ``tmp_path`` with appendonly on (built, not started)."""
    from tests.engine.test_rdb import make_server

    return make_server(tmp_path, **{"appendonly": "yes", **config})


@pytest.mark.parametrize("fsync", ["always", "everysec", "no"])
def test_server_aof_start_propagate_rewrite_restart(tmp_path: Path, fsync: str) -> None:
    from engine import persistence
    from tests.engine.test_rdb import wait_child

    srv = _server(tmp_path, appendfsync=fsync)
    srv.load_data()
    assert dict(persistence.info_fields(srv))["aof_enabled"] == 1
    before = int(time.time() * 1000)
    for i in range(10):
        srv.dbs[0].data[b"k%d" % i] = b"v"
        persistence.propagate(srv, 0, [b"SET", b"k%d" % i, b"v"])
    srv.dbs[1].data[b"t"] = b"x"
    srv.dbs[1].expires[b"t"] = before + 100_000
    persistence.propagate(srv, 1, [b"SET", b"t", b"x", b"EX", b"100"])
    incr1 = (tmp_path / "appendonlydir" / "appendonly.aof.1.incr.aof").read_bytes()
    assert b"PXAT" in incr1 and b"EX" not in incr1
    assert persistence.aof_rewrite_background(srv)
    persistence.propagate(srv, 0, [b"SET", b"during", b"1"])
    srv.dbs[0].data[b"during"] = b"1"
    wait_child(srv)
    info = dict(persistence.info_fields(srv))
    assert info["aof_last_bgrewrite_status"] == "ok" and info["aof_rewrites"] == 1
    d = tmp_path / "appendonlydir"
    assert (d / "appendonly.aof.manifest").read_text() == (
        "file appendonly.aof.2.base.rdb seq 2 type b\nfile appendonly.aof.2.incr.aof seq 2 type i\n"
    )
    assert persistence.on_shutdown(srv, save=False)
    fresh = _server(tmp_path, appendfsync=fsync)
    fresh.load_data()
    assert fresh.dbs[0].data == srv.dbs[0].data and fresh.dbs[1].data == {b"t": b"x"}
    assert fresh.dbs[1].expires == {b"t": before + 100_000}
    persistence.on_shutdown(fresh, save=False)


@pytest.mark.redis_server
def test_running_server_aof_rewrite_and_redis_interop(tmp_path: Path) -> None:
    """The engine's own AOF directory (feed, BGREWRITEAOF, more writes) passes redis-check-aof
    and real redis-server loads it to the same keys and absolute expiry."""
    import redis

    from engine.server import EmbeddedServer
    from tests.engine.test_rdb import raw

    with EmbeddedServer(dir=str(tmp_path), appendonly="yes", appendfsync="always") as srv:
        c = redis.Redis.from_url(srv.url)
        t0 = int(time.time() * 1000)
        c.set("a", "1", ex=1000)
        t1 = int(time.time() * 1000)
        c.set("gone", "x")
        c.delete("gone")
        assert raw(c, "BGREWRITEAOF") == b"Background append only file rewriting started"
        c.set("b", "2")
        c.execute_command("SELECT", 3)
        c.set("c", "3")
        deadline = time.monotonic() + 10
        manifest = tmp_path / "appendonlydir" / "appendonly.aof.manifest"
        while "seq 2 type b" not in manifest.read_text():
            assert time.monotonic() < deadline
            time.sleep(0.02)
        incr = (tmp_path / "appendonlydir" / "appendonly.aof.2.incr.aof").read_bytes()
        # A new incr file starts with a SELECT, as Redis resets aof_selected_db for it.
        assert incr == b"".join(aof.encode_command(a) for a in (
            [b"SELECT", b"0"], [b"SET", b"b", b"2"], [b"SELECT", b"3"], [b"SET", b"c", b"3"]))
    _check_aof(tmp_path / "appendonlydir" / "appendonly.aof.manifest")
    with real_redis("--appendonly", "yes", dir=tmp_path) as real:
        rc = real.client()
        assert sorted(rc.keys()) == [b"a", b"b"] and real.client(db=3).get("c") == b"3"
        assert t0 + 1_000_000 <= rc.execute_command("PEXPIRETIME", "a") <= t1 + 1_000_000
    with EmbeddedServer(dir=str(tmp_path), appendonly="yes") as srv:
        c = redis.Redis.from_url(srv.url)
        assert c.get("a") == b"1" and c.get("b") == b"2" and c.get("gone") is None


def test_appendonly_switched_on_and_off_at_run_time(tmp_path: Path) -> None:
    """CONFIG SET appendonly yes writes a base with the current data, then appends."""
    from engine import persistence

    srv = _server(tmp_path, appendonly="no")
    persistence.load_on_start(srv)
    srv.dbs[0].data[b"before"] = b"1"
    persistence.set_appendonly(srv, True)
    srv.dbs[0].data[b"after"] = b"2"
    persistence.propagate(srv, 0, [b"SET", b"after", b"2"])
    persistence.set_appendonly(srv, False)
    persistence.propagate(srv, 0, [b"SET", b"ignored", b"3"])
    fresh = _server(tmp_path)
    fresh.load_data()
    assert fresh.dbs[0].data == {b"before": b"1", b"after": b"2"}
    persistence.on_shutdown(fresh, save=False)


@pytest.mark.redis_server
def test_single_file_aof_from_older_redis_is_upgraded(tmp_path: Path) -> None:
    """An ``appendonly.aof`` with an RDB preamble and commands (Redis 6 layout) in ``dir``
    becomes the base of the multi-part layout, as Redis 7 upgrades it; redis-server 7.0 reads
    the result."""
    from engine import persistence

    preamble = rdb.dumps([rdb.DatabaseImage(0, {b"a": b"1"})], aof_base=True)
    (tmp_path / "appendonly.aof").write_bytes(preamble + aof.encode_command([b"SET", b"b", b"2"]))
    srv = _server(tmp_path)
    srv.load_data()
    assert srv.dbs[0].data == {b"a": b"1", b"b": b"2"}
    persistence.propagate(srv, 0, [b"SET", b"c", b"3"])
    persistence.on_shutdown(srv, save=False)
    assert not (tmp_path / "appendonly.aof").exists()
    assert (tmp_path / "appendonlydir" / "appendonly.aof.manifest").read_text() == (
        "file appendonly.aof seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n"
    )
    with real_redis("--appendonly", "yes", dir=tmp_path) as real:
        assert sorted(real.client().keys()) == [b"a", b"b", b"c"]


def test_failed_aof_write_is_kept_and_retried(tmp_path: Path) -> None:
    from engine import persistence

    srv = _server(tmp_path)
    srv.load_data()
    f = persistence.state(srv).aof_file
    assert f is not None and f.fd is not None
    incr = f.dir / f.manifest.incrs[-1].name
    good_fd = f.fd
    f.fd = os.open(incr, os.O_RDONLY)  # writes now fail with EBADF
    persistence.propagate(srv, 0, [b"SET", b"a", b"1"])
    assert srv.disk_error is not None and srv.disk_error.startswith("MISCONF Errors writing to the AOF file: ")
    assert dict(persistence.info_fields(srv))["aof_last_write_status"] == "err"
    os.close(f.fd)
    f.fd = good_fd
    persistence.cron(srv)
    assert srv.disk_error is None
    persistence.on_shutdown(srv, save=False)
    fresh = _server(tmp_path)
    fresh.load_data()
    assert fresh.dbs[0].data == {b"a": b"1"}
    persistence.on_shutdown(fresh, save=False)


def test_expired_keys_are_appended_as_del(tmp_path: Path) -> None:
    """A key removed by (lazy or active) expiry reaches the AOF as DEL, as Redis 7 propagates it."""
    import redis

    from engine.server import EmbeddedServer

    with EmbeddedServer(dir=str(tmp_path), appendonly="yes") as srv:
        c = redis.Redis.from_url(srv.url)
        c.set("short", "v", px=30)
        time.sleep(0.1)
        assert c.get("short") is None
        incr = (tmp_path / "appendonlydir" / "appendonly.aof.1.incr.aof").read_bytes()
        assert incr.endswith(aof.encode_command([b"DEL", b"short"]))
        assert b"PXAT" in incr
