"""Vectorised engine: FIFO queues computed over whole arrays with numpy, no event loop.

A single FIFO server obeys Lindley's recursion W_n = max(0, W_{n-1} + S_{n-1} - T_n), which
looks sequential, but unrolls into prefix sums and a running extremum:

    D_n = max_{k <= n} (A_k + S_k + ... + S_n) = C_n + max_{k <= n} (A_k - C_{k-1}),
    C_n = S_0 + ... + S_n,

so departures are `cumsum` plus `maximum.accumulate` (equivalently W_n = U_n - min_{k<=n} U_k
with U the cumulative sum of S_{k-1} - T_k: `lindley_waits`). Independent instances (shards,
replicas) are independent queues. Resources with several servers (a backend pool) are done by
a loop over their (few) arrivals with a heap, exact for FIFO G/G/c. Unlimited ones are delays.

Stages feed each other (a miss's SET reaches the cache after the backend answered; a lock's
DEL after the hold), so arrival times of later stages depend on departures: we iterate to the
fixed point (start from no waiting, recompute all queues, repeat until no arrival time
changes). Causality makes this converge: each pass fixes at least one more link of every
dependency chain, and chains are short because waits are short. Retries append rows and
iterate again. The result equals the event-driven engine's (`simlab.model.events`).
"""

from __future__ import annotations

import heapq

import numpy as np

from simlab.model.attempts import Attempts, FaultLookup
from simlab.model.plan import MAX_STAGES, Outcome, Plan, Resource

__all__ = ["ConvergenceError", "lindley_waits", "run_vector", "single_server_departures"]

MAX_PASSES = 200


class ConvergenceError(RuntimeError):
    """The fixed point over stage arrivals did not settle (should not happen; report it)."""


def lindley_waits(interarrival_s: np.ndarray, service_s: np.ndarray) -> np.ndarray:
    """Waiting times of a FIFO single-server queue from gaps T_n (T_0 ignored) and services S_n.

    W_0 = 0, W_n = U_n - min_{0<=k<=n} U_k with U_n = sum_{j=1..n} (S_{j-1} - T_j).
    """
    x = np.empty(len(service_s))
    x[0] = 0.0
    np.subtract(service_s[:-1], interarrival_s[1:], out=x[1:])
    u = np.cumsum(x, out=x)
    m = np.minimum.accumulate(u)
    np.minimum(m, 0.0, out=m)
    return u - m


def single_server_departures(arrival_s: np.ndarray, service_s: np.ndarray, free_s: float = -np.inf) -> np.ndarray:
    """Departure times of a FIFO single server (arrivals sorted), initially busy until free_s."""
    cs = np.cumsum(service_s)
    m = np.maximum.accumulate(arrival_s - (cs - service_s))
    if free_s > -np.inf:
        np.maximum(m, free_s, out=m)
    return cs + m


def _multi_server(a: np.ndarray, s: np.ndarray, free: list[float]) -> np.ndarray:
    """FIFO with len(free) servers: each job takes the earliest free server (heap)."""
    out = np.empty(len(a))
    h = free
    al, sl = a.tolist(), s.tolist()
    for i in range(len(al)):
        f = h[0]
        t = al[i] if al[i] > f else f
        d = t + sl[i]
        heapq.heapreplace(h, d)
        out[i] = d
    return out


class QueueState:
    """Free times of every resource, carried from one chunk of a long run to the next."""

    def __init__(self, resources: list[Resource]) -> None:
        self.resources = resources
        self.free: list[object] = []
        for r in resources:
            if r.servers == 1:
                self.free.append(-np.inf)
            elif r.servers > 1:
                self.free.append([-np.inf] * r.servers)
            else:
                self.free.append(None)

    def copy(self) -> QueueState:
        other = QueueState.__new__(QueueState)
        other.resources = self.resources
        other.free = [list(f) if isinstance(f, list) else f for f in self.free]
        return other


def _departures(a: np.ndarray, s: np.ndarray, r: np.ndarray, state: QueueState) -> np.ndarray:
    """Departures of entries (a, s) at resources r; each resource a FIFO queue."""
    d = np.empty(len(a))
    o1 = np.argsort(a, kind="stable")
    o2 = np.argsort(r[o1], kind="stable")
    order = o1[o2]
    rs = r[order]
    bounds = np.searchsorted(rs, np.arange(len(state.resources) + 1))
    for ri, res in enumerate(state.resources):
        lo, hi = bounds[ri], bounds[ri + 1]
        if lo == hi:
            continue
        idx = order[lo:hi]
        free = state.free[ri]
        if res.servers == 1:
            dd = single_server_departures(a[idx], s[idx], free)  # type: ignore[arg-type]
            state.free[ri] = float(dd.max())
        elif res.servers > 1:
            heap = list(free)  # type: ignore[arg-type]
            dd = _multi_server(a[idx], s[idx], heap)
            state.free[ri] = heap
        else:
            dd = a[idx] + s[idx]
        d[idx] = dd
    return d


def _arrivals(att: Attempts, pr: np.ndarray, D: np.ndarray | None, faults: FaultLookup):
    """Stage arrivals given departures D (None: nobody waits); stops at a connection failure."""
    p = att.plan
    n = att.n
    nst, res, svc, dly = p.nst[pr], p.res[pr], p.svc[pr], p.dly[pr]
    A = np.full((n, MAX_STAGES), np.nan)
    served = np.zeros((n, MAX_STAGES), dtype=bool)
    conn_at = np.full(n, -1, dtype=np.int8)
    alive = np.ones(n, dtype=bool)
    prev_dep = None
    for k in range(MAX_STAGES):
        exists = (nst > k) & alive
        if k == 0:
            A[:, 0] = att.t0 + dly[:, 0]
        else:
            base = prev_dep if D is None else D[:, k - 1]
            A[exists, k] = base[exists] + dly[exists, k]
        if faults.has_restart:
            idx = np.flatnonzero(exists)
            c = faults.restarting_many(res[idx, k].astype(np.int64), A[idx, k])
            conn_at[idx[c]] = k
            alive[idx[c]] = False
            exists[idx[c]] = False
        served[:, k] = exists
        prev_dep = A[:, k] + svc[:, k]
    A[~served & ~(conn_at[:, None] == np.arange(MAX_STAGES)[None, :])] = np.nan
    return A, served, conn_at


def _solve(att: Attempts, faults: FaultLookup, state: QueueState) -> QueueState:
    """Fixed point of stage arrivals for all rows; fills arr/dep/svc_eff/fail/detect and
    returns the queue state after these rows (`state` itself is not changed)."""
    p = att.plan
    pr = att.root
    n = att.n
    res, svc, nst = p.res[pr], p.svc[pr], p.nst[pr]
    D: np.ndarray | None = None
    prevA: np.ndarray | None = None
    passes = 0
    while True:
        A, served, conn_at = _arrivals(att, pr, D, faults)
        if prevA is not None and np.array_equal(A, prevA, equal_nan=True):
            break
        passes += 1
        if passes > MAX_PASSES:
            raise ConvergenceError(f"stage arrivals did not settle in {MAX_PASSES} passes")
        rows, ks = np.nonzero(served)
        a = A[rows, ks]
        r = res[rows, ks].astype(np.int64)
        s = svc[rows, ks]
        if faults.has_slow:
            s = s * faults.factor_many(r, a)
        trial = state.copy()
        d = _departures(a, s, r, trial)
        D = np.full((n, MAX_STAGES), np.nan)
        D[rows, ks] = d
        prevA = A
    assert D is not None
    att.arr, att.dep = A, D
    att.svc_eff = np.zeros((n, MAX_STAGES))
    att.svc_eff[rows, ks] = s
    fail = np.zeros(n, dtype=np.int8)
    detect = np.full(n, np.nan)
    post = p.post[pr]
    for k in range(MAX_STAGES):
        open_ = fail == 0
        c = open_ & (conn_at == k)
        fail[c] = Outcome.CONNECTION
        detect[c] = A[c, k]
        dk = D[:, k]
        last = nst == k + 1
        with np.errstate(invalid="ignore"):
            late = open_ & ~c & ~np.isnan(dk) & ((dk > att.deadline) | (last & (dk + post > att.deadline)))
        fail[late] = Outcome.TIMEOUT
        detect[late] = A[late, k]
    att.fail, att.detect = fail, detect
    att.passes = passes
    return trial


def run_vector(plan: Plan, resources: list[Resource], faults: FaultLookup, state: QueueState | None = None) -> Attempts:
    """Run one plan through the vectorised engine; `state` carries queues across chunks."""
    state = state or QueueState(resources)
    att = Attempts(plan)
    while True:
        after = _solve(att, faults, state)
        want = np.flatnonzero(
            (att.fail != 0) & (att.retries > 0) & (plan.outcome[att.root] == Outcome.OK) & ~att.spawned
        )
        if len(want) == 0:
            break
        times = np.array([att.retry_time(int(i)) for i in want])
        att.spawn(want, times)
    state.free = after.free
    return att
