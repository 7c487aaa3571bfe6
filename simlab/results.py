"""Results of a run as pandas DataFrames (units in column names) that render in Jupyter.

`RunResult.summary` has one row for the whole service, one per source and one per flow;
`errors` counts outcomes by cause (rate-limit rejections apart from errors); `resources` has,
per contended resource, two different figures that are easy to confuse:

* `offered_load` = lambda E[S] / c, the work arriving per unit of capacity (arrival rate times
  mean service time over the number of servers); above 1 the resource cannot keep up;
* `busy_fraction` (also `utilisation`) = measured busy time of the servers inside the window
  over window x c; it never exceeds 1, so an overloaded resource shows 1.0 here and its
  excess only in `offered_load`, the queue and the waits;

plus time-average number in system and in queue (`mean_in_system`, `mean_queue_len`: areas
under N(t), not lambda W, so `little` is a real check of Little's law), wait probability and
waits. `overload` says which resource is over capacity and by how much, and what the model
leaves unbounded. `timeseries` is per minute (for heatmaps and burn rates); `pubsub` has
delivery percentiles per subscriber. With several independent replications, `replications`
has the per-replication service figures, `ci` their 95 % Student-t intervals, and `intervals`
an interval for every figure of every group and resource.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from simlab.metrics import confidence_interval
from simlab.model.minutes import MinuteEvents
from simlab.model.plan import Outcome
from simlab.model.record import GroupStats, Recorder

__all__ = [
    "GROUP_FIGURES",
    "RESOURCE_FIGURES",
    "RunResult",
    "TARGET_CI_FIGURES",
    "build_result",
    "intervals_doc",
    "intervals_table",
    "widest_relative_ci",
]

_ERR = [Outcome.TIMEOUT, Outcome.CONNECTION, Outcome.UPSTREAM, Outcome.SHED, Outcome.POOL_TIMEOUT,
        Outcome.MAXCLIENTS]


def _row(name: str, kind: str, g: GroupStats, window_s: float) -> dict[str, Any]:
    n = max(g.requests, 1)
    errors = int(sum(g.outcomes[c] for c in _ERR))
    out: dict[str, Any] = {"group": name, "kind": kind, "requests": g.requests}
    out["throughput_rps"] = g.requests / window_s if window_s > 0 else math.nan
    out.update(g.hist.summary())
    out["hit_ratio"] = g.hits / g.reads if g.reads else math.nan
    read_bytes = getattr(g, "read_bytes", 0)
    out["byte_hit_ratio"] = getattr(g, "hit_bytes", 0) / read_bytes if read_bytes else math.nan
    out["error_rate"] = errors / n
    out["timeout_rate"] = g.outcomes[Outcome.TIMEOUT] / n
    out["rejected_rate"] = g.outcomes[Outcome.REJECTED] / n
    out["shed_rate"] = g.outcomes[Outcome.SHED] / n
    out["retries"] = g.retries
    return out


@dataclass
class RunResult:
    scenario: str
    seed: int
    duration_s: float
    model: str
    summary: pd.DataFrame
    errors: pd.DataFrame
    resources: pd.DataFrame
    timeseries: pd.DataFrame
    pubsub: pd.DataFrame
    little: pd.DataFrame
    replications: pd.DataFrame | None = None
    ci: pd.DataFrame | None = None
    wall_s: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)
    events: MinuteEvents | None = None  # per-minute counts by group/outcome/latency, for SLIs
    intervals: pd.DataFrame | None = None  # kind, group, metric, mean, half_width_95, low, high
    overload: dict[str, Any] = field(default_factory=dict)  # over_capacity, saturated, unbounded

    @property
    def overall(self) -> dict[str, Any]:
        return self.summary.iloc[0].to_dict()

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of `simlab run --json`."""
        keys = ["requests", "throughput_rps", "p50_ms", "p90_ms", "p99_ms", "p999_ms", "max_ms",
                "mean_ms", "hit_ratio", "byte_hit_ratio", "error_rate", "timeout_rate", "rejected_rate",
                "shed_rate"]

        def clean(d: dict[str, Any]) -> dict[str, Any]:
            out = {}
            for k in keys:
                v = d[k]
                v = v.item() if hasattr(v, "item") else v
                out[k] = None if isinstance(v, float) and math.isnan(v) else v
            return out

        rows = self.summary.to_dict("records")
        doc: dict[str, Any] = {
            "scenario": self.scenario,
            "seed": self.seed,
            "duration_s": self.duration_s,
            "model": self.model,
            **clean(rows[0]),
            "sources": {r["group"]: clean(r) for r in rows if r["kind"] == "source"},
            "flows": {r["group"]: clean(r) for r in rows if r["kind"] == "flow"},
            "errors_by_cause": {r["cause"]: int(r["requests"]) for r in self.errors.to_dict("records")},
            "resources": self.resources.replace({np.nan: None}).to_dict("records"),
            "pubsub_delivery": self.pubsub.replace({np.nan: None}).to_dict("records"),
        }
        if self.ci is not None:
            doc["ci95"] = self.ci.replace({np.nan: None}).to_dict("records")
        if self.intervals is not None:
            doc["intervals"] = intervals_doc(self.intervals)
            doc["replications_run"] = int(self.extra.get("replications", 0))
        if "target_ci" in self.extra:
            doc["target_ci"] = self.extra["target_ci"]
        if "cluster_redirections" in self.extra:
            doc["cluster_redirections"] = self.extra["cluster_redirections"]
        if "replica_reads" in self.extra:
            doc["replica_reads"] = self.extra["replica_reads"]
        doc["little"] = self.little.replace({np.nan: None}).to_dict("records")
        doc["overload"] = self.overload
        return doc

    def _repr_html_(self) -> str:
        parts = [f"<h4>{self.scenario} (seed {self.seed}, {self.duration_s:g} s, {self.model})</h4>",
                 self.summary.to_html(index=False, float_format=lambda x: f"{x:.4g}"),
                 self.errors.to_html(index=False),
                 self.resources.to_html(index=False, float_format=lambda x: f"{x:.4g}")]
        if self.ci is not None:
            parts.append(self.ci.to_html(index=False, float_format=lambda x: f"{x:.4g}"))
        return "\n".join(parts)


#: Figures of a summary row that get an interval (every number a row reports).
GROUP_FIGURES = ("requests", "throughput_rps", "p50_ms", "p90_ms", "p99_ms", "p999_ms", "max_ms", "mean_ms",
                 "hit_ratio", "byte_hit_ratio", "error_rate", "timeout_rate", "rejected_rate", "shed_rate",
                 "retries")
#: Figures of a resource row that get an interval.
RESOURCE_FIGURES = ("jobs", "shed", "shed_fraction", "throughput_rps", "offered_load", "busy_fraction", "utilisation",
                    "mean_busy_servers",
                    "mean_in_system", "mean_queue_len", "wait_probability", "mean_wait_ms", "p99_wait_ms",
                    "mean_sojourn_ms", "mean_service_ms", "refused", "open_connections")
#: An offered load at or above this is over capacity (queues grow without bound).
OVER_CAPACITY = 1.0
#: A busy fraction above this while most jobs wait or some are shed: saturated.
SATURATED_BUSY = 0.95


def _resource_rows(rec: Recorder) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Resource rows and Little's-law rows of one recorder (pooled or one replication)."""
    res_rows = []
    little_rows = []
    w = rec.window_s
    pools = getattr(rec, "pools", [])
    for r, st in zip(list(rec.resources) + pools, list(rec.res) + getattr(rec, "pool_res", []), strict=True):
        if st.jobs == 0 and st.shed == 0 and st.refused == 0:
            continue
        servers = r.servers if r.servers > 0 else math.nan
        lam = st.jobs / w
        jobs = max(st.jobs, 1)
        W = st.sojourn_s / jobs
        Wq = max(0.0, st.wait_s / jobs)
        busy = st.busy_in_s / w / servers if servers == servers else math.nan
        res_rows.append({
            "resource": r.name, "kind": r.kind, "servers": r.servers, "jobs": st.jobs, "throughput_rps": lam,
            "offered_load": (st.busy_s + st.shed_work_s) / w / servers if servers == servers else math.nan,
            "shed": st.shed, "shed_fraction": st.shed / (st.jobs + st.shed),
            "busy_fraction": busy,
            "utilisation": busy,
            "mean_busy_servers": st.busy_in_s / w,
            "mean_in_system": st.area_s / w, "mean_queue_len": st.queue_area_s / w,
            "wait_probability": st.waited / jobs,
            "mean_wait_ms": Wq * 1e3, "p99_wait_ms": st.wait_hist.percentile_ms(99.0),
            "mean_sojourn_ms": W * 1e3,
            "mean_service_ms": st.busy_s / jobs * 1e3,
            "refused": st.refused,
        })
        if r.kind == "client_pool":
            res_rows[-1]["open_connections"] = st.peak_open
            res_rows[-1]["connects"] = st.connects
        little_rows.append({
            "resource": r.name, "L_time_avg": st.area_s / w, "lambda_W": lam * W,
            "Lq_time_avg": st.queue_area_s / w, "lambda_Wq": lam * Wq,
            "rel_diff": abs(st.area_s / w - lam * W) / (lam * W) if lam * W > 0 else math.nan,
        })
    return res_rows, little_rows


def _overload(res: pd.DataFrame, pooled: Recorder) -> dict[str, Any]:
    """Which resource is over capacity (offered load >= 1) or saturated, by how much, and
    what the model leaves unbounded (so a reader knows when waits are an artefact of it)."""
    over, saturated, notes = [], [], []
    for row in res.to_dict("records"):
        off, busy = row["offered_load"], row["busy_fraction"]
        if off == off and off >= OVER_CAPACITY:
            over.append({
                "resource": row["resource"], "offered_load": off, "over_by": off - 1.0,
                "busy_fraction": busy, "mean_queue_len": row["mean_queue_len"], "mean_wait_ms": row["mean_wait_ms"],
                "message": f"{row['resource']} is over capacity: offered load {off:.2f} on {row['servers']} "
                f"server(s), {100 * (off - 1):.0f} % more work than it can do; it was busy "
                f"{100 * busy:.1f} % of the time, {row['mean_queue_len']:.1f} waiting on average, "
                f"mean wait {row['mean_wait_ms']:.1f} ms"
                + (f"; {row['shed']} requests ({100 * row['shed_fraction']:.1f} %) shed by its bound"
                   if row["shed"] else ""),
            })
        elif busy == busy and busy >= SATURATED_BUSY and (row["wait_probability"] > 0.5 or row["shed"] > 0):
            saturated.append({
                "resource": row["resource"], "offered_load": off, "busy_fraction": busy,
                "message": f"{row['resource']} is saturated: busy {100 * busy:.1f} %, mean wait "
                f"{row['mean_wait_ms']:.1f} ms (offered load {off:.2f})"
                + (f"; {row['shed']} requests ({100 * row['shed_fraction']:.1f} %) shed by its bound"
                   if row["shed"] else ""),
            })
    for r in list(pooled.resources) + getattr(pooled, "pools", []):
        if r.servers == 0:
            continue  # unlimited servers: a pure delay, nothing queues
        if not getattr(r, "bounded", False):
            notes.append(f"{r.name}: queue unbounded (no limit on waiting requests; waits grow with the run "
                         "when over capacity)")
    return {"over_capacity": over, "saturated": saturated, "unbounded": notes}


def _group_figures(rec: Recorder) -> dict[tuple[str, str], dict[str, Any]]:
    """Figures of every group of one replication: (kind, group) -> row."""
    out = {}
    for row in _summary(rec).to_dict("records"):
        out[(row["kind"], row["group"])] = row
    for row in _resource_rows(rec)[0]:
        out[("resource", row["resource"])] = row
    for c in range(1, len(Outcome.NAMES)):
        out[("cause", Outcome.NAMES[c])] = {"requests": int(rec.overall.outcomes[c])}
    for flow, hs in rec.pubsub.items():
        for j, hist in enumerate(hs):
            out[("pubsub", f"{flow}#{j}")] = {"deliveries": hist.count, **hist.summary()}
    return out


_FIGURES_OF = {"resource": RESOURCE_FIGURES, "cause": ("requests",),
               "pubsub": ("deliveries", "p50_ms", "p90_ms", "p99_ms", "p999_ms", "max_ms", "mean_ms")}


def intervals_table(per_rep: list[dict[tuple[str, str], dict[str, Any]]]) -> pd.DataFrame:
    """A 95 % Student-t interval over replications for every figure of every group."""
    rows = []
    keys = list(per_rep[0])
    for key in keys:
        figures = _FIGURES_OF.get(key[0], GROUP_FIGURES)
        for metric in figures:
            vals = np.array([float(r[key][metric]) if key in r and r[key].get(metric) is not None else math.nan
                             for r in per_rep])
            vals = vals[~np.isnan(vals)]
            if len(vals) == 0:
                continue
            m, h = confidence_interval(vals)
            rows.append({"kind": key[0], "group": key[1], "metric": metric, "mean": m, "half_width_95": h,
                         "low": m - h, "high": m + h,
                         "rel_half_width": abs(h / m) if m else (0.0 if h == 0 else math.inf)})
    return pd.DataFrame(rows)


def intervals_doc(iv: pd.DataFrame) -> dict[str, Any]:
    """The intervals as JSON: {service: {metric: {...}}, sources|flows|resources|errors_by_cause|
    pubsub_delivery: {group: {metric: {mean, half_width_95, low, high}}}}; a pub/sub subscriber
    is `flow#index`."""
    section = {"service": "service", "source": "sources", "flow": "flows", "resource": "resources",
               "cause": "errors_by_cause", "pubsub": "pubsub_delivery"}
    doc: dict[str, Any] = {v: {} for v in section.values()}
    for r in iv.replace({np.nan: None}).to_dict("records"):
        entry = {"mean": r["mean"], "half_width_95": r["half_width_95"], "low": r["low"], "high": r["high"]}
        sec = doc[section[r["kind"]]]
        if r["kind"] == "service":
            sec[r["metric"]] = entry
        else:
            sec.setdefault(r["group"], {})[r["metric"]] = entry
    return doc


#: Figures `--target-ci` watches by default: the service's latency, hit ratio and throughput.
#: Rare-event rates (an error rate of 0.02 %) need orders of magnitude more requests for a
#: small relative interval; name them in `metrics` to include them.
TARGET_CI_FIGURES = ("p50_ms", "p90_ms", "p99_ms", "mean_ms", "hit_ratio", "throughput_rps")


def widest_relative_ci(per_rep: list[dict[tuple[str, str], dict[str, Any]]], kinds: tuple[str, ...] = ("service",),
                       metrics: tuple[str, ...] = TARGET_CI_FIGURES) -> tuple[float, str]:
    """(widest relative half-width, which figure) over `metrics` of the groups of `kinds`
    whose mean is not zero (a rate of exactly 0 in every replication has no relative width)."""
    if len(per_rep) < 2:
        return math.inf, "fewer than 2 replications"
    iv = intervals_table([{k: v for k, v in r.items() if k[0] in kinds} for r in per_rep])
    iv = iv[(iv["mean"] != 0) & iv["metric"].isin(metrics)]
    if iv.empty:
        return 0.0, ""
    i = int(np.argmax(iv["rel_half_width"].to_numpy()))
    row = iv.iloc[i]
    return float(row["rel_half_width"]), f"{row['group']}.{row['metric']}"


def _summary(rec: Recorder) -> pd.DataFrame:
    rows = [_row("all", "service", rec.overall, rec.window_s)]
    rows += [_row(n, "source", g, rec.window_s) for n, g in zip(rec.source_names, rec.by_source, strict=True)]
    rows += [_row(n, "flow", g, rec.window_s) for n, g in zip(rec.flow_names, rec.by_flow, strict=True) if g.requests]
    return pd.DataFrame(rows)


def build_result(recs: list[Recorder], *, scenario: str, seed: int, duration_s: float, model: str) -> RunResult:
    """Pool the replications' recorders into one result (plus a CI table if several)."""
    reps = None
    ci = None
    intervals = None
    if len(recs) > 1:
        # per-replication figures first: pooling below merges into recs[0]
        reps = pd.DataFrame([_row(f"rep{i}", "replication", r.overall, r.window_s) for i, r in enumerate(recs)])
        intervals = intervals_table([_group_figures(r) for r in recs])
        svc = intervals[intervals["kind"] == "service"]
        ci = svc[["metric", "mean", "half_width_95"]].reset_index(drop=True)
    pooled = recs[0]
    for other in recs[1:]:
        pooled.overall.merge(other.overall)
        for a, b in zip(pooled.by_source, other.by_source, strict=True):
            a.merge(b)
        for a, b in zip(pooled.by_flow, other.by_flow, strict=True):
            a.merge(b)
        for ra, rb in zip(pooled.res, other.res, strict=True):
            ra.merge(rb)
        for ra, rb in zip(pooled.pool_res, other.pool_res, strict=True):
            ra.merge(rb)
        for flow, hists in other.pubsub.items():
            mine = pooled.pubsub.setdefault(flow, [type(h)(h.unit_ns) for h in hists])
            for ha, hb in zip(mine, hists, strict=True):
                ha.merge(hb)
        pooled.minutes += other.minutes
        pooled.events.merge(other.events)
        pooled.window_s += other.window_s
    summary = _summary(pooled)
    errors = pd.DataFrame(
        [{"cause": Outcome.NAMES[c], "requests": int(pooled.overall.outcomes[c])} for c in range(1, len(Outcome.NAMES))]
    )
    res_rows, little_rows = _resource_rows(pooled)
    ts = pd.DataFrame(pooled.minutes, columns=["minute", "requests", "errors", "reads", "hits", "p50_ms", "p99_ms"])
    if len(recs) > 1 and len(ts):
        ts = ts.groupby("minute", as_index=False).agg(
            {"requests": "sum", "errors": "sum", "reads": "sum", "hits": "sum", "p50_ms": "mean", "p99_ms": "mean"}
        )
    pub_rows = []
    for flow, hs in pooled.pubsub.items():
        for j, hist in enumerate(hs):
            pub_rows.append({"flow": flow, "subscriber": j, "deliveries": hist.count, **hist.summary()})
    resources = pd.DataFrame(res_rows)
    result = RunResult(
        scenario=scenario, seed=seed, duration_s=duration_s, model=model, summary=summary, errors=errors,
        events=pooled.events,
        resources=resources, timeseries=ts, pubsub=pd.DataFrame(pub_rows),
        little=pd.DataFrame(little_rows), replications=reps, ci=ci, intervals=intervals,
    )
    result.overload = _overload(resources, pooled) if len(resources) else {"over_capacity": [], "saturated": [],
                                                                           "unbounded": []}
    result.extra["replications"] = len(recs)
    cdf_ms, cdf_frac = pooled.overall.hist.cdf()
    result.extra["latency_cdf"] = pd.DataFrame({"latency_ms": cdf_ms, "cdf": cdf_frac})  # the report's CDF
    return result
