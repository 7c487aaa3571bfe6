"""Item 2: commands that reach keys outside a user's ACL key patterns.

Each case runs on the engine and on redis-server 7.0 with the same users, and checks the exact
reply: SORT/SORT_RO BY and GET patterns, OBJECT / STRLEN / EXISTS / MEMORY USAGE on a key no
pattern matches, redis.call from a script (the caller's permissions apply to the keys the
script touches, declared or not), and keyspace-notification channels (channel permissions).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from tests.engine.security.conftest import start

BY_DENIED = "BY option of SORT denied due to insufficient ACL permissions."
GET_DENIED = "GET option of SORT denied due to insufficient ACL permissions."
KEY_DENIED = "No permissions to access a key"
SCRIPT_KEY_DENIED = "The user executing the script can't access at least one of the keys mentioned in the command arguments"


@pytest.fixture
def clients(kind: str) -> Iterator[tuple[redis.Redis, redis.Redis]]:
    """(admin, app): ``app`` may only touch keys matching ``app:*`` and channels ``app:*``."""
    with start(kind) as port:
        admin = redis.Redis(port=port)
        admin.execute_command("ACL", "SETUSER", "app", "on", "nopass", "~app:*", "resetchannels", "&app:*",
                              "+get", "+set", "+sort", "+sort_ro", "+rpush", "+object", "+strlen", "+exists",
                              "+memory", "+eval", "+subscribe", "+psubscribe", "+ping")
        admin.execute_command("ACL", "SETUSER", "reader", "on", "nopass", "%R~*", "+@all")
        admin.set("secret", "s3cr3t")
        admin.set("secret2", "x")
        app = redis.Redis(port=port, username="app", password="x")
        yield admin, app
        app.close()
        admin.close()


def _error(fn: object, *args: object) -> str:
    with pytest.raises(redis.ResponseError) as e:
        fn(*args)  # type: ignore[operator]
    return str(e.value)


@pytest.mark.parametrize("command", ["SORT", "SORT_RO"])
def test_sort_by_and_get_patterns_need_full_key_access(clients: tuple[redis.Redis, redis.Redis], command: str) -> None:
    _, app = clients
    app.rpush("app:l2", "t")
    assert _error(app.execute_command, command, "app:l2", "BY", "nosort", "GET", "secre*") == GET_DENIED
    assert _error(app.execute_command, command, "app:l2", "BY", "secre*") == BY_DENIED
    assert _error(app.execute_command, command, "app:l2", "GET", "#") == GET_DENIED
    # BY without '*' reads no other key: allowed.
    assert app.execute_command(command, "app:l2", "BY", "nosort") == [b"t"]


def test_sort_patterns_allowed_with_read_access_to_every_key(clients: tuple[redis.Redis, redis.Redis]) -> None:
    admin, _ = clients
    admin.rpush("l", "t")
    reader = redis.Redis(port=admin.connection_pool.connection_kwargs["port"], username="reader", password="x")
    assert reader.execute_command("SORT_RO", "l", "BY", "nosort", "GET", "secre*") == [b"s3cr3t"]
    reader.close()


@pytest.mark.parametrize("args", [("OBJECT", "ENCODING", "secret"), ("STRLEN", "secret"), ("EXISTS", "secret"),
                                  ("MEMORY", "USAGE", "secret")])
def test_key_introspection_needs_a_matching_pattern(clients: tuple[redis.Redis, redis.Redis], args: tuple[str, ...]) -> None:
    _, app = clients
    with pytest.raises(redis.exceptions.NoPermissionError):
        app.execute_command(*args)
    app.set("app:k", "v")
    assert app.execute_command(*args[:-1], "app:k") is not None


def test_script_calls_use_the_callers_permissions(clients: tuple[redis.Redis, redis.Redis]) -> None:
    _, app = clients
    # Declared keys or not, the key a script touches is checked against the caller's patterns.
    assert _error(app.eval, "return redis.call('get', 'secret')", 0).startswith(SCRIPT_KEY_DENIED)
    with pytest.raises(redis.exceptions.NoPermissionError):  # a declared key is checked by EVAL itself
        app.eval("return redis.call('get', KEYS[1])", 1, "secret")
    assert _error(app.eval, "return redis.call('get', 'secret')", 1, "app:k").startswith(SCRIPT_KEY_DENIED)
    assert _error(app.eval, "return redis.pcall('get', 'secret')", 0).startswith(SCRIPT_KEY_DENIED)
    app.rpush("app:l", "t")
    assert _error(app.eval, "return redis.call('sort', 'app:l', 'by', 'nosort', 'get', 'secre*')", 0).startswith(GET_DENIED)
    assert app.eval("return redis.call('set', 'app:x', 'y')", 0) == b"OK"


def test_keyspace_notification_channels_follow_channel_permissions(clients: tuple[redis.Redis, redis.Redis]) -> None:
    _, app = clients
    with pytest.raises(redis.exceptions.NoPermissionError):
        app.execute_command("SUBSCRIBE", "__keyspace@0__:secret")
    with pytest.raises(redis.exceptions.NoPermissionError):
        app.execute_command("PSUBSCRIBE", "__key*__:*")
