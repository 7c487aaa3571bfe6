"""Predicted versus measured: the simulator against a live server, load point by load point.

``validate(scenario)`` does what a careful engineer would do by hand:

1. **Target.** The cachelab engine in a child process (started with the scenario's
   ``maxmemory`` and policy) unless a Redis URL is given.
2. **Calibration.** Service times per command from the target (:mod:`simlab.calibrate`), or
   a calibration file given; then the *generator's* round trip: the load generator's own
   latency for single GETs at a low rate, less GET's service time. That round trip (kernel,
   loopback, the generator's event loop) is what every measured request pays on top of the
   server, so it is the network of the validation scenario.
   Service times depend on batching, all from measurements of the target, nothing fitted
   to the live runs. Each command costs its pipelined CPU per call plus what a further
   command costs more in a short read than in a 32-deep pipeline (three against two GETs a
   request, open loop at 400 rps, medians of three interleaved rounds; 0 on the engine).
   A round trip of two or more commands pays the server's general request path once (``cache.pipeline_overhead_us``: two against
   one GET a request, less the second GET; the engine reads a lone command by a shorter
   path). Each round trip adds, once however many commands it pipelines
   (``cache.request_overhead_us``), the busy server's cost of a read beyond its commands
   (single GETs closed loop on the generator's
   connections: :func:`busy_get_cpu_us`) and, when it finds the server idle, the event
   loop's wake-up. The wake-up is measured by round-trip probes (:class:`RoundTripProbe`:
   single GETs open loop, each after an idle gap; the server's idle CPU share, cron ticks,
   left out) at 400 rps and at higher light loads: the server's CPU per GET less the busy
   GET time. Its cost falls as idle gaps shorten (:class:`WakeUp`, interpolated between the
   probes' rates), and so does the round trip. At each load point the round trip's overhead
   is ``busy read + (1 - rho) wake-up(rate of round trips)`` (:func:`batching_overhead_us`),
   rho the server's busy fraction at that load (:func:`predicted_busy`: Poisson arrivals find
   it idle with probability 1 - rho), and the round trip is the probes' at that rate.
   At low load the prediction is then the measured latency by construction; what is
   validated is how latency and the server's CPU grow with load, and the saturation (1 /
   mean busy CPU per request, the server never idle). ``batching=False`` is the former
   method: pipelined times at every load, no per-round-trip cost, the lone wake-up in the
   round trip.
3. **Validation scenario.** The scenario as the live test runs it: the load generator talks
   to the cache directly, so the client, entry, application and backend hops are zero; the
   cache-to-client round trip is the calibrated one; service times are the calibrated ones;
   persistence is off (the engine runs without it); rate limits scale with the load; faults
   are dropped (see :func:`validate_fault`). Keyspace, flows, key popularity, sizes and
   TTLs are the scenario's.
4. **Saturation.** A closed-loop run finds the throughput the target gives this workload.
   When the server's CPU was below 90 % of a core during it, the generator was the limit:
   the figure is the generator's ceiling and is labelled so.
5. **Load points.** For each fraction of saturation the simulator predicts
   (:func:`simlab.model.run.simulate`) and the open-loop generator measures, with the same
   seed (the same requests, in the same order, to the same keys).

Agreement is judged as the issue states it: up to 70 % of saturation, P50 and P99 within
10 % and hit ratio within 1 percentage point; beyond, the predicted saturation within 10 % of
the measured one. The verdict (:attr:`Validation.verdict`) has three values:

* ``agrees``: every load point up to 70 % ran validly and agreed, and so did the saturation;
* ``disagrees``: a validly measured figure missed its tolerance;
* ``not shown``: nothing valid disagreed, but a load point up to 70 % was invalid (the
  generator fell behind its schedule or the achieved rate fell short), so agreement there was
  not measured; or the saturation search was starved (neither the server nor the generator
  had 90 % of a core: the machine's other work set the maximum, so the load points are
  fractions of nothing the model describes). Invalid points stay in the table, marked, with
  their figures. A point beyond 70 % that is invalid is shown and named in the notes but not
  judged: there the saturation point is.

**Intervals.** Every estimate in the table carries the half-width of its 95 % interval
(``*_ci95``): a prediction's point is its replication 0, the very requests the generator
sends, and its interval the spread over :data:`PREDICTION_REPLICATIONS` replications with
other seeds; a measured percentile's by sectioning its run into ten stretches of time
(:func:`simlab.metrics.sectioning_half_width`); a relative error's from both. The measured hit
ratio has none: it is a count over the same requests as the prediction's point, so the two
are paired. The verdict is on the point estimates, as the tolerances are stated; a miss says
whether it lies within its interval. A measured interval is what one run's sampling leaves
uncertain: it does not cover how a rerun moves when the machine's other work changes.

**Pinning.** On Linux with two or more usable CPUs, the server this run starts (the engine,
or a server whose PID the caller gives) is pinned to the first CPU and the generator's
workers to the others, one worker per generator CPU (:mod:`simlab.load.affinity`): the model
has the server alone on its core, the generator costing it nothing, and this makes it so.
Where pinning is unavailable the processes share the cores and the result says so.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from simlab.calibrate import Calibration, calibrate, load_calibration
from simlab.load.affinity import Pinning, pin_process, split, usable_cpus
from simlab.load.generator import LoadResult, run_load
from simlab.load.target import EngineProcess, Target, UnsafeTarget, new_prefix, parse_target, remove_prefix
from simlab.load.worker import K_CMD
from simlab.load.workload import LoadPlan, plan_from_scenario
from simlab.scenario import Scenario, scenario_from_dict
from simlab.workload.distributions import mean_of

__all__ = [
    "P50_TOLERANCE",
    "P99_TOLERANCE",
    "HIT_RATIO_TOLERANCE_PP",
    "SATURATION_TOLERANCE",
    "AGREEMENT_UP_TO",
    "FAULT_ERRORS_TOLERANCE",
    "FAULT_KINDS",
    "FAULT_TAIL_TOLERANCE",
    "FaultValidation",
    "VERDICTS",
    "Validation",
    "batching_overhead_us",
    "busy_get_cpu_us",
    "fit_wake_up",
    "WakeUp",
    "interpolated_distribution",
    "predicted_busy",
    "fault_scenario",
    "figure",
    "generator_rtt",
    "probe_round_trip",
    "round_trip_distribution",
    "RoundTripProbe",
    "validation_scenario",
    "validate",
    "validate_fault",
]

P50_TOLERANCE = 0.10
P99_TOLERANCE = 0.10
HIT_RATIO_TOLERANCE_PP = 1.0
SATURATION_TOLERANCE = 0.10
AGREEMENT_UP_TO = 0.70
#: independent replications of each load point's prediction (5: a Student-t interval with 4
#: degrees of freedom; about a second of simulation a point at 9,000 rps)
PREDICTION_REPLICATIONS = 5
#: the values of :attr:`Validation.verdict` (module docstring)
VERDICTS = ("agrees", "disagrees", "not shown")
_SERVER_BOUND_CPU = 0.90


@dataclass
class Validation:
    """The outcome of :func:`validate`: one row per load point and a verdict."""

    scenario: str
    target: str
    server: str
    seed: int
    table: pd.DataFrame
    saturation: dict[str, Any]
    calibration: Calibration
    generator_rtt_us: dict[str, float]
    notes: list[str] = field(default_factory=list)
    #: the calibrated per-command service times at the scenario's value size and the
    #: per-round-trip costs (connection, wake-up); each load point's round-trip overhead is in
    #: the table (``request_overhead_us``, and GET's whole time in ``service_get_us``)
    service_time_us: dict[str, Any] = field(default_factory=dict)
    wall_s: float = 0.0
    loads: list[LoadResult] = field(default_factory=list, repr=False)
    #: where the server and the generator ran ("not pinned: ..." where they shared the cores)
    pinning: str = "not pinned"

    @property
    def verdict(self) -> str:
        """``agrees``, ``disagrees`` or ``not shown`` (module docstring)."""
        t = self.table
        if not bool(self.saturation.get("pass", True)):
            return "disagrees"
        if len(t) == 0:
            return "not shown"
        valid = t["valid_run"].astype(bool)
        judged = t["fraction"] <= AGREEMENT_UP_TO + 1e-9
        if (judged & valid & ~t["pass"].astype(bool)).any():
            return "disagrees"
        if not judged.any() or (judged & ~valid).any() or self.saturation.get("starved"):
            return "not shown"
        return "agrees"

    @property
    def passed(self) -> bool:
        """True only when agreement up to 70 % of saturation was measured and holds."""
        return self.verdict == "agrees"

    def to_dict(self) -> dict[str, Any]:
        return _clean({
            "scenario": self.scenario, "target": self.target, "server": self.server, "seed": self.seed,
            "passed": self.passed, "verdict": self.verdict, "pinning": self.pinning,
            "tolerances": {"p50_rel": P50_TOLERANCE, "p99_rel": P99_TOLERANCE,
                           "hit_ratio_pp": HIT_RATIO_TOLERANCE_PP, "saturation_rel": SATURATION_TOLERANCE,
                           "agreement_up_to_fraction_of_saturation": AGREEMENT_UP_TO},
            "saturation": self.saturation, "generator_rtt_us": self.generator_rtt_us,
            "calibration": {"name": self.calibration.name, "date": self.calibration.date,
                            "server": self.calibration.server,
                            "service_time_us_used": self.service_time_us,
                            "service_time_us_unpipelined": self.calibration.service_time_us()},
            "points": self.table.to_dict("records"), "notes": self.notes, "wall_s": self.wall_s,
        })

    def save(self, out_dir: str | Path) -> dict[str, Path]:
        """Write ``table.csv``, ``validation.json`` and ``percentiles.png`` into ``out_dir``."""
        d = Path(out_dir)
        d.mkdir(parents=True, exist_ok=True)
        paths = {"table": d / "table.csv", "json": d / "validation.json", "plot": d / "percentiles.png"}
        self.table.to_csv(paths["table"], index=False)
        paths["json"].write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        fig = figure(self)
        fig.savefig(paths["plot"], dpi=110, bbox_inches="tight")
        import matplotlib.pyplot as plt

        plt.close(fig)
        return paths

    def _repr_html_(self) -> str:
        color = {"agrees": "green", "disagrees": "red"}.get(self.verdict, "darkorange")
        verdict = f"<b style='color:{color}'>{self.verdict}</b>"
        sat = self.saturation
        head = (f"<p>{self.scenario} on {self.target} ({self.server}): prediction {verdict} with measurement. "
                f"Saturation measured {sat.get('measured_rps', float('nan')):.0f} rps"
                f"{' (generator ceiling)' if sat.get('generator_bound') else ''}, predicted "
                f"{sat.get('predicted_rps', float('nan')):.0f} rps. {self.pinning}.</p>")
        cols = ["fraction", "offered_rps", "achieved_rps", "predicted_p50_ms", "measured_p50_ms", "err_p50",
                "err_p50_ci95", "predicted_p99_ms", "measured_p99_ms", "err_p99", "err_p99_ci95",
                "predicted_hit_ratio", "measured_hit_ratio", "valid_run", "pass", "why"]
        return (head + self.table[cols].to_html(index=False, float_format=lambda x: f"{x:.4g}")
                + "<p>*_ci95: half-width of a 95 % interval (predictions over replications, measurements by "
                  "sectioning the run in time); the verdict is on the point estimates.</p>")


def _clean(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _clean(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_clean(v) for v in x]
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


# --- the validation scenario -------------------------------------------------------------------

_ZERO = {"kind": "constant", "value": 0.0}


def validation_scenario(sc: Scenario, service_time_us: dict[str, Any], rtt_ms: dict[str, Any], *,
                        scale: float = 1.0, duration_s: float = 10.0, warmup_s: float = 2.0,
                        seed: int = 0, request_overhead_us: float | None = None,
                        pipeline_overhead_us: float | None = None) -> Scenario:
    """``sc`` as the live test runs it (module docstring, step 3), at ``scale`` x its rates.
    ``request_overhead_us``: the server's CPU per round trip on top of its commands'
    (``cache.request_overhead_us``, gamma with the calibration's cv 0.5); None: none.
    ``pipeline_overhead_us``: the further CPU of a round trip of two or more commands
    (``cache.pipeline_overhead_us``, likewise)."""
    d = sc.model_dump(mode="json")
    for s in d["sources"]:
        s["rate_rps"] = s["rate_rps"] * scale
        s["client_rtt_ms"] = _ZERO
        s["entry_service_ms"] = _ZERO
        s["entry_error_probability"] = 0.0
        s["retries"] = 0
        s["timeout_ms"] = s.get("timeout_ms") or 2000.0
        if s.get("rate_limit"):
            s["rate_limit"]["limit"] = max(1, int(math.ceil(s["rate_limit"]["limit"] * scale)))
    net = d["network"]
    for k in ("entry_to_app_rtt_ms", "app_service_ms"):
        net[k] = _ZERO
    net["app_to_cache_rtt_ms"] = rtt_ms
    net["app_error_probability"] = 0.0
    net["loss_probability"] = 0.0
    d["backend"].update({"latency_ms": _ZERO, "rtt_ms": _ZERO, "concurrency": None, "error_probability": 0.0})
    for f in d["flows"].values():
        f["app_service_ms"] = None
        f["subscriber_rtt_ms"] = _ZERO
        f["hold_ms"] = _ZERO
    d["cache"]["service_time_us"] = service_time_us
    d["cache"]["request_overhead_us"] = (None if request_overhead_us is None else
                                         {"kind": "gamma", "mean": round(request_overhead_us, 3), "cv": 0.5}
                                         if request_overhead_us > 0 else _ZERO)
    d["cache"]["pipeline_overhead_us"] = (None if pipeline_overhead_us is None else
                                          {"kind": "gamma", "mean": round(pipeline_overhead_us, 3), "cv": 0.5}
                                          if pipeline_overhead_us > 0 else _ZERO)
    # one server answers the live run: a sharded or replicated plan is validated per shard
    # against a Redis Cluster instead (simlab.load.cluster)
    d["cache"]["shards"] = 1
    d["cache"]["replicas"] = 0
    d["cache"]["read_from_replicas"] = False
    d["cache"]["service_times_file"] = None
    d["cache"]["persistence"] = {"mode": "none"}
    d["faults"] = []
    d["reference"] = None
    d.pop("calibration", None)
    d["run"].update({"duration_s": duration_s, "warmup_s": warmup_s, "seed": seed, "replications": 1})
    return scenario_from_dict(d, f"<validation scenario of {sc.name}>")


def _rate(sc: Scenario) -> float:
    return float(sum(s.rate_rps for s in sc.sources))


@dataclass
class RoundTripProbe:
    """Single GETs sent open loop at a low rate: what each took, and what the server spent.

    ``server_cpu_us_per_request`` is the server's CPU (``INFO cpu`` before and after) per GET
    sent.  At a low open-loop rate every GET finds the server idle after a gap, as a lightly
    loaded server's requests do, so this is the lone request's real cost, wake-up included;
    the calibration's one-in-flight figure is taken back to back and misses part of it."""

    latency_us: np.ndarray
    rate_rps: float
    server_cpu_us_per_request: float
    #: the server's CPU share with no load (its background work), measured for 1 s before
    #: the probe and left out of ``server_cpu_us_per_request``
    idle_cpu_share: float = 0.0


def _get_plan(rate_rps: float, duration_s: float, seed: int, n_min: int = 200, gets: int = 1) -> LoadPlan:
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0xA77]))
    n = max(n_min, int(rate_rps * duration_s))
    t = np.sort(rng.uniform(0.0, duration_s, n))
    rows: dict[str, np.ndarray] = {
        "t": t, "kind": np.full(n, K_CMD, np.int8), "key": rng.integers(0, 1000, n),
        "vsize": np.full(n, 64, np.int32), "ttl": np.full(n, np.nan), "src": np.zeros(n, np.int16),
        "flow": np.zeros(n, np.int16), "bdelay": np.zeros(n), "hold": np.zeros(n),
    }
    return LoadPlan("generator round trip", seed, duration_s, 0.0, rows, ["probe"], ["get"],
                    [{"name": "get", "kind": "command", "keys_per_request": 1, "subscribers": 0,
                      "commands": ["GET"] * gets}],
                    [2.0], [None])


def busy_get_cpu_us(target: Target, *, seconds: float = 2.0, workers: int = 1, connections: int = 16,
                    seed: int = 0, cpus: tuple[int, ...] | None = None, spin: bool = False) -> float:
    """The server's CPU per GET when it is never idle: single GETs closed loop, one in flight
    on each of the generator's connections (as the saturation search sends), ``INFO cpu``
    before and after. Unlike the calibration's burst of one GET on each connection at once,
    this has the event loop's wake-ups as the generator's replies and requests make them
    (a few requests each), which is what a busy server pays per round trip."""
    plan = _get_plan(200_000 / max(0.1, seconds), seconds, seed, n_min=1000)
    res, cpu_s, _ = _measured_run(target, plan, mode="closed", workers=workers, connections=connections,
                                  concurrency=workers * connections, max_seconds=seconds, cpus=cpus, spin=spin)
    return cpu_s / max(1, res.requests) * 1e6


def probe_round_trip(target: Target, *, rate_rps: float = 400.0, duration_s: float = 3.0, workers: int = 2,
                     connections: int = 16, seed: int = 0, cpus: tuple[int, ...] | None = None,
                     spin: bool = False, gets: int = 1, idle_share: float | None = None) -> RoundTripProbe:
    """Send single GETs (``gets`` GETs in one write) open loop at ``rate_rps`` (:class:`RoundTripProbe`).
    ``idle_share``: the server's CPU share with no load, if already measured (else 1 s of it)."""
    plan = _get_plan(rate_rps, duration_s, seed, gets=gets)
    # the server's own background work (cron ticks: expiry, statistics) is not a request's;
    # its CPU share with no load is measured first and left out of the per-GET figure
    if idle_share is None:
        idle0, t_idle0 = _server_cpu(target)
        time.sleep(1.0)
        idle1, t_idle1 = _server_cpu(target)
        idle_share = max(0.0, (idle1 - idle0) / max(1e-9, t_idle1 - t_idle0))
    res, cpu_s, wall_s = _measured_run(target, plan, workers=workers, connections=connections, cpus=cpus, spin=spin)
    r = res.rows
    ok = np.isfinite(r["done"])
    spent = max(0.0, cpu_s - idle_share * wall_s)
    return RoundTripProbe(latency_us=(r["done"][ok] - r["t"][ok]) * 1e6, rate_rps=rate_rps,
                          server_cpu_us_per_request=spent / max(1, res.requests) * 1e6,
                          idle_cpu_share=idle_share)


def round_trip_distribution(probe: RoundTripProbe, get_service_us: float) -> tuple[dict[str, Any], dict[str, float]]:
    """The round trip the load generator adds: the probe's latencies less GET's service time.
    Returns (empirical distribution in ms, percentiles in us)."""
    rtt = np.maximum(probe.latency_us - get_service_us, 0.0)
    qs = (np.arange(200) + 0.5) / 200 * 100
    values = [round(float(v) / 1000.0, 6) for v in np.percentile(rtt, qs)]
    pct = {f"p{q:g}": float(np.percentile(rtt, q)) for q in (50, 90, 99, 99.9)}
    return {"kind": "empirical", "values": values}, pct


def generator_rtt(target: Target, get_service_us: float, *, rate_rps: float = 400.0, duration_s: float = 3.0,
                  workers: int = 2, connections: int = 16, seed: int = 0,
                  cpus: tuple[int, ...] | None = None,
                  spin: bool = False) -> tuple[dict[str, Any], dict[str, float]]:
    """The round trip the load generator adds: its latency for single GETs at a low rate,
    less GET's service time. Returns (empirical distribution in ms, percentiles in us)."""
    probe = probe_round_trip(target, rate_rps=rate_rps, duration_s=duration_s, workers=workers,
                             connections=connections, seed=seed, cpus=cpus, spin=spin)
    return round_trip_distribution(probe, get_service_us)


# --- the run -----------------------------------------------------------------------------------


def _server_cpu(target: Target) -> tuple[float, float]:
    c = target.client()
    try:
        info = c.info("cpu")
    finally:
        c.close()
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"]), time.monotonic()


def _measured_run(target: Target, plan: LoadPlan, **kw: Any) -> tuple[LoadResult, float, float]:
    """``run_load`` with the server's CPU seconds and wall seconds read around it, before its
    keys are removed: the removal (SCAN and UNLINK of everything the run wrote) is server
    work that no request of the plan did. Returns (result, CPU s, wall s)."""
    prefix = new_prefix()
    cpu0, t0 = _server_cpu(target)
    try:
        res = run_load(plan, target, prefix=prefix, cleanup=False, **kw)
        cpu1, t1 = _server_cpu(target)
    finally:
        try:
            remove_prefix(target, prefix)
        except Exception:  # noqa: BLE001 - as run_load's own clean-up: the server may be what failed
            pass
    return res, cpu1 - cpu0, t1 - t0


def _saturation(vsc: Scenario, target: Target, *, seconds: float, workers: int, connections: int,
                seed: int, cpus: tuple[int, ...] | None = None, spin: bool = False) -> tuple[float, float, LoadResult]:
    """Closed-loop throughput of the workload and the server's CPU share meanwhile."""
    big = validation_scenario_like(vsc, rate=60_000.0, duration_s=seconds)
    plan = plan_from_scenario(big, duration_s=seconds, seed=seed, warmup_s=0.0)
    # one request in flight per connection: the load the busy service time was calibrated for
    res, cpu_s, wall_s = _measured_run(target, plan, mode="closed", workers=workers, connections=connections,
                                       concurrency=workers * connections, max_seconds=seconds, cpus=cpus, spin=spin)
    busy = cpu_s / max(1e-9, wall_s - 0.3)  # less the workers' start-up
    return res.achieved_rps, busy, res


def validation_scenario_like(vsc: Scenario, *, rate: float, duration_s: float) -> Scenario:
    """``vsc`` with its sources scaled to ``rate`` requests/s in all (shares kept)."""
    scale = rate / _rate(vsc)
    d = vsc.model_dump(mode="json")
    for s in d["sources"]:
        s["rate_rps"] *= scale
        if s.get("rate_limit"):
            s["rate_limit"]["limit"] = max(1, int(math.ceil(s["rate_limit"]["limit"] * scale)))
    d["run"]["duration_s"] = duration_s
    return scenario_from_dict(d, "<validation scenario>")


def _evicted(target: Target) -> int:
    """INFO stats evicted_keys (server-wide: on a shared server, others' evictions count too)."""
    c = target.client()
    try:
        return int(c.info("stats").get("evicted_keys", 0))
    finally:
        c.close()


def _utilisation_per_rps(vsc: Scenario, seed: int) -> float:
    """The cache's utilisation per request/s of ``vsc``'s workload (simulated at a light load,
    1000 rps, where it is proportional to the rate)."""
    from simlab.model.run import simulate

    probe = validation_scenario_like(vsc, rate=1000.0, duration_s=20.0)
    res = simulate(probe, seed=seed, duration_s=20.0, warmup_s=2.0)
    r = res.resources
    cache = r[r["resource"].str.startswith("cache")]
    col = "utilisation" if "utilisation" in cache.columns else "busy_fraction"
    util = float(cache[col].max()) if len(cache) else float("nan")
    thr = float(res.overall["throughput_rps"])
    return util / thr if thr > 0 else float("nan")


def _predicted_capacity(vsc: Scenario, seed: int) -> float:
    """Requests/s at which the cache's utilisation reaches 1: rate / utilisation at a light load."""
    u = _utilisation_per_rps(vsc, seed)
    return 1.0 / u if u and u == u else float("nan")


def predicted_busy(rate_rps: float, u_pipelined: float, u_single: float) -> float:
    """The server's busy fraction at ``rate_rps`` when a request that finds it idle pays the
    lone wake-up and one that finds it busy is read with others (batching).

    ``u_pipelined`` and ``u_single`` are the utilisation per request/s with the busy
    server's and the lone (unpipelined) CPU times per call. A Poisson arrival finds the
    server idle with probability 1 - rho (arrivals see time averages), so the CPU per request
    is ``s_b + (1 - rho) w`` with ``w = s_single - s_b``, and rho = A + (1 - rho) B with
    A = rate u_pipelined, B = rate (u_single - u_pipelined): rho = (A + B) / (1 + B).
    At a light load that is the lone cost, at saturation the busy one."""
    a = rate_rps * u_pipelined
    b = rate_rps * max(0.0, u_single - u_pipelined)
    return min(1.0, (a + b) / (1.0 + b))


def batching_overhead_us(connection_us: float, wake_us: float, busy: float) -> float:
    """The server's CPU per round trip, on top of its commands', at a server ``busy`` fraction
    of the time (see :func:`predicted_busy`): the read and reply on a connection of its own
    (the calibration's per-connection cost) plus, with probability 1 - busy (the request finds
    the server idle), the event loop's wake-up. Once per round trip, not per command: the
    commands a request pipelines are read in the same wake-up."""
    return connection_us + (1.0 - busy) * wake_us


@dataclass(frozen=True)
class WakeUp:
    """What a round trip that finds the server idle pays, by the rate of round trips.

    Measured by round-trip probes (single GETs open loop) at a few light loads: the server's
    CPU per lone request falls as the rate rises although the server is idle nearly all the
    time at each, because a wake-up after a long idle gap costs more than one after a short
    gap (the process's caches and the virtual CPU's halt go cold), and the round trip itself
    (the kernel and the hypervisor waking the idle CPU) shortens the same way. ``cpu`` is the
    mean wake-up of an idle arrival at each probe's ``rates``; ``round_trip`` the probe's
    median latency less GET's time there. Between the probes both are interpolated in log
    rate, beyond them held at the nearest probe's figure."""

    rates: tuple[float, ...]
    cpu: tuple[float, ...]
    round_trip: tuple[float, ...] = ()

    @property
    def max_us(self) -> float:
        return max(self.cpu) if self.cpu else 0.0

    def cpu_us(self, round_trips_per_s: float) -> float:
        if not self.cpu:
            return 0.0
        return float(np.interp(math.log(max(1e-9, round_trips_per_s)), np.log(self.rates), self.cpu))

    def round_trip_us(self, round_trips_per_s: float) -> float:
        if not self.round_trip:
            return 0.0
        return float(np.interp(math.log(max(1e-9, round_trips_per_s)), np.log(self.rates), self.round_trip))


def fit_wake_up(probes: list[tuple[float, float, float]], busy_get_us: float) -> WakeUp:
    """:class:`WakeUp` from probes, each (rate rps, server CPU us per GET, median latency us).

    At each rate the mean wake-up of an idle arrival is ``e = (cpu - busy_get) / (1 - rho)``
    (rho = rate x cpu, the chance of finding the server busy), never below 0 and never above
    its value at a lower rate (a shorter idle gap cannot make a wake-up dearer: a probe that
    says so measured noise), and the round trip is the median latency less GET's time there,
    ``busy_get + (1 - rho) e``."""
    ps = sorted(probes)
    rates, cpu, rt = [], [], []
    for r, c, lat in ps:
        rho = min(0.5, r * c * 1e-6)
        e = max(0.0, c - busy_get_us) / (1.0 - rho)
        rates.append(r)
        cpu.append(e)
        rt.append(lat - (busy_get_us + (1.0 - rho) * e))
    cpu = [float(x) for x in np.minimum.accumulate(cpu)] if cpu else cpu
    return WakeUp(tuple(rates), tuple(cpu), tuple(rt))


def interpolated_distribution(rates: list[float], dists: list[dict[str, Any]], rate: float) -> dict[str, Any]:
    """The empirical distribution (same quantiles in each of ``dists``, measured at ``rates``)
    at ``rate``: each quantile interpolated in log rate, held at the nearest probe beyond them."""
    vals = np.array([d["values"] for d in dists], dtype=float)
    order = np.argsort(rates)
    lr = np.log(np.asarray(rates, dtype=float)[order])
    vals = vals[order]
    x = math.log(max(1e-9, rate))
    out = [round(float(np.interp(x, lr, vals[:, j])), 6) for j in range(vals.shape[1])]
    return {"kind": "empirical", "values": out}


def _rel(pred: float, meas: float) -> float:
    return (pred - meas) / meas if meas and meas == meas and pred == pred else float("nan")


def validate(
    scenario: Scenario,
    target: str | Target | None = None,
    *,
    quick: bool = True,
    fractions: list[float] | None = None,
    duration_s: float | None = None,
    seed: int = 0,
    calibration: Calibration | str | Path | None = None,
    owned: bool = False,
    workers: int = 2,
    connections: int = 16,
    progress: Callable[[str], None] | None = None,
    pin: bool = True,
    server_pid: int | None = None,
    batching: bool = True,
    spin: bool | None = None,
) -> Validation:
    """Predict and measure ``scenario`` on ``target`` (module docstring). ``quick`` takes three
    load points of 5 s (about 40 s in all); otherwise nine of 10 s.

    ``pin`` (default) pins the engine this run starts, or the local server whose PID is
    ``server_pid``, to one CPU and the generator to the others (module docstring); ``workers``
    is then at most the number of generator CPUs. A target given without ``server_pid`` is
    not pinned (its process is not ours to move).

    ``batching`` (default) gives the prediction at each load point the service time the
    server pays at its predicted busy fraction (:func:`predicted_busy`); False keeps the
    pipelined CPU per call at every load, the lone wake-up in the round trip.

    ``spin`` has the generator's worker poll its sockets instead of sleeping in the kernel, on
    the CPU it has to itself: no wake-up delay on its sends or on the replies it reads
    (:class:`simlab.load.worker._SpinSelector`). Default: when pinned and the 1-minute load
    average is under the number of usable CPUs - 0.5 (nothing else wants the generator's CPU;
    a polling worker time-sliced with other work waits a slice where a sleeper is woken)."""
    t_start = time.perf_counter()
    say = progress or (lambda _m: None)
    if fractions is None:
        fractions = [0.1, 0.4, 0.7] if quick else [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
    if duration_s is None:
        duration_s = 5.0 if quick else 10.0
    warmup_s = min(2.0, duration_s / 4)
    engine: EngineProcess | None = None
    notes: list[str] = []
    if scenario.cache.shards > 1:
        notes.append("a sharded scenario is validated per shard against a Redis Cluster "
                     "(simlab.load.cluster.drive_cluster); here it runs as one server in both the "
                     "prediction and the measurement")
    pinning: Pinning | None = split() if pin and (target is None or server_pid is not None) else None
    if pin and pinning is None and (target is None or server_pid is not None):
        notes.append("not pinned: CPU affinity is unavailable here or there is one usable CPU, so the "
                     "server and the generator share the cores (the model charges the server nothing "
                     "for the generator)")
    try:
        if target is None:
            opts: dict[str, str | int] = {}
            if scenario.cache.maxmemory_bytes:
                opts = {"maxmemory": scenario.cache.maxmemory_bytes,
                        "maxmemory-policy": str(scenario.cache.maxmemory_policy),
                        "maxmemory-samples": scenario.cache.maxmemory_samples}
            say("starting the cachelab engine in a child process")
            engine = EngineProcess(cpus=pinning.server if pinning else None, **opts).start()
            if pinning is not None and not engine.cpus:
                notes.append("could not pin the engine; not pinned")
                pinning = None
            tgt = engine.target()
        elif isinstance(target, Target):
            tgt = target
        else:
            tgt = parse_target(target, owned=owned)
        if server_pid is not None and not tgt.loopback:
            raise UnsafeTarget(f"server_pid {server_pid}: {tgt.label} is not on this machine; only a local "
                               "server can be pinned")
        if pinning is not None and server_pid is not None and not pin_process(server_pid, pinning.server):
            notes.append(f"could not pin the server (pid {server_pid}); not pinned")
            pinning = None
        if isinstance(calibration, Calibration):
            cal = calibration
        elif calibration is not None:
            cal = load_calibration(calibration)
        else:
            say(f"calibrating {tgt.label}")
            cal = calibrate(tgt, requests=400 if quick else 1500, max_seconds=15 if quick else 45)
        gen_cpus = pinning.generator if pinning else None
        if spin is None:
            # polling pays only on a CPU nobody else wants: where other work is running, the
            # scheduler time-slices a busy-polling worker with it (a sleeper is woken ahead)
            load1 = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
            spin = pinning is not None and load1 < len(usable_cpus()) - 0.5
            if pinning is not None and not spin:
                notes.append(f"the generator sleeps between events instead of polling: load average {load1:.1f} "
                             f"on {len(usable_cpus())} CPUs says other work wants its CPU")
        else:
            spin = spin and pinning is not None
        if pinning is not None:
            workers = max(1, min(workers, len(pinning.generator)))
            say(f"{pinning.describe()} ({workers} worker{'s' if workers > 1 else ''})")
        pin_text = (f"{pinning.describe()}, {workers} generator worker{'s' if workers > 1 else ''}"
                    f"{' (polling, not sleeping)' if spin else ''}" if pinning
                    else f"not pinned: server and {workers} generator worker{'s' if workers > 1 else ''} "
                         "placed by the scheduler")
        value_bytes = mean_of(scenario.keyspace.value_size_bytes)
        # per command: the pipelined CPU per call (plus, with batching, a short read's extra);
        # with batching each round trip adds the busy server's cost of a read and, when it finds
        # the server idle, a wake-up (once per request), and a multi-command one the general path
        service = cal.service_time_us(value_bytes, pipelined=True)
        conn_us = 0.0
        busy_get_cpu: float | None = None
        short_read_us: float | None = None
        pipeline_us: float | None = None
        if batching:
            # a request of several commands takes the server's general request path, longer
            # than a lone command's, and each command in a short read may cost more than in a
            # deep pipeline (parse, dispatch and reply not amortised over 32): one, two and three
            # GETs in one write, open loop at the same light load, give both
            say("measuring short reads (one, two and three GETs a request)")
            # (three rounds of one, two, three, interleaved, and the median of each: the
            # differences are a few microseconds of CPU on tens, and one round can be off by more)
            idle: float | None = None
            by_gets: dict[int, list[float]] = {1: [], 2: [], 3: []}
            for rnd in range(3):
                for g in (1, 2, 3):
                    pr = probe_round_trip(tgt, rate_rps=400.0, duration_s=1.0 if quick else 1.5, workers=workers,
                                          connections=connections, seed=seed + 7 + rnd, cpus=gen_cpus, spin=spin,
                                          gets=g, idle_share=idle)
                    idle = pr.idle_cpu_share
                    by_gets[g].append(pr.server_cpu_us_per_request)
            cpus_n = [float(np.median(by_gets[g])) for g in (1, 2, 3)]
            get_pipe = float(service["GET"]["mean"])
            short_read_us = max(0.0, cpus_n[2] - cpus_n[1] - get_pipe)
            pipeline_us = max(0.0, cpus_n[1] - cpus_n[0] - get_pipe - short_read_us)
            service = {cmd: d if cmd.endswith("_PER_SUBSCRIBER") else
                       {**d, "mean": round(float(d["mean"]) + short_read_us, 3)} for cmd, d in service.items()}
            # the busy server's cost per round trip beyond its commands: single GETs closed loop
            # on the generator's connections, less the pipelined GET
            say("measuring the busy server's cost per round trip (closed loop GETs)")
            busy_get_cpu = busy_get_cpu_us(tgt, seconds=1.5 if quick else 2.5, workers=workers,
                                           connections=connections, seed=seed, cpus=gen_cpus, spin=spin)
            conn_us = max(0.0, busy_get_cpu - float(service["GET"]["mean"]))
        rtt_rate = 400.0
        say("measuring the generator's round trip")
        probe = probe_round_trip(tgt, rate_rps=rtt_rate, duration_s=2.0 if quick else 4.0, workers=workers,
                                 connections=connections, seed=seed, cpus=gen_cpus, spin=spin)
        idle = probe.idle_cpu_share
        busy_get = float(service["GET"]["mean"]) + conn_us
        get_us = busy_get
        wake = WakeUp((rtt_rate,), (0.0,))
        probes = [probe]
        if batching:
            # A request that finds the server idle pays a wake-up on top of the busy server's
            # time: measured here, as the server's CPU per GET of the probe (single GETs open
            # loop at a low rate, each after an idle gap) less the busy GET time.  The
            # calibration's one-in-flight figure is taken back to back, without those gaps, and
            # understates it.  The wake-up belongs to the event loop's read, not to the
            # command: a request pays it once, however many commands it pipelines.  Probes at
            # higher light loads (at most a fifth of the server's time) measure how the
            # wake-up's cost and the round trip fall as idle gaps get shorter (WakeUp).
            lone_get = probe.server_cpu_us_per_request
            for mult in (5.0, 20.0):
                r = min(mult * rtt_rate, 0.2 / max(1e-9, probes[-1].server_cpu_us_per_request * 1e-6))
                if r > 2 * probes[-1].rate_rps:
                    probes.append(probe_round_trip(tgt, rate_rps=r, duration_s=1.5 if quick else 2.5,
                                                   workers=workers, connections=connections, seed=seed + len(probes),
                                                   cpus=gen_cpus, spin=spin, idle_share=idle))
            wake = fit_wake_up([(p.rate_rps, p.server_cpu_us_per_request, float(np.median(p.latency_us)))
                                for p in probes], busy_get)
            rho0 = min(0.5, rtt_rate * lone_get * 1e-6)
            get_us = float(service["GET"]["mean"]) + batching_overhead_us(conn_us, wake.cpu_us(rtt_rate), rho0)
        rtt_dist, rtt_pct = round_trip_distribution(probe, get_us)
        # each probe's round trip (its latencies less GET's time at its rate), for the load points
        probe_rtts = [round_trip_distribution(p, float(service["GET"]["mean"]) + batching_overhead_us(
            conn_us, wake.cpu_us(p.rate_rps), min(0.5, p.rate_rps * p.server_cpu_us_per_request * 1e-6)))[0]
            for p in probes] if batching else [rtt_dist]
        vsc = validation_scenario(scenario, service, rtt_dist, duration_s=duration_s, warmup_s=warmup_s, seed=seed,
                                  request_overhead_us=conn_us if batching else None, pipeline_overhead_us=pipeline_us)
        say("finding the saturation throughput (closed loop)")
        sat_rps, busy, sat_run = _saturation(vsc, tgt, seconds=3.0 if quick else 5.0, workers=workers,
                                             connections=connections, seed=seed, cpus=gen_cpus, spin=spin)
        gen_busy = sat_run.generator_cpu_busy
        generator_bound = busy < _SERVER_BOUND_CPU
        pred_cap = _predicted_capacity(vsc, seed)
        u_pipe = 1.0 / pred_cap if pred_cap else float("nan")
        u_single = (_utilisation_per_rps(validation_scenario(scenario, service, rtt_dist, duration_s=duration_s,
                                                             warmup_s=warmup_s, seed=seed,
                                                             request_overhead_us=conn_us + wake.max_us,
                                                             pipeline_overhead_us=pipeline_us), seed)
                    if batching and wake.max_us > 0 else u_pipe)
        # cache round trips per request (a miss's SET is a second one): the work one microsecond
        # of per-round-trip overhead adds per request
        trips_per_request = (u_single - u_pipe) / (wake.max_us * 1e-6) if batching and wake.max_us > 0 else 1.0
        saturation: dict[str, Any] = {
            "measured_rps": sat_rps, "server_cpu_busy": busy, "generator_cpu_busy": gen_busy,
            "generator_bound": generator_bound, "predicted_rps": pred_cap, "err": _rel(pred_cap, sat_rps),
        }
        saturation["starved"] = generator_bound and gen_busy < _SERVER_BOUND_CPU
        if generator_bound:
            saturation["pass"] = True
            limit = ("the generator's ceiling" if gen_busy >= _SERVER_BOUND_CPU else
                     "what this shared machine gave both processes (neither had 90 % of a core)")
            saturation["why"] = (f"the server was {busy * 100:.1f} % busy and the busiest generator worker "
                                 f"{gen_busy * 100:.1f} % at the closed-loop maximum: {sat_rps:.0f} rps is {limit}, "
                                 "not the server's saturation; load points are fractions of it and the "
                                 "saturation point is not compared"
                                 + ("; agreement is therefore not shown" if saturation["starved"] else ""))
            notes.append(saturation["why"])
        else:
            saturation["pass"] = bool(abs(saturation["err"]) <= SATURATION_TOLERANCE)
            saturation["why"] = "" if saturation["pass"] else (
                f"predicted saturation {pred_cap:.0f} rps is {saturation['err'] * 100:+.0f} % off the measured {sat_rps:.0f}")
        rows: list[dict[str, Any]] = []
        loads: list[LoadResult] = []
        from simlab.model.run import simulate

        base = _rate(vsc)
        for frac in fractions:
            offered = frac * sat_rps
            say(f"load point {frac:.0%} of saturation: {offered:.0f} rps")
            trips = offered * trips_per_request
            wake_p = wake.cpu_us(trips)
            u_wake = u_pipe + (u_single - u_pipe) * (wake_p / wake.max_us if wake.max_us > 0 else 0.0)
            busy_p = predicted_busy(offered, u_pipe, u_wake) if batching else offered * u_pipe
            overhead_p = batching_overhead_us(conn_us, wake_p, busy_p) if batching else None
            # the round trip the probes measured at this load's rate of round trips
            rtt_p = interpolated_distribution([p.rate_rps for p in probes], probe_rtts, trips) if batching else rtt_dist
            sc_p = validation_scenario(scenario, service, rtt_p,
                                       scale=offered / _rate(scenario), duration_s=duration_s,
                                       warmup_s=warmup_s, seed=seed, request_overhead_us=overhead_p,
                                       pipeline_overhead_us=pipeline_us)
            # the point prediction is replication 0, the very requests the generator sends (the
            # plan's seed); the others, with other seeds, give its interval
            sim = simulate(sc_p, seed=seed, replications=PREDICTION_REPLICATIONS)
            pred = {**sim.overall, **sim.replications.iloc[0].to_dict()} if sim.replications is not None else sim.overall
            pred_ci = dict(zip(sim.ci["metric"], sim.ci["half_width_95"], strict=True)) if sim.ci is not None else {}
            plan = plan_from_scenario(sc_p, duration_s=duration_s, seed=seed, warmup_s=warmup_s)
            ev0 = _evicted(tgt)
            meas, cpu_s, _ = _measured_run(tgt, plan, workers=workers, connections=connections, cpus=gen_cpus,
                                           spin=spin)
            ev1 = _evicted(tgt)
            loads.append(meas)
            row = _row(frac, offered, pred, meas, pred_ci)
            row["predicted_server_busy"] = busy_p
            # what the model's busy fraction stands for, measured: the server's CPU seconds over
            # the run (INFO cpu, so the statistics reads before and after are in it too, the
            # removal of the run's keys not) per second of the plan, and per request sent
            row["measured_server_busy"] = cpu_s / meas.duration_s if meas.duration_s > 0 else float("nan")
            row["predicted_server_cpu_us_per_request"] = busy_p / offered * 1e6 if offered > 0 else float("nan")
            row["measured_server_cpu_us_per_request"] = (cpu_s / meas.requests * 1e6 if meas.requests
                                                         else float("nan"))
            row["service_get_us"] = float(service["GET"]["mean"]) + (overhead_p or 0.0)
            row["request_overhead_us"] = overhead_p if overhead_p is not None else 0.0
            row["wake_up_us"] = wake_p if batching else 0.0
            row["round_trip_p50_us"] = float(np.median(rtt_p["values"])) * 1e3
            if scenario.cache.maxmemory_bytes:
                # shown, not judged: the model charges key + value + 64 B a key, a server its allocator's
                row["predicted_evictions"] = plan.predicted_evictions
                row["measured_evictions"] = ev1 - ev0
            rows.append(row)
        del base
        table = pd.DataFrame(rows)
        beyond = [f"{r['fraction']:.0%}" for r in rows if r["fraction"] > AGREEMENT_UP_TO + 1e-9 and not r["valid_run"]]
        if beyond:
            notes.append(f"invalid runs beyond {AGREEMENT_UP_TO:.0%} of saturation (shown, not judged): {', '.join(beyond)}")
        return Validation(scenario=scenario.name, target=tgt.label, server=cal.server, seed=seed, table=table,
                          saturation=saturation, calibration=cal, generator_rtt_us=rtt_pct, notes=notes,
                          service_time_us={"per_command": service, "batching": batching,
                                           "connection_overhead_us": cal.connection_overhead_us,
                                           "busy_get_cpu_us": busy_get_cpu,
                                           "short_read_us_per_command": short_read_us,
                                           "pipeline_overhead_us": pipeline_us,
                                           "round_trip_overhead_busy_us": conn_us,
                                           "wake_up_us": wake.max_us if batching else None,
                                           "wake_up_by_rate": ({"rate_rps": list(wake.rates),
                                                                "cpu_us": list(wake.cpu),
                                                                "round_trip_us": list(wake.round_trip)}
                                                               if batching else None),
                                           "cache_round_trips_per_request": trips_per_request,
                                           "probe_rates_rps": [p.rate_rps for p in probes],
                                           "probe_server_cpu_us_per_get_by_rate": [
                                               p.server_cpu_us_per_request for p in probes],
                                           "probe_server_cpu_us_per_get": probe.server_cpu_us_per_request,
                                           "idle_server_cpu_share": probe.idle_cpu_share},
                          wall_s=time.perf_counter() - t_start, loads=loads, pinning=pin_text)
    finally:
        if engine is not None:
            engine.stop()


def _err_ci(pred: float, pred_hw: float, meas: float, meas_hw: float) -> float:
    """Half-width of pred/meas - 1 from the two half-widths (first-order propagation, the two
    independent): sqrt((hp/p)^2 + (hm/m)^2) * p/m."""
    if not (pred > 0 and meas > 0):
        return float("nan")
    return math.hypot(pred_hw / pred, meas_hw / meas) * pred / meas


def _row(frac: float, offered: float, pred: dict[str, Any], meas: LoadResult,
         pred_ci: dict[str, float] | None = None) -> dict[str, Any]:
    """One load point's figures, each estimate with the half-width of its 95 % interval
    (``*_ci95``): the prediction's over its replications, the measurement's by sectioning its
    run in time, the relative error's from both; the verdict is on the point estimates."""
    m = meas.percentiles_ms
    m_ci = meas.percentiles_ci95_ms
    p_ci = pred_ci or {}
    row: dict[str, Any] = {"fraction": frac, "offered_rps": offered, "achieved_rps": meas.achieved_rps,
                           "predicted_throughput_rps": float(pred["throughput_rps"]),
                           "duration_s": meas.duration_s, "requests": meas.requests}
    for q in ("p50", "p90", "p99", "p999"):
        row[f"predicted_{q}_ms"] = float(pred[f"{q}_ms"])
        row[f"predicted_{q}_ms_ci95"] = float(p_ci.get(f"{q}_ms", float("nan")))
        row[f"measured_{q}_ms"] = float(m[f"{q}_ms"])
        row[f"measured_{q}_ms_ci95"] = float(m_ci.get(f"{q}_ms", float("nan")))
        row[f"err_{q}"] = _rel(row[f"predicted_{q}_ms"], row[f"measured_{q}_ms"])
        row[f"err_{q}_ci95"] = _err_ci(row[f"predicted_{q}_ms"], row[f"predicted_{q}_ms_ci95"],
                                       row[f"measured_{q}_ms"], row[f"measured_{q}_ms_ci95"])
    # The hit ratios are paired: the prediction's replication 0 and the run are the same
    # requests, so their difference is not sampling; the measured one is a count over those
    # requests (no interval: sectioning a cache that warms up through the run would report the
    # warming as noise), the predicted one's interval says how much another seed's requests move it.
    row["predicted_hit_ratio"] = float(pred["hit_ratio"])
    row["predicted_hit_ratio_ci95"] = float(p_ci.get("hit_ratio", float("nan")))
    row["measured_hit_ratio"] = float(meas.hit_ratio)
    row["hit_ratio_diff_pp"] = (row["predicted_hit_ratio"] - row["measured_hit_ratio"]) * 100
    row["predicted_error_rate"] = float(pred["error_rate"])
    row["measured_error_rate"] = float(meas.error_rate)
    row["valid_run"] = meas.valid
    row["send_lag_p99_ms"] = float(meas.send_lag_p99_ms)
    why: list[str] = []
    if not meas.valid:
        why.append("run invalid: " + "; ".join(meas.invalid_reasons))
    if frac <= AGREEMENT_UP_TO + 1e-9:
        for q, tol in (("p50", P50_TOLERANCE), ("p99", P99_TOLERANCE)):
            err, hw = row[f"err_{q}"], row[f"err_{q}_ci95"]
            if not abs(err) <= tol:
                why.append(f"{q.upper()} {err * 100:+.1f} %" + ("" if hw != hw else
                           f" (±{hw * 100:.1f}{', within its interval' if abs(err) - hw <= tol else ''})"))
        if not abs(row["hit_ratio_diff_pp"]) <= HIT_RATIO_TOLERANCE_PP:
            why.append(f"hit ratio {row['hit_ratio_diff_pp']:+.2f} pp")
    row["pass"] = not why
    row["why"] = "; ".join(why)
    judged = frac <= AGREEMENT_UP_TO + 1e-9
    if not meas.valid:
        row["verdict"] = "invalid" if judged else "invalid, not judged"
    else:
        row["verdict"] = ("pass" if row["pass"] else "fail") if judged else "not judged"
    return row


def figure(v: Validation) -> Any:
    """Predicted (lines) and measured (points) P50/P90/P99/P99.9 against offered load."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from simlab.report.figures import plot_predicted_measured

    t = v.table
    fig, ax = plt.subplots(figsize=(7, 4.2))
    colors = {"p50": "tab:blue", "p90": "tab:green", "p99": "tab:orange", "p999": "tab:red"}
    for q, c in colors.items():
        label = {"p50": "P50", "p90": "P90", "p99": "P99", "p999": "P99.9"}[q]
        plot_predicted_measured(ax, t, q, c, "-", f"{label} predicted", f"{label} measured (95 % interval)")
    ax.set_yscale("log")
    ax.set_xlabel("offered load (requests/s)")
    ax.set_ylabel("latency (ms)")
    sat = v.saturation.get("measured_rps")
    if sat:
        ax.axvline(sat * AGREEMENT_UP_TO, color="grey", ls=":", lw=1)
    ax.set_title(f"{v.scenario} on {v.server}: predicted vs measured (open loop)")
    ax.legend(fontsize=7, ncol=2)
    return fig


# --- faults ------------------------------------------------------------------------------------

FAULT_KINDS = ("stall", "pause", "restart")
#: a stall's tail (P99, P99.9) is the stall itself: the scheduler moves its start and the
#: backlog's drain by tens of ms on a shared machine
FAULT_TAIL_TOLERANCE = 0.25
#: a restart's errors: the outage is timed from outside, from SIGTERM to the new process's first
#: PONG (a bare socket, polled every 5 ms); the generator's connections retry every few ms, so
#: its edges are seen to within about 10 ms at each end. Measured/predicted was 1.00-1.06 over
#: ten runs, four of them beside two CPU-bound processes on a 2-core machine
FAULT_ERRORS_TOLERANCE = 0.25


@dataclass
class FaultValidation:
    """Tail latency and errors around one injected fault, predicted and measured."""

    scenario: str
    kind: str
    target: str
    at_s: float
    fault_s: float
    table: pd.DataFrame  # figure, predicted, measured, rel_err
    load: LoadResult = field(repr=False)

    @property
    def why(self) -> str:
        """What missed its tolerance ('' when everything agrees)."""
        t = self.table.set_index("figure")
        figs = ("errors",) if self.kind == "restart" else ("p99_ms", "p999_ms")  # max: one sample, shown
        tol = FAULT_ERRORS_TOLERANCE if self.kind == "restart" else FAULT_TAIL_TOLERANCE
        out = []
        for fig in figs:
            err = float(t.loc[fig, "rel_err"])
            if not abs(err) <= tol:
                out.append(f"{fig} {err * 100:+.0f} % (tolerance {tol * 100:.0f} %)")
        return "; ".join(out)

    @property
    def passed(self) -> bool:
        return not self.why

    def to_dict(self) -> dict[str, Any]:
        return _clean({"scenario": self.scenario, "kind": self.kind, "target": self.target, "at_s": self.at_s,
                       "fault_s": self.fault_s, "rows": self.table.to_dict("records")})

    def _repr_html_(self) -> str:
        return (f"<p>{self.kind} of {self.fault_s:g} s at {self.at_s:g} s on {self.target}</p>"
                + self.table.to_html(index=False, float_format=lambda x: f"{x:.4g}"))


def fault_scenario(vsc: Scenario, kind: str, at_s: float, fault_s: float) -> Scenario:
    """``vsc`` with the fault as the simulator knows it. A stall (``DEBUG SLEEP``) or a pause
    (``CLIENT PAUSE``) is a job that holds the server for ``fault_s`` at ``at_s``: written as
    one RDB fork pause (``save_interval_s`` = ``at_s``, pause = ``fork_ms_per_gb`` x
    ``dataset_bytes``), the model's own mechanism for a blocked main thread. A restart is the
    model's ``restart`` fault: refused connections for ``fault_s`` and an empty cache after."""
    if kind not in FAULT_KINDS:
        raise ValueError(f"fault kind must be one of {', '.join(FAULT_KINDS)}, not {kind!r}")
    d = vsc.model_dump(mode="json")
    if kind == "restart":
        d["faults"] = [{"kind": "restart", "at_s": at_s, "duration_s": fault_s}]
    else:
        if at_s <= d["run"]["duration_s"] / 2:
            raise ValueError("the fault must come in the second half of the run (one pause per save interval)")
        d["cache"]["persistence"] = {"mode": "rdb", "save_interval_s": at_s, "fork_ms_per_gb": 1000.0,
                                     "dataset_bytes": int(round(fault_s * 1e9))}
    return scenario_from_dict(d, f"<{kind} fault scenario of {vsc.name}>")


def validate_fault(
    scenario: Scenario,
    kind: str,
    target: Target | None = None,
    *,
    engine: EngineProcess | None = None,
    rate_rps: float = 1000.0,
    duration_s: float = 6.0,
    at_s: float = 3.5,
    fault_s: float = 0.4,
    seed: int = 0,
    calibration: Calibration | None = None,
    workers: int = 2,
    connections: int = 8,
) -> FaultValidation:
    """Inject ``kind`` ("stall": DEBUG SLEEP, "pause": CLIENT PAUSE ALL, "restart": the engine
    process stopped and started again) at ``at_s`` into an open-loop run of ``scenario`` at
    ``rate_rps`` and compare tail latency and errors with the simulator's prediction for the
    same fault. Stall and pause need a target you own (they stop a server); restart needs the
    engine in a child process (``engine``)."""
    import threading

    from simlab.model.run import simulate

    own = engine is None and target is None
    if own:
        engine = EngineProcess(cpus=None, **{"enable-debug-command": "local"}).start()
    try:
        tgt = target or (engine.target() if engine is not None else None)
        assert tgt is not None
        if kind == "restart" and engine is None:
            raise ValueError("a restart fault needs the engine in a child process (engine=EngineProcess(...))")
        if kind in ("stall", "pause"):
            tgt.require_owned("DEBUG SLEEP" if kind == "stall" else "CLIENT PAUSE")
        cal = calibration or calibrate(tgt, requests=200, sizes=(64, 2048), max_seconds=15)
        service = cal.service_time_us(mean_of(scenario.keyspace.value_size_bytes), pipelined=True)
        rtt_dist, _ = generator_rtt(tgt, service["GET"]["mean"], duration_s=1.5, workers=workers,
                                    connections=connections, seed=seed)
        vsc = validation_scenario(scenario, service, rtt_dist, scale=rate_rps / _rate(scenario),
                                  duration_s=duration_s, warmup_s=0.0, seed=seed)
        plan = plan_from_scenario(vsc, duration_s=duration_s, seed=seed, warmup_s=0.0)
        measured_fault = [fault_s]
        measured_at = [at_s]

        started = threading.Event()
        t0 = [0.0]

        def on_start(t: float) -> None:
            t0[0] = t
            started.set()

        def inject() -> None:
            if not started.wait(120):
                return
            time.sleep(max(0.0, t0[0] + at_s - time.monotonic()))
            if kind == "stall":
                c = tgt.client(socket_timeout=fault_s + 5)
                c.execute_command("DEBUG", "SLEEP", fault_s)
                c.close()
            elif kind == "pause":
                c = tgt.client()
                c.execute_command("CLIENT", "PAUSE", int(fault_s * 1000), "ALL")
                c.close()
            else:
                assert engine is not None
                gone, back = engine.restart()
                # the outage is from SIGTERM to the new one's first answer (see EngineProcess.restart)
                measured_at[0] = gone - t0[0]
                measured_fault[0] = back - gone

        th = threading.Thread(target=inject, daemon=True)
        th.start()
        res = run_load(plan, tgt, workers=workers, connections=connections, max_seconds=duration_s + fault_s + 5,
                       on_start=on_start)
        started.set()
        th.join(fault_s + 30)
        fsc = fault_scenario(vsc, kind, measured_at[0], measured_fault[0])
        pred = simulate(fsc, seed=seed).overall
        m = res.percentiles_ms
        rows = []
        for fig in ("p99_ms", "p999_ms", "max_ms"):
            rows.append({"figure": fig, "predicted": float(pred[fig]), "measured": float(m[fig])})
        n_err = sum(v for k, v in res.outcomes.items() if k not in ("ok", "rejected"))
        rows.append({"figure": "errors", "predicted": float(pred["error_rate"]) * plan.n, "measured": float(n_err)})
        rows.append({"figure": "hit_ratio", "predicted": float(pred["hit_ratio"]), "measured": float(res.hit_ratio)})
        table = pd.DataFrame(rows)
        table["rel_err"] = [(_rel(p, q)) for p, q in zip(table["predicted"], table["measured"], strict=True)]
        return FaultValidation(scenario=scenario.name, kind=kind, target=tgt.label, at_s=measured_at[0],
                               fault_s=measured_fault[0], table=table, load=res)
    finally:
        if own and engine is not None:
            engine.stop()
