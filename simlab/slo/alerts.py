"""Multi-window, multi-burn-rate alerts evaluated on a run's per-minute series, and how well
they catch the incidents injected into it (`evaluate_alerts`).

An alert rule (Google SRE Workbook, ch. 5 "Alerting on SLOs") fires while the error budget
burns at least `burn_rate` times the sustainable rate over both a long and a short window:

    burn(W, t) = (bad events in the W minutes up to t / events in them) / (1 - target)
    firing(t)  = burn(long, t) >= burn_rate and burn(short, t) >= burn_rate

Defaults for a 30-day window: page at 14.4x over 1h and 5m (2 % of the budget in an hour),
page at 6x over 6h and 30m (5 % in six hours), ticket at 1x over 3d and 6h (10 % in three
days); sloth's ticket at 3x over 1d and 2h is `SLOTH_TICKET_3X`. The series is per minute, so
a rule is evaluated at the end of every simulated minute (detection times are multiples of a
minute after the incident's start, rounded up). A window reaching back before the measured
part of the run is filled, by default (`prehistory="steady"`), with the run's steady state:
its mean bad and total events per minute outside the injected incidents, as if the service
had run like that for days before (so a 3-day window means 3 days, not the run's length);
`prehistory="none"` uses only the minutes there are, as Prometheus' rate() does with a short
history (which inflates burn rates early in a run).

Incidents are the scenario's `faults` (restart, slow, blip, error burst, ...) as the run placed them (the same
seeded draw as `simulate`, replication 0). For each incident and severity: detected or not,
detection delay (from the incident's start to the end of the first minute the alert fires
in, within the incident plus `grace_minutes`), reset time (from the incident's end to the end
of that firing episode), and the budget spent from the incident's start to detection (a
fraction of the whole window's budget at the run's event rate). Precision = firing episodes
that overlap an incident (plus grace) / all episodes; recall = incidents detected / incidents.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from simlab.results import RunResult
from simlab.scenario import ObjectiveSpec, Scenario, SloSpec
from simlab.slo.budget import SloError, sli_series
from simlab.slo.windows import DEFAULT_ALERTS, SLOTH_TICKET_3X, minutes, window_name

__all__ = ["AlertReport", "AlertRule", "Incident", "alert_rules", "evaluate_alerts", "injected_incidents"]


@dataclass(frozen=True)
class AlertRule:
    severity: str
    long_window: str
    short_window: str
    burn_rate: float

    @property
    def name(self) -> str:
        return f"{self.severity}-{self.long_window}-{self.short_window}-{self.burn_rate:g}x"


def alert_rules(spec: SloSpec, *, sloth_ticket: bool = False) -> list[AlertRule]:
    """The scenario's alert rules (`slo.alerts`), or the SRE Workbook's three (plus sloth's
    3x ticket when asked)."""
    if spec.alerts:
        return [AlertRule(a.severity, a.long_window, a.short_window, a.burn_rate) for a in spec.alerts]
    rows = list(DEFAULT_ALERTS) + ([SLOTH_TICKET_3X] if sloth_ticket else [])
    return [AlertRule(s, lw, sw, b) for s, lw, sw, b in rows]


@dataclass(frozen=True)
class Incident:
    kind: str
    start_s: float
    end_s: float
    detail: str = ""
    recurring: bool = False  # drawn from a rate (part of the steady state), not at a fixed time


def injected_incidents(sc: Scenario, result: RunResult) -> list[Incident]:
    """The run's faults as incidents: one per fault start, at the times `simulate` drew for
    replication 0 (`simlab.model.faults.expand_faults`: fixed `at_s`, or a Poisson process of
    `rate_per_hour` drawn from the same seeded stream, fault by fault)."""
    rng = np.random.default_rng(np.random.SeedSequence([result.seed, 0]).spawn(3)[0])
    out = []
    for f in sc.faults:
        if f.at_s is not None:
            starts = [f.at_s]
        else:
            assert f.rate_per_hour is not None
            n = rng.poisson(f.rate_per_hour * result.duration_s / 3600.0)
            starts = sorted(rng.uniform(0, result.duration_s, n).tolist())
        detail = {"slow": f"service x{f.factor:g}", "blip": f"+{f.extra_latency_ms:g} ms",
                  "restart": "refuses connections",
                  "error_burst": f"{100 * f.share:g} % of requests fail"}.get(f.kind, f.kind)
        if f.shard is not None:
            detail += f", shard {f.shard}"
        out += [Incident(f.kind, float(t), float(t) + f.duration_s, detail, f.at_s is None) for t in starts]
    return sorted(out, key=lambda i: (i.start_s, i.kind))


def _rolling(x: np.ndarray, w: int, before: float = 0.0) -> np.ndarray:
    """Sum over the w minutes up to each minute; minutes before the series count `before`."""
    c = np.concatenate([[0.0], np.cumsum(x)])
    idx = np.arange(1, len(x) + 1)
    missing = np.maximum(w - idx, 0)
    return c[idx] - c[np.maximum(idx - w, 0)] + missing * before


def _quiet_rates(s: Any, incidents: list[Incident], m0: int) -> tuple[float, float]:
    """Mean bad and total events per minute away from the incidents (the steady state; a
    minute on each side of an incident is left out too, as requests straddle its edges)."""
    quiet = np.ones(len(s.total), dtype=bool)
    for inc in incidents:
        a = max(int(math.floor(inc.start_s / 60.0)) - m0 - 1, 0)
        b = min(int(math.ceil(inc.end_s / 60.0)) - m0 + 1, len(s.total))
        if b > a:
            quiet[a:b] = False
    if not quiet.any():
        return 0.0, float(s.total.mean())
    return float(s.bad[quiet].mean()), float(s.total[quiet].mean())


def _episodes(fire: np.ndarray) -> list[tuple[int, int]]:
    """(first, last + 1) index of each run of True."""
    if not fire.any():
        return []
    d = np.diff(np.concatenate([[0], fire.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(d == 1).tolist(), np.flatnonzero(d == -1).tolist(), strict=True))


@dataclass
class AlertReport:
    """Firing episodes, per-incident detections and precision/recall per severity."""

    rules: list[AlertRule]
    incidents: list[Incident]
    episodes: pd.DataFrame
    detections: pd.DataFrame
    scores: pd.DataFrame
    firing: pd.DataFrame  # per minute, slo and severity: burn rates and whether it fires
    warnings: list[str] = field(default_factory=list)

    @property
    def table(self) -> pd.DataFrame:
        """One row per incident, SLO and severity: detected, delay, reset, budget spent."""
        cols = ["incident", "detail", "start_s", "slo", "severity", "detected", "already_firing", "delay_s",
                "reset_s", "still_firing_at_end", "budget_before_detection", "budget_spent"]
        return self.detections[cols].copy() if len(self.detections) else pd.DataFrame(columns=cols)

    def to_dict(self) -> dict[str, Any]:
        def rec(df: pd.DataFrame) -> list[dict[str, Any]]:
            out = []
            for r in df.to_dict("records"):
                out.append({k: (None if isinstance(v, float) and not math.isfinite(v) else
                                (v.item() if isinstance(v, np.generic) else v)) for k, v in r.items()})
            return out

        return {
            "rules": [{"name": r.name, "severity": r.severity, "long_window": r.long_window,
                       "short_window": r.short_window, "burn_rate": r.burn_rate} for r in self.rules],
            "incidents": [i.__dict__ for i in self.incidents],
            "episodes": rec(self.episodes),
            "detections": rec(self.detections),
            "scores": rec(self.scores),
            "warnings": self.warnings,
        }

    def _repr_html_(self) -> str:
        parts = [f"<h4>burn-rate alerts: {len(self.incidents)} injected incident(s), {len(self.episodes)} firing episode(s)</h4>",
                 self.scores.to_html(index=False, float_format=lambda x: f"{x:.3g}"),
                 self.detections.to_html(index=False, float_format=lambda x: f"{x:.4g}")]
        parts += [f"<p>warning: {html.escape(w)}</p>" for w in self.warnings]
        return "\n".join(parts)


def evaluate_alerts(
    scenario: Scenario,
    result: RunResult,
    *,
    objectives: list[ObjectiveSpec] | None = None,
    rules: list[AlertRule] | None = None,
    sloth_ticket: bool = False,
    grace_minutes: int = 60,
    window_days: float | None = None,
    prehistory: str = "steady",
) -> AlertReport:
    """Evaluate burn-rate alert rules on every objective's per-minute series of `result` and
    score them against the scenario's injected faults (see the module docstring)."""
    spec = scenario.slo
    if result.events is None:
        raise SloError("this run has no per-minute events (simlab.model.minutes); rerun it with this simlab")
    objs = objectives if objectives is not None else spec.resolved_objectives()
    rules = rules if rules is not None else alert_rules(spec, sloth_ticket=sloth_ticket)
    days = spec.window.days if window_days is None else window_days
    warnings: list[str] = []
    if prehistory not in ("steady", "none"):
        raise SloError(f"prehistory must be 'steady' or 'none', not {prehistory!r}")
    if result.replications is not None:
        warnings.append("several replications are pooled minute by minute; incidents are those of replication 0")
    incidents = injected_incidents(scenario, result)
    ep_rows: list[dict[str, Any]] = []
    det_rows: list[dict[str, Any]] = []
    fire_rows: list[pd.DataFrame] = []
    severities = sorted({r.severity for r in rules}, key=lambda s: (s != "page", s))
    for obj in objs:
        s = sli_series(obj, spec, result.events)
        if len(s.total) == 0:
            continue
        allowed = 1.0 - obj.target
        m0 = int(s.minutes[0])
        bad0, total0 = _quiet_rates(s, incidents, m0) if prehistory == "steady" else (0.0, 0.0)
        per_sev: dict[str, np.ndarray] = {}
        for sev in severities:
            fire = np.zeros(len(s.total), dtype=bool)
            for r in (r for r in rules if r.severity == sev):
                burns = []
                for w in (r.long_window, r.short_window):
                    k = max(1, int(round(minutes(w))))
                    tot = _rolling(s.total, k, total0)
                    with np.errstate(invalid="ignore", divide="ignore"):
                        frac = np.where(tot > 0, _rolling(s.bad, k, bad0) / np.maximum(tot, 1e-300), 0.0)
                    burns.append(frac / allowed if allowed > 0 else np.where(frac > 0, np.inf, 0.0))
                rule_fire = (burns[0] >= r.burn_rate) & (burns[1] >= r.burn_rate)
                fire |= rule_fire
                fire_rows.append(pd.DataFrame({
                    "slo": obj.name, "severity": sev, "rule": r.name, "minute": s.minutes,
                    "burn_long": burns[0], "burn_short": burns[1], "firing": rule_fire,
                }))
            per_sev[sev] = fire
            for a, b in _episodes(fire):
                start_s, end_s = (m0 + a) * 60.0, (m0 + b) * 60.0
                matched = [i for i in incidents if start_s < i.end_s + grace_minutes * 60 and end_s > i.start_s]
                ep_rows.append({"slo": obj.name, "severity": sev, "start_s": start_s, "end_s": end_s,
                                "minutes": b - a, "incidents": len(matched), "true_positive": bool(matched)})
        events_per_min = float(s.total.sum()) / len(s.total)
        budget_events = allowed * events_per_min * days * 1440.0
        for k, inc in enumerate(incidents):
            a_min = int(math.floor(inc.start_s / 60.0)) - m0
            e_min = int(math.ceil(inc.end_s / 60.0)) - m0
            if e_min <= 0 or a_min >= len(s.total):
                continue
            lo = max(a_min, 0)
            hi = min(e_min + grace_minutes, len(s.total))
            # the grace period ends where the next incident begins: an alert then is its
            nxt = [int(math.floor(j.start_s / 60.0)) - m0 for j in incidents[k + 1:] if j.start_s > inc.start_s]
            if nxt:
                hi = max(min(hi, min(nxt)), min(e_min, len(s.total)))
            spent_all = float(s.bad[lo:hi].sum()) / budget_events if budget_events > 0 else math.inf
            for sev in severities:
                fire = per_sev[sev]
                # an alert already firing when the incident starts says nothing new about it:
                # only an episode that starts within the incident (plus grace) detects it
                already = bool(lo > 0 and fire[lo - 1])
                starts = np.flatnonzero(fire[lo:hi] & ~np.concatenate([[already], fire[lo:hi - 1]]))
                row: dict[str, Any] = {"slo": obj.name, "severity": sev, "incident": inc.kind, "detail": inc.detail,
                                       "start_s": inc.start_s, "end_s": inc.end_s, "detected": bool(len(starts)),
                                       "already_firing": already, "delay_s": math.nan, "reset_s": math.nan,
                                       "still_firing_at_end": False, "budget_before_detection": math.nan,
                                       "budget_spent": spent_all}
                if len(starts):
                    t = lo + int(starts[0])
                    end = t
                    while end < len(fire) and fire[end]:
                        end += 1
                    row["delay_s"] = max(0.0, (m0 + t + 1) * 60.0 - inc.start_s)
                    if end < len(fire):
                        row["reset_s"] = (m0 + end) * 60.0 - inc.end_s
                    else:  # censored: the run ended first
                        row["still_firing_at_end"] = True
                    spent = float(s.bad[lo:t + 1].sum())
                    row["budget_before_detection"] = spent / budget_events if budget_events > 0 else math.inf
                det_rows.append(row)
    episodes = pd.DataFrame(ep_rows, columns=["slo", "severity", "start_s", "end_s", "minutes", "incidents", "true_positive"])
    detections = pd.DataFrame(det_rows, columns=["slo", "severity", "incident", "detail", "start_s", "end_s", "detected",
                                                 "already_firing", "delay_s", "reset_s", "still_firing_at_end",
                                                 "budget_before_detection", "budget_spent"])
    score_rows = []
    for sev in severities:
        ep = episodes[episodes.severity == sev]
        det = detections[detections.severity == sev]
        caught = det.groupby(["start_s", "incident"])["detected"].any() if len(det) else pd.Series(dtype=bool)
        score_rows.append({
            "severity": sev, "episodes": len(ep), "true_positives": int(ep.true_positive.sum()) if len(ep) else 0,
            "precision": float(ep.true_positive.mean()) if len(ep) else math.nan,
            "incidents": len(incidents), "detected": int(caught.sum()),
            "recall": float(caught.sum()) / len(incidents) if incidents else math.nan,
            "median_delay_s": float(det[det.detected].delay_s.median()) if det.detected.any() else math.nan,
        })
    firing = pd.concat(fire_rows, ignore_index=True) if fire_rows else pd.DataFrame()
    return AlertReport(rules=rules, incidents=incidents, episodes=episodes, detections=detections,
                       scores=pd.DataFrame(score_rows), firing=firing, warnings=warnings)


def window_minutes(rules: list[AlertRule]) -> list[str]:
    """Every window the rules use, shortest first, as names (for recording rules)."""
    return [window_name(m) for m in sorted({minutes(w) for r in rules for w in (r.long_window, r.short_window)})]
