"""Results of a run as pandas DataFrames (units in column names) that render in Jupyter.

`RunResult.summary` has one row for the whole service, one per source and one per flow;
`errors` counts outcomes by cause (rate-limit rejections apart from errors); `resources` has
utilisation, mean number in system (time average), waits; `timeseries` is per minute (for
heatmaps and burn rates); `pubsub` has delivery percentiles per subscriber; `replications`
and `ci` appear when the run had several independent replications.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from simlab.metrics import confidence_interval
from simlab.model.plan import Outcome
from simlab.model.record import GroupStats, Recorder

__all__ = ["RunResult", "build_result"]

_ERR = [Outcome.TIMEOUT, Outcome.CONNECTION, Outcome.UPSTREAM]


def _row(name: str, kind: str, g: GroupStats, window_s: float) -> dict[str, Any]:
    n = max(g.requests, 1)
    errors = int(sum(g.outcomes[c] for c in _ERR))
    out: dict[str, Any] = {"group": name, "kind": kind, "requests": g.requests}
    out["throughput_rps"] = g.requests / window_s if window_s > 0 else math.nan
    out.update(g.hist.summary())
    out["hit_ratio"] = g.hits / g.reads if g.reads else math.nan
    out["error_rate"] = errors / n
    out["timeout_rate"] = g.outcomes[Outcome.TIMEOUT] / n
    out["rejected_rate"] = g.outcomes[Outcome.REJECTED] / n
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

    @property
    def overall(self) -> dict[str, Any]:
        return self.summary.iloc[0].to_dict()

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of `simlab run --json`."""
        keys = ["requests", "throughput_rps", "p50_ms", "p90_ms", "p99_ms", "p999_ms", "max_ms",
                "mean_ms", "hit_ratio", "error_rate", "timeout_rate", "rejected_rate"]

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
        return doc

    def _repr_html_(self) -> str:
        parts = [f"<h4>{self.scenario} (seed {self.seed}, {self.duration_s:g} s, {self.model})</h4>",
                 self.summary.to_html(index=False, float_format=lambda x: f"{x:.4g}"),
                 self.errors.to_html(index=False),
                 self.resources.to_html(index=False, float_format=lambda x: f"{x:.4g}")]
        if self.ci is not None:
            parts.append(self.ci.to_html(index=False, float_format=lambda x: f"{x:.4g}"))
        return "\n".join(parts)


def _summary(rec: Recorder) -> pd.DataFrame:
    rows = [_row("all", "service", rec.overall, rec.window_s)]
    rows += [_row(n, "source", g, rec.window_s) for n, g in zip(rec.source_names, rec.by_source, strict=True)]
    rows += [_row(n, "flow", g, rec.window_s) for n, g in zip(rec.flow_names, rec.by_flow, strict=True) if g.requests]
    return pd.DataFrame(rows)


def build_result(recs: list[Recorder], *, scenario: str, seed: int, duration_s: float, model: str) -> RunResult:
    """Pool the replications' recorders into one result (plus a CI table if several)."""
    reps = None
    ci = None
    if len(recs) > 1:
        # per-replication figures first: pooling below merges into recs[0]
        reps = pd.DataFrame([_row(f"rep{i}", "replication", r.overall, r.window_s) for i, r in enumerate(recs)])
        ci_rows = []
        for col in ["p50_ms", "p90_ms", "p99_ms", "mean_ms", "hit_ratio", "error_rate", "throughput_rps"]:
            m, h = confidence_interval(reps[col].to_numpy(dtype=float))
            ci_rows.append({"metric": col, "mean": m, "half_width_95": h})
        ci = pd.DataFrame(ci_rows)
    pooled = recs[0]
    for other in recs[1:]:
        pooled.overall.merge(other.overall)
        for a, b in zip(pooled.by_source, other.by_source, strict=True):
            a.merge(b)
        for a, b in zip(pooled.by_flow, other.by_flow, strict=True):
            a.merge(b)
        for ra, rb in zip(pooled.res, other.res, strict=True):
            ra.merge(rb)
        for flow, hists in other.pubsub.items():
            mine = pooled.pubsub.setdefault(flow, [type(h)() for h in hists])
            for ha, hb in zip(mine, hists, strict=True):
                ha.merge(hb)
        pooled.minutes += other.minutes
        pooled.window_s += other.window_s
    summary = _summary(pooled)
    errors = pd.DataFrame(
        [{"cause": Outcome.NAMES[c], "requests": int(pooled.overall.outcomes[c])} for c in range(1, len(Outcome.NAMES))]
    )
    res_rows = []
    little_rows = []
    w = pooled.window_s
    for r, st in zip(pooled.resources, pooled.res, strict=True):
        if st.jobs == 0:
            continue
        servers = r.servers if r.servers > 0 else math.nan
        lam = st.jobs / w
        W = st.sojourn_s / st.jobs
        res_rows.append({
            "resource": r.name, "servers": r.servers, "jobs": st.jobs, "throughput_rps": lam,
            "utilisation": st.busy_s / w / servers if servers == servers else math.nan,
            "mean_in_system": st.area_s / w, "mean_queue_len": max(0.0, st.wait_s / w),
            "wait_probability": st.waited / st.jobs,
            "mean_wait_ms": max(0.0, st.wait_s / st.jobs * 1e3), "p99_wait_ms": st.wait_hist.percentile_ms(99.0),
            "mean_sojourn_ms": W * 1e3,
        })
        little_rows.append({"resource": r.name, "L_time_avg": st.area_s / w, "lambda_W": lam * W})
    ts = pd.DataFrame(pooled.minutes, columns=["minute", "requests", "errors", "reads", "hits", "p50_ms", "p99_ms"])
    if len(recs) > 1 and len(ts):
        ts = ts.groupby("minute", as_index=False).agg(
            {"requests": "sum", "errors": "sum", "reads": "sum", "hits": "sum", "p50_ms": "mean", "p99_ms": "mean"}
        )
    pub_rows = []
    for flow, hs in pooled.pubsub.items():
        for j, hist in enumerate(hs):
            pub_rows.append({"flow": flow, "subscriber": j, "deliveries": hist.count, **hist.summary()})
    return RunResult(
        scenario=scenario, seed=seed, duration_s=duration_s, model=model, summary=summary, errors=errors,
        resources=pd.DataFrame(res_rows), timeseries=ts, pubsub=pd.DataFrame(pub_rows),
        little=pd.DataFrame(little_rows), replications=reps, ci=ci,
    )
