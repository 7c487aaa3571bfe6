"""rename-command in the configuration: disable (rename to "") or rename dangerous commands.

Renames live in a per-server map that dispatch consults, so they never leak into another
server in the same process; checked via EmbeddedServer, via a ``cachelab-server`` subprocess
with a config file, and against redis-server given the same directives.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from engine.server import EmbeddedServer
from tests.support.redis_real import free_port, real_redis

RENAMES = [("flushall", ""), ("config", "cfg-7f3a"), ("keys", "")]


def _probe(c: redis.Redis) -> list[str]:
    out = []
    for args in (("FLUSHALL",), ("KEYS", "*"), ("CONFIG", "GET", "port"), ("cfg-7f3a", "GET", "maxmemory"),
                 ("SET", "k", "v"), ("MULTI",), ("FLUSHALL",), ("EXEC",)):
        try:
            out.append(repr(c.execute_command(*args)))
        except redis.ResponseError as e:
            out.append(f"ERR:{e}")
    return out


def test_embedded_renames_match_real_redis_and_do_not_leak() -> None:
    real_args: list[str] = []
    for old, new in RENAMES:
        real_args += ["--rename-command", old, new]
    cfg_text = "\n".join(f'rename-command {old} "{new}"' for old, new in RENAMES)
    # EmbeddedServer takes one value per option, so file-only directives go through its Config.
    eng = EmbeddedServer()
    eng.config.load(cfg_text, "renames.conf")
    with eng, EmbeddedServer() as plain:
        a = redis.Redis.from_url(eng.url, single_connection_client=True)
        b = redis.Redis.from_url(plain.url, single_connection_client=True)
        embedded = _probe(a)
        assert b.execute_command("FLUSHALL") is True  # the other server in this process is untouched
        assert b.execute_command("CONFIG", "GET", "port")
    with real_redis(*real_args) as real:
        theirs = _probe(real.client(single_connection_client=True))
    conf_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"cachelab-renames-{os.getpid()}.conf"
    conf_path.write_text(cfg_text + "\n")
    try:
        with _cachelab_server(conf_path) as port:
            mine = _probe(redis.Redis(host="127.0.0.1", port=port, single_connection_client=True))
    finally:
        conf_path.unlink()
    assert mine == theirs
    assert embedded == theirs
    assert theirs[0].startswith("ERR:unknown command 'FLUSHALL'")


class _cachelab_server:
    """``cachelab-server <conf> --port P`` as a subprocess, stopped by PID."""

    def __init__(self, conf: Path) -> None:
        self.conf = conf
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> int:
        exe = Path(sys.executable).with_name("cachelab-server")
        self.proc = subprocess.Popen(
            [str(exe), str(self.conf), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--dir", str(self.conf.parent)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 15
        while True:
            try:
                redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=1).ping()
                return self.port
            except redis.ConnectionError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                    self.__exit__()
                    raise RuntimeError(f"cachelab-server did not start: {err[-2000:]}") from None
                time.sleep(0.05)

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def test_unknown_rename_source_is_ignored_and_target_clash_refused() -> None:
    import engine.commands  # noqa: F401
    from engine.config import Config, ConfigError
    from engine.server import Server

    config = Config()
    config.load('rename-command nosuchcmd ""\n', "a.conf")
    assert Server(config).renamed_commands == {b"nosuchcmd": b""}
    config = Config()
    config.load("rename-command get set\n", "b.conf")
    with pytest.raises(ConfigError, match="Target command name already exists"):
        Server(config)
