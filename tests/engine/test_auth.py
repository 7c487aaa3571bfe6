"""requirepass, AUTH [user] pass, HELLO AUTH and NOAUTH, against the engine and a real redis-server."""

from __future__ import annotations

import re

import pytest
import redis

from engine.server import EmbeddedServer
from tests.support.redis_real import real_redis

# lib_name=None/lib_version=None keep redis-py from sending CLIENT SETINFO before AUTH (which
# it reports as an authentication failure); redis-py 8 marks those arguments deprecated.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

WRONGPASS = "WRONGPASS invalid username-password pair or user is disabled."
NO_DEFAULT_PASS = ("AUTH <password> called without any password configured for the default user. "
                   "Are you sure your configuration is correct?")


def _raw(client: redis.Redis, *args: str) -> str:
    try:
        return str(client.execute_command(*args))
    except (redis.ResponseError, redis.AuthenticationError) as e:
        return f"ERR:{e}"


@pytest.fixture(scope="module")
def pair():
    """The engine and a real redis-server, both with requirepass s3cret."""
    with EmbeddedServer(requirepass="s3cret") as eng, real_redis() as real:
        real.client().config_set("requirepass", "s3cret")  # the start helper pings without a password
        yield eng.url, real.url


def test_noauth_then_auth(pair) -> None:
    for url in pair:
        c = redis.Redis.from_url(url, decode_responses=True, protocol=2, single_connection_client=True, lib_name=None, lib_version=None)
        assert _raw(c, "GET", "k") == "ERR:Authentication required."
        assert _raw(c, "AUTH", "wrong") == "ERR:" + WRONGPASS.split(" ", 1)[1]
        assert c.auth("s3cret") is True
        assert c.set("k", "v") and c.get("k") == "v"
        assert c.acl_whoami() == "default"
        c.close()


def test_error_texts_match_real_redis(pair) -> None:
    outputs = []
    for url in pair:
        c = redis.Redis.from_url(url, protocol=2, single_connection_client=True, lib_name=None, lib_version=None)
        outputs.append([
            _raw(c, "GET", "k"),
            _raw(c, "AUTH", "default", "nope"),
            _raw(c, "AUTH", "nosuchuser", "nope"),
            _raw(c, "HELLO", "3"),
            re.sub(r"b'id', \d+", "b'id', N", _raw(c, "HELLO", "2", "AUTH", "default", "s3cret")),
            _raw(c, "AUTH", "a", "b", "c"),
        ])
        c.close()
    assert outputs[0] == outputs[1]
    assert WRONGPASS.split(" ", 1)[1] in outputs[0][1]


def test_url_credentials_and_config_set_requirepass(pair) -> None:
    eng_url = pair[0]
    c = redis.Redis.from_url(eng_url.replace("redis://", "redis://default:s3cret@"), decode_responses=True)
    assert c.ping()
    c.config_set("requirepass", "other")
    with pytest.raises(redis.AuthenticationError):
        redis.Redis.from_url(eng_url, password="s3cret").ping()
    assert redis.Redis.from_url(eng_url, password="other").ping()
    assert c.ping()  # already-authenticated connections stay authenticated
    c.config_set("requirepass", "s3cret")
    assert c.acl_getuser("default")["passwords"]  # requirepass is the default user's password


def test_no_password_configured() -> None:
    with EmbeddedServer() as eng, real_redis() as real:
        for url in (eng.url, real.url):
            c = redis.Redis.from_url(url, protocol=2, single_connection_client=True, lib_name=None, lib_version=None)
            assert _raw(c, "AUTH", "x") == "ERR:" + NO_DEFAULT_PASS
            assert _raw(c, "AUTH", "default", "anything") == "True"  # nopass accepts any password
            c.close()


def test_user_auth_and_disabled_user() -> None:
    with EmbeddedServer() as eng:
        admin = redis.Redis.from_url(eng.url, decode_responses=True)
        admin.acl_setuser("app", enabled=True, passwords=["+pw1", "+pw2"], keys=["*"], commands=["+@all"])
        for pw in ("pw1", "pw2"):
            c = redis.Redis.from_url(eng.url, username="app", password=pw, decode_responses=True)
            assert c.acl_whoami() == "app"
            c.close()
        admin.acl_setuser("app", enabled=False)
        with pytest.raises(redis.AuthenticationError):
            redis.Redis.from_url(eng.url, username="app", password="pw1").ping()
        # RESET returns the connection to the default user
        c = redis.Redis.from_url(eng.url, decode_responses=True, single_connection_client=True)
        admin.acl_setuser("app", enabled=True)
        c.auth("pw1", "app")
        assert c.execute_command("RESET") == "RESET"
        assert c.acl_whoami() == "default"
