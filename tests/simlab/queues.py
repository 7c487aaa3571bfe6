"""Scenarios for textbook queues (shared by the simlab tests)."""

from __future__ import annotations

from typing import Any

from simlab.scenario import Scenario, scenario_from_dict


def single_queue(
    rate_rps: float,
    service: dict[str, Any],
    *,
    servers: int = 1,
    duration_s: float = 100.0,
    warmup_s: float = 5.0,
    arrival: str = "poisson",
) -> Scenario:
    """One Poisson source, one command, one cache instance with `servers` threads, no network:
    the response time is exactly the sojourn time at the instance."""
    return scenario_from_dict(
        {
            "name": "queue",
            "sources": [{"name": "src", "rate_rps": rate_rps, "arrival": {"kind": arrival}, "flows": {"op": 1.0}}],
            "keyspace": {"num_keys": 1},
            "flows": {"op": {"kind": "command", "commands": {"OP": 1}}},
            "cache": {"threads": servers, "service_time_us": {"OP": service}},
            "run": {"duration_s": duration_s, "warmup_s": warmup_s},
        }
    )
