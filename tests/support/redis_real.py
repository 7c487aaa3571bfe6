"""Start and stop a real ``redis-server`` (Debian package) on a free loopback port.

The differential tests compare the engine against it, so it must be the genuine binary; when
it is missing the tests that need it are skipped, unless ``CACHELAB_REQUIRE_REDIS=1`` (set by
``.ci/run``) turns the absence into a failure.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

__all__ = ["RealRedis", "free_port", "real_redis", "redis_server_binary"]


def free_port(max_port: int = 65535) -> int:
    """A TCP port that was free on 127.0.0.1 a moment ago (at most ``max_port``)."""
    for _ in range(1000):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port <= max_port:
            return port
    raise RuntimeError(f"no free loopback port at or below {max_port}")


#: A cluster node also listens on its port + 10000 (the cluster bus), so its port must leave room.
CLUSTER_MAX_PORT = 65535 - 10000


def redis_server_binary() -> str:
    """Path of redis-server, or skip (fail under CI) when it is not installed."""
    path = shutil.which("redis-server")
    if path is None:
        if os.environ.get("CACHELAB_REQUIRE_REDIS") == "1":
            pytest.fail("redis-server is required (CACHELAB_REQUIRE_REDIS=1) but not installed")
        pytest.skip("redis-server not installed (apt-get install redis-server)")
    return path


@dataclass
class RealRedis:
    port: int
    dir: Path
    pid: int

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def client(self, **kw: object) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, **kw)  # type: ignore[arg-type]


@contextmanager
def real_redis(*args: str, dir: Path | None = None, port: int | None = None) -> Iterator[RealRedis]:
    """Run ``redis-server`` with persistence off (unless ``args`` say otherwise) on loopback.

    Extra ``args`` are passed as ``--name value`` options.  The process is stopped by PID.
    """
    binary = redis_server_binary()
    own_dir = dir is None
    workdir = Path(tempfile.mkdtemp(prefix="real-redis-")) if dir is None else dir
    port = port or free_port(CLUSTER_MAX_PORT if "--cluster-enabled" in args else 65535)
    cmd = [
        binary,
        "--port", str(port),
        "--bind", "127.0.0.1",
        "--dir", str(workdir),
        "--save", "",
        "--appendonly", "no",
        "--daemonize", "no",
        "--logfile", str(workdir / "redis.log"),
        *args,
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                redis.Redis(host="127.0.0.1", port=port, socket_timeout=1).ping()
                break
            except (redis.ConnectionError, redis.BusyLoadingError):
                if proc.poll() is not None or time.monotonic() > deadline:
                    log = (workdir / "redis.log").read_text(errors="replace") if (workdir / "redis.log").exists() else ""
                    raise RuntimeError(f"redis-server did not start on port {port}: {log[-2000:]}") from None
                time.sleep(0.02)
        yield RealRedis(port=port, dir=workdir, pid=proc.pid)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
        if own_dir:
            shutil.rmtree(workdir, ignore_errors=True)
