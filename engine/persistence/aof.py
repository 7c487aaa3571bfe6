"""The append-only file in Redis 7's multi-part layout: base, incremental files and manifest.

Layout (``aof.c``, https://redis.io/docs/management/persistence/): the directory
``appenddirname`` (default ``appendonlydir``) under ``dir`` holds

* one **base** file, ``appendonly.aof.<seq>.base.rdb`` (an RDB image when
  ``aof-use-rdb-preamble yes``) or ``.base.aof`` (commands),
* **incremental** files ``appendonly.aof.<seq>.incr.aof``: every write command, in RESP, as
  it was executed (with relative expiries made absolute by the caller),
* the **manifest** ``appendonly.aof.manifest``, one line per file:
  ``file appendonly.aof.1.base.rdb seq 1 type b`` (``b`` base, ``i`` incr, ``h`` history).

:class:`AppendOnlyFile` is the writing side: :meth:`~AppendOnlyFile.feed` appends a command
(emitting ``SELECT`` when the database changes, as ``feedAppendOnlyFile``), writes it to the
kernel at once and fsyncs per ``appendfsync``: ``always`` before the command's reply is sent,
``everysec`` from a background thread once a second (Redis's bio fsync job), ``no`` never.
A rewrite (``BGREWRITEAOF``) first opens a new incremental file, so the parent keeps appending
while a forked child writes the new base from its copy-on-write snapshot; when the child is
done the new base replaces the old one and the files from before the rewrite are deleted
(``rewriteAppendOnlyFileBackground`` / ``backgroundRewriteDoneHandler``).

:func:`load` replays the files in manifest order.  A command cut off at the end of the last
file is dropped with a warning when ``aof-load-truncated yes`` (and the file is truncated to
the last whole command, as Redis does); anything else malformed stops the load with
:class:`AofError` naming the file and byte offset.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.objects import ZSet
from engine.persistence import rdb
from engine.persistence.rdb_stream import aof_commands
from engine.streamtype import Stream

__all__ = [
    "AOF_REWRITE_ITEMS_PER_CMD",
    "AofError",
    "AofFileInfo",
    "AofLoadResult",
    "AofManifest",
    "AppendOnlyFile",
    "FSYNC_ALWAYS",
    "FSYNC_EVERYSEC",
    "FSYNC_NO",
    "encode_command",
    "iter_commands",
    "absolute_expiry_argv",
    "load",
    "rewrite_commands",
    "write_base",
]

log = logging.getLogger("engine.persistence.aof")

FSYNC_ALWAYS = "always"
FSYNC_EVERYSEC = "everysec"
FSYNC_NO = "no"

#: Elements per RPUSH/SADD/ZADD/HSET when a base is written as commands (server.h).
AOF_REWRITE_ITEMS_PER_CMD = 64

TYPE_BASE = "b"
TYPE_HIST = "h"
TYPE_INCR = "i"


class AofError(Exception):
    """The AOF cannot be loaded: names the file, the byte offset and the reason."""

    def __init__(self, message: str, path: str | None = None, offset: int | None = None) -> None:
        self.path = path
        self.offset = offset
        super().__init__(message)


# ---------------------------------------------------------------------------------------
# Manifest


@dataclass
class AofFileInfo:
    """One manifest line (``aofInfo``)."""

    name: str
    seq: int
    type: str

    def line(self) -> str:
        return f"file {self.name} seq {self.seq} type {self.type}\n"


@dataclass
class AofManifest:
    """The parsed manifest (``aofManifest``): the base, the incremental files in order and
    the history files waiting to be deleted."""

    base: AofFileInfo | None = None
    incrs: list[AofFileInfo] = field(default_factory=list)
    history: list[AofFileInfo] = field(default_factory=list)
    curr_base_seq: int = 0
    curr_incr_seq: int = 0

    @classmethod
    def parse(cls, text: str, path: str = "manifest") -> AofManifest:
        """aofLoadManifestFromFile: ``key value`` pairs per line, ``#`` comments."""
        m = cls()
        for lineno, raw in enumerate(text.splitlines(), 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            parts = line.split()
            if len(parts) % 2:
                raise AofError(f"Invalid AOF manifest file format in {path} line {lineno}", path)
            kv = dict(zip(parts[::2], parts[1::2], strict=True))
            try:
                info = AofFileInfo(kv["file"], int(kv["seq"]), kv["type"])
            except (KeyError, ValueError):
                raise AofError(f"Invalid AOF manifest file format in {path} line {lineno}", path) from None
            if info.type == TYPE_BASE:
                if m.base is not None:
                    raise AofError(f"Found duplicate base file information in {path}", path)
                m.base = info
                m.curr_base_seq = info.seq
            elif info.type == TYPE_INCR:
                if info.seq <= m.curr_incr_seq:
                    raise AofError(f"Found a non-monotonic sequence number in {path}", path)
                m.incrs.append(info)
                m.curr_incr_seq = info.seq
            elif info.type == TYPE_HIST:
                m.history.append(info)
            else:
                raise AofError(f"Unknown AOF file type '{info.type}' in {path}", path)
        if m.base is None and not m.incrs:
            raise AofError(f"Found an empty AOF manifest {path}", path)
        return m

    def text(self) -> str:
        """getAofManifestAsString: base, then history, then incr files."""
        lines = [self.base.line()] if self.base else []
        lines += [h.line() for h in self.history]
        lines += [i.line() for i in self.incrs]
        return "".join(lines)

    def copy(self) -> AofManifest:
        return AofManifest(self.base, list(self.incrs), list(self.history), self.curr_base_seq, self.curr_incr_seq)


# ---------------------------------------------------------------------------------------
# Commands in RESP


def encode_command(argv: Iterable[bytes | bytearray | str | int]) -> bytes:
    """catAppendOnlyGenericCommand: ``*<argc>`` then ``$<len>`` bulk strings."""
    parts = []
    n = 0
    for a in argv:
        if isinstance(a, str):
            a = a.encode()
        elif isinstance(a, int):
            a = str(a).encode()
        parts.append(b"$%d\r\n%b\r\n" % (len(a), bytes(a)))
        n += 1
    return b"*%d\r\n" % n + b"".join(parts)


class _Truncated(Exception):
    def __init__(self, offset: int) -> None:
        self.offset = offset


def iter_commands(data: bytes, start: int = 0, path: str = "AOF") -> Iterator[tuple[list[bytes], int]]:
    """Yield ``(argv, end_offset)`` for each whole command in ``data`` from ``start``.

    Raises :class:`_Truncated` (private, carrying the offset of the incomplete command) when the
    data stops inside a command, and :class:`AofError` on a format error.
    """
    pos = start
    n = len(data)
    while pos < n:
        cmd_start = pos
        if data[pos] != 0x2A:  # '*'
            raise AofError(
                f"Bad file format reading the append only file {path} at offset {pos}: "
                f"make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>",
                path,
                pos,
            )
        eol = data.find(b"\r\n", pos)
        if eol < 0:
            raise _Truncated(cmd_start)
        try:
            argc = int(data[pos + 1 : eol])
        except ValueError:
            raise AofError(f"Bad file format reading the append only file {path} at offset {pos}", path, pos) from None
        if argc < 1:
            raise AofError(f"Bad file format reading the append only file {path} at offset {pos}", path, pos)
        pos = eol + 2
        argv = []
        for _ in range(argc):
            if pos >= n:
                raise _Truncated(cmd_start)
            if data[pos] != 0x24:  # '$'
                raise AofError(f"Bad file format reading the append only file {path} at offset {pos}", path, pos)
            eol = data.find(b"\r\n", pos)
            if eol < 0:
                raise _Truncated(cmd_start)
            try:
                alen = int(data[pos + 1 : eol])
            except ValueError:
                raise AofError(
                    f"Bad file format reading the append only file {path} at offset {pos}", path, pos
                ) from None
            pos = eol + 2
            if pos + alen + 2 > n:
                raise _Truncated(cmd_start)
            if data[pos + alen : pos + alen + 2] != b"\r\n":
                raise AofError(
                    f"Bad file format reading the append only file {path} at offset {pos + alen}", path, pos + alen
                )
            argv.append(data[pos : pos + alen])
            pos += alen + 2
        yield argv, pos


def _int(b: bytes) -> int | None:
    try:
        return int(b)
    except ValueError:
        return None


def absolute_expiry_argv(argv: list[bytes], now_ms: int) -> list[bytes]:
    """The command as Redis 7 propagates it, with relative expiries made absolute.

    ``SET k v EX s`` / ``PX`` / ``EXAT`` becomes ``SET k v PXAT <ms>`` and ``SETEX`` /
    ``PSETEX`` become that too (setGenericCommand); ``EXPIRE`` / ``PEXPIRE`` / ``EXPIREAT``
    become ``PEXPIREAT`` (expireGenericCommand); ``GETEX k EX s`` becomes ``PEXPIREAT`` and
    ``GETEX k PERSIST`` becomes ``PERSIST`` (getexCommand); ``RESTORE k ttl ...`` gets an
    absolute ttl and ``ABSTTL`` (restoreCommand).  A command already in absolute
    form, or one whose arguments do not parse, is returned unchanged; replaying it gives the
    same result either way.
    """
    name = argv[0].lower()
    if name == b"set" and len(argv) > 3:
        out = argv[:3]
        i = 3
        changed = False
        while i < len(argv):
            opt = argv[i].upper()
            if opt in (b"EX", b"PX", b"EXAT") and i + 1 < len(argv):
                v = _int(argv[i + 1])
                if v is None:
                    return argv
                when = now_ms + v * 1000 if opt == b"EX" else now_ms + v if opt == b"PX" else v * 1000
                out += [b"PXAT", str(when).encode()]
                i += 2
                changed = True
            else:
                out.append(argv[i])
                i += 1
        return out if changed else argv
    if name in (b"setex", b"psetex") and len(argv) == 4:
        v = _int(argv[2])
        if v is None:
            return argv
        when = now_ms + (v * 1000 if name == b"setex" else v)
        return [b"SET", argv[1], argv[3], b"PXAT", str(when).encode()]
    if name in (b"expire", b"pexpire", b"expireat") and len(argv) >= 3:
        v = _int(argv[2])
        if v is None:
            return argv
        when = now_ms + v * 1000 if name == b"expire" else now_ms + v if name == b"pexpire" else v * 1000
        return [b"PEXPIREAT", argv[1], str(when).encode(), *argv[3:]]
    if name == b"restore" and len(argv) >= 4:
        ttl = _int(argv[2])
        if ttl is None or ttl <= 0 or any(a.upper() == b"ABSTTL" for a in argv[4:]):
            return argv
        return [argv[0], argv[1], str(now_ms + ttl).encode(), *argv[3:], b"ABSTTL"]
    if name == b"getex" and len(argv) >= 3:
        opt = argv[2].upper()
        if opt == b"PERSIST":
            return [b"PERSIST", argv[1]]
        if opt in (b"EX", b"PX", b"EXAT", b"PXAT") and len(argv) == 4:
            v = _int(argv[3])
            if v is None:
                return argv
            when = {b"EX": now_ms + v * 1000, b"PX": now_ms + v, b"EXAT": v * 1000, b"PXAT": v}[opt]
            return [b"PEXPIREAT", argv[1], str(when).encode()]
    return argv


# ---------------------------------------------------------------------------------------
# Loading


@dataclass
class AofLoadResult:
    """What loading found: commands replayed, whether a torn tail was dropped, the manifest."""

    manifest: AofManifest | None
    commands: int = 0
    truncated_at: tuple[str, int] | None = None
    base_rdb: rdb.RdbLoadResult | None = None


def load(
    aof_dir: Path,
    manifest_name: str,
    *,
    apply_command: Callable[[list[bytes]], None],
    apply_rdb: Callable[[rdb.RdbLoadResult], None],
    load_truncated: bool = True,
    now_ms: int | None = None,
) -> AofLoadResult:
    """Replay the files named by the manifest (loadAppendOnlyFiles).

    ``apply_rdb`` receives an RDB preamble; ``apply_command`` each command in order (SELECT
    included).  Returns with ``manifest=None`` when there is no manifest.
    """
    mpath = aof_dir / manifest_name
    if not mpath.exists():
        return AofLoadResult(manifest=None)
    manifest = AofManifest.parse(mpath.read_text(), str(mpath))
    result = AofLoadResult(manifest=manifest)
    files = ([manifest.base] if manifest.base else []) + manifest.incrs
    for i, info in enumerate(files):
        path = aof_dir / info.name
        last = i == len(files) - 1
        if not path.exists():
            raise AofError(f"Append only file {path} doesn't exist", str(path))
        data = path.read_bytes()
        start = 0
        if data.startswith(b"REDIS"):
            try:
                res = rdb.loads(data, path=str(path), now_ms=now_ms)
            except rdb.RdbError as exc:
                raise AofError(f"Error reading the RDB preamble of the AOF file {path}: {exc}", str(path), exc.offset) from None
            apply_rdb(res)
            result.base_rdb = res
            start = res.end_offset
        valid = start
        multi_start: int | None = None
        pending: list[list[bytes]] = []
        try:
            for argv, end in iter_commands(data, start, str(path)):
                name = argv[0].lower()
                if name == b"multi":
                    multi_start = valid
                    pending = []
                elif multi_start is not None:
                    if name == b"exec":
                        # The transaction's commands run as one unit; MULTI/EXEC themselves
                        # only delimit it (loadSingleAppendOnlyFile's valid_before_multi).
                        for a in pending:
                            apply_command(a)
                        result.commands += len(pending)
                        multi_start, pending = None, []
                    else:
                        pending.append(argv)
                else:
                    apply_command(argv)
                    result.commands += 1
                valid = end
            if multi_start is not None:
                raise _Truncated(multi_start)
        except _Truncated as tr:
            cut = tr.offset if multi_start is None else multi_start
            if not last:
                raise AofError(
                    f"Fatal error: the truncated file {path} is not the last file (offset {cut})", str(path), cut
                ) from None
            if not load_truncated:
                raise AofError(
                    f"Unexpected end of file reading the append only file {path} at offset {cut}. You can: "
                    "1) Make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>. "
                    "2) Alternatively you can set the 'aof-load-truncated' configuration option to yes and "
                    "restart the server.",
                    str(path),
                    cut,
                ) from None
            log.warning(
                "!!! Warning: short read while loading the AOF file %s!!! Truncating the AOF %s at offset %d; "
                "AOF loaded anyway because aof-load-truncated is enabled",
                path,
                path,
                cut,
            )
            with open(path, "r+b") as f:
                f.truncate(cut)
                f.flush()
                os.fsync(f.fileno())
            result.truncated_at = (str(path), cut)
    return result


# ---------------------------------------------------------------------------------------
# Rewriting: the base file


def rewrite_commands(dbs: Iterable[rdb.DatabaseImage]) -> Iterator[list[bytes]]:
    """The commands that rebuild ``dbs`` (rewriteAppendOnlyFileRio without a preamble)."""
    for db in dbs:
        if not db.data:
            continue
        yield [b"SELECT", str(db.id).encode()]
        for key, value in db.data.items():
            t = type(value)
            if t is Stream:
                yield from aof_commands(key, value)
            elif t is bytes or t is bytearray:
                yield [b"SET", key, bytes(value)]
            else:
                if t is dict:
                    cmd, items = b"HSET", [x for kv in value.items() for x in kv]
                    step = 2
                elif t is set:
                    cmd, items, step = b"SADD", list(value), 1
                elif t is ZSet:
                    cmd = b"ZADD"
                    items = [x for m, s in value.items() for x in (rdb._score_string(s), m)]
                    step = 2
                else:
                    cmd, items, step = b"RPUSH", list(value), 1
                chunk = AOF_REWRITE_ITEMS_PER_CMD * step
                for i in range(0, len(items), chunk):
                    yield [cmd, key, *items[i : i + chunk]]
            when = db.expires.get(key)
            if when is not None:
                yield [b"PEXPIREAT", key, str(when).encode()]


def write_base(path: Path, dbs: Iterable[rdb.DatabaseImage], *, use_rdb_preamble: bool,
               functions: Iterable[bytes] = ()) -> int:
    """Write a base file (RDB image with ``aof-base 1``, or commands), fsynced; returns size.

    ``functions`` (FUNCTION libraries' source) go first: as RDB_OPCODE_FUNCTION2 records in the
    preamble, or as ``FUNCTION LOAD`` commands (rewriteFunctions in aof.c)."""
    with open(path, "wb", buffering=1 << 16) as f:
        if use_rdb_preamble:
            size = rdb.write_stream(f, dbs, aof_base=True, functions=functions)
        else:
            size = 0
            for code in functions:
                b = encode_command([b"FUNCTION", b"LOAD", code])
                f.write(b)
                size += len(b)
            for argv in rewrite_commands(dbs):
                b = encode_command(argv)
                f.write(b)
                size += len(b)
        f.flush()
        os.fsync(f.fileno())
    return size


# ---------------------------------------------------------------------------------------
# The writing side


class AppendOnlyFile:
    """The open AOF of a running server: manifest, current incremental file, fsync policy."""

    def __init__(
        self,
        dir: Path,
        *,
        appendfilename: str = "appendonly.aof",
        appenddirname: str = "appendonlydir",
        appendfsync: str = FSYNC_EVERYSEC,
        use_rdb_preamble: bool = True,
    ) -> None:
        self.dir = Path(dir) / appenddirname
        self.appendfilename = appendfilename
        self.appendfsync = appendfsync
        self.use_rdb_preamble = use_rdb_preamble
        self.manifest = AofManifest()
        self.fd: int | None = None
        self.selected_db = -1
        self.current_size = 0
        self.base_size = 0
        self.last_fsync = time.monotonic()
        self.last_write_status_ok = True
        self.last_write_error: str | None = None
        self.pending = bytearray()
        self.fsync_pending = False
        self.fsync_due = False  # appendfsync always: written, to be fsynced before the next reply
        self.rewrite_incr_start: int | None = None  # seq of the first incr opened for a rewrite
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._fsync_thread: threading.Thread | None = None

    # -- names ------------------------------------------------------------------------
    @property
    def manifest_name(self) -> str:
        return f"{self.appendfilename}.manifest"

    def base_name(self, seq: int) -> str:
        ext = "rdb" if self.use_rdb_preamble else "aof"
        return f"{self.appendfilename}.{seq}.base.{ext}"

    def incr_name(self, seq: int) -> str:
        return f"{self.appendfilename}.{seq}.incr.aof"

    # -- manifest ---------------------------------------------------------------------
    def persist_manifest(self, manifest: AofManifest | None = None) -> None:
        """persistAofManifest: write ``temp-<name>``, fsync, rename, fsync the directory."""
        m = manifest or self.manifest
        tmp = self.dir / f"temp-{self.manifest_name}"
        with open(tmp, "w") as f:
            f.write(m.text())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.dir / self.manifest_name)
        rdb.fsync_dir(self.dir)

    # -- opening ----------------------------------------------------------------------
    def open_on_start(self, manifest: AofManifest | None, dbs: Callable[[], Iterable[rdb.DatabaseImage]]) -> None:
        """aofOpenIfNeededOnServerStart: create a base when there is none, open the last incr."""
        self.dir.mkdir(parents=True, exist_ok=True)
        self.manifest = manifest.copy() if manifest else AofManifest()
        if self.manifest.base is None and not self.manifest.incrs:
            seq = self.manifest.curr_base_seq + 1
            name = self.base_name(seq)
            self.base_size = write_base(self.dir / name, dbs(), use_rdb_preamble=self.use_rdb_preamble)
            self.manifest.base = AofFileInfo(name, seq, TYPE_BASE)
            self.manifest.curr_base_seq = seq
        elif self.manifest.base is not None:
            p = self.dir / self.manifest.base.name
            self.base_size = p.stat().st_size if p.exists() else 0
        if not self.manifest.incrs:
            seq = self.manifest.curr_incr_seq + 1
            self.manifest.incrs.append(AofFileInfo(self.incr_name(seq), seq, TYPE_INCR))
            self.manifest.curr_incr_seq = seq
        self._open_fd(self.manifest.incrs[-1].name)
        self.persist_manifest()
        self.delete_history()
        self._start_fsync_thread()

    def _open_fd(self, name: str) -> None:
        fd = os.open(self.dir / name, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        old, self.fd = self.fd, fd
        self.selected_db = -1
        self.current_size = self.base_size + sum(
            (self.dir / i.name).stat().st_size for i in self.manifest.incrs if (self.dir / i.name).exists()
        )
        if old is not None:
            with self._lock:  # the everysec thread may be fsyncing the old descriptor
                self._fsync_fd(old)
                os.close(old)

    # -- feeding ----------------------------------------------------------------------
    def feed(self, db_id: int, argv: list[bytes]) -> None:
        """feedAppendOnlyFile + flushAppendOnlyFile for one command."""
        fd = self.fd
        if fd is None:
            return
        if db_id != self.selected_db:
            buf = encode_command([b"SELECT", str(db_id).encode()]) + encode_command(argv)
            self.selected_db = db_id
        else:
            buf = encode_command(argv)
        self.write(buf)

    def write(self, buf: bytes) -> None:
        """Write ``buf`` (after anything left from a failed write) and fsync per policy.

        On a write error the bytes stay in ``pending`` and are retried by the next write or
        :meth:`retry`, as Redis keeps them in ``aof_buf``; ``last_write_status_ok`` turns
        false, which INFO reports and which makes the server refuse writes with MISCONF.
        """
        fd = self.fd
        assert fd is not None
        if self.pending:
            self.pending += buf
            buf = bytes(self.pending)
        try:
            view = memoryview(buf)
            while view:
                n = os.write(fd, view)
                view = view[n:]
                self.current_size += n
        except OSError as exc:
            if self.last_write_status_ok:
                log.warning("Error writing to the AOF file: %s", exc.strerror or exc)
            self.last_write_status_ok = False
            self.last_write_error = exc.strerror or str(exc)
            self.pending = bytearray(view)
            return
        self.pending = bytearray()
        if not self.last_write_status_ok:
            log.warning("AOF write error looks solved, Redis can write again.")
        self.last_write_status_ok = True
        if self.appendfsync == FSYNC_ALWAYS:
            self.fsync_due = True
        else:
            self.fsync_pending = True

    def fsync_if_due(self) -> None:
        """``appendfsync always``: fsync what was written, before the replies to those commands
        leave. Redis does it once per event-loop iteration (``beforeSleep`` calls
        ``flushAppendOnlyFile`` before ``handleClientsWithPendingWrites``), so a pipeline of N
        writes costs one fsync, not N; an acknowledged write is on disk all the same."""
        if self.fsync_due and self.fd is not None:
            self.fsync_due = False
            self._fsync_fd(self.fd)

    def retry(self) -> None:
        """Retry bytes a failed write left behind (flushAppendOnlyFile from serverCron)."""
        if self.pending and self.fd is not None:
            self.write(b"")

    def _fsync_fd(self, fd: int) -> None:
        try:
            os.fsync(fd)
            self.last_fsync = time.monotonic()
        except OSError as exc:
            log.warning("Can't fsync the AOF file: %s", exc)

    def _start_fsync_thread(self) -> None:
        if self._fsync_thread is not None:
            return
        self._stop.clear()
        t = threading.Thread(target=self._fsync_loop, name="aof-fsync", daemon=True)
        self._fsync_thread = t
        t.start()

    def _fsync_loop(self) -> None:
        """The bio fsync job of ``appendfsync everysec``: fsync at most once a second."""
        while not self._stop.wait(1.0):
            if self.appendfsync == FSYNC_EVERYSEC and self.fsync_pending:
                fd = self.fd
                self.fsync_pending = False
                if fd is not None:
                    with self._lock:
                        try:
                            os.fsync(fd)
                            self.last_fsync = time.monotonic()
                        except OSError:
                            pass

    def flush(self, force_fsync: bool = True) -> None:
        """Make everything written so far durable (before a rewrite, at shutdown)."""
        if self.fd is not None and force_fsync and self.appendfsync != FSYNC_NO:
            with self._lock:
                self._fsync_fd(self.fd)
            self.fsync_pending = False

    def close(self) -> None:
        """stopAppendOnly: fsync and close the incr file, stop the fsync thread."""
        self._stop.set()
        if self.fd is not None:
            with self._lock:
                self._fsync_fd(self.fd)
                os.close(self.fd)
            self.fd = None
        t, self._fsync_thread = self._fsync_thread, None
        if t is not None and t is not threading.current_thread():
            t.join(timeout=2)

    # -- rewrite ----------------------------------------------------------------------
    def start_rewrite(self) -> None:
        """Before forking: fsync, open a new incr file and record it in the manifest
        (openNewIncrAofForAppend), so commands during the rewrite land in the new file."""
        self.flush()
        seq = self.manifest.curr_incr_seq + 1
        self.manifest.incrs.append(AofFileInfo(self.incr_name(seq), seq, TYPE_INCR))
        self.manifest.curr_incr_seq = seq
        self.rewrite_incr_start = seq
        self._open_fd(self.incr_name(seq))
        self.persist_manifest()

    def temp_rewrite_path(self, child_pid: int) -> Path:
        return self.dir / f"temp-rewriteaof-bg-{child_pid}.aof"

    def finish_rewrite(self, temp_path: Path, ok: bool) -> bool:
        """backgroundRewriteDoneHandler: install the new base and drop the older files."""
        first_new = self.rewrite_incr_start
        self.rewrite_incr_start = None
        if not ok or first_new is None or not temp_path.exists():
            try:
                temp_path.unlink()
            except OSError:
                pass
            return False
        m = self.manifest.copy()
        seq = m.curr_base_seq + 1
        name = self.base_name(seq)
        if m.base is not None:
            m.history.append(AofFileInfo(m.base.name, m.base.seq, TYPE_HIST))
        m.history += [AofFileInfo(i.name, i.seq, TYPE_HIST) for i in m.incrs if i.seq < first_new]
        m.incrs = [i for i in m.incrs if i.seq >= first_new]
        m.base = AofFileInfo(name, seq, TYPE_BASE)
        m.curr_base_seq = seq
        os.replace(temp_path, self.dir / name)
        rdb.fsync_dir(self.dir)
        self.persist_manifest(m)
        self.manifest = m
        self.base_size = (self.dir / name).stat().st_size
        self.delete_history()
        self.current_size = self.base_size + sum(
            (self.dir / i.name).stat().st_size for i in m.incrs if (self.dir / i.name).exists()
        )
        return True

    def delete_history(self) -> None:
        """aofDelHistoryFiles: unlink history files and drop them from the manifest."""
        if not self.manifest.history:
            return
        for h in self.manifest.history:
            try:
                (self.dir / h.name).unlink()
            except FileNotFoundError:
                pass
        self.manifest.history = []
        self.persist_manifest()


def images_from(dbs: Mapping[int, tuple[Mapping[bytes, Any], Mapping[bytes, int]]]) -> list[rdb.DatabaseImage]:
    """Database images from ``{id: (data, expires)}`` (as loaders return them)."""
    return [rdb.DatabaseImage(i, d, e) for i, (d, e) in sorted(dbs.items())]
