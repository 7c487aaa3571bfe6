"""SUBSTR, LCS, ROLE, REPLICAOF NO ONE, MODULE, LOLWUT and CLIENT REPLY against redis-server 7.0."""

from __future__ import annotations

import random
import socket
from typing import Any

from tests.differential.harness import RawClient, compare


def _split(lines: str) -> list[list[str]]:
    return [line.split() for line in lines.strip().splitlines() if line.strip() and not line.startswith("#")]


MISC = _split("""
set a ohmytext
set b mynewtext
lcs a b
lcs a b len
lcs a b idx
lcs a b idx minmatchlen 4
lcs a b idx withmatchlen
lcs a b idx minmatchlen 2 withmatchlen
lcs a b len idx
lcs a b foo
lcs a nokey
lcs nokey1 nokey2 idx
rpush list x
lcs a list
substr a 1 3
substr a -3 -1
substr nokey 0 1
substr list 0 1
role
replicaof no one
module list
module unload foo
lolwut
""")


def test_misc(raw_pair: tuple[RawClient, RawClient]) -> None:
    compare(*raw_pair, MISC)


def test_lcs_generated(raw_pair: tuple[RawClient, RawClient]) -> None:
    rng = random.Random(21)
    commands: list[list[str]] = []
    for _ in range(30):
        x = "".join(rng.choice("abc") for _ in range(rng.randint(0, 25)))
        y = "".join(rng.choice("abc") for _ in range(rng.randint(0, 25)))
        commands += [["set", "x", x], ["set", "y", y], ["lcs", "x", "y"],
                     ["lcs", "x", "y", "idx", "withmatchlen", "minmatchlen", str(rng.randint(0, 3))]]
    compare(*raw_pair, commands)


def _raw_exchange(port: int, commands: list[list[str]]) -> bytes:
    """Send the commands in one write and collect every byte answered (until PING's PONG)."""
    payload = b"".join(
        b"*%d\r\n" % len(c) + b"".join(b"$%d\r\n%s\r\n" % (len(a.encode()), a.encode()) for a in c)
        for c in [*commands, ["ping", "end"]]
    )
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(payload)
        data = b""
        while not data.endswith(b"$3\r\nend\r\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    return data


def test_client_reply(engine_shared: Any, redis_real_shared: Any) -> None:
    """OFF silences replies until ON; SKIP silences exactly the next one: the same bytes come back."""
    commands = [["client", "reply", "off"], ["set", "k", "1"], ["get", "k"], ["client", "reply", "on"],
                ["get", "k"], ["client", "reply", "skip"], ["incr", "k"], ["get", "k"],
                ["client", "reply", "skip"], ["client", "reply", "skip"], ["get", "k"], ["get", "k"],
                ["client", "reply", "bogus"], ["del", "k"]]
    got = _raw_exchange(engine_shared.port, commands)
    assert got == _raw_exchange(redis_real_shared.port, commands)
    assert got.startswith(b"+OK\r\n$1\r\n1\r\n")  # ON, then GET: the silenced SET did run


def test_command_getkeysandflags(raw_pair: tuple[RawClient, RawClient]) -> None:
    """Keys and their key-spec flags (data/redis/key-specs-7.0.yaml) for index, keyword and
    keynum specs, and the fallback for commands whose specs are incomplete."""
    compare(*raw_pair, [
        ["command", "getkeysandflags", "lmove", "a", "b", "left", "left"],
        ["command", "getkeysandflags", "set", "k", "v"],
        ["command", "getkeysandflags", "get", "k"],
        ["command", "getkeysandflags", "mset", "a", "1", "b", "2"],
        ["command", "getkeysandflags", "del", "a", "b", "c"],
        ["command", "getkeysandflags", "zunionstore", "d", "2", "a", "b", "weights", "1", "2"],
        ["command", "getkeysandflags", "eval", "return 1", "2", "k1", "k2", "arg"],
        ["command", "getkeysandflags", "xread", "count", "2", "streams", "s1", "s2", "0", "0"],
        ["command", "getkeysandflags", "xgroup", "create", "s", "g", "$"],
        ["command", "getkeysandflags", "georadius", "g", "1", "2", "3", "km", "store", "dst"],
        ["command", "getkeysandflags", "bitop", "and", "d", "a", "b"],
        ["command", "getkeysandflags", "pfmerge", "d", "a", "b"],
        ["command", "getkeysandflags", "lcs", "a", "b"],
        ["command", "getkeysandflags", "rename", "a", "b"],
    ])
