"""DUMP/RESTORE options and error replies (REPLACE, ABSTTL, IDLETIME, FREQ, BUSYKEY, bad payloads)."""

from __future__ import annotations

import time

import pytest
import redis


def test_restore_options_and_errors(r: redis.Redis) -> None:
    r.set("k", "v")
    payload = r.dump("k")
    assert r.dump("missing") is None
    with pytest.raises(redis.ResponseError, match="^BUSYKEY Target key name already exists"):
        r.restore("k", 0, payload)
    assert r.restore("k", 0, payload, replace=True)
    with pytest.raises(redis.ResponseError, match="Invalid TTL value, must be >= 0"):
        r.restore("n", -1, payload)
    with pytest.raises(redis.ResponseError, match="DUMP payload version or checksum are wrong"):
        r.restore("n", 0, payload[:-1] + bytes([payload[-1] ^ 1]))
    with pytest.raises(redis.ResponseError, match="Invalid IDLETIME value"):
        r.execute_command("RESTORE", "n", 0, payload, "IDLETIME", -1)
    with pytest.raises(redis.ResponseError, match="Invalid FREQ value"):
        r.execute_command("RESTORE", "n", 0, payload, "FREQ", 256)
    with pytest.raises(redis.ResponseError, match="syntax error"):
        r.execute_command("RESTORE", "n", 0, payload, "IDLETIME", 5, "FREQ", 5)
    # TTL relative, then absolute; an absolute time in the past restores nothing.
    assert r.restore("t", 10_000, payload)
    assert 0 < r.pttl("t") <= 10_000
    at = int(time.time() * 1000) + 60_000
    assert r.restore("a", at, payload, absttl=True)
    assert abs(r.pexpiretime("a") - at) <= 1
    assert r.restore("gone", 1000, payload, absttl=True)
    assert r.exists("gone") == 0
    # IDLETIME sets the LRU clock back by that many seconds.
    assert r.restore("idle", 0, payload, idletime=1000)
    assert r.object("idletime", "idle") >= 1000
