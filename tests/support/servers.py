"""One fixture, two servers: the recipes' tests run against real redis-server and the engine.

``engine.recipes`` must work against any Redis URL, so every recipe test takes the ``server``
fixture, parametrised by ``server_kind`` over ``"redis"`` (the genuine redis-server 7.0 binary,
:func:`tests.support.redis_real.real_redis`) and ``"engine"`` (``engine.server.EmbeddedServer``).

The engine grows command by command.  :data:`ENGINE_NEEDS` is the single list of the commands
each recipe test module uses.  An engine case is marked ``xfail(strict=False, run=False)`` only
while the running engine answers "unknown command" to one of its module's commands (probed at
setup); when the last one lands, the case runs as a plain test, with no edit here.  A command
the engine has but gets wrong is a real failure, never an expected one.

:class:`ServerHandle` starts, stops and restarts one server of either kind on a fixed loopback
port (Redlock's test stops a minority of five servers and brings them back).  Every real
redis-server is stopped by PID.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from typing import Any

import pytest
import redis

from tests.support.redis_real import free_port, real_redis

__all__ = [
    "ALL_NEEDED",
    "ENGINE_NEEDS",
    "SERVER_KINDS",
    "ServerHandle",
    "engine_available",
    "five_servers",
    "mark_engine_gaps",
    "missing_commands",
    "require_kind",
    "server",
    "server_kind",
]

SERVER_KINDS: tuple[str, ...] = ("redis", "engine")

#: The one list that drives the engine xfails: for each recipe test module (and, where one
#: test needs more, ``module::test``), every command it sends, directly, inside its Lua
#: scripts, or through redis-py's Lock.  An engine case is
#: xfail (not run) while the running engine answers "unknown command" to one of them.
ENGINE_NEEDS: dict[str, tuple[str, ...]] = {
    "test_recipes_ratelimit": (
        "evalsha", "eval", "script", "time", "get", "set", "del", "incrby",
        "hget", "hset", "hincrby", "pexpire", "zadd", "zcard", "zrange", "zremrangebyscore",
    ),
    "test_recipes_sessions": (
        "evalsha", "eval", "script", "time", "exists", "del", "keys", "rename",
        "hget", "hset", "hgetall", "pexpire", "pttl",
    ),
    "test_recipes_locks": ("evalsha", "eval", "script", "get", "set", "del", "exists", "pexpire", "pttl"),
    "test_recipes_cache_aside": ("evalsha", "eval", "script", "get", "set", "del", "exists", "incr", "pttl"),
    "test_recipes_throttle": ("cl.throttle", "get"),
    "test_recipes_throttle::test_burst_then_limited": ("pttl",),
    "test_recipes_throttle::test_wrong_type": ("hset",),
}

#: Every command any recipe test needs (for reports: ``missing_commands(url, ALL_NEEDED)``).
ALL_NEEDED: tuple[str, ...] = tuple(sorted({c for cmds in ENGINE_NEEDS.values() for c in cmds}))


def engine_available() -> bool:
    """Whether ``engine.server.EmbeddedServer`` exists yet."""
    try:
        from engine.server import EmbeddedServer  # noqa: F401
    except ImportError:
        return False
    return True


def missing_commands(url: str, names: Iterable[str]) -> list[str]:
    """The commands among ``names`` that the server at ``url`` does not know.

    Each name is sent without arguments on a throw-away connection: a known command answers
    with an arity error (or runs, for arity-1 commands such as MULTI, harmlessly, since the
    connection is closed), an unknown one with Redis's ``unknown command`` error.  This works on
    servers that do not implement ``COMMAND INFO`` yet.
    """
    missing: list[str] = []
    client = redis.Redis.from_url(url, single_connection_client=True, socket_timeout=5)
    try:
        for name in names:
            try:
                client.execute_command(*name.upper().split())
            except redis.ResponseError as exc:
                if "unknown command" in str(exc).lower():
                    missing.append(name)
    finally:
        client.close()
    return missing


class ServerHandle:
    """A server of one kind on a fixed port that can be stopped and started again.

    The port stays the same across restarts so that clients holding its URL reconnect to it, as
    they would to a production node that restarted.
    """

    def __init__(self, kind: str, port: int | None = None) -> None:
        if kind not in SERVER_KINDS:
            raise ValueError(f"unknown server kind {kind!r}; expected one of {SERVER_KINDS}")
        self.kind = kind
        self.port = port or free_port()
        self._stack: contextlib.ExitStack | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._stack is not None

    def client(self, **kw: Any) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, **kw)

    def start(self) -> ServerHandle:
        if self._stack is not None:
            return self
        stack = contextlib.ExitStack()
        try:
            if self.kind == "redis":
                stack.enter_context(real_redis(port=self.port))
            else:
                stack.enter_context(_embedded(self.port))
        except BaseException:
            stack.close()
            raise
        self._stack = stack
        return self

    def stop(self) -> None:
        if self._stack is not None:
            stack, self._stack = self._stack, None
            stack.close()

    def __enter__(self) -> ServerHandle:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def _embedded(port: int) -> Iterator[Any]:
    """``EmbeddedServer`` bound to 127.0.0.1 on ``port`` (options are redis.conf names)."""
    from engine.server import EmbeddedServer

    with EmbeddedServer(port=port, bind="127.0.0.1") as srv:
        yield srv


@pytest.fixture(params=SERVER_KINDS)
def server_kind(request: pytest.FixtureRequest) -> str:
    """``"redis"`` or ``"engine"``: which server the recipe test runs against."""
    return str(request.param)


@pytest.fixture
def server(server_kind: str, request: pytest.FixtureRequest) -> Iterator[ServerHandle]:
    """A fresh server of ``server_kind`` for one test, with pending-command xfails applied."""
    require_kind(server_kind)
    with ServerHandle(server_kind) as handle:
        if server_kind == "engine":
            mark_engine_gaps(request, handle.url)
        yield handle


@pytest.fixture
def five_servers(server_kind: str, request: pytest.FixtureRequest) -> Iterator[list[ServerHandle]]:
    """Five independent servers of ``server_kind`` (Redlock's usual deployment)."""
    require_kind(server_kind)
    handles = [ServerHandle(server_kind) for _ in range(5)]
    try:
        for h in handles:
            h.start()
        if server_kind == "engine":
            mark_engine_gaps(request, handles[0].url)
        yield handles
    finally:
        for h in handles:
            h.stop()


def require_kind(kind: str) -> None:
    """xfail the running test at once when ``kind`` is the engine and it has not landed."""
    if kind == "engine" and not engine_available():
        pytest.xfail("engine.server.EmbeddedServer has not landed yet")


def mark_engine_gaps(request: pytest.FixtureRequest, url: str) -> None:
    """Mark the running test xfail if the engine at ``url`` lacks a command its module needs.

    ``run=False``: a recipe missing half its commands can hang until a lock's TTL or a wait
    timeout runs out, so the case is reported as xfail without being run.
    """
    module = request.module.__name__.rsplit(".", 1)[-1]
    test = getattr(request.node, "originalname", request.node.name)
    needs = ENGINE_NEEDS.get(module, ()) + ENGINE_NEEDS.get(f"{module}::{test}", ())
    missing = missing_commands(url, needs)
    if missing:
        reason = "engine lacks " + ", ".join(c.upper() for c in missing) + " yet"
        request.applymarker(pytest.mark.xfail(reason=reason, strict=False, run=False))
