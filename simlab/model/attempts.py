"""Attempts: the plan's rows plus the retries a solver spawns, and the rules both solvers share.

A request's attempt fails with CONNECTION when one of its stages reaches an instance that is
restarting (the remaining stages do not run), or with TIMEOUT when the client's deadline
passes before the response (the server-side stages still run: the service does not know the
client gave up). A failed attempt with retries left is retried after a backoff that doubles
each time (exponential backoff): a CONNECTION failure detected at time t retries at
t + backoff, a TIMEOUT at max(deadline + backoff, time detected). The solvers apply these rules
in the same way so that their results agree.
"""

from __future__ import annotations

import bisect

import numpy as np

from simlab.model.plan import Outcome, Plan, Windows

__all__ = ["Attempts", "FaultLookup"]


class FaultLookup:
    """Restart and slow windows per resource, as sorted edge arrays for vectorised lookups."""

    def __init__(self, windows: Windows, n_resources: int) -> None:
        self.restart = [sorted(windows.restart[r]) if r < len(windows.restart) else [] for r in range(n_resources)]
        self.slow = [sorted(windows.slow[r]) if r < len(windows.slow) else [] for r in range(n_resources)]
        self.has_restart = any(self.restart)
        self.has_slow = any(self.slow)
        # after a failover, requests addressed to the failed primary go to the promoted replica
        self.redirect = sorted(getattr(windows, "redirect", []), key=lambda x: x[1])
        self.has_redirect = bool(self.redirect)
        # when each resource's connections break: a restart (or failure) begins, a failover
        # redirects it (clients reconnect to the promoted replica)
        self.breaks = [sorted([a for a, _b in self.restart[r]] + [t for fr, t, _to in self.redirect if fr == r])
                       for r in range(n_resources)]

    def epoch(self, r: int, t: float) -> int:
        """How many times connections to `r` broke up to t (a change: clients reconnect)."""
        return bisect.bisect_right(self.breaks[r], t)

    def route(self, r: int, t: float) -> int:
        """The resource that serves a job addressed to `r` at time t."""
        for fr, since, to in self.redirect:
            if r == fr and t >= since:
                r = to
        return r

    def route_many(self, r: np.ndarray, t: np.ndarray) -> np.ndarray:
        out = np.array(r, copy=True)
        for fr, since, to in self.redirect:
            out[(out == fr) & (t >= since)] = to
        return out

    def restarting(self, r: int, t: float) -> bool:
        return any(a <= t < b for a, b in self.restart[r])

    def factor(self, r: int, t: float) -> float:
        f = 1.0
        for a, b, x in self.slow[r]:
            if a <= t < b:
                f *= x
        return f

    def restarting_many(self, r: np.ndarray, t: np.ndarray) -> np.ndarray:
        out = np.zeros(len(t), dtype=bool)
        for res, wins in enumerate(self.restart):
            if not wins:
                continue
            m = r == res
            for a, b in wins:
                out[m] |= (t[m] >= a) & (t[m] < b)
        return out

    def factor_many(self, r: np.ndarray, t: np.ndarray) -> np.ndarray:
        out = np.ones(len(t))
        for res, wins in enumerate(self.slow):
            if not wins:
                continue
            m = r == res
            for a, b, x in wins:
                hit = m & (t >= a) & (t < b)
                out[hit] *= x
        return out


class Attempts:
    """Growable arrays: one row per attempt; `root` links a retry to its first attempt."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        n = plan.n
        self.t0 = plan.t0.copy()
        self.root = np.arange(n, dtype=np.int64)
        self.deadline = plan.deadline.copy()
        self.retries = plan.retries.copy()
        self.backoff = plan.backoff.copy()
        w = plan.res.shape[1]  # MAX_STAGES, or more with redirection hops
        self.arr = np.full((n, w), np.nan)
        self.dep = np.full((n, w), np.nan)
        self.svc_eff = np.zeros((n, w))
        self.fail = np.zeros(n, dtype=np.int8)
        self.detect = np.full(n, np.nan)
        self.spawned = np.zeros(n, dtype=bool)
        self.passes = 0
        self.res_eff: np.ndarray | None = None  # resource per stage when a failover redirected some
        # client pools (event solver only): per stage when it asked, got and gave back a
        # connection (NaN: no pool / not granted), and each pool's open connections at the end
        self.pool_ask: np.ndarray | None = None
        self.pool_got: np.ndarray | None = None
        self.pool_rel: np.ndarray | None = None
        self.pool_open: list[int] = []
        self.pool_setup: np.ndarray | None = None  # per stage: its connection was set up first

    @property
    def n(self) -> int:
        return len(self.t0)

    def retry_time(self, i: int) -> float:
        """When the client retries failed attempt i (see module docstring)."""
        if self.fail[i] in Outcome.REFUSED:
            return float(self.detect[i] + self.backoff[i])
        return float(max(self.deadline[i] + self.backoff[i], self.detect[i]))

    def wants_retry(self, i: int) -> bool:
        r = self.root[i]
        return bool(
            self.fail[i] != 0
            and self.retries[i] > 0
            and self.plan.outcome[r] == Outcome.OK
            and not self.spawned[i]
        )

    def spawn(self, parents: np.ndarray, times: np.ndarray) -> np.ndarray:
        """Append one retry per parent starting at `times`; returns the new row indices."""
        k = len(parents)
        first = self.n
        self.spawned[parents] = True
        timeout = self.deadline[parents] - self.t0[parents]
        self.t0 = np.concatenate([self.t0, times])
        self.root = np.concatenate([self.root, self.root[parents]])
        self.deadline = np.concatenate([self.deadline, times + timeout])
        self.retries = np.concatenate([self.retries, self.retries[parents] - 1])
        self.backoff = np.concatenate([self.backoff, self.backoff[parents] * 2])
        w = self.arr.shape[1]
        self.arr = np.concatenate([self.arr, np.full((k, w), np.nan)])
        self.dep = np.concatenate([self.dep, np.full((k, w), np.nan)])
        self.svc_eff = np.concatenate([self.svc_eff, np.zeros((k, w))])
        self.fail = np.concatenate([self.fail, np.zeros(k, np.int8)])
        self.detect = np.concatenate([self.detect, np.full(k, np.nan)])
        self.spawned = np.concatenate([self.spawned, np.zeros(k, bool)])
        return np.arange(first, first + k)
