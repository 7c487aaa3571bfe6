"""Request traces: read the formats cache research uses, write libCacheSim's, generate Zipf.

A trace is five parallel numpy arrays (:class:`Trace`), so that the cache model, the
stack-distance MRC and libCacheSim can all consume the same requests without per-request
Python objects.  Formats:

* **oracleGeneral** (libCacheSim's preferred binary format, ``oracleGeneralBin.h``): packed
  little-endian records of ``uint32 clock_time, uint64 obj_id, uint32 obj_size,
  int64 next_access_vtime`` (24 bytes; -1 = never again).  libCacheSim skips records with
  ``obj_size == 0``; so do we.  Read with ``np.fromfile`` and a structured dtype.
* **Twitter cache traces** (Yang et al., OSDI'20, github.com/twitter/cache-trace): CSV with
  no header, ``timestamp,key,key_size,value_size,client_id,op,ttl``; keys are anonymised
  strings, mapped here to dense int64 ids in order of first appearance.
* **generic CSV** (time, key, size columns chosen by index) and **key-per-line** text.

Key ids from string keys are dense (0..n_keys-1, first appearance order), which keeps later
arrays (per-key sizes, popularity) small.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = [
    "OPS",
    "OP_GET",
    "OP_SET",
    "ORACLE_GENERAL_DTYPE",
    "Trace",
    "TraceFormatError",
    "next_access_index",
    "read_trace_column",
    "read_oracle_general",
    "write_oracle_general",
    "read_twitter_csv",
    "read_csv",
    "read_key_per_line",
    "zipf_probabilities",
    "zipf_trace",
]

#: Operation names in code order; ``Trace.ops`` holds indices into this tuple (Twitter's set).
OPS: tuple[str, ...] = (
    "get",
    "gets",
    "set",
    "add",
    "replace",
    "cas",
    "append",
    "prepend",
    "delete",
    "incr",
    "decr",
)
OP_GET = 0
OP_SET = 2
_WRITE_OPS = frozenset({"set", "add", "replace", "cas", "append", "prepend", "incr", "decr"})

ORACLE_GENERAL_DTYPE = np.dtype(
    [("clock_time", "<u4"), ("obj_id", "<u8"), ("obj_size", "<u4"), ("next_access_vtime", "<i8")]
)
assert ORACLE_GENERAL_DTYPE.itemsize == 24


class TraceFormatError(ValueError):
    """A trace file a scenario names cannot be read: which file, which line, what was expected."""

    def __init__(self, path: str | os.PathLike[str], message: str) -> None:
        self.path = str(path)
        super().__init__(f"{self.path}: {message}")


def read_trace_column(path: str | os.PathLike[str], column: int) -> np.ndarray:
    """Column `column` (0-based) of a scenario's CSV trace (`time_s,key_id` per line, `#`
    comments), as float64. A header line, a binary file or a short row is a TraceFormatError
    naming the file and line, not numpy's parse error: a header silently skipped would hide a
    file in the wrong format, so the user is asked to comment it out."""
    p = os.fspath(path)
    try:
        with open(p, "rb") as f:
            head = f.read(65536)
    except OSError as err:
        raise TraceFormatError(p, f"cannot read trace: {err.strerror}") from None
    try:
        if b"\0" in head:
            raise UnicodeDecodeError("ascii", head, 0, 1, "NUL byte")
        head.decode("utf-8")
    except UnicodeDecodeError:
        raise TraceFormatError(p, "binary file; expected CSV text with `time_s,key_id` per line "
                               "(an oracleGeneral binary trace is read by read_oracle_general)") from None
    rows = []
    with open(p, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            text = line.split("#", 1)[0].strip()
            if not text:
                continue
            fields = text.split(",")
            if len(fields) <= column:
                raise TraceFormatError(p, f"line {lineno}: {len(fields)} column(s), expected at least {column + 1}")
            try:
                rows.append(float(fields[column]))
            except ValueError:
                what = "looks like a header" if not rows else "is not a number"
                raise TraceFormatError(
                    p, f"line {lineno}: column {column + 1} {fields[column].strip()!r} {what}; expected "
                    "numbers only (comment a header out with '#')") from None
    if not rows:
        raise TraceFormatError(p, "no rows (only blank or comment lines)")
    return np.asarray(rows, dtype=np.float64)


@dataclass(frozen=True)
class Trace:
    """A request sequence as parallel arrays.

    ``times_s`` float64 seconds; ``keys`` int64 ids; ``sizes`` int64 bytes (key + value);
    ``ops`` int8 indices into :data:`OPS`; ``ttls_s`` float64 seconds, NaN for no TTL.
    """

    times_s: np.ndarray
    keys: np.ndarray
    sizes: np.ndarray
    ops: np.ndarray
    ttls_s: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.keys)
        for name in ("times_s", "sizes", "ops", "ttls_s"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"Trace.{name} has {len(getattr(self, name))} entries, keys has {n}")

    def __len__(self) -> int:
        return len(self.keys)

    @property
    def writes(self) -> np.ndarray:
        """Boolean mask of requests that store a value (set, add, ..., incr)."""
        write_codes = np.array([i for i, op in enumerate(OPS) if op in _WRITE_OPS], dtype=np.int8)
        return np.isin(self.ops, write_codes)

    @property
    def n_keys(self) -> int:
        """Distinct keys in the trace."""
        return int(np.unique(self.keys).size)

    def head(self, n: int) -> Trace:
        """The first ``n`` requests."""
        return Trace(self.times_s[:n], self.keys[:n], self.sizes[:n], self.ops[:n], self.ttls_s[:n])


def _make(times_s: np.ndarray, keys: np.ndarray, sizes: np.ndarray, ops=None, ttls=None) -> Trace:
    n = len(keys)
    return Trace(
        times_s=np.ascontiguousarray(times_s, dtype=np.float64),
        keys=np.ascontiguousarray(keys, dtype=np.int64),
        sizes=np.ascontiguousarray(sizes, dtype=np.int64),
        ops=np.zeros(n, dtype=np.int8) if ops is None else np.ascontiguousarray(ops, dtype=np.int8),
        ttls_s=np.full(n, np.nan) if ttls is None else np.ascontiguousarray(ttls, dtype=np.float64),
    )


def next_access_index(keys: np.ndarray) -> np.ndarray:
    """For each request, the index of the next request to the same key, or -1 (vectorised).

    A stable sort groups each key's requests in time order; the successor within a group is
    the next access.
    """
    keys = np.asarray(keys)
    n = len(keys)
    order = np.argsort(keys, kind="stable")
    nxt = np.full(n, -1, dtype=np.int64)
    if n > 1:
        same = keys[order[1:]] == keys[order[:-1]]
        nxt[order[:-1][same]] = order[1:][same]
    return nxt


def read_oracle_general(path: str | os.PathLike[str]) -> Trace:
    """Read a libCacheSim oracleGeneral binary file (uncompressed).

    Records with ``obj_size == 0`` are dropped, as libCacheSim's reader does by default.
    """
    rec = np.fromfile(path, dtype=ORACLE_GENERAL_DTYPE)
    rec = rec[rec["obj_size"] != 0]
    return _make(rec["clock_time"], rec["obj_id"].astype(np.int64), rec["obj_size"])


def write_oracle_general(path: str | os.PathLike[str], trace: Trace) -> None:
    """Write ``trace`` as oracleGeneral so libCacheSim's C reader can replay it.

    ``clock_time`` is whole seconds (the format's unit); ``next_access_vtime`` is the index
    of the key's next request (-1 if none), which libCacheSim's oracle policies (Belady)
    need.  Sizes must be in 1..2**32-1.
    """
    n = len(trace)
    if n and (trace.sizes.min() < 1 or trace.sizes.max() > 0xFFFFFFFF):
        raise ValueError("oracleGeneral sizes must be in 1..2**32-1 (size 0 records are skipped)")
    if n and trace.keys.min() < 0:
        raise ValueError("oracleGeneral obj_id is unsigned; keys must be >= 0")
    rec = np.empty(n, dtype=ORACLE_GENERAL_DTYPE)
    rec["clock_time"] = np.floor(trace.times_s).astype(np.uint32)
    rec["obj_id"] = trace.keys.astype(np.uint64)
    rec["obj_size"] = trace.sizes.astype(np.uint32)
    rec["next_access_vtime"] = next_access_index(trace.keys)
    rec.tofile(path)


def _op_codes(ops: pd.Series) -> np.ndarray:
    table = {name: i for i, name in enumerate(OPS)}
    codes = ops.astype(str).str.lower().map(table)
    if codes.isna().any():
        bad = sorted(set(ops[codes.isna()].astype(str)))[:5]
        raise ValueError(f"unknown operations in trace: {bad}")
    return codes.to_numpy(dtype=np.int8)


def read_twitter_csv(path: str | os.PathLike[str], nrows: int | None = None) -> Trace:
    """Read a Twitter cache trace (``timestamp,key,key_size,value_size,client_id,op,ttl``).

    Size is ``key_size + value_size``; ``ttl`` 0 means no TTL.  Keys become dense ids.
    Format: https://github.com/twitter/cache-trace (README, "Trace Format").
    """
    df = pd.read_csv(
        path,
        header=None,
        names=["timestamp", "key", "key_size", "value_size", "client_id", "op", "ttl"],
        dtype={"key": str, "op": str},
        nrows=nrows,
        keep_default_na=False,
    )
    keys, _ = pd.factorize(df["key"], sort=False)
    ttl = df["ttl"].to_numpy(dtype=np.float64)
    ttl[ttl <= 0] = np.nan
    return _make(
        df["timestamp"].to_numpy(),
        keys,
        df["key_size"].to_numpy(np.int64) + df["value_size"].to_numpy(np.int64),
        _op_codes(df["op"]),
        ttl,
    )


def read_csv(
    path: str | os.PathLike[str],
    *,
    time_col: int | None = 0,
    key_col: int = 1,
    size_col: int | None = 2,
    has_header: bool = False,
    delimiter: str = ",",
    numeric_keys: bool = False,
) -> Trace:
    """Read a generic CSV trace by column index (libCacheSim's ``time-col``/``obj-id-col``/
    ``obj-size-col`` convention, but 0-based).  Missing time column: request index; missing
    size column: size 1.  String keys become dense ids unless ``numeric_keys``."""
    usecols = [c for c in (time_col, key_col, size_col) if c is not None]
    df = pd.read_csv(
        path,
        header=0 if has_header else None,
        sep=delimiter,
        usecols=usecols,
        dtype=str,
        keep_default_na=False,
    )
    cols = {c: df.columns[i] for i, c in enumerate(sorted(usecols))}
    n = len(df)
    if numeric_keys:
        keys = df[cols[key_col]].to_numpy(np.int64)
    else:
        keys, _ = pd.factorize(df[cols[key_col]], sort=False)
    times = (
        df[cols[time_col]].to_numpy(np.float64) if time_col is not None else np.arange(n, dtype=np.float64)
    )
    sizes = df[cols[size_col]].to_numpy(np.int64) if size_col is not None else np.ones(n, dtype=np.int64)
    return _make(times, keys, sizes)


def read_key_per_line(path: str | os.PathLike[str]) -> Trace:
    """One key per line; time is the line index, size 1 (libCacheSim's ``txt`` traces)."""
    with open(path, encoding="utf-8") as f:
        lines = [line.strip() for line in f]
    lines = [line for line in lines if line]
    keys, _ = pd.factorize(pd.Series(lines, dtype=str), sort=False)
    n = len(keys)
    return _make(np.arange(n, dtype=np.float64), keys, np.ones(n, dtype=np.int64))


def zipf_probabilities(n_keys: int, alpha: float) -> np.ndarray:
    """p_i proportional to i**-alpha for ranks i = 1..n_keys (index 0 is the most popular)."""
    if n_keys < 1:
        raise ValueError("n_keys must be >= 1")
    w = np.arange(1, n_keys + 1, dtype=np.float64) ** -float(alpha)
    return w / w.sum()


def zipf_trace(
    n_requests: int,
    n_keys: int,
    alpha: float,
    *,
    seed: int = 0,
    rate_rps: float = 1000.0,
    size_bytes: int | np.ndarray = 1,
    shuffle_ids: bool = False,
) -> Trace:
    """An independent-reference-model trace with Zipf(alpha) popularity.

    Keys are drawn i.i.d. by inverse CDF (``searchsorted`` on the cumulative
    probabilities); arrivals are Poisson at ``rate_rps``.  ``size_bytes`` is one size for
    every key or an array of per-key sizes (indexed by key id).  Without ``shuffle_ids``
    key id = popularity rank - 1.  Seeded: the same arguments give the same trace.
    """
    rng = np.random.default_rng(seed)
    cdf = np.cumsum(zipf_probabilities(n_keys, alpha))
    cdf[-1] = 1.0
    keys = np.searchsorted(cdf, rng.random(n_requests), side="right").astype(np.int64)
    if shuffle_ids:
        keys = rng.permutation(n_keys).astype(np.int64)[keys]
    times = np.cumsum(rng.exponential(1.0 / rate_rps, n_requests))
    if np.ndim(size_bytes) == 0:
        sizes = np.full(n_requests, int(size_bytes), dtype=np.int64)
    else:
        per_key = np.asarray(size_bytes, dtype=np.int64)
        if len(per_key) != n_keys:
            raise ValueError("per-key size_bytes must have n_keys entries")
        sizes = per_key[keys]
    return _make(times, keys, sizes)
