"""Streaming trace readers: a trace file as a sequence of bounded blocks, for scenarios.

`simlab.workload.traces` reads a whole file into one :class:`Trace` (fine for the MRC and
for libCacheSim comparisons); a scenario may name a multi-GB trace, so here every format is
read in blocks of `block` requests and memory stays bounded whatever the file's length:

* oracleGeneral: `np.fromfile` with a count on an open file (24-byte records);
* CSV/TSV and Twitter's cache-trace: pyarrow's streaming CSV reader (`pyarrow.csv.open_csv`,
  multi-threaded C++ parsing), columns chosen by index or by header name.

String keys are hashed to int64 (pandas' `hash_array`, 64-bit SipHash) instead of being
numbered in order of appearance, so no table of every key ever seen is kept; two distinct
keys collide with probability about n^2 / 2^64 (1e-7 for 2 billion keys).

Spatial sampling (SHARDS, Waldspurger et al., FAST'15): a request is kept when
hash(key) mod 2^24 < rate x 2^24, so a kept key keeps every one of its requests and the
kept keys are a `rate` share of the keyspace. The hash is splitmix64's finaliser on the id.

Errors name the file and what is wrong (`TraceError`, a `ValueError`): a header row where
numbers were expected, a binary file given as CSV, a missing column.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from simlab.scenario import TraceSpec
from simlab.workload.traces import OPS, ORACLE_GENERAL_DTYPE, Trace

__all__ = [
    "TraceError",
    "TraceStream",
    "check_trace",
    "iter_trace",
    "mix64",
    "shards_keep",
    "TWITTER_COLUMNS",
]

TWITTER_COLUMNS = ("timestamp", "key", "key_size", "value_size", "client_id", "operation", "ttl")
_UNIT_S = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}
_SAMPLE_BITS = 24
_KEY_MASK = (1 << 62) - 1
_OP_CODE = {name: i for i, name in enumerate(OPS)}


class TraceError(ValueError):
    """A trace that cannot be read: names the file and the problem."""

    def __init__(self, path: str | os.PathLike[str], message: str) -> None:
        self.path = str(path)
        super().__init__(f"{path}: {message}")


def _mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: a well-mixed 64-bit hash of each id."""
    z = x.astype(np.uint64, copy=True)
    with np.errstate(over="ignore"):
        z ^= z >> np.uint64(30)
        z *= np.uint64(0xBF58476D1CE4E5B9)
        z ^= z >> np.uint64(27)
        z *= np.uint64(0x94D049BB133111EB)
        z ^= z >> np.uint64(31)
    return z


mix64 = _mix64  # public name: simlab.model.plan hashes keys the same way


def shards_keep(keys: np.ndarray, rate: float) -> np.ndarray:
    """SHARDS spatial sampling: True for the requests of keys whose hash is below the rate."""
    if rate >= 1.0:
        return np.ones(len(keys), dtype=bool)
    threshold = np.uint64(int(rate * (1 << _SAMPLE_BITS)))
    return (_mix64(keys) & np.uint64((1 << _SAMPLE_BITS) - 1)) < threshold


def _hash_keys(values: np.ndarray) -> np.ndarray:
    h = pd.util.hash_array(values.astype(object), categorize=False)
    return (h & np.uint64(_KEY_MASK)).astype(np.int64)


def _oracle_blocks(path: Path, block: int) -> Iterator[Trace]:
    size = path.stat().st_size
    if size % ORACLE_GENERAL_DTYPE.itemsize:
        raise TraceError(path, f"{size} bytes is not a whole number of 24-byte oracleGeneral records")
    with open(path, "rb") as f:
        while True:
            rec = np.fromfile(f, dtype=ORACLE_GENERAL_DTYPE, count=block)
            if len(rec) == 0:
                return
            rec = rec[rec["obj_size"] != 0]
            n = len(rec)
            yield Trace(
                times_s=rec["clock_time"].astype(np.float64),
                keys=(rec["obj_id"] & np.uint64(_KEY_MASK)).astype(np.int64),
                sizes=rec["obj_size"].astype(np.int64),
                ops=np.zeros(n, dtype=np.int8),
                ttls_s=np.full(n, np.nan),
            )


def _looks_binary(path: Path) -> bool:
    with open(path, "rb") as f:
        head = f.read(4096)
    if b"\x00" in head:
        return True
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as err:
        return err.start < len(head) - 4  # a multi-byte character cut at the end is fine
    return False


def _numeric(path: Path, name: str | int, col: pd.Series | np.ndarray, what: str, first_line: int) -> np.ndarray:
    try:
        return np.asarray(col, dtype=np.float64)
    except (TypeError, ValueError):
        s = pd.Series(col)
        bad = pd.to_numeric(s, errors="coerce").isna() & s.notna()
        i = int(np.flatnonzero(bad.to_numpy())[0])
        hint = " (a header row? set `header: true`)" if first_line + i == 1 else ""
        raise TraceError(path, f"line {first_line + i}: {what} column {name!r} has {str(s.iloc[i])!r}, "
                               f"not a number{hint}") from None


def _csv_blocks(spec: TraceSpec, path: Path, block: int) -> Iterator[Trace]:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    if _looks_binary(path):
        raise TraceError(path, f"not a text file; is it a binary trace (format: oracleGeneral)? format is {spec.format!r}")
    twitter = spec.format == "twitter"
    delimiter = "\t" if spec.format == "tsv" else ","
    header = spec.header and not twitter
    if twitter:
        names: dict[str, int | str | None] = {"time": 0, "key": 1, "size": None, "op": 5, "ttl": 6}
    else:
        c = spec.columns
        names = {"time": c.time, "key": c.key, "size": c.size, "op": c.op, "ttl": c.ttl}
    read_opts = pacsv.ReadOptions(block_size=1 << 22, autogenerate_column_names=not header)
    parse_opts = pacsv.ParseOptions(delimiter=delimiter)
    try:
        reader = pacsv.open_csv(path, read_options=read_opts, parse_options=parse_opts,
                                )
    except (pa.ArrowInvalid, OSError) as err:
        raise TraceError(path, f"cannot parse as {spec.format}: {err}") from None
    schema = reader.schema
    cols = list(schema.names)

    def index_of(what: str, ref: int | str) -> int:
        if isinstance(ref, int):
            if ref >= len(cols):
                raise TraceError(path, f"{what} column {ref} does not exist: the file has {len(cols)} columns")
            return ref
        if ref not in cols:
            raise TraceError(path, f"{what} column {ref!r} is not in the header {cols}")
        return cols.index(ref)

    where = {k: (None if v is None else index_of(k, v)) for k, v in names.items()}

    def label(k: str) -> str | int:
        """How the user named the column: its header name, or its 0-based index."""
        i = where[k]
        assert i is not None
        return cols[i] if header else i
    if twitter and len(cols) != len(TWITTER_COLUMNS):
        raise TraceError(path, f"a Twitter cache trace has 7 columns {list(TWITTER_COLUMNS)}, this one has {len(cols)}")
    line = 2 if header else 1
    pending: list[Trace] = []
    pending_n = 0
    while True:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            break
        except pa.ArrowInvalid as err:
            raise TraceError(path, f"cannot parse as {spec.format}: {err}") from None
        n = batch.num_rows
        if n == 0:
            continue

        def col(k: str) -> np.ndarray:
            return batch.column(where[k]).to_numpy(zero_copy_only=False)  # noqa: B023

        key_raw = col("key")
        if key_raw.dtype.kind in "iu":
            keys = (key_raw.astype(np.int64) & _KEY_MASK).astype(np.int64)
        elif key_raw.dtype.kind == "f":
            keys = _numeric(path, label("key"), key_raw, "key", line).astype(np.int64)
        else:
            keys = _hash_keys(key_raw)
        if where["time"] is not None:
            times = _numeric(path, label("time"), col("time"), "time", line)
        else:
            times = np.arange(line, line + n, dtype=np.float64)
        if twitter:
            sizes = (_numeric(path, "key_size", batch.column(2).to_numpy(zero_copy_only=False), "key_size", line)
                     + _numeric(path, "value_size", batch.column(3).to_numpy(zero_copy_only=False), "value_size",
                                line)).astype(np.int64)
        elif where["size"] is not None:
            sizes = _numeric(path, label("size"), col("size"), "size", line).astype(np.int64)
        else:
            sizes = np.ones(n, dtype=np.int64)
        if n and sizes.min() < 1:
            i = int(np.argmin(sizes))
            if not twitter or sizes[i] < 0:
                raise TraceError(path, f"line {line + i}: size {sizes[i]} (sizes must be at least 1 byte)")
        if where["op"] is not None:
            raw = pd.Series(col("op")).astype(str).str.lower()
            codes = raw.map(_OP_CODE)
            if codes.isna().any():
                i = int(np.flatnonzero(codes.isna().to_numpy())[0])
                raise TraceError(path, f"line {line + i}: unknown operation {raw.iloc[i]!r}; known: {list(OPS)}")
            ops = codes.to_numpy(dtype=np.int8)
        else:
            ops = np.zeros(n, dtype=np.int8)
        if where["ttl"] is not None:
            ttls = _numeric(path, label("ttl"), col("ttl"), "ttl", line)
            ttls[ttls <= 0] = np.nan
        else:
            ttls = np.full(n, np.nan)
        if twitter:
            keep = sizes > 0  # Twitter's traces have a few zero-size records (deletes of absent keys)
            if not keep.all():
                times, keys, sizes, ops, ttls = times[keep], keys[keep], sizes[keep], ops[keep], ttls[keep]
                sizes = np.maximum(sizes, 1)
        line += n
        pending.append(Trace(times, keys, sizes, ops, ttls))
        pending_n += len(keys)
        if pending_n >= block:
            yield _concat(pending)
            pending, pending_n = [], 0
    if pending:
        yield _concat(pending)


def _concat(parts: list[Trace]) -> Trace:
    if len(parts) == 1:
        return parts[0]
    return Trace(*(np.concatenate([getattr(p, f) for p in parts]) for f in ("times_s", "keys", "sizes", "ops",
                                                                              "ttls_s")))


def iter_trace(spec: TraceSpec, *, block: int = 1 << 20, base_dir: str | os.PathLike[str] | None = None
               ) -> Iterator[Trace]:
    """The trace of `spec` in blocks of about `block` requests: times in seconds relative to
    the first request and scaled, keys int64 >= 0, SHARDS-sampled if `sample_rate` < 1."""
    path = Path(spec.path)
    if not path.is_absolute() and base_dir is not None and not path.exists():
        path = Path(base_dir) / path
    if not path.exists():
        raise TraceError(path, "no such file")
    blocks = _oracle_blocks(path, block) if spec.format == "oracleGeneral" else _csv_blocks(spec, path, block)
    scale = _UNIT_S[spec.time_unit] * spec.time_scale
    t_first: float | None = None
    for b in blocks:
        if len(b) == 0:
            continue
        if t_first is None:
            t_first = float(b.times_s[0])
        times = (b.times_s - t_first) * scale
        tr = Trace(times, b.keys, b.sizes, b.ops, b.ttls_s)
        if spec.sample_rate < 1.0:
            keep = shards_keep(tr.keys, spec.sample_rate)
            tr = Trace(*(getattr(tr, f)[keep] for f in ("times_s", "keys", "sizes", "ops", "ttls_s")))
        yield tr


def check_trace(spec: TraceSpec, base_dir: str | os.PathLike[str] | None = None) -> None:
    """Read the first block of the trace (raises `TraceError` when it cannot be read)."""
    for _ in iter_trace(spec, block=1000, base_dir=base_dir):
        return


class TraceStream:
    """One source's position in its trace across the chunks of a run.

    `window(a, b)`: the requests with times in [a, b) (arrivals and keys, `use: both` or
    `arrivals`), chunks asked in increasing order; `next_n(n)`: the next n requests in trace
    order (`use: keys`), starting over at the end of the file."""

    def __init__(self, spec: TraceSpec, base_dir: str | os.PathLike[str] | None = None, block: int = 1 << 20) -> None:
        self.spec = spec
        self.base_dir = base_dir
        self.block = block
        self._it = iter_trace(spec, block=block, base_dir=base_dir)
        self._buf: Trace | None = None
        self._done = False

    def _more(self) -> bool:
        if self._done:
            return False
        try:
            nxt = next(self._it)
        except StopIteration:
            self._done = True
            return False
        self._buf = nxt if self._buf is None or len(self._buf) == 0 else _concat([self._buf, nxt])
        return True

    @staticmethod
    def _cut(tr: Trace, i: int) -> tuple[Trace, Trace]:
        fields = ("times_s", "keys", "sizes", "ops", "ttls_s")
        return (Trace(*(getattr(tr, f)[:i] for f in fields)), Trace(*(getattr(tr, f)[i:] for f in fields)))

    def window(self, start_s: float, end_s: float) -> Trace:
        while self._buf is None or len(self._buf) == 0 or self._buf.times_s[-1] < end_s:
            if not self._more():
                break
        if self._buf is None:
            return _empty()
        buf = self._buf
        lo = int(np.searchsorted(buf.times_s, start_s, side="left"))
        hi = int(np.searchsorted(buf.times_s, end_s, side="left"))
        _, rest = self._cut(buf, lo)
        out, self._buf = self._cut(rest, hi - lo)
        if len(out) and np.any(np.diff(out.times_s) < 0):
            order = np.argsort(out.times_s, kind="stable")
            out = Trace(*(getattr(out, f)[order] for f in ("times_s", "keys", "sizes", "ops", "ttls_s")))
        return out

    def next_n(self, n: int) -> Trace:
        parts: list[Trace] = []
        need = n
        restarted = False
        while need > 0:
            if self._buf is None or len(self._buf) == 0:
                if not self._more():
                    if restarted:
                        raise TraceError(self.spec.path, "the trace has no requests")
                    self._it = iter_trace(self.spec, block=self.block, base_dir=self.base_dir)
                    self._done = False
                    restarted = True
                    continue
                restarted = False
            assert self._buf is not None
            take, self._buf = self._cut(self._buf, min(need, len(self._buf)))
            parts.append(take)
            need -= len(take)
        return _concat(parts) if parts else _empty()


def _empty() -> Trace:
    return Trace(np.empty(0), np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.int8), np.empty(0))
