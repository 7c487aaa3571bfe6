"""RESP2 and RESP3 encoding of replies: the one place that knows the wire format of answers.

Handlers return plain Python values and this module turns them into bytes for the client's
protocol version (https://redis.io/docs/reference/protocol-spec/):

==================  ==================  ==================
Python value        RESP2               RESP3
==================  ==================  ==================
``bytes``           bulk ``$``          bulk ``$``
``int``             integer ``:``       integer ``:``
``None``            null bulk ``$-1``   null ``_``
``NULL_ARRAY``      null array ``*-1``  null ``_``
``Status``          simple ``+``        simple ``+``
``RedisError``      error ``-``         error ``-``
``list``/``tuple``  array ``*``         array ``*``
``dict``            flat array          map ``%``
``set``             array               set ``~``
``float``           bulk (``%.17g``)    double ``,``
``bool``            integer 0/1         boolean ``#``
``Push``            array               push ``>``
``Verbatim``        bulk                verbatim ``=``
``Encoded``         as is               as is
==================  ==================  ==================

Doubles are printed as Redis 7.0's ``addReplyDouble`` prints them: ``%.17g``, with ``inf``/``-inf``.
"""

from __future__ import annotations

from typing import Any

from engine.errors import RedisError

__all__ = [
    "Status",
    "OK",
    "QUEUED",
    "PONG",
    "NULL_ARRAY",
    "Push",
    "Verbatim",
    "Encoded",
    "Replies",
    "BigNumber",
    "DoubleText",
    "OrderedSet",
    "PairMap",
    "Reply",
    "encode",
    "format_double",
]


class Status(str):
    """A simple string reply (``+OK``)."""

    __slots__ = ()


class Push(list):  # type: ignore[type-arg]
    """An out-of-band message (pub/sub, invalidation): ``>`` in RESP3, an array in RESP2."""

    __slots__ = ()


class Verbatim(bytes):
    """A verbatim text reply (INFO, CLIENT LIST in RESP3): ``=len\\r\\ntxt:...``."""

    __slots__ = ()


class Encoded(bytes):
    """A reply a handler already wrote in RESP for the calling client's protocol, sent as is.

    Why: a hot reply with a fixed nested shape (XREADGROUP's one new entry: five levels of
    arrays) costs more to walk as Python lists than to format at once.  Only for a client
    whose protocol is the one the bytes were written for and that reads bytes, never for a
    script's fake client (it converts reply values to Lua)."""

    __slots__ = ()


class BigNumber(bytes):
    """A big number (Lua's ``{big_number=...}``): ``(`` in RESP3, a bulk string in RESP2."""

    __slots__ = ()


class DoubleText(bytes):
    """A double already formatted by the command (GEOPOS's ``%.17Lf`` without trailing zeros,
    addReplyHumanLongDouble): ``,text`` in RESP3, a bulk string in RESP2."""

    __slots__ = ()


class OrderedSet(list):  # type: ignore[type-arg]
    """A set reply whose order is meaningful to readers (setDeferredSetLen after ordered adds,
    e.g. key-spec flags): ``~`` in RESP3, an array in RESP2, items in list order."""

    __slots__ = ()


class PairMap(list):  # type: ignore[type-arg]
    """A map reply given as a list of (key, value) pairs, for maps whose keys may repeat (XREAD
    STREAMS k k 0 0 answers ``%2`` with ``k`` twice): ``%`` in RESP3, a flat array in RESP2."""

    __slots__ = ()


class Replies(list):  # type: ignore[type-arg]
    """Several replies to one command, written one after another (SUBSCRIBE a b c answers
    once per channel, as pubsub.c does)."""

    __slots__ = ()


class _NullArray:
    __slots__ = ()

    def __repr__(self) -> str:
        return "NULL_ARRAY"


OK = Status("OK")
QUEUED = Status("QUEUED")
PONG = Status("PONG")
NULL_ARRAY = _NullArray()

Reply = Any

_INF = float("inf")


def format_double(d: float) -> bytes:
    """A double as Redis 7.0 replies it (``%.17g``; ``inf``, ``-inf``)."""
    if d == _INF:
        return b"inf"
    if d == -_INF:
        return b"-inf"
    return b"%.17g" % d


def _error_line(err: RedisError) -> bytes:
    text = err.reply_text().replace("\r", " ").replace("\n", " ")
    return b"-" + text.encode("utf-8", "replace") + b"\r\n"


def encode(value: Reply, resp: int = 2) -> bytes:
    """Encode one reply; fast paths first since GET/SET/INCR dominate real traffic."""
    t = type(value)
    if t is bytes:
        return b"$%d\r\n%s\r\n" % (len(value), value)
    if t is Status:
        return b"+" + value.encode() + b"\r\n"
    if t is int:
        return b":%d\r\n" % value
    if value is None:
        return b"_\r\n" if resp == 3 else b"$-1\r\n"
    if t is Encoded:
        return value
    out: list[bytes] = []
    _encode_into(value, resp, out)
    return b"".join(out)


def _encode_into(value: Reply, resp: int, out: list[bytes]) -> None:
    t = type(value)
    if t is bytes or t is bytearray:
        out.append(b"$%d\r\n%s\r\n" % (len(value), value))
    elif t is int:
        out.append(b":%d\r\n" % value)
    elif value is None:
        out.append(b"_\r\n" if resp == 3 else b"$-1\r\n")
    elif t is list or t is tuple:
        out.append(b"*%d\r\n" % len(value))
        for item in value:
            ti = type(item)
            if ti is bytes:  # bulk and integer leaves (stream fields, BITFIELD results) without a call
                out.append(b"$%d\r\n%s\r\n" % (len(item), item))
            elif ti is int:
                out.append(b":%d\r\n" % item)
            else:
                _encode_into(item, resp, out)
    elif t is Status:
        out.append(b"+" + value.encode() + b"\r\n")
    elif t is Encoded:  # (an EXEC reply holding one)
        out.append(value)
    elif isinstance(value, RedisError):
        out.append(_error_line(value))
    elif t is dict:
        if resp == 3:
            out.append(b"%%%d\r\n" % len(value))
        else:
            out.append(b"*%d\r\n" % (2 * len(value)))
        for k, v in value.items():
            _encode_into(k, resp, out)
            _encode_into(v, resp, out)
    elif t is set or t is frozenset:
        out.append((b"~%d\r\n" if resp == 3 else b"*%d\r\n") % len(value))
        for item in value:
            _encode_into(item, resp, out)
    elif t is float:
        if resp == 3:
            if value != value:
                out.append(b",nan\r\n")
            else:
                out.append(b"," + format_double(value) + b"\r\n")
        else:
            s = format_double(value)
            out.append(b"$%d\r\n%s\r\n" % (len(s), s))
    elif t is bool:
        if resp == 3:
            out.append(b"#t\r\n" if value else b"#f\r\n")
        else:
            out.append(b":1\r\n" if value else b":0\r\n")
    elif value is NULL_ARRAY:
        out.append(b"_\r\n" if resp == 3 else b"*-1\r\n")
    elif t is Push:
        out.append((b">%d\r\n" if resp == 3 else b"*%d\r\n") % len(value))
        for item in value:
            _encode_into(item, resp, out)
    elif t is Verbatim:
        if resp == 3:
            out.append(b"=%d\r\ntxt:%s\r\n" % (len(value) + 4, value))
        else:
            out.append(b"$%d\r\n%s\r\n" % (len(value), value))
    elif t is Replies:
        for item in value:
            _encode_into(item, resp, out)
    elif t is OrderedSet:
        out.append((b"~%d\r\n" if resp == 3 else b"*%d\r\n") % len(value))
        for item in value:
            _encode_into(item, resp, out)
    elif t is DoubleText:
        out.append(b",%s\r\n" % value if resp == 3 else b"$%d\r\n%s\r\n" % (len(value), value))
    elif t is BigNumber:
        out.append(b"(%s\r\n" % value if resp == 3 else b"$%d\r\n%s\r\n" % (len(value), value))
    elif t is PairMap:
        out.append((b"%%%d\r\n" if resp == 3 else b"*%d\r\n") % (len(value) * (1 if resp == 3 else 2)))
        for k, v in value:
            _encode_into(k, resp, out)
            _encode_into(v, resp, out)
    elif t is str:
        b = value.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(b), b))
    elif isinstance(value, int):
        out.append(b":%d\r\n" % value)
    elif isinstance(value, (list, tuple)):
        out.append(b"*%d\r\n" % len(value))
        for item in value:
            _encode_into(item, resp, out)
    else:
        raise TypeError(f"cannot encode reply of type {t.__name__}")
