"""``rdbchecksum no`` skips the CRC64 check when loading an RDB file, as rdbLoadRio does; with
``yes`` a file whose stored checksum is wrong is refused.  The same corrupted file is given to
a real redis-server 7.0 with ``rdbchecksum no``, which loads it too."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis

from engine.server import EmbeddedServer
from tests.support.redis_real import real_redis


def _corrupt_rdb(tmp: Path) -> Path:
    with EmbeddedServer(dir=str(tmp)) as srv:
        r = redis.Redis(port=srv.port)
        r.set("k", "v")
        r.rpush("l", "a", "b")
        r.save()
    path = tmp / "dump.rdb"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF  # a stored checksum that is neither right nor 0 ("not computed")
    path.write_bytes(bytes(data))
    return path


def test_rdbchecksum_no_skips_crc(tmp_path: Path) -> None:
    _corrupt_rdb(tmp_path)
    with EmbeddedServer(dir=str(tmp_path), rdbchecksum="no") as srv:
        r = redis.Redis(port=srv.port)
        assert r.get("k") == b"v" and r.lrange("l", 0, -1) == [b"a", b"b"]
    with pytest.raises(Exception, match="(?i)checksum"):
        with EmbeddedServer(dir=str(tmp_path), rdbchecksum="yes"):
            pass


@pytest.mark.redis_server
def test_redis_loads_it_too(tmp_path: Path) -> None:
    _corrupt_rdb(tmp_path)
    with real_redis("--rdbchecksum", "no", dir=tmp_path) as rr:
        assert rr.client().get("k") == b"v"
