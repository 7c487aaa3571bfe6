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
    the moved keys go over to shard 1 at an even rate over the window (slot by slot), so
    shard 1 serves on average half of the moved share during it and all of it after 20 s:
    checked on the GET split (4.5 sd of a Poisson count)."""
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
    # GETs: 400/s x 40 s; shard 1 had on1 share before 10 s, on1 + half the moved share
    # on average during [10, 20), on1 + moved share after
    share_before = 1 - on0.mean()
    share_after = share_before + n_moved / n_keys
    gets1 = res.loc["cache[1].primary", "jobs"] - int(np.ceil(n_moved / 10))
    expected = 400 * (10 * share_before + 10 * (share_before + share_after) / 2 + 20 * share_after)
    assert abs(gets1 - expected) < 4.5 * np.sqrt(expected)


def _reshard_scenario(rate_rps: float, steps: int, duration_s: float = 30.0) -> dict:
    """2 shards by hash slots, uniform GETs over 400,000 keys (about 24 per slot), everything
    constant (network legs 0.5 ms app <-> cache, 10 us per command, nothing else) so that a
    redirection shows as an exact latency step; 1/4 of shard 0's slots move to shard 1 during
    [10, 20) with no MIGRATE work."""
    return {
        "name": "ask",
        "sources": [{"name": "app", "rate_rps": rate_rps, "flows": {"reads": 1.0},
                     "client_rtt_ms": {"kind": "constant", "value": 0.0},
                     "entry_service_ms": {"kind": "constant", "value": 0.0}}],
        "keyspace": {"num_keys": 400_000, "popularity": {"kind": "uniform"}},
        "flows": {"reads": {"kind": "command", "commands": {"GET": 1}}},
        "network": {"app_to_cache_rtt_ms": {"kind": "constant", "value": 1.0},
                    "entry_to_app_rtt_ms": {"kind": "constant", "value": 0.0},
                    "app_service_ms": {"kind": "constant", "value": 0.0}, "loss_probability": 0.0},
        "cache": {"shards": 2, "placement": "hash_slots", "reinitialize_steps": steps,
                  "service_time_us": {"default": {"kind": "constant", "value": 10.0}}},
        "faults": [{"kind": "reshard", "shard": 0, "to_shard": 1, "at_s": 10, "duration_s": 10, "share": 0.25,
                    "migrate_us_per_key": 0}],
        "run": {"duration_s": duration_s, "warmup_s": 0},
    }


def _schedule_by_hand(n_keys: int, share: float, a: float, b: float):
    """The reshard schedule from its definition: shard 0's last `share` of slots, slot by
    slot, keys in id order at an even rate over [a, b); a key has moved when its batch of 10
    (of its slot) is done; a slot is done with its last key. Returns (slot start, slot done,
    key moved) as dicts."""
    slots = slots_of_ids(np.arange(n_keys))
    own0 = np.flatnonzero(slot_owners(2) == 0)
    moved = own0[len(own0) - round(share * len(own0)):]
    keys_of = {int(s): [] for s in moved}
    for k, s in enumerate(slots.tolist()):
        if s in keys_of:
            keys_of[s].append(k)
    tau = (b - a) / sum(len(v) for v in keys_of.values())
    start, done, move = {}, {}, {}
    pos = 0
    for s in sorted(keys_of):
        ks = keys_of[s]
        start[s] = a + pos * tau
        for r, k in enumerate(ks):
            move[k] = a + (pos + min((r // 10 + 1) * 10, len(ks))) * tau
        pos += len(ks)
        done[s] = a + pos * tau
    return slots, start, done, move


@pytest.mark.parametrize("steps", [0, 5])
def test_reshard_redirections_equal_the_plan_by_hand(steps: int) -> None:
    """Which requests get -ASK and -MOVED, checked exactly against the plan's keys and times:
    -ASK: a key of a migrating slot whose batch has moved (a GET finds it gone); -MOVED: per
    client (one source here) the first request for each slot after the slot is done, unless
    a map reload (every `reinitialize_steps`-th MOVED, redis-py's default 5) taught it the
    slot first. Exact (no tolerance): the same rows."""
    from simlab.model.faults import expand_faults
    from simlab.model.plan import PlanBuilder

    sc = scenario_from_dict(_reshard_scenario(20_000, steps, duration_s=24.0))
    windows = expand_faults(sc, 24.0, 4, np.random.default_rng(0))
    builder = PlanBuilder(sc, windows, np.random.SeedSequence(7), lambda shard, epoch: None)
    plan = builder.build(0.0, 24.0, np.random.SeedSequence(8))
    assert plan.key is not None and plan.asks is not None and plan.moveds is not None
    slots, start, done, move = _schedule_by_hand(400_000, 0.25, 10.0, 20.0)
    rows = np.flatnonzero(plan.rec)
    t_arr = plan.t0 + plan.delay_s[:, 0]
    ask, moved = set(), set()
    known: set[int] = set()
    count, reloaded = 0, -np.inf
    for i in rows[np.argsort(t_arr[rows], kind="stable")].tolist():
        k, t = int(plan.key[i]), float(t_arr[i])
        s = int(slots[k])
        if s not in start or t < start[s]:
            continue
        if t < done[s]:
            if t >= move[k]:
                ask.add(i)
        elif s not in known:
            known.add(s)
            if done[s] > reloaded:
                moved.add(i)
                count += 1
                if steps and count % steps == 0:
                    reloaded = t
    assert set(np.flatnonzero(plan.asks).tolist()) == ask
    assert set(np.flatnonzero(plan.moveds).tolist()) == moved
    assert len(ask) >= 3  # about 20,000 x 10 s / 32,768 = 6 expected (see the docstring above)
    if steps == 0:
        assert len(moved) > 900  # most of the 1,366 moved slots are asked for in the last 4 s
    # the redirecting hop is at the source primary (resource 0), then the command at shard 1 (1)
    i = min(ask)
    assert plan.n_stages[i] == 2 and plan.res[i, :2].tolist() == [0, 1]


def test_redirected_requests_pay_the_extra_round_trips() -> None:
    """Latency: a plain GET takes 2 legs of 0.5 ms + 10 us = 1.010 ms; a -MOVED one 1.010 +
    10 us (the source's lookup) + 2 legs = 2.020 ms; an -ASK one 1.010 + 10 us + 4 legs (the
    -ASK reply and the resend, the ASKING round trip) + 10 us (ASKING) = 3.030 ms. Queueing
    adds under 0.05 ms at 2 % utilisation, so the latency CDF's steps at 2 and 3 ms carry
    exactly the reported MOVED and ASK counts."""
    r = simulate(scenario_from_dict(_reshard_scenario(20_000, 0, duration_s=22.0)))
    red = r.extra["cluster_redirections"]
    assert red["ask"] >= 3 and red["moved"] > 900
    cdf = r.extra["latency_cdf"]
    total = r.summary.iloc[0]["requests"]
    lat, frac = cdf["latency_ms"].to_numpy(), cdf["cdf"].to_numpy()
    below = lambda x: frac[lat < x].max()  # noqa: E731
    assert round((1 - below(2.0)) * total) == red["ask"] + red["moved"]
    assert round((1 - below(3.0)) * total) == red["ask"]
    assert lat[lat >= 3.0].min() == pytest.approx(3.030, abs=0.0015)
    assert lat[(lat >= 2.0) & (lat < 3.0)].min() == pytest.approx(2.020, abs=0.0015)
    assert r.to_dict()["cluster_redirections"] == red


def _replica_scenario(strategy: str | None, read_from_replicas: bool = False) -> dict:
    """One shard with 2 replicas, cache-aside GETs only (a miss's SET goes to the primary),
    uniform over 2,000 keys with room for all of them, 2,000 reads/s for 10 s."""
    cache: dict = {"shards": 1, "replicas": 2, "read_from_replicas": read_from_replicas,
                   "service_time_us": {"default": {"kind": "constant", "value": 10.0}}}
    if strategy is not None:
        cache["load_balancing_strategy"] = strategy
    return {
        "name": "replica-reads",
        "sources": [{"name": "app", "rate_rps": 2000, "flows": {"reads": 1.0}}],
        "keyspace": {"num_keys": 2000, "popularity": {"kind": "uniform"}},
        "flows": {"reads": {"kind": "cache_aside", "op_mix": {"get": 1.0}}},
        "cache": cache,
        "run": {"duration_s": 10, "warmup_s": 0},
    }


@pytest.mark.parametrize(("strategy", "rfr", "shares"), [
    (None, False, (1.0, 0.0, 0.0)),
    (None, True, (1 / 3, 1 / 3, 1 / 3)),  # read_from_replicas alone: round robin (redis-py >= 5.3)
    ("round_robin", False, (1 / 3, 1 / 3, 1 / 3)),
    ("round_robin_replicas", False, (0.0, 0.5, 0.5)),
    ("random", False, (1 / 3, 1 / 3, 1 / 3)),
    ("random_replica", False, (0.0, 0.5, 0.5)),
])
def test_replica_read_spread_follows_the_strategy(strategy, rfr, shares) -> None:
    """Reads per copy (the primary's jobs less the misses' SETs, the replicas' jobs) against
    redis-py's LoadBalancer arithmetic: round robin over 3 copies from index 0 gives each
    copy R/3 of R reads, to within 1 (one client, one shard: the counts differ by at most
    1); round_robin_replicas R/2 to each replica to within 1; the random strategies are
    binomial (4.5 sd). The hit ratio is the same whichever copy serves (replicas hold what
    their primary holds)."""
    r = simulate(scenario_from_dict(_replica_scenario(strategy, rfr)))
    jobs = r.resources.set_index("resource")["jobs"]
    row = r.summary.iloc[0]
    reads = int(row["requests"])
    misses = int(round(reads * (1 - row["hit_ratio"])))
    got = [jobs["cache[0].primary"] - misses, jobs.get("cache[0].replica1", 0), jobs.get("cache[0].replica2", 0)]
    assert sum(got) == reads
    for g, share in zip(got, shares, strict=True):
        if strategy in ("random", "random_replica") and 0 < share < 1:
            assert abs(g - reads * share) < 4.5 * np.sqrt(reads * share * (1 - share))
        else:
            assert abs(g - reads * share) <= 1
    assert row["hit_ratio"] == pytest.approx(1 - 2000 / reads, abs=0.002)  # each key misses once


def test_bad_cluster_client_fields_name_the_field() -> None:
    from simlab.scenario import ScenarioError

    d = _replica_scenario("least_busy")
    with pytest.raises(ScenarioError, match=r"cache\.load_balancing_strategy: Input should be 'round_robin'"):
        scenario_from_dict(d)
    d = _replica_scenario(None)
    d["cache"]["reinitialize_steps"] = -1
    with pytest.raises(ScenarioError, match=r"cache\.reinitialize_steps"):
        scenario_from_dict(d)


def test_replica_lag_gives_the_stale_read_share_of_poisson_writes() -> None:
    """1,000 keys, uniform; 2,000 requests/s of which 20 % SET: each key is written as a
    Poisson process of 0.4/s, so a read finds a write of its key in the last 500 ms with
    probability 1 - exp(-0.4 x 0.5) = 0.1813, and that is the share of replica reads that are
    stale (reads are independent of writes). Round robin sends 2/3 of the reads to the 2
    replicas. Tolerance: 4.5 sd of a binomial share."""
    d = _replica_scenario("round_robin")
    d["keyspace"]["num_keys"] = 1000
    d["flows"]["reads"]["op_mix"] = {"get": 0.8, "set": 0.2}
    d["cache"]["replica_lag_ms"] = 500.0
    d["run"] = {"duration_s": 12, "warmup_s": 1}
    r = simulate(scenario_from_dict(d))
    rr = r.extra["replica_reads"]
    reads = int(round(r.summary.iloc[0]["requests"] * 0.8))
    assert abs(rr["reads"] - reads * 2 / 3) < 4.5 * np.sqrt(reads)
    p = 1 - np.exp(-0.4 * 0.5)
    assert abs(rr["stale_share"] - p) < 4.5 * np.sqrt(p * (1 - p) / rr["reads"])
    assert r.to_dict()["replica_reads"] == rr


def test_shipped_reshard_scenario() -> None:
    """data/scenarios/reshard.yaml with its move at 40 s for 60 s in a 120 s run: the two
    sources (two cluster clients) get at most one -MOVED per moved slot each (a third of
    shard 0's 5462 slots: 1802), and at least one; with a 2 ms lag a few replica reads are
    stale (keys are written far less often than every 2 ms: well under 1 %)."""
    from simlab.paths import SCENARIOS_DIR
    from simlab.scenario import load_scenario

    sc = load_scenario(SCENARIOS_DIR / "reshard.yaml")
    faults = [f.model_copy(update={"at_s": 40.0, "duration_s": 60.0}) for f in sc.faults]
    r = simulate(sc.model_copy(update={"faults": faults}), duration_s=120, warmup_s=20)
    red = r.to_dict()["cluster_redirections"]
    assert 1 <= red["moved"] <= 2 * 1802
    rr = r.extra["replica_reads"]
    assert 0 < rr["stale_share"] < 0.01
