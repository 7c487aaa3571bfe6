"""A server the run did not start is left exactly as it was found.

A real redis-server is started with its own configuration and keys in two databases (as a
colleague's server would have); then calibration, an open-loop run, the generator's round
trip and the old per-command probe all run against it by URL, not as owner. Afterwards every
pre-existing key has the same value (DUMP) and TTL, no key of ours is left, every
configuration parameter is unchanged, and the statistics were not reset (command counts
only grew).
"""

from __future__ import annotations

import pytest

from simlab.calibrate import calibrate
from simlab.load.generator import run_load
from simlab.load.probe import probe_url
from simlab.load.target import parse_target
from simlab.load.workload import plan_from_scenario
from simlab.scenario import scenario_from_dict
from simlab.validate import generator_rtt
from tests.simlab.test_load import SMALL
from tests.support.redis_real import RealRedis, real_redis

pytestmark = pytest.mark.redis_server


def _snapshot(r: RealRedis) -> dict[str, object]:
    c = r.client()
    keys = {}
    for db in (0, 2):
        cd = r.client(db=db)
        for k in cd.keys("*"):
            keys[(db, k)] = (cd.dump(k), cd.pttl(k) > 0)
        cd.close()
    snap = {"keys": keys, "config": c.config_get("*"),
            "calls": {k: v["calls"] for k, v in c.info("commandstats").items()},
            "processed": c.info("stats")["total_commands_processed"]}
    c.close()
    return snap


def test_a_foreign_redis_server_is_left_as_found() -> None:
    with real_redis("--maxmemory", "50mb", "--maxmemory-policy", "allkeys-lfu", "--hz", "15") as r:
        c = r.client()
        c.set("app:user:1", "alice")
        c.set("app:session:9", "x" * 300, ex=3600)
        c.hset("app:profile:1", mapping={"name": "alice", "plan": "pro"})
        c.rpush("app:queue", *range(20))
        c2 = r.client(db=2)
        c2.set("other:counter", 41)
        c2.close()
        c.close()
        before = _snapshot(r)
        target = parse_target(r.url)
        assert not target.owned
        cal = calibrate(target, requests=100, sizes=(64, 2048), max_seconds=20)
        assert cal.server.startswith("redis 7")
        plan = plan_from_scenario(scenario_from_dict(SMALL), duration_s=1.5)
        res = run_load(plan, target, workers=1, connections=4)
        assert res.outcomes["ok"] == plan.n
        generator_rtt(target, 10.0, rate_rps=200, duration_s=1.0, workers=1, connections=2)
        probe_url(r.url, requests=300)
        after = _snapshot(r)
    assert after["keys"] == before["keys"]
    assert after["config"] == before["config"]
    for name, calls in before["calls"].items():  # type: ignore[attr-defined]
        assert after["calls"][name] >= calls, name  # type: ignore[index]
    assert after["processed"] > before["processed"]  # type: ignore[operator]
