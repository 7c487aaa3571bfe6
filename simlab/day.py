"""The 24-hour day: hourly latency percentiles and the seed's SLO heatmap bands.

The seed dashboard (`../shared/seeds/redis-cache-service.txt`, "24-Hour Latency Heatmap")
shows one cell per hour coloured by the hour's P99 against the latency SLO: under 50 %,
50-75 %, 75-100 % of it, or over it. `simulate_day` runs a day the way
`simlab.model.run.simulate_day_fast` does (each hour one steady-state window at that hour's
rate, counted for the whole hour; queues and the cache carry over from window to window; the
cache is first warmed by accesses alone) and also keeps one latency histogram per hour, so
each hour's P50/P90/P99/max are exact for its window (HdrHistogram, 0.1 %). `hourly_heatmap`
turns that into the heatmap's rows; drawing them is the report's job.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from simlab.metrics import LatencyHistogram
from simlab.model.plan import Outcome
from simlab.model.record import request_outcomes
from simlab.results import RunResult
from simlab.scenario import Scenario

__all__ = ["BANDS", "band_of", "heatmap_dict", "hourly_heatmap", "is_diurnal", "run_heatmap", "simulate_day"]

#: (name, upper bound as a fraction of the SLO, the seed's symbol)
BANDS: tuple[tuple[str, float, str], ...] = (
    ("under 50%", 0.5, "🟢"),
    ("50-75%", 0.75, "🟡"),
    ("75-100%", 1.0, "🟠"),
    ("over SLO", math.inf, "🔴"),
)


def band_of(p99_ms: float, slo_ms: float) -> str:
    """The seed's band of one hour: its P99 as a fraction of the SLO threshold (a P99 of
    exactly the SLO is inside it, as "P99 < 200 ms" is read with `le` buckets)."""
    if not math.isfinite(p99_ms):
        return "no traffic"
    r = p99_ms / slo_ms
    for name, hi, _ in BANDS:
        if r < hi or (hi == 1.0 and r <= 1.0):
            return name
    return BANDS[-1][0]


def simulate_day(
    sc: Scenario,
    *,
    seed: int | None = None,
    window_s: float = 60.0,
    cache_warmup_s: float = 1200.0,
    progress: Callable[[int, int], None] | None = None,
) -> RunResult:
    """A fast day (24 windows of `window_s`) whose result carries `extra["hourly"]`: one row
    per hour with its traffic, P50/P90/P99/max, error rate and hit ratio.

    The same steps as `simulate_day_fast` (same seeds, so the same day), plus a histogram per
    hour; faults are not represented (see there)."""
    from simlab.model.attempts import FaultLookup
    from simlab.model.fastpath import QueueState, run_vector
    from simlab.model.faults import expand_faults
    from simlab.model.plan import PlanBuilder
    from simlab.model.record import Recorder
    from simlab.model.run import _cache_factory
    from simlab.results import build_result

    seed = sc.run.seed if seed is None else seed
    hour_s = 3600.0
    hours = 24
    weight = int(round(hour_s / window_s))
    if abs(weight * window_s - hour_s) > 1e-9:
        raise ValueError(f"window_s must divide an hour (3600 s), not {window_s:g}")
    t_start = time.perf_counter()
    ss = np.random.SeedSequence([seed, 0, 1])
    fault_seq, plan_seq, chunk_seq = ss.spawn(3)
    n_res = sc.cache.shards * (sc.cache.replicas + 1) + 2
    no_faults = sc.model_copy(update={"faults": []})
    windows = expand_faults(no_faults, 1.0, n_res, np.random.default_rng(fault_seq))
    builder = PlanBuilder(no_faults, windows, plan_seq, _cache_factory(sc, seed))
    faults = FaultLookup(windows, len(builder.resources))
    rec = Recorder([s.name for s in sc.sources], [f for f, _ in builder.flows], builder.resources, builder.lock_res,
                   thresholds_ms=sc.slo.latency_thresholds_ms())
    state = QueueState(builder.resources)
    seqs = chunk_seq.spawn(hours + 1)
    if cache_warmup_s > 0:
        steps = builder.steps(0.0, cache_warmup_s, seqs[0], 0)
        builder.hits(next(steps))
        steps.close()
    rows: list[dict[str, Any]] = []
    start_hour = _start_hour(sc)
    for h in range(hours):
        a = cache_warmup_s + h * window_s
        plan = builder.build(a, a + window_s, seqs[h + 1], h)
        att = run_vector(plan, builder.resources, faults, state)
        rec.add(plan, att, a, a + window_s, weight=weight, shift_s=h * hour_s - a)
        keep, _final, outcome, lat_ms = request_outcomes(plan, att, a, a + window_s)
        hist = LatencyHistogram()
        hist.record_ms(lat_ms)
        hit = plan.hit[keep]
        errors = int(((outcome != Outcome.OK) & (outcome != Outcome.REJECTED)).sum())
        reads = int((hit >= 0).sum())
        n = len(lat_ms)
        summ = hist.summary() if n else {}
        rows.append({
            "hour": (h + start_hour) % 24, "requests": n * weight, "throughput_rps": n / window_s,
            "p50_ms": summ.get("p50_ms", math.nan), "p90_ms": summ.get("p90_ms", math.nan),
            "p99_ms": summ.get("p99_ms", math.nan), "max_ms": summ.get("max_ms", math.nan),
            "error_rate": errors / n if n else math.nan,
            "rejected_rate": int((outcome == Outcome.REJECTED).sum()) / n if n else math.nan,
            "hit_ratio": int((hit == 1).sum()) / reads if reads else math.nan,
        })
        del plan, att
        if progress is not None:
            progress(h + 1, hours)
    result = build_result([rec], scenario=sc.name, seed=seed, duration_s=hours * hour_s, model="vector-fast")
    result.wall_s = time.perf_counter() - t_start
    result.extra["hourly"] = pd.DataFrame(rows)
    result.extra["day_window_s"] = window_s
    return result


def _start_hour(sc: Scenario) -> int:
    for s in sc.sources:
        if s.arrival.kind == "diurnal":
            return s.arrival.start_hour
    return 0


def hourly_heatmap(result: RunResult, slo_ms: float, start_hour: int = 0) -> pd.DataFrame:
    """One row per hour: hour, requests, throughput_rps, P50/P90/P99/max (ms), p99_over_slo
    (P99 / `slo_ms`), band (the seed's: under 50%, 50-75%, 75-100%, over SLO) and symbol.

    From a `simulate_day` result the percentiles are the hour's own; from another run with a
    per-minute series (`result.timeseries`), P50/P99 are the request-weighted means of the
    minutes' and P90/max are not available (NaN): `exact` says which. `start_hour`: the
    clock hour of the run's time 0 (a diurnal arrival's `start_hour`) for per-minute series."""
    if slo_ms <= 0:
        raise ValueError(f"slo_ms must be > 0, not {slo_ms:g}")
    hourly = result.extra.get("hourly")
    if hourly is not None:
        df = hourly.copy()
        df["exact"] = True
    else:
        ts = result.timeseries
        if ts is None or len(ts) == 0:
            raise ValueError("this result has no hourly or per-minute series; run simlab.day.simulate_day")
        t = ts.assign(hour=(ts["minute"] // 60 + start_hour) % 24)
        w = t["requests"].astype(float)
        g = t.assign(w50=t["p50_ms"] * w, w99=t["p99_ms"] * w, w=w).groupby("hour", as_index=False)
        agg = g.agg(requests=("requests", "sum"), w50=("w50", "sum"), w99=("w99", "sum"), w=("w", "sum"),
                    minutes=("minute", "count"))
        df = pd.DataFrame({
            # a fast day's one window per hour carries the whole hour's weighted count
            "hour": agg["hour"], "requests": agg["requests"],
            "throughput_rps": agg["requests"] / (3600.0 if result.model == "vector-fast" else agg["minutes"] * 60.0),
            "p50_ms": agg["w50"] / agg["w"], "p90_ms": math.nan, "p99_ms": agg["w99"] / agg["w"], "max_ms": math.nan,
        })
        df["exact"] = False
    df["p99_over_slo"] = df["p99_ms"] / slo_ms
    df["band"] = [band_of(float(x), slo_ms) for x in df["p99_ms"]]
    sym = {name: s for name, _, s in BANDS}
    df["symbol"] = [sym.get(b, "·") for b in df["band"]]
    return df.sort_values("hour").reset_index(drop=True)


def heatmap_dict(result: RunResult, slo_ms: float, start_hour: int = 0) -> dict[str, Any]:
    """The heatmap as JSON (`simlab day --json`, `simlab run --json` of a diurnal scenario):
    the SLO, the band edges, the hourly rows and the count of hours per band."""
    df = hourly_heatmap(result, slo_ms, start_hour)
    rows = []
    for r in df.to_dict("records"):
        rows.append({k: (None if isinstance(v, float) and not math.isfinite(v) else (v.item() if hasattr(v, "item") else v))
                     for k, v in r.items()})
    return {
        "slo_ms": slo_ms,
        "bands": [{"band": n, "below_fraction_of_slo": (None if math.isinf(hi) else hi), "symbol": s} for n, hi, s in BANDS],
        "hours": rows,
        "hours_per_band": {n: int((df["band"] == n).sum()) for n, _, _ in BANDS},
        "window_s": result.extra.get("day_window_s"),
    }


def is_diurnal(sc: Scenario) -> bool:
    """Whether any source's arrivals follow a daily profile (`arrival.kind: diurnal`)."""
    return any(s.arrival.kind == "diurnal" for s in sc.sources)


def run_heatmap(sc: Scenario, result: RunResult) -> dict[str, Any] | None:
    """The heatmap of a `simulate` run of a diurnal scenario (None for other scenarios), from
    its per-minute series, for `simlab run --json`: the hours the run covers, clock hours from
    the diurnal `start_hour`, P50/P99 as request-weighted means of the minutes' (`exact`
    false; P90/max null). `hours_covered` says how many of the 24 the run reached; `simlab
    day` (`simulate_day`) gives all 24 with each hour's own percentiles."""
    if not is_diurnal(sc) or result.timeseries is None or len(result.timeseries) == 0:
        return None
    doc = heatmap_dict(result, sc.slo.latency_p99_ms, _start_hour(sc))
    doc["hours_covered"] = len(doc["hours"])
    doc["source"] = "the run's per-minute series (simlab day simulates every hour)"
    return doc
