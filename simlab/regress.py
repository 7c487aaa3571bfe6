"""CI regression of SLO models: re-run shipped scenarios and compare with reviewed baselines.

A baseline (`data/baselines/<scenario>.yaml`) holds, per scenario, the key outputs of the
model: P50/P99, hit ratio and error rate at each load point, each SLO's verdict and error
budget remaining, the monthly cost and cost per million requests, and (when recorded) the
planned configuration per growth factor. Every numeric figure is measured over R independent
replications (seeds `seed .. seed+R-1`); the baseline stores their mean, the 95 % Student-t
half-width h of that mean, and the tolerance.

Tolerance, derived rather than guessed: two independent estimates of the same mean, each
with half-width h, differ by more than sqrt(2) x h only 5 % of the time (the difference of
two means has standard error sqrt(2) x s / sqrt(R)). A change of the model that moves a figure
by more than that is one re-seeding alone would rarely produce; a change that moves it less
is indistinguishable from noise and passes. The re-run uses the same seeds, so an unchanged
model reproduces the baseline exactly. A figure whose replications all agree (h = 0, e.g. an
error rate of 0) gets a floor of 1e-9 + 1e-6 x |mean| so float rounding passes.
Verdicts and planned configurations are compared exactly.

Load points are the planner's steady-state windows (`simlab.sweep.SimSettings(mode="steady")`):
the cache warmed by accesses alone, then a short window simulated in full, so a point costs
seconds and carries no cold-start transient.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import numpy as np
import yaml

from simlab.metrics import confidence_interval
from simlab.paths import BASELINES_DIR, PROJECT_ROOT
from simlab.scenario import Scenario, load_scenario

__all__ = ["Check", "RegressError", "RegressOutcome", "RegressSettings", "measure", "regress", "tolerance"]

SQRT2 = math.sqrt(2.0)


class RegressError(ValueError):
    """A baseline that cannot be used (missing, unreadable, for another scenario)."""


@dataclass(frozen=True)
class RegressSettings:
    """How a scenario is measured; stored in its baseline so the re-run is the same run."""

    factors: tuple[float, ...] = (1.0, 2.0)
    replications: int = 3
    seed: int = 0
    window_s: float = 20.0
    warmup_accesses: float = 200_000
    plan_growth: tuple[float, ...] = ()
    #: "steady": the planner's windows (above); "run": the scenario's own run section at load
    #: factor 1 (a replayed trace has its own clock, so neither a window nor a factor applies)
    mode: str = "steady"

    def to_dict(self) -> dict[str, Any]:
        return {"factors": list(self.factors), "replications": self.replications, "seed": self.seed,
                "window_s": self.window_s, "warmup_accesses": self.warmup_accesses,
                "plan_growth": list(self.plan_growth), "mode": self.mode}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RegressSettings:
        return cls(factors=tuple(d.get("factors", (1.0, 2.0))), replications=int(d.get("replications", 3)),
                   seed=int(d.get("seed", 0)), window_s=float(d.get("window_s", 20.0)),
                   warmup_accesses=float(d.get("warmup_accesses", 200_000)),
                   plan_growth=tuple(d.get("plan_growth", ())), mode=str(d.get("mode", "steady")))


def tolerance(half_width: float, mean: float) -> float:
    """sqrt(2) x the 95 % half-width, with a floor for figures without spread (module doc)."""
    h = 0.0 if half_width is None or not math.isfinite(half_width) else half_width
    return SQRT2 * h + 1e-9 + 1e-6 * abs(mean)


def _num(v: Any) -> float | None:
    if v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _replication_figures(sc: Scenario, result: Any, factor: float) -> tuple[dict[str, float], dict[str, str]]:
    """The numeric figures and the verdicts of one replication at one load factor."""
    o = result.overall
    tag = f"x{factor:g}"
    nums: dict[str, float] = {}
    cats: dict[str, str] = {}
    for k in ("p50_ms", "p99_ms", "hit_ratio", "error_rate"):
        v = _num(o.get(k))
        if v is not None:
            nums[f"{tag}.{k}"] = v
    if factor == 1.0:
        from simlab.cost import cost_of
        from simlab.slo import evaluate_slos

        rep = evaluate_slos(sc, result)
        for ob in rep.objectives:
            cats[f"slo.{ob.name}.verdict"] = str(ob.verdict)
            v = _num(ob.budget_remaining)
            if v is not None:
                nums[f"slo.{ob.name}.budget_remaining"] = v
        if sc.cost is not None:
            cr = cost_of(sc, result)
            nums["cost.monthly_usd"] = float(cr.monthly_cost_usd)
            cpm = _num(cr.cost_per_million_requests_usd)
            if cpm is not None:
                nums["cost.per_million_requests_usd"] = cpm
    return nums, cats


def measure(sc: Scenario, settings: RegressSettings, progress: Callable[[], None] | None = None) -> dict[str, Any]:
    """Run `sc` as `settings` says and return the baseline document's `metrics` and
    `categorical` parts (plus `planned` when `plan_growth` is set)."""
    from simlab.model.run import simulate
    from simlab.report.loadcurve import scaled
    from simlab.sweep import SimSettings, simulate_point

    sim = SimSettings(mode="steady", duration_s=settings.window_s, warmup_accesses=settings.warmup_accesses)
    per_metric: dict[str, list[float]] = {}
    cats: dict[str, list[str]] = {}
    factors = (1.0,) if settings.mode == "run" else settings.factors
    for factor in factors:
        s = scaled(sc, factor)
        for r in range(settings.replications):
            if settings.mode == "run":
                result = simulate(s, seed=settings.seed + r, replications=1)
            else:
                result = simulate_point(s, {}, settings.seed + r, sim)
            nums, cat = _replication_figures(sc, result, factor)
            for k, v in nums.items():
                per_metric.setdefault(k, []).append(v)
            for k, verdict in cat.items():
                cats.setdefault(k, []).append(verdict)
            if progress is not None:
                progress()
    metrics = {}
    for k, vals in per_metric.items():
        arr = np.asarray(vals, dtype=float)
        mean, half = confidence_interval(arr) if len(arr) > 1 else (float(arr[0]), math.nan)
        metrics[k] = {"mean": float(mean), "half_width_95": None if not math.isfinite(half) else float(half),
                      "tolerance": tolerance(half, mean), "values": [float(x) for x in arr]}
    # a verdict is the one the replications agree on; a split is recorded as such
    categorical = {k: (v[0] if len(set(v)) == 1 else "split:" + ",".join(sorted(set(v)))) for k, v in cats.items()}
    out: dict[str, Any] = {"metrics": metrics, "categorical": categorical}
    if settings.plan_growth:
        out["planned"] = _planned(sc, settings)
    return out


def _planned(sc: Scenario, settings: RegressSettings) -> dict[str, str]:
    """The planner's chosen configuration per growth factor (quick budget, serial, no result
    cache: a cached answer would hide a change of the model)."""
    from simlab.plan import plan_capacity

    plan = plan_capacity(sc, growth=settings.plan_growth, budget="quick", seed=settings.seed, cache_dir=None,
                         parallel=False, progress=False)
    out = {}
    for a in plan.answers:
        cfg = a.config or {}
        out[f"plan.x{a.growth:g}"] = "; ".join(f"{k}={v}" for k, v in sorted(cfg.items())) or "no compliant configuration"
    return out


@dataclass(frozen=True)
class Check:
    """One figure of one scenario against its baseline."""

    scenario: str
    name: str
    baseline: Any
    current: Any
    tolerance: float | None
    passed: bool

    @property
    def delta(self) -> float | None:
        if isinstance(self.baseline, int | float) and isinstance(self.current, int | float):
            return float(self.current) - float(self.baseline)
        return None

    def describe(self) -> str:
        if self.delta is None:
            return f"{self.name}: {self.baseline!r} -> {self.current!r}"
        rel = f" ({self.delta / self.baseline * 100:+.2f} %)" if self.baseline else ""
        return (f"{self.name}: {self.baseline:.6g} -> {self.current:.6g}, moved {self.delta:+.4g}{rel}, "
                f"tolerance +/-{self.tolerance:.3g}")


@dataclass
class RegressOutcome:
    """Every check of a regress run, with the renderings CI wants."""

    checks: list[Check] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    wall_s: float = 0.0

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if not c.passed]

    def to_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "wall_s": round(self.wall_s, 2), "updated": self.updated,
                "checks": [{"scenario": c.scenario, "name": c.name, "baseline": c.baseline, "current": c.current,
                            "delta": c.delta, "tolerance": c.tolerance, "passed": c.passed} for c in self.checks]}

    def text(self) -> str:
        lines = []
        scenarios = list(dict.fromkeys(c.scenario for c in self.checks))
        for s in scenarios:
            mine = [c for c in self.checks if c.scenario == s]
            bad = [c for c in mine if not c.passed]
            lines.append(f"{s}: {len(mine) - len(bad)}/{len(mine)} figures within tolerance")
            for c in bad:
                lines.append(f"  REGRESSION {c.describe()}")
            moved = [c for c in mine if c.passed and c.delta]
            for c in moved:
                lines.append(f"  moved (within tolerance) {c.describe()}")
        for u in self.updated:
            lines.append(f"baseline written: {u}")
        lines.append(("PASS" if self.passed else "FAIL") + f" ({len(self.failures)} regression(s), {self.wall_s:.1f} s)")
        return "\n".join(lines)

    def markdown(self) -> str:
        head = "### SLO model regression: " + ("passed" if self.passed else f"{len(self.failures)} regression(s)")
        rows = ["| scenario | figure | baseline | current | moved | tolerance | |", "|---|---|---|---|---|---|---|"]
        for c in self.checks:
            if c.passed and not c.delta:
                continue
            rows.append(f"| {c.scenario} | {c.name} | {_fmt(c.baseline)} | {_fmt(c.current)} | "
                        f"{'' if c.delta is None else f'{c.delta:+.4g}'} | "
                        f"{'' if c.tolerance is None else f'±{c.tolerance:.3g}'} | {'✅' if c.passed else '❌'} |")
        n = len(self.checks)
        body = f"{n} figures compared; figures that did not move are not listed." if len(rows) == 2 else "\n".join(rows)
        return f"{head}\n\n{body}\n"

    def junit_xml(self) -> str:
        """One test case per figure; a regression is a failure whose message says what moved."""
        cases = []
        for c in self.checks:
            name = quoteattr(c.name)
            cls = quoteattr(f"simlab.regress.{c.scenario}")
            if c.passed:
                cases.append(f"    <testcase classname={cls} name={name}/>")
            else:
                msg = quoteattr(c.describe())
                cases.append(f"    <testcase classname={cls} name={name}>\n"
                             f"      <failure message={msg}>{escape(c.describe())}</failure>\n    </testcase>")
        return ('<?xml version="1.0" encoding="UTF-8"?>\n'
                f'<testsuites name="simlab regress" tests="{len(self.checks)}" failures="{len(self.failures)}">\n'
                f'  <testsuite name="simlab regress" tests="{len(self.checks)}" failures="{len(self.failures)}" '
                f'time="{self.wall_s:.2f}">\n' + "\n".join(cases) + "\n  </testsuite>\n</testsuites>\n")


def _fmt(v: Any) -> str:
    return f"{v:.6g}" if isinstance(v, int | float) else str(v)


def _baseline_path(baseline_dir: Path, name: str) -> Path:
    return baseline_dir / f"{name.replace('/', '__')}.yaml"


def _compare(name: str, base: dict[str, Any], cur: dict[str, Any]) -> list[Check]:
    out = []
    for k, b in base.get("metrics", {}).items():
        c = cur["metrics"].get(k)
        if c is None:
            out.append(Check(name, k, b["mean"], None, b["tolerance"], False))
            continue
        out.append(Check(name, k, b["mean"], c["mean"], b["tolerance"], abs(c["mean"] - b["mean"]) <= b["tolerance"]))
    for k in cur["metrics"].keys() - base.get("metrics", {}).keys():
        out.append(Check(name, k, None, cur["metrics"][k]["mean"], None, False))
    for part in ("categorical", "planned"):
        for k, b in base.get(part, {}).items():
            c = cur.get(part, {}).get(k)
            out.append(Check(name, k, b, c, None, b == c))
    return out


def _scenario_file(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)


def regress(
    files: Iterable[str | Path] | None = None,
    *,
    baseline_dir: str | Path | None = None,
    update: bool = False,
    settings: RegressSettings | None = None,
    skip: Sequence[str] = (),
    progress: Callable[[int, int], None] | None = None,
) -> RegressOutcome:
    """Compare `files` (default: every scenario with a baseline) with their baselines, or with
    `update` (re)write the baselines. `skip` drops parts of the comparison ("planned")."""
    t0 = time.perf_counter()
    bdir = Path(baseline_dir) if baseline_dir is not None else BASELINES_DIR
    baselines: dict[str, dict[str, Any]] = {}
    if bdir.exists():
        for p in sorted(bdir.glob("*.yaml")):
            doc = yaml.safe_load(p.read_text())
            if isinstance(doc, dict) and "scenario" in doc:
                baselines[doc["scenario"]] = doc
    if files is None:
        if not baselines:
            raise RegressError(f"{bdir}: no baselines; run `simlab regress FILE... --update` first")
        paths = [PROJECT_ROOT / d["file"] for d in baselines.values()]
    else:
        paths = [Path(f) for f in files]
    jobs = []
    for p in paths:
        sc = load_scenario(p)
        base = baselines.get(sc.name)
        if base is None and not update:
            raise RegressError(f"{p}: no baseline for scenario {sc.name!r} in {bdir} (record one with --update)")
        st = settings or (RegressSettings.from_dict(base["settings"]) if base else RegressSettings())
        if "planned" in skip:
            st = RegressSettings(**{**st.__dict__, "plan_growth": ()})
        jobs.append((p, sc, base, st))
    total = sum((1 if st.mode == "run" else len(st.factors)) * st.replications for _, _, _, st in jobs)
    done = [0]

    def tick() -> None:
        done[0] += 1
        if progress is not None:
            progress(done[0], total)

    outcome = RegressOutcome()
    for p, sc, base, st in jobs:
        cur = measure(sc, st, progress=tick)
        if update:
            bdir.mkdir(parents=True, exist_ok=True)
            doc = {"scenario": sc.name, "file": _scenario_file(p),
                   "recorded": dt.date.today().isoformat(), "settings": st.to_dict(),
                   "tolerance_rule": "sqrt(2) x 95% half-width over the replications, floor 1e-9 + 1e-6 x |mean|",
                   **cur}
            out = _baseline_path(bdir, sc.name)
            out.write_text(f"# Baseline of {sc.name} for `simlab regress` (see simlab/regress.py); rewrite with\n"
                           f"# `simlab regress {doc['file']} --update` after reviewing a model change.\n"
                           + yaml.safe_dump(doc, sort_keys=False))
            outcome.updated.append(str(out))
        else:
            assert base is not None
            if "planned" in skip:
                base = {k: v for k, v in base.items() if k != "planned"}
            outcome.checks += _compare(sc.name, base, cur)
    outcome.wall_s = time.perf_counter() - t0
    return outcome
