"""The `simlab` command. Thin: it parses arguments, calls the library and prints.

    simlab run FILE [--seed N] [--duration S] [--replications N] [--model auto|simpy|vector] [--json]
    simlab report [FILE] [--out DIR] [--pdf] [--quick] [--no-live] [--url URL] [--json]
    simlab regress [FILE...] [--baseline DIR] [--update] [--junit FILE] [--markdown FILE]
    simlab server [redis-server style options]
    simlab schema

Global options (anywhere on the line): `--debug` shows the traceback of an error instead of
its one-line summary; `--quiet` prints no tables and no progress (the exit code says it all).

Exit codes, the same for every command (CI gates on them):
    0  done; every SLO met, no regression, validation agrees
    1  done, but an SLO is missed, a baseline regressed or predicted and measured disagree
    2  bad input: a scenario, trace, option or file that cannot be used (the line names it)
    3  the environment failed: a server or chromium could not be reached or started
    4  an internal error (a bug: rerun with --debug and report the traceback)
    5  `simlab validate` only: agreement not shown (a load point up to 70 % of saturation was
       an invalid run, or the machine's other work starved the saturation search)
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Any

import click
import typer
from rich.console import Console
from rich.table import Table
from typer.core import TyperGroup

from simlab.cli_slo import cost_json, slo_app, slo_json
from simlab.cost import CostError
from simlab.paths import DEFAULT_SCENARIO
from simlab.results import RunResult
from simlab.scenario import ScenarioError, load_scenario, scenario_json_schema
from simlab.slo import SloError, SloImportError

__all__ = [
    "DEFAULT_SCENARIO", "EXIT_BAD_INPUT", "EXIT_ENVIRONMENT", "EXIT_INTERNAL", "EXIT_MISSED", "EXIT_OK",
    "app", "main", "reference_table", "slo_verdict",
]

EXIT_OK = 0
EXIT_MISSED = 1
EXIT_BAD_INPUT = 2
EXIT_ENVIRONMENT = 3
EXIT_INTERNAL = 4



class ModelName(StrEnum):
    """The simulation solvers `simulate(model=...)` accepts."""

    auto = "auto"
    simpy = "simpy"
    vector = "vector"


try:  # typer >= 0.16 carries its own copy of click; its exceptions are the ones raised
    from typer._click import exceptions as _clickx
except ImportError:  # pragma: no cover - older typer runs on click itself
    from click import exceptions as _clickx  # type: ignore[no-redef]

_USAGE_ERRORS: tuple[type[Exception], ...] = tuple({_clickx.UsageError, click.exceptions.UsageError})
_NO_ARGS: tuple[type[Exception], ...] = tuple(
    {getattr(_clickx, "NoArgsIsHelpError", _clickx.UsageError), click.exceptions.NoArgsIsHelpError})
_ABORTS: tuple[type[BaseException], ...] = tuple({typer.Abort, click.exceptions.Abort})
_PASS_THROUGH: tuple[type[BaseException], ...] = (typer.Exit, click.exceptions.Exit, *_ABORTS, *_NO_ARGS)


class _Flags:
    """Global flags, set by `main` before a command runs (they may appear anywhere)."""

    debug = False
    quiet = False
    scenario_file = "<scenario>"


class CliError(Exception):
    """An error the user can fix: printed as one line, exits with `code`."""

    def __init__(self, message: str, code: int = EXIT_BAD_INPUT) -> None:
        super().__init__(message)
        self.code = code


class _Group(TyperGroup):
    """The command group: an error inside any command (its argument parsing included) becomes
    one line per problem on stderr and the documented exit code, whoever invokes the app
    (`main`, typer's CliRunner, a notebook); --debug lets the traceback through."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except _PASS_THROUGH:
            raise
        except Exception as err:
            if _Flags.debug:
                raise
            lines, code = _error_lines(err)
            for line in lines:
                print(f"simlab: error: {line}", file=sys.stderr)
            raise typer.Exit(code) from None


app = typer.Typer(cls=_Group, add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Discrete-event simulation of a cache service. Exit codes: 0 ok, 1 SLO missed or "
                       "regression, 2 bad input, 3 environment (server, chromium), 4 internal error.")


app.add_typer(slo_app, name="slo")  # simlab slo check / rules / import (simlab.cli_slo)


@app.callback()
def _global(
    debug: bool = typer.Option(False, "--debug", help="show tracebacks instead of one-line errors"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no tables, no progress; the exit code says it"),
) -> None:
    """Discrete-event simulation of a cache service."""
    _Flags.debug = _Flags.debug or debug
    _Flags.quiet = _Flags.quiet or quiet


@contextmanager
def progress_bar(label: str) -> Iterator[Callable[[int, int], None] | None]:
    """A progress bar on stderr fed by the library's `progress(done, total)` callbacks; None
    (no bar) with --quiet or when stderr is not a terminal. Elapsed time shows even while one
    long step runs."""
    console = Console(stderr=True)
    if _Flags.quiet or not console.is_terminal:  # a CI log or a pipe gets no bar frames
        yield None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, transient=True) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


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
    t = Table(title="resources (offered load = arrivals x mean service / servers; busy = measured)")
    cols = ["resource", "servers", "throughput_rps", "offered_load", "busy_fraction", "mean_queue_len",
            "mean_in_system", "mean_wait_ms", "p99_wait_ms", "shed"]
    for c in cols:
        t.add_column(c, justify="left" if c == "resource" else "right")
    for row in result.resources.to_dict("records"):
        t.add_row(*[_fmt(row.get(c, math.nan), 4) for c in cols])
    return t


def overload_lines(result: RunResult) -> list[str]:
    """What is over capacity or saturated, and what the model leaves unbounded (one line each)."""
    ov = result.overload or {}
    lines = [o["message"] for o in ov.get("over_capacity", []) + ov.get("saturated", [])]
    if lines:
        lines += [f"unbounded: {n}" for n in ov.get("unbounded", [])]
    return lines


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
    """The scenario at `file`; a ScenarioError goes to `main`, which prints one line per problem."""
    _Flags.scenario_file = str(file)
    return load_scenario(file)


# Options shared by the commands that simulate: validated by click, so a bad value is one line
# naming the option ("Invalid value for '--seed': -1 is not in the range x>=0.").
SEED_OPT = typer.Option(None, min=0, help="override run.seed (>= 0)")
def _positive(value: float | None) -> float | None:
    if value is not None and not value > 0:
        raise typer.BadParameter(f"{value:g} is not > 0 (seconds of simulated time)")
    return value


DURATION_OPT = typer.Option(None, callback=_positive, help="override run.duration_s (seconds, > 0)")
REPLICATIONS_OPT = typer.Option(None, min=1, help="override run.replications (>= 1)")
MODEL_OPT = typer.Option(None, case_sensitive=False, help="simulation solver")


@app.command()
def run(
    file: Path = typer.Argument(..., help="scenario YAML"),
    seed: int | None = SEED_OPT,
    duration: float | None = DURATION_OPT,
    replications: int | None = REPLICATIONS_OPT,
    model: ModelName | None = MODEL_OPT,
    as_json: bool = typer.Option(False, "--json", help="print one JSON document (with the SLO verdicts)"),
    target_ci: float | None = typer.Option(
        None, "--target-ci", min=1e-9,
        help="add replications until every headline figure's 95 % half-width is under this fraction of it"),
    max_replications: int = typer.Option(50, min=2, help="cap for --target-ci"),
) -> None:
    """Simulate a scenario and print its results. Exit 1 if an SLO is missed."""
    from simlab.model.run import simulate

    sc = _load(file)
    with progress_bar(f"simulating {sc.name}") as bar:
        result = simulate(sc, seed=seed, duration_s=duration, replications=replications,
                          model=None if model is None else model.value, progress=bar,
                          target_ci=target_ci, max_replications=max_replications)
    verdicts = slo_verdicts(sc, result)
    met = all(v["met"] for v in verdicts)
    if as_json:
        doc = result.to_dict()
        doc["slo"] = slo_json(sc, result)  # budgets and burn rates (simlab.slo)
        doc["cost"] = cost_json(sc, result)  # monthly cost and efficiency (simlab.cost)
        from simlab.day import run_heatmap

        heatmap = run_heatmap(sc, result)  # the hourly heatmap data of a diurnal scenario
        if heatmap is not None:
            doc["heatmap"] = heatmap
        doc.setdefault("slo_verdicts", verdicts)
        doc.setdefault("slos_met", met)
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        raise typer.Exit(EXIT_OK if met else EXIT_MISSED)
    if _Flags.quiet:
        raise typer.Exit(EXIT_OK if met else EXIT_MISSED)
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
    for line in overload_lines(result):
        console.print(line, markup=False, highlight=False)
    if "target_ci" in result.extra:
        tc = result.extra["target_ci"]
        console.print(f"target CI {tc['target']:g}: {'met' if tc['met'] else 'NOT met'} after {tc['replications']} "
                      f"replications (widest: {tc['widest_figure']} at {tc['widest_relative_half_width']:.3g})")
    if "replica_reads" in result.extra:
        rr = result.extra["replica_reads"]
        console.print(f"replica reads: {rr['reads']:g}, stale {rr['stale']:g} ({rr['stale_share']:.4g}) "
                      f"per {rr['per']} (cache.replica_lag_ms)")
    if "cluster_redirections" in result.extra:
        cr = result.extra["cluster_redirections"]
        console.print(f"cluster redirections during reshards: {cr['ask']:g} -ASK, {cr['moved']:g} -MOVED "
                      f"per {cr['per']}")
    console.print(verdict_table(verdicts))
    console.print(f"simulated in {result.wall_s:.2f} s wall")
    console.print("[green]all SLOs met[/green]" if met else "[red]SLOs missed[/red] (exit 1)")
    raise typer.Exit(EXIT_OK if met else EXIT_MISSED)


def slo_verdicts(sc: Any, result: RunResult) -> list[dict[str, Any]]:
    """Per SLO: name, target, achieved, met (and the error budget when simlab.slo provides it).

    The scenario's SLOs are evaluated by `simlab.slo.evaluate_slos` when it is present; the
    plain comparison of `slo_verdict` otherwise."""
    try:
        from simlab.slo import evaluate_slos
    except ImportError:
        return [{"name": n, "target": t, "achieved": m, "met": bool(ok)} for n, t, m, ok in slo_verdict(result, sc.slo)]
    rep = evaluate_slos(sc, result)
    doc = rep.to_dict()
    rows = doc.get("objectives", doc.get("slos", []))
    out = []
    for r in rows:
        verdict = r.get("verdict", r.get("met"))
        met = verdict if isinstance(verdict, bool) else str(verdict).lower() in ("met", "meeting", "ok", "pass")
        out.append({**r, "met": bool(met)})
    return out


def verdict_table(verdicts: list[dict[str, Any]]) -> Table:
    t = Table(title="SLO verdict")
    for c in ("SLO", "target", "achieved", "budget remaining", "verdict"):
        t.add_column(c)
    for v in verdicts:
        budget = v.get("error_budget_remaining")
        t.add_row(str(v.get("name")), str(v.get("target")), _fmt(v.get("achieved"), 5),
                  "-" if budget is None else f"{budget * 100:.1f}%",
                  "[green]met[/green]" if v["met"] else "[red]missed[/red]")
    return t


@app.command()
def schema() -> None:
    """Print the JSON Schema of a scenario file."""
    sys.stdout.write(json.dumps(scenario_json_schema(), indent=2) + "\n")


@app.command()
def report(
    file: Path = typer.Argument(DEFAULT_SCENARIO, help="scenario YAML (default: the seed's service)"),
    out: Path | None = typer.Option(None, "--out", help="output directory (default: reports/<scenario>/)"),
    pdf: bool = typer.Option(False, "--pdf", help="also print the report to index.pdf with headless chromium"),
    quick: bool = typer.Option(False, "--quick", help="shorter runs and fewer points (a draft in about a minute)"),
    seed: int | None = SEED_OPT,
    replications: int | None = REPLICATIONS_OPT,
    live: bool = typer.Option(True, "--live/--no-live", help="validate against a live server (embedded engine unless --url)"),
    url: str | None = typer.Option(None, help="validate against this Redis URL instead of the embedded engine"),
    plan: bool = typer.Option(True, "--plan/--no-plan", help="plan capacity for growth (the longest step)"),
    as_json: bool = typer.Option(False, "--json", help="print summary.json (with the SLO verdicts) instead of text"),
) -> None:
    """Run the scenario end to end (replications, SLOs and error budgets, cost, capacity plan,
    live validation) and write a self-contained HTML report plus the data behind every figure.
    Exit 1 if an SLO is missed."""
    from simlab.report import build_report, render_pdf

    sc = _load(file)
    with progress_bar(f"report on {sc.name}") as bar:
        rep = build_report(sc, out_dir=out, quick=quick, seed=seed, replications=replications,
                           live=live, url=url, plan=plan, progress=bar, scenario_file=file)
    if pdf:
        render_pdf(rep.html_path, rep.html_path.with_suffix(".pdf"))
    met = bool(rep.summary["slos_met"])
    if as_json:
        sys.stdout.write(json.dumps(rep.summary, indent=2, default=str) + "\n")
    elif not _Flags.quiet:
        console = _console()
        console.print(verdict_table(rep.summary["slo_verdicts"]))
        console.print(rep.summary["executive_summary"], markup=False, highlight=False)
        console.print(f"report written: {rep.html_path}")
        if pdf:
            console.print(f"pdf written: {rep.html_path.with_suffix('.pdf')}")
        console.print(f"open it: file://{rep.html_path.resolve()}")
    raise typer.Exit(EXIT_OK if met else EXIT_MISSED)


@app.command()
def regress(
    files: list[Path] = typer.Argument(None, help="scenarios (default: every scenario with a baseline)"),
    baseline: Path | None = typer.Option(None, "--baseline", help="baseline directory (default: data/baselines/)"),
    update: bool = typer.Option(False, "--update", help="rewrite the baselines from this run (after review)"),
    junit: Path | None = typer.Option(None, "--junit", help="write JUnit XML here (one test case per figure)"),
    markdown: Path | None = typer.Option(None, "--markdown", help="write a Markdown summary here (for a PR comment)"),
    plan: bool = typer.Option(True, "--plan/--no-plan", help="compare the planned configuration too (the slow part)"),
    as_json: bool = typer.Option(False, "--json", help="print the comparison as JSON"),
) -> None:
    """Re-run scenarios and compare their key outputs with the baselines, within tolerances
    derived from the replications' confidence intervals. Exit 1 on a regression."""
    from simlab.regress import regress as run_regress

    with progress_bar("regress") as bar:
        outcome = run_regress(files or None, baseline_dir=baseline, update=update, progress=bar,
                              skip=() if plan else ("planned",))
    if junit is not None:
        junit.write_text(outcome.junit_xml())
    if markdown is not None:
        markdown.write_text(outcome.markdown())
    if as_json:
        sys.stdout.write(json.dumps(outcome.to_dict(), indent=2) + "\n")
    elif not _Flags.quiet:
        sys.stdout.write(outcome.text() + "\n")
    raise typer.Exit(EXIT_OK if outcome.passed else EXIT_MISSED)


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True}, add_help_option=False)
def server(ctx: typer.Context) -> None:
    """Start the cachelab engine in the foreground; arguments as for `cachelab-server` and
    redis-server (`simlab server --port 7000 --maxmemory 64mb`; `simlab server --help`)."""
    from engine.cli import main as engine_main

    raise typer.Exit(engine_main(list(ctx.args)))


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


def _error_lines(err: BaseException) -> tuple[list[str], int]:
    """One line per problem (naming the file, field or option) and the exit code."""
    from simlab.model.plan import MissingServiceTime
    from simlab.workload.traces import TraceFormatError

    if isinstance(err, CliError):
        return [str(err)], err.code
    if isinstance(err, _USAGE_ERRORS):
        ctx = getattr(err, "ctx", None)
        where = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
        text = getattr(err, "format_message", lambda: str(err))()
        return [text.replace("\n", " ") + where], EXIT_BAD_INPUT
    if isinstance(err, ScenarioError | CostError):
        return [f"{err.file}: {loc}: {msg}" if loc else f"{err.file}: {msg}" for loc, msg in err.problems], EXIT_BAD_INPUT
    if isinstance(err, SloError | SloImportError):
        return [str(err)], EXIT_BAD_INPUT
    if isinstance(err, TraceFormatError):
        return [str(err)], EXIT_BAD_INPUT
    from simlab.regress import RegressError
    from simlab.report.pdf import PdfError

    if isinstance(err, RegressError):
        return [str(err)], EXIT_BAD_INPUT
    if isinstance(err, PdfError):
        return [str(err)], EXIT_ENVIRONMENT
    if isinstance(err, MissingServiceTime):
        msg = err.args[0] if err.args else str(err)
        return [f"{_Flags.scenario_file}: cache.service_time_us: {msg}"], EXIT_BAD_INPUT
    if isinstance(err, (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError)):
        return [f"{err.filename}: {err.strerror}"], EXIT_BAD_INPUT
    if isinstance(err, (ConnectionError, TimeoutError)) or type(err).__module__.startswith("redis"):
        return [f"cannot reach the server: {err}"], EXIT_ENVIRONMENT
    first = str(err).splitlines()[0] if str(err) else ""
    return [f"internal error: {type(err).__name__}: {first} (rerun with --debug for the traceback)"], EXIT_INTERNAL


def _pop_global_flags(args: list[str]) -> list[str]:
    """Take --debug/--quiet from anywhere before `--` (and before `server`'s own arguments)."""
    out: list[str] = []
    for i, a in enumerate(args):
        if a == "--" or a == "server":
            return out + args[i:]
        if a == "--debug":
            _Flags.debug = True
        elif a in ("--quiet", "-q"):
            _Flags.quiet = True
        else:
            out.append(a)
    return out


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point (`simlab = "simlab.cli:main"`): runs a command and turns any
    error into one line on stderr and an exit code (module docstring); --debug re-raises."""
    _Flags.debug = _Flags.quiet = False
    _Flags.scenario_file = "<scenario>"
    args = _pop_global_flags(list(sys.argv[1:] if argv is None else argv))
    command = typer.main.get_command(app)
    try:
        rc = command.main(args, prog_name="simlab", standalone_mode=False)
    except _NO_ARGS as err:
        ctx = getattr(err, "ctx", None)
        if ctx is not None:
            print(ctx.get_help())
        return EXIT_OK
    except _ABORTS:
        print("simlab: interrupted", file=sys.stderr)
        return 130
    except Exception as err:
        if _Flags.debug:
            raise
        lines, code = _error_lines(err)
        for line in lines:
            print(f"simlab: error: {line}", file=sys.stderr)
        return code
    finally:
        # the flags belong to this invocation: a later in-process call (a notebook, typer's
        # CliRunner) starts without them
        _Flags.debug = _Flags.quiet = False
    return rc if isinstance(rc, int) else EXIT_OK


# capacity planning, sweeps and the 24-hour day: `simlab plan | sweep | day | scale-whatif`
from simlab import cli_capacity as _cli_capacity  # noqa: E402,F401  (registers its commands on `app`)
from simlab.cli_live import register as _register_live  # noqa: E402  (simlab calibrate, simlab validate)

_register_live(app)
