"""A sharded scenario against a real three-master Redis Cluster: per-shard load and hot-shard
skew, predicted by the simulator and counted by the nodes themselves.

Three ``redis-server --cluster-enabled yes`` processes on free loopback ports, joined with
``redis-cli --cluster create ... --cluster-replicas 0 --cluster-yes``, stopped by PID. The
same scenario and seed give the simulator and the generator the same requests to the same
key ids; the generator names keys so that key ``k`` lands on the master that owns the
simulator's shard ``k mod 3`` (hash tags). Tolerance: each shard's share of visits within 1
percentage point and the skew within 2 %: the only differences are the few requests whose
hit or miss differs between the model and the servers (a miss is two visits, GET and SET).
"""

from __future__ import annotations

import random
import shutil
import socket
import subprocess
import time
from contextlib import ExitStack

import pytest
import redis

from simlab.load.cluster import drive_cluster
from simlab.load.workload import plan_from_scenario
from simlab.model.run import simulate
from simlab.scenario import scenario_from_dict
from tests.support.redis_real import real_redis

pytestmark = pytest.mark.redis_server

SHARDED = {
    "name": "sharded",
    "sources": [{"name": "app", "rate_rps": 500, "flows": {"ca": 0.85, "sess": 0.13, "lock": 0.02}}],
    "keyspace": {"num_keys": 5000, "popularity": {"kind": "zipf", "alpha": 1.2},
                 "value_size_bytes": {"kind": "constant", "value": 100}},
    "flows": {"ca": {"kind": "cache_aside", "op_mix": {"get": 0.9, "set": 0.08, "del": 0.02}},
              "sess": {"kind": "session"},
              "lock": {"kind": "lock", "hold_ms": {"kind": "constant", "value": 0.0}}},
    "backend": {"latency_ms": {"kind": "constant", "value": 0.0}},
    "cache": {"shards": 3, "service_time_us": {"default": {"kind": "constant", "value": 20.0}}},
    "run": {"duration_s": 8, "warmup_s": 0, "seed": 11},
}


def _cluster_port(rng: random.Random) -> int:
    """A port <= 55535 that is free and whose cluster bus port (+10000) is free too."""
    for _ in range(200):
        p = rng.randrange(20000, 55535)
        try:
            for q in (p, p + 10000):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", q))
            return p
        except OSError:
            continue
    raise RuntimeError("no free port pair for a cluster node")


def test_per_shard_load_and_skew_match_a_real_cluster() -> None:
    if shutil.which("redis-cli") is None:
        pytest.skip("redis-cli not installed")
    sc = scenario_from_dict(SHARDED)
    with ExitStack() as stack:
        rng = random.Random()  # ports only: nothing measured depends on them
        nodes = [stack.enter_context(real_redis("--cluster-enabled", "yes", "--cluster-node-timeout", "5000",
                                                port=_cluster_port(rng))) for _ in range(3)]
        subprocess.run(["redis-cli", "--cluster", "create", *[f"127.0.0.1:{n.port}" for n in nodes],
                        "--cluster-replicas", "0", "--cluster-yes"], check=True, capture_output=True, timeout=60)
        deadline = time.monotonic() + 30
        while not all(redis.Redis(port=n.port).cluster("info").get("cluster_state") == "ok" for n in nodes):
            assert time.monotonic() < deadline, "cluster did not reach state ok"
            time.sleep(0.2)
        plan = plan_from_scenario(sc)
        run = drive_cluster(plan, "127.0.0.1", nodes[0].port, shards=3, max_requests=plan.n, max_seconds=90)
    assert run.requests == plan.n and run.errors == 0
    res = simulate(sc)
    r = res.resources
    pred = r[r["resource"].str.startswith("cache")].sort_values("resource")["jobs"].to_numpy(float)
    pred_share = pred / pred.sum()
    meas_share = run.per_shard["share"].to_numpy()
    assert abs(pred_share - meas_share).max() < 0.01, (pred_share, meas_share)
    pred_skew = pred_share.max() / pred_share.mean()
    assert run.hot_shard_skew == pytest.approx(pred_skew, rel=0.02)
    assert pred_skew > 1.05  # Zipf 1.2 over 5000 keys is not even: the check has something to find
