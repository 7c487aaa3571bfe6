"""``cache.request_overhead_us``: the server's CPU per round trip, once per request however many
commands it pipelines (simlab.model.plan). Constant times and a load light enough that no
request waits, so each request's latency is exactly the work of its round trips."""

from __future__ import annotations

import pytest

from simlab.model.run import simulate
from simlab.scenario import scenario_from_dict


def _const(v: float) -> dict[str, object]:
    return {"kind": "constant", "value": v}


def _scenario(overhead: float | None, pipeline: float | None = None) -> dict[str, object]:
    return {
        "name": "overhead",
        "sources": [{"name": "app", "rate_rps": 5, "flows": {"sess": 0.5, "ca": 0.5}},
                    {"name": "limited", "rate_rps": 5, "flows": {"sess": 1.0},
                     "rate_limit": {"limit": 1000, "window_s": 1.0}}],
        "keyspace": {"num_keys": 10_000_000, "popularity": {"kind": "uniform"},
                     "value_size_bytes": _const(100), "ttl": {"kind": "none"}},
        "flows": {"sess": {"kind": "session"}, "ca": {"kind": "cache_aside", "op_mix": {"get": 1.0}}},
        "backend": {"latency_ms": _const(0.0)},
        "cache": {"service_time_us": {"HGETALL": _const(10.0), "EXPIRE": _const(5.0), "INCR": _const(3.0),
                                      "GET": _const(4.0), "SET": _const(6.0), "DEL": _const(6.0)},
                  **({"request_overhead_us": _const(overhead)} if overhead is not None else {}),
                  **({"pipeline_overhead_us": _const(pipeline)} if pipeline is not None else {})},
        "run": {"duration_s": 200, "warmup_s": 0.0, "seed": 1},
    }


def _mean_us(res, group: str) -> float:
    s = res.summary
    return float(s[s["group"] == group]["mean_ms"].iloc[0]) * 1000.0


def test_the_overhead_is_paid_once_per_round_trip_not_per_command() -> None:
    without = simulate(scenario_from_dict(_scenario(None)))
    with_7 = simulate(scenario_from_dict(_scenario(7.0)))
    # app: HGETALL + EXPIRE pipelined in one round trip -> 15 us, 22 with the overhead (not 29)
    # limited: INCR + EXPIRE in front of it, still one round trip -> 23, 30 (not 44)
    assert _mean_us(without, "limited") == pytest.approx(23.0, abs=0.05)
    assert _mean_us(with_7, "limited") == pytest.approx(30.0, abs=0.05)
    # a cache-aside GET that misses (every one: ten million keys, few requests) and the SET that
    # fills the key are two round trips: 4 + 6 = 10 us, 24 with the overhead on each
    assert _mean_us(without, "ca") == pytest.approx(10.0, abs=0.05)
    assert _mean_us(with_7, "ca") == pytest.approx(24.0, abs=0.05)
    assert _mean_us(with_7, "sess") == pytest.approx((22.0 * 500 + 30.0 * 1000) / 1500, rel=0.05)


def test_a_zero_overhead_changes_nothing() -> None:
    """The overhead is drawn after every other draw of the plan, so the same scenario with a
    zero overhead gives the same requests and figures (the shipped scenarios' baselines, which
    have none, are checked by `simlab regress`)."""
    sc = _scenario(None)
    sc["cache"]["service_time_us"] = {"default": {"kind": "gamma", "mean": 10.0, "cv": 0.5}}  # type: ignore[index]
    a = simulate(scenario_from_dict(sc), duration_s=30).to_dict()
    sc["cache"]["request_overhead_us"] = _const(0.0)  # type: ignore[index]
    b = simulate(scenario_from_dict(sc), duration_s=30).to_dict()
    for d in (a, b):
        d.pop("wall_s", None)
    assert a == b


def test_the_pipeline_overhead_is_paid_by_round_trips_of_several_commands_only() -> None:
    res = simulate(scenario_from_dict(_scenario(7.0, pipeline=5.0)))
    # sessions (two commands) and everything behind the rate limit (INCR + EXPIRE in front)
    # pay it once more; a cache-aside GET and its SET, one command each, do not
    assert _mean_us(res, "limited") == pytest.approx(35.0, abs=0.05)
    assert _mean_us(res, "ca") == pytest.approx(24.0, abs=0.05)
    assert _mean_us(res, "sess") == pytest.approx((27.0 * 500 + 35.0 * 1000) / 1500, rel=0.05)
