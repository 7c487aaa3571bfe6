"""FUNCTION DUMP and FUNCTION RESTORE (functions.c): the loaded libraries in Redis's format.

The payload is one ``RDB_OPCODE_FUNCTION2`` (245) record per library (the opcode byte, then the
library's source as an RDB string), the RDB version (2 bytes LE) and the CRC-64 of everything
before it (8 bytes LE) -- so a payload from redis-server 7.0 restores here and back.  RESTORE's
policies follow functionRestoreCommand: APPEND (default; an existing library is an error),
REPLACE, or FLUSH (the payload's libraries replace all); a failure leaves the libraries as they were.
"""

from __future__ import annotations

import io
import struct

from engine.client import Client
from engine.commands.functions import _load, _registry
from engine.errors import BAD_PAYLOAD, CommandError, RedisError
from engine.persistence.crc64 import crc64
from engine.persistence.rdb import (
    OPCODE_FUNCTION,
    OPCODE_FUNCTION2,
    RDB_VERSION,
    RdbError,
    RdbWriter,
    _Reader,
)
from engine.protocol import OK, Reply
from engine.table import subcommand

__all__ = ["function_dump", "function_restore"]


@subcommand("function", "dump", arity=2, flags="noscript", acl="@scripting", group="scripting", since="7.0.0",
            summary="Dump all functions into a serialized binary payload")
def function_dump(ctx: Client) -> Reply:
    _, libs, _ = _registry(ctx)
    buf = io.BytesIO()
    w = RdbWriter(buf, checksum=False)
    for lib in libs.values():
        w._raw(bytes((OPCODE_FUNCTION2,)))
        w.string(lib.code)
    w._flush()
    body = buf.getvalue() + struct.pack("<H", RDB_VERSION)
    return body + struct.pack("<Q", crc64(body))


def _codes(payload: bytes) -> list[bytes]:
    if len(payload) < 10:
        raise CommandError(BAD_PAYLOAD)
    (version,) = struct.unpack_from("<H", payload, len(payload) - 10)
    (stored,) = struct.unpack_from("<Q", payload, len(payload) - 8)
    if version > RDB_VERSION or (stored != 0 and stored != crc64(payload[:-8])):
        raise CommandError(BAD_PAYLOAD)
    r = _Reader(bytes(payload[:-10]))
    codes = []
    try:
        while r.pos < len(r.buf):
            t = r.byte()
            if t == OPCODE_FUNCTION:
                raise CommandError("ERR Pre-GA function format not supported")
            if t != OPCODE_FUNCTION2:
                raise CommandError("ERR given type is not a function")
            codes.append(r.string())
    except RdbError:
        raise CommandError("ERR failed loading the given functions payload") from None
    return codes


@subcommand("function", "restore", arity=-3, flags="write denyoom noscript", acl="@scripting", group="scripting",
            since="7.0.0", summary="Restore all the functions on the given payload")
def function_restore(ctx: Client, payload: bytes, *policy: bytes) -> Reply:
    mode = b"append"
    if policy:
        mode = policy[0].lower()
        if len(policy) > 1 or mode not in (b"append", b"replace", b"flush"):
            raise CommandError("ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.")
    codes = _codes(payload)
    _, libs, funcs = _registry(ctx)
    saved_libs, saved_funcs = dict(libs), dict(funcs)
    try:
        if mode == b"flush":
            libs.clear()
            funcs.clear()
        for code in codes:
            _load(ctx, code, replace=mode == b"replace")
    except RedisError:
        libs.clear()
        libs.update(saved_libs)
        funcs.clear()
        funcs.update(saved_funcs)
        raise
    ctx.server.dirty += 1
    return OK
