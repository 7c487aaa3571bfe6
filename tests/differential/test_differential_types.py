"""Lists, sets, sorted sets and SORT: the engine against a real redis-server 7.0, reply by reply
(raw RESP2 and RESP3, wire types included), through tests/differential/harness.py.

Two kinds of sequences: fixed ones that walk the documented edge cases and error texts of
every command, and hypothesis-generated ones (bounded: 25 examples of at most 30 commands over
a 4-key, 6-member universe, so keys collide and types clash often).
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.differential.harness import UNORDERED, RawClient, compare

UNORDERED.update({"sinter", "sunion", "sdiff", "smembers"})


def _split(lines: str) -> list[list[str]]:
    return [line.split() for line in lines.strip().splitlines() if line.strip() and not line.startswith("#")]


LISTS = _split("""
rpush l a b c d e a b
lpush l x
lpushx nolist a
rpushx l y
llen l
lpop l 0
lpop nokey 0
lpop nokey
lpop l -1
lpop l 2
rpop l 1
lpop l 1 2
lrange l 0 -1
lrange l -100 100
lrange l 2 1
lrange l a 1
lindex l -1
lindex l 10
lset l 10 x
lset nokey 0 x
lset l 0 z
lrem l 0 a
lrem l -1 b
linsert l middle a b
linsert l before zz q
linsert l after z q
linsert nokey after z q
lrange l 0 -1
lpos l q
lpos l q rank 0
lpos l q count -1
lpos l q maxlen -1
lpos l q count 0
lpos l q rank -1 count 2
lpos l q rank 2 maxlen 1
lpos l q foo
lpos l q rank
lpos nokey q count 2
lmove l l2 left up
lmove l l2 left right
lmove nokey l2 left right
rpoplpush l l
lrange l 0 -1
lmpop 0 l left
lmpop x l left
lmpop 2 l l2 up
lmpop 1 l left count 0
lmpop 1 l left count 2 count 3
lmpop 2 nokey l right count 10
lmpop 1 l left
blpop l -1
blpop l abc
blpop l 0.01
brpop nokey 0.01
blmpop 0.01 1 l left
blmove l2 l3 right left 0.01
brpoplpush nokey l3 0.01
ltrim l2 1 0
exists l2
rpush t 1 2 3 4 5
ltrim t 1 -2
lrange t 0 -1
set s x
lpush s a
lrange s 0 1
blpop s 0.01
lmove t s left left
object encoding t
""")

SETS = _split("""
sadd s a b c d
sadd s a
sadd s2 c d e
srem s zz
srem nokey a
sismember s a
smismember s a zz
scard s
scard nokey
smembers s
spop nokey
spop nokey 3
spop s 0
spop s -1
spop s 1 2
srandmember nokey
srandmember nokey 5
srandmember s 0
srandmember s -9223372036854775808
srandmember s abc
smove s s3 zz
smove nokey s3 a
smove s s3 a
smove s s b
smembers s3
sinter s nokey
sinter s s2
sunion s s2 nokey
sdiff s s2
sinterstore d s nokey
exists d
sinterstore d s s2
smembers d
sunionstore d s s2
scard d
sdiffstore d s s2
smembers d
sintercard 0 s
sintercard 3 s s2
sintercard 2 s s2 limit -1
sintercard 2 s s2 limit 1
sintercard 2 s s2 limit 0
sintercard x s
sintercard 2 s s2 foo
sscan s 0 count 0
sscan s abc
sscan s 0 match c*
sscan s -0
sscan s +0 count 100
sscan s 18446744073709551616
sscan s 1x
sadd ints 1 2 3
object encoding ints
object encoding s
set str x
sadd str a
sinter s str
sinterstore str s2 s2
type str
smove s str a
""")

ZSETS = _split("""
zadd z 1 a 2 b 3 c 3 d 0.1 e -inf f +inf g
zadd z nx xx 1 a
zadd z gt nx 1 a
zadd z gt lt 1 a
zadd z incr 1 a 2 b
zadd z 1
zadd z abc a
zadd z nan a
zadd z xx ch 5 a 6 new
zadd z gt ch 4 a 10 b
zadd z lt ch 4 a 10 b
zadd z incr 2.5 a
zadd z nx incr 2.5 a
zadd nz xx 1 a
exists nz
zadd z incr +inf g
zincrby z -inf g
zincrby z abc g
zincrby z 1 newmem
zscore z a
zscore z none
zmscore z a none b
zcard z
zrank z c
zrevrank z c
zrank z none
zcount z -inf +inf
zcount z (1 3
zcount z (3 (3
zcount z abc 3
zcount z ( 3
zrange z 0 -1 withscores
zrange z 0 -1 rev withscores
zrange z (1 3 byscore withscores
zrange z 3 (1 byscore rev withscores limit 0 2
zrange z 3 (1 byscore rev withscores limit 1 -1
zrange z -inf +inf byscore limit -1 2
zrange z 0 -1 limit 0 1
zrange z - + bylex withscores
zrange z 0 1 byscore bylex
zrangebyscore z -inf inf withscores limit 1 3
zrevrangebyscore z +inf -inf withscores limit 0 3
zrevrange z 0 2 withscores
zrevrange z 0 2 limit 0 1
zadd lex 0 a 0 b 0 c 0 d 0 e 0 f
zrangebylex lex - +
zrangebylex lex [b (e
zrangebylex lex (b [e limit 1 2
zrevrangebylex lex [e (b
zrevrangebylex lex + -
zrangebylex lex b e
zrangebylex lex [b (e withscores
zrange lex [b [d bylex rev
zrange lex [d [b bylex rev
zlexcount lex [b +
zlexcount lex + -
zrangestore dst z 0 1
zrange dst 0 -1 withscores
zrangestore dst z 5 1
exists dst
zrangestore dst lex [a [c bylex limit 1 1
zrangestore dst z 0 1 withscores
zadd r 1 a 2 b 3 c 4 d 5 e
zremrangebyrank r 0 1
zremrangebylex lex [a [b
zremrangebyscore r (3 4
zrange r 0 -1 withscores
zpopmin r
zpopmax r 5
zpopmin r -1
zpopmin r 0
zpopmin nokey 2
zadd p 1 a 2 b 3 c
zpopmin p 2
zmpop 1 p min
zmpop 1 p max count 5
zmpop 1 p max
zmpop 0 p max
zmpop 1 p foo
bzpopmin nokey 0.01
bzpopmax nokey abc
bzmpop 0.01 1 nokey min
zadd u1 1 a 2 b
zadd u2 3 b 4 c
sadd su b c x
zunion 2 u1 u2 withscores
zunion 3 u1 u2 su withscores weights 1 2 3
zunion 2 u1 u2 aggregate max withscores
zinter 2 u1 u2 withscores aggregate min
zinter 3 u1 u2 su withscores
zdiff 2 u1 u2 withscores
zdiff 2 u1 u2 weights 1 1
zunion 0 u1
zunion 3 u1 u2
zunion 2 u1 u2 weights 1 x
zunion 2 u1 u2 aggregate foo
zunionstore out 2 u1 u2 weights 2 0.5
zrange out 0 -1 withscores
zinterstore out 2 u1 nokey
exists out
zdiffstore out 1 u1
zrange out 0 -1 withscores
zintercard 2 u1 u2
zintercard 2 u1 u2 limit -1
zintercard 3 u1 u2
zintercard 0 u1
zadd infz +inf a
zunion 2 infz infz weights 1 -1 withscores
zunion 2 infz infz weights 0 0 withscores
zrandmember nokey
zrandmember nokey 3
zrandmember infz -3 withscores
zrandmember infz 1 withscores foo
zscan u1 0
zscan u1 0 match a*
zscan u1 -0
zscan u1 +0 count 100
zscan u1 18446744073709551616
zadd fl 0.1 a 1e100 b -0 c 3.0000000000000004 d
zrange fl 0 -1 withscores
zscore fl a
set str x
zadd str 1 a
zunion 2 u1 str
zrangebyscore z (1 (1
zrangebyscore z (-inf (+inf withscores
zadd z 1 a 1 a1 1 a2
zrangebyscore z 1 1 withscores
object encoding lex
""")

SORTS = _split("""
rpush l 3 1 2 10 1.5 -1
sort l
sort l desc
sort l alpha
sort l limit 1 2
sort l limit -1 2
sort l limit 10 2
sort_ro l desc
sort_ro l store x
rpush bad a 1
sort bad
sort bad alpha
sort nokey
sort nokey store dst
set w_3 30
set w_1 10
set w_2 5
hset h_3 f 1
hset h_1 f 3
sort l by w_*
sort l by w_* get # get w_*
sort l by w_* desc get w_* get h_*->f
sort l by nosort
sort l by nosort desc limit 0 2
sort l by h_*->f
sort l by w_* alpha get #
sort l store dst
lrange dst 0 -1
sort l get w_* store dst2
lrange dst2 0 -1
sadd s 5 3 9
sort s
sort s by nosort store dst3
lrange dst3 0 -1
zadd z 3 a 1 b 2 c
sort z alpha
sort z by nosort desc limit 0 2
set str x
sort str
sort l foo
sort l limit 1
""")


def test_lists(raw_pair: tuple[RawClient, RawClient]) -> None:
    compare(*raw_pair, LISTS)


def test_sets(raw_pair: tuple[RawClient, RawClient]) -> None:
    compare(*raw_pair, SETS)


def test_zsets(raw_pair: tuple[RawClient, RawClient]) -> None:
    compare(*raw_pair, ZSETS)


def test_sort(raw_pair: tuple[RawClient, RawClient]) -> None:
    compare(*raw_pair, SORTS)


# -- generated sequences -------------------------------------------------------------------------

_keys = st.sampled_from(["k1", "k2", "k3", "k4"])
_members = st.sampled_from(["a", "b", "c", "1", "2", "10"])
_ints = st.integers(min_value=-4, max_value=4).map(str)
_scores = st.sampled_from(["0", "1", "-1", "1.5", "inf", "-inf", "(1", "(0", "2"])
_lex = st.sampled_from(["-", "+", "[a", "(a", "[b", "(c", "[1"])


def _cmd(name: str, *parts: Any) -> Any:
    return st.tuples(st.just(name), *parts)


def _var(name: str, fixed: list[Any], extra: Any, max_size: int = 3) -> Any:
    return st.tuples(st.just(name), *fixed, st.lists(extra, min_size=1, max_size=max_size)).map(
        lambda t: (*t[:-1], *t[-1])
    )


_list_cmds = st.one_of(
    _var("lpush", [_keys], _members), _var("rpush", [_keys], _members), _var("lpushx", [_keys], _members),
    _cmd("lpop", _keys), _cmd("rpop", _keys, st.sampled_from(["0", "1", "2", "5"])),
    _cmd("lrange", _keys, _ints, _ints), _cmd("llen", _keys), _cmd("lindex", _keys, _ints),
    _cmd("lset", _keys, _ints, _members), _cmd("lrem", _keys, _ints, _members), _cmd("ltrim", _keys, _ints, _ints),
    _cmd("linsert", _keys, st.sampled_from(["before", "after"]), _members, _members),
    _cmd("lpos", _keys, _members, st.just("rank"), st.sampled_from(["1", "-1", "2"]), st.just("count"),
         st.sampled_from(["0", "1", "2"])),
    _cmd("lmove", _keys, _keys, st.sampled_from(["left", "right"]), st.sampled_from(["left", "right"])),
    _cmd("lmpop", st.just("2"), _keys, _keys, st.sampled_from(["left", "right"]), st.just("count"),
         st.sampled_from(["1", "3"])),
)
_set_cmds = st.one_of(
    _var("sadd", [_keys], _members), _var("srem", [_keys], _members), _cmd("scard", _keys),
    _cmd("sismember", _keys, _members), _cmd("smembers", _keys), _cmd("smove", _keys, _keys, _members),
    _var("sinter", [], _keys), _var("sunion", [], _keys), _var("sdiff", [], _keys),
    _var("sinterstore", [_keys], _keys), _var("sunionstore", [_keys], _keys), _var("sdiffstore", [_keys], _keys),
    _cmd("sintercard", st.just("2"), _keys, _keys), _cmd("spop", _keys, st.sampled_from(["0", "1", "9"])),
)
_zset_cmds = st.one_of(
    st.tuples(st.just("zadd"), _keys, st.sampled_from(["nx", "xx", "gt", "lt", "ch", "incr"]),
              st.sampled_from(["1", "2", "-1", "0.5", "inf"]), _members),
    st.tuples(st.just("zadd"), _keys, st.sampled_from(["1", "2", "0", "3"]), _members,
              st.sampled_from(["0", "2.5"]), _members),
    _cmd("zincrby", _keys, st.sampled_from(["1", "-2", "0.25"]), _members), _var("zrem", [_keys], _members),
    _cmd("zscore", _keys, _members), _cmd("zrank", _keys, _members), _cmd("zrevrank", _keys, _members),
    _cmd("zcount", _keys, _scores, _scores), _cmd("zlexcount", _keys, _lex, _lex),
    _cmd("zrange", _keys, _ints, _ints, st.just("withscores")),
    _cmd("zrange", _keys, _scores, _scores, st.just("byscore"), st.sampled_from(["rev", "withscores"])),
    _cmd("zrangebyscore", _keys, _scores, _scores, st.just("limit"), st.sampled_from(["0", "1"]),
         st.sampled_from(["-1", "1", "2"])),
    _cmd("zrangebylex", _keys, _lex, _lex), _cmd("zrevrangebylex", _keys, _lex, _lex),
    _cmd("zremrangebyscore", _keys, _scores, _scores), _cmd("zremrangebyrank", _keys, _ints, _ints),
    _cmd("zpopmin", _keys, st.sampled_from(["1", "2"])), _cmd("zpopmax", _keys),
    _cmd("zunionstore", _keys, st.just("2"), _keys, _keys, st.just("aggregate"), st.sampled_from(["sum", "min", "max"])),
    _cmd("zinter", st.just("2"), _keys, _keys, st.just("withscores")), _cmd("zdiff", st.just("2"), _keys, _keys),
    _cmd("zmpop", st.just("2"), _keys, _keys, st.sampled_from(["min", "max"])),
)
_generic = st.one_of(_cmd("del", _keys), _cmd("type", _keys), _cmd("set", _keys, _members))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(_list_cmds, _set_cmds, _zset_cmds, _generic), min_size=1, max_size=30))
def test_generated_sequences(raw_pair: tuple[RawClient, RawClient], commands: list[tuple[str, ...]]) -> None:
    engine, redis = raw_pair
    for c in (engine, redis):
        c.call("FLUSHALL")
    compare(engine, redis, commands, context="generated: ")


# -- blocking: the same waiters and pushes on both servers ---------------------------------------

_BLOCKERS = [
    ("BLPOP", "q1", "q2", "0"),
    ("BRPOP", "q1", "0"),
    ("BLMOVE", "q2", "q3", "LEFT", "RIGHT", "0"),
    ("BLPOP", "q3", "0"),  # served by the BLMOVE above pushing into q3 (a chained wake-up)
    ("BZPOPMIN", "z1", "0"),
    ("BLMPOP", "0", "2", "q9", "q1", "RIGHT", "COUNT", "2"),
]
_PUSHES = [("RPUSH", "q1", "a", "b", "c", "d"), ("LPUSH", "q2", "x"), ("ZADD", "z1", "2", "m", "1", "n"),
           ("LRANGE", "q1", "0", "-1"), ("ZRANGE", "z1", "0", "-1", "WITHSCORES")]


def _blocking_run(port: int, resp: int) -> list[Any]:
    """Each waiter blocks in turn (0.1 s apart: enough for a loopback round trip on a busy
    box, and both servers get the same spacing), then the pushes run on another client."""
    import time

    waiters = [RawClient(port, resp=resp) for _ in _BLOCKERS]
    pusher = RawClient(port, resp=resp)
    pusher.call("FLUSHALL")
    for w, cmd in zip(waiters, _BLOCKERS, strict=True):
        w.send(*cmd)
        time.sleep(0.1)
    out: list[Any] = [pusher.call(*cmd) for cmd in _PUSHES]
    out += [w.read() for w in waiters]
    for c in (*waiters, pusher):
        c.close()
    return out


def test_blocking_order_matches_redis(engine_shared: Any, redis_real_shared: Any) -> None:
    for resp in (2, 3):
        assert _blocking_run(engine_shared.port, resp) == _blocking_run(redis_real_shared.port, resp)


_TYPE_COMMANDS = """lpush rpush lpushx rpushx lpop rpop lrange llen lindex lset lrem ltrim linsert lpos lmove rpoplpush
lmpop blpop brpop blmove brpoplpush blmpop sadd srem smembers sismember smismember scard spop srandmember smove sinter
sintercard sunion sdiff sinterstore sunionstore sdiffstore sscan zadd zrem zscore zmscore zincrby zcard zcount zlexcount
zrange zrangestore zrangebyscore zrevrangebyscore zrangebylex zrevrangebylex zrevrange zrank zrevrank zremrangebyscore
zremrangebyrank zremrangebylex zpopmin zpopmax bzpopmin bzpopmax zmpop bzmpop zunion zinter zdiff zunionstore
zinterstore zdiffstore zintercard zrandmember zscan sort sort_ro""".split()


def test_command_table_rows_match_redis(raw_pair: tuple[RawClient, RawClient]) -> None:
    """Arity, flags, key positions and ACL categories of every list/set/zset/sort command, as
    COMMAND INFO shows them (the first seven fields; tips and key specs are not compared)."""
    engine, redis = raw_pair

    def row(client: RawClient, name: str) -> Any:
        info = client.call("COMMAND", "INFO", name).value[0].value
        return (info[0], info[1], sorted(f.value for f in info[2].value), info[3], info[4], info[5],
                sorted(c.value for c in info[6].value))

    assert [row(engine, n) for n in _TYPE_COMMANDS] == [row(redis, n) for n in _TYPE_COMMANDS]


GETKEYS = _split("""
command getkeys lmpop 2 a b left
command getkeys blmpop 0 2 a b left count 2
command getkeys zmpop 1 a min
command getkeys bzmpop 1 2 a b max
command getkeys zunionstore dst 2 a b weights 1 2
command getkeys zinter 2 a b
command getkeys zdiff 1 a
command getkeys zintercard 2 a b
command getkeys sintercard 2 a b limit 1
command getkeys sort k store d by w_* get x_*
command getkeys sort_ro k by w_*
command getkeys blpop a b 0
command getkeys lmove a b left left
command getkeys zrangestore d s 0 1
""")


def test_command_getkeys(raw_pair: tuple[RawClient, RawClient]) -> None:
    compare(*raw_pair, GETKEYS)


IN_MULTI = _split("""
multi
blpop k 0
brpoplpush k d 0
blmove k d left left 0
bzpopmin z 0
blmpop 0 1 k left
bzmpop 0 1 z min
rpush k a
blpop k 0
exec
""")


def test_blocking_commands_inside_multi(raw_pair: tuple[RawClient, RawClient]) -> None:
    """Inside EXEC nothing blocks: each form gives its own empty reply (nil or null array)."""
    compare(*raw_pair, IN_MULTI)


ENCODINGS = _split("""
zadd z 0 m0 1 m1 2 m2 3 m3 4 m4 5 m5 6 m6 7 m7 8 m8 9 m9
object encoding z
config set zset-max-listpack-entries 5
zadd z 10 m10
object encoding z
zremrangebyrank z 0 -2
object encoding z
zunionstore u 1 z
object encoding u
zrangestore r z 0 0
object encoding r
zadd long2 1 a 2 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
zrem long2 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
object encoding long2
config set zset-max-listpack-entries 128
config set set-max-intset-entries 3
sadd s 1 2 3
object encoding s
sadd s 4
object encoding s
sadd t 1 x
object encoding t
config set set-max-intset-entries 512
rpush l a
object encoding l
""")


def test_object_encoding(raw_pair: tuple[RawClient, RawClient]) -> None:
    """OBJECT ENCODING across the listpack/skiplist and intset/hashtable limits; a sorted set
    stays a skiplist after shrinking, results of *STORE are encoded afresh."""
    try:
        compare(*raw_pair, ENCODINGS)
    finally:
        for c in raw_pair:
            c.call("CONFIG", "SET", "zset-max-listpack-entries", "128")
            c.call("CONFIG", "SET", "set-max-intset-entries", "512")


# Found by the differential fuzz: ZINTERCARD checks every key's type before it parses LIMIT.
ZINTERCARD_ORDER = _split("""
set str x
zintercard 2 str nokey limit -3
zintercard 2 nokey str limit x
zintercard 2 nokey nokey2 limit -3
zadd z 1 a
zintercard 1 z limit -1
""")


def test_zintercard_validation_order(raw_pair: tuple[RawClient, RawClient]) -> None:
    compare(*raw_pair, ZINTERCARD_ORDER)


def test_negative_zero_score_kept_only_by_a_skiplist(raw_pair: tuple[RawClient, RawClient]) -> None:
    """Found by the differential fuzz: a listpack sorted set reads -0 back as 0, a skiplist keeps
    the double -0, including for the member whose insertion converts the set."""
    long = b"x" * 70
    many = [a for i in range(128) for a in (b"%d" % i, b"m%d" % i)]
    compare(*raw_pair, [
        [b"ZINCRBY", b"a", b"-0", b"m"], [b"ZRANGE", b"a", b"0", b"-1", b"WITHSCORES"],
        [b"ZINCRBY", b"b", b"-0", long], [b"ZRANGE", b"b", b"0", b"-1", b"WITHSCORES"], [b"ZSCORE", b"b", long],
        [b"ZADD", b"c", b"-0", b"short", b"-0", long], [b"ZRANGE", b"c", b"0", b"-1", b"WITHSCORES"],
        [b"ZADD", b"d", *many], [b"ZADD", b"d", b"-0", b"new"], [b"ZSCORE", b"d", b"new"],
        [b"ZADD", b"d", b"-0", b"m5"], [b"ZSCORE", b"d", b"m5"], [b"OBJECT", b"ENCODING", b"d"],
        [b"ZADD", b"e", b"1", long], [b"ZADD", b"e", b"-0", long], [b"ZSCORE", b"e", long], [b"DUMP", b"b"],
    ])
