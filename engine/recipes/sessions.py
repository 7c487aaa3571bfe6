"""Server-side sessions on hashes, with sliding idle expiry and an absolute lifetime.

One hash per session (``<prefix>:<id>``): the caller's fields under ``d:<name>`` and two
timestamps, ``m:created`` and ``m:seen`` (ms).  The key's TTL *is* the idle timeout: every read
touches it (sliding expiry), so an active session lives on and an abandoned one vanishes
without a sweeper.  The TTL is capped at what is left of the absolute lifetime, after which
the session is gone however active it was (OWASP Session Management Cheat Sheet, "Session
Expiration": idle and absolute timeouts).

Each operation is one Lua script, so it is atomic: a session never exists without its TTL
(create), a read never revives a session past its absolute limit (get), and rotation -- a new
id for the same session after login or privilege change, against session fixation (OWASP,
"Renew the Session ID After Any Privilege Level Change") -- moves the hash with ``RENAME`` so
that exactly one of the old and new ids is valid at any instant.  Rotation touches two keys;
on Redis Cluster they would have to share a hash slot, which random ids do not, so this
store targets a single server or one shard, as the modelled service runs.

Time is the server's (``TIME``) unless a ``now_ms`` is given, which tests use to move through
an absolute lifetime without waiting.  The idle TTL itself always runs on the server's clock.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass

import redis

__all__ = ["Session", "SessionError", "SessionNotFound", "SessionStore"]

_NOW = """
local now = tonumber(ARGV[1])
if now < 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local idle, absolute = tonumber(ARGV[2]), tonumber(ARGV[3])
"""

# Touch KEYS[1] at `now`: the remaining TTL, or 0 after deleting an expired session.
_TOUCH = """
local function touch(key)
  local created = tonumber(redis.call('HGET', key, 'm:created'))
  if created == nil then return 0 end
  local ttl = math.min(idle, created + absolute - now)
  if ttl <= 0 then
    redis.call('DEL', key)
    return 0
  end
  redis.call('HSET', key, 'm:seen', now)
  redis.call('PEXPIRE', key, ttl)
  return ttl
end
"""

_CREATE = _NOW + """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'm:created', now, 'm:seen', now, unpack(ARGV, 4))
redis.call('PEXPIRE', KEYS[1], math.min(idle, absolute))
return {now, math.min(idle, absolute)}
"""

_GET = _NOW + _TOUCH + """
local ttl = touch(KEYS[1])
if ttl == 0 then return false end
return {ttl, redis.call('HGETALL', KEYS[1])}
"""

_UPDATE = _NOW + _TOUCH + """
local ttl = touch(KEYS[1])
if ttl == 0 then return false end
if #ARGV > 3 then redis.call('HSET', KEYS[1], unpack(ARGV, 4)) end
return {ttl, redis.call('HGETALL', KEYS[1])}
"""

_ROTATE = _NOW + _TOUCH + """
if redis.call('EXISTS', KEYS[2]) == 1 then return redis.error_reply('ERR session id collision') end
if touch(KEYS[1]) == 0 then return false end
redis.call('RENAME', KEYS[1], KEYS[2])
local ttl = touch(KEYS[2])
return {ttl, redis.call('HGETALL', KEYS[2])}
"""


class SessionError(Exception):
    """Base of the session store's errors."""


class SessionNotFound(SessionError, KeyError):
    """The session does not exist: never created, destroyed, rotated away or expired."""


@dataclass(frozen=True, slots=True)
class Session:
    """A snapshot of one session as the server held it after the operation."""

    id: str
    data: dict[str, str]
    created_ms: int
    last_seen_ms: int
    expires_in_ms: int


def _field_args(data: Mapping[str, str | bytes | int | float]) -> list[str | bytes | int | float]:
    args: list[str | bytes | int | float] = []
    for name, value in data.items():
        args += [f"d:{name}", value]
    return args


class SessionStore:
    """Sessions under ``prefix`` with ``idle_timeout_s`` (sliding) and ``absolute_timeout_s``."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        idle_timeout_s: float,
        absolute_timeout_s: float,
        prefix: str = "sess",
        id_bytes: int = 32,
    ) -> None:
        if idle_timeout_s <= 0 or absolute_timeout_s <= 0:
            raise ValueError("timeouts must be positive")
        self.client = client
        self.idle_timeout_ms = int(idle_timeout_s * 1000)
        self.absolute_timeout_ms = int(absolute_timeout_s * 1000)
        self.prefix = prefix
        self.id_bytes = id_bytes
        self._create = client.register_script(_CREATE)
        self._get = client.register_script(_GET)
        self._update = client.register_script(_UPDATE)
        self._rotate = client.register_script(_ROTATE)

    def key(self, session_id: str) -> str:
        return f"{self.prefix}:{session_id}"

    def new_id(self) -> str:
        """A fresh unguessable id (256 bits by default; OWASP asks for at least 64 bits of entropy)."""
        return secrets.token_urlsafe(self.id_bytes)

    def _head(self, now_ms: int | None) -> list[int]:
        return [-1 if now_ms is None else int(now_ms), self.idle_timeout_ms, self.absolute_timeout_ms]

    def _session(self, session_id: str, reply: list) -> Session:
        ttl_ms, flat = reply
        fields = {flat[i].decode(): flat[i + 1] for i in range(0, len(flat), 2)}
        data = {k[2:]: v.decode() for k, v in fields.items() if k.startswith("d:")}
        return Session(
            id=session_id,
            data=data,
            created_ms=int(fields["m:created"]),
            last_seen_ms=int(fields["m:seen"]),
            expires_in_ms=int(ttl_ms),
        )

    def create(self, data: Mapping[str, str | bytes | int | float] | None = None, *, now_ms: int | None = None) -> Session:
        """Start a session holding ``data``; its id is new and unguessable."""
        fields = _field_args(data or {})
        while True:
            session_id = self.new_id()
            reply = self._create(keys=[self.key(session_id)], args=[*self._head(now_ms), *fields])
            if reply:
                created_ms, ttl_ms = int(reply[0]), int(reply[1])
                plain = {k: v.decode() if isinstance(v, bytes) else str(v) for k, v in (data or {}).items()}
                return Session(session_id, plain, created_ms, created_ms, ttl_ms)

    def get(self, session_id: str, *, now_ms: int | None = None) -> Session | None:
        """The session, with its idle timer restarted; ``None`` if it does not exist."""
        reply = self._get(keys=[self.key(session_id)], args=self._head(now_ms))
        return self._session(session_id, reply) if reply else None

    def update(
        self, session_id: str, data: Mapping[str, str | bytes | int | float], *, now_ms: int | None = None
    ) -> Session:
        """Set fields of a live session (and touch it); :class:`SessionNotFound` otherwise."""
        reply = self._update(keys=[self.key(session_id)], args=[*self._head(now_ms), *_field_args(data)])
        if not reply:
            raise SessionNotFound(session_id)
        return self._session(session_id, reply)

    def rotate(self, session_id: str, *, now_ms: int | None = None) -> Session:
        """Move a live session to a new id; the old id stops working in the same instant.

        The absolute lifetime still counts from the original creation.
        """
        while True:
            new_id = self.new_id()
            try:
                reply = self._rotate(keys=[self.key(session_id), self.key(new_id)], args=self._head(now_ms))
            except redis.ResponseError as exc:
                if "session id collision" in str(exc):
                    continue
                raise
            if not reply:
                raise SessionNotFound(session_id)
            return self._session(new_id, reply)

    def destroy(self, session_id: str) -> bool:
        """End a session (logout); whether it existed."""
        return bool(self.client.delete(self.key(session_id)))
