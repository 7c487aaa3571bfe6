"""Closed forms of queueing theory, used to check the simulator (and to size by hand).

Notation: arrival rate lam (1/s), mean service time s (s), c servers, rho = lam s / c.
Formulas from Kleinrock, Queueing Systems vol. 1 (1975) and Harchol-Balter, Performance
Modeling and Design of Computer Systems (2013), chapters cited per function. Cache formulas
(Che's approximation) live in `simlab.cache_theory`.
"""

from __future__ import annotations

import math

__all__ = [
    "UnstableQueue",
    "erlang_c",
    "md1_mean_wait_s",
    "mg1_mean_wait_s",
    "mm1_mean_sojourn_s",
    "mm1_mean_wait_s",
    "mm1_sojourn_quantile_s",
    "mmc_mean_wait_s",
    "mmc_wait_quantile_s",
    "utilisation",
]


class UnstableQueue(ValueError):
    """rho >= 1: the queue grows without bound and has no steady state."""


def utilisation(lam: float, mean_service_s: float, servers: int = 1) -> float:
    """rho = lam E[S] / c; raises UnstableQueue when rho >= 1."""
    rho = lam * mean_service_s / servers
    if rho >= 1:
        raise UnstableQueue(f"utilisation {rho:.3f} >= 1")
    return rho


def mm1_mean_wait_s(lam: float, mean_service_s: float) -> float:
    """M/M/1 mean time in queue: Wq = rho s / (1 - rho) (Kleinrock 3.2)."""
    rho = utilisation(lam, mean_service_s)
    return rho * mean_service_s / (1 - rho)


def mm1_mean_sojourn_s(lam: float, mean_service_s: float) -> float:
    """M/M/1 mean response time: T = s / (1 - rho) = 1 / (mu - lam)."""
    rho = utilisation(lam, mean_service_s)
    return mean_service_s / (1 - rho)


def mm1_sojourn_quantile_s(lam: float, mean_service_s: float, q: float) -> float:
    """M/M/1 FIFO sojourn time is exponential with rate mu - lam (Kleinrock 3.2, eq. 3.29):
    its q-quantile is -ln(1 - q) / (mu - lam)."""
    utilisation(lam, mean_service_s)
    return -math.log(1 - q) / (1 / mean_service_s - lam)


def erlang_c(lam: float, mean_service_s: float, servers: int) -> float:
    """Probability that an arrival waits in M/M/c (Erlang C; Harchol-Balter 14.5):

    P(wait) = [a^c / c! / (1 - rho)] / [sum_{k<c} a^k / k! + a^c / c! / (1 - rho)], a = lam s.
    Computed with the stable recursion on the Erlang B formula: B(0) = 1,
    B(k) = a B(k-1) / (k + a B(k-1)); C = B / (1 - rho (1 - B)).
    """
    rho = utilisation(lam, mean_service_s, servers)
    a = lam * mean_service_s
    b = 1.0
    for k in range(1, servers + 1):
        b = a * b / (k + a * b)
    return b / (1 - rho * (1 - b))


def mmc_mean_wait_s(lam: float, mean_service_s: float, servers: int) -> float:
    """M/M/c mean wait: Wq = C(c, a) / (c mu - lam) (Harchol-Balter 14.5)."""
    pw = erlang_c(lam, mean_service_s, servers)
    return pw / (servers / mean_service_s - lam)


def mmc_wait_quantile_s(lam: float, mean_service_s: float, servers: int, q: float) -> float:
    """q-quantile of the M/M/c wait: P(W > t) = C e^{-(c mu - lam) t}."""
    pw = erlang_c(lam, mean_service_s, servers)
    if 1 - q >= pw:
        return 0.0
    return math.log(pw / (1 - q)) / (servers / mean_service_s - lam)


def mg1_mean_wait_s(lam: float, mean_service_s: float, service_cv: float) -> float:
    """Pollaczek-Khinchine: M/G/1 Wq = rho s (1 + cv^2) / (2 (1 - rho)) (Kleinrock 5.7),
    where cv is the coefficient of variation of the service time."""
    rho = utilisation(lam, mean_service_s)
    return rho * mean_service_s * (1 + service_cv**2) / (2 * (1 - rho))


def md1_mean_wait_s(lam: float, mean_service_s: float) -> float:
    """M/D/1: P-K with cv = 0, Wq = rho s / (2 (1 - rho)), half the M/M/1 wait."""
    return mg1_mean_wait_s(lam, mean_service_s, 0.0)
