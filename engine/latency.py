"""Per-command latency histograms (INFO latencystats, LATENCY HISTOGRAM) and the latency
monitor (LATENCY LATEST / HISTORY / RESET), as Redis 7.0's server.c and latency.c keep them.

Redis records every call's duration into an HDR histogram per command (1 ns .. 1 s, two
significant digits), allocated on the command's first call.  Recording into
``hdrhistogram`` from Python costs microseconds per call, so the engine keeps an exact
histogram at the resolution it measures (integer microseconds from dispatch.call) as a
``dict`` microseconds -> count: one dict update per call.  Values above 1 ms keep their
top 8 bits (< 0.8 % error, finer than HDR's two digits), which bounds the dict to a few
hundred entries.  Percentiles are exact on that data; LATENCY HISTOGRAM regroups it into
Redis's power-of-two buckets (1024 ns * 2**k, reported in microseconds as
``hdr_iter_log`` reports them).

Each histogram also counts :data:`HISTOGRAM_BYTES` into ``used_memory`` (engine/memory.py):
Redis's HDR histogram for that range is 24 688 bytes, and it matters for eviction because a
server that ran GET and SET holds two of them.

The latency monitor records an event "command" (or "fast-command" for ``fast`` commands)
whenever a call takes at least ``latency-monitor-threshold`` ms: one sample per second
(the maximum), the last 160 kept, plus the all-time maximum.
"""

from __future__ import annotations

import time
from collections import deque
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.server import Server
    from engine.table import Command

__all__ = [
    "HISTOGRAM_BYTES",
    "LATENCY_TS_LEN",
    "LatencyState",
    "state",
    "percentile_us",
    "log_buckets",
    "EventSeries",
]

HISTOGRAM_BYTES = 24_688  # struct hdr_histogram (112) + 3072 int64 counts, measured on 7.0.15
LATENCY_TS_LEN = 160  # latency.h


class EventSeries:
    """latencyTimeSeries: 160 (unix s, ms) samples, the latest and the all-time max."""

    __slots__ = ("samples", "max_ms")

    def __init__(self) -> None:
        self.samples: deque[list[int]] = deque(maxlen=LATENCY_TS_LEN)
        self.max_ms = 0

    def add(self, ms: int) -> None:
        now = int(time.time())
        if self.samples and self.samples[-1][0] == now:
            if ms > self.samples[-1][1]:
                self.samples[-1][1] = ms
        else:
            self.samples.append([now, ms])
        if ms > self.max_ms:
            self.max_ms = ms


class LatencyState:
    """Per-command latency histograms (LATENCY HISTOGRAM, INFO latencystats) and the latency
    monitor's event series (LATENCY LATEST/HISTORY), with the two switches that govern them."""

    __slots__ = ("hists", "events", "threshold_ms", "tracking")

    def add_event(self, event: str, ms: int) -> None:
        """latencyAddSampleIfNeeded: record ``ms`` for ``event`` when it reaches the threshold."""
        if self.threshold_ms and ms >= self.threshold_ms:
            series = self.events.get(event)
            if series is None:
                series = self.events[event] = EventSeries()
            series.add(ms)

    def __init__(self) -> None:
        # Keyed by the command table row (hashed by identity: no name lookup per call).
        self.hists: dict[Command, dict[int, int]] = {}
        self.events: dict[str, EventSeries] = {}
        self.threshold_ms = 0
        self.tracking = False  # dispatch.call records each call's duration while true

    def configure(self, tracking: bool, threshold_ms: int) -> None:
        """``latency-tracking`` / ``latency-monitor-threshold`` changed (or the server starts)."""
        self.threshold_ms = threshold_ms
        self.tracking = tracking or threshold_ms > 0

    def record(self, cmd: Command, elapsed_us: int) -> None:
        """One call of ``cmd`` took ``elapsed_us``: the histogram (values above 1024 us keep
        their 8 top bits, as hdr_histogram's precision), and a ``command`` /
        ``fast-command`` event when the latency monitor's threshold is reached."""
        hists = self.hists
        h = hists.get(cmd)
        if h is None:
            h = hists[cmd] = {}
        if elapsed_us > 1024:
            shift = elapsed_us.bit_length() - 8
            elapsed_us = (elapsed_us >> shift) << shift
        h[elapsed_us] = h.get(elapsed_us, 0) + 1
        threshold = self.threshold_ms
        if threshold and elapsed_us // 1000 >= threshold:
            self.add_event("fast-command" if "fast" in cmd.flags else "command", elapsed_us // 1000)

    def named(self) -> dict[str, dict[int, int]]:
        """The histograms by Redis command name (``config|get`` for subcommands)."""
        return {cmd.fullname: h for cmd, h in list(self.hists.items())}

    def reset_histograms(self) -> None:
        self.hists.clear()


def state(server: Server) -> LatencyState:
    return server.latency


def percentile_us(hist: dict[int, int], pct: float) -> float:
    """The smallest recorded value v with at least pct % of the calls <= v (hdr_value_at_percentile)."""
    total = sum(hist.values())
    if not total:
        return 0.0
    want = max(1, int(total * pct / 100.0 + 0.5))
    seen = 0
    for v in sorted(hist):
        seen += hist[v]
        if seen >= want:
            return float(v)
    return float(max(hist))


def log_buckets(hist: dict[int, int]) -> dict[int, int]:
    """Cumulative counts per Redis LATENCY HISTOGRAM bucket (1, 2, 4, 8, 16, 32, 65, ... us)."""
    per: dict[int, int] = {}
    for us, n in hist.items():
        ns = us * 1000
        k = ((ns - 1) >> 10).bit_length() if ns > 0 else 0
        per[k] = per.get(k, 0) + n
    out: dict[int, int] = {}
    cum = 0
    for k in sorted(per):
        cum += per[k]
        out[(1024 << k) // 1000] = cum
    return out
