"""``cachelab-server`` as a process, started the way redis-server is: ready line, PING,
clean exit on SIGTERM/SIGINT and SHUTDOWN NOSAVE, and a clear error for a bad config file."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis

from tests.support.redis_real import free_port

EXE = Path(sys.executable).with_name("cachelab-server")
READY = "Ready to accept connections"


def _argv(*args: str) -> list[str]:
    base = [str(EXE)] if EXE.exists() else [sys.executable, "-m", "engine.cli"]
    return [*base, *args]


@contextmanager
def started(tmp_path: Path, *extra: str) -> Iterator[tuple[subprocess.Popen[str], int]]:
    port = free_port()
    proc = subprocess.Popen(_argv("--port", str(port), "--save", "", "--dir", str(tmp_path), *extra),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 30
        seen = ""
        assert proc.stdout is not None
        while READY not in seen:
            line = proc.stdout.readline()
            assert line, f"server exited before the ready line: {seen!r}"
            seen += line
            assert time.monotonic() < deadline, "no ready line within 30 s"
        assert f":{port}" in seen.split(READY, 1)[1].splitlines()[0]  # the line names the port
        yield proc, port
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_cleanly(tmp_path: Path, sig: signal.Signals) -> None:
    with started(tmp_path) as (proc, port):
        r = redis.Redis(port=port)
        assert r.ping() and r.set("k", "v") and r.get("k") == b"v"
        proc.send_signal(sig)
        assert proc.wait(20) == 0
        rest = proc.stdout.read() if proc.stdout else ""
        assert "ready to exit" in rest


def test_shutdown_nosave(tmp_path: Path) -> None:
    with started(tmp_path) as (proc, port):
        r = redis.Redis(port=port)
        r.set("k", "v")
        r.shutdown(nosave=True)  # redis-py returns once the server closed the connection
        assert proc.wait(20) == 0
    assert not (tmp_path / "dump.rdb").exists()


def test_loopback_by_default(tmp_path: Path) -> None:
    with started(tmp_path) as (_proc, port):
        info = redis.Redis(port=port).config_get("bind")
        assert info["bind"].split()[0] == "127.0.0.1"


def test_bad_config_file_names_file_and_line(tmp_path: Path) -> None:
    conf = tmp_path / "bad.conf"
    conf.write_text("port 0\n# fine\nmaxmemory lots\n")
    res = subprocess.run(_argv(str(conf)), capture_output=True, text=True, timeout=30)
    assert res.returncode != 0
    assert f"{conf}:3" in res.stderr and "maxmemory" in res.stderr
    conf.write_text("nosuchdirective 1\n")
    res = subprocess.run(_argv(str(conf)), capture_output=True, text=True, timeout=30)
    assert res.returncode != 0 and f"{conf}:1" in res.stderr and "nosuchdirective" in res.stderr


def test_port_in_use_is_reported(tmp_path: Path) -> None:
    with started(tmp_path) as (_proc, port):
        res = subprocess.run(_argv("--port", str(port), "--save", ""), capture_output=True, text=True, timeout=30)
        assert res.returncode != 0 and str(port) in res.stdout + res.stderr


def test_parameters_of_every_command_family_are_accepted_at_startup(tmp_path: Path) -> None:
    """Parameters that command-family modules declare (streams, HyperLogLog, tracking, ACL
    pub/sub) are known on the command line, as redis-server knows every one of its own."""
    with started(tmp_path, "--stream-node-max-entries", "50", "--hll-sparse-max-bytes", "3000",
                 "--tracking-table-max-keys", "100", "--acl-pubsub-default", "resetchannels") as (_, port):
        r = redis.Redis(port=port, decode_responses=True)
        assert r.config_get("stream-node-max-entries") == {"stream-node-max-entries": "50"}
        assert r.config_get("hll-sparse-max-bytes") == {"hll-sparse-max-bytes": "3000"}
        assert r.config_get("tracking-table-max-keys") == {"tracking-table-max-keys": "100"}
        r.close()
