"""Where a live run goes, and the rules that keep a server we did not start as we found it.

A :class:`Target` is a Redis URL (``redis://``, ``rediss://``, ``unix://``, with username,
password and database number) plus whether it is *owned*: started by us (the engine in a
child process, :class:`EngineProcess`) or declared disposable by the user. On a target that
is not owned:

* every key a run writes lives under a prefix the run names (``simlab:<run id>:``) and is
  removed afterwards (:func:`remove_prefix`), or in the database number the user chose;
* ``FLUSHALL``, ``FLUSHDB``, ``CONFIG SET`` and ``CONFIG RESETSTAT`` are refused
  (:meth:`Target.require_owned` raises :class:`UnsafeTarget`); statistics are read as
  differences of ``INFO`` before and after instead;
* an address outside the loopback range is refused unless the user passes the same flag.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import unquote, urlparse

import redis

__all__ = [
    "EngineProcess",
    "Target",
    "UnsafeTarget",
    "free_port",
    "new_prefix",
    "parse_target",
    "remove_prefix",
]


class UnsafeTarget(ValueError):
    """The run would touch a server it does not own in a way that is not allowed."""


def free_port() -> int:
    """A TCP port that was free on 127.0.0.1 a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def new_prefix() -> str:
    """A fresh key prefix naming this run (random: two runs never share keys)."""
    return f"simlab:{secrets.token_hex(4)}:"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        try:
            return all(ipaddress.ip_address(a[4][0]).is_loopback for a in socket.getaddrinfo(host, None))
        except OSError:
            return False


@dataclass(frozen=True)
class Target:
    """One Redis-compatible server and what we may do to it."""

    url: str
    host: str | None
    port: int | None
    unix_path: str | None
    tls: bool
    username: str | None
    password: str | None
    db: int
    owned: bool
    label: str

    @property
    def loopback(self) -> bool:
        return self.unix_path is not None or (self.host is not None and _is_loopback(self.host))

    def client(self, **kw: Any) -> redis.Redis:
        """A redis-py client for setup, statistics and cleanup (not for the load itself)."""
        kw.setdefault("socket_timeout", 10)
        return redis.Redis.from_url(self.url, **kw)

    def require_owned(self, what: str) -> None:
        """Raise :class:`UnsafeTarget` unless we may ``what`` (e.g. "CONFIG SET") here."""
        if not self.owned:
            raise UnsafeTarget(
                f"{what} on {self.label}: refused on a server this run did not start "
                "(pass --owned / owned=True if it is yours to reset)")

    def worker_config(self) -> dict[str, Any]:
        return {
            "host": self.host, "port": self.port, "unix_path": self.unix_path, "tls": self.tls,
            "tls_insecure": self.tls and self.loopback, "username": self.username,
            "password": self.password, "db": self.db,
        }


def parse_target(url: str, *, owned: bool = False, label: str | None = None) -> Target:
    """Read a Redis URL; refuse a non-loopback address unless ``owned``.

    Forms: ``redis://[user[:password]@]host[:port][/db]``, ``rediss://`` (TLS),
    ``unix:///path/to.sock[?db=N]``.
    """
    u = urlparse(url)
    if u.scheme not in ("redis", "rediss", "unix"):
        raise UnsafeTarget(f"--target {url!r}: expected redis://, rediss:// or unix://")
    username = unquote(u.username) if u.username else None
    password = unquote(u.password) if u.password else None
    if username and password is None:  # redis://:password@ and redis://password@ forms
        password, username = username, None
    db = 0
    if u.scheme == "unix":
        q = dict(p.split("=", 1) for p in u.query.split("&") if "=" in p)
        db = int(q.get("db", 0))
        t = Target(url=url, host=None, port=None, unix_path=u.path, tls=False, username=username,
                   password=password, db=db, owned=owned, label=label or url)
    else:
        path = u.path.strip("/")
        if path:
            try:
                db = int(path)
            except ValueError:
                raise UnsafeTarget(f"--target {url!r}: the path must be a database number") from None
        try:
            port = u.port or 6379
        except ValueError:
            raise UnsafeTarget(f"--target {url!r}: bad port") from None
        t = Target(url=url, host=u.hostname or "127.0.0.1", port=port, unix_path=None,
                   tls=u.scheme == "rediss", username=username, password=password, db=db,
                   owned=owned, label=label or _redact(url))
    if not t.loopback and not owned:
        raise UnsafeTarget(
            f"{t.label}: not a loopback address; a load test of a remote server needs --owned "
            "(it must be a server you are allowed to load)")
    return t


def _redact(url: str) -> str:
    u = urlparse(url)
    if u.password:
        return url.replace(f":{u.password}@", ":***@")
    return url


def remove_prefix(target: Target, prefix: str, *, max_rounds: int = 100_000) -> int:
    """UNLINK every key under ``prefix`` (SCAN MATCH, in batches); returns how many.

    Bounded: at most ``max_rounds`` SCAN calls."""
    if not prefix or any(ch in prefix for ch in "*?[]\\"):
        raise UnsafeTarget(f"refusing to remove keys under the prefix {prefix!r}")
    c = target.client()
    removed = 0
    try:
        cursor = 0
        for _ in range(max_rounds):
            cursor, keys = c.scan(cursor=cursor, match=prefix + "*", count=1000)
            if keys:
                removed += int(c.unlink(*keys))
            if cursor == 0:
                break
    finally:
        c.close()
    return removed


def _answers_ping(port: int, timeout_s: float = 1.0) -> bool:
    """One PING on a fresh loopback connection, no retries: True when +PONG comes back.

    Not redis-py: its default retry policy backs off (with jitter) between failed connects,
    and the restart fault times the outage's end by this answer."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout_s) as s:
            s.sendall(b"*1\r\n$4\r\nPING\r\n")
            return s.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class EngineProcess:
    """The cachelab engine in a child process on a free loopback port (``python -m engine``).

    A child process, not a thread: a server inside the generator's own process would share
    its interpreter lock and measure the two together. Stopped by PID.
    """

    def __init__(self, *, cpus: tuple[int, ...] | list[int] | None = None, **options: str | int) -> None:
        #: pin the engine (every thread, from its start) to these CPUs (simlab.load.affinity)
        self.cpus = tuple(cpus) if cpus else ()
        self.options = {k.replace("_", "-"): str(v) for k, v in options.items()}
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="cachelab-engine-")
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def target(self) -> Target:
        return replace(parse_target(self.url, owned=True), label=f"cachelab engine (pid {self.pid})")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, timeout_s: float = 30.0, poll_s: float = 0.05) -> EngineProcess:
        args = [sys.executable, "-m", "engine", "--port", str(self.port), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no", "--dir", self.dir]
        for k, v in self.options.items():
            args += [f"--{k}", v]
        self._log = open(os.path.join(self.dir, "engine.log"), "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=self._log)
        if self.cpus:
            from simlab.load.affinity import pin_process

            if not pin_process(self.proc.pid, self.cpus):
                self.cpus = ()
        deadline = time.monotonic() + timeout_s
        while not _answers_ping(self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                with open(os.path.join(self.dir, "engine.log"), "rb") as f:
                    err = f.read().decode(errors="replace")
                self.stop()
                raise RuntimeError(f"the engine did not start on port {self.port}: {err[-1000:]}") from None
            time.sleep(poll_s)
        return self

    def stop(self) -> None:
        p = self.proc
        if p is None:
            return
        if p.poll() is None:
            os.kill(p.pid, signal.SIGTERM)
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(p.pid, signal.SIGKILL)
                p.wait()
        self._log.close()
        import shutil

        shutil.rmtree(self.dir, ignore_errors=True)

    def restart(self) -> tuple[float, float]:
        """Stop the process and start a new one on the same port (the restart fault). Returns
        (when it was told to stop, when the new one answered PING), ``time.monotonic()`` clock.

        The outage starts at SIGTERM, not at the old process's exit: on SIGTERM the engine
        closes its listener and its clients at once, and the interpreter's own exit that follows
        can take hundreds of milliseconds on a loaded machine while nothing is served."""
        gone = time.monotonic()
        self.stop()
        self.dir = tempfile.mkdtemp(prefix="cachelab-engine-")
        self.start(poll_s=0.005)
        return gone, time.monotonic()

    def __enter__(self) -> EngineProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
