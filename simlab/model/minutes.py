"""Per-minute request counts by group, outcome and latency bucket: what SLIs are made of.

Error budgets and burn-rate alerts (`simlab.slo`) need, for every minute and for the whole
service, each source and each flow: how many requests ended in each outcome (ok, timeout,
connection refused, upstream error, rejected by a rate limiter) and how many took longer than
each latency threshold. Counting into a fixed set of thresholds (a ladder covering the usual
SLO values, plus the scenario's own) keeps this exact for those thresholds and cheap: one
`searchsorted` and three `bincount`s per chunk, O(requests).

Layout: `counts[minute, group, outcome, bucket]` where group 0 is the whole service, then the
sources, then the flows; bucket b holds requests with thresholds[b-1] < latency <= thresholds[b]
(bucket 0: at most the first threshold; the last bucket: over every threshold), the `le`
semantics of a Prometheus histogram.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from simlab.model.plan import Outcome

__all__ = ["THRESHOLD_LADDER_MS", "MinuteEvents"]

#: Latency thresholds always counted (ms); a scenario's SLO thresholds are added to these.
THRESHOLD_LADDER_MS = (1.0, 2.0, 5.0, 10.0, 20.0, 25.0, 50.0, 75.0, 100.0, 150.0, 200.0, 250.0,
                       300.0, 400.0, 500.0, 750.0, 1000.0, 2000.0, 5000.0, 10000.0)
N_OUTCOMES = len(Outcome.NAMES)  # simlab.model.plan.Outcome: ok, timeout, connection, upstream, rejected, shed


class MinuteEvents:
    """Mergeable per-minute counts (see module docstring); minutes are absolute run minutes."""

    def __init__(self, source_names: Sequence[str], flow_names: Sequence[str],
                 thresholds_ms: Sequence[float] = ()) -> None:
        self.groups: list[tuple[str, str]] = [("service", "all")]
        self.groups += [("source", s) for s in source_names]
        self.groups += [("flow", f) for f in flow_names]
        self.n_sources = len(source_names)
        self.thresholds_ms = np.array(sorted(set(THRESHOLD_LADDER_MS) | {float(t) for t in thresholds_ms}))
        self._by_minute: dict[int, np.ndarray] = {}

    @property
    def shape(self) -> tuple[int, int, int]:
        return len(self.groups), N_OUTCOMES, len(self.thresholds_ms) + 1

    def add(self, minute: np.ndarray, src: np.ndarray, flow: np.ndarray, outcome: np.ndarray,
            latency_ms: np.ndarray, weight: int = 1) -> None:
        """Count requests (one row each) into their minute, groups, outcome and bucket."""
        if len(minute) == 0:
            return
        n_groups, n_out, n_buckets = self.shape
        m0 = int(minute.min())
        span = int(minute.max()) - m0 + 1
        cell = outcome.astype(np.int64) * n_buckets + np.searchsorted(self.thresholds_ms, latency_ms, side="left")
        base = (minute.astype(np.int64) - m0) * n_groups
        per = n_out * n_buckets
        size = span * n_groups * per
        counts = np.bincount(base * per + cell, minlength=size)
        counts += np.bincount((base + 1 + src.astype(np.int64)) * per + cell, minlength=size)
        counts += np.bincount((base + 1 + self.n_sources + flow.astype(np.int64)) * per + cell, minlength=size)
        counts = counts.reshape(span, n_groups, n_out, n_buckets)
        if weight != 1:
            counts *= weight
        for i in range(span):
            if not counts[i].any():
                continue
            m = m0 + i
            have = self._by_minute.get(m)
            if have is None:
                self._by_minute[m] = counts[i].copy()
            else:
                have += counts[i]

    def merge(self, other: MinuteEvents) -> None:
        """Add another recorder's counts (a replication: same minutes add up)."""
        if other.groups != self.groups or not np.array_equal(other.thresholds_ms, self.thresholds_ms):
            raise ValueError("cannot merge minute events with different groups or thresholds")
        for m, c in other._by_minute.items():
            have = self._by_minute.get(m)
            if have is None:
                self._by_minute[m] = c.copy()
            else:
                have += c

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """(minutes [M], counts [M, groups, outcomes, buckets]) in minute order."""
        minutes = np.array(sorted(self._by_minute), dtype=np.int64)
        if len(minutes) == 0:
            return minutes, np.zeros((0, *self.shape), dtype=np.int64)
        return minutes, np.stack([self._by_minute[int(m)] for m in minutes])

    def group_index(self, kind: str, name: str) -> int:
        """Index of ('service', 'all'), ('source', name) or ('flow', name)."""
        try:
            return self.groups.index((kind, name))
        except ValueError:
            known = [n for k, n in self.groups if k == kind]
            raise KeyError(f"no {kind} {name!r} in this run; known: {known}") from None
