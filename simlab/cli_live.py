"""`simlab calibrate` and `simlab validate`: the live half of the workbench on the command line.

    simlab calibrate [--target URL] [--name NAME] [--out FILE] [--requests N] [--owned]
    simlab validate [FILE] [--target URL] [--calibration FILE] [--quick] [--seed N] [--out DIR] [--json] [--owned]

Registered on the `simlab` app by :func:`register`. Errors are one line on stderr naming the
option or file, with `simlab`'s exit codes: 0 agrees, 1 predicted and measured disagree,
2 bad input (a URL, a calibration file, a scenario the generator cannot send), 3 the
environment (a server that cannot be reached or started), and for `validate` 5: agreement up
to 70 % of saturation was not shown (nothing valid disagreed, but a load point up to 70 %
was an invalid run, the generator behind its schedule, or neither the server nor the
generator had a core during the saturation search; rerun on a quieter machine).
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

from simlab.paths import DEFAULT_SCENARIO
from simlab.scenario import ScenarioError, load_scenario

__all__ = ["register"]

EXIT_OK, EXIT_MISSED, EXIT_BAD_INPUT, EXIT_ENVIRONMENT = 0, 1, 2, 3
#: `simlab validate`: no valid load point disagreed, but one up to 70 % of saturation was invalid
EXIT_NOT_SHOWN = 5
_VERDICT_EXIT = {"agrees": EXIT_OK, "disagrees": EXIT_MISSED, "not shown": EXIT_NOT_SHOWN}


class CliError(Exception):
    """One line for the user and the exit code."""

    def __init__(self, message: str, code: int = EXIT_BAD_INPUT) -> None:
        super().__init__(message)
        self.code = code


def _fail(err: CliError) -> typer.Exit:
    print(f"simlab: error: {err}", file=sys.stderr)
    return typer.Exit(err.code)


def _console() -> Console:
    c = Console()
    return c if c.is_terminal else Console(width=220)


def _fmt(v: float, nd: int = 3) -> str:
    return "-" if isinstance(v, float) and math.isnan(v) else f"{v:.{nd}f}"


def _load(file: Path) -> Any:
    try:
        return load_scenario(file)
    except ScenarioError as err:
        raise _fail(CliError(str(err).replace("\n", " "))) from None


def _env_errors() -> tuple[type[Exception], ...]:
    import redis

    from simlab.load.generator import LoadError

    return (LoadError, RuntimeError, OSError, redis.RedisError)


def _live_errors() -> tuple[type[Exception], ...]:
    from simlab.calibrate import CalibrationError
    from simlab.load.target import UnsafeTarget
    from simlab.load.workload import UnsupportedWorkload

    return (UnsafeTarget, CalibrationError, UnsupportedWorkload)


def calibrate(
    target: str | None = typer.Option(None, "--target", help="Redis URL (default: the engine in a child process)"),
    name: str | None = typer.Option(None, help="calibration name (file data/calibration/NAME.yaml)"),
    out: Path | None = typer.Option(None, help="write the YAML here instead"),
    requests: int = typer.Option(1500, min=50, max=100_000, help="requests per command, size and mode"),
    owned: bool = typer.Option(False, "--owned", help="the target is yours: allow a non-loopback address"),
) -> None:
    """Measure per-command service times and the round trip on a live server and write a
    calibration file (nothing on the server is reset; keys live under a prefix removed after)."""
    from simlab.calibrate import calibrate as run_calibration
    from simlab.load.target import EngineProcess, parse_target

    try:
        if target is None:
            with EngineProcess() as eng:
                cal = run_calibration(eng.target(), name=name or "engine-local", requests=requests)
        else:
            cal = run_calibration(parse_target(target, owned=owned), name=name, requests=requests)
    except _live_errors() as err:
        raise _fail(CliError(str(err))) from None
    except _env_errors() as err:
        raise _fail(CliError(str(err), EXIT_ENVIRONMENT)) from None
    path = cal.save(out)
    if not False:
        console = _console()
        t = Table(title=f"calibration {cal.name}: {cal.server} ({cal.target}), {cal.date}")
        for c in ("command", "service mean us", "cv"):
            t.add_column(c, justify="right")
        for cmd, d in cal.service_time_us().items():
            t.add_row(cmd, f"{d['mean']:.2f}", f"{d['cv']:.2f}")
        console.print(t)
        console.print(f"round trip P50 {cal.rtt_percentile_us(50):.1f} us, P99 {cal.rtt_percentile_us(99):.1f} us")
        console.print(f"written to {path}")


def validate(
    file: Path = typer.Argument(DEFAULT_SCENARIO, help="scenario YAML (default: the seed's service)"),
    target: str | None = typer.Option(None, "--target", help="Redis URL (default: the engine in a child process)"),
    calibration: Path | None = typer.Option(None, help="reuse this calibration file instead of measuring"),
    quick: bool = typer.Option(False, "--quick", help="three load points of 5 s instead of nine of 10 s"),
    duration: float | None = typer.Option(None, "--duration", min=2.0, max=600.0,
                                          help="seconds of each load point (default 10, 5 with --quick): longer "
                                               "runs narrow the measured percentiles' intervals"),
    seed: int = typer.Option(0, min=0),
    out: Path | None = typer.Option(None, help="directory for table.csv, validation.json, percentiles.png "
                                               "(default: validation/<scenario>)"),
    owned: bool = typer.Option(False, "--owned", help="the target is yours: allow a non-loopback address"),
    as_json: bool = typer.Option(False, "--json", help="print the validation as one JSON document"),
    pin: bool = typer.Option(True, "--pin/--no-pin", help="pin the engine to one CPU and the load generator "
                             "to the others (Linux, 2+ CPUs; a --target server only with --server-pid)"),
    server_pid: int | None = typer.Option(None, "--server-pid", min=1, help="PID of the local --target server "
                                          "to pin to the server CPU (a redis-server you started)"),
    fault: str | None = typer.Option(None, "--fault", help="instead: inject stall (DEBUG SLEEP), pause (CLIENT "
                                     "PAUSE) or restart (engine only) and compare tail latency and errors"),
) -> None:
    """Predict with the simulator and measure with the open-loop load generator at loads from
    10 % to 90 % of the target's saturation; exit 0 when they agree within the tolerances
    (P50 and P99 10 %, hit ratio 1 point up to 70 % of saturation; saturation 10 %), 1 when a
    valid measurement disagrees, 5 when agreement up to 70 % was not shown (invalid runs)."""
    from simlab.validate import validate as run_validation

    sc = _load(file)
    if fault is not None:
        _validate_fault(sc, fault, target, owned=owned, seed=seed, as_json=as_json)
    say = None if as_json else (lambda m: print(f"simlab validate: {m}", file=sys.stderr))
    if server_pid is not None and target is None:
        raise _fail(CliError("--server-pid: only with --target (the engine started here is pinned already)"))
    try:
        v = run_validation(sc, target, quick=quick, seed=seed, calibration=calibration, owned=owned, progress=say,
                           pin=pin, server_pid=server_pid, duration_s=duration)
    except _live_errors() as err:
        raise _fail(CliError(str(err))) from None
    except _env_errors() as err:
        raise _fail(CliError(str(err), EXIT_ENVIRONMENT)) from None
    paths = v.save(out or Path("validation") / sc.name)
    if as_json:
        sys.stdout.write(json.dumps(v.to_dict(), indent=2) + "\n")
    else:
        console = _console()
        t = Table(title=f"{v.scenario} on {v.target} ({v.server}): predicted vs measured, open loop")
        cols = [("fraction", "load"), ("offered_rps", "offered"), ("achieved_rps", "achieved"),
                ("predicted_p50_ms", "P50 pred"), ("measured_p50_ms", "P50 meas"), ("err_p50", "err"),
                ("predicted_p90_ms", "P90 pred"), ("measured_p90_ms", "P90 meas"),
                ("predicted_p99_ms", "P99 pred"), ("measured_p99_ms", "P99 meas"), ("err_p99", "err"),
                ("predicted_p999_ms", "P99.9 pred"), ("measured_p999_ms", "P99.9 meas"),
                ("predicted_hit_ratio", "hit pred"), ("measured_hit_ratio", "hit meas"),
                ("measured_error_rate", "errors"), ("predicted_server_busy", "busy pred"),
                ("measured_server_busy", "busy meas"), ("pass", "verdict")]
        for _c, label in cols:
            t.add_column(label, justify="right")
        for row in v.table.to_dict("records"):
            cells = []
            for c, _label in cols:
                x = row[c]
                if c == "fraction":
                    cells.append(f"{x:.0%}")
                elif c.startswith("err_"):
                    hw = row.get(f"{c}_ci95", float("nan"))
                    cells.append("-" if x != x else f"{x * 100:+.1f}%" + ("" if hw != hw else f" ±{hw * 100:.1f}"))
                elif c == "pass":
                    cells.append(_verdict_cell(row))
                elif c.endswith("_rps"):
                    cells.append(f"{x:.0f}")
                elif c == "measured_error_rate":
                    cells.append(f"{x * 100:.2f}%")
                else:
                    hw = row.get(f"{c}_ci95", float("nan"))  # the 95 % interval where one is estimated
                    cells.append(_fmt(float(x), 3) + ("" if hw != hw else f" ±{_fmt(float(hw), 3)}"))
            t.add_row(*cells)
        console.print(t)
        console.print("± : half-width of a 95 % interval (predictions over replications, measurements by "
                      "sectioning the run in time); the verdict is on the point estimates")
        s = v.saturation
        console.print(f"saturation: measured {s['measured_rps']:.0f} rps (server CPU {s['server_cpu_busy'] * 100:.1f} %), "
                      f"predicted {s['predicted_rps']:.0f} rps{'; ' + s['why'] if s.get('why') else ''}")
        console.print(f"generator round trip P50 {v.generator_rtt_us['p50']:.0f} us, P99 {v.generator_rtt_us['p99']:.0f} us")
        console.print(f"CPUs: {v.pinning}")
        for note in v.notes:
            if note != s.get("why"):  # printed with the saturation above
                console.print(f"note: {note}")
        console.print(f"saved {paths['table']}, {paths['json']}, {paths['plot']} ({v.wall_s:.0f} s)")
        console.print(_VERDICT_LINE[v.verdict])
    raise typer.Exit(_VERDICT_EXIT[v.verdict])


_VERDICT_LINE = {
    "agrees": "[green]prediction agrees with measurement up to 70 % of saturation[/green]",
    "disagrees": "[red]prediction and measurement disagree[/red]",
    "not shown": ("[yellow]agreement up to 70 % of saturation NOT SHOWN: a load point there was an invalid run "
                  "(the generator fell behind its schedule) or the saturation search was starved by other work "
                  "on the machine; no valid point disagreed (exit 5)[/yellow]"),
}


def _verdict_cell(row: dict[str, Any]) -> str:
    v = row.get("verdict", "pass" if row["pass"] else "fail")
    if v == "pass":
        return "[green]pass[/green]"
    if v == "not judged":
        return "not judged"
    color = "red" if v == "fail" else "yellow"
    return f"[{color}]{v}[/{color}] {row['why']}"


def _validate_fault(sc: Any, kind: str, target: str | None, *, owned: bool, seed: int, as_json: bool) -> None:
    from simlab.load.target import parse_target
    from simlab.validate import FAULT_KINDS, validate_fault

    if kind not in FAULT_KINDS:
        raise _fail(CliError(f"--fault {kind!r}: expected one of {', '.join(FAULT_KINDS)}"))
    bad_input: tuple[type[Exception], ...] = (*_live_errors(), ValueError)
    try:
        tgt = None if target is None else parse_target(target, owned=owned)
        f = validate_fault(sc, kind, tgt, seed=seed)
    except bad_input as err:
        raise _fail(CliError(str(err))) from None
    except _env_errors() as err:
        raise _fail(CliError(str(err), EXIT_ENVIRONMENT)) from None
    if as_json:
        sys.stdout.write(json.dumps({**f.to_dict(), "passed": f.passed}, indent=2) + "\n")
    else:
        console = _console()
        t = Table(title=f"{kind} of {f.fault_s:.2f} s at {f.at_s:g} s on {f.target}: predicted vs measured, open loop")
        for c in ("figure", "predicted", "measured", "error"):
            t.add_column(c, justify="right")
        for row in f.table.to_dict("records"):
            rel = row["rel_err"]
            t.add_row(row["figure"], _fmt(row["predicted"]), _fmt(row["measured"]),
                      "-" if rel != rel else f"{rel * 100:+.1f}%")
        console.print(t)
        console.print("[green]agrees[/green]" if f.passed else f"[red]disagrees[/red] ({f.why})")
    raise typer.Exit(EXIT_OK if f.passed else EXIT_MISSED)


def register(app: typer.Typer) -> None:
    """Add `calibrate` and `validate` to the `simlab` app."""
    app.command(name="calibrate")(calibrate)
    app.command(name="validate")(validate)
