"""Bad input gets one line naming the file, field or option and exit code 2; a missed SLO
exits 1 with the verdicts in --json; --debug shows the traceback. Each case of issue 10's
list has a test here. Runs go through `simlab.cli.main` (the console script's function) and,
once, through the installed `simlab` executable."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from simlab.cli import EXIT_BAD_INPUT, EXIT_MISSED, EXIT_OK, main
from simlab.paths import DEFAULT_SCENARIO

BASE = yaml.safe_load(DEFAULT_SCENARIO.read_text())


def _scenario(tmp_path: Path, edit, name: str = "bad.yaml") -> Path:
    doc = copy.deepcopy(BASE)
    edit(doc)
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def _run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def _one_line_error(err: str, *needles: str) -> None:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("simlab: error: ") and "Traceback" not in err
    for n in needles:
        assert n in lines[0], (n, lines[0])


@pytest.mark.parametrize(("option", "value"), [("--replications", "0"), ("--seed", "-1"), ("--duration", "-5"),
                                               ("--model", "fast")])
def test_bad_option_values(capsys, option, value):
    code, out, err = _run(capsys, "run", str(DEFAULT_SCENARIO), option, value)
    assert code == EXIT_BAD_INPUT and out == ""
    _one_line_error(err, option)


def test_unknown_eviction_policy_names_file_and_field(capsys, tmp_path):
    path = _scenario(tmp_path, lambda d: d["cache"].update(maxmemory_policy="allkeys-lruu"))
    code, _, err = _run(capsys, "run", str(path))
    assert code == EXIT_BAD_INPUT
    _one_line_error(err, str(path), "cache.maxmemory_policy", "allkeys-lru")


def test_flow_shares_not_summing_to_one_is_an_error(capsys, tmp_path):
    """0.9 used to be renormalised silently; now the source and its shares are named."""
    path = _scenario(tmp_path, lambda d: d["sources"][0].update(
        flows={"cache-get-set": 0.6, "session-store": 0.22, "pubsub-message": 0.06, "lock-acquire": 0.02}))
    code, _, err = _run(capsys, "run", str(path))
    assert code == EXIT_BAD_INPUT
    _one_line_error(err, str(path), "sources.0", "nginx-ingress", "0.9")


def test_missing_service_time_names_the_command(capsys, tmp_path):
    def edit(d):
        del d["cache"]["service_time_us"]["default"]
        del d["cache"]["service_time_us"]["HGETALL"]
    path = _scenario(tmp_path, edit)
    code, _, err = _run(capsys, "run", str(path), "--duration", "5")
    assert code == EXIT_BAD_INPUT
    _one_line_error(err, str(path), "service_time_us", "HGETALL")


def _trace_scenario(tmp_path: Path, trace: Path) -> Path:
    def edit(d):
        d["sources"] = [d["sources"][1]]
        d["sources"][0]["arrival"] = {"kind": "trace", "trace_path": str(trace)}
        d["run"]["warmup_s"] = 0
    return _scenario(tmp_path, edit)


def test_trace_with_a_header_is_an_error_naming_file_and_line(capsys, tmp_path):
    trace = tmp_path / "arrivals.csv"
    trace.write_text("time_s,key_id\n0.001,5\n0.002,7\n")
    code, _, err = _run(capsys, "run", str(_trace_scenario(tmp_path, trace)), "--duration", "1")
    assert code == EXIT_BAD_INPUT
    _one_line_error(err, str(trace), "line 1", "header")


def test_binary_trace_is_an_error(capsys, tmp_path):
    trace = tmp_path / "arrivals.bin"
    trace.write_bytes(bytes(range(256)) * 4)
    code, _, err = _run(capsys, "run", str(_trace_scenario(tmp_path, trace)), "--duration", "1")
    assert code == EXIT_BAD_INPUT
    _one_line_error(err, str(trace), "binary")


def test_missing_scenario_file(capsys, tmp_path):
    code, _, err = _run(capsys, "run", str(tmp_path / "nope.yaml"))
    assert code == EXIT_BAD_INPUT
    _one_line_error(err, "nope.yaml")


def test_missed_slo_exits_1_and_json_carries_verdicts(capsys, tmp_path):
    path = _scenario(tmp_path, lambda d: d["slo"].update(latency_p99_ms=30), name="strict.yaml")
    code, out, _ = _run(capsys, "run", str(path), "--duration", "20", "--json")
    assert code == EXIT_MISSED
    doc = json.loads(out)
    assert doc["slos_met"] is False
    assert [v for v in doc["slo_verdicts"] if not v["met"]]
    code, out, _ = _run(capsys, "run", str(DEFAULT_SCENARIO), "--duration", "20", "--json")
    assert code == EXIT_OK and json.loads(out)["slos_met"] is True


def test_quiet_prints_nothing(capsys):
    code, out, err = _run(capsys, "run", str(DEFAULT_SCENARIO), "--duration", "5", "--quiet")
    assert code == EXIT_OK and out == "" and err == ""


def test_debug_shows_the_traceback(tmp_path):
    """--debug (anywhere on the line) lets the exception through instead of the one line."""
    from simlab.scenario import ScenarioError

    path = _scenario(tmp_path, lambda d: d["cache"].update(maxmemory_policy="allkeys-lruu"))
    with pytest.raises(ScenarioError):
        main(["run", str(path), "--debug"])


def test_installed_command_has_no_traceback():
    exe = Path(sys.executable).with_name("simlab")
    res = subprocess.run([str(exe), "run", str(DEFAULT_SCENARIO), "--model", "fast"], capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == EXIT_BAD_INPUT and "Traceback" not in res.stderr
    assert res.stderr.strip().count("\n") == 0 and "--model" in res.stderr


@pytest.mark.parametrize("cmd", ["run", "report", "regress", "schema", "server"])
def test_every_command_has_help(capsys, cmd):
    code, out, _ = _run(capsys, cmd, "--help")
    assert code == EXIT_OK and ("Usage" in out or "cachelab-server" in out), out


def test_server_command_starts_the_engine(tmp_path):
    """`simlab server` is cachelab-server: it answers PING on the port it was given and stops
    on SIGTERM. Bounded: 60 s to come up, 10 s to stop."""
    import signal
    import socket
    import time

    import redis

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    exe = Path(sys.executable).with_name("simlab")
    proc = subprocess.Popen([str(exe), "server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(tmp_path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=2)
        deadline = time.monotonic() + 60
        while True:
            try:
                assert client.ping() is True
                break
            except redis.ConnectionError:
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                assert time.monotonic() < deadline, "simlab server did not come up in 60 s"
                time.sleep(0.2)
        client.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
