"""Session store on both servers: sliding idle expiry, absolute lifetime, atomic rotate.

Idle expiry runs on the server's clock with a 300 ms timeout (sleeps of 150-450 ms, so the
margins are 150 ms either way); the absolute lifetime is driven with explicit ``now_ms``.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

import pytest

from engine.recipes.sessions import SessionNotFound, SessionStore

if TYPE_CHECKING:
    from tests.support.servers import ServerHandle

pytest_plugins = ["tests.support.servers"]

T0_MS = 1_700_000_000_000


def test_create_get_update_destroy(server: ServerHandle) -> None:
    store = SessionStore(server.client(), idle_timeout_s=60, absolute_timeout_s=3600)
    s = store.create({"user_id": "42", "role": "reader"})
    assert len(s.id) >= 43 and s.data == {"user_id": "42", "role": "reader"}
    got = store.get(s.id)
    assert got is not None and got.data == s.data and 0 < got.expires_in_ms <= 60_000
    updated = store.update(s.id, {"role": "admin", "cart": 3})
    assert updated.data == {"user_id": "42", "role": "admin", "cart": "3"}
    assert store.destroy(s.id)
    assert store.get(s.id) is None
    assert not store.destroy(s.id)
    with pytest.raises(SessionNotFound):
        store.update(s.id, {"x": "y"})


def test_create_sets_ttl_atomically(server: ServerHandle) -> None:
    r = server.client()
    store = SessionStore(r, idle_timeout_s=30, absolute_timeout_s=10)
    s = store.create({"a": "b"})
    assert 9000 < r.pttl(store.key(s.id)) <= 10_000  # capped by the absolute lifetime
    assert r.hget(store.key(s.id), "d:a") == b"b"


def test_sliding_idle_expiry(server: ServerHandle) -> None:
    store = SessionStore(server.client(), idle_timeout_s=0.3, absolute_timeout_s=60)
    active = store.create({"who": "active"})
    idle = store.create({"who": "idle"})
    for _ in range(4):  # 600 ms in total, twice the idle timeout, kept alive by reads
        time.sleep(0.15)
        assert store.get(active.id) is not None
    time.sleep(0.15)
    assert store.get(idle.id) is None  # nobody touched it for 750 ms
    time.sleep(0.45)
    assert store.get(active.id) is None  # 450 ms without a read


def test_absolute_timeout_beats_activity(server: ServerHandle) -> None:
    store = SessionStore(server.client(), idle_timeout_s=60, absolute_timeout_s=100)
    s = store.create({"u": "1"}, now_ms=T0_MS)
    for t in range(0, 100_000, 20_000):
        got = store.get(s.id, now_ms=T0_MS + t)
        assert got is not None
        assert got.expires_in_ms == min(60_000, 100_000 - t)
        assert got.last_seen_ms == T0_MS + t and got.created_ms == T0_MS
    assert store.get(s.id, now_ms=T0_MS + 100_000) is None
    assert not server.client().exists(store.key(s.id))


def test_rotate_moves_data_and_keeps_the_lifetime(server: ServerHandle) -> None:
    store = SessionStore(server.client(), idle_timeout_s=60, absolute_timeout_s=100)
    s = store.create({"user_id": "7"}, now_ms=T0_MS)
    rotated = store.rotate(s.id, now_ms=T0_MS + 90_000)
    assert rotated.id != s.id and rotated.data == {"user_id": "7"}
    assert rotated.created_ms == T0_MS and rotated.expires_in_ms == 10_000
    assert store.get(s.id, now_ms=T0_MS + 90_000) is None
    with pytest.raises(SessionNotFound):
        store.rotate(s.id)
    with pytest.raises(SessionNotFound):
        store.rotate(rotated.id, now_ms=T0_MS + 100_000)  # past its absolute lifetime


def test_concurrent_rotations_leave_exactly_one_id(server: ServerHandle) -> None:
    store = SessionStore(server.client(), idle_timeout_s=60, absolute_timeout_s=3600)
    s = store.create({"u": "1"})
    winners: list[str] = []
    losers: list[Exception] = []

    def rotate() -> None:
        try:
            winners.append(store.rotate(s.id).id)
        except SessionNotFound as exc:
            losers.append(exc)

    threads = [threading.Thread(target=rotate) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(winners) == 1 and len(losers) == 7
    assert store.get(winners[0]) is not None
    assert server.client().keys("sess:*") == [store.key(winners[0]).encode()]
