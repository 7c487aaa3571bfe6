"""Issue 12 item 10: one client pipelining GETs of a 10 KB value without reading its replies
must not starve another client.  Redis reads 16 KiB per client per event-loop turn; the engine
serves at most TURN_BUDGET requests per client per turn.

The assertion is about order, not time: while the heavy client's pipeline (8000 GETs, one
read's worth) is being served, a second client's INFO/PING round trips are answered before
that pipeline is finished.  Before the fix one read's requests were all served in one turn, so
the second client saw either none or all of them done."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
import redis

from engine.connection import TURN_BUDGET
from engine.server import EmbeddedServer

N = 8000


@pytest.fixture(scope="module")
def engine() -> Iterator[EmbeddedServer]:
    with EmbeddedServer() as srv:
        yield srv


def _get_calls(r: redis.Redis) -> int:
    return int(r.info("commandstats").get("cmdstat_get", {}).get("calls", 0))


def test_pipelining_client_does_not_starve_others(engine: EmbeddedServer) -> None:
    assert N > 4 * TURN_BUDGET
    r = redis.Redis(port=engine.port, socket_timeout=30)
    r.config_resetstat()
    r.set("big", b"v" * 10240)
    heavy = socket.create_connection(("127.0.0.1", engine.port), timeout=30)
    try:
        heavy.sendall(b"*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n" * N)  # 176 KB: never read back
        deadline = time.monotonic() + 30
        seen = _get_calls(r)
        while seen == 0 and time.monotonic() < deadline:
            seen = _get_calls(r)
        assert r.ping()
        during = _get_calls(r)
        assert 0 < seen <= during < N, (seen, during)
        while _get_calls(r) < N and time.monotonic() < deadline:
            time.sleep(0.01)
        assert _get_calls(r) == N
        # The unread replies are accounted in the heavy client's output buffer (omem).
        omem = max(int(c["omem"]) for c in r.client_list())
        assert omem > 1024 * 1024
    finally:
        heavy.close()
