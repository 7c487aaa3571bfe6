"""Generate the small traces shipped in data/traces/ (run from the project root:
`.venv/bin/python data/traces/make_traces.py`). Seeded, so the files are reproducible.

zipf-small.oracleGeneral: 60,000 requests over 20,000 keys, Zipf(0.9) popularity (key ids
shuffled), Poisson arrivals at 400 requests/s (times truncated to whole seconds, the
format's unit), per-key sizes lognormal(median 2 KiB, sigma 1) bytes, all reads. libCacheSim
reads it (TraceType.ORACLE_GENERAL_TRACE).
zipf-small.csv: the same requests as CSV with a header `time_ms,key,size` (times in ms).
twitter-sample.csv: 20,000 requests in twitter/cache-trace's format (no header,
`timestamp,key,key_size,value_size,client_id,operation,TTL`) with string keys, 90 % get,
8 % set, 2 % delete, TTL 3600 s on writes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from simlab.workload.traces import write_oracle_general, zipf_trace

HERE = Path(__file__).resolve().parent


def main() -> None:
    rng = np.random.default_rng(20261201)
    n_keys = 20_000
    sizes = np.maximum(1, rng.lognormal(np.log(2048), 1.0, n_keys)).astype(np.int64)
    tr = zipf_trace(60_000, n_keys, 0.9, seed=20261201, rate_rps=400.0, size_bytes=sizes, shuffle_ids=True)
    write_oracle_general(HERE / "zipf-small.oracleGeneral", tr)
    with open(HERE / "zipf-small.csv", "w") as f:
        f.write("time_ms,key,size\n")
        for t, k, s in zip(np.floor(tr.times_s * 1000).astype(np.int64).tolist(), tr.keys.tolist(),
                           tr.sizes.tolist(), strict=True):
            f.write(f"{t},{k},{s}\n")
    tw = zipf_trace(20_000, 5_000, 1.0, seed=7, rate_rps=200.0, shuffle_ids=True)
    ops = rng.choice(["get", "set", "delete"], size=len(tw), p=[0.90, 0.08, 0.02])
    key_size = 20 + tw.keys % 30
    value_size = 100 + (tw.keys * 7919) % 900
    with open(HERE / "twitter-sample.csv", "w") as f:
        for t, k, ks, vs, op in zip(np.floor(tw.times_s).astype(np.int64).tolist(), tw.keys.tolist(),
                                    key_size.tolist(), value_size.tolist(), ops.tolist(), strict=True):
            ttl = 3600 if op == "set" else 0
            f.write(f"{t},k{k:06d}x,{ks},{vs},{k % 17},{op},{ttl}\n")


if __name__ == "__main__":
    main()
