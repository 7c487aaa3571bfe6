"""The ACL's parts one by one: the aclfile format (engine/acl_file.py) and the ACL LOG's
grouping (engine/acl_log.py), on a real server object (built, not started)."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.acl_file import parse_user_lines, read_users, write_users
from engine.acl_log import LogEntry, add_entry
from engine.acl_rules import hash_password
from engine.client import Client
from engine.errors import CommandError
from engine.server import Server


def test_aclfile_round_trip(tmp_path: Path) -> None:
    """What ACL SAVE writes, ACL LOAD reads back to the same rules (ACL LIST's text)."""
    lines = [(1, ["user", "default", "on", "nopass", "~*", "&*", "+@all"]),
             (2, ["user", "ann", "on", ">secret", "~ann:*", "%R~shared:*", "-@all", "+get", "+set", "(~x*", "+del)"])]
    users = parse_user_lines(lines, "users.acl", allchannels=False)
    path = tmp_path / "users.acl"
    write_users(str(path), users)
    again = read_users(str(path), allchannels=False)
    assert {n: u.describe() for n, u in again.items()} == {n: u.describe() for n, u in users.items()}
    assert hash_password(b"secret") in again["ann"].passwords
    assert path.read_text().splitlines()[0].startswith("user ann on #")  # sorted by name


def test_aclfile_errors_name_every_bad_line_and_change_nothing() -> None:
    lines = [(1, ["usr", "x"]), (2, ["user", "a", "+nosuch"]), (3, ["user", "a", "on"]), (4, ["user", "a", "on"])]
    with pytest.raises(CommandError) as e:
        parse_user_lines(lines, "f.acl", allchannels=False)
    text = str(e.value)
    assert "f.acl:1: line should start with user keyword" in text
    assert "f.acl:2:" in text and "f.acl:4: Duplicate user 'a' found" in text
    with pytest.raises(CommandError, match="not configured to use an ACL file"):
        read_users("", allchannels=False)


def test_acl_log_groups_similar_denials_and_keeps_maxlen() -> None:
    client = Client(Server(chdir=False))
    log: list[LogEntry] = []
    add_entry(log, client, "key", "secret", "app", maxlen=2)
    add_entry(log, client, "key", "secret", "app", maxlen=2)
    assert [(e.count, e.object) for e in log] == [(2, "secret")]
    add_entry(log, client, "command", "flushall", "app", maxlen=2)
    add_entry(log, client, "channel", "news", "app", maxlen=2)
    assert [(e.reason, e.object) for e in log] == [("channel", "news"), ("command", "flushall")]
    assert log[0].context == "toplevel" and f"id={client.id} " in log[0].cinfo
