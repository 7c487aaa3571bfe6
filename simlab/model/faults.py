"""Fault windows of a run: fixed ones as given, random ones as a Poisson process.

A fault with `rate_per_hour` starts at the points of a Poisson process of that rate over the
run (exponential gaps) and lasts `duration_s`. Each kind becomes windows on resources (see
`simlab.scenario.FaultSpec` for what each kind means):

* restart: refusal windows on the shard's primary and replicas, and a wipe of the shard's
  cache at the end (ignored when persistence reloads it);
* slow / backend_slow: service-time factors on the shard's instances / on the backend pool;
* backend_outage: a refusal window on the backend (the miss path fails);
* failover: a refusal window on the primary from the failure until the promotion
  (detection + promotion time), then requests addressed to it are redirected to replica 1;
  when the old primary returns a full resync forks the new primary (`fork_ms_per_gb` x
  dataset); node_loss with replicas is a failover whose node never returns;
* node_loss without replicas: a refusal window and a forced wipe (the disk is gone too);
* partition: per-resource windows in which packets wait for the heal;
* slow_disk: fsync time of the shard's primary in the window;
* hot_key / hot_slot: request redirection to one key / slot of the shard;
* reshard: moved keys and the MIGRATE batches on both primaries;
* error_burst: a window in which a share of the requests (to one shard, or all) fail.
"""

from __future__ import annotations

import numpy as np

from simlab.model.plan import Windows
from simlab.scenario import Scenario

__all__ = ["expand_faults"]


def expand_faults(sc: Scenario, duration_s: float, n_resources: int, rng: np.random.Generator) -> Windows:
    """Concrete fault windows over [0, duration_s) for every resource."""
    copies = sc.cache.replicas + 1
    backend = sc.cache.shards * copies
    w = Windows(
        restart=[[] for _ in range(n_resources)],
        slow=[[] for _ in range(n_resources)],
        blip=[],
        wipe=[[] for _ in range(sc.cache.shards)],
    )
    ps = sc.cache.persistence
    for f in sc.faults:
        if f.at_s is not None:
            starts = [f.at_s]
        else:
            assert f.rate_per_hour is not None
            n = rng.poisson(f.rate_per_hour * duration_s / 3600.0)
            starts = sorted(rng.uniform(0, duration_s, n).tolist())
        shards = range(sc.cache.shards) if f.shard is None else [f.shard]
        for t in starts:
            end = t + f.duration_s
            if f.kind == "blip":
                w.blip.append((t, end, f.extra_latency_ms))
                continue
            if f.kind == "backend_slow":
                w.slow[backend].append((t, end, f.factor))
                continue
            if f.kind == "backend_outage":
                w.restart[backend].append((t, end))
                continue
            if f.kind == "error_burst":
                w.errors.append((-1 if f.shard is None else f.shard, t, end, f.share))
                continue
            for s in shards:
                primary = s * copies
                if f.kind in ("restart", "slow"):
                    for c in range(copies):
                        if f.kind == "restart":
                            w.restart[primary + c].append((t, end))
                        else:
                            w.slow[primary + c].append((t, end, f.factor))
                    if f.kind == "restart":
                        w.wipe[s].append((end, False))
                elif f.kind == "failover" or (f.kind == "node_loss" and copies > 1):
                    promoted = t + f.failover_delay_s()
                    returns = end if f.kind == "failover" else np.inf
                    if returns <= promoted:
                        # back before anyone declared it down: a plain restart of the primary
                        w.restart[primary].append((t, returns))
                        w.wipe[s].append((returns, False))
                        continue
                    w.restart[primary].append((t, promoted))
                    w.redirect.append((primary, promoted, primary + 1))
                    if returns < duration_s and f.resync == "full":
                        pause_s = ps.fork_ms_per_gb * ps.dataset_bytes / 1e9 * 1e-3
                        w.resync.append((primary + 1, returns, pause_s))
                elif f.kind == "node_loss":
                    w.restart[primary].append((t, end))
                    w.wipe[s].append((end, True))
                elif f.kind == "partition":
                    for c in range(copies):
                        w.partition.append((primary + c, t, end))
                elif f.kind == "slow_disk":
                    w.fsync.append((primary, t, end, f.fsync_ms))
                elif f.kind in ("hot_key", "hot_slot"):
                    w.hot.append((f.kind, s, t, end, f.share))
                elif f.kind == "reshard":
                    dst = (s + 1) % sc.cache.shards if f.to_shard is None else f.to_shard
                    w.reshard.append((s, dst, t, end, f.share, f.migrate_us_per_key * 1e-6))
    return w
