"""The capacity report: run a scenario end to end and write one self-contained HTML page.

`build_report` runs, in order: the simulation with replications (percentiles with 95 %
intervals, the latency CDF), SLOs and error budgets (`simlab.slo`), cost (`simlab.cost`),
percentiles against offered load (`loadcurve`), the miss-ratio curve (`keystream`), the
24-hour P99 heatmap (the day scenario), the capacity plan for growth (`simlab.plan`) and the
live validation against the embedded engine (`simlab.validate`). Every number on the page is
also in `summary.json` or a CSV beside it: the template formats, it never computes. A section
whose library is missing from this installation, or whose step failed, says so on the page and
in `summary.json["problems"]` instead of disappearing.
"""

from __future__ import annotations

import base64
import datetime as dt
import importlib
import json
import math
import platform
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from jinja2 import Environment, FileSystemLoader, select_autoescape

from simlab.paths import PROJECT_ROOT, SCENARIOS_DIR
from simlab.report import figures
from simlab.report.keystream import scenario_mrc
from simlab.report.loadcurve import LoadCurve, load_curve
from simlab.scenario import Scenario, load_scenario

__all__ = ["SECTIONS", "Report", "ReportSettings", "build_report", "default_out_dir"]

#: Section ids in page order (the browser test checks each is present).
SECTIONS = ("summary", "slo", "latency", "heatmap", "load", "mrc", "budget", "cost", "plan", "validation", "about")

TEMPLATES = Path(__file__).resolve().parent / "templates"


@dataclass(frozen=True)
class ReportSettings:
    """How much simulation a report spends. `quick` is a draft for tests and previews."""

    duration_s: float
    warmup_s: float
    replications: int
    load_factors: tuple[float, ...]
    load_window_s: float
    load_warmup_accesses: float
    mrc_requests: int
    plan_budget: str
    day_window_s: float

    @classmethod
    def for_mode(cls, sc: Scenario, quick: bool) -> ReportSettings:
        if quick:
            return cls(duration_s=min(sc.run.duration_s, 180.0), warmup_s=min(sc.run.warmup_s, 60.0), replications=2,
                       load_factors=(0.5, 1.0, 2.0, 3.0, 4.0, 4.5, 5.0, 5.5, 6.0, 8.0), load_window_s=15.0, load_warmup_accesses=150_000,
                       mrc_requests=300_000, plan_budget="quick", day_window_s=30.0)
        return cls(duration_s=sc.run.duration_s, warmup_s=sc.run.warmup_s, replications=max(sc.run.replications, 3),
                   load_factors=(0.5, 1.0, 2.0, 3.0, 4.0, 4.5, 5.0, 5.5, 6.0, 7.0, 8.0), load_window_s=20.0,
                   load_warmup_accesses=300_000,
                   mrc_requests=1_000_000, plan_budget="quick", day_window_s=30.0)


@dataclass
class Report:
    """What `build_report` wrote: the page, its data directory and `summary.json`'s content."""

    html_path: Path
    data_dir: Path
    summary: dict[str, Any]
    problems: list[str] = field(default_factory=list)

    @property
    def slos_met(self) -> bool:
        return bool(self.summary["slos_met"])


def default_out_dir(sc: Scenario) -> Path:
    """reports/<scenario>/ under the working directory (reports/ is git-ignored)."""
    return Path("reports") / sc.name


def _clean(v: Any) -> Any:
    if isinstance(v, dict):
        return {str(k): _clean(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_clean(x) for x in v]
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, Path):
        return str(v)
    return v


def _records(df: pd.DataFrame | None) -> list[dict[str, Any]]:
    return [] if df is None else _clean(df.to_dict("records"))


def _html_table(df: pd.DataFrame, percent: tuple[str, ...] = (), nd: int = 4) -> str:
    """A DataFrame as an HTML table; `percent` columns as percentages (formatting only)."""
    t = df.copy()
    for c in percent:
        if c in t:
            t[c] = t[c].map(lambda x: "-" if x is None or x != x else f"{x * 100:.3f} %")
    return t.to_html(index=False, classes="data", border=0, na_rep="-",
                     float_format=lambda x: f"{x:.{nd}g}")


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version(), "platform": platform.platform()}
    for mod in ("simlab", "numpy", "pandas", "scipy", "simpy", "matplotlib", "jinja2", "redis", "pydantic"):
        try:
            from importlib.metadata import version

            out[mod] = version("cachelab" if mod == "simlab" else mod)
        except Exception:  # noqa: BLE001 - a version we cannot read is left out, not fatal
            continue
    try:
        commit = subprocess.run(["git", "-C", str(PROJECT_ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, timeout=5, check=False).stdout.strip()
        if commit:
            out["git_commit"] = commit
    except (OSError, subprocess.SubprocessError):
        pass
    return out


class _Steps:
    """Progress over the report's steps, and the record of what each cost."""

    def __init__(self, total: int, progress: Callable[[int, int], None] | None) -> None:
        self.total, self.done, self.progress = total, 0, progress
        self.timings: dict[str, float] = {}

    def step(self, name: str, t0: float) -> None:
        self.timings[name] = round(time.perf_counter() - t0, 2)
        self.done += 1
        if self.progress is not None:
            self.progress(self.done, self.total)


def _optional(module: str, name: str) -> Any | None:
    """`module.name` if that part of simlab is installed (the report fills what exists)."""
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return None


def _figure(fig: Any, fmt: str = "svg") -> str:
    if fmt == "svg":
        return figures.figure_svg(fig)
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    return f'<img alt="figure" src="data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}">'


def build_report(
    scenario: Scenario | str | Path | None = None,
    out_dir: str | Path | None = None,
    *,
    quick: bool = False,
    seed: int | None = None,
    replications: int | None = None,
    live: bool = True,
    url: str | None = None,
    plan: bool = True,
    progress: Callable[[int, int], None] | None = None,
    scenario_file: str | Path | None = None,
) -> Report:
    """Run `scenario` (the default service when None) end to end and write
    `<out_dir>/index.html`, `summary.json` and one CSV per figure or table. `live=False`
    skips the live validation, `plan=False` the capacity plan (their sections say so)."""
    from simlab.model.run import simulate, simulate_day_fast

    if scenario is None or isinstance(scenario, str | Path):
        from simlab.paths import DEFAULT_SCENARIO

        scenario_file = scenario_file or scenario or DEFAULT_SCENARIO
        sc = load_scenario(scenario_file)
    else:
        sc = scenario
    cfg = ReportSettings.for_mode(sc, quick)
    reps = replications or cfg.replications
    seed = sc.run.seed if seed is None else seed
    out = Path(out_dir) if out_dir is not None else default_out_dir(sc)
    data = out / "data"
    data.mkdir(parents=True, exist_ok=True)
    steps = _Steps(8, progress)
    problems: list[str] = []
    slo_ms = sc.slo.latency_p99_ms
    ctx: dict[str, Any] = {"title": f"Capacity report: {sc.name}", "scenario": sc, "sections": {}}
    summary: dict[str, Any] = {"scenario": sc.name, "description": sc.description, "seed": seed, "quick": quick,
                               "scenario_file": None if scenario_file is None else str(scenario_file)}

    # The capacity plan runs on its own Dask workers (processes) while this process simulates the
    # steps below: on two cores the planner's long search overlaps the rest instead of adding to
    # it. It is joined before the live validation, which needs the machine quiet to measure.
    plan_problems: list[str] = []
    plan_summary: dict[str, Any] = {}
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="simlab-plan") if plan else None
    plan_future = pool.submit(_plan, sc, cfg, data, plan_summary, plan_problems) if pool is not None else None

    # 1. the run, with replications ------------------------------------------------------------
    t0 = time.perf_counter()
    result = simulate(sc, seed=seed, duration_s=cfg.duration_s, warmup_s=cfg.warmup_s, replications=reps)
    result.summary.to_csv(data / "latency_summary.csv", index=False)
    if result.ci is not None:
        result.ci.to_csv(data / "ci95.csv", index=False)
    cdf = result.extra.get("latency_cdf")
    if cdf is not None:
        cdf.to_csv(data / "latency_cdf.csv", index=False)
    o = result.overall
    summary["run"] = _clean({"duration_s": cfg.duration_s, "warmup_s": cfg.warmup_s, "replications": reps,
                             "model": result.model, "wall_s": result.wall_s,
                             **{k: o[k] for k in ("requests", "throughput_rps", "p50_ms", "p90_ms", "p99_ms",
                                                  "p999_ms", "max_ms", "hit_ratio", "error_rate", "rejected_rate")},
                             "ci95": _records(result.ci), "overload": getattr(result, "overload", {})})
    pcts = {"P50": o["p50_ms"], "P90": o["p90_ms"], "P99": o["p99_ms"], "P99.9": o["p999_ms"]}
    ctx["sections"]["latency"] = {
        "fig_percentiles": _figure(figures.latency_percentiles(result, slo_ms)),
        "fig_cdf": None if cdf is None else _figure(figures.latency_cdf(cdf, slo_ms, pcts)),
        "table": _html_table(result.summary[["group", "kind", "requests", "throughput_rps", "p50_ms", "p90_ms", "p99_ms",
                                             "p999_ms", "max_ms", "hit_ratio", "error_rate", "rejected_rate"]],
                             percent=("error_rate", "rejected_rate")),
        "ci": None if result.ci is None else _html_table(result.ci),
        "reps": reps,
    }
    if sc.reference is not None:
        ref = sc.reference
        rows = [{"figure": k, "reference": getattr(ref, k), "simulated": o[k],
                 "difference_pct": (o[k] - getattr(ref, k)) / getattr(ref, k) * 100 if getattr(ref, k) else None}
                for k in ("p50_ms", "p90_ms", "p99_ms", "max_ms", "error_rate") if getattr(ref, k) is not None]
        summary["reference"] = {"source": ref.source, "rows": _clean(rows)}
        ctx["sections"]["latency"]["reference"] = _html_table(pd.DataFrame(rows))
        ctx["sections"]["latency"]["reference_source"] = ref.source
    steps.step("simulation", t0)

    # 2. SLOs and error budgets ----------------------------------------------------------------
    t0 = time.perf_counter()
    evaluate_slos = _optional("simlab.slo", "evaluate_slos")
    slo_sec: dict[str, Any] = {}
    if evaluate_slos is not None:
        rep = evaluate_slos(sc, result)
        doc = _clean(rep.to_dict())
        verdicts = [{**ob, "met": bool(ob.get("met"))} for ob in doc["objectives"]]
        rep.table.to_csv(data / "slo.csv", index=False)
        rep.burn_down.to_csv(data / "burn_down.csv", index=False)
        slo_sec = {"table": _html_table(rep.table, percent=("target", "achieved", "budget_remaining")),
                   "window": doc.get("window"), "warnings": doc.get("warnings", []),
                   "fig_burn": _figure(figures.burn_down(rep))}
        summary["slo"] = doc
        alerts = _slo_alerts(sc, result, rep, problems)
        if alerts is not None:
            slo_sec["alerts"] = alerts["html"]
            summary["alerts"] = alerts["doc"]
    else:
        from simlab.cli import slo_verdict

        verdicts = [{"name": n, "target": t, "achieved": m, "met": bool(ok)} for n, t, m, ok in slo_verdict(result, sc.slo)]
        problems.append("error budgets: simlab.slo is not installed; verdicts only")
    summary["slo_verdicts"] = verdicts
    summary["slos_met"] = all(v["met"] for v in verdicts)
    slo_sec["verdicts"] = verdicts
    ctx["sections"]["slo"] = slo_sec
    steps.step("slo", t0)

    # 3. cost ----------------------------------------------------------------------------------
    t0 = time.perf_counter()
    cost_of = _optional("simlab.cost", "cost_of")
    cost_sec: dict[str, Any] = {}
    if cost_of is not None and sc.cost is not None:
        try:
            cr = cost_of(sc, result)
            cdoc = _clean(cr.to_dict())
            summary["cost"] = cdoc
            cr.table.to_csv(data / "cost.csv", index=False)
            cost_sec = {"doc": cdoc, "table": _html_table(cr.table, nd=6),
                        "fig": _figure(figures.cost_breakdown(cr.breakdown, cr.monthly_cost_usd,
                                                              cr.cost_per_million_requests_usd))}
        except Exception as err:  # noqa: BLE001 - shown on the page and in summary.json
            problems.append(f"cost: {type(err).__name__}: {err}")
    elif sc.cost is None:
        problems.append("cost: the scenario has no `cost:` block")
    else:
        problems.append("cost: simlab.cost is not installed")
    ctx["sections"]["cost"] = cost_sec
    steps.step("cost", t0)

    # 4. percentiles against offered load ------------------------------------------------------
    t0 = time.perf_counter()
    curve = load_curve(sc, cfg.load_factors, seed=seed, window_s=cfg.load_window_s,
                       warmup_accesses=cfg.load_warmup_accesses)
    curve.table.to_csv(data / "load_curve.csv", index=False)
    summary["load_curve"] = _clean(curve.to_dict())
    ctx["sections"]["load"] = {"fig": _figure(figures.percentiles_vs_load(curve, slo_ms)), "curve": curve,
                               "table": _html_table(curve.table, percent=("error_rate", "rejected_rate"))}
    steps.step("load curve", t0)

    # 5. miss-ratio curve ----------------------------------------------------------------------
    t0 = time.perf_counter()
    mrc = scenario_mrc(sc, requests=cfg.mrc_requests, seed=seed)
    mrc_df = pd.DataFrame({"memory_bytes": mrc.cache_sizes, "hit_ratio": mrc.hit_ratios})
    mrc_df.to_csv(data / "mrc.csv", index=False)
    half = None
    if result.ci is not None:
        hr = result.ci[result.ci["metric"] == "hit_ratio"]
        half = float(hr["half_width_95"].iloc[0]) if len(hr) else None
    mm = sc.cache.maxmemory_bytes
    summary["mrc"] = _clean({"maxmemory_bytes": mm, "policy": sc.cache.maxmemory_policy,
                             "lru_hit_ratio_at_maxmemory": mrc.hit_ratio(mm) if mm else None,
                             "simulated_hit_ratio": o["hit_ratio"], "simulated_hit_ratio_half_width_95": half,
                             "requests": cfg.mrc_requests})
    ctx["sections"]["mrc"] = {"fig": _figure(figures.miss_ratio_curve(mrc, mm, o["hit_ratio"], half)),
                              "doc": summary["mrc"]}
    steps.step("mrc", t0)

    # 6. the 24-hour heatmap -------------------------------------------------------------------
    t0 = time.perf_counter()
    ctx["sections"]["heatmap"] = _heatmap(sc, seed, cfg, data, summary, problems, simulate_day_fast)
    steps.step("heatmap", t0)

    # 7. capacity plan -------------------------------------------------------------------------
    t0 = time.perf_counter()
    if plan_future is not None and pool is not None:
        ctx["sections"]["plan"] = plan_future.result()
        pool.shutdown()
        summary.update(plan_summary)
        problems.extend(plan_problems)
    else:
        ctx["sections"]["plan"] = {}
        problems.append("capacity plan: skipped (--no-plan)")
    steps.step("plan", t0)

    # 8. live validation -----------------------------------------------------------------------
    t0 = time.perf_counter()
    ctx["sections"]["validation"] = _validation(sc, live, url, data, summary, problems) if live else {}
    if not live:
        problems.append("validation: skipped (--no-live)")
    steps.step("validation", t0)

    summary["executive_summary"] = executive_summary(sc, summary, curve)
    summary["versions"] = _versions()
    summary["generated_utc"] = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    summary["timings_s"] = steps.timings
    summary["problems"] = problems
    ctx["summary"] = summary
    ctx["scenario_yaml"] = Path(scenario_file).read_text() if scenario_file else json.dumps(
        sc.model_dump(mode="json"), indent=2)
    html = _render(ctx)
    html_path = out / "index.html"
    html_path.write_text(html)
    (out / "summary.json").write_text(json.dumps(_clean(summary), indent=2, default=str) + "\n")
    return Report(html_path=html_path, data_dir=data, summary=_clean(summary), problems=problems)


def executive_summary(sc: Scenario, summary: dict[str, Any], curve: LoadCurve) -> str:
    """The page's first paragraph, from figures in `summary` (so it is in summary.json too):
    will it meet its SLOs, for how much growth, at what cost, what breaks first."""
    parts = []
    missed = [v["name"] for v in summary["slo_verdicts"] if not v["met"]]
    run = summary["run"]
    parts.append(("Meets all its SLOs" if not missed else "Misses SLOs: " + ", ".join(missed))
                 + f" at today's {curve.base_rps:,.0f} requests/s (P99 {run['p99_ms']:.0f} ms against "
                 f"{sc.slo.latency_p99_ms:g} ms; {run['error_rate'] * 100:.3f} % errors).")
    if curve.breaking_rps is not None:
        parts.append(f"P99 reaches the SLO at about {curve.breaking_rps:,.0f} requests/s "
                     f"({curve.headroom_factor:.2f}x today's traffic).")
    else:
        top = curve.table["factor"].max()
        parts.append(f"P99 stays under the SLO up to {top:g}x today's traffic, the highest load simulated.")
    if curve.knee_rps is not None:
        parts.append(f"The latency knee is at about {curve.knee_rps:,.0f} requests/s.")
    plan = summary.get("plan")
    if plan and plan.get("today_holds_to_growth") is not None:
        parts.append(f"Today's configuration keeps every SLO up to {plan['today_holds_to_growth']:g}x growth "
                     "(traffic and keys, with the planner's headroom).")
    if plan and plan.get("binding"):
        parts.append(f"What breaks first: {plan['binding']}.")
    else:
        t = curve.table
        last = t.iloc[-1]
        if last.get("busiest_resource"):
            parts.append(f"What breaks first: {last['busiest_resource']} (offered load "
                         f"{last['busiest_offered_load']:.2f} at {last['factor']:g}x).")
    val = summary.get("validation") or {}
    if "passed" in val:
        parts.append("The live validation against the engine "
                     + ("agrees with the prediction within its tolerances." if val["passed"] else
                        "disagrees with the prediction beyond its tolerances (see Predicted against measured)."))
    cost = summary.get("cost")
    if cost:
        cpm = cost.get("cost_per_million_requests_usd")
        parts.append(f"Cost ${cost['monthly_cost_usd']:,.2f} per month"
                     + (f", ${cpm:,.4f} per million requests" if cpm is not None else "") + ".")
    return " ".join(parts)


def _slo_alerts(sc: Scenario, result: Any, rep: Any, problems: list[str]) -> dict[str, Any] | None:
    """Burn-rate alerts over the run (simlab.slo.alerts), when that module is installed."""
    mod = None
    try:
        mod = importlib.import_module("simlab.slo.alerts")
    except ImportError:
        problems.append("burn-rate alerts: simlab.slo.alerts is not installed")
        return None
    fn = getattr(mod, "evaluate_alerts", None)
    if fn is None:
        problems.append("burn-rate alerts: simlab.slo.alerts has no evaluate_alerts")
        return None
    try:
        alerts = fn(sc, result)
    except Exception as err:  # noqa: BLE001 - shown on the page and in summary.json
        problems.append(f"burn-rate alerts: {type(err).__name__}: {err}")
        return None
    table = getattr(alerts, "table", None)
    doc = alerts.to_dict() if hasattr(alerts, "to_dict") else {}
    return {"html": _html_table(table) if isinstance(table, pd.DataFrame) else "", "doc": _clean(doc)}


def _heatmap(sc: Scenario, seed: int, cfg: ReportSettings, data: Path, summary: dict[str, Any],
             problems: list[str], simulate_day_fast: Callable[..., Any]) -> dict[str, Any]:
    """The seed's 24-hour P99 strip from the day scenario (the service's diurnal shape)."""
    hourly_heatmap = _optional("simlab.day", "hourly_heatmap")
    simulate_day = _optional("simlab.day", "simulate_day") or simulate_day_fast
    if hourly_heatmap is None:
        problems.append("24-hour heatmap: hourly_heatmap is not installed")
        return {}
    day_file = SCENARIOS_DIR / f"{sc.name}-day.yaml"
    day_sc = load_scenario(day_file) if day_file.exists() else sc
    day = simulate_day(day_sc, seed=seed, window_s=cfg.day_window_s)
    hm = hourly_heatmap(day, sc.slo.latency_p99_ms)
    table = hm.table if hasattr(hm, "table") else hm
    table.to_csv(data / "heatmap.csv", index=False)
    summary["heatmap"] = {"scenario": day_sc.name, "hours": _records(table)}
    return {"fig": _figure(figures.hourly_p99_heatmap(table, sc.slo.latency_p99_ms)), "scenario": day_sc.name,
            "table": _html_table(table)}


def _plan(sc: Scenario, cfg: ReportSettings, data: Path, summary: dict[str, Any], problems: list[str]) -> dict[str, Any]:
    plan_capacity = _optional("simlab.plan", "plan_capacity")
    if plan_capacity is None:
        problems.append("capacity plan: simlab.plan is not installed")
        return {}
    try:
        plan = plan_capacity(sc, budget=cfg.plan_budget, seed=sc.run.seed, progress=False)
    except Exception as err:  # noqa: BLE001 - shown on the page and in summary.json
        problems.append(f"capacity plan: {type(err).__name__}: {err}")
        return {}
    plan.table.to_csv(data / "plan.csv", index=False)
    doc = _clean(plan.to_dict()) if hasattr(plan, "to_dict") else {}
    rows = _records(plan.table)
    # today's configuration: the largest growth it still serves, and what binds at the next one
    holds = [r for r in rows if r.get("today_meets_slos") is True]
    fails = [r for r in rows if r.get("today_meets_slos") is False]
    binding = None
    if fails:
        f = fails[0]
        binding = (f"{f.get('today_binding_resource') or 'a resource'} ({f.get('today_binding_slo') or 'an'} SLO) "
                   f"at {f['growth']:g}x growth")
    summary["plan"] = {**doc, "rows": rows, "binding": binding,
                       "today_holds_to_growth": max((r["growth"] for r in holds), default=None)}
    return {"table": _html_table(plan.table)}


def _validation(sc: Scenario, live: bool, url: str | None, data: Path, summary: dict[str, Any],
                problems: list[str]) -> dict[str, Any]:
    validate = _optional("simlab.validate", "validate")
    if validate is not None:
        try:
            v = validate(sc, target=url, quick=True)
        except Exception as err:  # noqa: BLE001 - shown on the page and in summary.json
            problems.append(f"validation: {type(err).__name__}: {err}")
            return {}
        v.table.to_csv(data / "validation.csv", index=False)
        summary["validation"] = {"passed": bool(v.passed), "rows": _records(v.table)}
        return {"table": _html_table(v.table), "fig": _figure(figures.predicted_vs_measured(v.table)),
                "passed": bool(v.passed)}
    # before simlab.validate: the per-command service times of a live server against the model's
    from simlab.load.probe import probe_embedded, probe_url

    problems.append("validation: simlab.validate is not installed; per-command probe only")
    probe = probe_url(url) if url else probe_embedded()
    t = probe.commandstats.copy()
    service = {k.upper(): v for k, v in sc.cache.service_time_us.items()}
    t["scenario_usec_mean"] = [getattr(service.get(c.upper(), service.get("DEFAULT")), "mean", None) for c in t["command"]]
    t.to_csv(data / "probe.csv", index=False)
    summary["validation"] = {"probe": {"server": probe.server, "requests": probe.requests,
                                       "throughput_rps": probe.throughput_rps, "rows": _records(t)}}
    return {"probe_table": _html_table(t), "probe_server": probe.server}


def _render(ctx: dict[str, Any]) -> str:
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(["html", "j2"]))
    env.filters["pct"] = lambda x, nd=3: "-" if x is None else f"{x * 100:.{nd}f} %"
    env.filters["num"] = lambda x, nd=4: "-" if x is None else (f"{x:,.{nd}g}" if isinstance(x, float) else str(x))
    return env.get_template("report.html.j2").render(sections_order=SECTIONS, **ctx)
