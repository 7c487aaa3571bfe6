"""Scenario schema hygiene: every enumerated choice is an enum, bad values are validation
errors naming the field (ScenarioError), capacity in objects, the per-key overhead field."""

from __future__ import annotations

import copy
from typing import Any, get_args

import pytest
import yaml

from simlab.model.cache import POLICIES, REDIS_EXPIRE_OVERHEAD_BYTES, REDIS_KEY_OVERHEAD_BYTES
from simlab.paths import DEFAULT_SCENARIO
from simlab.scenario import MaxmemoryPolicy, ScenarioError, scenario_from_dict, scenario_json_schema

REDIS_POLICIES = {
    "noeviction", "allkeys-lru", "allkeys-lfu", "allkeys-random",
    "volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl",
}


def _default() -> dict[str, Any]:
    return yaml.safe_load(DEFAULT_SCENARIO.read_text())


def _problems(data: dict[str, Any]) -> str:
    with pytest.raises(ScenarioError) as err:
        scenario_from_dict(data, "x.yaml")
    return str(err.value)


def _enums(schema: dict[str, Any]) -> list[list[Any]]:
    out: list[list[Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "enum" in node:
                out.append(node["enum"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(schema)
    return out


def test_schema_lists_every_policy_including_exact_lru_and_fifo() -> None:
    enums = _enums(scenario_json_schema())
    policy_enum = [e for e in enums if "allkeys-lru" in e]
    assert len(policy_enum) == 1
    assert set(policy_enum[0]) == REDIS_POLICIES | {"lru", "fifo"}
    # the schema's enum is exactly what the cache model implements
    assert set(get_args(MaxmemoryPolicy)) == set(POLICIES)


def test_schema_enumerates_fault_kinds_and_flow_kinds() -> None:
    enums = [set(e) for e in _enums(scenario_json_schema())]
    assert {"cache_aside", "session", "pubsub", "lock", "command"} in enums
    assert any({"aof", "rdb", "aof+rdb", "none"} == e for e in enums)
    assert any({"always", "everysec", "no"} == e for e in enums)


def test_misspelt_policy_is_a_validation_error_naming_the_field() -> None:
    d = _default()
    d["cache"]["maxmemory_policy"] = "allkeys-lruu"
    msg = _problems(d)
    assert "cache.maxmemory_policy" in msg and "allkeys-lru" in msg


def test_flow_shares_must_add_up_to_one() -> None:
    d = _default()
    d["sources"][0]["flows"] = {"cache-get-set": 0.6, "session-store": 0.3}
    msg = _problems(d)
    assert "add up to 0.9" in msg and "nginx-ingress" in msg


def test_missing_service_time_is_a_validation_error() -> None:
    d = _default()
    table = d["cache"]["service_time_us"]
    del table["default"], table["HGETALL"]
    msg = _problems(d)
    assert "HGETALL" in msg and "session-store" in msg


@pytest.mark.parametrize(
    "field, dist",
    [
        ("value_size_bytes", {"kind": "constant", "value": 0}),
        ("key_size_bytes", {"kind": "uniform", "low": 0, "high": 10}),
        ("value_size_bytes", {"kind": "empirical", "values": [0, 100]}),
    ],
)
def test_sizes_below_one_byte_are_errors(field: str, dist: dict[str, Any]) -> None:
    d = _default()
    d["keyspace"][field] = dist
    assert field in _problems(d)


def test_capacity_in_bytes_or_objects_not_both() -> None:
    d = _default()
    d["cache"]["maxmemory_objects"] = 1000
    assert "not both" in _problems(d)
    d["cache"]["maxmemory_bytes"] = 0
    sc = scenario_from_dict(d)
    assert sc.cache.maxmemory_objects == 1000


def test_per_key_overhead_is_a_named_field_with_redis_default() -> None:
    sc = scenario_from_dict(_default())
    assert sc.cache.per_key_overhead_bytes == REDIS_KEY_OVERHEAD_BYTES == 64
    assert sc.cache.expire_overhead_bytes == REDIS_EXPIRE_OVERHEAD_BYTES == 40
    props = scenario_json_schema()["$defs"]["CacheServiceSpec"]["properties"]
    assert "dictEntry" in props["per_key_overhead_bytes"]["description"]


def test_capacity_in_objects_holds_that_many_keys() -> None:
    """With maxmemory_objects the cache holds at most that many keys whatever their size: the
    exact LRU's hit ratio equals a count-based LRU replay of the same accesses."""
    from simlab.model.run import simulate

    d = copy.deepcopy(_default())
    d["cache"].update(maxmemory_bytes=0, maxmemory_objects=5000, maxmemory_policy="lru")
    d["keyspace"]["ttl"] = {"kind": "none"}
    sc = scenario_from_dict(d)
    res = simulate(sc, duration_s=30, warmup_s=0)
    # count-based: 5000 of 200k Zipf(0.99) keys; Che's approximation puts LRU near 0.5, and a
    # byte-sized cache of 64 MiB would hold ~100k keys (hit ratio ~ 0.85): the figure must be
    # the small one
    hr = res.overall["hit_ratio"]
    assert 0.35 < hr < 0.65
