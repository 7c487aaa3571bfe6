"""Client-side connection pools (redis-py's BlockingConnectionPool) and `maxclients` as a real
bound on the connections open at once.

A pool is checked against M/M/c closed forms: a command holds a connection for the app <->
cache round trip plus its time at the instance; with an exponential round trip and a 1 us
command the hold is exponential, so a pool of c connections is M/M/c, with the acquire timeout
a deterministic patience (M/M/c+D, `queues.mmc_deterministic_patience`), without one Erlang C.
Tolerances: the spread of each figure over 4 seeds of the same run length, measured once
(sd 0.0016 for the share timed out, 0.0045 for the share that waits), times about 4.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from simlab.model.run import choose_solver, simulate
from simlab.scenario import ScenarioError, scenario_from_dict
from simlab.slo import evaluate_slos
from simlab.theory import erlang_c, mmc_mean_wait_s
from tests.simlab.queues import mmc_deterministic_patience

HOLD_S = 0.010  # mean connection hold: the exponential app <-> cache round trip


def _pooled(rate: float, pool: dict[str, Any] | None, *, duration_s: float = 120.0, **extra: Any) -> dict[str, Any]:
    src: dict[str, Any] = {"name": "src", "rate_rps": rate, "flows": {"op": 1.0}}
    if pool is not None:
        src["pool"] = pool
    return {
        "name": "pool",
        "sources": [src],
        "keyspace": {"num_keys": 1},
        "flows": {"op": {"kind": "command", "commands": {"OP": 1}}},
        "network": {"app_to_cache_rtt_ms": {"kind": "exponential", "mean": HOLD_S * 1e3}},
        "cache": {"service_time_us": {"OP": {"kind": "constant", "value": 1.0}}},
        "run": {"duration_s": duration_s, "warmup_s": 5},
        **extra,
    }


def _row(r, name: str):
    return r.resources.set_index("resource").loc[name]


def test_pool_with_acquire_timeout_matches_mmc_with_deterministic_patience() -> None:
    """900 commands/s, 10 connections held 10 ms on average (offered 0.9), 5 ms acquire timeout:
    M/M/c+D gives 6.39 % timed out and 44.3 % of the served waiting (tolerances 0.006 and
    0.015, see module docstring). Timeouts are errors with their own outcome, and every
    waiting command got a connection within the timeout."""
    sc = scenario_from_dict(_pooled(900.0, {"max_connections": 10, "timeout_ms": 5}))
    assert choose_solver(sc) == "simpy"
    r = simulate(sc)
    p = _row(r, "pool(src).cache[0].primary")
    give_up, wait_served = mmc_deterministic_patience(900.0, HOLD_S, 10, 0.005)
    assert give_up == pytest.approx(0.0639, abs=1e-4)
    assert p["kind"] == "client_pool" and p["servers"] == 10
    assert p["shed_fraction"] == pytest.approx(give_up, abs=0.006)
    assert p["wait_probability"] == pytest.approx(wait_served / (1 - give_up), abs=0.015)
    assert p["p99_wait_ms"] <= 5.0 * 1.001
    assert p["mean_service_ms"] == pytest.approx(HOLD_S * 1e3, rel=0.03)  # hold: 1 % sd over 100k holds
    assert p["open_connections"] == 10
    causes = dict(zip(r.errors["cause"], r.errors["requests"], strict=True))
    assert causes["pool_timeout"] == p["shed"] and causes["shed"] == 0
    assert r.overall["error_rate"] == pytest.approx(p["shed_fraction"], abs=0.002)
    # the availability SLI counts them as bad
    avail = {o.name: o for o in evaluate_slos(sc, r).objectives}["availability"]
    assert 1 - avail.achieved == pytest.approx(r.overall["error_rate"], rel=0.02)


def test_pool_without_timeout_is_erlang_c() -> None:
    """No acquire timeout (redis-py `timeout=None`): the pool is M/M/10 at offered load 0.8;
    Erlang C gives P(wait) 0.409 and Wq 2.05 ms. Waits are correlated from one command to the
    next, so one 120 s run's Wq varies by 9 % (sd over 6 seeds, measured once; P(wait) by
    0.0095): 4 replications pooled halve that, and the tolerances are 15 % and 0.02 (3.3 and
    4.2 sd of the pooled figure)."""
    r = simulate(scenario_from_dict(_pooled(800.0, {"max_connections": 10, "timeout_ms": None})), replications=4)
    p = _row(r, "pool(src).cache[0].primary")
    assert p["wait_probability"] == pytest.approx(erlang_c(800.0, HOLD_S, 10), abs=0.02)
    assert p["mean_wait_ms"] == pytest.approx(mmc_mean_wait_s(800.0, HOLD_S, 10) * 1e3, rel=0.15)
    assert p["shed"] == 0
    assert any(n.startswith("pool(src)") and "unbounded" in n for n in r.overload["unbounded"])


def test_a_pool_that_never_binds_changes_nothing_and_solvers_agree() -> None:
    """With 1000 connections nobody waits for one: the event solver with the pool gives the
    vectorised solver's answer without it (same plan, so the same requests; tolerance 1e-9
    relative: asking the pool and adding the leg back round the floats). Connection set-up is
    made free here (`test_connection_setup_*` below charge it)."""
    plain = simulate(scenario_from_dict(_pooled(500.0, None, duration_s=30)), model="vector")
    free_setup = {"max_connections": 1000, "connect_round_trips": 0, "handshake": []}
    pooled = simulate(scenario_from_dict(_pooled(500.0, free_setup, duration_s=30)))
    assert pooled.model == "simpy" and plain.model == "vector"
    for k in ("requests", "p50_ms", "p99_ms", "max_ms", "mean_ms", "error_rate"):
        assert pooled.overall[k] == pytest.approx(plain.overall[k], rel=1e-9, abs=1e-9), k


def test_app_pool_instances_and_cache_aside_misses() -> None:
    """The application's pool, 4 instances of 3 connections, serves a cache-aside flow whose
    misses call a 20 ms backend: the GET and the SET each hold a connection for about a round
    trip (1 ms), the backend call holds none, so 4 x 3 connections carry 400 requests/s with
    almost no waiting; with each connection held over the backend call they could not
    (offered 400 x 20 ms / 12 = 0.67 on the misses alone). Each instance has its own pool."""
    d = {
        "name": "app-pool",
        "sources": [{"name": "web", "rate_rps": 400, "flows": {"reads": 1.0}}],
        "keyspace": {"num_keys": 1_000_000, "popularity": {"kind": "uniform"}},
        "flows": {"reads": {"kind": "cache_aside"}},
        "network": {"app_to_cache_rtt_ms": {"kind": "constant", "value": 1.0},
                    "app_pool": {"max_connections": 3, "timeout_ms": 50, "instances": 4}},
        "backend": {"latency_ms": {"kind": "constant", "value": 20.0}},
        "cache": {"service_time_us": {"default": {"kind": "constant", "value": 10.0}}},
        "run": {"duration_s": 20, "warmup_s": 2},
    }
    r = simulate(scenario_from_dict(d))
    pools = r.resources[r.resources["kind"] == "client_pool"]
    assert sorted(pools["resource"]) == [f"pool(app#{j}).cache[0].primary" for j in range(4)]
    # ~1.99 commands per request (GET + SET on a miss), each held 1 ms + 10 us
    assert pools["jobs"].sum() == pytest.approx(2 * r.overall["requests"], rel=0.02)
    assert float(np.average(pools["mean_service_ms"], weights=pools["jobs"])) == pytest.approx(1.01, rel=0.01)
    assert pools["offered_load"].max() < 0.1
    assert r.overall["error_rate"] < 0.001


def test_maxclients_refuses_connections_pools_open_beyond_it() -> None:
    """Two sources with pools of 10 against maxclients 12 (2 of them taken by a third source's
    fixed connections): the pools open 10 connections between them, and a command that needs
    an 11th is refused with outcome `maxclients` (an error), never more than 10 open."""
    d = _pooled(1200.0, {"max_connections": 10, "timeout_ms": 100}, duration_s=30)
    d["sources"].append({**d["sources"][0], "name": "src2"})
    d["sources"].append({"name": "admin", "rate_rps": 1, "flows": {"op": 1.0}, "connections": 2})
    d["cache"]["maxclients"] = 12
    r = simulate(scenario_from_dict(d))
    pools = r.resources[r.resources["kind"] == "client_pool"]
    assert pools["open_connections"].sum() == 10
    causes = dict(zip(r.errors["cause"], r.errors["requests"], strict=True))
    assert causes["maxclients"] > 0 and causes["maxclients"] == pools["refused"].sum()
    errors = r.overall["error_rate"] * r.overall["requests"]
    assert errors == pytest.approx(causes["maxclients"] + causes["pool_timeout"], abs=1)
    # with room for every connection nothing is refused
    d["cache"]["maxclients"] = 100
    r = simulate(scenario_from_dict(d))
    assert dict(zip(r.errors["cause"], r.errors["requests"], strict=True))["maxclients"] == 0


def test_pool_timeouts_are_retried_by_the_client() -> None:
    """Each command that times out at the pool is retried once, at once (backoff 0; its
    `detect` lies a leg before the application knows, so the retry asks at that moment):
    every timed-out command is either retried or, the second time, the request's error, so
    pool timeouts = retries + requests failed with `pool_timeout`: an identity, up to the
    retries that ask after the run's end (the pool counts asks inside it; a retry 5 ms after
    a request of the last 5 ms: ~0.3 expected, tolerance 2)."""
    d = _pooled(950.0, {"max_connections": 10, "timeout_ms": 5}, duration_s=30)
    d["sources"][0].update(timeout_ms=1000, retries=1, backoff_ms=0)
    d["run"]["warmup_s"] = 0
    r = simulate(scenario_from_dict(d))
    p = _row(r, "pool(src).cache[0].primary")
    failed = dict(zip(r.errors["cause"], r.errors["requests"], strict=True))["pool_timeout"]
    assert r.overall["retries"] > 0 and failed > 0
    assert p["shed"] == pytest.approx(r.overall["retries"] + failed, abs=2)


@pytest.mark.parametrize(("patch", "where"), [
    ({"run": {"model": "vector"}}, "run.model"),
    ({"sources": [{"name": "src", "rate_rps": 1, "flows": {"op": 1.0}, "connections": 5,
                   "pool": {"max_connections": 5}}]}, "sources.0"),
    ({"sources": [{"name": "src", "rate_rps": 1, "flows": {"op": 1.0}, "pool": {"max_connections": 0}}]},
     "sources.0.pool.max_connections"),
    ({"network": {"app_pool": {"max_connections": 4, "timeout_ms": -1}}}, "network.app_pool.timeout_ms"),
])
def test_bad_pool_fields_name_the_field(patch: dict[str, Any], where: str) -> None:
    d = _pooled(10.0, {"max_connections": 4})
    d.update(patch)
    with pytest.raises(ScenarioError) as err:
        scenario_from_dict(d, "pool.yaml")
    assert where in str(err.value)


def test_vector_solver_refuses_pools() -> None:
    sc = scenario_from_dict(_pooled(10.0, {"max_connections": 4}))
    with pytest.raises(ScenarioError, match="run.model.*client connection pools"):
        choose_solver(sc, "vector")


def test_shipped_client_pool_scenario_turns_a_blip_into_pool_timeouts() -> None:
    """data/scenarios/client-pool.yaml, shortened (blip at 60 s for 30 s, 90 s run): 3 pods x
    4 connections carry ~2,300 commands/s (offered ~0.06 per pool); the +10 ms blip makes each
    command hold its connection 10 ms longer (~7.9 busy per pool on 4), so in minute 1 a large
    share of requests fail with `pool_timeout` (over 20 %: the blip is half the minute and
    half of the commands in it time out), and none before it (0.1 %: the scenario's own
    0.02 % of upstream errors). With 16 connections per pod the blip costs no error."""
    from simlab.paths import SCENARIOS_DIR
    from simlab.scenario import load_scenario

    d = load_scenario(SCENARIOS_DIR / "client-pool.yaml").model_dump(mode="json")
    d["faults"] = [{"kind": "blip", "at_s": 60, "duration_s": 30, "extra_latency_ms": 10}]
    d["run"].update(duration_s=90, warmup_s=0)
    r = simulate(scenario_from_dict(d))
    ts = r.timeseries.set_index("minute")
    assert ts.loc[0, "errors"] / ts.loc[0, "requests"] < 0.001
    assert ts.loc[1, "errors"] / ts.loc[1, "requests"] > 0.2
    causes = dict(zip(r.errors["cause"], r.errors["requests"], strict=True))
    assert causes["pool_timeout"] > 0.9 * ts.loc[1, "errors"]
    d["network"]["app_pool"]["max_connections"] = 16
    d["faults"][0]["at_s"] = 0
    d["run"]["duration_s"] = 30
    r16 = simulate(scenario_from_dict(d))
    assert dict(zip(r16.errors["cause"], r16.errors["requests"], strict=True))["pool_timeout"] == 0


def _constant(rate: float, pool: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """Deterministic arrivals every 1/rate s, app <-> cache legs of 0.5 ms, 10 us per command
    (the handshake's commands take `default`'s 10 us), nothing else on the path: a command
    takes 1.010 ms, and one whose connection is set up first pays (connect round trips +
    handshake commands) x 1 ms + the handshake's work."""
    return {
        "name": "setup",
        "sources": [{"name": "src", "rate_rps": rate, "flows": {"op": 1.0}, "arrival": {"kind": "deterministic"},
                     "pool": pool}],
        "keyspace": {"num_keys": 1},
        "flows": {"op": {"kind": "command", "commands": {"GET": 1}}},
        "network": {"app_to_cache_rtt_ms": {"kind": "constant", "value": 1.0},
                    "entry_to_app_rtt_ms": {"kind": "constant", "value": 0.0},
                    "app_service_ms": {"kind": "constant", "value": 0.0}, "loss_probability": 0.0},
        "cache": {"service_time_us": {"default": {"kind": "constant", "value": 10.0}}},
        "run": {"duration_s": 20, "warmup_s": 0},
        **extra,
    }


def _latencies(r) -> tuple[np.ndarray, np.ndarray]:
    cdf = r.extra["latency_cdf"]
    return cdf["latency_ms"].to_numpy(), cdf["cdf"].to_numpy()


def test_connection_setup_when_the_pool_grows() -> None:
    """Bursts that need 5 connections at once (5 requests 1 us apart, every 100 ms) open 5
    connections, each set up once: TCP (1 round trip) + CLIENT SETINFO x 2 (redis-py's
    default handshake, a round trip each) = 3 ms + 20 us of handshake work; every other
    command takes 1.010 ms plus its wait behind the burst (under 0.05 ms). Exact counts: the
    pool's `connects` is 5, and exactly 5 requests took 4.030 ms or more (to 1 us)."""
    d = _constant(1.0, {"max_connections": 5})
    d["sources"] = [{**d["sources"][0], "name": f"s{j}", "rate_rps": 10.0,
                     "client_rtt_ms": {"kind": "constant", "value": 0.002 * j}} for j in range(5)]
    for s in d["sources"]:
        s.pop("pool")
    d["network"]["app_pool"] = {"max_connections": 5}  # one pool shared by the 5 sources
    r = simulate(scenario_from_dict(d))
    pool = r.resources.set_index("resource").loc["pool(app).cache[0].primary"]
    assert pool["connects"] == 5 and pool["open_connections"] == 5
    lat, frac = _latencies(r)
    total = int(r.summary.iloc[0]["requests"])
    slow = round((1 - frac[lat < 3.0].max()) * total)
    assert slow == 5
    assert lat[lat >= 3.0].min() == pytest.approx(4.030, abs=0.0015)
    # the burst reaches the instance together: each waits for the set-ups ahead of it
    # (30 us of handshake and command each), so 4.030 + j x 0.030 ms for j = 0..4
    assert np.allclose(np.sort(lat[lat >= 3.0]), 4.030 + 0.031 * np.arange(5), atol=0.004)


def test_connection_setup_again_after_a_failover() -> None:
    """One connection (a command every 10 ms holds it 1 ms): opened once at the start, broken
    when the primary fails at 5 s, and set up again by the first command after the replica's
    promotion at 5 + 1 + 0.5 s (a refused connect during the outage sets nothing up). Exact:
    2 set-ups in all, and two requests took 4.030 ms (TCP 1 + 2 handshake round trips, and
    20 us of handshake work); those during the outage fail (connection errors)."""
    d = _constant(100.0, {"max_connections": 1, "timeout_ms": None})
    d["cache"]["replicas"] = 1
    d["faults"] = [{"kind": "failover", "at_s": 5.0, "duration_s": 30.0, "detection_s": 1.0, "promotion_s": 0.5}]
    r = simulate(scenario_from_dict(d))
    pools = r.resources.set_index("resource")
    assert pools.loc["pool(src).cache[0].primary", "connects"] == 2
    lat, frac = _latencies(r)
    row = r.summary.iloc[0]
    ok = int(row["requests"]) - int(r.errors.set_index("cause").loc["connection", "requests"])
    assert int(r.errors.set_index("cause").loc["connection", "requests"]) == 150  # 1.5 s at 100/s
    assert ok > 0 and lat[lat >= 3.0].min() == pytest.approx(4.030, abs=0.0015)
    assert round((1 - frac[lat < 3.0].max()) * int(row["requests"])) == 2
