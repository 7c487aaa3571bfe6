"""The live probe runs the same bounded workload against the embedded engine and a real
redis-server, and both servers count the same commands."""

from __future__ import annotations

from simlab.load.probe import embedded_engine, probe_url
from tests.support.redis_real import RealRedis


def test_probe_counts_the_same_commands_on_engine_and_real_redis(redis_real: RealRedis) -> None:
    with embedded_engine() as url:
        engine = probe_url(url, requests=600, seed=3)
    real = probe_url(redis_real.url, requests=600, seed=3)
    assert engine.requests == real.requests == 600
    # Same seeded workload, same hit/miss decisions, so the same number of each command.
    e = dict(zip(engine.commandstats["command"], engine.commandstats["calls"], strict=True))
    r = dict(zip(real.commandstats["command"], real.commandstats["calls"], strict=True))
    for cmd in ("get", "set", "hgetall", "hset", "expire", "publish"):
        assert e.get(cmd) == r.get(cmd), cmd
    assert engine.service_time_us("get") > 0 and real.service_time_us("get") > 0
