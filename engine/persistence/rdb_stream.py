"""Streams in RDB files and DUMP payloads (rdbSaveObject / rdbLoadObject, RDB_TYPE_STREAM_LISTPACKS_2).

Redis 7.0 writes a stream as: the number of listpack nodes; for each its master ID (16 bytes,
big-endian ms then seq, the radix-tree key) and the listpack; the length; last ID; first ID;
max deleted entry ID; entries added; then each consumer group (name, last ID, entries read,
global PEL with delivery time and count, consumers with seen time and their PEL of raw IDs).

A node's listpack holds a *master entry* (live count, deleted count, the field names of the
node's first entry, a 0 terminator) followed by entries ``flags, ms-delta, seq-delta,
[num-fields, field, value ...] | [value ...], lp-count`` with ``SAMEFIELDS`` set when the
entry's field names equal the master's.  The engine writes each node compacted (deleted
entries dropped, the deleted count 0), which redis-server loads as it loads its own files, and
reads Redis's nodes including their deleted-flagged entries.

Type 21 (``STREAM_LISTPACKS_3``, Redis 7.2, consumers' active time) is read too.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from sortedcontainers import SortedDict

from engine.persistence import listpack
from engine.persistence.rdb_length import encode_length
from engine.streamtype import NACK, U64, Consumer, Group, Node, Stream, StreamID

if TYPE_CHECKING:
    from engine.persistence.rdb import RdbWriter, _Reader

__all__ = ["TYPE_STREAM_LISTPACKS", "TYPE_STREAM_LISTPACKS_2", "TYPE_STREAM_LISTPACKS_3", "write_stream",
           "read_stream"]

TYPE_STREAM_LISTPACKS = 15
TYPE_STREAM_LISTPACKS_2 = 19
TYPE_STREAM_LISTPACKS_3 = 21

FLAG_DELETED = 1
FLAG_SAMEFIELDS = 2


def _raw_id(sid: StreamID) -> bytes:
    return struct.pack(">QQ", sid[0], sid[1])


def _len(n: int) -> bytes:
    return encode_length(n & U64)


def _node_listpack(master: StreamID, entries: list[tuple[StreamID, list[bytes]]]) -> bytes:
    master_fields = entries[0][1][0::2]
    elements: list[bytes | int] = [len(entries), 0, len(master_fields), *master_fields, 0]
    for sid, fv in entries:
        fields = fv[0::2]
        same = fields == master_fields
        elements += [FLAG_SAMEFIELDS if same else 0, sid[0] - master[0], sid[1] - master[1]]
        if same:
            elements += fv[1::2]
            elements.append(len(fields) + 3)
        else:
            elements.append(len(fields))
            elements += fv
            elements.append(2 * len(fields) + 4)
    return listpack.encode(elements)


def write_stream(w: RdbWriter, key: bytes | None, s: Stream) -> None:
    """The type byte (19), the key (unless a DUMP payload) and the stream."""
    w._raw(bytes((TYPE_STREAM_LISTPACKS_2,)))
    if key is not None:
        w.string(key)
    nodes: list[tuple[StreamID, list[tuple[StreamID, list[bytes]]]]] = []
    for node in s.nodes:
        live = [(sid, s.entries[sid]) for sid in s.entries.irange(node.master, node.last)]
        if live:
            nodes.append((node.master, live))
    w._raw(_len(len(nodes)))
    for master, live in nodes:
        w.string(_raw_id(master))
        w.string(_node_listpack(master, live))
    w._raw(_len(len(s.entries)))
    for sid in (s.last_id, s.first_id, s.max_deleted_id):
        w._raw(_len(sid[0]) + _len(sid[1]))
    w._raw(_len(s.entries_added))
    w._raw(_len(len(s.groups)))
    for name in sorted(s.groups):
        g = s.groups[name]
        w.string(name)
        w._raw(_len(g.last_id[0]) + _len(g.last_id[1]))
        w._raw(_len(g.entries_read))
        w._raw(_len(len(g.pel)))
        for sid, nack in g.pel.items():
            w._raw(_raw_id(sid) + struct.pack("<q", nack.delivery_time) + _len(nack.delivery_count))
        w._raw(_len(len(g.consumers)))
        for cname in sorted(g.consumers):
            c = g.consumers[cname]
            w.string(cname)
            w._raw(struct.pack("<q", c.seen_time))
            w._raw(_len(len(c.pel)))
            for sid in c.pel:
                w._raw(_raw_id(sid))


def _id(r: _Reader) -> StreamID:
    return (r.len(), r.len())


def _signed(n: int) -> int:
    return n - (1 << 64) if n >= 1 << 63 else n


def _read_node(r: _Reader, s: Stream, master: StreamID, blob: bytes, start: int) -> None:
    lp = listpack.decode(blob)
    if not lp:
        raise r.error("Empty listpack inside stream", start)
    try:
        live, deleted, nf = int(lp[0]), int(lp[1]), int(lp[2])
        master_fields = lp[3:3 + nf]
        p = 4 + nf
        last = master
        while p < len(lp):
            flags = int(lp[p])
            sid = (master[0] + int(lp[p + 1]), master[1] + int(lp[p + 2]))
            if flags & FLAG_SAMEFIELDS:
                fv: list[bytes] = []
                for f, v in zip(master_fields, lp[p + 3:p + 3 + nf], strict=True):
                    fv += (f, v)
                p += 3 + nf + 1
            else:
                n = int(lp[p + 3])
                fv = list(lp[p + 4:p + 4 + 2 * n])
                p += 4 + 2 * n + 1
            last = sid
            if not flags & FLAG_DELETED:
                s.entries[sid] = fv
    except (ValueError, IndexError):
        raise r.error("corrupt stream listpack", start) from None
    s.nodes.append(Node(master, last, live, deleted, len(blob)))


def read_stream(r: _Reader, rtype: int) -> Stream:
    """rdbLoadObject for RDB_TYPE_STREAM_LISTPACKS{,_2,_3}."""
    start = r.pos
    s = Stream()
    s.entries = SortedDict()
    for _ in range(r.len()):
        raw = r.string()
        if len(raw) != 16:
            raise r.error("Stream node key entry is not the size of a stream ID", start)
        master: StreamID = struct.unpack(">QQ", raw)
        _read_node(r, s, master, r.string(), start)
    length = r.len()
    s.last_id = _id(r)
    if rtype >= TYPE_STREAM_LISTPACKS_2:
        s.first_id = _id(r)
        s.max_deleted_id = _id(r)
        s.entries_added = r.len()
    else:
        s.refresh_first()
        s.entries_added = length
    if length != len(s.entries):
        raise r.error(f"stream length {length} does not match its {len(s.entries)} entries", start)
    for _ in range(r.len()):
        name = r.string()
        last = _id(r)
        entries_read = _signed(r.len()) if rtype >= TYPE_STREAM_LISTPACKS_2 else s.estimate_distance(last)
        g = Group(name, last, entries_read)
        nacks: dict[StreamID, NACK] = {}
        for _ in range(r.len()):
            sid: StreamID = struct.unpack(">QQ", r.read(16))
            (when,) = struct.unpack("<q", r.read(8))
            nack = NACK(when, r.len(), None)  # type: ignore[arg-type]
            nacks[sid] = nack
            g.pel[sid] = nack
        for _ in range(r.len()):
            cname = r.string()
            (seen,) = struct.unpack("<q", r.read(8))
            if rtype >= TYPE_STREAM_LISTPACKS_3:
                r.read(8)  # active time (7.2)
            c = Consumer(cname, seen)
            for _ in range(r.len()):
                sid = struct.unpack(">QQ", r.read(16))
                found = nacks.get(sid)
                if found is None:
                    raise r.error("Consumer entry not found in group global PEL", start)
                found.consumer = c
                c.pel[sid] = found
            g.consumers[cname] = c
        if any(n.consumer is None for n in nacks.values()):
            raise r.error("Stream CG PELs entry without consumer", start)
        s.groups[name] = g
    return s


def aof_commands(key: bytes, s: Stream) -> list[list[bytes]]:
    """rewriteStreamObject: XADDs (or the MAXLEN 0 trick for an empty stream), XSETID with the
    counters, then per group XGROUP CREATE ... ENTRIESREAD and, per consumer, XCLAIM ... FORCE
    JUSTID for each pending entry (XGROUP CREATECONSUMER for a consumer with none)."""
    def sid(x: StreamID) -> bytes:
        return b"%d-%d" % x

    out: list[list[bytes]] = []
    if s.entries:
        for entry_id, fields in s.entries.items():
            out.append([b"XADD", key, sid(entry_id), *fields])
    else:
        out.append([b"XADD", key, b"MAXLEN", b"0", b"0-1", b"x", b"y"])
    out.append([b"XSETID", key, sid(s.last_id), b"ENTRIESADDED", b"%d" % s.entries_added,
                b"MAXDELETEDID", sid(s.max_deleted_id)])
    for name in sorted(s.groups):
        g = s.groups[name]
        out.append([b"XGROUP", b"CREATE", key, name, sid(g.last_id), b"ENTRIESREAD", b"%d" % g.entries_read])
        for cname in sorted(g.consumers):
            c = g.consumers[cname]
            if not c.pel:
                out.append([b"XGROUP", b"CREATECONSUMER", key, name, cname])
                continue
            for entry_id, nack in c.pel.items():
                out.append([b"XCLAIM", key, name, cname, b"0", sid(entry_id), b"TIME", b"%d" % nack.delivery_time,
                            b"RETRYCOUNT", b"%d" % nack.delivery_count, b"JUSTID", b"FORCE"])
    return out
