"""Run a :class:`~simlab.load.workload.LoadPlan` against a target with several worker
processes, and say honestly what was measured.

Rows are dealt to ``workers`` processes round-robin (each sees a thinned copy of the same
arrival process); every worker runs its own asyncio loop with ``connections`` connections
(:mod:`simlab.load.worker`). All of them start at one instant of ``CLOCK_MONOTONIC``, which
is one clock for every process on the machine, so their intended send times line up.

The result merges the workers' latencies into one HdrHistogram (microseconds, 3 significant
digits; :class:`simlab.metrics.LatencyHistogram`), and it is marked **invalid**, with the
reason, when the achieved rate falls more than 1 % short of the intended one or when the
generator itself fell behind its schedule (P99 send lag over 1 ms): such a run measures the
generator, not the server.
"""

from __future__ import annotations

import math
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Pipe
from typing import Any

import numpy as np
import pandas as pd

from simlab.load.target import Target, new_prefix, remove_prefix
from simlab.load.worker import K_GET, KIND_NAMES, O_OK, O_REJECTED, O_UNFINISHED, OUTCOME_NAMES
from simlab.load.workload import LoadPlan
from simlab.metrics import PERCENTILE_KEYS, PERCENTILES, LatencyHistogram, sectioning_half_width

__all__ = ["LoadError", "LoadResult", "run_load", "MAX_SHORTFALL", "MAX_SEND_LAG_P99_MS"]

MAX_SHORTFALL = 0.01
MAX_SEND_LAG_P99_MS = 1.0


class LoadError(RuntimeError):
    """The load could not be run at all (cannot connect, a worker died)."""


@dataclass
class LoadResult:
    """What one live run measured. ``mode`` is "open loop" or "closed loop"."""

    mode: str
    target: str
    scenario: str
    seed: int
    workers: int
    connections: int
    duration_s: float
    warmup_s: float
    requests: int
    intended_rps: float
    achieved_rps: float
    histogram: LatencyHistogram = field(repr=False)
    percentiles_ms: dict[str, float]
    hit_ratio: float
    reads: int
    outcomes: dict[str, int]
    errors: dict[str, int]
    error_rate: float
    send_lag_p99_ms: float
    per_second: pd.DataFrame = field(repr=False)
    by_kind: pd.DataFrame = field(repr=False)
    invalid_reasons: list[str]
    wall_s: float
    rows: dict[str, np.ndarray] = field(repr=False, default_factory=dict)
    #: CPU time of the busiest worker over the run's span: near 1.0, the generator was the limit
    generator_cpu_busy: float = 0.0
    #: the workers' CPU time per request sent (independent of what else runs on the machine)
    generator_cpu_us_per_request: float = float("nan")
    #: the CPUs the workers were pinned to (empty: not pinned, the scheduler placed them)
    pinned_cpus: tuple[int, ...] = ()
    #: CPU seconds the workers spent polling with nothing ready (``spin``; left out of the CPU figures)
    generator_poll_idle_s: float = 0.0
    #: half-widths of 95 % intervals of ``percentiles_ms`` (same keys), by sectioning the window
    #: in ten stretches of time (simlab.metrics.sectioning_half_width): what this run's own
    #: sampling leaves uncertain, not how a rerun on a changed machine moves
    percentiles_ci95_ms: dict[str, float] = field(default_factory=dict)

    @property
    def valid(self) -> bool:
        return not self.invalid_reasons

    @property
    def shortfall(self) -> float:
        if self.intended_rps <= 0 or self.mode == "closed loop":
            return 0.0
        return max(0.0, 1.0 - self.achieved_rps / self.intended_rps)

    def summary(self) -> dict[str, Any]:
        """One flat record: the figures a table row needs."""
        return {
            "mode": self.mode, "target": self.target, "requests": self.requests,
            "intended_rps": self.intended_rps, "achieved_rps": self.achieved_rps,
            **self.percentiles_ms, **{f"{k}_ci95": v for k, v in self.percentiles_ci95_ms.items()},
            "hit_ratio": self.hit_ratio, "error_rate": self.error_rate,
            "send_lag_p99_ms": self.send_lag_p99_ms, "generator_cpu_busy": self.generator_cpu_busy,
            "generator_cpu_us_per_request": self.generator_cpu_us_per_request,
            "generator_cpus": ",".join(map(str, self.pinned_cpus)) or "not pinned",
            "valid": self.valid,
            "invalid_reasons": "; ".join(self.invalid_reasons),
        }

    def to_dict(self) -> dict[str, Any]:
        d = self.summary()
        d.update({
            "scenario": self.scenario, "seed": self.seed, "workers": self.workers,
            "connections_per_worker": self.connections, "duration_s": self.duration_s,
            "warmup_s": self.warmup_s, "reads": self.reads, "outcomes": self.outcomes,
            "errors": self.errors, "wall_s": self.wall_s,
            "per_second": self.per_second.replace({np.nan: None}).to_dict("records"),
            "by_kind": self.by_kind.replace({np.nan: None}).to_dict("records"),
        })
        return _clean(d)

    def _repr_html_(self) -> str:
        head = (f"<p><b>{self.mode}</b> against {self.target}: {self.requests} requests, intended "
                f"{self.intended_rps:.0f} rps, achieved {self.achieved_rps:.0f} rps "
                f"({'valid' if self.valid else 'INVALID: ' + '; '.join(self.invalid_reasons)})</p>")
        return head + pd.DataFrame([self.summary()]).to_html(index=False) + self.by_kind.to_html(index=False)


def _clean(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _clean(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_clean(v) for v in x]
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def _percentiles(lat_ms: np.ndarray) -> tuple[LatencyHistogram, dict[str, float]]:
    h = LatencyHistogram()
    h.record_ms(lat_ms)
    s = h.summary()
    return h, {k: float(v) for k, v in s.items()}


def run_load(
    plan: LoadPlan,
    target: Target,
    *,
    mode: str = "open",
    workers: int = 2,
    connections: int = 16,
    concurrency: int = 32,
    max_seconds: float | None = None,
    prefix: str | None = None,
    cleanup: bool = True,
    on_start: Callable[[float], None] | None = None,
    cpus: tuple[int, ...] | list[int] | None = None,
    spin: bool = False,
) -> LoadResult:
    """Send ``plan`` to ``target`` and measure.

    ``mode`` "open" (each row at its intended time, latency from that time) or "closed"
    (``concurrency`` clients back to back, latency from the send). The run stops when every
    row completed or after ``max_seconds`` (default: the plan's duration + the longest client
    timeout + 5 s). Keys go under ``prefix`` (a fresh one by default) and are removed
    afterwards unless ``cleanup`` is False. ``on_start`` is called with the run's start
    instant (``time.monotonic()`` clock) once the workers have it (fault injection times from it).
    ``cpus`` pins every worker to those CPUs (:mod:`simlab.load.affinity`); the result's
    ``pinned`` says which. ``spin`` makes each worker poll instead of sleeping in the kernel
    (no wake-up delay on sends or replies; a full CPU per worker): for pinned workers only.
    """
    if mode not in ("open", "closed"):
        raise ValueError(f"mode must be 'open' or 'closed', not {mode!r}")
    workers = max(1, int(workers))
    prefix = prefix or new_prefix()
    n = plan.n
    if max_seconds is None:
        max_seconds = plan.duration_s + max(plan.timeout_s, default=1.0) + 5.0
    base = {
        **target.worker_config(), "prefix": prefix, "connections": max(1, int(connections)),
        "mode": mode, "concurrency": max(1, int(concurrency) // workers), "max_seconds": float(max_seconds),
        "timeout_s": plan.timeout_s, "rate_limits": plan.rate_limits,
        "max_value_bytes": int(plan.rows["vsize"].max(initial=1)),
        "cpus": list(cpus) if cpus else None,
        "spin": bool(spin),
    }
    parts = [np.arange(w, n, workers) for w in range(workers)]
    procs: list[subprocess.Popen[bytes]] = []
    pipes: list[Any] = []
    t_wall = time.perf_counter()
    try:
        for w in range(workers):
            flows = [dict(f, subscribers_here=f["subscribers"] if w == 0 else 0) for f in plan.flows]
            ours, theirs = Pipe()
            # a plain child interpreter, not multiprocessing's spawn: that would re-import the
            # caller's __main__ (a script or notebook) in every worker
            p = subprocess.Popen([sys.executable, "-c", f"from simlab.load.worker import main; main({theirs.fileno()})"],
                                 pass_fds=(theirs.fileno(),))
            theirs.close()
            procs.append(p)
            pipes.append(ours)
            ours.send(({**base, "flows": flows}, plan.take(parts[w])))
        for pipe in pipes:
            if not pipe.poll(60):
                raise LoadError("a load worker did not start within 60 s")
            tag, fatal = pipe.recv()
            if fatal:
                raise LoadError(f"{target.label}: {fatal}")
        t0 = time.monotonic() + 0.2
        for pipe in pipes:
            pipe.send(t0)
        if on_start is not None:
            on_start(t0)
        results = []
        for pipe in pipes:
            if not pipe.poll(max_seconds + 60):
                raise LoadError("a load worker did not report within its time limit")
            tag, res = pipe.recv()
            if res.get("fatal"):
                raise LoadError(f"{target.label}: {res['fatal']}")
            results.append(res)
    finally:
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)
        for pipe in pipes:
            pipe.close()
        if cleanup:
            try:
                remove_prefix(target, prefix)
            except Exception:  # noqa: BLE001 - the server may be the thing that failed
                pass
    res = _assemble(plan, target, results, parts, mode=mode, workers=workers, connections=connections,
                    wall_s=time.perf_counter() - t_wall)
    res.pinned_cpus = tuple(sorted({c for r in results for c in r.get("cpus", [])}))
    res.generator_poll_idle_s = float(sum(r.get("poll_idle_s", 0.0) for r in results))
    return res


def _assemble(plan: LoadPlan, target: Target, results: list[dict[str, Any]], parts: list[np.ndarray], *,
              mode: str, workers: int, connections: int, wall_s: float) -> LoadResult:
    n = plan.n
    t = np.empty(n)
    sent = np.empty(n)
    done = np.empty(n)
    outcome = np.empty(n, dtype=np.int8)
    hit = np.empty(n, dtype=np.int8)
    errors: dict[str, int] = {}
    cpu = [float(r.get("cpu_s", 0.0)) for r in results]
    for idx, r in zip(parts, results, strict=True):
        t[idx] = r["t"]
        sent[idx] = r["sent"]
        done[idx] = r["done"]
        outcome[idx] = r["outcome"]
        hit[idx] = r["hit"]
        for k, v in r["errors"].items():
            errors[k] = errors.get(k, 0) + int(v)
    kind = plan.rows["kind"]
    closed = mode == "closed"
    started = outcome >= 0  # closed loop: rows never started (-1) are not part of the run
    finished = started & (outcome != O_UNFINISHED)
    last = float(np.nanmax(done)) if finished.any() else plan.duration_s
    if closed:
        span = max(last, 1e-9)
        intended = float("nan")
    else:
        span = max(plan.duration_s, last)
        intended = plan.intended_rps
    achieved = int(finished.sum()) / span if span > 0 else 0.0
    win = (t >= plan.warmup_s) & started
    answered = win & ((outcome == O_OK) | (outcome == O_REJECTED))
    lat_ms = (done[answered] - t[answered]) * 1e3
    hist, pct = _percentiles(lat_ms)
    in_time = lat_ms[np.argsort(t[answered], kind="stable")]
    pct_ci = {k: sectioning_half_width(in_time, q) for k, q in zip(PERCENTILE_KEYS, PERCENTILES, strict=True)}
    reads = win & (kind == K_GET) & (hit >= 0)
    hit_ratio = float(hit[reads].mean()) if reads.any() else float("nan")
    counted = win & (outcome != O_REJECTED)
    bad = counted & (outcome != O_OK)
    error_rate = float(bad.sum() / max(1, counted.sum()))
    lag = (sent - t)[np.isfinite(sent)] * 1e3
    lag_p99 = float(np.percentile(lag, 99)) if len(lag) else 0.0
    reasons: list[str] = []
    if not closed:
        short = 1.0 - achieved / intended if intended > 0 else 0.0
        if short > MAX_SHORTFALL:
            reasons.append(f"achieved {achieved:.0f} rps is {short * 100:.1f} % short of the intended {intended:.0f} rps")
        if lag_p99 > MAX_SEND_LAG_P99_MS:
            reasons.append(f"generator behind schedule: P99 send lag {lag_p99:.2f} ms > {MAX_SEND_LAG_P99_MS} ms")
    sec = np.floor(t).astype(np.int64)
    lat_all = np.where(finished & ((outcome == O_OK) | (outcome == O_REJECTED)), (done - t) * 1e3, np.nan)
    df = pd.DataFrame({"second": sec, "lat": lat_all, "ok": outcome == O_OK,
                       "err": (outcome != O_OK) & (outcome != O_REJECTED), "done_sec": np.floor(done)})[started]
    g = df.groupby("second")
    per_second = pd.DataFrame({
        "intended": g.size(),
        "completed": df.dropna(subset=["done_sec"]).groupby(df["done_sec"].dropna().astype(np.int64)).size(),
        "errors": g["err"].sum(),
        "p50_ms": g["lat"].quantile(0.5),
        "p99_ms": g["lat"].quantile(0.99),
    }).fillna({"completed": 0, "errors": 0}).rename_axis("second").reset_index()
    per_second = per_second[per_second["second"] >= 0]
    kinds = []
    for k in np.unique(kind):
        m = answered & (kind == k)
        if not m.any():
            continue
        _, pk = _percentiles((done[m] - t[m]) * 1e3)
        kinds.append({"kind": KIND_NAMES[int(k)], "requests": int(m.sum()), **pk})
    outcomes = {OUTCOME_NAMES[i]: int((outcome == i).sum()) for i in range(len(OUTCOME_NAMES))}
    n = int(started.sum())
    return LoadResult(
        mode="closed loop" if closed else "open loop", target=target.label, scenario=plan.scenario,
        seed=plan.seed, workers=workers, connections=connections, duration_s=plan.duration_s,
        warmup_s=plan.warmup_s, requests=n, intended_rps=intended, achieved_rps=achieved,
        histogram=hist, percentiles_ms=pct, hit_ratio=hit_ratio, reads=int(reads.sum()), outcomes=outcomes,
        errors=errors, error_rate=error_rate, send_lag_p99_ms=lag_p99, per_second=per_second,
        by_kind=pd.DataFrame(kinds), invalid_reasons=reasons, wall_s=wall_s,
        rows={"t": t, "sent": sent, "done": done, "outcome": outcome, "hit": hit},
        generator_cpu_busy=max(cpu) / max(1e-9, span) if cpu else 0.0,
        generator_cpu_us_per_request=sum(cpu) / max(1, int(np.isfinite(sent).sum())) * 1e6,
        percentiles_ci95_ms=pct_ci,
    )
