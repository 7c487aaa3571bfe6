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


def test_resharding_moves_keys_and_costs_migrate_work() -> None:
    """2 shards by hash slots, uniform keys; half of shard 0's slots move to shard 1 during
    [10, 20) with 2 ms of MIGRATE work per key on each side. Exact arithmetic: the moved keys
    are those of shard 0's upper 2731 slots (n_moved, counted here from the slot map); each
    primary does n_moved x 2 ms of migration work in the 10 s window, which shows as busy time
    on top of the requests (tolerance: the request work, < 1 % of it, and Poisson noise);
    after 20 s shard 1 serves (1 + 0.5 x share0) of the requests: checked on the GET split."""
    n_keys = 4000
    d = {
        "name": "reshard",
        "sources": [{"name": "app", "rate_rps": 400, "flows": {"reads": 1.0}}],
        "keyspace": {"num_keys": n_keys, "popularity": {"kind": "uniform"}},
        "flows": {"reads": {"kind": "command", "commands": {"GET": 1}}},
        "cache": {"shards": 2, "placement": "hash_slots",
                  "service_time_us": {"default": {"kind": "constant", "value": 10.0}}},
        "faults": [{"kind": "reshard", "shard": 0, "to_shard": 1, "at_s": 10, "duration_s": 10, "share": 0.5,
                    "migrate_us_per_key": 2000}],
        "run": {"duration_s": 40, "warmup_s": 0},
    }
    r = simulate(scenario_from_dict(d))
    slots = slots_of_ids(np.arange(n_keys))
    owners = slot_owners(2)
    on0 = owners[slots] == 0
    own0 = np.flatnonzero(owners == 0)
    first_moved = own0[len(own0) - round(0.5 * len(own0))]
    n_moved = int((on0 & (slots >= first_moved)).sum())
    res = r.resources.set_index("resource")
    for name in ("cache[0].primary", "cache[1].primary"):
        migrate_busy = res.loc[name, "offered_load"] * 40 - res.loc[name, "throughput_rps"] * 40 * 10e-6
        assert migrate_busy == pytest.approx(n_moved * 2e-3, rel=0.02), name
    # GETs: 400/s x 40 s; shard 1 had on1 share before 20 s and on1 + moved share after
    share_before = 1 - on0.mean()
    share_after = share_before + n_moved / n_keys
    gets1 = res.loc["cache[1].primary", "jobs"] - int(np.ceil(n_moved / 10))
    expected = 400 * (20 * share_before + 20 * share_after)
    assert abs(gets1 - expected) < 4.5 * np.sqrt(expected)
