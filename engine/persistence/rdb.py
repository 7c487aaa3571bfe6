"""RDB snapshots in Redis 7.0's own file format (RDB version 10), written and read.

A file is ``REDIS0010``, auxiliary fields (``AUX name value``), then for each non-empty
database ``SELECTDB id``, ``RESIZEDB size expires`` and its keys (an optional
``EXPIRETIME_MS`` with the absolute unix time in ms, a type byte, the key string and the
value), then ``EOF`` and the CRC-64 of everything before it (``rdbSaveRio`` in rdb.c).  The
format is described by Redis's ``rdb.h``/``rdb.c``; the type and opcode numbers below are
copied from ``rdb.h``.

The writer chooses the encodings Redis 7.0 itself chooses with default settings
(``hash-max-listpack-entries 512``/``-value 64``, ``zset-max-listpack-entries 128``/``-value
64``, ``set-max-intset-entries 512``, ``list-max-listpack-size -2``), so
``redis-check-rdb`` and a real ``redis-server`` 7.0 accept the engine's ``dump.rdb``.  The
reader accepts everything Redis 7.0 writes for strings, lists, hashes, sets and sorted sets,
plus the older encodings it still reads (ziplist, zipmap, quicklist v1, plain lists and
``ZSET`` with string scores); module auxiliary data is skipped with a warning, as
``redis-check-rdb`` skips it.  FUNCTION libraries are ``RDB_OPCODE_FUNCTION2`` records (the
library's source) after the aux fields, written and read back.

:func:`save` writes to ``temp-<pid>.rdb`` in the target directory, fsyncs and renames it over
the destination, so a crash leaves either the old snapshot or the new one, never half of one
(``rdbSave`` in rdb.c).
"""

from __future__ import annotations

import io
import logging
import math
import os
import struct
import time
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from engine.objects import ZSet
from engine.persistence import intset, listpack, lzf, ziplist
from engine.persistence.crc64 import crc64
from engine.persistence.rdb_length import encode_length
from engine.streamtype import Stream

__all__ = [
    "RDB_VERSION",
    "REDIS_VERSION",
    "DatabaseImage",
    "RdbError",
    "RdbLoadResult",
    "RdbWriter",
    "dump_payload",
    "dumps",
    "load",
    "loads",
    "restore_payload",
    "fsync_dir",
    "save",
    "write_stream",
]

log = logging.getLogger("engine.persistence.rdb")

#: RDB_VERSION in rdb.h for Redis 7.0.
RDB_VERSION = 10
#: The version written in the ``redis-ver`` aux field; the engine behaves as Redis 7.0.
REDIS_VERSION = b"7.0.15"

# Object types (rdb.h).
TYPE_STRING = 0
TYPE_LIST = 1
TYPE_SET = 2
TYPE_ZSET = 3
TYPE_HASH = 4
TYPE_ZSET_2 = 5
TYPE_MODULE = 6
TYPE_MODULE_2 = 7
TYPE_HASH_ZIPMAP = 9
TYPE_LIST_ZIPLIST = 10
TYPE_SET_INTSET = 11
TYPE_ZSET_ZIPLIST = 12
TYPE_HASH_ZIPLIST = 13
TYPE_LIST_QUICKLIST = 14
TYPE_STREAM_LISTPACKS = 15
TYPE_HASH_LISTPACK = 16
TYPE_ZSET_LISTPACK = 17
TYPE_LIST_QUICKLIST_2 = 18
TYPE_STREAM_LISTPACKS_2 = 19
TYPE_SET_LISTPACK = 20  # Redis 7.2; read for convenience
TYPE_STREAM_LISTPACKS_3 = 21

# Opcodes (rdb.h).
OPCODE_FUNCTION2 = 245
OPCODE_FUNCTION = 246
OPCODE_MODULE_AUX = 247
OPCODE_IDLE = 248
OPCODE_FREQ = 249
OPCODE_AUX = 250
OPCODE_RESIZEDB = 251
OPCODE_EXPIRETIME_MS = 252
OPCODE_EXPIRETIME = 253
OPCODE_SELECTDB = 254
OPCODE_EOF = 255

# Special string encodings (rdb.h: RDB_ENC_*).
ENC_INT8 = 0
ENC_INT16 = 1
ENC_INT32 = 2
ENC_LZF = 3

# Module value opcodes (rdb.h: RDB_MODULE_OPCODE_*).
_MODULE_EOF = 0
_MODULE_SINT = 1
_MODULE_UINT = 2
_MODULE_FLOAT = 3
_MODULE_DOUBLE = 4
_MODULE_STRING = 5

# Quicklist v2 node containers (quicklist.h).
QUICKLIST_NODE_CONTAINER_PLAIN = 1
QUICKLIST_NODE_CONTAINER_PACKED = 2

# Default encoding limits of Redis 7.0 (redis.conf), which decide the written encodings.
HASH_MAX_LISTPACK_ENTRIES = 512
HASH_MAX_LISTPACK_VALUE = 64
ZSET_MAX_LISTPACK_ENTRIES = 128
ZSET_MAX_LISTPACK_VALUE = 64
SET_MAX_INTSET_ENTRIES = 512
LIST_MAX_LISTPACK_BYTES = 8192  # list-max-listpack-size -2

Value = Any  # bytes | bytearray | dict | deque | set | ZSet


class RdbError(Exception):
    """A snapshot that cannot be loaded: names the file (when known), offset and reason."""

    def __init__(self, reason: str, offset: int | None = None, path: str | None = None) -> None:
        self.reason = reason
        self.offset = offset
        self.path = path
        where = f" in {path}" if path else ""
        at = f" at offset {offset}" if offset is not None else ""
        super().__init__(f"Bad RDB format{where}{at}: {reason}")


@dataclass
class DatabaseImage:
    """The keys of one database as the RDB code sees them: values and absolute expiries (ms)."""

    id: int
    data: Mapping[bytes, Value]
    expires: Mapping[bytes, int] = field(default_factory=dict)


@dataclass
class RdbLoadResult:
    """What a snapshot held: the databases by id, the aux fields, and where the RDB ended."""

    dbs: dict[int, tuple[dict[bytes, Value], dict[bytes, int]]]
    aux: dict[bytes, bytes]
    end_offset: int
    keys_loaded: int = 0
    expired_skipped: int = 0
    #: FUNCTION LOAD'ed libraries' source, in file order (``RDB_OPCODE_FUNCTION2`` records).
    functions: list[bytes] = field(default_factory=list)


# ---------------------------------------------------------------------------------------
# Writing


_len_bytes = encode_length  # rdbSaveLen (engine/persistence/rdb_length.py)


def _int_encoding(s: bytes) -> bytes | None:
    """rdbTryIntegerEncoding: strings of at most 11 chars that are canonical 32-bit ints."""
    if len(s) > 11:
        return None
    v = listpack.string_to_int64(s)
    if v is None:
        return None
    if -(1 << 7) <= v < (1 << 7):
        return bytes((0xC0 | ENC_INT8,)) + struct.pack("<b", v)
    if -(1 << 15) <= v < (1 << 15):
        return bytes((0xC0 | ENC_INT16,)) + struct.pack("<h", v)
    if -(1 << 31) <= v < (1 << 31):
        return bytes((0xC0 | ENC_INT32,)) + struct.pack("<i", v)
    return None


def _score_string(score: float) -> bytes:
    """d2string in util.c (Redis 7.0): integers exactly, others with %.17g."""
    if math.isnan(score):
        return b"nan"
    if math.isinf(score):
        return b"inf" if score > 0 else b"-inf"
    if score == 0:
        return b"-0" if math.copysign(1.0, score) < 0 else b"0"
    if -4503599627370495 < score < 4503599627370496 and score == int(score):
        return str(int(score)).encode()
    return (b"%.17g" % score)


class RdbWriter:
    """Serialise databases to a binary stream in RDB format, computing the CRC as it goes."""

    def __init__(self, out: BinaryIO, *, compression: bool = True, checksum: bool = True) -> None:
        self.out = out
        self.compression = compression
        self.checksum = checksum
        self.crc = 0
        self.written = 0
        self._buf = bytearray()

    # -- low level --------------------------------------------------------------------
    def _raw(self, b: bytes | bytearray) -> None:
        self._buf += b
        if len(self._buf) >= 1 << 16:
            self._flush()

    def _flush(self) -> None:
        if self._buf:
            if self.checksum:
                self.crc = crc64(self._buf, self.crc)
            self.out.write(self._buf)
            self.written += len(self._buf)
            self._buf = bytearray()

    def string(self, s: bytes | bytearray) -> None:
        """rdbSaveRawString: integer encoding, then LZF, then plain."""
        s = bytes(s)
        n = len(s)
        if n <= 11:
            enc = _int_encoding(s)
            if enc is not None:
                self._raw(enc)
                return
        if self.compression and 20 < n <= lzf.COMPRESS_MAX_BYTES:
            comp = lzf.compress(s, n - 4)  # rdbSaveLzfStringObject: at least 4 bytes saved
            if comp:
                self._raw(bytes((0xC0 | ENC_LZF,)) + _len_bytes(len(comp)) + _len_bytes(n) + comp)
                return
        self._raw(_len_bytes(n))
        self._raw(s)

    # -- structure --------------------------------------------------------------------
    def header(self) -> None:
        self._raw(b"REDIS%04d" % RDB_VERSION)

    def aux(self, name: bytes, value: bytes) -> None:
        self._raw(bytes((OPCODE_AUX,)))
        self.string(name)
        self.string(value)

    def default_aux(self, *, aof_base: bool = False, used_mem: int = 0) -> None:
        """The aux fields rdbSaveInfoAuxFields writes."""
        self.aux(b"redis-ver", REDIS_VERSION)
        self.aux(b"redis-bits", b"64")
        self.aux(b"ctime", str(int(time.time())).encode())
        self.aux(b"used-mem", str(used_mem).encode())
        self.aux(b"aof-base", b"1" if aof_base else b"0")

    def database(self, db: DatabaseImage) -> None:
        if not db.data:
            return
        self._raw(bytes((OPCODE_SELECTDB,)) + _len_bytes(db.id))
        expires = db.expires
        self._raw(bytes((OPCODE_RESIZEDB,)) + _len_bytes(len(db.data)) + _len_bytes(len(expires)))
        for key, value in db.data.items():
            when = expires.get(key)
            if when is not None:
                self._raw(bytes((OPCODE_EXPIRETIME_MS,)) + struct.pack("<q", when))
            self.key_value(key, value)

    def _head(self, rtype: int, key: bytes | None) -> None:
        self._raw(bytes((rtype,)))
        if key is not None:
            self.string(key)

    def key_value(self, key: bytes | None, value: Value) -> None:
        """The type byte, the key (omitted when None, as in a DUMP payload) and the value."""
        t = type(value)
        if t is bytes or t is bytearray:
            self._head(TYPE_STRING, key)
            self.string(value)
        elif t is dict:
            self._hash(key, value)
        elif t is deque:
            self._list(key, value)
        elif t is set:
            self._set(key, value)
        elif t is ZSet:
            self._zset(key, value)
        elif t is Stream:
            from engine.persistence.rdb_stream import write_stream

            write_stream(self, key, value)
        else:
            raise TypeError(f"cannot save value of type {t.__name__} for key {key!r}")

    def _hash(self, key: bytes | None, h: dict[bytes, bytes]) -> None:
        if len(h) <= HASH_MAX_LISTPACK_ENTRIES and all(
            len(k) <= HASH_MAX_LISTPACK_VALUE and len(v) <= HASH_MAX_LISTPACK_VALUE for k, v in h.items()
        ):
            self._head(TYPE_HASH_LISTPACK, key)
            self.string(listpack.encode(x for kv in h.items() for x in kv))
            return
        self._head(TYPE_HASH, key)
        self._raw(_len_bytes(len(h)))
        for k, v in h.items():
            self.string(k)
            self.string(v)

    def _list(self, key: bytes | None, lst: deque[bytes]) -> None:
        """Quicklist v2 with listpack nodes of at most 8 KiB (list-max-listpack-size -2)."""
        nodes: list[bytes] = []
        node: list[bytes] = []
        size = 7
        for e in lst:
            esize = len(e) + 11  # an upper bound of encoding + backlen
            if node and size + esize > LIST_MAX_LISTPACK_BYTES:
                nodes.append(listpack.encode(node))
                node, size = [], 7
            node.append(e)
            size += esize
        if node:
            nodes.append(listpack.encode(node))
        self._head(TYPE_LIST_QUICKLIST_2, key)
        self._raw(_len_bytes(len(nodes)))
        for blob in nodes:
            self._raw(_len_bytes(QUICKLIST_NODE_CONTAINER_PACKED))
            self.string(blob)

    def _set(self, key: bytes | None, s: set[bytes]) -> None:
        if len(s) <= SET_MAX_INTSET_ENTRIES:
            ints = []
            for m in s:
                v = listpack.string_to_int64(m)
                if v is None:
                    break
                ints.append(v)
            else:
                self._head(TYPE_SET_INTSET, key)
                self.string(intset.encode(ints))
                return
        self._head(TYPE_SET, key)
        self._raw(_len_bytes(len(s)))
        for m in s:
            self.string(m)

    def _zset(self, key: bytes | None, z: ZSet) -> None:
        if len(z) <= ZSET_MAX_LISTPACK_ENTRIES and all(len(m) <= ZSET_MAX_LISTPACK_VALUE for m in z.dict):
            self._head(TYPE_ZSET_LISTPACK, key)
            self.string(listpack.encode(x for m, sc in z.items() for x in (m, _score_string(sc))))
            return
        self._head(TYPE_ZSET_2, key)
        self._raw(_len_bytes(len(z)))
        # rdbSaveObject walks the skiplist from the tail so that loading appends at the head.
        for score, member in reversed(z.index):
            self.string(member)
            self._raw(struct.pack("<d", score))

    def finish(self) -> None:
        self._raw(bytes((OPCODE_EOF,)))
        self._flush()
        self.out.write(struct.pack("<Q", self.crc if self.checksum else 0))
        self.written += 8


def write_stream(
    out: BinaryIO,
    dbs: Iterable[DatabaseImage],
    *,
    compression: bool = True,
    checksum: bool = True,
    aof_base: bool = False,
    aux: Mapping[bytes, bytes] | None = None,
    functions: Iterable[bytes] = (),
) -> int:
    """Write a complete RDB file to ``out``; return its size in bytes.

    ``functions`` are the FUNCTION libraries' source codes: each is one ``RDB_OPCODE_FUNCTION2``
    record after the aux fields and before the databases, where rdbSaveRio (rdbSaveFunctions)
    puts them, so redis-server 7.0 loads them back."""
    w = RdbWriter(out, compression=compression, checksum=checksum)
    w.header()
    w.default_aux(aof_base=aof_base)
    for name, value in (aux or {}).items():
        w.aux(name, value)
    for code in functions:
        w._raw(bytes((OPCODE_FUNCTION2,)))
        w.string(code)
    for db in dbs:
        w.database(db)
    w.finish()
    return w.written


def dumps(dbs: Iterable[DatabaseImage], **kw: Any) -> bytes:
    """The RDB file for ``dbs`` as bytes (see :func:`write_stream` for options)."""
    buf = io.BytesIO()
    write_stream(buf, dbs, **kw)
    return buf.getvalue()


def fsync_dir(path: Path) -> None:
    """fsync a directory so a rename in it survives a power loss (``fsyncFileDir``)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def save(path: Path | str, dbs: Iterable[DatabaseImage], **kw: Any) -> int:
    """Write the snapshot to ``temp-<pid>.rdb`` next to ``path``, fsync it and rename it over
    ``path`` (rdbSave: "Make sure data will not remain on the OS's output buffers"); returns
    the size.  Raises ``OSError`` on failure, after removing the temporary file."""
    path = Path(path)
    tmp = path.parent / f"temp-{os.getpid()}.rdb"
    try:
        with open(tmp, "wb", buffering=1 << 16) as f:
            size = write_stream(f, dbs, **kw)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise
    fsync_dir(path.parent)
    return size


# ---------------------------------------------------------------------------------------
# Reading


class _Reader:
    __slots__ = ("buf", "pos", "path")

    def __init__(self, buf: bytes, pos: int = 0, path: str | None = None) -> None:
        self.buf = buf
        self.pos = pos
        self.path = path

    def error(self, reason: str, offset: int | None = None) -> RdbError:
        return RdbError(reason, self.pos if offset is None else offset, self.path)

    def read(self, n: int) -> bytes:
        p = self.pos
        if p + n > len(self.buf):
            raise self.error(f"unexpected end of file (wanted {n} bytes)")
        self.pos = p + n
        return self.buf[p : p + n]

    def byte(self) -> int:
        p = self.pos
        if p >= len(self.buf):
            raise self.error("unexpected end of file")
        self.pos = p + 1
        return self.buf[p]

    def length(self) -> tuple[int, bool]:
        """rdbLoadLenByRef: (length, is_encoded)."""
        b = self.byte()
        kind = b >> 6
        if kind == 0:
            return b & 0x3F, False
        if kind == 1:
            return ((b & 0x3F) << 8) | self.byte(), False
        if kind == 3:
            return b & 0x3F, True
        if b == 0x80:
            return struct.unpack(">I", self.read(4))[0], False
        if b == 0x81:
            return struct.unpack(">Q", self.read(8))[0], False
        raise self.error(f"unknown length encoding 0x{b:02x}", self.pos - 1)

    def len(self) -> int:
        n, enc = self.length()
        if enc:
            raise self.error("encoded length where a plain length was expected")
        return n

    def string(self) -> bytes:
        """rdbGenericLoadStringObject: integer, LZF or plain strings."""
        start = self.pos
        n, enc = self.length()
        if not enc:
            return self.read(n)
        if n == ENC_INT8:
            return str(struct.unpack("<b", self.read(1))[0]).encode()
        if n == ENC_INT16:
            return str(struct.unpack("<h", self.read(2))[0]).encode()
        if n == ENC_INT32:
            return str(struct.unpack("<i", self.read(4))[0]).encode()
        if n == ENC_LZF:
            clen = self.len()
            ulen = self.len()
            try:
                return lzf.decompress(self.read(clen), ulen)
            except lzf.LzfError as exc:
                raise self.error(f"invalid LZF compressed string: {exc}", start) from None
        raise self.error(f"unknown string encoding {n}", start)

    def double_string(self) -> float:
        """rdbLoadDoubleValue (RDB_TYPE_ZSET): a length byte then the ASCII score."""
        n = self.byte()
        if n == 253:
            return math.nan
        if n == 254:
            return math.inf
        if n == 255:
            return -math.inf
        try:
            return float(self.read(n))
        except ValueError:
            raise self.error("invalid double value") from None

    def binary_double(self) -> float:
        return struct.unpack("<d", self.read(8))[0]

    def skip_module_value(self) -> None:
        """rdbLoadCheckModuleValue: skip opcode-tagged module data up to its EOF opcode."""
        while True:
            op = self.len()
            if op == _MODULE_EOF:
                return
            if op in (_MODULE_SINT, _MODULE_UINT):
                self.len()
            elif op == _MODULE_STRING:
                self.string()
            elif op == _MODULE_FLOAT:
                self.read(4)
            elif op == _MODULE_DOUBLE:
                self.read(8)
            else:
                raise self.error(f"unknown module opcode {op}")


def _pairs(elements: list[bytes], r: _Reader, start: int) -> list[tuple[bytes, bytes]]:
    if len(elements) % 2:
        raise r.error("odd number of elements in a key/value encoding", start)
    it = iter(elements)
    return list(zip(it, it, strict=True))


def _zset_from_pairs(pairs: Iterable[tuple[bytes, bytes]], r: _Reader, start: int) -> ZSet:
    z = ZSet()
    for member, score in pairs:
        try:
            sc = float(score)
        except ValueError:
            raise r.error("invalid score in sorted set", start) from None
        z.add(member, sc)
    return z


def _zipmap_decode(blob: bytes, r: _Reader, start: int) -> dict[bytes, bytes]:
    """zipmap.c: <zmlen> (<len>key<len><free>value<free bytes>)* 0xFF."""
    out: dict[bytes, bytes] = {}
    p = 1
    try:
        while blob[p] != 0xFF:
            n = blob[p]
            if n == 254:
                n = struct.unpack_from("<I", blob, p + 1)[0]
                p += 5
            else:
                p += 1
            k = blob[p : p + n]
            p += n
            n = blob[p]
            if n == 254:
                n = struct.unpack_from("<I", blob, p + 1)[0]
                p += 5
            else:
                p += 1
            free = blob[p]
            p += 1
            out[k] = blob[p : p + n]
            p += n + free
    except (IndexError, struct.error):
        raise r.error("corrupt zipmap", start) from None
    return out


def _skip_stream(r: _Reader, rtype: int) -> None:
    """Walk over a stream value (rdbLoadObject, RDB_TYPE_STREAM_LISTPACKS*) without keeping it."""
    for _ in range(r.len()):
        r.string()  # master ID (16 bytes)
        r.string()  # listpack of entries
    r.len()  # length
    r.len(), r.len()  # last_id
    if rtype >= TYPE_STREAM_LISTPACKS_2:
        r.len(), r.len()  # first_id
        r.len(), r.len()  # max_deleted_entry_id
        r.len()  # entries_added
    for _ in range(r.len()):  # consumer groups
        r.string()
        r.len(), r.len()  # last_id
        if rtype >= TYPE_STREAM_LISTPACKS_2:
            r.len()  # entries_read
        for _ in range(r.len()):  # global PEL: raw id, delivery time, delivery count
            r.read(16 + 8)
            r.len()
        for _ in range(r.len()):  # consumers
            r.string()
            r.read(8)  # seen_time
            if rtype >= TYPE_STREAM_LISTPACKS_3:
                r.read(8)  # active_time
            for _ in range(r.len()):
                r.read(16)


def _read_object(r: _Reader, rtype: int, key: bytes) -> Value | None:
    """rdbLoadObject for the types the engine holds; None for a skipped module value."""
    start = r.pos
    try:
        if rtype == TYPE_STRING:
            return r.string()
        if rtype == TYPE_LIST:
            return deque(r.string() for _ in range(r.len()))
        if rtype == TYPE_SET:
            return {r.string() for _ in range(r.len())}
        if rtype == TYPE_ZSET_2 or rtype == TYPE_ZSET:
            z = ZSet()
            for _ in range(r.len()):
                member = r.string()
                z.add(member, r.binary_double() if rtype == TYPE_ZSET_2 else r.double_string())
            return z
        if rtype == TYPE_HASH:
            n = r.len()
            h: dict[bytes, bytes] = {}
            for _ in range(n):
                k = r.string()
                h[k] = r.string()
            return h
        if rtype == TYPE_LIST_QUICKLIST_2:
            lst: deque[bytes] = deque()
            for _ in range(r.len()):
                container = r.len()
                blob = r.string()
                if container == QUICKLIST_NODE_CONTAINER_PLAIN:
                    lst.append(blob)
                elif container == QUICKLIST_NODE_CONTAINER_PACKED:
                    lst.extend(listpack.decode(blob))
                else:
                    raise r.error(f"quicklist integrity check failed: container {container}", start)
            return lst
        if rtype == TYPE_LIST_QUICKLIST:
            lst = deque()
            for _ in range(r.len()):
                lst.extend(ziplist.decode(r.string()))
            return lst
        if rtype == TYPE_LIST_ZIPLIST:
            return deque(ziplist.decode(r.string()))
        if rtype == TYPE_SET_INTSET:
            return {str(v).encode() for v in intset.decode(r.string())}
        if rtype == TYPE_SET_LISTPACK:
            return set(listpack.decode(r.string()))
        if rtype == TYPE_HASH_LISTPACK:
            return dict(_pairs(listpack.decode(r.string()), r, start))
        if rtype == TYPE_HASH_ZIPLIST:
            return dict(_pairs(ziplist.decode(r.string()), r, start))
        if rtype == TYPE_HASH_ZIPMAP:
            return _zipmap_decode(r.string(), r, start)
        if rtype == TYPE_ZSET_LISTPACK:
            return _zset_from_pairs(_pairs(listpack.decode(r.string()), r, start), r, start)
        if rtype == TYPE_ZSET_ZIPLIST:
            return _zset_from_pairs(_pairs(ziplist.decode(r.string()), r, start), r, start)
        if rtype == TYPE_MODULE_2:
            moduleid = r.len()
            r.skip_module_value()
            log.warning("skipping key %r of module type id %d: no such module", key, moduleid)
            return None
        if rtype == TYPE_MODULE:
            raise r.error("module value of RDB_TYPE_MODULE (pre-7) cannot be skipped without its module", start)
        if rtype in (TYPE_STREAM_LISTPACKS, TYPE_STREAM_LISTPACKS_2, TYPE_STREAM_LISTPACKS_3):
            from engine.persistence.rdb_stream import read_stream

            return read_stream(r, rtype)
    except (listpack.ListpackError, ziplist.ZiplistError, intset.IntsetError) as exc:
        raise r.error(f"key {key!r}: {exc}", start) from None
    raise r.error(f"unknown RDB object type {rtype}", start - 1)


def loads(
    data: bytes,
    *,
    path: str | None = None,
    now_ms: int | None = None,
    verify_checksum: bool = True,
) -> RdbLoadResult:
    """Parse a whole RDB image (rdbLoadRio).

    Keys whose expiry is before ``now_ms`` are dropped, as a master does on load; pass
    ``now_ms=None`` to keep every key.  ``end_offset`` in the result is where the RDB ended,
    which is where an AOF with an RDB preamble continues with commands.
    """
    r = _Reader(data, 0, path)
    magic = r.read(9)
    if magic[:5] != b"REDIS":
        raise r.error("wrong signature trying to load DB from file", 0)
    try:
        version = int(magic[5:])
    except ValueError:
        raise r.error("wrong signature trying to load DB from file", 0) from None
    if version < 1 or version > RDB_VERSION + 1:
        raise r.error(f"can't handle RDB format version {version}", 5)
    result = RdbLoadResult(dbs={}, aux={}, end_offset=0)
    data_db, expires_db = result.dbs.setdefault(0, ({}, {}))
    expire_at: int | None = None
    while True:
        op_at = r.pos
        t = r.byte()
        if t == OPCODE_EXPIRETIME_MS:
            expire_at = struct.unpack("<q", r.read(8))[0]
            continue
        if t == OPCODE_EXPIRETIME:
            expire_at = struct.unpack("<i", r.read(4))[0] * 1000
            continue
        if t == OPCODE_FREQ:
            r.byte()
            continue
        if t == OPCODE_IDLE:
            r.len()
            continue
        if t == OPCODE_EOF:
            break
        if t == OPCODE_SELECTDB:
            dbid = r.len()
            data_db, expires_db = result.dbs.setdefault(dbid, ({}, {}))
            continue
        if t == OPCODE_RESIZEDB:
            r.len()
            r.len()
            continue
        if t == OPCODE_AUX:
            name = r.string()
            result.aux[name] = r.string()
            continue
        if t == OPCODE_MODULE_AUX:
            moduleid = r.len()
            r.len()  # when_opcode
            r.len()  # when
            r.skip_module_value()
            log.warning("skipping module aux data (module id %d) at offset %d: no such module", moduleid, op_at)
            continue
        if t == OPCODE_FUNCTION2:
            result.functions.append(r.string())
            continue
        if t == OPCODE_FUNCTION:
            raise r.error("pre-release function format is not supported", op_at)
        key = r.string()
        value = _read_object(r, t, key)
        when, expire_at = expire_at, None
        if value is None:
            continue
        if _is_empty(value):
            # rdbLoadObject turns empty keys into an error; skipping them matches Redis's
            # "empty keys skipped" warning in rdbLoadRio.
            log.warning("empty key %r skipped while loading RDB", key)
            continue
        if when is not None and now_ms is not None and when < now_ms:
            result.expired_skipped += 1
            continue
        data_db[key] = value
        if when is not None:
            expires_db[key] = when
        result.keys_loaded += 1
    eof_end = r.pos
    if version >= 5:
        stored = struct.unpack("<Q", r.read(8))[0]
        if verify_checksum and stored != 0 and stored != crc64(memoryview(data)[:eof_end]):
            raise RdbError("RDB CRC error", eof_end, path)
    result.end_offset = r.pos
    result.dbs = {k: v for k, v in result.dbs.items() if v[0]}
    return result


def _is_empty(value: Value) -> bool:
    return type(value) not in (bytes, bytearray, Stream) and len(value) == 0


def load(path: Path | str, *, now_ms: int | None = None, verify_checksum: bool = True) -> RdbLoadResult:
    """Read and parse an RDB file (see :func:`loads`)."""
    path = Path(path)
    return loads(path.read_bytes(), path=str(path), now_ms=now_ms, verify_checksum=verify_checksum)


# ---------------------------------------------------------------------------------------
# DUMP / RESTORE payloads


def dump_payload(value: Value) -> bytes:
    """The DUMP serialisation (createDumpPayload): type byte and value in RDB format, the RDB
    version as 2 bytes LE, then the CRC-64 of all that, 8 bytes LE."""
    buf = io.BytesIO()
    w = RdbWriter(buf, checksum=False)
    w.key_value(None, value)
    w._flush()
    body = buf.getvalue() + struct.pack("<H", RDB_VERSION)
    return body + struct.pack("<Q", crc64(body))


def restore_payload(payload: bytes) -> Value:
    """Parse a DUMP payload (verifyDumpPayload + rdbLoadObject).

    Raises :class:`RdbError`; RESTORE replies "ERR DUMP payload version or checksum are wrong"
    when the trailer does not verify and "ERR Bad data format" for the rest.
    """
    if len(payload) < 10:
        raise RdbError("DUMP payload version or checksum are wrong")
    (version,) = struct.unpack_from("<H", payload, len(payload) - 10)
    (stored,) = struct.unpack_from("<Q", payload, len(payload) - 8)
    if version > RDB_VERSION or (stored != 0 and stored != crc64(memoryview(payload)[:-8])):
        raise RdbError("DUMP payload version or checksum are wrong")
    r = _Reader(bytes(payload[:-10]))
    value = _read_object(r, r.byte(), b"")
    if value is None or r.pos != len(r.buf) or _is_empty(value):
        raise RdbError("Bad data format")
    return value
