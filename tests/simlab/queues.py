"""Scenarios for textbook queues (shared by the simlab tests)."""

from __future__ import annotations

import math
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


def mmc_deterministic_patience(lam: float, mean_service_s: float, servers: int, patience_s: float) -> tuple[float, float]:
    """M/M/c with a deterministic patience (M/M/c+D, Barrer 1957): (P(an arrival gives up),
    P(an arrival waits and is served)).

    With FIFO and one patience for all, a customer gives up exactly when its virtual waiting
    time V exceeds the patience tau, so it can be decided at arrival. Level crossing on V:
    below c busy servers p_n = p_0 a^n / n!; with all busy V has density
    f(v) = lam p_{c-1} e^{-(c mu - lam) v} on (0, tau] (each joiner adds an Exp(c mu) to V)
    and f(tau) e^{-c mu (v - tau)} above tau (nobody joins there); P(give up) = P(V > tau)
    = lam p_{c-1} e^{-(c mu - lam) tau} / (c mu), normalised with the rest."""
    mu = 1.0 / mean_service_s
    a = lam * mean_service_s
    terms = [1.0]
    for n in range(1, servers):
        terms.append(terms[-1] * a / n)
    d = servers * mu - lam
    f0 = lam * terms[-1]
    inner = f0 * patience_s if abs(d) < 1e-12 else f0 * (1.0 - math.exp(-d * patience_s)) / d
    tail = f0 * math.exp(-d * patience_s) / (servers * mu)
    z = sum(terms) + inner + tail
    return tail / z, inner / z
