"""Item 1: ``dir`` and ``dbfilename`` are protected configs (Redis 7.0 config.c PROTECTED_CONFIG).

With the default ``enable-protected-configs no`` a client cannot redirect SAVE to a file outside
the data directory; with ``yes`` the values are still validated (a bare file name, an existing
directory).  Every assertion is an exact error text, the same on the engine and redis-server.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import redis

from tests.engine.security.conftest import start

PROTECTED = "CONFIG SET failed (possibly related to argument '{}') - can't set protected config"


@pytest.mark.parametrize("name,value", [("dir", "/tmp"), ("dbfilename", "../evil.sh"), ("dbfilename", "x.rdb")])
def test_protected_configs_refused_by_default(kind: str, name: str, value: str) -> None:
    with start(kind) as port:
        c = redis.Redis(port=port)
        before = c.config_get(name)[name]
        with pytest.raises(redis.ResponseError) as e:
            c.config_set(name, value)
        assert str(e.value) == PROTECTED.format(name)
        assert c.config_get(name)[name] == before


def test_save_cannot_write_outside_dir(kind: str, tmp_path: Path) -> None:
    """The attack of the issue: dbfilename ../evil.sh, a crafted value, SAVE."""
    data = tmp_path / "data"
    data.mkdir()
    with start(kind, dir=str(data)) as port:
        c = redis.Redis(port=port)
        with pytest.raises(redis.ResponseError, match="can't set protected config"):
            c.config_set("dbfilename", "../evil.sh")
        c.set("payload", "\n* * * * * sh -c 'id'\n")
        assert c.save()
    assert not (tmp_path / "evil.sh").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["data"]


def test_protected_configs_validated_when_enabled(kind: str, tmp_path: Path) -> None:
    with start(kind, enable_protected_configs="yes", dir=str(tmp_path)) as port:
        c = redis.Redis(port=port)
        with pytest.raises(redis.ResponseError) as e:
            c.config_set("dbfilename", "../evil.sh")
        assert str(e.value) == ("CONFIG SET failed (possibly related to argument 'dbfilename') - "
                                "dbfilename can't be a path, just a filename")
        with pytest.raises(redis.ResponseError) as e:
            c.config_set("dir", "/nonexistent/dir")
        assert str(e.value) == ("CONFIG SET failed (possibly related to argument 'dir') - "
                                "No such file or directory")
        (tmp_path / "file").write_text("x")
        with pytest.raises(redis.ResponseError, match="Not a directory$"):
            c.config_set("dir", str(tmp_path / "file"))
        sub = tmp_path / "sub"
        sub.mkdir()
        assert c.config_set("dir", str(sub))
        assert c.config_set("dbfilename", "other.rdb")
        c.set("k", "v")
        assert c.save()
    assert (sub / "other.rdb").exists()


def test_local_allows_loopback_clients(kind: str) -> None:
    """``local`` allows connections from a loopback address (the tests connect over 127.0.0.1)."""
    with start(kind, enable_protected_configs="local") as port:
        c = redis.Redis(host="127.0.0.1", port=port)
        assert c.config_set("dbfilename", "local.rdb")
        assert c.config_get("dbfilename") == {"dbfilename": "local.rdb"}


@pytest.mark.parametrize("name", ["enable-protected-configs", "enable-debug-command", "enable-module-command"])
def test_enable_options_are_immutable(kind: str, name: str) -> None:
    with start(kind) as port:
        c = redis.Redis(port=port)
        assert c.config_get(name) == {name: "no"}
        with pytest.raises(redis.ResponseError) as e:
            c.config_set(name, "yes")
        assert str(e.value) == f"CONFIG SET failed (possibly related to argument '{name}') - can't set immutable config"


def test_debug_and_module_commands_are_protected(kind: str) -> None:
    """enable-debug-command / enable-module-command default to ``no``: DEBUG and MODULE LOAD are
    refused with Redis's texts; ``local`` allows DEBUG from a loopback connection."""
    with start(kind) as port:
        c = redis.Redis(port=port)
        with pytest.raises(redis.ResponseError) as e:
            c.execute_command("DEBUG", "SLEEP", "0")
        assert str(e.value).startswith("DEBUG command not allowed. If the enable-debug-command option is set to "
                                       '"local", you can run it from a local connection')
        with pytest.raises(redis.ResponseError) as e:
            c.execute_command("MODULE", "LOAD", "/nonexistent/module.so")
        assert str(e.value).startswith("MODULE command not allowed. If the enable-module-command option is set to "
                                       '"local", you can run it from a local connection')
    with start(kind, enable_debug_command="local") as port:
        assert redis.Redis(host="127.0.0.1", port=port).execute_command("DEBUG", "SLEEP", "0") == b"OK"
