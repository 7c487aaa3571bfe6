"""FUNCTION libraries persist in RDB snapshots (RDB_OPCODE_FUNCTION2) across the engine and
real redis-server 7.0 in both directions.

redis -> engine -> redis: redis-server loads two libraries and SAVEs; the engine starts on that
dump.rdb and must list and call the same functions; the engine's own SAVE is then checked by
``redis-check-rdb`` and loaded by redis-server, which lists and calls them again.  The other
direction starts on the engine: FUNCTION LOAD, SAVE, redis-server loads it.  Exact agreement is
required (FUNCTION LIST entries and FCALL replies are deterministic).
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest
import redis

from engine.persistence import rdb
from engine.server import EmbeddedServer
from tests.support.redis_real import real_redis

pytestmark = pytest.mark.redis_server

LIB_A = b"""#!lua name=liba
redis.register_function('a_set', function(keys, args) return redis.call('SET', keys[1], args[1]) end)
redis.register_function{function_name='a_get', callback=function(keys) return redis.call('GET', keys[1]) end,
  flags={'no-writes'}, description='read one key'}
"""
LIB_B = b"""#!lua name=libb
redis.register_function('b_sum', function(keys, args) return tonumber(args[1]) + tonumber(args[2]) end)
"""


def _listing(c: redis.Redis) -> list[object]:
    """FUNCTION LIST WITHCODE sorted by library name (Redis lists them in dict order)."""
    libs = c.execute_command("FUNCTION", "LIST", "WITHCODE")
    return sorted(
        (repr(sorted((k, v) for k, v in lib.items() if k != b"functions")),
         sorted(repr(sorted(f.items())) for f in lib[b"functions"]))
        for lib in libs
    )


def _calls(c: redis.Redis) -> list[object]:
    return [
        c.execute_command("FCALL", "a_set", 1, "k", "v"),
        c.execute_command("FCALL_RO", "a_get", 1, "k"),
        c.execute_command("FCALL", "b_sum", 0, 40, 2),
    ]


def _check_rdb(path: Path) -> None:
    tool = shutil.which("redis-check-rdb")
    if tool is None:
        return
    out = subprocess.run([tool, str(path)], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stdout + out.stderr


def test_functions_cross_redis_engine_redis(tmp_path: Path) -> None:
    with real_redis("--dbfilename", "dump.rdb", dir=tmp_path) as srv:
        rc = srv.client()
        rc.execute_command("FUNCTION", "LOAD", LIB_A)
        rc.execute_command("FUNCTION", "LOAD", LIB_B)
        expected_list = _listing(rc)
        expected_calls = _calls(rc)
        rc.execute_command("SAVE")
    assert sorted(rdb.load(tmp_path / "dump.rdb").functions) == [LIB_A, LIB_B]
    with EmbeddedServer(dir=str(tmp_path)) as eng:
        c = redis.Redis.from_url(eng.url)
        assert _listing(c) == expected_list
        assert _calls(c) == expected_calls
        c.execute_command("SAVE")
    _check_rdb(tmp_path / "dump.rdb")
    with real_redis("--dbfilename", "dump.rdb", dir=tmp_path) as srv:
        rc = srv.client()
        assert _listing(rc) == expected_list
        assert _calls(rc) == expected_calls


def test_functions_from_engine_load_in_redis(tmp_path: Path) -> None:
    with EmbeddedServer(dir=str(tmp_path)) as eng:
        c = redis.Redis.from_url(eng.url)
        c.execute_command("FUNCTION", "LOAD", LIB_B)
        c.set("plain", "1")
        c.execute_command("SAVE")
        engine_list = _listing(c)
    assert rdb.load(tmp_path / "dump.rdb").functions == [LIB_B]
    _check_rdb(tmp_path / "dump.rdb")
    with real_redis("--dbfilename", "dump.rdb", dir=tmp_path) as srv:
        rc = srv.client()
        assert _listing(rc) == engine_list
        assert rc.execute_command("FCALL", "b_sum", 0, 1, 2) == 3
        assert rc.get("plain") == b"1"


def test_functions_only_snapshot_and_flush(tmp_path: Path) -> None:
    """A snapshot with libraries and no keys still carries them; after FUNCTION FLUSH the next
    SAVE carries none (the engine restarted on it lists nothing)."""
    with EmbeddedServer(dir=str(tmp_path)) as eng:
        c = redis.Redis.from_url(eng.url)
        c.execute_command("FUNCTION", "LOAD", LIB_A)
        c.execute_command("SAVE")
    with EmbeddedServer(dir=str(tmp_path)) as eng:
        c = redis.Redis.from_url(eng.url)
        assert c.execute_command("FCALL", "a_set", 1, "x", "y") == b"OK"
        c.execute_command("FUNCTION", "FLUSH")
        c.execute_command("SAVE")
    assert rdb.load(tmp_path / "dump.rdb").functions == []
    with EmbeddedServer(dir=str(tmp_path)) as eng:
        assert redis.Redis.from_url(eng.url).execute_command("FUNCTION", "LIST") == []


def _wait_rewrite(c: redis.Redis) -> None:
    for _ in range(300):  # bounded: 30 s
        info = c.info("persistence")
        if not info["aof_rewrite_in_progress"] and not info["aof_rewrite_scheduled"]:
            return
        time.sleep(0.1)
    raise AssertionError("BGREWRITEAOF did not finish in 30 s")


@pytest.mark.parametrize("preamble", ["yes", "no"])
def test_functions_survive_aof_rewrite(tmp_path: Path, preamble: str) -> None:
    """After BGREWRITEAOF the base holds the libraries (RDB_OPCODE_FUNCTION2 in the preamble, or
    FUNCTION LOAD commands): the engine restarted on the directory, and redis-server started on
    it with appendonly yes, both call them."""
    opts = {"dir": str(tmp_path), "appendonly": "yes", "aof-use-rdb-preamble": preamble}
    with EmbeddedServer(**opts) as eng:
        c = redis.Redis.from_url(eng.url)
        c.execute_command("FUNCTION", "LOAD", LIB_B)
        c.set("plain", "1")
        c.execute_command("BGREWRITEAOF")
        _wait_rewrite(c)
    with EmbeddedServer(**opts) as eng:
        c = redis.Redis.from_url(eng.url)
        assert c.execute_command("FCALL", "b_sum", 0, 1, 2) == 3
        assert c.get("plain") == b"1"
    with real_redis("--appendonly", "yes", "--aof-use-rdb-preamble", preamble, dir=tmp_path) as srv:
        rc = srv.client()
        assert rc.execute_command("FCALL", "b_sum", 0, 1, 2) == 3
        assert rc.get("plain") == b"1"
