"""redis-cli and redis-benchmark (Debian's redis-tools) against the engine, unchanged.

Skipped when the binaries are missing, a failure when ``CACHELAB_REQUIRE_REDIS=1``, as
tests/support/redis_real.py does for redis-server."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator

import pytest

from engine.server import EmbeddedServer


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CACHELAB_REQUIRE_REDIS") == "1":
            pytest.fail(f"{name} is required (CACHELAB_REQUIRE_REDIS=1) but not installed")
        pytest.skip(f"{name} not installed (apt-get install redis-tools)")
    return path


@pytest.fixture(scope="module")
def engine() -> Iterator[EmbeddedServer]:
    with EmbeddedServer() as srv:
        yield srv


def cli(engine: EmbeddedServer, *args: str, stdin: str | None = None) -> str:
    res = subprocess.run([_tool("redis-cli"), "-p", str(engine.port), *args], input=stdin,
                         capture_output=True, text=True, timeout=30)
    assert res.returncode == 0, res.stderr
    return res.stdout


def test_ping_set_get(engine: EmbeddedServer) -> None:
    assert cli(engine, "ping") == "PONG\n"
    assert cli(engine, "set", "cli:k", "hello world") == "OK\n"
    assert cli(engine, "get", "cli:k") == "hello world\n"
    assert cli(engine, "--no-raw", "get", "cli:k") == '"hello world"\n'
    assert cli(engine, "--no-raw", "get", "cli:none") == "(nil)\n"
    assert cli(engine, "--no-raw", "incr", "cli:n") == "(integer) 1\n"
    assert cli(engine, "--no-raw", "nosuchcommand") .startswith("(error) ERR unknown command 'nosuchcommand'")
    assert cli(engine, "-3", "--no-raw", "hello", "3").startswith("1# \"server\" => \"redis\"")


def test_info_and_command_docs(engine: EmbeddedServer) -> None:
    out = cli(engine, "info", "server")
    assert out.startswith("# Server") and "redis_version:7.0.15" in out
    assert "cmdstat_" in cli(engine, "info", "commandstats")


def test_piped_commands(engine: EmbeddedServer) -> None:
    out = cli(engine, stdin="SET cli:p 1\nINCR cli:p\nGET cli:p\n")
    assert out.split() == ["OK", "2", "2"]


def test_redis_benchmark(engine: EmbeddedServer) -> None:
    res = subprocess.run([_tool("redis-benchmark"), "-p", str(engine.port), "-t", "set,get", "-n", "2000", "-q"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    lines = [ln for ln in res.stdout.replace("\r", "\n").splitlines() if "requests per second" in ln]
    assert [ln.split(":")[0].strip() for ln in lines] == ["SET", "GET"]
    for ln in lines:
        assert float(ln.split(":")[1].split()[0]) > 100  # any sane server; the engine does >10k here
