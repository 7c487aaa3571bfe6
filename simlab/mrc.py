"""Miss-ratio curves: the LRU hit ratio at every cache size from one pass over a trace.

LRU is a stack algorithm (Mattson, Gecsei, Slutz & Traiger, "Evaluation techniques for
storage hierarchies", IBM Systems Journal 9(2), 1970): a request hits in a cache of ``C``
objects exactly when its *stack distance* -- the number of distinct other keys referenced
since the previous request to the same key -- is below ``C``.  One pass that computes every
request's distance therefore gives the hit ratio at all sizes at once.

Two implementations of the same counts:

* :func:`stack_distances_fenwick` -- the streaming form (Bennett & Kruskal 1975; Olken
  1981): a Fenwick tree over access timestamps holds a 1 at the latest access of each key,
  and the distance is the number of 1s after the previous access.  O(n log n), pure
  Python; kept as the readable reference and for small traces.
* :func:`stack_distances` -- the same prefix sums, vectorised across all requests.  The
  distance of request ``t`` with previous access ``p`` is
  ``#{j in (p, t): next[j] > t}`` (``j`` is the last access of its key inside the window).
  That is ``A(t) - B(t)`` with ``A(t) = #{j < t: next[j] > t}`` (a cumulative histogram of
  ``next``) and ``B(t) = #{j < p: next[j] > t}``, a dominance count.  ``B`` is evaluated with
  Fenwick's own decomposition: the prefix ``[0, p)`` splits into one aligned block of size
  ``2**L`` per set bit ``L`` of ``p``; per level the blocks are kept sorted by ``next`` and
  every query of that level is one vectorised ``searchsorted``.  O(n log^2 n) work done in
  ~log n numpy passes.

For variable object sizes, :func:`byte_stack_distances` sums sizes instead of counting:
under byte-capacity LRU that evicts from the tail until the new object fits (libCacheSim's
LRU), the cache holds the longest prefix of the recency stack that fits, so a request hits
iff its distinct-bytes distance (including itself) is <= the capacity.  This holds when no
object exceeds the capacity and each key keeps one size.

SHARDS (Waldspurger, Park, Garthwaite & Ahmad, "Efficient MRC Construction with SHARDS",
FAST'15) samples keys spatially -- key ``k`` is kept iff ``hash(k) mod P < T``, rate
``R = T/P`` -- computes distances on the sample and scales them by ``1/R``.  SHARDS-adj adds
``N*R - N_s`` (expected minus actual sampled requests) to the first histogram bucket,
removing most of the error that comes from a few hot keys being in or out of the sample.

Policies that are not stack algorithms (FIFO, S3-FIFO, SIEVE, ...) need one simulation per
size; :func:`libcachesim_mrc` runs libCacheSim's C implementations over an oracleGeneral
file so its C reader streams the trace at full speed.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from simlab.workload.traces import Trace

__all__ = [
    "MissRatioCurve",
    "previous_access_index",
    "stack_distances",
    "stack_distances_fenwick",
    "byte_stack_distances",
    "lru_mrc",
    "lru_byte_mrc",
    "shards_mrc",
    "shards_sample_mask",
    "LIBCACHESIM_POLICIES",
    "libcachesim_mrc",
]

COLD = -1  # distance of a first reference (a compulsory miss at every size)


@dataclass(frozen=True)
class MissRatioCurve:
    """Hit ratio of LRU at each cache size.

    ``cache_sizes`` ascending (objects or bytes, see ``unit``); ``hit_ratios[i]`` is the hit
    ratio of a cache of ``cache_sizes[i]``.
    """

    cache_sizes: np.ndarray
    hit_ratios: np.ndarray
    unit: str = "objects"

    @property
    def miss_ratios(self) -> np.ndarray:
        return 1.0 - self.hit_ratios

    def hit_ratio(self, cache_size: float) -> float:
        """Hit ratio at ``cache_size`` (the step curve: the largest listed size <= it)."""
        i = int(np.searchsorted(self.cache_sizes, cache_size, side="right")) - 1
        return float(self.hit_ratios[i]) if i >= 0 else 0.0


def previous_access_index(keys: np.ndarray) -> np.ndarray:
    """For each request, the index of the previous request to the same key, or -1."""
    keys = np.asarray(keys)
    n = len(keys)
    order = np.argsort(keys, kind="stable")
    prev = np.full(n, -1, dtype=np.int64)
    if n > 1:
        same = keys[order[1:]] == keys[order[:-1]]
        prev[order[1:][same]] = order[:-1][same]
    return prev


def _next_from_prev(prev: np.ndarray) -> np.ndarray:
    n = len(prev)
    nxt = np.full(n, n, dtype=np.int64)  # n = "never again"
    has = prev >= 0
    nxt[prev[has]] = np.nonzero(has)[0]
    return nxt


def _window_sums(prev: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
    """For every ``t`` with ``prev[t] >= 0``: sum of ``weights[j]`` over ``j`` in
    ``(prev[t], t)`` with ``next[j] > t`` (count when ``weights`` is None).  Others: COLD."""
    n = len(prev)
    if n >= 1 << 31:
        raise ValueError("traces of 2**31 requests or more: split them (composite keys are 62-bit)")
    nxt = _next_from_prev(prev)
    t_idx = np.arange(n, dtype=np.int64)
    w = np.ones(n, dtype=np.int64) if weights is None else np.asarray(weights, dtype=np.int64)
    # A(t) = sum_{j<t} w[j] - sum_{j: next[j] <= t} w[j]   (next[j] <= t implies j < t)
    before = np.concatenate(([0], np.cumsum(w)[:-1]))
    finite = nxt < n
    ended = np.cumsum(np.bincount(nxt[finite], weights=w[finite], minlength=n)[:n]).astype(np.int64)
    a = before - ended
    # Queries (p, t) in order of p: at every level their blocks are then non-decreasing, so
    # each searchsorted walks the sorted array nearly in order (cache-friendly).
    qp = np.nonzero(finite)[0]
    qt = nxt[qp]
    b = np.zeros(len(qp), dtype=np.int64)
    # Level L: blocks of 2**L positions.  One array holds every block's next[] values sorted,
    # as composite keys (block << bits) | next; weights are carried along.
    bits = int(n).bit_length()
    low = np.int64((1 << bits) - 1)
    comp = (t_idx << bits) | nxt
    wts = w
    level = 0
    while (1 << level) <= n:
        if level > 0:
            comp &= low
            comp |= (t_idx >> level) << bits
            # each block is two sorted runs, so the stable sort (timsort) is a linear merge
            if weights is None:
                comp.sort(kind="stable")
            else:
                order = np.argsort(comp, kind="stable")
                comp = comp[order]
                wts = wts[order]
        sel = np.nonzero((qp >> level) & 1)[0]
        if len(sel):
            blk = (qp[sel] >> level) - 1
            end = np.minimum((blk + 1) << level, n)
            pos = np.searchsorted(comp, (blk << bits) | qt[sel], side="right")
            if weights is None:
                b[sel] += end - pos
            else:
                csum = np.concatenate(([0], np.cumsum(wts)))
                b[sel] += csum[end] - csum[pos]
        level += 1
    out = np.full(n, COLD, dtype=np.int64)
    out[qt] = a[qt] - b
    return out


def stack_distances(keys: np.ndarray) -> np.ndarray:
    """LRU stack distance of every request (distinct other keys since its previous
    request; ``COLD`` = -1 for a first reference).  Hit in a C-object LRU iff ``0 <= d < C``."""
    return _window_sums(previous_access_index(keys), None)


def byte_stack_distances(keys: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Bytes of the distinct keys referenced since the previous request, plus the request's
    own size (``COLD`` for first references).  Hit in a B-byte LRU iff ``0 <= d <= B``."""
    sizes = np.asarray(sizes, dtype=np.int64)
    out = _window_sums(previous_access_index(keys), sizes)
    warm = out >= 0
    out[warm] += sizes[warm]
    return out


def stack_distances_fenwick(keys: np.ndarray) -> np.ndarray:
    """Streaming one-pass stack distances with a Fenwick tree over timestamps.

    A 1 at position ``j`` marks that request ``j`` is the latest access to its key; the
    distance of a re-access is the number of marks after the previous access.
    """
    k = np.asarray(keys).tolist()
    n = len(k)
    tree = [0] * (n + 1)
    last: dict[int, int] = {}
    out = [COLD] * n
    total = 0
    for t in range(n):
        key = k[t]
        p = last.get(key)
        if p is not None:
            s = 0  # prefix sum of marks at positions <= p (1-based p+1)
            i = p + 1
            while i > 0:
                s += tree[i]
                i -= i & -i
            out[t] = total - s
            i = p + 1
            while i <= n:
                tree[i] -= 1
                i += i & -i
            total -= 1
        i = t + 1
        while i <= n:
            tree[i] += 1
            i += i & -i
        total += 1
        last[key] = t
    return np.array(out, dtype=np.int64)


def _curve_from_object_distances(
    d: np.ndarray, n_counted: float, first_bucket_adjust: float = 0.0, scale: float = 1.0
) -> MissRatioCurve:
    warm = d[d >= 0]
    if scale != 1.0:
        warm = np.floor(warm / scale).astype(np.int64)
    hist = np.bincount(warm).astype(np.float64) if len(warm) else np.zeros(1)
    hist[0] += first_bucket_adjust
    hits = np.cumsum(hist)  # hits at size c = sum_{d < c}: index c-1
    sizes = np.arange(1, len(hist) + 1, dtype=np.int64)
    ratios = np.clip(hits / n_counted, 0.0, 1.0) if n_counted > 0 else np.zeros(len(hist))
    return MissRatioCurve(sizes, ratios, "objects")


def lru_mrc(keys: np.ndarray, *, start: int = 0) -> MissRatioCurve:
    """Exact LRU hit ratio at every size 1..(distinct keys) in objects.

    ``start`` counts only requests from that index on (the cache state still comes from the
    whole trace), which measures a warm cache.
    """
    d = stack_distances(keys)[start:]
    return _curve_from_object_distances(d, float(len(d)))


def lru_byte_mrc(
    keys: np.ndarray, sizes: np.ndarray, cache_sizes_bytes: np.ndarray | None = None, *, start: int = 0
) -> MissRatioCurve:
    """Exact byte-capacity LRU hit ratio at ``cache_sizes_bytes`` (default: every distinct
    distance, i.e. every size where the curve steps)."""
    d = byte_stack_distances(keys, sizes)[start:]
    warm = np.sort(d[d >= 0])
    if cache_sizes_bytes is None:
        cache_sizes_bytes = np.unique(warm)
    caps = np.asarray(cache_sizes_bytes, dtype=np.int64)
    hits = np.searchsorted(warm, caps, side="right")
    n = len(d)
    return MissRatioCurve(caps, hits / n if n else np.zeros(len(caps)), "bytes")


def _mix64(x: np.ndarray, seed: int) -> np.ndarray:
    """splitmix64's finaliser: a well-mixed 64-bit hash of integer keys (vectorised)."""
    z = x.astype(np.uint64) ^ np.uint64((seed * 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF)
    z = z + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def shards_sample_mask(keys: np.ndarray, rate: float, *, seed: int = 0, modulus: int = 1 << 24) -> np.ndarray:
    """SHARDS spatial filter: True where ``hash(key) mod P < T`` with ``T = round(rate * P)``.
    Every request to a sampled key is kept, so reuse is preserved within the sample."""
    if not 0.0 < rate <= 1.0:
        raise ValueError("rate must be in (0, 1]")
    threshold = np.uint64(round(rate * modulus))
    return (_mix64(np.asarray(keys), seed) % np.uint64(modulus)) < threshold


def shards_mrc(
    keys: np.ndarray, rate: float, *, seed: int = 0, adjust: bool = True, start: int = 0
) -> MissRatioCurve:
    """Fixed-rate SHARDS estimate of the object-count LRU MRC.

    Distances on the sampled sub-trace are divided by ``rate``; with ``adjust``
    (SHARDS-adj) the first bucket gets ``N*rate - N_s`` and the curve is normalised by the
    expected sample count ``N*rate``.  ``start`` as in :func:`lru_mrc`.
    """
    keys = np.asarray(keys)
    mask = shards_sample_mask(keys, rate, seed=seed)
    d = stack_distances(keys[mask])
    counted = mask.copy()
    counted[:start] = False
    d = d[counted[mask]]
    n_expected = (len(keys) - start) * rate
    n_sampled = float(len(d))
    if adjust:
        return _curve_from_object_distances(d, n_expected, n_expected - n_sampled, rate)
    return _curve_from_object_distances(d, n_sampled, 0.0, rate)


#: Our policy names -> libCacheSim cache classes (libcachesim 0.3.5 Python bindings).
LIBCACHESIM_POLICIES: dict[str, str] = {
    "lru": "LRU",
    "fifo": "FIFO",
    "s3fifo": "S3FIFO",
    "sieve": "Sieve",
    "clock": "Clock",
    "arc": "ARC",
    "lfu": "LFU",
    "random": "Random",
    "twoq": "TwoQ",
    "wtinylfu": "WTinyLFU",
}


def libcachesim_mrc(
    trace: Trace | str | os.PathLike[str],
    policy: str,
    cache_sizes: np.ndarray | list[int],
    *,
    ignore_obj_size: bool = False,
) -> MissRatioCurve:
    """Hit ratio of a libCacheSim policy at each size, one C simulation per size.

    ``trace`` is an oracleGeneral file or a :class:`~simlab.workload.traces.Trace` (written to
    a temporary oracleGeneral file).  Sizes are bytes, or objects with ``ignore_obj_size``
    (libCacheSim then treats every object as size 1).  libCacheSim counts payload bytes
    only: no per-key overhead.
    """
    import libcachesim as lcs

    cls = getattr(lcs, LIBCACHESIM_POLICIES.get(policy, policy), None)
    if cls is None:
        raise ValueError(f"libcachesim has no policy {policy!r}; known: {', '.join(LIBCACHESIM_POLICIES)}")
    tmp = None
    if isinstance(trace, str | os.PathLike):
        path = os.fspath(trace)
    else:
        from simlab.workload.traces import write_oracle_general

        fd, tmp = tempfile.mkstemp(suffix=".oracleGeneral")
        os.close(fd)
        write_oracle_general(tmp, trace)
        path = tmp
    try:
        params = lcs.ReaderInitParam(ignore_obj_size=ignore_obj_size)
        reader = lcs.TraceReader(path, lcs.TraceType.ORACLE_GENERAL_TRACE, params)
        sizes = np.asarray(cache_sizes, dtype=np.int64)
        ratios = np.array([1.0 - cls(int(c)).process_trace(reader)[0] for c in sizes])
    finally:
        if tmp is not None:
            os.unlink(tmp)
    return MissRatioCurve(sizes, ratios, "objects" if ignore_obj_size else "bytes")
