"""Run a scenario: pick the engine, walk the run in chunks, repeat for replications.

Randomness: one `numpy.random.SeedSequence([seed, replication])` per replication, spawned
into independent streams for faults, keys, and each chunk (whose plan spawns one stream per
source and per component), so the same scenario and seed give identical results and
replications are independent.

Engine: `auto` takes the vectorised engine when every cache instance has one command thread
(Redis executes commands on one thread; a single FIFO server is what Lindley's recursion
solves) and the simpy engine otherwise; both compute the same model.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from simlab.model.attempts import FaultLookup
from simlab.model.events import run_events
from simlab.model.fastpath import QueueState, run_vector
from simlab.model.faults import expand_faults
from simlab.model.plan import PlanBuilder
from simlab.model.record import Recorder
from simlab.results import RunResult, build_result
from simlab.scenario import Scenario

__all__ = ["choose_engine", "simulate"]


def choose_engine(sc: Scenario, model: str = "auto") -> str:
    """'vector' or 'simpy' for this scenario."""
    if model != "auto":
        return model
    return "vector" if sc.cache.threads == 1 else "simpy"


def _cache_factory(sc: Scenario, seed: int) -> Callable[[int, int], object]:
    cs = sc.cache
    if cs.maxmemory_bytes == 0:
        # no maxmemory: nothing is evicted, keys leave only by expiry; a limit above any
        # reachable dataset gives the same behaviour through the same cache model
        limit = 1 << 62
    else:
        limit = cs.maxmemory_bytes
    policy = cs.maxmemory_policy

    def make(shard: int, epoch: int):
        from simlab.model.cache import make_cache

        return make_cache(policy, limit, samples=cs.maxmemory_samples, seed=seed * 1000 + shard * 17 + epoch)

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
    progress: Callable[[int, int], None] | None = None,
) -> RunResult:
    """Simulate `sc`; arguments override the scenario's `run` section."""
    seed = sc.run.seed if seed is None else seed
    duration_s = sc.run.duration_s if duration_s is None else duration_s
    warmup_s = min(sc.run.warmup_s if warmup_s is None else warmup_s, duration_s / 2)
    reps = sc.run.replications if replications is None else replications
    engine = choose_engine(sc, model or sc.run.model)
    if engine == "simpy":
        chunk_s = duration_s
    chunk_s = chunk_s or min(duration_s, 3600.0)
    chunk_s = max(60.0, round(chunk_s / 60.0) * 60.0) if chunk_s < duration_s else duration_s
    edges = np.arange(0.0, duration_s, chunk_s).tolist() + [duration_s]
    t_start = time.perf_counter()
    recs = []
    for rep in range(reps):
        ss = np.random.SeedSequence([seed, rep])
        fault_seq, plan_seq, chunk_seq = ss.spawn(3)
        n_res = sc.cache.shards * (sc.cache.replicas + 1) + 2
        windows = expand_faults(sc, duration_s, n_res, np.random.default_rng(fault_seq))
        builder = PlanBuilder(sc, windows, plan_seq, _cache_factory(sc, seed + rep))
        faults = FaultLookup(windows, len(builder.resources))
        rec = Recorder([s.name for s in sc.sources], [f for f, _ in builder.flows], builder.resources, builder.lock_res)
        state = QueueState(builder.resources)
        chunk_seqs = chunk_seq.spawn(len(edges) - 1)
        for c, (a, b) in enumerate(zip(edges[:-1], edges[1:], strict=True)):
            plan = builder.build(a, b, chunk_seqs[c])
            if engine == "vector":
                att = run_vector(plan, builder.resources, faults, state)
            else:
                att = run_events(plan, builder.resources, faults)
            lo = max(a, warmup_s)
            if b > lo:
                rec.add(plan, att, lo, b)
            if progress is not None:
                progress(rep * (len(edges) - 1) + c + 1, reps * (len(edges) - 1))
        recs.append(rec)
    result = build_result(recs, scenario=sc.name, seed=seed, duration_s=duration_s, model=engine)
    result.wall_s = time.perf_counter() - t_start
    result.extra["little_worst_rel"] = max(r.little_worst for r in recs)
    return result
