"""ACL SETUSER/GETUSER/LIST/DELUSER/LOG/DRYRUN/CAT/GENPASS/SAVE/LOAD, and the NOPERM checks, with
redis-py against the engine; ACL LIST / GETUSER output compared with a real redis-server 7.0."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import redis

from engine.server import EmbeddedServer

NOPERM_CMD = "this user has no permissions to run the '{}' command"
NOPERM_KEY = "this user has no permissions to access one of the keys used as arguments"
NOPERM_CHAN = "this user has no permissions to access one of the channels used as arguments"

# Rule sets whose commands all exist in the engine's table, so the description Redis computes
# from its full table and the engine computes from its own agree (token order of single
# commands follows the command dict, which is hash order in Redis, so tokens are compared as sets).
RULE_SETS = [
    ["alice"],
    ["bob", "on", ">pw", "~k*", "%R~r*", "%W~w*", "&ch*", "-@all", "+@string", "-set", "+config|get"],
    ["carol", "on", "nopass", "allkeys", "allchannels", "allcommands", "-flushall"],
    ["dave", "-@all", "+get", "+set", "+@list"],
    ["erin", "-@all", "+@read", "-get"],
    ["frank", "on", "#" + "a" * 64, ">x", "<x", "~a", "~b", "%RW~c", "-@all", "+select|0"],
    ["gina", "+@all", "-@keyspace", "reset", "on", "~*", "+@set"],
    ["hank", "on", "nopass", "~a*", "+get", "(~b* +set)", "(%R~c*", "&x", "-@all", "+@string)"],
    ["ivy", "on", "(~b* +set)", "clearselectors", "(&y* +@list)"],
    ["jack", "-@all", "+@hash"],
    ["kate", "+@all", "-@write"],
    ["liam", "+@all", "-@hash", "+hget"],
    ["mia", "-@all", "+@sortedset", "-zadd"],
    ["noah", "-@all", "+@fast"],
    ["olga", "+@all", "-@admin"],
    ["pete", "-@all", "+@scripting", "+@transaction", "+@connection"],
]


SELECTOR_PROBES = [("get", "a1"), ("get", "b1"), ("set", "b1", "v"), ("set", "a1", "v"), ("get", "c1"),
                   ("set", "c1", "v"), ("publish", "x", "m"), ("lpush", "b", "v"), ("publish", "y1", "m")]


@pytest.fixture(scope="module")
def srv():
    with EmbeddedServer() as s:
        yield s


@pytest.fixture
def r(srv):
    c = redis.Redis.from_url(srv.url, decode_responses=True)
    yield c
    for name in c.acl_users():
        if name != "default":
            c.acl_deluser(name)
    c.acl_log_reset()
    c.close()


def _tokens(line: str) -> tuple[list[str], set[str]]:
    """Head (everything up to and including the +@all/-@all base) and the remaining rule set."""
    parts = line.split()
    base = next(i for i, p in enumerate(parts) if p in ("+@all", "-@all"))
    return parts[: base + 1], set(parts[base + 1:])


def test_acl_list_and_getuser_match_real_redis(r, redis_real_shared) -> None:
    real = redis_real_shared.client(decode_responses=True)
    for rules in RULE_SETS:
        r.execute_command("ACL", "SETUSER", *rules)
        real.execute_command("ACL", "SETUSER", *rules)
        mine = {line.split()[1]: line for line in r.acl_list()}
        theirs = {line.split()[1]: line for line in real.acl_list()}
        assert _tokens(mine[rules[0]]) == _tokens(theirs[rules[0]]), rules
        g_mine, g_real = r.acl_getuser(rules[0]), real.acl_getuser(rules[0])
        assert g_mine.keys() == g_real.keys()
        for k in ("flags", "passwords", "keys", "channels", "selectors", "enabled"):
            assert g_mine[k] == g_real[k], (rules, k)
        mine_dry = [r.execute_command("ACL", "DRYRUN", rules[0], *a) for a in SELECTOR_PROBES]
        assert mine_dry == [real.execute_command("ACL", "DRYRUN", rules[0], *a) for a in SELECTOR_PROBES], rules
        real.acl_deluser(rules[0])
    assert "user default on nopass ~* &* +@all" in r.acl_list()


@pytest.mark.parametrize("rule,detail", [
    ("bogus", "Syntax error"),
    ("+nosuch", "Unknown command or category name in ACL"),
    ("+@nosuch", "Unknown command or category name in ACL"),
    ("-get|x", "Unknown command or category name in ACL"),
    ("#abc", "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters"),
    ("<nope", "The password you are trying to remove from the user does not exist"),
])
def test_setuser_errors_as_redis(r, redis_real_shared, rule, detail) -> None:
    real = redis_real_shared.client()
    expected = f"Error in ACL SETUSER modifier '{rule}': {detail}"
    for client in (r, real):
        with pytest.raises(redis.ResponseError) as e:
            client.execute_command("ACL", "SETUSER", "u1", "on", rule)
        assert str(e.value) == expected
    assert r.acl_getuser("u1") is None  # all rules or none


def test_permissions_and_acl_log(srv, r) -> None:
    r.acl_setuser("z", enabled=True, passwords=["+p"], keys=["a*"], commands=["-@all", "+get", "+set", "+publish"],
                  channels=["c1"])
    z = redis.Redis.from_url(srv.url, username="z", password="p", decode_responses=True)
    assert z.set("a1", "v") and z.get("a1") == "v"
    assert z.publish("c1", "m") == 0
    with pytest.raises(redis.exceptions.NoPermissionError, match=NOPERM_KEY):
        z.get("b1")
    with pytest.raises(redis.exceptions.NoPermissionError, match=NOPERM_CMD.format("del")):
        z.delete("a1")
    with pytest.raises(redis.exceptions.NoPermissionError, match=NOPERM_CHAN):
        z.publish("c2", "m")
    with pytest.raises(redis.exceptions.NoPermissionError, match=NOPERM_CMD.format(r"acl\|whoami")):
        z.acl_whoami()
    with pytest.raises(redis.exceptions.NoPermissionError):
        z.get("b1")
    log = r.acl_log()
    # (redis-py's CLIENT SETINFO on connect is denied too and logged last)
    assert [e["reason"] for e in log][:4] == ["command", "channel", "command", "key"]
    top = log[3]
    assert top["count"] == 2 and top["object"] == "b1" and top["username"] == "z" and top["context"] == "toplevel"
    assert r.acl_log(1)[0]["client-info"]["user"] == "z"  # redis-py parses the CLIENT LIST line
    assert len(r.acl_log(count=2)) == 2
    # A failed AUTH is logged with reason auth and object AUTH.
    with pytest.raises(redis.AuthenticationError):
        redis.Redis.from_url(srv.url, username="z", password="wrong").ping()
    e = r.acl_log(1)[0]
    assert (e["reason"], e["object"], e["username"]) == ("auth", "AUTH", "z")
    assert r.acl_log_reset() and r.acl_log() == []
    z.close()


def test_read_write_key_patterns(srv, r) -> None:
    r.acl_setuser("rw", enabled=True, nopass=True, commands=["+@all"], keys=["%R~r*", "%W~w*"])
    c = redis.Redis.from_url(srv.url, username="rw", password="x")
    c.get("r1")
    c.set("w1", "v")
    with pytest.raises(redis.exceptions.NoPermissionError):
        c.set("r1", "v")
    with pytest.raises(redis.exceptions.NoPermissionError):
        c.get("w1")
    c.close()


def test_acl_check_only_active_when_restricted(srv, r) -> None:
    assert srv.server.acl_active is False
    r.acl_setuser("x", commands=["-@all"])
    assert srv.server.acl_active is True
    r.acl_deluser("x")
    assert srv.server.acl_active is False


def test_dryrun_whoami_users_cat_genpass(r, redis_real_shared) -> None:
    real = redis_real_shared.client(decode_responses=True)
    for c in (r, real):
        c.execute_command("ACL", "SETUSER", "dr", "on", "~a*", "-@all", "+get", "+set", "+publish", "&c1")
    for args in (("get", "a1"), ("get", "b1"), ("del", "a1"), ("publish", "c2", "x")):
        assert r.execute_command("ACL", "DRYRUN", "dr", *args) == real.execute_command("ACL", "DRYRUN", "dr", *args)
    for args in (("nouser", "get", "a"), ("dr", "nosuchcmd", "x")):
        with pytest.raises(redis.ResponseError) as mine:
            r.execute_command("ACL", "DRYRUN", *args)
        with pytest.raises(redis.ResponseError) as theirs:
            real.execute_command("ACL", "DRYRUN", *args)
        assert str(mine.value) == str(theirs.value)
    real.acl_deluser("dr")
    assert r.acl_whoami() == "default"
    assert r.acl_users() == ["default", "dr"]
    assert r.acl_cat() == real.acl_cat()
    assert set(r.acl_cat("string")) <= set(real.acl_cat("string")) and "get" in r.acl_cat("string")
    assert len(r.acl_genpass()) == 64 and len(r.acl_genpass(5)) == 2
    with pytest.raises(redis.ResponseError, match="positive number up to 4096"):
        r.acl_genpass(0)
    with pytest.raises(redis.ResponseError, match="The 'default' user cannot be removed"):
        r.acl_deluser("default")


def test_deluser_disconnects_its_clients(srv, r) -> None:
    r.acl_setuser("gone", enabled=True, nopass=True, commands=["+@all"], keys=["*"])
    c = redis.Redis.from_url(srv.url, username="gone", password="x", retry_on_timeout=False, retry=None)
    assert c.ping()
    assert r.acl_deluser("gone") == 1
    with pytest.raises(redis.ConnectionError):
        c.ping()
    # a client deleting its own user still gets the reply, then is disconnected
    r.acl_setuser("self", enabled=True, nopass=True, commands=["+@all"], keys=["*"])
    me = redis.Redis.from_url(srv.url, username="self", password="x", retry=None, single_connection_client=True)
    assert me.acl_deluser("self") == 1
    with pytest.raises(redis.ConnectionError):
        me.ping()


def test_aclfile_save_and_load(tmp_path: Path) -> None:
    aclfile = tmp_path / "users.acl"
    aclfile.write_text("user default on nopass ~* &* +@all\nuser ann on >secret ~ann:* -@all +get\n")
    with EmbeddedServer(aclfile=str(aclfile)) as s:
        r = redis.Redis.from_url(s.url, decode_responses=True)
        assert r.acl_users() == ["ann", "default"]
        ann = redis.Redis.from_url(s.url, username="ann", password="secret")
        assert ann.get("ann:1") is None
        with pytest.raises(redis.exceptions.NoPermissionError):
            ann.set("ann:1", "v")
        r.acl_setuser("bea", enabled=True, passwords=["+pw"], keys=["*"], commands=["+@all"])
        assert r.acl_save()
        text = aclfile.read_text()
        assert "user bea on #" in text and "user ann on #" in text
        aclfile.write_text("user default on nopass ~* &* +@all\n")
        assert r.acl_load()
        assert r.acl_users() == ["default"]
        aclfile.write_text("user default on nopass ~* &* +@all\nuser broken on +nosuch\n")
        with pytest.raises(redis.ResponseError, match="Unknown command or category name in ACL"):
            r.acl_load()
        assert r.acl_users() == ["default"]  # a bad file changes nothing
    with EmbeddedServer() as s:
        r = redis.Redis.from_url(s.url)
        with pytest.raises(redis.ResponseError, match="not configured to use an ACL file"):
            r.acl_save()


def test_user_lines_in_config_file() -> None:
    from engine.config import Config
    from engine.server import Server

    cfg = Config()
    cfg.load("user default off\nuser ops on >pw ~* &* +@all\n", "test.conf")
    import engine.commands  # noqa: F401

    server = Server(cfg)
    assert server.requires_auth()
    assert sorted(server.acl.users) == ["default", "ops"]
    assert server.acl.users["ops"].describe().startswith("on #")


def test_help_log_arguments_and_multi_context_match_real_redis(r, redis_real_shared) -> None:
    real = redis_real_shared.client(decode_responses=True)
    outputs = []
    for c in (r, real):
        out = [c.execute_command("ACL", "HELP")]
        for args in (("CAT", "nosuch"), ("LOG", "1", "2"), ("LOG", "x"), ("NOPE",), ("GETUSER",)):
            try:
                out.append(c.execute_command("ACL", *args))
            except redis.ResponseError as e:
                out.append(str(e))
        out.append(c.execute_command("ACL", "LOG", "-1"))
        c.acl_log_reset()
        c.execute_command("ACL", "SETUSER", "m", "on", "nopass", "~*", "+@all", "-get")
        port = c.connection_pool.connection_kwargs["port"]
        m = redis.Redis(host="127.0.0.1", port=port, username="m", password="p", single_connection_client=True)
        for _ in range(2):
            with pytest.raises(redis.exceptions.NoPermissionError) as e:
                m.get("a")
            out.append(str(e.value))
        m.execute_command("MULTI")
        with pytest.raises(redis.exceptions.NoPermissionError):
            m.execute_command("GET", "a")
        with pytest.raises(redis.exceptions.ExecAbortError):
            m.execute_command("EXEC")
        log = c.acl_log()
        out.append([(e["reason"], e["context"], e["object"], e["username"], e["count"]) for e in log])
        out.append(sorted(log[0]))
        m.close()
        c.acl_deluser("m")
        c.acl_log_reset()
        outputs.append(out)
    assert outputs[0] == outputs[1]


# Commands with their arguments, for the %R~ / %W~ comparison (only those the engine has are run).
KEY_PERMISSION_PROBES = {
    "get": ["k"], "set": ["k", "v"], "setnx": ["k", "v"], "getset": ["k", "v"], "getdel": ["k"], "getex": ["k"],
    "append": ["k", "v"], "strlen": ["k"], "incr": ["k"], "incrbyfloat": ["k", "1"], "setrange": ["k", "0", "v"],
    "getrange": ["k", "0", "1"], "mget": ["k", "k2"], "mset": ["k", "v"], "del": ["k"], "exists": ["k"],
    "expire": ["k", "10"], "ttl": ["k"], "persist": ["k"], "type": ["k"], "rename": ["k", "k2"], "copy": ["k", "k2"],
    "touch": ["k"], "object": ["encoding", "k"], "lpush": ["k", "v"], "lpop": ["k"], "llen": ["k"],
    "lrange": ["k", "0", "1"], "lset": ["k", "0", "v"], "lmove": ["k", "k2", "left", "left"], "sadd": ["k", "m"],
    "smembers": ["k"], "sismember": ["k", "m"], "scard": ["k"], "spop": ["k"], "sinterstore": ["d", "k"],
    "smismember": ["k", "m"], "hset": ["k", "f", "v"], "hget": ["k", "f"], "hlen": ["k"], "hexists": ["k", "f"],
    "hstrlen": ["k", "f"], "hincrby": ["k", "f", "1"], "hincrbyfloat": ["k", "f", "1"], "hgetall": ["k"],
    "zadd": ["k", "1", "m"], "zcard": ["k"], "zscore": ["k", "m"], "zincrby": ["k", "1", "m"], "zpopmin": ["k"],
    "bzpopmin": ["k", "0"], "zmpop": ["1", "k", "min"], "zrange": ["k", "0", "1"], "setbit": ["k", "0", "1"],
    "getbit": ["k", "0"], "bitcount": ["k"], "bitop": ["and", "d", "k"], "sort": ["k"], "sort_ro": ["k"],
    "pfadd": ["k", "a"], "pfcount": ["k"], "xadd": ["k", "*", "f", "v"], "xlen": ["k"], "lcs": ["k", "k2"],
}


def test_read_write_key_permissions_match_real_redis(r, redis_real_shared) -> None:
    from engine.table import COMMANDS

    real = redis_real_shared.client(decode_responses=True)
    results = []
    for c in (r, real):
        c.execute_command("ACL", "SETUSER", "ro", "on", "nopass", "%R~*", "+@all")
        c.execute_command("ACL", "SETUSER", "wo", "on", "nopass", "%W~*", "+@all")
        results.append({
            (name, user): c.execute_command("ACL", "DRYRUN", user, name, *args)
            for name, args in KEY_PERMISSION_PROBES.items() if name.encode() in COMMANDS
            for user in ("ro", "wo")
        })
        # source keys s* with full access, destinations d* write-only
        c.execute_command("ACL", "SETUSER", "sd", "on", "nopass", "~s*", "%W~d*", "+@all")
        for args in (("copy", "s", "d"), ("lmove", "s", "d", "left", "left"), ("rpoplpush", "s", "d"),
                     ("sinterstore", "d", "s"), ("sunionstore", "s", "d"), ("rename", "s", "d"), ("smove", "s", "d", "m"),
                     ("lmove", "d", "s", "left", "left"), ("copy", "d", "s"), ("sort", "s", "store", "d"),
                     ("zunionstore", "d", "1", "s"), ("zrangestore", "d", "s", "0", "1"), ("sort", "d")):
            if args[0].encode() in COMMANDS:
                results[-1][args] = c.execute_command("ACL", "DRYRUN", "sd", *args)
        c.acl_deluser("ro", "wo", "sd")
    assert len(results[0]) >= 100
    assert results[0] == results[1]


def test_channel_permissions_match_real_redis(srv, r, redis_real_shared) -> None:
    real = redis_real_shared.client(decode_responses=True)
    probes = [("publish", "news.a", "m"), ("publish", "other", "m"), ("subscribe", "news.a", "news.b"),
              ("subscribe", "news.a", "other"), ("psubscribe", "news.*"), ("psubscribe", "news.a*"),
              ("spublish", "news.a", "m"), ("ssubscribe", "other")]
    results = []
    for c in (r, real):
        c.execute_command("ACL", "SETUSER", "ch", "on", "nopass", "~*", "+@all", "resetchannels", "&news.*")
        results.append([c.execute_command("ACL", "DRYRUN", "ch", *p) for p in probes])
        c.acl_deluser("ch")
    assert results[0] == results[1]
    # and over a real connection to the engine
    r.execute_command("ACL", "SETUSER", "ch", "on", "nopass", "~*", "+@all", "resetchannels", "&news.*")
    ps = redis.Redis.from_url(srv.url, username="ch", password="x").pubsub()
    ps.subscribe("news.a")
    assert ps.get_message(timeout=2)["type"] == "subscribe"
    with pytest.raises(redis.exceptions.NoPermissionError, match=NOPERM_CHAN):
        ps.psubscribe("news.a*")
        ps.get_message(timeout=2)
    # Revoking the channel closes the subscriber (ACLKillPubsubClientsIfNeeded)
    before = len(srv.server.connections)
    r.execute_command("ACL", "SETUSER", "ch", "resetchannels", "&sport.*")
    deadline = time.monotonic() + 2  # connection_lost runs on the server loop's next turn
    while len(srv.server.connections) != before - 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(srv.server.connections) == before - 1
    ps.close()


def test_acl_pubsub_default_matches_real_redis(r, redis_real_shared) -> None:
    real = redis_real_shared.client(decode_responses=True)
    lines = []
    for c in (r, real):
        assert c.config_get("acl-pubsub-default") == {"acl-pubsub-default": "resetchannels"}
        c.config_set("acl-pubsub-default", "allchannels")
        try:
            c.execute_command("ACL", "SETUSER", "pa")
            c.execute_command("ACL", "SETUSER", "pb", "resetchannels", "&x", "reset")
        finally:
            c.config_set("acl-pubsub-default", "resetchannels")
        c.execute_command("ACL", "SETUSER", "pc")
        lines.append([line for line in c.acl_list() if line.split()[1] in ("pa", "pb", "pc")])
        c.acl_deluser("pa", "pb", "pc")
    assert lines[0] == lines[1]
    assert lines[0][0] == "user pa off &* -@all"


def test_denials_inside_scripts_match_real_redis(r, redis_real_shared) -> None:
    real = redis_real_shared.client(decode_responses=True)
    scripts = [("return redis.call('set','a1','v')", ["a1"]), ("return redis.call('get','b1')", ["b1"]),
               ("return redis.call('get','b2')", ["a1"]), ("return redis.pcall('publish','c2','m')", []),
               ("return redis.call('publish','c1','m')", [])]
    outputs = []
    for c in (r, real):
        c.acl_log_reset()
        c.execute_command("ACL", "SETUSER", "lu", "on", "nopass", "~a*", "&c1", "-@all", "+eval", "+get", "+publish")
        port = c.connection_pool.connection_kwargs["port"]
        u = redis.Redis(host="127.0.0.1", port=port, username="lu", password="x", decode_responses=True, protocol=2)
        out: list[object] = []
        for script, keys in scripts:
            try:
                out.append(u.eval(script, len(keys), *keys))
            except redis.ResponseError as e:
                out.append(f"{type(e).__name__}:{e}")
        out.append([(e["reason"], e["context"], e["object"]) for e in c.acl_log() if e["object"] != "client|setinfo"])
        outputs.append(out)
        u.close()
        c.acl_deluser("lu")
    assert outputs[0] == outputs[1]


def test_binary_user_names_passwords_and_patterns(srv, r) -> None:
    raw = redis.Redis.from_url(srv.url)
    assert raw.execute_command("ACL", "SETUSER", b"u\xff", "on", b">p\xfe", b"~k\xfd*", "+@all")
    assert b"u\xff" in raw.execute_command("ACL", "USERS")
    line = next(x for x in raw.execute_command("ACL", "LIST") if x.startswith(b"user u\xff "))
    assert b"~k\xfd*" in line
    c = redis.Redis.from_url(srv.url, single_connection_client=True)
    assert c.execute_command("AUTH", b"u\xff", b"p\xfe")
    assert c.execute_command("ACL", "WHOAMI") == b"u\xff"
    assert c.set(b"k\xfd1", "v")
    with pytest.raises(redis.exceptions.NoPermissionError):
        c.set(b"k1", "v")
    c.close()
    raw.execute_command("ACL", "DELUSER", b"u\xff")


def test_selector_errors_match_real_redis(r, redis_real_shared) -> None:
    real = redis_real_shared.client()
    for args in (("(~a*", "+get"), ("(bogus)",), ("(+nosuch)",)):
        texts = []
        for c in (r, real):
            with pytest.raises(redis.ResponseError) as e:
                c.execute_command("ACL", "SETUSER", "selerr", *args)
            texts.append(str(e.value))
        assert texts[0] == texts[1], args
