"""Trace readers and trace replay, side by side with the Python-API path.

    .venv/bin/python benchmarks/bench_traces.py [--requests 5000000]

Prints: streaming read rates (oracleGeneral, CSV with a header, Twitter's format), the rate of
replaying an oracleGeneral trace through a scenario's cache model (streamed blocks -> the
scenario's cache) against the Python-API path (`read_oracle_general` + `make_cache` +
`access_many`, 4.0-4.7 M requests/s in bench_hitratio.py), and the rate of a full
`simulate()` of the trace (queues and all). Targets: >= 2 M/s oracleGeneral, >= 0.5 M/s CSV,
replay within 2x of the Python-API path.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from simlab.model.cache import make_cache, replay_trace
from simlab.model.run import _cache_factory, simulate
from simlab.paths import SCENARIOS_DIR
from simlab.scenario import TraceColumns, TraceSpec, load_scenario
from simlab.workload.trace_stream import iter_trace
from simlab.workload.traces import read_oracle_general, write_oracle_general, zipf_trace


def _rate(n: int, dt: float) -> str:
    return f"{n / dt / 1e6:6.2f} M requests/s ({n:,} in {dt:.2f} s)"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=5_000_000)
    args = ap.parse_args()
    n = args.requests
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        rng = np.random.default_rng(1)
        tr = zipf_trace(n, 200_000, 0.9, seed=1, rate_rps=50_000.0, size_bytes=rng.integers(100, 4000, 200_000))
        og = d / "t.oracleGeneral"
        write_oracle_general(og, tr)
        csv = d / "t.csv"
        m = min(n, 2_000_000)
        with open(csv, "w") as f:
            f.write("time,key,size\n")
            np.savetxt(f, np.column_stack([np.floor(tr.times_s[:m] * 1e3), tr.keys[:m], tr.sizes[:m]]).astype(np.int64),
                       fmt="%d", delimiter=",")
        tw = d / "tw.csv"
        with open(tw, "w") as f:
            keys = tr.keys[:m]
            lines = [f"{int(t)},k{k}x,20,{s},1,get,0\n" for t, k, s in
                     zip(tr.times_s[:m].tolist(), keys.tolist(), tr.sizes[:m].tolist(), strict=True)]
            f.writelines(lines)

        def read_all(spec: TraceSpec) -> tuple[int, float]:
            list(iter_trace(spec))  # warm the page cache
            t = time.perf_counter()
            k = sum(len(b) for b in iter_trace(spec))
            return k, time.perf_counter() - t

        print("reader (streaming, bounded blocks)")
        k, dt = read_all(TraceSpec(path=str(og)))
        print(f"  oracleGeneral          {_rate(k, dt)}   target >= 2 M/s")
        k, dt = read_all(TraceSpec(path=str(csv), format="csv", header=True,
                                   columns=TraceColumns(time="time", key="key", size="size"), time_unit="ms"))
        print(f"  CSV (header, named)    {_rate(k, dt)}   target >= 0.5 M/s")
        k, dt = read_all(TraceSpec(path=str(tw), format="twitter"))
        print(f"  Twitter cache-trace    {_rate(k, dt)}   target >= 0.5 M/s")

        cap = 50 * 1024 * 1024
        t = time.perf_counter()
        whole = read_oracle_general(og)
        c = make_cache("lru", cap, per_key_overhead_bytes=0, expire_overhead_bytes=0)
        h_api = c.access_many(whole.keys, whole.sizes, whole.times_s)
        dt_api = time.perf_counter() - t
        sc = load_scenario(SCENARIOS_DIR / "trace-replay.yaml")
        sc = sc.model_copy(update={
            "sources": [sc.sources[0].model_copy(update={"trace": TraceSpec(path=str(og))})],
            "cache": sc.cache.model_copy(update={"maxmemory_bytes": cap}),
        })
        t = time.perf_counter()
        cache = _cache_factory(sc, 0)(0, 0)
        hits = [replay_trace(cache, b) for b in iter_trace(sc.sources[0].trace)]  # type: ignore[arg-type]
        dt_sc = time.perf_counter() - t
        h_sc = np.concatenate(hits)
        print("replay through an exact LRU (50 MiB, payload bytes)")
        print(f"  Python API (read whole + access_many)   {_rate(n, dt_api)}  hit ratio {h_api.mean():.4f}")
        print(f"  scenario cache model (streamed blocks)   {_rate(n, dt_sc)}  hit ratio {h_sc.mean():.4f}")
        print(f"  scenario path time / Python-API time: {dt_sc / dt_api:.2f} (target <= 2)")
        m2 = min(n, 1_000_000)
        small = d / "s.oracleGeneral"
        write_oracle_general(small, tr.head(m2))
        sc2 = sc.model_copy(update={
            "sources": [sc.sources[0].model_copy(update={"trace": TraceSpec(path=str(small))})],
            "run": sc.run.model_copy(update={"duration_s": float(np.ceil(tr.times_s[m2 - 1])) + 1}),
        })
        t = time.perf_counter()
        r = simulate(sc2)
        dt = time.perf_counter() - t
        print(f"full simulate() of {m2:,} traced requests (queues, network, backend): {_rate(m2, dt)}; "
              f"hit ratio {r.overall['hit_ratio']:.4f}")


if __name__ == "__main__":
    main()
