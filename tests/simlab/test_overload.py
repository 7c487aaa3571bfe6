"""Overload modelled honestly: bounds (pool acquire timeout, load shedding, maxclients), what
the output says about over-capacity resources, and recovery that bounded queues allow.

Tolerances: shares of requests are binomial; 4.5 sd of the count (stated per test).
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from simlab.model.run import choose_solver, simulate
from simlab.paths import SCENARIOS_DIR
from simlab.scenario import ScenarioError, load_scenario, scenario_from_dict


def _all_miss(rate: float, **backend: Any) -> dict[str, Any]:
    return {
        "name": "ov",
        "sources": [{"name": "app", "rate_rps": rate, "flows": {"reads": 1.0}}],
        "keyspace": {"num_keys": 1_000_000, "popularity": {"kind": "uniform"}},
        "flows": {"reads": {"kind": "cache_aside"}},
        "backend": {"latency_ms": {"kind": "constant", "value": 10.0}, **backend},
        "cache": {"service_time_us": {"default": {"kind": "constant", "value": 10.0}}},
        "run": {"duration_s": 30, "warmup_s": 5},
    }


def _row(r, name: str):
    return r.resources.set_index("resource").loc[name]


@pytest.mark.parametrize("engine", ["simpy", "vector"])
def test_pool_acquire_timeout_bounds_the_wait_and_sheds_the_excess(engine: str) -> None:
    """One backend connection, 10 ms per call, 200 misses/s: offered load 2.0. With a 50 ms
    acquire timeout no wait exceeds 50 ms, the connection is ~always busy, and the excess half
    is shed (served ~ 100/s: shed fraction ~ 0.5; tolerance 0.03 covers Poisson noise and the
    bound's slack). Offered load counts the shed work too."""
    sc = scenario_from_dict(_all_miss(200.0, concurrency=1, acquire_timeout_ms=50))
    assert choose_solver(sc) == "simpy"
    r = simulate(sc, model=engine)
    b = _row(r, "backend")
    assert b["offered_load"] == pytest.approx(2.0, rel=0.05)
    assert b["busy_fraction"] > 0.97
    assert b["p99_wait_ms"] <= 50.0 * 1.001
    assert b["shed_fraction"] == pytest.approx(0.5, abs=0.03)
    assert r.overall["shed_rate"] == pytest.approx(b["shed_fraction"], abs=0.02)
    over = r.overload["over_capacity"]
    assert over and over[0]["resource"] == "backend" and "shed by its bound" in over[0]["message"]
    assert not any(n.startswith("backend") for n in r.overload["unbounded"])


def test_acquire_timeout_needs_a_pool() -> None:
    with pytest.raises(ScenarioError, match="concurrency"):
        scenario_from_dict(_all_miss(10.0, acquire_timeout_ms=50))


def test_load_shedding_at_the_cache() -> None:
    """M/D/1 offered 1.5 (150 requests/s of 10 ms) with shedding at 20 ms of wait: the server
    can do 100/s, so about a third is shed (tolerance 0.03); nobody waits over 20 ms."""
    d = _all_miss(150.0)
    d["flows"]["reads"] = {"kind": "command", "commands": {"GET": 1}}
    d["cache"] = {"service_time_us": {"default": {"kind": "constant", "value": 10_000.0}}, "shed_wait_ms": 20}
    r = simulate(scenario_from_dict(d))
    c = _row(r, "cache[0].primary")
    assert c["shed_fraction"] == pytest.approx(1 / 3, abs=0.03)
    assert c["p99_wait_ms"] <= 20.0 * 1.001


def test_maxclients_refuses_the_excess_connections() -> None:
    """120 connections against maxclients 100: 20/120 of the clients are refused, so 1/6 of
    their ~3000 requests fail (binomial sd 0.0068; 4.5 sd = 0.031)."""
    d = _all_miss(100.0)
    d["sources"][0]["connections"] = 120
    d["cache"]["maxclients"] = 100
    r = simulate(scenario_from_dict(d))
    refused = dict(zip(r.errors["cause"], r.errors["requests"], strict=True))["maxclients"]
    assert refused / r.overall["requests"] == pytest.approx(1 / 6, abs=0.031)
    assert r.overall["shed_rate"] == 0


def test_retry_storm_multiplies_offered_load() -> None:
    """Timeouts with retries under overload: every timed-out attempt is tried again and the
    servers still do the abandoned work, so the backend's offered load grows with retries."""
    base = _all_miss(150.0, concurrency=1)
    base["sources"][0].update(timeout_ms=30)
    calm = simulate(scenario_from_dict(base))
    base["sources"][0].update(retries=3, backoff_ms=5)
    storm = simulate(scenario_from_dict(base))
    assert storm.overall["retries"] > 0
    assert _row(storm, "backend")["offered_load"] > 1.5 * _row(calm, "backend")["offered_load"]


def test_bounded_queue_recovers_after_a_slowdown() -> None:
    """A 60 s slowdown at 50x service time at half load: unbounded, the queue built up (25x
    capacity for 60 s) takes many minutes to drain and every request meanwhile times out;
    with shedding at 100 ms the minute after the slowdown is back to no errors."""
    d = _all_miss(500.0)
    d["flows"]["reads"] = {"kind": "command", "commands": {"GET": 1}}
    d["sources"][0]["timeout_ms"] = 500
    d["cache"] = {"service_time_us": {"default": {"kind": "exponential", "mean": 1000.0}}}
    d["faults"] = [{"kind": "slow", "at_s": 60, "duration_s": 60, "factor": 50}]
    d["run"] = {"duration_s": 300, "warmup_s": 0}
    unbounded = simulate(scenario_from_dict(d)).timeseries.set_index("minute")
    d["cache"]["shed_wait_ms"] = 100
    bounded = simulate(scenario_from_dict(d)).timeseries.set_index("minute")
    err = lambda ts, m: ts.loc[m, "errors"] / ts.loc[m, "requests"]  # noqa: E731
    assert err(unbounded, 3) > 0.99  # still draining a minute after the slowdown ended
    assert err(bounded, 2) < 0.01 and err(bounded, 3) < 0.01


def test_shipped_overload_scenario_says_what_is_overloaded() -> None:
    """The 5x scenario (a shortened run): the backend pool is named, with its excess; the
    cache is not over capacity; the unbounded queues are listed."""
    sc = load_scenario(SCENARIOS_DIR / "overload-5x.yaml")
    r = simulate(sc, duration_s=60, warmup_s=30)
    flagged = {o["resource"] for o in r.overload["over_capacity"] + r.overload["saturated"]}
    assert flagged == {"backend"}
    assert any(n.startswith("cache[0].primary") for n in r.overload["unbounded"])
    b = _row(r, "backend")
    assert b["offered_load"] > 0.95 and not math.isnan(b["busy_fraction"])
