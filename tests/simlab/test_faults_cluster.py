"""Cluster topology: hash slots (CRC16 mod 16384, hash tags) against a real redis-server in
cluster mode, slot ranges per shard, and placement by slots in a scenario."""

from __future__ import annotations

import numpy as np
import pytest

from simlab.model.cluster import CLUSTER_SLOTS, crc16, key_slot, slot_owners, slots_of_ids
from simlab.model.run import simulate
from simlab.scenario import scenario_from_dict


def test_crc16_check_value_and_documented_slots() -> None:
    assert crc16(b"123456789") == 0x31C3  # CRC16-XMODEM check value
    assert key_slot(b"somekey") == 11058  # CLUSTER KEYSLOT examples on redis.io
    assert key_slot(b"foo{hash_tag}") == 2515
    assert key_slot(b"{user1000}.following") == key_slot(b"{user1000}.followers")
    assert key_slot(b"foo{}{bar}") == crc16(b"foo{}{bar}") % CLUSTER_SLOTS  # empty tag: whole key


def test_vectorised_slots_equal_scalar() -> None:
    ids = np.random.default_rng(3).integers(0, 10**12, 2000)
    ids[:4] = [0, 9, 10, 99]
    assert slots_of_ids(ids).tolist() == [key_slot(b"key:%d" % i) for i in ids.tolist()]


def test_slot_ranges_like_redis_cli() -> None:
    owners = slot_owners(3)
    assert np.bincount(owners).tolist() == [5462, 5461, 5461]
    assert (np.diff(owners) >= 0).all()


@pytest.mark.redis_server
def test_slots_equal_real_redis_cluster_keyslot() -> None:
    from tests.support.redis_real import real_redis

    keys = [b"key:%d" % i for i in range(200)] + [b"a{tag}b", b"{}x", b"x{y}z{w}", b"\xff\x00bin"]
    with real_redis("--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf") as srv:
        c = srv.client()
        for k in keys:
            assert c.execute_command("CLUSTER", "KEYSLOT", k) == key_slot(k), k


def test_hash_slot_placement_in_a_scenario() -> None:
    """Uniform popularity over 30,000 keys on 3 shards: each shard holds about a third of the
    keys (slot ranges are equal; CRC16 spreads key names evenly), so about a third of the
    cache jobs (tolerance 0.03); the placement differs from id mod 3."""
    d = {
        "name": "slots",
        "sources": [{"name": "app", "rate_rps": 1000, "flows": {"reads": 1.0}}],
        "keyspace": {"num_keys": 30_000, "popularity": {"kind": "uniform"}},
        "flows": {"reads": {"kind": "cache_aside"}},
        "cache": {"shards": 3, "placement": "hash_slots",
                  "service_time_us": {"default": {"kind": "constant", "value": 10.0}}},
        "run": {"duration_s": 20, "warmup_s": 2},
    }
    r = simulate(scenario_from_dict(d))
    jobs = r.resources[r.resources["kind"] == "cache"]["jobs"].to_numpy()
    assert np.allclose(jobs / jobs.sum(), 1 / 3, atol=0.03)
    owners = slot_owners(3)[slots_of_ids(np.arange(30_000))]
    assert (owners != np.arange(30_000) % 3).mean() > 0.5
