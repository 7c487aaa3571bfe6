"""The load generator measured against a server that answers at once.

Two figures say what the generator's numbers are worth on a machine:

* **ceiling**: the highest open-loop rate it holds (achieved within 1 % of intended, P99 send
  lag under 1 ms), found by doubling and then bisecting short runs against
  :class:`~simlab.load.pong.PongServer`;
* **added latency**: what it measures against that server at a moderate rate, which is its
  own cost (scheduling, encoding, parsing, the loopback) and the floor under any latency it
  reports of a real server.

A target whose saturation lies above the ceiling cannot be saturated by this generator on
this machine; :func:`simlab.validate.validate` then says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from simlab.load.affinity import Pinning, pin_process, split
from simlab.load.generator import LoadResult, run_load
from simlab.load.pong import PongServer
from simlab.load.target import parse_target
from simlab.load.worker import K_CMD
from simlab.load.workload import LoadPlan

__all__ = ["GeneratorCheck", "check_generator", "get_plan"]


def get_plan(rate_rps: float, seconds: float, seed: int = 0) -> LoadPlan:
    """Poisson arrivals of single GETs (one command, one round trip each)."""
    rng = np.random.default_rng(seed)
    n = max(1, int(rng.poisson(rate_rps * seconds)))
    rows: dict[str, np.ndarray] = {
        "t": np.sort(rng.uniform(0, seconds, n)), "kind": np.full(n, K_CMD, np.int8),
        "key": rng.integers(0, 1000, n), "vsize": np.full(n, 16, np.int32), "ttl": np.full(n, np.nan),
        "src": np.zeros(n, np.int16), "flow": np.zeros(n, np.int16), "bdelay": np.zeros(n), "hold": np.zeros(n),
    }
    return LoadPlan("generator self-check", seed, seconds, min(0.5, seconds / 4), rows, ["probe"], ["get"],
                    [{"name": "get", "kind": "command", "keys_per_request": 1, "subscribers": 0, "commands": ["GET"]}],
                    [2.0], [None])


@dataclass
class GeneratorCheck:
    workers: int
    connections: int
    ceiling_rps: float
    attempts: list[dict[str, Any]]
    latency_rate_rps: float
    added_latency_ms: dict[str, float]
    #: generator CPU per request at each attempted rate: what the ceiling is made of, and a
    #: figure that does not depend on what else the machine is doing
    cpu_us_per_request: dict[float, float]
    #: where the instant-reply server and the workers ran ("not pinned" when the scheduler chose)
    pinning: str = "not pinned"
    #: pinned runs only: the added latency against the instant-reply server that polls its
    #: sockets instead of sleeping (simlab.load.pong), so no wake-up of the server's CPU is in it
    added_latency_polling_server_ms: dict[str, float] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"workers": self.workers, "connections_per_worker": self.connections, "pinning": self.pinning,
                "ceiling_rps": self.ceiling_rps, "attempts": self.attempts,
                "added_latency_at_rps": self.latency_rate_rps, "added_latency_ms": self.added_latency_ms,
                "added_latency_polling_server_ms": self.added_latency_polling_server_ms,
                "cpu_us_per_request": {str(k): v for k, v in self.cpu_us_per_request.items()}}


def _try(url: str, rate: float, seconds: float, workers: int, connections: int,
         cpus: tuple[int, ...] | None = None) -> LoadResult:
    return run_load(get_plan(rate, seconds), parse_target(url), workers=workers, connections=connections,
                    cleanup=False, max_seconds=seconds + 5, cpus=cpus, spin=cpus is not None)


def check_generator(*, workers: int = 2, connections: int = 16, seconds: float = 2.0, start_rps: float = 8000,
                    max_rps: float = 256_000, bisect_steps: int = 3, latency_rps: float = 5000,
                    pin: bool = False) -> GeneratorCheck:
    """Ceiling and added latency of the generator on this machine (module docstring).
    Bounded: at most log2(max/start) + 1 + ``bisect_steps`` runs of ``seconds`` each.
    ``pin`` puts the instant-reply server on one CPU and the workers (at most one per
    remaining CPU) on the others, polling instead of sleeping, as :func:`simlab.validate.validate`
    does (Linux, 2+ CPUs)."""
    attempts: list[dict[str, Any]] = []
    pinning: Pinning | None = split() if pin else None
    cpus = pinning.generator if pinning else None
    if pinning is not None:
        workers = max(1, min(workers, len(pinning.generator)))
    with PongServer() as pong:
        if pinning is not None and (pong.proc is None or not pin_process(pong.proc.pid, pinning.server)):
            pinning, cpus = None, None

        def ok(rate: float) -> bool:
            r = _try(pong.url, rate, seconds, workers, connections, cpus)
            attempts.append({"intended_rps": rate, "achieved_rps": r.achieved_rps, "valid": r.valid,
                             "send_lag_p99_ms": r.send_lag_p99_ms, "p99_ms": r.percentiles_ms["p99_ms"],
                             "cpu_us_per_request": r.generator_cpu_us_per_request})
            return r.valid

        lo, hi = 0.0, float("nan")
        rate = start_rps
        while rate <= max_rps:
            if ok(rate):
                lo = rate
                rate *= 2
            else:
                hi = rate
                break
        if hi == hi:
            for _ in range(bisect_steps):
                mid = (lo + hi) / 2
                if ok(mid):
                    lo = mid
                else:
                    hi = mid
        lat = _try(pong.url, latency_rps, max(seconds, 3.0), workers, connections, cpus)
    polling: dict[str, float] | None = None
    if pinning is not None:
        with PongServer(poll=True) as spinner:
            if spinner.proc is not None and pin_process(spinner.proc.pid, pinning.server):
                polling = dict(_try(spinner.url, latency_rps, max(seconds, 3.0), workers, connections,
                                    cpus).percentiles_ms)
    return GeneratorCheck(workers=workers, connections=connections, ceiling_rps=lo, attempts=attempts,
                          latency_rate_rps=latency_rps, added_latency_ms=dict(lat.percentiles_ms),
                          cpu_us_per_request={a["intended_rps"]: a["cpu_us_per_request"] for a in attempts},
                          pinning=pinning.describe().replace("server", "instant-reply server") + " (polling)"
                          if pinning else "not pinned", added_latency_polling_server_ms=polling)
