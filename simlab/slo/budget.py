"""SLIs, error budgets and burn rates of a simulated run (`evaluate_slos`).

What counts as bad (the run's outcomes are `simlab.model.plan.Outcome`):

* availability: a request is bad if it ended in an error: a timeout at the client, a refused
  connection (restart), an upstream error (proxy 502/504, application or backend error), a
  request shed by a bound under overload (backend pool acquire timeout, load shedding), a
  client pool's acquire timeout (`pool_timeout`), a connection refused at `maxclients` - and,
  by default, a rejection by a rate limiter or load shedder (HTTP 429): the client did not
  get what it asked for. `slo.rejected` (or an objective's `rejected`) chooses: `bad`
  (default), `good` (a deliberate 429 is the service working as designed), or `excluded`
  (429s leave every SLI's events).
* error_rate: bad = error responses only (timeouts, refused, upstream, shed); a 429 is an answer,
  not an error, so it is never bad here (it stays in the denominator unless excluded).
* latency: bad = the response came later than `threshold_ms` (Prometheus `le`: a request of
  exactly the threshold is good), whatever its outcome, as a latency histogram counts it: a
  timeout is bad (its latency is the client's deadline), a fast error is good for latency and
  bad for availability. "P99 < 200 ms" is read as "99 % of requests within 200 ms".

Budgeting (OpenSLO's `budgetingMethod`): occurrences (good events / all events), timeslices
(a slice of `timeslice_s` is good if its ratio >= `timeslice_target`; the SLI is good slices /
slices) or ratio_timeslices (the mean of the slices' ratios).

The window (`slo.window`): `days` long; the simulated run is a sample of the service's steady
behaviour, which has lasted `elapsed_days` of the window (None: the whole window). With burn
rate b = (1 - achieved) / (1 - target) over the run, the budget consumed is

    consumed = budget_spent_before + b x elapsed_days / days,   remaining = 1 - consumed,

(with faults at a fixed time in the run, b is the burn of the other minutes and the faults'
extra bad events are charged once on top: `fixed_faults`, see `evaluate_slos`),

in events: consumed x (1 - target) x (events in a full window at the run's rate); in minutes
of full outage: consumed x (1 - target) x days x 1440. Projected to the end of the window at
rate b: spent_before + b; the budget runs out `(1 - spent_before) x days / b - elapsed_days`
days from now when that exceeds 1. Verdict: `met` when the projected end-of-window
consumption is at most 1 (equivalently, for a whole window at steady state, achieved >=
target), `missed` otherwise; `at_risk` when met but the 95 % interval of the run's SLI
allows a miss. Burn rates over 5m ... 3d use the run's last minutes (the whole run when it is
shorter, `burn_rate_minutes` says how many).

Replications are pooled minute by minute (events add up; the budget in events is per
window of one service). A `simulate_day_fast` result stands for each hour by one weighted
window, so its events sit in each hour's first minute: budgets and burn rates over hours or
more are right, the 5-minute figures are not meaningful there.

The seed dashboard's table (`../shared/seeds/redis-cache-service.txt`): availability 99.95 %
with 85 % of its budget left, latency P99 142 ms with 92 % left, errors 0.02 % with 98 % left.
No single window position explains all three at the dashboard's current rates: 99.95 % burns
budget at 0.5x (85 % left means 30 % of the window elapsed), 0.02 % errors at 0.2x (98 % left
means 10 %), and 99.95 % of requests within 200 ms at 0.05x of a 99 % target (92 % left would
take 1.6 windows). So the budget reflects history the current rates do not: the default
scenario declares the window at day 3 of 30 (which alone gives the error-rate SLO's 98 %) and
the budget its availability and latency SLOs had spent before (10 % and 7.5 %: a restart and
a slow period earlier in the window); the simulation supplies the rest (0.5 x 3/30 = 5 % for
availability, 0.05 x 3/30 = 0.5 % for latency), see `tests/simlab/test_slo.py`.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from simlab.model.minutes import MinuteEvents
from simlab.model.plan import Outcome
from simlab.results import RunResult
from simlab.scenario import ObjectiveSpec, Scenario, SloSpec
from simlab.slo.windows import BURN_RATE_WINDOWS, minutes

__all__ = ["ObjectiveResult", "SloError", "SloReport", "evaluate_slos", "sli_series"]

#: Every outcome but success and a rate limiter's deliberate refusal is an error (timeouts,
#: refused connections, upstream errors, requests shed by a bound under overload).
_ERRORS = [c for c in range(len(Outcome.NAMES)) if c not in (Outcome.OK, Outcome.REJECTED)]


class SloError(ValueError):
    """An SLO that cannot be evaluated on this run (names the SLO and what is missing)."""


@dataclass
class SliSeries:
    """Good and total events of one objective, per minute (gaps filled with zeros)."""

    minutes: np.ndarray
    good: np.ndarray
    total: np.ndarray
    note: str = ""

    @property
    def bad(self) -> np.ndarray:
        return self.total - self.good


def _scope(obj: ObjectiveSpec) -> tuple[str, str]:
    if obj.source is not None:
        return "source", obj.source
    if obj.flow is not None:
        return "flow", obj.flow
    return "service", "all"


def sli_series(obj: ObjectiveSpec, spec: SloSpec, events: MinuteEvents) -> SliSeries:
    """Per-minute good/total events of `obj` (see the module docstring for what is bad)."""
    mins, counts = events.arrays()
    try:
        g = events.group_index(*_scope(obj))
    except KeyError as err:
        raise SloError(f"slo {obj.name!r}: {err.args[0]}") from None
    c = counts[:, g].astype(np.float64)  # [M, outcome, bucket]
    policy = obj.rejected or spec.rejected
    rejected = c[:, Outcome.REJECTED].sum(axis=1)
    total = c.sum(axis=(1, 2))
    if policy == "excluded":
        total = total - rejected
    note = ""
    if obj.sli == "availability":
        bad = c[:, _ERRORS].sum(axis=(1, 2)) + (rejected if policy == "bad" else 0.0)
    elif obj.sli == "error_rate":
        bad = c[:, _ERRORS].sum(axis=(1, 2))
    else:
        assert obj.threshold_ms is not None
        per_bucket = c.sum(axis=1) - (c[:, Outcome.REJECTED] if policy == "excluded" else 0.0)
        thr = events.thresholds_ms
        j = int(np.searchsorted(thr, obj.threshold_ms))
        if j < len(thr) and thr[j] == obj.threshold_ms:
            bad = per_bucket[:, j + 1:].sum(axis=1)
        else:
            # not counted exactly: interpolate the exceedance log-linearly between the two
            # thresholds that were counted around it
            lo, hi = max(j - 1, 0), min(j, len(thr) - 1)
            over_lo = per_bucket[:, lo + 1:].sum(axis=1)
            over_hi = per_bucket[:, hi + 1:].sum(axis=1)
            if lo == hi:
                bad = over_lo
            else:
                w = (math.log(obj.threshold_ms) - math.log(thr[lo])) / (math.log(thr[hi]) - math.log(thr[lo]))
                bad = over_lo + (over_hi - over_lo) * w
            note = (f"threshold {obj.threshold_ms:g} ms was not counted by the run; interpolated between "
                    f"{thr[lo]:g} and {thr[hi]:g} ms (put the SLO in the scenario to count it exactly)")
    if len(mins) == 0:
        return SliSeries(mins, np.zeros(0), np.zeros(0), note)
    full = np.arange(mins[0], mins[-1] + 1)
    pos = mins - mins[0]
    good_f = np.zeros(len(full))
    tot_f = np.zeros(len(full))
    good_f[pos] = total - bad
    tot_f[pos] = total
    return SliSeries(full, good_f, tot_f, note)


@dataclass
class ObjectiveResult:
    """One SLO over the run and its window (fractions are of the window's whole budget)."""

    name: str
    sli: str
    scope: str
    target: float
    threshold_ms: float | None
    budgeting: str
    rejected: str
    events: float
    bad_events: float
    achieved: float
    achieved_ci95: tuple[float, float]
    burn_rate: float
    budget_allowed: float  # fraction of the window's events (1 - target)
    budget_allowed_events: float
    budget_allowed_minutes: float
    budget_spent_before: float
    budget_consumed: float
    budget_remaining: float
    budget_consumed_events: float
    budget_remaining_events: float
    budget_consumed_minutes: float
    budget_remaining_minutes: float
    remaining_ci95: tuple[float, float]
    projected_consumed_at_window_end: float
    exhaustion_days: float | None
    burn_rates: dict[str, float]
    burn_rate_minutes: dict[str, int]
    verdict: str
    at_risk: bool
    steady_burn_rate: float = math.nan  # the run without its one-off faults
    one_off_budget: float = 0.0  # fraction of the budget the one-off faults spent (charged once)
    note: str = ""

    @property
    def met(self) -> bool:
        return self.verdict == "met"

    def to_dict(self) -> dict[str, Any]:
        d = {k: _clean(v) for k, v in self.__dict__.items()}
        d["error_budget_remaining"] = d["budget_remaining"]
        d["met"] = self.met
        return d


def _clean(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _clean(x) for k, x in v.items()}
    if isinstance(v, tuple | list):
        return [_clean(x) for x in v]
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


@dataclass
class SloReport:
    """Every objective of a scenario over one run: `.objectives`, `.met`, `.table`,
    `.burn_down` (per objective and minute) and `.to_dict()` (the JSON of `simlab run --json`)."""

    scenario: str
    window_days: float
    window_kind: str
    elapsed_days: float
    run_minutes: int
    objectives: list[ObjectiveResult]
    burn_down: pd.DataFrame
    warnings: list[str] = field(default_factory=list)

    @property
    def met(self) -> bool:
        return all(o.met for o in self.objectives)

    @property
    def table(self) -> pd.DataFrame:
        rows = []
        for o in self.objectives:
            rows.append({
                "slo": o.name, "sli": o.sli, "scope": o.scope, "target": o.target, "achieved": o.achieved,
                "budget_remaining": o.budget_remaining, "budget_remaining_minutes": o.budget_remaining_minutes,
                "burn_rate": o.burn_rate, "exhaustion_days": o.exhaustion_days, "verdict": o.verdict,
            })
        return pd.DataFrame(rows)

    def to_dict(self) -> dict[str, Any]:
        return {
            "met": self.met,
            "window": {"days": self.window_days, "kind": self.window_kind, "elapsed_days": self.elapsed_days},
            "run_minutes": self.run_minutes,
            "objectives": [o.to_dict() for o in self.objectives],
            "warnings": list(self.warnings),
        }

    def _repr_html_(self) -> str:
        head = (f"<h4>SLOs of {html.escape(self.scenario)}: {self.window_kind} {self.window_days:g}-day window, "
                f"{self.elapsed_days:g} days elapsed; {'all met' if self.met else 'missed'}</h4>")
        t = self.table.copy()
        for c in ("target", "achieved"):
            t[c] = t[c].map(lambda x: f"{x * 100:.3f} %")
        t["budget_remaining"] = t["budget_remaining"].map(lambda x: f"{x * 100:.1f} %")
        warn = "".join(f"<p>warning: {html.escape(w)}</p>" for w in self.warnings)
        return head + t.to_html(index=False, float_format=lambda x: f"{x:.4g}") + warn


def _ci(bad: np.ndarray, total: np.ndarray) -> tuple[float, float]:
    """95 % interval of the bad fraction: batch means over minutes (Law ch. 9.5.3) when the
    run has at least 10 of them (requests in one minute are correlated through the queues),
    a Wilson interval on the binomial count otherwise."""
    n = float(total.sum())
    if n <= 0:
        return math.nan, math.nan
    p = float(bad.sum()) / n
    keep = total > 0
    if keep.sum() >= 10:
        r = bad[keep] / total[keep]
        half = float(stats.t.ppf(0.975, len(r) - 1) * r.std(ddof=1) / math.sqrt(len(r)))
        return max(0.0, p - half), min(1.0, p + half)
    z = 1.959964
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def _slices(s: SliSeries, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Good and total events per slice of k minutes (a trailing partial slice is dropped
    unless it is the only one)."""
    m = len(s.total)
    n = max(m // k, 1 if m else 0)
    use = min(n * k, m)
    good = s.good[:use].reshape(n, -1).sum(axis=1) if n else np.zeros(0)
    total = s.total[:use].reshape(n, -1).sum(axis=1) if n else np.zeros(0)
    return good, total


def _achieved(obj: ObjectiveSpec, s: SliSeries) -> tuple[float, float, float, tuple[float, float]]:
    """(achieved, events, bad events, 95 % interval of achieved) by the budgeting method."""
    if obj.budgeting == "occurrences":
        n = float(s.total.sum())
        bad = float(s.bad.sum())
        lo, hi = _ci(s.bad, s.total)
        return (1.0 - bad / n if n else math.nan), n, bad, (1.0 - hi, 1.0 - lo)
    k = int(round(obj.timeslice_s / 60.0))
    good, total = _slices(s, k)
    keep = total > 0
    ratio = good[keep] / total[keep]
    if obj.budgeting == "timeslices":
        assert obj.timeslice_target is not None
        ok = (ratio >= obj.timeslice_target).astype(np.float64)
    else:
        ok = ratio
    n = float(len(ok))
    if n == 0:
        return math.nan, 0.0, 0.0, (math.nan, math.nan)
    bad_slices = n - float(ok.sum())
    ones = np.ones(len(ok))
    lo, hi = _ci(1.0 - ok, ones)
    return 1.0 - bad_slices / n, n, bad_slices, (1.0 - hi, 1.0 - lo)


def _burn(bad: float, total: float, allowed: float) -> float:
    if total <= 0:
        return math.nan
    frac = bad / total
    if allowed <= 0:
        return math.inf if frac > 0 else 0.0
    return frac / allowed


def _one_off_minutes(scenario: Scenario, result: RunResult, minutes_: np.ndarray) -> np.ndarray:
    """Minutes of the series touched by faults at a fixed time (`at_s`), plus one minute on
    each side: a request is filed under the minute it started in, and one that started
    just before a fault (or was retried just after it) is hurt by it too."""
    from simlab.slo.alerts import injected_incidents  # alerts builds on this module

    mask = np.zeros(len(minutes_), dtype=bool)
    if not scenario.faults or len(minutes_) == 0:
        return mask
    m0 = int(minutes_[0])
    for inc in injected_incidents(scenario, result):
        if inc.recurring:
            continue
        a = max(int(math.floor(inc.start_s / 60.0)) - m0 - 1, 0)
        b = min(int(math.ceil(inc.end_s / 60.0)) - m0 + 1, len(minutes_))
        if b > a:
            mask[a:b] = True
    return mask


def evaluate_slos(scenario: Scenario, result: RunResult, *, window_days: float | None = None,
                  objectives: list[ObjectiveSpec] | None = None, fixed_faults: str = "once") -> SloReport:
    """Evaluate the scenario's SLOs (or `objectives`) on `result`; `window_days` overrides
    the window's length (the elapsed part keeps its declared days, capped at the window).

    `fixed_faults="once"` (default): a fault at a fixed time (`at_s`) happens once in the
    window: the bad events of its minutes beyond the steady rate are charged once, and the
    steady burn (the other minutes' rate) is what the run's sample stands for over the elapsed
    days; faults drawn from a `rate_per_hour` are part of the steady state. `"recurring"`
    treats the whole run, fixed faults included, as the sample. Occurrences budgeting only
    (timeslice SLOs always use the whole run as the sample)."""
    if fixed_faults not in ("once", "recurring"):
        raise SloError(f"fixed_faults must be 'once' or 'recurring', not {fixed_faults!r}")
    spec = scenario.slo
    if result.events is None:
        raise SloError("this run has no per-minute events (simlab.model.minutes); rerun it with this simlab")
    objs = objectives if objectives is not None else spec.resolved_objectives()
    days = spec.window.days if window_days is None else float(window_days)
    if days <= 0:
        raise SloError(f"window_days must be > 0, not {days:g}")
    elapsed = days if spec.window.elapsed_days is None else min(spec.window.elapsed_days, days)
    frac_elapsed = elapsed / days
    reps = len(result.replications) if result.replications is not None else 1
    results: list[ObjectiveResult] = []
    curves: list[pd.DataFrame] = []
    warnings: list[str] = []
    run_minutes = 0
    for obj in objs:
        s = sli_series(obj, spec, result.events)
        if s.note:
            warnings.append(f"slo {obj.name!r}: {s.note}")
        run_minutes = max(run_minutes, len(s.total))
        allowed = 1.0 - obj.target
        achieved, n, bad, (a_lo, a_hi) = _achieved(obj, s)
        if n == 0:
            raise SloError(f"slo {obj.name!r}: no events in its scope {'/'.join(_scope(obj))} during the run")
        b = _burn(bad, n, allowed)
        b_lo = _burn((1.0 - a_hi) * n, n, allowed)
        b_hi = _burn((1.0 - a_lo) * n, n, allowed)
        spent = obj.budget_spent_before
        m = max(len(s.total), 1)
        if obj.budgeting == "occurrences":
            window_events = n / m / reps * days * 1440.0  # replications add up minute by minute
        else:
            window_events = days * 1440.0 / (obj.timeslice_s / 60.0)
        allowed_events = allowed * window_events
        allowed_minutes = allowed * days * 1440.0
        # steady burn (stretched over the elapsed days) and one-off excess (charged once)
        once = (_one_off_minutes(scenario, result, s.minutes)
                if fixed_faults == "once" and obj.budgeting == "occurrences" else np.zeros(len(s.total), bool))
        steady_bad = s.bad.copy()
        if once.any() and (~once).any() and s.total[~once].sum() > 0:
            steady_bad[once] = s.total[once] * (s.bad[~once].sum() / s.total[~once].sum())
        excess = s.bad - steady_bad
        b_steady = _burn(float(steady_bad.sum()), n, allowed) if obj.budgeting == "occurrences" else b
        one_off = float(excess.sum()) / allowed_events if allowed_events > 0 else (math.inf if excess.sum() > 0 else 0.0)
        consumed = spent + b_steady * frac_elapsed + one_off
        end = spent + b_steady + one_off
        exhaustion = None
        if end > 1.0:
            left = 1.0 - spent - one_off
            exhaustion = max(0.0, left * days / b_steady - elapsed) if b_steady > 0 and left > 0 else 0.0
        # the uncertainty of the steady burn (the one-off faults are given, not sampled)
        db_lo, db_hi = b - b_lo, b_hi - b
        if once.any() and (~once).any() and allowed > 0:
            q_lo, q_hi = _ci(s.bad[~once], s.total[~once])
            bq = float(s.bad[~once].sum() / s.total[~once].sum()) / allowed
            db_lo, db_hi = bq - q_lo / allowed, q_hi / allowed - bq
        verdict = "met" if end <= 1.0 + 1e-12 else "missed"
        at_risk = verdict == "met" and end + db_hi > 1.0
        rates: dict[str, float] = {}
        covered: dict[str, int] = {}
        for w in BURN_RATE_WINDOWS:
            k = min(int(minutes(w)), len(s.total))
            rates[w] = _burn(float(s.bad[-k:].sum()), float(s.total[-k:].sum()), allowed) if k else math.nan
            covered[w] = k
        results.append(ObjectiveResult(
            name=obj.name, sli=obj.sli, scope="/".join(_scope(obj)), target=obj.target,
            threshold_ms=obj.threshold_ms, budgeting=obj.budgeting, rejected=obj.rejected or spec.rejected,
            events=n, bad_events=bad, achieved=achieved, achieved_ci95=(a_lo, a_hi), burn_rate=b,
            budget_allowed=allowed, budget_allowed_events=allowed_events, budget_allowed_minutes=allowed_minutes,
            budget_spent_before=spent, budget_consumed=consumed, budget_remaining=1.0 - consumed,
            budget_consumed_events=consumed * allowed_events, budget_remaining_events=(1.0 - consumed) * allowed_events,
            budget_consumed_minutes=consumed * allowed_minutes,
            budget_remaining_minutes=(1.0 - consumed) * allowed_minutes,
            remaining_ci95=(1.0 - consumed - db_hi * frac_elapsed, 1.0 - consumed + db_lo * frac_elapsed),
            steady_burn_rate=b_steady, one_off_budget=one_off,
            projected_consumed_at_window_end=end, exhaustion_days=exhaustion, burn_rates=rates,
            burn_rate_minutes=covered, verdict=verdict, at_risk=at_risk, note=s.note,
        ))
        curves.append(_burn_down(obj, s, steady_bad, allowed_events, spent, frac_elapsed, elapsed))
    burn_down = pd.concat(curves, ignore_index=True) if curves else pd.DataFrame()
    return SloReport(scenario=scenario.name, window_days=days, window_kind=spec.window.kind, elapsed_days=elapsed,
                     run_minutes=run_minutes, objectives=results, burn_down=burn_down, warnings=warnings)


def _burn_down(obj: ObjectiveSpec, s: SliSeries, steady_bad: np.ndarray, allowed_events: float, spent: float,
               frac_elapsed: float, elapsed: float) -> pd.DataFrame:
    """Budget remaining minute by minute, the run's steady part stretched over the elapsed
    part of the window (each simulated minute stands for elapsed / run minutes of it) and
    one-off faults charged once where they happen, starting from what was spent before."""
    allowed = 1.0 - obj.target
    n = float(s.total.sum())
    denom = allowed * n
    cum_steady = np.cumsum(steady_bad)
    cum_excess = np.cumsum(s.bad - steady_bad)
    if denom > 0 and allowed_events > 0:
        remaining = 1.0 - spent - frac_elapsed * cum_steady / denom - cum_excess / allowed_events
    else:
        remaining = np.where(np.cumsum(s.bad) > 0, -np.inf, 1.0 - spent)
    m = len(s.total)
    return pd.DataFrame({
        "slo": obj.name, "minute": s.minutes, "good": s.good, "total": s.total, "bad": s.bad,
        "window_day": elapsed * np.arange(1, m + 1) / max(m, 1), "budget_remaining": remaining,
    })
