"""`simlab slo`: SLOs, error budgets, burn-rate alerts and their Prometheus rules. Thin: it
parses arguments, calls `simlab.slo` and prints.

    simlab slo check FILE [--spec SLO_FILE] [--seed N] [--duration S] [--window-days D]
                          [--sloth-ticket] [--prehistory steady|none] [--json]
    simlab slo rules FILE_OR_SLO_SPEC [--out RULES.yaml] [--sloth-ticket] [--service NAME]
    simlab slo import SLO_SPEC

`check` exits 1 when an SLO is missed. Also here: `slo_json` / `cost_json`, the `slo` and
`cost` blocks of `simlab run --json`.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

import typer
import yaml
from rich.console import Console
from rich.table import Table

from simlab.results import RunResult
from simlab.scenario import Scenario, SloSpec, load_scenario

__all__ = ["alerts_table", "cost_json", "slo_app", "slo_json", "slo_table"]

slo_app = typer.Typer(add_completion=False, no_args_is_help=True,
                      help="SLOs: error budgets and burn rates of a run, burn-rate alerts, Prometheus rules.")


def slo_json(sc: Scenario, result: RunResult) -> dict[str, Any]:
    """The `slo` block of `simlab run --json` (`SloReport.to_dict`)."""
    from simlab.slo import evaluate_slos

    return evaluate_slos(sc, result).to_dict()


def cost_json(sc: Scenario, result: RunResult) -> dict[str, Any] | None:
    """The `cost` block of `simlab run --json`, None when the scenario names no price table."""
    from simlab.cost import cost_of

    if sc.cost is None or sc.cost.pricing is None or (sc.cost.pod is None and sc.cost.node_type is None):
        return None
    return cost_of(sc, result).to_dict()


def _pct(x: float | None, nd: int = 3) -> str:
    return "-" if x is None or (isinstance(x, float) and not math.isfinite(x)) else f"{x * 100:.{nd}f} %"


def slo_table(rep: Any) -> Table:
    """The SLO report as a rich table (one row per objective)."""
    t = Table(title=f"SLOs: {rep.window_kind} {rep.window_days:g}-day window, {rep.elapsed_days:g} days elapsed")
    for c in ("SLO", "SLI", "scope", "target", "achieved (95 % CI)", "budget left", "left (min of outage)",
              "burn 5m / 1h / run", "exhausted in", "verdict"):
        t.add_column(c, justify="left" if c in ("SLO", "SLI", "scope") else "right")
    for o in rep.objectives:
        lo, hi = o.achieved_ci95
        br = o.burn_rates
        exhaust = "-" if o.exhaustion_days is None else f"{o.exhaustion_days:.1f} d"
        verdict = "[green]met[/green]" if o.met else "[red]missed[/red]"
        if o.at_risk:
            verdict += " [yellow](at risk)[/yellow]"
        sli = o.sli if o.threshold_ms is None else f"{o.sli} <= {o.threshold_ms:g} ms"
        t.add_row(o.name, sli, o.scope, _pct(o.target), f"{_pct(o.achieved)} ({_pct(lo)}-{_pct(hi)})",
                  _pct(o.budget_remaining, 1), f"{o.budget_remaining_minutes:.1f}",
                  f"{br['5m']:.3g} / {br['1h']:.3g} / {o.burn_rate:.3g}", exhaust, verdict)
    return t


def alerts_table(rep: Any) -> Table:
    """Per injected incident and SLO: which alerts caught it, how fast, at what cost."""
    t = Table(title=f"burn-rate alerts on {len(rep.incidents)} injected incident(s)")
    for c in ("incident", "at s", "SLO", "severity", "detected", "delay s", "reset s", "budget before detection"):
        t.add_column(c, justify="left" if c in ("incident", "SLO", "severity") else "right")
    for r in rep.detections.to_dict("records"):
        det = "yes" if r["detected"] else ("already firing" if r["already_firing"] else "no")
        reset = "still firing" if r["still_firing_at_end"] else ("-" if r["reset_s"] != r["reset_s"] else f"{r['reset_s']:.0f}")
        t.add_row(f"{r['incident']} ({r['detail']})", f"{r['start_s']:.0f}", r["slo"], r["severity"], det,
                  "-" if r["delay_s"] != r["delay_s"] else f"{r['delay_s']:.0f}", reset,
                  _pct(r["budget_before_detection"], 2))
    return t


def _scenario(file: Path, spec: Path | None) -> tuple[Scenario, list[str]]:
    sc = load_scenario(file)
    if spec is None:
        return sc, []
    from simlab.slo.importers import import_slo_file

    imp = import_slo_file(spec)
    return imp.apply_to(sc), imp.warnings


@slo_app.command("check")
def check(
    file: Path = typer.Argument(..., help="scenario YAML"),
    spec: Path | None = typer.Option(None, "--spec", help="OpenSLO or sloth file replacing the scenario's SLOs"),
    seed: int | None = typer.Option(None, help="override run.seed"),
    duration: float | None = typer.Option(None, min=1.0, help="override run.duration_s (seconds)"),
    window_days: float | None = typer.Option(None, min=0.001, help="override the SLO window's length (days)"),
    sloth_ticket: bool = typer.Option(False, "--sloth-ticket", help="add sloth's 3x over 1d and 2h ticket alert"),
    prehistory: str = typer.Option("steady", help="windows before the run: 'steady' (the run's quiet rates) or 'none'"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON document"),
) -> None:
    """Simulate, then print each SLO's budget, burn rates and (with faults) alert detections; exit 1 if missed."""
    from simlab.model.run import simulate
    from simlab.slo import evaluate_slos
    from simlab.slo.alerts import evaluate_alerts

    sc, warnings = _scenario(file, spec)
    result = simulate(sc, seed=seed, duration_s=duration)
    rep = evaluate_slos(sc, result, window_days=window_days)
    alerts = (evaluate_alerts(sc, result, sloth_ticket=sloth_ticket, window_days=window_days, prehistory=prehistory)
              if sc.faults else None)
    if as_json:
        doc = {"scenario": sc.name, "slo": rep.to_dict(), "import_warnings": warnings,
               "alerts": None if alerts is None else alerts.to_dict()}
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        raise typer.Exit(0 if rep.met else 1)
    console = Console() if sys.stdout.isatty() else Console(width=200)
    for w in warnings + rep.warnings:
        console.print(f"[yellow]note:[/yellow] {w}", markup=True, highlight=False)
    console.print(slo_table(rep))
    if alerts is not None:
        console.print(alerts_table(alerts))
        for r in alerts.scores.to_dict("records"):
            prec = "-" if r["precision"] != r["precision"] else f"{r['precision']:.2f}"
            rec = "-" if r["recall"] != r["recall"] else f"{r['recall']:.2f}"
            console.print(f"{r['severity']}: {r['episodes']} firing episode(s), precision {prec}, "
                          f"recall {rec} ({r['detected']} of {r['incidents']} incidents)")
    console.print("[green]all SLOs met[/green]" if rep.met else "[red]SLOs missed[/red] (exit 1)")
    raise typer.Exit(0 if rep.met else 1)


@slo_app.command("rules")
def rules(
    source: Path = typer.Argument(..., help="a scenario YAML, or an OpenSLO / sloth SLO file"),
    out: Path | None = typer.Option(None, "--out", "-o", help="write the rules here instead of stdout"),
    sloth_ticket: bool = typer.Option(False, "--sloth-ticket", help="add sloth's 3x over 1d and 2h ticket alert"),
    service: str | None = typer.Option(None, help="the sloth_service label (default: the scenario's name)"),
) -> None:
    """Print Prometheus recording and alerting rules (sloth's naming) for the SLOs."""
    from simlab.slo.rules import prometheus_rules

    text = prometheus_rules(_rule_source(source), sloth_ticket=sloth_ticket, service=service)
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text)
        print(f"wrote {out}", file=sys.stderr)


def _rule_source(source: Path) -> Any:
    """A scenario, or the SLOs of an OpenSLO / sloth file."""
    from simlab.slo.importers import import_slo_file

    try:
        with source.open() as fh:
            head = next(yaml.safe_load_all(fh), None)
    except (OSError, yaml.YAMLError):
        head = None
    if isinstance(head, dict) and ("apiVersion" in head or "version" in head) and "sources" not in head:
        return import_slo_file(source)
    return load_scenario(source)


@slo_app.command("import")
def import_(spec: Path = typer.Argument(..., help="an OpenSLO or sloth SLO file")) -> None:
    """Show the scenario `slo:` block an OpenSLO / sloth file maps to, and every field that does not map."""
    from simlab.slo.importers import import_slo_file

    imp = import_slo_file(spec)
    block = SloSpec(window=imp.window, objectives=imp.objectives, service=imp.service,
                    alerts=imp.alerts or None).model_dump(
        mode="json", exclude_defaults=True)
    for o in block.get("objectives", []):
        if o.get("prometheus") is None:
            o.pop("prometheus", None)
    sys.stdout.write(f"# {imp.format}: {spec}\n")
    sys.stdout.write(yaml.safe_dump({"slo": block}, sort_keys=False, width=120))
    for w in imp.warnings:
        print(f"note: {w}", file=sys.stderr)
