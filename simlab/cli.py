"""The `simlab` command. Thin: it parses arguments, calls the library and prints.

    simlab run FILE [--seed N] [--duration S] [--model auto|simpy|vector] [--json]
    simlab schema
    simlab report [FILE]
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from simlab.cli_slo import cost_json, slo_app, slo_json
from simlab.paths import DEFAULT_SCENARIO
from simlab.results import RunResult
from simlab.scenario import ScenarioError, load_scenario, scenario_json_schema

__all__ = ["DEFAULT_SCENARIO", "app", "main", "reference_table", "slo_verdict"]


app = typer.Typer(add_completion=False, no_args_is_help=True, help="Discrete-event simulation of a cache service.")
app.add_typer(slo_app, name="slo")  # simlab slo check / rules / import (simlab.cli_slo)


def _fmt(v: Any, nd: int = 3) -> str:
    if isinstance(v, float):
        if math.isnan(v):
            return "-"
        return f"{v:.{nd}f}" if abs(v) < 1e6 else f"{v:.3g}"
    return str(v)


def results_table(result: RunResult) -> Table:
    """The results as a rich table: one row for the service, per source, per flow."""
    t = Table(title=f"{result.scenario}: seed {result.seed}, {result.duration_s:g} s simulated ({result.model})")
    cols = ["group", "requests", "throughput_rps", "p50_ms", "p90_ms", "p99_ms", "p999_ms", "max_ms",
            "hit_ratio", "error_rate", "rejected_rate"]
    for c in cols:
        t.add_column(c, justify="left" if c == "group" else "right")
    for row in result.summary.to_dict("records"):
        cells = []
        for c in cols:
            v = row[c]
            if c in ("error_rate", "rejected_rate") and isinstance(v, float):
                cells.append(f"{v * 100:.3f}%")
            elif c == "hit_ratio":
                cells.append(_fmt(v, 4))
            elif c == "throughput_rps":
                cells.append(_fmt(v, 1))
            else:
                cells.append(_fmt(v))
        t.add_row(*cells)
    return t


def resources_table(result: RunResult) -> Table:
    t = Table(title="resources")
    cols = ["resource", "servers", "throughput_rps", "utilisation", "mean_in_system", "mean_wait_ms", "p99_wait_ms"]
    for c in cols:
        t.add_column(c, justify="left" if c == "resource" else "right")
    for row in result.resources.to_dict("records"):
        t.add_row(*[_fmt(row[c], 4) for c in cols])
    return t


def reference_table(result: RunResult, ref: Any) -> Table:
    """Simulated figures next to the scenario's reference (calibration) figures."""
    t = Table(title=f"simulation vs reference ({ref.source})" if ref.source else "simulation vs reference")
    for c in ("figure", "reference", "simulated", "difference"):
        t.add_column(c, justify="right")
    o = result.overall
    for key in ("p50_ms", "p90_ms", "p99_ms", "max_ms", "error_rate"):
        want = getattr(ref, key)
        if want is None:
            continue
        got = o[key]
        t.add_row(key, f"{want:g}", f"{got:.4g}", f"{(got - want) / want * 100:+.1f} %" if want else "-")
    return t


def slo_verdict(result: RunResult, slo: Any) -> list[tuple[str, str, str, bool]]:
    """(name, target, measured, met) for each SLO of the scenario."""
    o = result.overall
    availability = 1.0 - o["error_rate"]
    return [
        ("availability", f">= {slo.availability * 100:.2f}%", f"{availability * 100:.3f}%", availability >= slo.availability),
        ("latency P99", f"< {slo.latency_p99_ms:g} ms", f"{o['p99_ms']:.1f} ms", o["p99_ms"] < slo.latency_p99_ms),
        ("error rate", f"< {slo.error_rate * 100:.2f}%", f"{o['error_rate'] * 100:.3f}%", o["error_rate"] < slo.error_rate),
    ]


def _console() -> Console:
    """A console wide enough for the tables when stdout is not a terminal (pipes, tests)."""
    c = Console()
    return c if c.is_terminal else Console(width=200)


def _load(file: Path):
    try:
        return load_scenario(file)
    except ScenarioError as err:
        err_console = Console(stderr=True, width=200)
        err_console.print("[red]invalid scenario[/red]")
        err_console.print(str(err), markup=False, highlight=False)
        raise typer.Exit(2) from None


@app.command()
def run(
    file: Path = typer.Argument(..., help="scenario YAML"),
    seed: int | None = typer.Option(None, help="override run.seed"),
    duration: float | None = typer.Option(None, help="override run.duration_s (seconds)"),
    replications: int | None = typer.Option(None, help="override run.replications"),
    model: str | None = typer.Option(None, help="auto, simpy or vector"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON document"),
) -> None:
    """Simulate a scenario and print its results."""
    from simlab.model.run import simulate

    sc = _load(file)
    result = simulate(sc, seed=seed, duration_s=duration, replications=replications, model=model)
    if as_json:
        doc = result.to_dict()
        doc["slo"] = slo_json(sc, result)  # budgets and burn rates (simlab.slo)
        doc["cost"] = cost_json(sc, result)  # monthly cost and efficiency (simlab.cost)
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        return
    console = _console()
    console.print(results_table(result))
    console.print(resources_table(result))
    if result.ci is not None:
        t = Table(title=f"95 % confidence intervals over {0 if result.replications is None else len(result.replications)} replications")
        for c in ("metric", "mean", "half_width_95"):
            t.add_column(c, justify="right")
        for row in result.ci.to_dict("records"):
            t.add_row(row["metric"], _fmt(row["mean"], 4), _fmt(row["half_width_95"], 4))
        console.print(t)
    console.print(f"simulated in {result.wall_s:.2f} s wall")


@app.command()
def schema() -> None:
    """Print the JSON Schema of a scenario file."""
    sys.stdout.write(json.dumps(scenario_json_schema(), indent=2) + "\n")


@app.command()
def report(
    file: Path = typer.Argument(DEFAULT_SCENARIO, help="scenario YAML (default: the seed's service)"),
    seed: int | None = typer.Option(None),
    duration: float | None = typer.Option(None),
    url: str | None = typer.Option(None, help="probe this Redis URL instead of the embedded engine"),
    live: bool = typer.Option(True, help="probe a live server (the embedded engine unless --url)"),
) -> None:
    """Run a scenario (the default service unless given), print the results and SLO verdict,
    and probe a live server (the embedded cachelab engine by default) for the per-command
    service times the model assumes."""
    from simlab.model.run import simulate

    sc = _load(file)
    result = simulate(sc, seed=seed, duration_s=duration)
    console = _console()
    console.print(results_table(result))
    console.print(resources_table(result))
    t = Table(title="SLO verdict")
    for c in ("SLO", "target", "simulated", "verdict"):
        t.add_column(c)
    all_met = True
    for name, target, measured, met in slo_verdict(result, sc.slo):
        all_met &= met
        t.add_row(name, target, measured, "[green]met[/green]" if met else "[red]missed[/red]")
    console.print(t)
    if sc.reference is not None:
        console.print(reference_table(result, sc.reference))
    if live:
        console.print(live_table(sc, url))
    console.print("[green]all SLOs met[/green]" if all_met else "[red]SLOs missed[/red]")


def live_table(sc: Any, url: str | None) -> Table:
    """Server-side time per command on a live server (INFO commandstats) next to the
    scenario's assumed cache service time."""
    from simlab.load.probe import probe_embedded, probe_url

    probe = probe_url(url) if url else probe_embedded()
    t = Table(title=f"live probe: {probe.server}, {probe.requests} requests, {probe.throughput_rps:.0f} rps (one client)")
    for c in ("command", "calls", "server usec/call", "scenario usec (mean)"):
        t.add_column(c, justify="right")
    service = sc.cache.service_time_us
    for row in probe.commandstats.to_dict("records"):
        dist = service.get(row["command"].upper(), service.get("default"))
        mean = getattr(dist, "mean", None) if dist is not None else None
        t.add_row(row["command"], str(row["calls"]), f"{row['usec_per_call']:.2f}",
                  "-" if mean is None else f"{mean:.1f}")
    return t


def main() -> None:
    """Console-script entry point (`simlab = "simlab.cli:main"`)."""
    app()


# capacity planning, sweeps and the 24-hour day: `simlab plan | sweep | day | scale-whatif`
from simlab import cli_capacity as _cli_capacity  # noqa: E402,F401  (registers its commands on `app`)
from simlab.cli_live import register as _register_live  # noqa: E402  (simlab calibrate, simlab validate)

_register_live(app)
