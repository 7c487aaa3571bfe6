"""`simlab calibrate` and `simlab validate` on the command line: one line and exit code 2 for
bad input, 3 for a server that cannot be reached, a calibration file written on success."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from tests.support.redis_real import free_port

SIMLAB = [sys.executable, "-c", "from simlab.cli import main; raise SystemExit(main())"]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SIMLAB, *args], capture_output=True, text=True, timeout=120)


def test_bad_targets_are_one_line_and_exit_2() -> None:
    r = _run("validate", "--target", "http://localhost:6379", "--quick")
    assert r.returncode == 2 and r.stderr.strip().splitlines() == [
        "simlab: error: --target 'http://localhost:6379': expected redis://, rediss:// or unix://"]


def test_an_unreachable_server_exits_3() -> None:
    r = _run("calibrate", "--target", f"redis://127.0.0.1:{free_port()}")
    assert r.returncode == 3 and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_calibrate_writes_its_file(tmp_path: Path) -> None:
    out = tmp_path / "cal.yaml"
    r = _run("calibrate", "--requests", "60", "--out", str(out))
    assert r.returncode == 0, r.stderr
    doc = yaml.safe_load(out.read_text())
    assert doc["server"].startswith("cachelab engine") and doc["service_time_us"]["GET"]["mean"] > 0
    assert str(out) in r.stdout
