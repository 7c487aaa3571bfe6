"""`simlab plan`, `simlab sweep`, `simlab day` and `simlab scale-whatif`: thin commands over
`simlab.plan`, `simlab.sweep` and `simlab.day`, registered on the `simlab` app by
`simlab.cli` (kept apart so the capacity commands read in one place).

    simlab plan [FILE] [--growth 1,2,5,10] [--headroom 0.25] [--budget quick|full]
                [--pricing TABLE] [--scheduler tcp://host:8786] [--serial] [--no-cache] [--json]
    simlab sweep FILE --set cache.maxmemory_bytes=67108864,134217728 --set backend.concurrency=32,64
                 [--seeds 0,1] [--steady] [--duration S] [--scheduler ADDR] [--serial] [--json]
    simlab day [FILE] [--seed N] [--window 60] [--json]
    simlab scale-whatif [FILE] [--pods 3] [--json]
"""

from __future__ import annotations

import itertools
import json
import math
import sys
from pathlib import Path
from typing import Any

import typer
import yaml
from rich.console import Console
from rich.table import Table

from simlab.cli import app
from simlab.paths import DEFAULT_SCENARIO, SCENARIOS_DIR

__all__ = ["day", "plan", "scale_whatif", "sweep"]

DAY_SCENARIO = SCENARIOS_DIR / "redis-cache-service-day.yaml"


def _quiet() -> bool:
    flags = getattr(sys.modules["simlab.cli"], "_Flags", None)
    return bool(getattr(flags, "quiet", False))


def _load(file: Path):
    import simlab.cli as cli

    return cli._load(file)


def _bad(message: str) -> Exception:
    import simlab.cli as cli

    err_type = getattr(cli, "CliError", None)
    if err_type is not None:
        return err_type(message)
    return typer.BadParameter(message)


def _console() -> Console:
    c = Console()
    return c if c.is_terminal else Console(width=200)


def _floats(text: str, option: str) -> list[float]:
    try:
        out = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise _bad(f"{option} {text!r}: expected comma-separated numbers") from None
    if not out or min(out) <= 0:
        raise _bad(f"{option} {text!r}: expected numbers > 0")
    return out


def _fmt(v: Any, nd: int = 3) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return "-" if not math.isfinite(v) else f"{v:.{nd}g}"
    return str(v)


@app.command()
def plan(
    file: Path = typer.Argument(DEFAULT_SCENARIO, help="scenario YAML (default: the seed's service)"),
    growth: str = typer.Option("1,2,5,10", help="growth factors (traffic and keyspace), comma-separated"),
    headroom: float = typer.Option(0.25, min=0, help="SLOs must hold at growth x (1 + headroom) traffic"),
    budget: str = typer.Option("full", help="quick (~40 s) or full"),
    pricing: str | None = typer.Option(None, help="price table name in data/pricing/ or a path (default: the scenario's)"),
    scheduler: str | None = typer.Option(None, help="Dask scheduler address (default: a 2-worker LocalCluster)"),
    serial: bool = typer.Option(False, "--serial", help="simulate in this process, no Dask"),
    no_cache: bool = typer.Option(False, "--no-cache", help="do not read or write the sweep cache"),
    seed: int = typer.Option(0, min=0),
    as_json: bool = typer.Option(False, "--json", help="print one JSON document"),
) -> None:
    """Cheapest configuration meeting every SLO at each growth factor, the binding SLO and
    resource, and the knee. Exit 1 if some growth factor has no compliant configuration."""
    from simlab.plan import plan_capacity
    from simlab.sweep import DEFAULT_CACHE_DIR

    if budget not in ("quick", "full"):
        raise _bad(f"--budget {budget!r}: expected quick or full")
    sc = _load(file)
    factors = _floats(growth, "--growth")
    p = plan_capacity(sc, growth=factors, headroom=headroom, budget=budget, pricing=pricing, scheduler=scheduler,  # type: ignore[arg-type]
                      parallel=not serial, cache_dir=None if no_cache else DEFAULT_CACHE_DIR, seed=seed,
                      progress=not (_quiet() or as_json))
    ok = all(a.config is not None for a in p.answers)
    if as_json:
        sys.stdout.write(json.dumps(p.to_dict(), indent=2) + "\n")
        raise typer.Exit(0 if ok else 1)
    if _quiet():
        raise typer.Exit(0 if ok else 1)
    console = _console()
    t = Table(title=f"capacity plan: {sc.name}, headroom {headroom:.0%}, prices {p.pricing_source}")
    cols = ["growth", "today", "today binds", "maxmemory", "policy", "shards", "backend pool", "instance",
            "$/month", "binds", "knee (x today)", "SLO knee", "P99 ms", "hit ratio", "simulated"]
    pooled = any("client_pool.max_connections" in (a.config or {}) for a in p.answers)
    if pooled:
        cols.insert(cols.index("backend pool") + 1, "client pool")
    for c in cols:
        t.add_column(c, justify="right")
    for a in p.answers:
        cfg: dict[str, Any] = a.config or {}
        cells = [
            f"{a.growth:g}x", "meets SLOs" if a.baseline_met else "misses",
            f"{a.baseline_binding_slo or '-'} / {a.baseline_binding_resource}",
            f"{cfg['cache.maxmemory_bytes'] / 2**20:g} MiB" if cfg else "-", _fmt(cfg.get("cache.maxmemory_policy")),
            _fmt(cfg.get("cache.shards")), _fmt(cfg.get("backend.concurrency")), _fmt(a.figures.get("instance")),
            _fmt(a.monthly_cost_usd, 4), f"{a.binding_slo or '-'} / {a.binding_resource or '-'}",
            _fmt(a.knee_growth), _fmt(a.slo_knee_growth), _fmt(a.figures.get("p99_ms"), 4),
            _fmt(a.figures.get("hit_ratio")), str(a.simulated),
        ]
        if pooled:
            cells.insert(cols.index("client pool"), _fmt(cfg.get("client_pool.max_connections")))
        t.add_row(*cells)
    console.print(t)
    for a in p.answers:
        if a.note:
            console.print(f"{a.growth:g}x: {a.note}")
        if a.memory is not None:
            m = a.memory
            console.print(f"{a.growth:g}x memory per instance: peak {m.peak_bytes / 2**20:.0f} MiB "
                          f"(dataset {m.dataset_bytes / 2**20:.0f}, per-key {m.key_overhead_bytes / 2**20:.0f}, "
                          f"fragmentation {m.fragmentation_bytes / 2**20:.0f}, fork copy-on-write {m.cow_bytes / 2**20:.0f})")
    tm = p.today_memory
    if tm is not None and tm.container_limit_bytes:
        verdict = "[red]OOM-killed during a snapshot[/red]" if tm.oom_during_snapshot else "survives a snapshot"
        console.print(f"today's pod: peak {tm.peak_bytes / 2**20:.0f} MiB during a fork against its "
                      f"{tm.container_limit_bytes / 2**20:.0f} MiB limit: {verdict}")
    for n in p.notes:
        console.print(f"[dim]{n}[/dim]")
    console.print(f"{p.simulated} configurations simulated, {p.cached} from the cache, {p.wall_s:.0f} s")
    raise typer.Exit(0 if ok else 1)


def _parse_set(values: list[str]) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for v in values:
        if "=" not in v:
            raise _bad(f"--set {v!r}: expected path=value[,value...]")
        key, _, rhs = v.partition("=")
        out[key.strip()] = [yaml.safe_load(x) for x in rhs.split(",")]
    return out


@app.command()
def sweep(
    file: Path = typer.Argument(..., help="scenario YAML"),
    set_: list[str] = typer.Option([], "--set", help="dotted.path=v1,v2 (repeatable; the grid is their product)"),
    seeds: str = typer.Option("0", help="seeds, comma-separated"),
    steady: bool = typer.Option(False, "--steady", help="short steady-state windows instead of the scenario's run"),
    duration: float | None = typer.Option(None, min=0.001, help="seconds per point (window with --steady)"),
    scheduler: str | None = typer.Option(None, help="Dask scheduler address (default: a 2-worker LocalCluster)"),
    serial: bool = typer.Option(False, "--serial", help="simulate in this process, no Dask"),
    no_cache: bool = typer.Option(False, "--no-cache", help="do not read or write the result cache"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON document"),
) -> None:
    """Simulate the scenario over a grid of configurations and seeds, in parallel, cached."""
    from simlab.sweep import DEFAULT_CACHE_DIR, SimSettings, run_sweep

    sc = _load(file)
    grid = _parse_set(set_)
    keys = list(grid)
    configs = [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*grid.values())] if keys else [{}]
    try:
        seed_list = [int(x) for x in seeds.split(",") if x.strip()]
    except ValueError:
        raise _bad(f"--seeds {seeds!r}: expected comma-separated integers") from None
    settings = SimSettings(mode="steady" if steady else "run", duration_s=duration,
                           warmup_accesses=400_000 if steady else None)
    res = run_sweep(sc, configs, seeds=seed_list, settings=settings, scheduler=scheduler, parallel=not serial,
                    cache_dir=None if no_cache else DEFAULT_CACHE_DIR, progress=not (_quiet() or as_json))
    if as_json:
        sys.stdout.write(json.dumps(res.to_dict(), indent=2) + "\n")
        return
    if _quiet():
        return
    console = _console()
    t = Table(title=f"sweep of {sc.name}: {res.simulated} simulated, {res.cached} from the cache, {res.wall_s:.1f} s")
    cols = [f"cfg.{k}" for k in keys] + ["seed", "throughput_rps", "p50_ms", "p99_ms", "hit_ratio", "error_rate", "slo_met", "cached"]
    for c in cols:
        t.add_column(c.removeprefix("cfg."), justify="right")
    for row in res.table.to_dict("records"):
        t.add_row(*[_fmt(row.get(c), 4) for c in cols])
    console.print(t)


@app.command()
def day(
    file: Path = typer.Argument(DAY_SCENARIO, help="scenario YAML (default: the seed's service over a day)"),
    seed: int | None = typer.Option(None, min=0),
    window: float = typer.Option(60.0, help="seconds simulated per hour (must divide 3600)"),
    as_json: bool = typer.Option(False, "--json", help="print the hourly heatmap data as JSON"),
) -> None:
    """A 24-hour day: hourly P50/P90/P99/max and the seed's heatmap bands against the latency SLO."""
    from simlab.day import BANDS, heatmap_dict, hourly_heatmap, simulate_day

    sc = _load(file)
    if window <= 0 or abs(3600.0 / window - round(3600.0 / window)) > 1e-9:
        raise _bad(f"--window {window:g}: must divide 3600 seconds")
    result = simulate_day(sc, seed=seed, window_s=window)
    slo_ms = sc.slo.latency_p99_ms
    if as_json:
        doc = {"scenario": sc.name, "seed": result.seed, "overall": result.to_dict(), "heatmap": heatmap_dict(result, slo_ms)}
        sys.stdout.write(json.dumps(doc, indent=2, default=str) + "\n")
        return
    if _quiet():
        return
    df = hourly_heatmap(result, slo_ms)
    console = _console()
    t = Table(title=f"{sc.name}: 24 hours, {window:g} s simulated per hour, SLO P99 < {slo_ms:g} ms")
    for c in ("hour", "rps", "P50 ms", "P90 ms", "P99 ms", "max ms", "P99/SLO", "band"):
        t.add_column(c, justify="right")
    for r in df.to_dict("records"):
        t.add_row(f"{r['hour']:02d}", f"{r['throughput_rps']:.0f}", _fmt(r["p50_ms"], 4), _fmt(r["p90_ms"], 4),
                  _fmt(r["p99_ms"], 4), _fmt(r["max_ms"], 4), f"{r['p99_over_slo'] * 100:.0f}%", f"{r['symbol']} {r['band']}")
    console.print(t)
    console.print("hourly P99 " + "".join(df["symbol"]) + "   " + "  ".join(f"{s} {n}" for n, _, s in BANDS))


@app.command("scale-whatif")
def scale_whatif(
    file: Path = typer.Argument(DEFAULT_SCENARIO, help="scenario YAML (default: the seed's service)"),
    pods: int = typer.Option(3, min=2, help="replicas of the Deployment (kubectl scale --replicas=N)"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """What `kubectl scale deployment/redis --replicas=N` does: N independent caches behind a
    load balancer, against today's instance and an N-shard cluster."""
    from simlab.plan import scale_out_whatif

    sc = _load(file)
    df = scale_out_whatif(sc, pods=pods)
    if as_json:
        sys.stdout.write(df.to_json(orient="records", indent=2) + "\n")
        return
    if _quiet():
        return
    t = Table(title=f"kubectl scale deployment/redis --replicas={pods}: {sc.name}")
    for c in df.columns:
        t.add_column(c, justify="right")
    for r in df.to_dict("records"):
        t.add_row(*[_fmt(v, 4) for v in r.values()])
    _console().print(t)
