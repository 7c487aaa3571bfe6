"""BITOP, BITFIELD and BITFIELD_RO against a real redis-server 7.0, reply by reply, plus a
seeded generated sequence of BITFIELD operations of every width, sign and overflow policy."""

from __future__ import annotations

import random

from tests.differential.harness import RawClient, compare


def _split(lines: str) -> list[list[str]]:
    return [line.split() for line in lines.strip().splitlines() if line.strip() and not line.startswith("#")]


BITS = _split("""
set a foobar
set b abcdef
set c xy
bitop and dest a b
get dest
object encoding dest
bitop or dest a c
get dest
bitop xor dest a b c nokey
get dest
bitop not dest a
get dest
bitop not dest a b
bitop nand dest a
bitop and dest nokey1 nokey2
exists dest
bitop or dest2 a
bitop and dest2 nokey
exists dest2
rpush list x
bitop and dest a list
bitfield bf set i5 100 -1 get u4 0 incrby u2 102 1
bitfield bf get i8 0 get u8 8 get i64 0 get u63 1
bitfield bf overflow sat incrby u2 102 5 overflow wrap incrby u2 102 5 overflow fail incrby u2 102 5
bitfield bf overflow fail set u8 #3 256 get u8 #3
bitfield bf set u8 #3 -1 overflow sat set u8 #4 -1 set i8 #5 200 overflow wrap set i8 #6 200
bitfield bf incrby i64 0 9223372036854775807 overflow sat incrby i64 0 1 overflow fail incrby i64 0 1
get bf
bitfield bf get u64 0
bitfield bf get i65 0
bitfield bf get x8 0
bitfield bf get u8 -1
bitfield bf get u8 abc
bitfield bf overflow bogus get u8 0
bitfield bf bogus
bitfield bf get u8
bitfield bf set u8 0 abc
bitfield bf
bitfield nokey get u8 0 get i16 #2
exists nokey
bitfield_ro bf get u8 0 get i4 #3
bitfield_ro bf set u8 0 1
bitfield_ro nokey get u8 0
bitfield list get u8 0
bitfield new overflow fail incrby u8 100 300
get new
strlen new
bitcount a
bitcount a 1 1
bitcount a 5 30 bit
bitpos a 1 2 -1 bit
""")


def test_bitop_and_bitfield(raw_pair: tuple[RawClient, RawClient]) -> None:
    compare(*raw_pair, BITS)


def test_bitfield_generated(raw_pair: tuple[RawClient, RawClient]) -> None:
    rng = random.Random(5)
    commands: list[list[str]] = []
    for _ in range(150):
        cmd = ["bitfield", "k"]
        for _ in range(rng.randint(1, 4)):
            signed = rng.random() < 0.5
            bits = rng.randint(1, 64 if signed else 63)
            typ = f"{'i' if signed else 'u'}{bits}"
            offset = f"#{rng.randint(0, 6)}" if rng.random() < 0.3 else str(rng.randint(0, 200))
            op = rng.choice(["get", "set", "incrby", "overflow"])
            if op == "overflow":
                cmd += ["overflow", rng.choice(["wrap", "sat", "fail"])]
            elif op == "get":
                cmd += ["get", typ, offset]
            else:
                value = rng.choice([0, 1, -1, 2 ** 62, -(2 ** 63), 2 ** 63 - 1, rng.randint(-1000, 1000)])
                cmd += [op, typ, offset, str(value)]
        commands.append(cmd)
    commands.append(["get", "k"])
    compare(*raw_pair, commands)


# Found by the differential fuzz: BITCOUNT answers 0 for a missing key and for an inverted
# negative range before it parses BYTE|BIT (7.0.15's order).
BITCOUNT_ORDER = _split("""
bitcount nokey -1 -3 BAD
set str x
bitcount str -1 -3 BAD
bitcount str 1 0 BAD
bitcount str -1 -3 BIT
bitcount str 0 -1 bit
""")


def test_bitcount_validation_order(raw_pair: tuple[RawClient, RawClient]) -> None:
    compare(*raw_pair, BITCOUNT_ORDER)
