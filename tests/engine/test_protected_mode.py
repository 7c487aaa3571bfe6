"""Protected mode (networking.c clientAcceptHandler): with protected-mode yes and a default user
without a password, connections from outside the loopback interface get the DENIED error.

Only loopback traffic is allowed in this environment, so the decision is tested with fake peer
addresses, and acceptance of loopback clients over a real socket.
"""

from __future__ import annotations

import pytest
import redis

from engine.config import Config
from engine.server import PROTECTED_MODE_MESSAGE, EmbeddedServer, Server

EXTERNAL = [("10.1.2.3", 50000), ("192.168.0.7", 1), ("2001:db8::1", 6379, 0, 0), ("::ffff:10.0.0.1", 2, 0, 0)]
LOOPBACK = [("127.0.0.1", 50000), ("127.8.9.10", 1), ("::1", 2, 0, 0), ("::ffff:127.0.0.1", 3, 0, 0)]


def _server(text: str = "") -> Server:
    import engine.commands  # noqa: F401 - fills the command table and installs the ACL

    cfg = Config()
    cfg.load(text, "test.conf")
    return Server(cfg)


def test_message_is_redis_byte_for_byte() -> None:
    """The text is the one compiled into redis-server 7.0.15 (read from the binary)."""
    data = open("/usr/bin/redis-server", "rb").read()
    start = data.find(b"-DENIED Redis is running in protected mode")
    assert start >= 0
    end = data.find(b"\r\n", start)
    assert data[start + 1:end].decode() == PROTECTED_MODE_MESSAGE


def test_external_peers_refused_without_password() -> None:
    server = _server()
    for peer in EXTERNAL:
        assert server.protected_mode_refusal(peer) == PROTECTED_MODE_MESSAGE, peer
    for peer in LOOPBACK:
        assert server.protected_mode_refusal(peer) is None, peer


def test_disabled_nopass_default_user_still_protects() -> None:
    """Redis checks the default user's nopass flag, not whether it is enabled."""
    server = _server("user default off nopass ~* &* +@all\nuser ops on >pw ~* &* +@all")
    assert server.requires_auth()
    assert server.protected_mode_refusal(EXTERNAL[0]) == PROTECTED_MODE_MESSAGE
    assert server.protected_mode_refusal(LOOPBACK[0]) is None


@pytest.mark.parametrize("conf", ["protected-mode no", "requirepass pw", "user default on >pw ~* &* +@all"])
def test_not_refused_when_disabled_or_password_set(conf: str) -> None:
    server = _server(conf)
    for peer in EXTERNAL:
        assert server.protected_mode_refusal(peer) is None, (conf, peer)


def test_consults_default_user_at_run_time() -> None:
    """ACL SETUSER default >pw lifts protected mode; nopass brings it back (ACL, not requirepass)."""
    with EmbeddedServer() as srv:
        assert srv.server is not None
        r = redis.Redis.from_url(srv.url)
        assert srv.server.protected_mode_refusal(EXTERNAL[0]) == PROTECTED_MODE_MESSAGE
        r.execute_command("ACL", "SETUSER", "default", ">pw")
        assert srv.server.protected_mode_refusal(EXTERNAL[0]) is None
        r.execute_command("ACL", "SETUSER", "default", "nopass")
        assert srv.server.protected_mode_refusal(EXTERNAL[0]) == PROTECTED_MODE_MESSAGE
        r.config_set("requirepass", "pw2")
        assert srv.server.protected_mode_refusal(EXTERNAL[0]) is None
        r.auth("pw2")
        r.config_set("requirepass", "")


def test_loopback_clients_accepted() -> None:
    with EmbeddedServer(**{"protected-mode": "yes"}) as srv:
        assert srv.server is not None
        before = srv.server.stats.rejected_connections
        r = redis.Redis.from_url(srv.url)
        assert r.ping() and r.set("k", "v") and r.get("k") == b"v"
        assert srv.server.stats.rejected_connections == before
