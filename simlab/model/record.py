"""Turns a solver's attempts into measurements, chunk by chunk (streaming, mergeable).

Per request (first attempt plus its retries): the outcome is the plan's (upstream error, rate
limit rejection) or else the last attempt's failure, if any; the latency runs from the first
attempt's start to the response of the last one (the client's deadline for a timeout, the
connection error coming back for a refused connection). Requests starting before the warm-up
ends are not counted; resources count jobs arriving in [warm-up, end).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from simlab.metrics import LatencyHistogram, littles_law
from simlab.model.attempts import Attempts
from simlab.model.minutes import MinuteEvents
from simlab.model.plan import Outcome, Plan, Resource

__all__ = ["GroupStats", "Recorder", "ResourceStats", "request_outcomes"]


def _overlap(a: np.ndarray, b: np.ndarray, lo: float, hi: float) -> float:
    """Total length of the intervals [a, b) inside [lo, hi)."""
    return float(np.maximum(np.minimum(b, hi) - np.maximum(a, lo), 0.0).sum())


def request_outcomes(plan: Plan, att: Attempts, lo_s: float, hi_s: float):
    """(rows kept, final attempt of each, outcome, latency_ms) of requests starting in [lo, hi)."""
    n = plan.n
    final = np.arange(n)
    final[att.root[n:]] = np.arange(n, att.n)
    keep = np.flatnonzero(plan.rec & (plan.t0 >= lo_s) & (plan.t0 < hi_s))
    f = final[keep]
    n_stages = plan.n_stages[keep]
    fail = att.fail[f]
    outcome = plan.outcome[keep].copy()
    ok = outcome == Outcome.OK
    outcome[ok] = fail[ok]
    resp = att.dep[f, n_stages - 1] + plan.post[keep]
    t_fail = fail == Outcome.TIMEOUT
    resp[t_fail] = att.deadline[f[t_fail]]
    c_fail = np.isin(fail, Outcome.REFUSED)
    resp[c_fail] = att.detect[f[c_fail]] + plan.post[keep[c_fail]]
    lat_ms = (resp - plan.t0[keep]) * 1e3
    return keep, final, outcome, lat_ms


@dataclass
class GroupStats:
    hist: LatencyHistogram = field(default_factory=LatencyHistogram)
    requests: int = 0
    outcomes: np.ndarray = field(default_factory=lambda: np.zeros(len(Outcome.NAMES), np.int64))
    reads: int = 0
    hits: int = 0
    retries: int = 0
    read_bytes: int = 0  # bytes of the keys read (byte hit ratio = hit_bytes / read_bytes)
    hit_bytes: int = 0

    def merge(self, o: GroupStats) -> None:
        self.hist.merge(o.hist)
        self.requests += o.requests
        self.outcomes += o.outcomes
        self.reads += o.reads
        self.hits += o.hits
        self.retries += o.retries
        self.read_bytes += o.read_bytes
        self.hit_bytes += o.hit_bytes


@dataclass
class ResourceStats:
    """One resource over the measured window.

    `busy_s` is the service demand of the jobs that arrived in the window (offered work, so
    busy_s / window / servers is the offered load lambda E[S] / c); `busy_in_s` is the time the
    servers actually spent serving inside the window (measured busy time). They differ when
    the resource cannot keep up: offered work arrives, the servers can only do window x c of it.
    `area_s` and `queue_area_s` integrate the number in system and the number waiting over the
    window (time averages, independent of lambda W, so Little's law is a real check)."""

    jobs: int = 0
    busy_s: float = 0.0
    sojourn_s: float = 0.0
    wait_s: float = 0.0
    waited: int = 0  # jobs that found every server busy
    area_s: float = 0.0  # integral of the number in system over the window
    wait_hist: LatencyHistogram = field(default_factory=LatencyHistogram)
    busy_in_s: float = 0.0  # integral of the number of busy servers over the window
    queue_area_s: float = 0.0  # integral of the number waiting over the window
    shed: int = 0  # jobs arriving in the window that a bound refused (not served)
    shed_work_s: float = 0.0  # the service they would have needed (offered work all the same)
    refused: int = 0  # client pools: connections the instance refused (maxclients)
    peak_open: int = 0  # client pools: connections open at the end of the run (never closed)
    connects: int = 0  # client pools: connections set up (opened, or again after a restart/failover)

    def merge(self, o: ResourceStats) -> None:
        self.jobs += o.jobs
        self.busy_s += o.busy_s
        self.sojourn_s += o.sojourn_s
        self.wait_s += o.wait_s
        self.waited += o.waited
        self.area_s += o.area_s
        self.wait_hist.merge(o.wait_hist)
        self.busy_in_s += o.busy_in_s
        self.queue_area_s += o.queue_area_s
        self.shed += o.shed
        self.shed_work_s += o.shed_work_s
        self.refused += o.refused
        self.peak_open = max(self.peak_open, o.peak_open)
        self.connects += o.connects


class Recorder:
    """Accumulates groups (overall, per source, per flow), resources and per-minute series."""

    def __init__(
        self, source_names: list[str], flow_names: list[str], resources: list[Resource], lock_res: int,
        thresholds_ms: Sequence[float] = (), unit_ns: int = 1000, pools: Sequence[Resource] = (),
    ) -> None:
        self.source_names = source_names
        self.unit_ns = unit_ns  # latency histogram resolution (run.latency_resolution_ns)
        # per-minute counts by group, outcome and latency bucket, for SLIs (simlab.slo)
        self.events = MinuteEvents(source_names, flow_names, thresholds_ms)
        self.flow_names = flow_names
        self.resources = resources
        self.lock_res = lock_res
        self.overall = GroupStats(hist=LatencyHistogram(unit_ns))
        self.by_source = [GroupStats(hist=LatencyHistogram(unit_ns)) for _ in source_names]
        self.by_flow = [GroupStats(hist=LatencyHistogram(unit_ns)) for _ in flow_names]
        self.res = [ResourceStats(wait_hist=LatencyHistogram(unit_ns)) for _ in resources]
        # client pools as resources: a connection is a server, holding it is the service
        self.pools = list(pools)
        self.pool_res = [ResourceStats(wait_hist=LatencyHistogram(unit_ns)) for _ in self.pools]
        self.minutes: list[tuple[int, int, int, int, int, float, float]] = []
        self.pubsub: dict[str, list[LatencyHistogram]] = {}
        self.window_s = 0.0
        self.little_worst = 0.0
        # cluster redirections of the requests (first attempts) during reshards: -ASK, -MOVED
        self.asks = 0
        self.moveds = 0
        # reads served by replicas and those of them that were stale (cache.replica_lag_ms)
        self.replica_reads = 0
        self.stale_reads = 0
        # end of the measured window: a job's time in a resource counts up to here, also the
        # part after its own chunk (None: clip at each chunk's end, for weighted windows)
        self.end_s: float | None = None

    def _add_pools(self, plan: Plan, att: Attempts, lo_s: float, hi_s: float, wt: int) -> None:
        """Pool figures of the commands that asked for a connection in [lo, hi): a granted
        command is a job whose wait runs from asking to getting one and whose service is the
        time it held it; one that timed out is shed; one whose new connection the instance
        refused is `refused`."""
        assert att.pool_ask is not None and att.pool_got is not None and att.pool_rel is not None
        assert plan.pool is not None
        rows, ks = np.nonzero(~np.isnan(att.pool_ask))
        pid = plan.pool[att.root[rows], ks]
        ask, got, rel = att.pool_ask[rows, ks], att.pool_got[rows, ks], att.pool_rel[rows, ks]
        inside = (ask >= lo_s) & (ask < hi_s)
        granted = ~np.isnan(got)
        end = hi_s if self.end_s is None else self.end_s
        for p, st in enumerate(self.pool_res):
            m = inside & (pid == p)
            if not m.any():
                continue
            g = m & granted
            a, gt, r = ask[g], got[g], rel[g]
            hold = r - gt
            w = gt - a
            st.jobs += int(g.sum()) * wt
            st.busy_s += float(hold.sum()) * wt
            st.sojourn_s += float((r - a).sum()) * wt
            st.wait_s += float(w.sum()) * wt
            st.waited += int((w > 1e-12).sum()) * wt
            st.wait_hist.record_ms(np.maximum(w, 0) * 1e3, wt)
            st.area_s += _overlap(a, r, lo_s, end) * wt
            st.busy_in_s += _overlap(gt, r, lo_s, end) * wt
            st.queue_area_s += _overlap(a, gt, lo_s, end) * wt
            lost = m & ~granted
            timed_out = lost & (rel > ask)
            st.shed += int(timed_out.sum()) * wt
            st.shed_work_s += float(timed_out.sum()) * (float(hold.mean()) if len(hold) else 0.0) * wt
            st.refused += int((lost & ~timed_out & ~np.isnan(rel)).sum()) * wt
            if att.pool_open:
                st.peak_open = max(st.peak_open, att.pool_open[p])
            if att.pool_setup is not None:
                st.connects += int(att.pool_setup[rows[g], ks[g]].sum()) * wt

    def add(
        self, plan: Plan, att: Attempts, lo_s: float, hi_s: float, weight: int = 1, shift_s: float = 0.0
    ) -> None:
        """Record one chunk whose requests start in [lo_s, hi_s) (after warm-up). A fast run
        records a window standing for `weight` times its length, its minutes moved by shift_s."""
        wt = weight
        self.window_s += (hi_s - lo_s) * wt
        n = plan.n
        keep, final, outcome, lat_ms = request_outcomes(plan, att, lo_s, hi_s)
        hit = plan.hit[keep]
        tries = np.bincount(att.root[n:], minlength=n)[keep] if att.n > n else np.zeros(len(keep), np.int64)
        src = plan.src[keep]
        flow = plan.flow[keep]
        size = plan.size[keep] if plan.size is not None else np.zeros(len(keep), np.int64)
        if plan.asks is not None and plan.moveds is not None:
            self.asks += int(plan.asks[keep].sum()) * wt
            self.moveds += int(plan.moveds[keep].sum()) * wt
        if plan.stale is not None:
            st = plan.stale[keep]
            self.replica_reads += int((st >= 0).sum()) * wt
            self.stale_reads += int((st == 1).sum()) * wt

        def fill(g: GroupStats, m: np.ndarray | None) -> None:
            lm = lat_ms if m is None else lat_ms[m]
            oc = outcome if m is None else outcome[m]
            h = hit if m is None else hit[m]
            g.hist.record_ms(lm, wt)
            g.requests += len(lm) * wt
            g.outcomes += np.bincount(oc, minlength=len(Outcome.NAMES)) * wt
            g.reads += int((h >= 0).sum()) * wt
            g.hits += int((h == 1).sum()) * wt
            g.retries += int((tries if m is None else tries[m]).sum()) * wt
            sz = size if m is None else size[m]
            g.read_bytes += int(sz[h >= 0].sum()) * wt
            g.hit_bytes += int(sz[h == 1].sum()) * wt

        fill(self.overall, None)
        for i, g in enumerate(self.by_source):
            fill(g, src == i)
        for i, g in enumerate(self.by_flow):
            fill(g, flow == i)

        # per-minute series (chunks are whole minutes, so a minute never straddles two)
        minute = np.floor((plan.t0[keep] + shift_s) / 60.0).astype(np.int64)
        self.events.add(minute, src, flow, outcome, lat_ms, wt)
        if len(minute):
            o = np.argsort(minute, kind="stable")
            ms, ls, oc, hs = minute[o], lat_ms[o], outcome[o], hit[o]
            cuts = np.flatnonzero(np.diff(ms)) + 1
            for seg in np.split(np.arange(len(ms)), cuts):
                x = ls[seg]
                errs = int(((oc[seg] != Outcome.OK) & (oc[seg] != Outcome.REJECTED)).sum())
                p50, p99 = np.percentile(x, [50, 99])
                reads, hits = int((hs[seg] >= 0).sum()), int((hs[seg] == 1).sum())
                self.minutes.append((int(ms[seg[0]]), len(seg) * wt, errs * wt, reads * wt, hits * wt, float(p50), float(p99)))

        # resources: jobs arriving in the window
        rows, ks = np.nonzero(~np.isnan(att.dep))
        a = att.arr[rows, ks]
        d = att.dep[rows, ks]
        s = att.svc_eff[rows, ks]
        r = plan.res[att.root[rows], ks] if att.res_eff is None else att.res_eff[rows, ks]
        # shed jobs: a bound refused them at their last stage with an arrival
        sh_rows = np.flatnonzero(att.fail == Outcome.SHED)
        if len(sh_rows):
            sh_k = (~np.isnan(att.arr[sh_rows])).sum(axis=1) - 1
            sh_a = att.arr[sh_rows, sh_k]
            if att.res_eff is None:
                sh_r = plan.res[att.root[sh_rows], sh_k]
            else:
                sh_r = att.res_eff[sh_rows, sh_k]
            sh_s = plan.service_s[att.root[sh_rows], sh_k]
            inside_sh = (sh_a >= lo_s) & (sh_a < hi_s)
            for ri, st in enumerate(self.res):
                m = inside_sh & (sh_r == ri)
                st.shed += int(m.sum()) * wt
                st.shed_work_s += float(sh_s[m].sum()) * wt
        for ri, st in enumerate(self.res):
            m = r == ri
            if not m.any():
                continue
            am, dm, sm = a[m], d[m], s[m]
            inside = (am >= lo_s) & (am < hi_s)
            st.jobs += int(inside.sum()) * wt
            st.busy_s += float(sm[inside].sum()) * wt
            st.sojourn_s += float((dm[inside] - am[inside]).sum()) * wt
            w = dm[inside] - sm[inside] - am[inside]
            st.wait_s += float(w.sum()) * wt
            st.waited += int((w > 1e-12).sum()) * wt
            st.wait_hist.record_ms(np.maximum(w, 0) * 1e3, wt)
            ll = littles_law(am, dm, lo_s, hi_s)
            end = hi_s if self.end_s is None else self.end_s
            start = dm - sm
            st.area_s += _overlap(am, dm, lo_s, end) * wt
            st.busy_in_s += _overlap(start, dm, lo_s, end) * wt
            st.queue_area_s += _overlap(am, np.maximum(start, am), lo_s, end) * wt
            if ll["lambda_W"] > 0:
                self.little_worst = max(self.little_worst, abs(ll["L"] - ll["lambda_W"]) / ll["lambda_W"])

        if self.pools and att.pool_ask is not None:
            self._add_pools(plan, att, lo_s, hi_s, wt)

        # pub/sub delivery per subscriber: the server writes to subscriber i after (i+1)/N of
        # the PUBLISH's fan-out work, then the message travels one way to the subscriber
        for fi, prow, one_way in plan.pubsub:
            sel = np.isin(prow, keep)
            pr = prow[sel]
            fr = final[pr]
            good = ~np.isnan(att.dep[fr, 0])
            pr, fr, ow = pr[good], fr[good], one_way[sel][good]
            start = att.dep[fr, 0] - att.svc_eff[fr, 0]
            nsub = ow.shape[1]
            hs = self.pubsub.setdefault(self.flow_names[fi], [LatencyHistogram(self.unit_ns) for _ in range(nsub)])
            for j in range(nsub):
                deliver = start + att.svc_eff[fr, 0] * (j + 1) / nsub + ow[:, j]
                hs[j].record_ms((deliver - plan.t0[pr]) * 1e3, wt)
