"""The engine's native ``CL.THROTTLE`` against redis-cell's documented replies.

Real redis-server has no CL.THROTTLE without the redis-cell module, so these cases run on the
engine only; they are xfail while the engine lacks the command.  Timing: the calls of one case
run within a few milliseconds, far inside redis-cell's one-second reply granularity (replies
round ``retry_after``/``reset_after`` up to whole seconds).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import redis

from engine.recipes.gcra import gcra, throttle_reply

if TYPE_CHECKING:
    from tests.support.servers import ServerHandle

pytest_plugins = ["tests.support.servers"]

pytestmark = pytest.mark.parametrize("server_kind", ["engine"])


def test_readme_example(server: ServerHandle) -> None:
    # redis-cell README: "CL.THROTTLE user123 15 30 60 1" -> 0, 16, 15, -1, 2
    assert server.client().execute_command("CL.THROTTLE", "user123", 15, 30, 60, 1) == [0, 16, 15, -1, 2]


def test_burst_then_limited(server: ServerHandle) -> None:
    r = server.client()
    replies = [r.execute_command("CL.THROTTLE", "k", 4, 1, 1) for _ in range(6)]
    assert replies == [
        [0, 5, 4, -1, 1],
        [0, 5, 3, -1, 2],
        [0, 5, 2, -1, 3],
        [0, 5, 1, -1, 4],
        [0, 5, 0, -1, 5],
        [1, 5, 0, 1, 5],
    ]
    assert 4000 < r.pttl("k") <= 5000  # the key lives until the bucket drains


def test_quantity_peek_and_oversized(server: ServerHandle) -> None:
    r = server.client()
    assert r.execute_command("CL.THROTTLE", "q", 4, 1, 1, 0) == [0, 5, 5, -1, 0]
    assert r.execute_command("CL.THROTTLE", "q", 4, 1, 1, 2) == [0, 5, 3, -1, 2]
    assert r.execute_command("CL.THROTTLE", "q", 4, 1, 1, 6) == [1, 5, 3, -1, 2]  # never fits


def test_stored_tat_is_redis_cells_format(server: ServerHandle) -> None:
    r = server.client()
    r.execute_command("CL.THROTTLE", "t", 4, 1, 1)
    tat_ns = int(r.get("t") or b"")  # Unix nanoseconds, as redis-cell stores it
    assert abs(tat_ns - (time.time_ns() + 10**9)) < 2 * 10**9
    # the pure core, fed the stored TAT, predicts the server's next reply
    predicted = throttle_reply(gcra(tat_ns, tat_ns - 10**9, 4, 1, 1))
    assert r.execute_command("CL.THROTTLE", "t", 4, 1, 1) == predicted == [0, 5, 3, -1, 2]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("k", "x", 1, 1), "Couldn't parse as integer: x"),
        (("k", 1, 1, 1, 1, 1), "Usage"),
        (("k", 1, 0, 1), "Zero rates are not supported"),
        (("k", 1, 1), "Usage"),
    ],
)
def test_errors(server: ServerHandle, args: tuple, message: str) -> None:
    with pytest.raises(redis.ResponseError, match=message):
        server.client().execute_command("CL.THROTTLE", *args)


def test_wrong_type(server: ServerHandle) -> None:
    r = server.client()
    r.hset("h", "f", "v")
    with pytest.raises(redis.ResponseError):
        r.execute_command("CL.THROTTLE", "h", 1, 1, 1)


def test_aof_records_the_effect_not_the_command(server: ServerHandle, tmp_path: Path) -> None:
    """A replay must restore the stored TAT, not re-run GCRA at load time.  (``server`` only
    applies the engine xfails; this test runs its own engine with an AOF.)"""
    from engine.server import EmbeddedServer

    options: dict[str, str | int] = {"port": 0, "bind": "127.0.0.1", "appendonly": "yes", "dir": str(tmp_path)}
    with EmbeddedServer(**options) as srv:
        r = redis.Redis(port=srv.port)
        for _ in range(3):
            r.execute_command("CL.THROTTLE", "aof", 4, 1, 60)
        r.execute_command("CL.THROTTLE", "peek", 4, 1, 60, 0)  # changes nothing
        tat = r.get("aof")
    time.sleep(0.05)
    with EmbeddedServer(**options) as srv:
        r = redis.Redis(port=srv.port)
        assert r.get("aof") == tat
        assert not r.exists("peek")
        assert r.execute_command("CL.THROTTLE", "aof", 4, 1, 60)[:3] == [0, 5, 1]
