"""Client-side caching: CLIENT TRACKING and the invalidation messages, on the engine and on a
real redis-server 7.0 (every test runs on both).

Default mode (keys read are invalidated once, at their next write or expiry), RESP2 redirection to
a ``__redis__:invalidate`` subscriber, BCAST prefixes, NOLOOP, OPTIN/CACHING, FLUSHALL's null
invalidation and the error texts.  redis-py's own ``cache_config`` cache refuses servers older
than 7.4 (real 7.0 included), so the cache is played by the test on the RESP3 push messages.
No timing is asserted: "no message" is checked with a bounded read timeout.
"""

from __future__ import annotations

import time

import pytest
import redis

from engine.server import EmbeddedServer
from tests.differential.harness import RawClient, Reply


@pytest.fixture(params=["engine", pytest.param("redis", marks=pytest.mark.redis_server)])
def port(request: pytest.FixtureRequest, srv: EmbeddedServer) -> int:
    """The engine's port, or a real redis-server 7.0's: every test here runs on both."""
    if request.param == "engine":
        return srv.port
    return int(request.getfixturevalue("redis_real_shared").port)


def test_default_mode_invalidates_once_per_read(port: int) -> None:
    """The keys a tracking client read are invalidated at their first write by anyone, once;
    a key it never read is not announced.  (redis-py's ``cache_config`` refuses servers older
    than 7.4, so the cache is played here by the test, on the RESP3 push messages.)"""
    w = redis.Redis(port=port)
    w.flushall()
    r = RawClient(port, resp=3)
    assert _plain(r.call("CLIENT", "TRACKING", "ON")) == b"OK"
    r.call("MSET", "k", "v1", "unread", "x")
    assert _plain(r.call("GET", "k")) == b"v1"
    w.set("unread", "y")
    w.set("k", "v2")
    assert _push(r) == [b"invalidate", [b"k"]]
    w.set("k", "v3")  # not read since: nothing more
    assert _push(r, timeout=0.2) is None
    r.call("GET", "k")
    w.pexpire("k", 1)  # expiry invalidates too
    time.sleep(0.01)
    assert w.get("k") is None
    assert _push(r) == [b"invalidate", [b"k"]]
    r.close()


def _plain(rep: Reply) -> object:
    if rep.kind in ("*", ">", "~"):
        return [_plain(x) for x in rep.value]
    if rep.kind == "%":
        return {_plain(k): _plain(v) for k, v in rep.value}  # type: ignore[misc]
    if rep.kind in ("nil", "nilarray", "_"):
        return None
    return rep.value


def _push(c: RawClient, timeout: float = 2.0) -> object:
    """The next out-of-band message, or None when none comes within ``timeout``."""
    c.sock.settimeout(timeout)
    try:
        return _plain(c.read())
    except TimeoutError:
        return None
    finally:
        c.sock.settimeout(10)


def test_resp2_redirect_to_invalidate_channel(port: int) -> None:
    w = redis.Redis(port=port)
    w.flushall()
    sub = redis.Redis(port=port, protocol=2, single_connection_client=True)
    sub_id = sub.client_id()
    sub_conn = sub.connection
    sub_conn.send_command("SUBSCRIBE", "__redis__:invalidate")
    assert sub_conn.read_response()[0] == b"subscribe"
    reader = redis.Redis(port=port, protocol=2, single_connection_client=True)
    assert reader.client_tracking_on(clientid=sub_id)
    assert reader.client_getredir() == sub_id
    reader.set("a", "1")
    reader.get("a")
    w.set("a", "2")
    sub_conn.socket_timeout = 2
    assert sub_conn.read_response() == [b"message", b"__redis__:invalidate", [b"a"]]
    w.set("a", "3")  # already invalidated, not read again: no second message
    assert not sub_conn.can_read(timeout=0.2)
    w.flushall()
    assert sub_conn.read_response() == [b"message", b"__redis__:invalidate", None]
    sub.close()
    reader.close()


def test_bcast_prefix_noloop_and_optin(port: int) -> None:
    w = redis.Redis(port=port)
    w.flushall()
    r = RawClient(port, resp=3)
    r.call("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "user:", "NOLOOP")
    info = _plain(r.call("CLIENT", "TRACKINGINFO"))
    assert isinstance(info, dict) and list(info) == [b"flags", b"redirect", b"prefixes"]
    assert set(info[b"flags"]) == {b"on", b"bcast", b"noloop"} and info[b"prefixes"] == [b"user:"]
    w.set("user:1", "x")
    assert _push(r) == [b"invalidate", [b"user:1"]]
    w.set("other", "x")
    r.call("SET", "user:2", "mine")  # NOLOOP: our own write is not announced to us
    assert _push(r, timeout=0.2) is None
    r.call("CLIENT", "TRACKING", "OFF")
    r.call("CLIENT", "TRACKING", "ON", "OPTIN")
    r.call("GET", "x1")  # not remembered: no CLIENT CACHING yes before it
    r.call("CLIENT", "CACHING", "YES")
    r.call("GET", "x2")
    w.mset({"x1": 1, "x2": 2})
    assert _push(r) == [b"invalidate", [b"x2"]]
    assert _push(r, timeout=0.2) is None
    r.close()


def test_tracking_errors(port: int) -> None:
    r = redis.Redis(port=port, single_connection_client=True)
    with pytest.raises(redis.ResponseError, match="PREFIX option requires BCAST mode to be enabled"):
        r.execute_command("CLIENT", "TRACKING", "ON", "PREFIX", "a")
    with pytest.raises(redis.ResponseError, match="OPTIN and OPTOUT are not compatible with BCAST"):
        r.execute_command("CLIENT", "TRACKING", "ON", "BCAST", "OPTIN")
    with pytest.raises(redis.ResponseError, match="The client ID you want redirect to does not exist"):
        r.execute_command("CLIENT", "TRACKING", "ON", "REDIRECT", "999999")
    with pytest.raises(redis.ResponseError, match="CLIENT CACHING can be called only"):
        r.execute_command("CLIENT", "CACHING", "YES")
    with pytest.raises(redis.ResponseError, match="overlaps"):
        r.execute_command("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "ab", "PREFIX", "a")
    assert r.client_getredir() == -1
    r.close()
