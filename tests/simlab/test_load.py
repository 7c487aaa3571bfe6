"""The open-loop load generator against the cachelab engine in a child process.

Every run is bounded in requests (a few thousand) and time (``max_seconds``). No test
asserts a speed: the machine is shared. What is checked are counts and identities that hold
at any speed: every row answered, the simulator's hit/miss decisions reproduced by the live
server on the same key sequence, a server stall reaching every request scheduled during it
(open loop) but only the requests in flight (closed loop), and the run's keys removed.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import redis

from simlab.load.generator import run_load
from simlab.load.target import EngineProcess, UnsafeTarget, parse_target
from simlab.load.worker import K_CMD
from simlab.load.workload import LoadPlan, plan_from_scenario
from simlab.scenario import scenario_from_dict

SMALL = {
    "name": "small",
    "sources": [{"name": "app", "rate_rps": 600, "flows": {"ca": 0.8, "sess": 0.1, "pub": 0.06, "lock": 0.04},
                 "timeout_ms": 10000}],
    "keyspace": {"num_keys": 2000, "popularity": {"kind": "zipf", "alpha": 1.0},
                 "value_size_bytes": {"kind": "lognormal", "median": 200, "sigma": 0.8},
                 "ttl": {"kind": "fixed", "ttl_s": 300}},
    "flows": {"ca": {"kind": "cache_aside", "op_mix": {"get": 0.9, "set": 0.06, "del": 0.02, "incr": 0.02}},
              "sess": {"kind": "session"},
              "pub": {"kind": "pubsub", "subscribers": 2},
              "lock": {"kind": "lock", "hold_ms": {"kind": "constant", "value": 0.0}}},
    "backend": {"latency_ms": {"kind": "constant", "value": 0.0}},
    "cache": {"service_time_us": {"default": {"kind": "constant", "value": 20.0}}},
    "run": {"duration_s": 3, "warmup_s": 0.5, "seed": 4},
}


@pytest.fixture(scope="module")
def engine():
    with EngineProcess(**{"enable-debug-command": "local"}) as eng:
        yield eng


def test_same_scenario_and_seed_give_the_same_rows_and_keys():
    sc = scenario_from_dict(SMALL)
    a = plan_from_scenario(sc, seed=4)
    b = plan_from_scenario(sc, seed=4)
    c = plan_from_scenario(sc, seed=5)
    for k in a.rows:
        assert np.array_equal(a.rows[k], b.rows[k], equal_nan=True), k
    assert not np.array_equal(a.rows["key"][:100], c.rows["key"][:100])
    # the rows are the simulator's requests: as many, at the same times
    assert a.n == pytest.approx(600 * 3, rel=0.1)  # Poisson count: 1800 +- 3 sd is +-7 %
    assert np.all(np.diff(a.rows["t"]) >= 0)


def test_open_loop_run_reproduces_the_simulators_hits_and_cleans_up(engine):
    sc = scenario_from_dict(SMALL)
    plan = plan_from_scenario(sc)
    res = run_load(plan, engine.target(), workers=2, connections=4, prefix="simlab:test-open:")
    assert res.mode == "open loop"
    assert res.outcomes["ok"] + res.outcomes["rejected"] == plan.n, res.errors
    assert res.error_rate == 0.0
    # Same keys in the same order, an empty cache at the start and no eviction: the live
    # server's hits and the simulator's are the same requests, except where requests to one
    # key overlap in time. The model fills a miss at once; live, the fill lands a round trip
    # later, and a request for the same key in between misses. Round trips on a loaded shared
    # machine reach tens of ms, so we allow 3 % of requests (measured: 0.3-1.4 %), and the
    # hit ratio itself within the 1 point the validation states.
    m = (plan.rows["kind"] == 0) & (plan.rows["t"] >= plan.warmup_s)
    live = res.rows["hit"][m]
    pred = plan.predicted_hit[m]
    assert (live != pred).mean() < 0.03
    assert abs(res.hit_ratio - pred.mean()) < 0.01
    assert res.per_second["intended"].sum() == plan.n
    assert set(res.by_kind["kind"]) >= {"get", "set", "session", "publish", "lock"}
    c = redis.Redis(port=engine.port)
    assert c.keys("simlab:test-open:*") == []


def _get_plan(rate: float, seconds: float) -> LoadPlan:
    rng = np.random.default_rng(0)
    n = int(rate * seconds)
    t = np.sort(rng.uniform(0, seconds, n))
    rows = {"t": t, "kind": np.full(n, K_CMD, np.int8), "key": rng.integers(0, 100, n),
            "vsize": np.full(n, 16, np.int32), "ttl": np.full(n, np.nan), "src": np.zeros(n, np.int16),
            "flow": np.zeros(n, np.int16), "bdelay": np.zeros(n), "hold": np.zeros(n)}
    return LoadPlan("gets", 0, seconds, 0.0, rows, ["s"], ["get"],
                    [{"name": "get", "kind": "command", "keys_per_request": 1, "subscribers": 0,
                      "commands": ["GET"]}], [5.0], [None])


class _StallAt:
    """DEBUG SLEEP ``seconds`` at ``at_s`` after the run's start (run_load's on_start hook)."""

    def __init__(self, port: int, at_s: float, seconds: float) -> None:
        self.port, self.at_s, self.seconds = port, at_s, seconds
        self.started = threading.Event()
        self.t0 = 0.0
        self.thread = threading.Thread(target=self._stall)
        self.thread.start()

    def on_start(self, t0: float) -> None:
        self.t0 = t0
        self.started.set()

    def _stall(self) -> None:
        if self.started.wait(60):
            time.sleep(max(0.0, self.t0 + self.at_s - time.monotonic()))
            redis.Redis(port=self.port).execute_command("DEBUG", "SLEEP", self.seconds)

    def join(self) -> None:
        self.started.set()
        self.thread.join()


def test_a_stall_reaches_every_request_scheduled_during_it_in_open_loop_only(engine):
    """No coordinated omission: a 0.4 s DEBUG SLEEP at 300 rps delays about 120 requests by
    >= 100 ms in open loop (each timed from its intended send time); a closed loop of 2
    clients sees it (over 300 ms) in at most 2 requests. Tolerance: the stall starts when the sleeping
    thread gets the CPU, so we ask for half the expected count."""
    plan = _get_plan(300, 2.0)
    st = _StallAt(engine.port, 0.8, 0.4)
    res = run_load(plan, engine.target(), workers=1, connections=4, on_start=st.on_start)
    st.join()
    lat = res.rows["done"] - res.rows["t"]
    assert (lat > 0.1).sum() >= 0.5 * 300 * 0.4
    st = _StallAt(engine.port, 0.8, 0.4)
    closed = run_load(_get_plan(20_000, 1.0), engine.target(), workers=1, connections=2, mode="closed",
                      concurrency=2, max_seconds=2.0, on_start=st.on_start)
    st.join()
    assert closed.mode == "closed loop"
    sent = np.isfinite(closed.rows["sent"]) & np.isfinite(closed.rows["done"])
    lat = (closed.rows["done"] - closed.rows["sent"])[sent]
    # > 0.3 s: only a request caught in the 0.4 s stall waits that long, even on a busy machine
    assert 1 <= (lat > 0.3).sum() <= 2


def test_a_run_the_generator_cannot_keep_up_with_is_marked_invalid(engine):
    """One worker with one connection cannot send 1 000 000 requests/s (it spends ~5 µs of CPU
    per request, so at most ~200 000/s even pipelined); the run must say so."""
    plan = _get_plan(1_000_000, 0.3)
    res = run_load(plan, engine.target(), workers=1, connections=1, max_seconds=3.0)
    assert not res.valid
    assert any("short of the intended" in r or "behind schedule" in r for r in res.invalid_reasons)


def test_targets_not_started_here_are_protected():
    t = parse_target("redis://127.0.0.1:6390/3")
    assert (t.db, t.owned, t.loopback) == (3, False, True)
    with pytest.raises(UnsafeTarget, match="CONFIG SET"):
        t.require_owned("CONFIG SET")
    with pytest.raises(UnsafeTarget, match="loopback"):
        parse_target("redis://10.1.2.3:6379")
    assert parse_target("redis://10.1.2.3:6379", owned=True).owned
    u = parse_target("rediss://alice:s3cret@localhost:6380/0")
    assert (u.tls, u.username, u.password, u.port) == (True, "alice", "s3cret", 6380)
    assert "s3cret" not in u.label
    assert parse_target("unix:///tmp/redis.sock?db=2").unix_path == "/tmp/redis.sock"
    with pytest.raises(UnsafeTarget, match="redis://"):
        parse_target("http://localhost")
