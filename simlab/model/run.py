"""Run a scenario: pick the solver, walk the run in chunks, repeat for replications.

Randomness: one `numpy.random.SeedSequence([seed, replication])` per replication, spawned
into independent streams for faults, keys, and each chunk (whose plan spawns one stream per
source and per component), so the same scenario and seed give identical results and
replications are independent.

Solver: `auto` takes the vectorised solver when every cache instance has one command thread
(Redis executes commands on one thread; a single FIFO server is what Lindley's recursion
solves) and the simpy solver otherwise; both compute the same model.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import numpy as np

from simlab.model.attempts import FaultLookup
from simlab.model.cache_worker import CacheWorker
from simlab.model.events import run_events
from simlab.model.fastpath import QueueState, run_vector
from simlab.model.faults import expand_faults
from simlab.model.plan import PlanBuilder, finish
from simlab.model.record import Recorder
from simlab.results import RunResult, _group_figures, build_result, widest_relative_ci
from simlab.scenario import Scenario, ScenarioError

__all__ = ["choose_solver", "simulate", "simulate_day_fast"]


def choose_solver(sc: Scenario, model: str = "auto") -> str:
    """'vector' or 'simpy' for this scenario.

    Bounded queues (a backend pool's acquire timeout, load shedding) also take simpy: a shed
    job leaves no later stages, so the vectorised solver's fixed point over stage arrivals
    needs many passes under overload (tens per retry round) where the event solver makes one.
    Client connection pools take simpy always: a connection is held while the command queues
    at the instance (one resource held while using another), which needs events; asking the
    vectorised solver for a scenario with pools is an error, not a silently different model."""
    pools = sc.has_client_pools()
    if model == "vector" and pools:
        raise ScenarioError(sc.name, [("run.model", "the vector solver cannot model client connection pools "
                                       "(sources.*.pool, network.app_pool); use auto or simpy")])
    if model != "auto":
        return model
    bounded = sc.backend.acquire_timeout_ms is not None or sc.cache.shed_wait_ms is not None
    return "vector" if sc.cache.threads == 1 and not bounded and not pools else "simpy"


def _cache_factory(sc: Scenario, seed: int) -> Callable[[int, int], object]:
    cs = sc.cache
    overhead, expire_overhead = cs.per_key_overhead_bytes, cs.expire_overhead_bytes
    if cs.maxmemory_objects is not None:
        # capacity in objects: every key is charged 1 (the plan passes sizes of 1), no overhead
        limit, overhead, expire_overhead = cs.maxmemory_objects, 0, 0
    elif cs.maxmemory_bytes == 0:
        # no maxmemory: nothing is evicted, keys leave only by expiry; a limit above any
        # reachable dataset gives the same behaviour through the same cache model
        limit = 1 << 62
    else:
        limit = cs.maxmemory_bytes
    policy = cs.maxmemory_policy

    def make(shard: int, epoch: int):
        from simlab.model.cache import make_cache

        return make_cache(
            policy,
            limit,
            samples=cs.maxmemory_samples,
            seed=seed * 1000 + shard * 17 + epoch,
            per_key_overhead_bytes=overhead,
            expire_overhead_bytes=expire_overhead,
        )

    return make


def simulate(
    sc: Scenario,
    *,
    seed: int | None = None,
    duration_s: float | None = None,
    warmup_s: float | None = None,
    replications: int | None = None,
    model: str | None = None,
    chunk_s: float | None = None,
    parallel: bool = False,
    progress: Callable[[int, int], None] | None = None,
    target_ci: float | None = None,
    max_replications: int = 50,
) -> RunResult:
    """Simulate `sc`; arguments override the scenario's `run` section.

    Long runs go in chunks (an hour by default) whose queues carry over; with `parallel`,
    a forked process answers the next chunk's cache queries meanwhile (`cache_worker`).

    `target_ci` (e.g. 0.05): after the scenario's replications (at least 3), keep adding
    independent replications until the widest relative 95 % half-width of the service-level
    figures (`simlab.results.widest_relative_ci`: every figure whose mean is not 0) is at most
    the target, or `max_replications` ran; `extra["target_ci"]` says which figure was widest
    and whether the target was met."""
    seed = sc.run.seed if seed is None else seed
    duration_s = sc.run.duration_s if duration_s is None else duration_s
    warmup_s = min(sc.run.warmup_s if warmup_s is None else warmup_s, duration_s / 2)
    reps = sc.run.replications if replications is None else replications
    solver = choose_solver(sc, model or sc.run.model)
    parallel = parallel or sc.run.parallel
    if solver == "simpy" and not parallel:
        chunk_s = duration_s
    elif solver == "simpy":
        chunk_s = chunk_s or 60.0
    chunk_s = chunk_s or min(duration_s, 3600.0)
    chunk_s = max(60.0, round(chunk_s / 60.0) * 60.0) if chunk_s < duration_s else duration_s
    edges = np.arange(0.0, duration_s, chunk_s).tolist() + [duration_s]
    t_start = time.perf_counter()
    recs: list[Recorder] = []
    per_rep: list[dict] = []
    if target_ci is not None:
        reps = max(reps, 3)
    rep = -1
    widest, which = math.inf, ""
    while True:
        rep += 1
        if rep >= reps:
            if target_ci is None:
                break
            widest, which = widest_relative_ci(per_rep)
            if widest <= target_ci or rep >= max_replications:
                break
        ss = np.random.SeedSequence([seed, rep])
        fault_seq, plan_seq, chunk_seq = ss.spawn(3)
        n_res = sc.cache.shards * (sc.cache.replicas + 1) + 2
        windows = expand_faults(sc, duration_s, n_res, np.random.default_rng(fault_seq))
        builder = PlanBuilder(sc, windows, plan_seq, _cache_factory(sc, seed + rep))
        faults = FaultLookup(windows, len(builder.resources))
        rec = Recorder([s.name for s in sc.sources], [f for f, _ in builder.flows], builder.resources, builder.lock_res,
                       thresholds_ms=sc.slo.latency_thresholds_ms(), unit_ns=sc.run.latency_resolution_ns,
                       pools=[p.as_resource() for p in builder.pools])
        rec.end_s = duration_s
        state = QueueState(builder.resources)
        chunk_seqs = chunk_seq.spawn(len(edges) - 1)
        chunks = list(zip(edges[:-1], edges[1:], strict=True))
        worker = CacheWorker(builder) if parallel and len(chunks) > 1 else None
        try:
            pending = None
            if worker is not None:
                pending = builder.steps(chunks[0][0], chunks[0][1], chunk_seqs[0])
                worker.submit(next(pending))
            for c, (a, b) in enumerate(chunks):
                if worker is not None and pending is not None:
                    steps, hits = pending, worker.result()
                    if c + 1 < len(chunks):
                        pending = builder.steps(chunks[c + 1][0], chunks[c + 1][1], chunk_seqs[c + 1])
                        worker.submit(next(pending))
                    plan = finish(steps, hits)
                else:
                    plan = builder.build(a, b, chunk_seqs[c])
                if solver == "vector":
                    att = run_vector(plan, builder.resources, faults, state)
                else:
                    att = run_events(plan, builder.resources, faults, state if len(chunks) > 1 else None,
                                     builder.pools, builder.pool_maxclients)
                lo = max(a, warmup_s)
                if b > lo:
                    rec.add(plan, att, lo, b)
                del plan, att
                if progress is not None:
                    progress(rep * len(chunks) + c + 1, max(reps, rep + 1) * len(chunks))
        finally:
            if worker is not None:
                worker.close()
        recs.append(rec)
        if target_ci is not None:
            per_rep.append(_group_figures(rec))
    little_worst = max(r.little_worst for r in recs)
    result = build_result(recs, scenario=sc.name, seed=seed, duration_s=duration_s, model=solver)
    result.wall_s = time.perf_counter() - t_start
    result.extra["little_worst_rel"] = little_worst
    if builder.redirects:
        # per replication (mean), requests starting after the warm-up; a retry repeats its
        # first attempt's path but is not counted again
        result.extra["cluster_redirections"] = {
            "ask": sum(r.asks for r in recs) / len(recs), "moved": sum(r.moveds for r in recs) / len(recs),
            "per": "replication",
        }
    if builder.lag_s > 0:
        replica_reads = sum(r.replica_reads for r in recs)
        stale = sum(r.stale_reads for r in recs)
        result.extra["replica_reads"] = {
            "reads": replica_reads / len(recs), "stale": stale / len(recs),
            "stale_share": stale / replica_reads if replica_reads else 0.0, "per": "replication",
        }
    if target_ci is not None:
        result.extra["target_ci"] = {
            "target": target_ci, "widest_relative_half_width": widest, "widest_figure": which,
            "replications": len(recs), "met": widest <= target_ci, "max_replications": max_replications,
        }
    return result


def simulate_day_fast(
    sc: Scenario,
    *,
    seed: int | None = None,
    hours: int = 24,
    hour_s: float = 3600.0,
    window_s: float = 60.0,
    cache_warmup_s: float = 1200.0,
    progress: Callable[[int, int], None] | None = None,
) -> RunResult:
    """A day in steady-state windows: each hour is represented by `window_s` seconds of
    full simulation at that hour's rate, counted `hour_s / window_s` times.

    Why it is valid: within an hour the arrival rate is constant (hourly multipliers), so
    the hour is a stationary process and any stretch of it has the hour's distribution. The
    windows run back to back, so queues and the cache carry over as in a continuous run; the
    cache is first warmed by `cache_warmup_s` of accesses alone (no queueing), because hit
    ratios with TTLs take minutes to settle. Not represented: fault windows (set at run
    times that the compressed windows do not cover) and transients at hour boundaries.
    """
    seed = sc.run.seed if seed is None else seed
    weight = int(round(hour_s / window_s))
    if abs(weight * window_s - hour_s) > 1e-9:
        raise ValueError("window_s must divide hour_s")
    t_start = time.perf_counter()
    ss = np.random.SeedSequence([seed, 0, 1])
    fault_seq, plan_seq, chunk_seq = ss.spawn(3)
    n_res = sc.cache.shards * (sc.cache.replicas + 1) + 2
    no_faults = sc.model_copy(update={"faults": []})
    windows = expand_faults(no_faults, 1.0, n_res, np.random.default_rng(fault_seq))
    builder = PlanBuilder(no_faults, windows, plan_seq, _cache_factory(sc, seed))
    faults = FaultLookup(windows, len(builder.resources))
    rec = Recorder([s.name for s in sc.sources], [f for f, _ in builder.flows], builder.resources, builder.lock_res,
                   thresholds_ms=sc.slo.latency_thresholds_ms(), unit_ns=sc.run.latency_resolution_ns,
                   pools=[p.as_resource() for p in builder.pools])
    state = QueueState(builder.resources)
    seqs = chunk_seq.spawn(hours + 1)
    solver = choose_solver(sc)  # client pools need events (`choose_solver`)
    if cache_warmup_s > 0:
        steps = builder.steps(0.0, cache_warmup_s, seqs[0], 0)
        builder.hits(next(steps))
        steps.close()
    for h in range(hours):
        a = cache_warmup_s + h * window_s
        plan = builder.build(a, a + window_s, seqs[h + 1], h)
        if builder.pools:
            att = run_events(plan, builder.resources, faults, state, builder.pools, builder.pool_maxclients)
        else:
            att = run_vector(plan, builder.resources, faults, state)
        rec.add(plan, att, a, a + window_s, weight=weight, shift_s=h * hour_s - a)
        if progress is not None:
            progress(h + 1, hours)
    result = build_result([rec], scenario=sc.name, seed=seed, duration_s=hours * hour_s,
                          model="vector-fast" if not builder.pools else f"{solver}-fast")
    result.wall_s = time.perf_counter() - t_start
    return result
