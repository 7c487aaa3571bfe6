"""Persistence in a running server: loading at start, SAVE/BGSAVE, AOF rewrite, cron, shutdown.

This is the part of Redis's ``rdb.c``, ``aof.c`` and ``server.c`` that drives the file formats
(:mod:`engine.persistence.rdb`, :mod:`engine.persistence.aof`) from the server:

* **Start** (``loadDataFromDisk``): with ``appendonly yes`` the AOF named by the manifest is
  replayed, else ``dbfilename`` is loaded; ``server.loading`` is true meanwhile.  ``dir`` is
  checked for writability first, so a read-only ``dir`` is reported at start.
* **BGSAVE / BGREWRITEAOF** fork, as Redis does: the child writes from its copy-on-write image
  of the keyspace and ``os._exit``s; the parent keeps serving and :func:`cron` reaps the child
  (``checkChildrenDone``), updating ``lastsave``, ``rdb_last_bgsave_status`` and the AOF
  manifest.  Only one child runs at a time; a request that finds another child is scheduled.
* **save rules** (``save 3600 1 300 100 60 10000``): :func:`cron` starts a BGSAVE when
  ``changes`` writes happened and ``seconds`` elapsed since the last save, retrying a failed
  save after ``CONFIG_BGSAVE_RETRY_DELAY`` (5 s).
* **Shutdown** (``prepareForShutdown``): kill a running child, fsync the AOF, save the RDB if
  asked or if save rules are set.

Every function takes the :class:`~engine.server.Server` (its ``dbs``, typed ``config``,
``dirty``); all state lives in the :class:`PersistenceState` at ``server.persistence``.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.persistence import aof, rdb

if TYPE_CHECKING:
    from engine.server import Server

__all__ = [
    "BGSAVE_RETRY_DELAY_S",
    "MISCONF_AOF",
    "MISCONF_RDB",
    "disk_error",
    "PersistenceError",
    "PersistenceState",
    "aof_rewrite_background",
    "check_dir",
    "data_dir",
    "cron",
    "images",
    "info_fields",
    "load_on_start",
    "on_shutdown",
    "propagate",
    "propagate_command",
    "EFFECTS_PROPAGATED",
    "rdb_save",
    "rdb_save_background",
    "save_rules",
    "set_appendonly",
    "state",
]

log = logging.getLogger("engine.persistence")

#: CONFIG_BGSAVE_RETRY_DELAY in server.h: wait this long after a failed BGSAVE.
BGSAVE_RETRY_DELAY_S = 5

#: writeCommandsGetDiskErrorMessage (server.c): why writes are refused after a failed save.
MISCONF_RDB = (
    "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. "
    "Commands that may modify the data set are disabled, because this instance is configured to report "
    "errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the "
    "Redis logs for details about the RDB error."
)
MISCONF_AOF = "MISCONF Errors writing to the AOF file: {}"

CHILD_RDB = "rdb"
CHILD_AOF = "aof"


class PersistenceError(OSError):
    """A persistence failure that stops the server from starting (unreadable or corrupt files,
    a ``dir`` it cannot write).  An ``OSError`` because the server's start path reports those
    as fatal and exits with status 1, as Redis exits when it cannot load its data."""


@dataclass
class PersistenceState:
    """The fields INFO persistence reports and the child being waited for."""

    loading: bool = False
    started: bool = False
    loading_start_time: int = 0
    dir_text: str | None = None
    dir_path: Path | None = None
    lastsave: int = 0
    lastbgsave_try: float = 0.0
    lastbgsave_ok: bool = True
    rdb_last_bgsave_time_sec: int = -1
    rdb_saves: int = 0
    dirty_before_bgsave: int = 0
    rdb_bgsave_scheduled: bool = False
    rdb_last_load_keys_expired: int = 0
    rdb_last_load_keys_loaded: int = 0
    child_pid: int | None = None
    child_type: str | None = None
    child_start: float = 0.0
    aof_file: aof.AppendOnlyFile | None = None
    aof_off_rewrite: aof.AppendOnlyFile | None = None  # BGREWRITEAOF with appendonly no
    aof_rewrite_scheduled: bool = False
    aof_last_bgrewrite_ok: bool = True
    aof_rewrites: int = 0
    aof_rewrites_consecutive_failures: int = 0
    aof_last_rewrite_time_sec: int = -1
    aof_rewrite_base_size: int = 0


def state(server: Server) -> PersistenceState:
    """The server's :class:`PersistenceState` (built in ``Server.__init__``)."""
    return server.persistence


# ---------------------------------------------------------------------------------------
# Configuration access


def data_dir(server: Server) -> Path:
    """``dir`` as an absolute path, resolved when first seen (before the server chdirs into
    it) and again whenever CONFIG SET changes it."""
    st = state(server)
    text = str(server.config["dir"])
    if st.dir_text != text or st.dir_path is None:
        st.dir_text = text
        st.dir_path = Path(text).resolve()
    return st.dir_path


def _rdb_path(server: Server) -> Path:
    return data_dir(server) / str(server.config["dbfilename"])


def save_rules(server: Server) -> list[tuple[int, int]]:
    """The ``save`` parameter as ``(seconds, changes)`` pairs; empty when saving is off."""
    return list(server.config["save"])


def _now_ms() -> int:
    return int(time.time() * 1000)


# ---------------------------------------------------------------------------------------
# Keyspace images


def images(server: Server) -> list[rdb.DatabaseImage]:
    """The databases as the file writers see them (the live dicts, not copies: SAVE runs in
    the event loop and a BGSAVE child has its own copy-on-write memory)."""
    return [rdb.DatabaseImage(db.id, db.data, db.expires) for db in server.dbs if db.data]


def _install(server: Server, loaded: rdb.RdbLoadResult) -> None:
    for dbid, (data, expires) in loaded.dbs.items():
        if dbid >= len(server.dbs):
            raise PersistenceError(f"FATAL: Data file was created with a Redis server configured to handle "
                                   f"more than {len(server.dbs)} databases. Exiting")
        db = server.dbs[dbid]
        db.load(data, expires)
    if loaded.functions:
        from engine.commands.functions import load_libraries  # the command layer sits above this one
        from engine.errors import RedisError

        try:
            load_libraries(server, loaded.functions)
        except RedisError as exc:
            raise PersistenceError(f"Failed loading library: {exc}. Exiting.") from None


# ---------------------------------------------------------------------------------------
# Start


def check_dir(server: Server) -> None:
    """Fail at start, not at the first save, when ``dir`` is missing or not writable."""
    d = data_dir(server)
    if not d.is_dir():
        raise PersistenceError(f"Can't chdir to '{d}': No such file or directory")
    probe = d / f"temp-probe-{os.getpid()}.tmp"
    try:
        with open(probe, "wb"):
            pass
        probe.unlink()
    except OSError as exc:
        raise PersistenceError(f"The server cannot write to its dir '{d}': {exc.strerror or exc}") from None


def load_on_start(server: Server, execute: Callable[[list[bytes]], None] | None = None) -> None:
    """loadDataFromDisk + aofOpenIfNeededOnServerStart.

    ``execute`` runs one command from the AOF against the server (a client with no
    connection, as Redis's fake AOF client; it must handle SELECT).  Raises
    :class:`PersistenceError` with Redis's message when the files cannot be loaded.
    """
    st = state(server)
    check_dir(server)
    st.loading = True
    st.loading_start_time = int(time.time())
    _set_loading(server, True)
    try:
        if server.config["appendonly"]:
            _load_aof(server, st, execute)
        else:
            path = _rdb_path(server)
            if path.exists():
                start = time.monotonic()
                try:
                    # rdbchecksum no: the stored CRC is not verified on load (rdbLoadRio)
                    loaded = rdb.load(path, now_ms=_now_ms(), verify_checksum=server.config["rdbchecksum"])
                except rdb.RdbError as exc:
                    raise PersistenceError(f"Fatal error loading the DB: {exc}. Exiting.") from None
                except OSError as exc:
                    raise PersistenceError(f"Fatal error loading the DB {path}: {exc}. Exiting.") from None
                _install(server, loaded)
                st.rdb_last_load_keys_loaded = loaded.keys_loaded
                st.rdb_last_load_keys_expired = loaded.expired_skipped
                log.info("DB loaded from disk: %.3f seconds", time.monotonic() - start)
    finally:
        st.loading = False
        _set_loading(server, False)


def _set_loading(server: Server, value: bool) -> None:
    server.loading = value


def _load_aof(server: Server, st: PersistenceState, execute: Callable[[list[bytes]], None] | None) -> None:
    f = _new_aof_file(server)
    f.dir.mkdir(parents=True, exist_ok=True)
    _upgrade_single_file_aof(server, f)

    def apply_rdb(res: rdb.RdbLoadResult) -> None:
        _install(server, res)
        st.rdb_last_load_keys_loaded += res.keys_loaded
        st.rdb_last_load_keys_expired += res.expired_skipped

    def apply_command(argv: list[bytes]) -> None:
        if execute is None:
            raise PersistenceError("the AOF holds commands but no command executor was given")
        execute(argv)

    start = time.monotonic()
    try:
        result = aof.load(
            f.dir,
            f.manifest_name,
            apply_command=apply_command,
            apply_rdb=apply_rdb,
            load_truncated=server.config["aof-load-truncated"],
            now_ms=_now_ms(),
        )
    except aof.AofError as exc:
        raise PersistenceError(str(exc)) from None
    if result.manifest is not None:
        log.info("DB loaded from append only file: %.3f seconds", time.monotonic() - start)
    f.open_on_start(result.manifest, lambda: images(server))
    st.aof_file = f
    st.aof_rewrite_base_size = f.current_size


def _upgrade_single_file_aof(server: Server, f: aof.AppendOnlyFile) -> None:
    """aofUpgradePrepare: a Redis < 7 ``appendonly.aof`` in ``dir`` and no manifest yet.

    The file moves into ``appenddirname`` under its own name and becomes the base (it may
    hold an RDB preamble followed by commands, which the loader reads), as Redis 7 does.
    """
    old = data_dir(server) / f.appendfilename
    if (f.dir / f.manifest_name).exists() or not old.is_file():
        return
    log.info("Creating AOF base file %s on server start (upgrade from a single-file AOF)", f.appendfilename)
    os.replace(old, f.dir / f.appendfilename)
    f.manifest = aof.AofManifest(
        base=aof.AofFileInfo(f.appendfilename, 1, aof.TYPE_BASE), curr_base_seq=1
    )
    f.persist_manifest()
    rdb.fsync_dir(data_dir(server))


def _new_aof_file(server: Server) -> aof.AppendOnlyFile:
    return aof.AppendOnlyFile(
        data_dir(server),
        appendfilename=server.config["appendfilename"],
        appenddirname=server.config["appenddirname"],
        appendfsync=server.config["appendfsync"],
        use_rdb_preamble=server.config["aof-use-rdb-preamble"],
    )


# ---------------------------------------------------------------------------------------
# Propagation


def propagate(server: Server, db_id: int, argv: list[bytes]) -> None:
    """Append one executed write command to the AOF (feedAppendOnlyFile).

    Called after every command that changed the dataset; relative expiries are made absolute
    here so the replayed file gives the same expiry times.
    """
    f = state(server).aof_file
    if f is None:
        return
    ok = f.last_write_status_ok
    f.feed(db_id, aof.absolute_expiry_argv(argv, _now_ms()))
    if f.fsync_due:
        server.aof_fsync_due = f  # the connection fsyncs before sending the next reply
    if f.last_write_status_ok != ok:
        disk_error(server)


#: Commands that run other commands through ``dispatch.call`` (EXEC, scripts, functions):
#: their inner writes reach the AOF one by one, as Redis 7's effects replication, so the
#: outer command itself must not be appended again (it would apply twice on reload).
EFFECTS_PROPAGATED = frozenset(
    (b"exec", b"eval", b"evalsha", b"eval_ro", b"evalsha_ro", b"fcall", b"fcall_ro")
)


def propagate_command(server: Server, db_id: int, argv: list[bytes], also: list[list[bytes]] | None) -> None:
    """After a command that changed the dataset: append it to the AOF (call() -> propagateNow).

    A command whose effect is not reproduced by replaying its arguments (SPOP, INCRBYFLOAT,
    a served BLPOP) hands ``also``, the commands to append instead, as Redis's
    ``alsoPropagate`` / ``rewriteClientCommandVector``.  EXEC and scripts are not appended
    themselves (see :data:`EFFECTS_PROPAGATED`).
    """
    if state(server).aof_file is None or argv[0].lower() in EFFECTS_PROPAGATED:
        return
    if also is None:
        propagate(server, db_id, argv)
    else:
        for a in also:
            propagate(server, db_id, list(a))


def set_appendonly(server: Server, on: bool) -> None:
    """CONFIG SET appendonly: startAppendOnly (write a base now, then append) / stopAppendOnly."""
    st = state(server)
    if on and st.aof_file is None:
        f = _new_aof_file(server)
        f.dir.mkdir(parents=True, exist_ok=True)
        manifest_path = f.dir / f.manifest_name
        manifest = aof.AofManifest.parse(manifest_path.read_text(), str(manifest_path)) if manifest_path.exists() else None
        # Start from a base holding the current dataset, as startAppendOnly's rewrite does.
        if manifest is not None:
            f.manifest = manifest.copy()
            f.manifest.history += [aof.AofFileInfo(i.name, i.seq, aof.TYPE_HIST) for i in f.manifest.incrs]
            if f.manifest.base:
                f.manifest.history.append(aof.AofFileInfo(f.manifest.base.name, f.manifest.base.seq, aof.TYPE_HIST))
            f.manifest.incrs = []
            f.manifest.base = None
        seq = f.manifest.curr_base_seq + 1
        name = f.base_name(seq)
        aof.write_base(f.dir / name, images(server), use_rdb_preamble=f.use_rdb_preamble,
                       functions=_rdb_options(server)["functions"])
        f.manifest.base = aof.AofFileInfo(name, seq, aof.TYPE_BASE)
        f.manifest.curr_base_seq = seq
        f.base_size = (f.dir / name).stat().st_size
        f.open_on_start(f.manifest, lambda: images(server))
        st.aof_file = f
    elif not on and st.aof_file is not None:
        if st.child_type == CHILD_AOF:
            _kill_child(server, st)
        st.aof_file.close()
        st.aof_file = None


# ---------------------------------------------------------------------------------------
# Saving


def rdb_save(server: Server) -> bool:
    """SAVE: write the snapshot in the foreground (rdbSave); True on success."""
    st = state(server)
    try:
        rdb.save(_rdb_path(server), images(server), **_rdb_options(server))
    except (OSError, TypeError) as exc:
        log.warning("Failed saving the DB: %s", exc)
        st.lastbgsave_ok = False
        disk_error(server)
        return False
    _mark_dirty_saved(server, server.dirty)
    st.lastsave = int(time.time())
    _sync_lastsave(server, st)
    st.lastbgsave_ok = True
    st.rdb_saves += 1
    disk_error(server)
    log.info("DB saved on disk")
    return True


def _sync_lastsave(server: Server, st: PersistenceState) -> None:
    with contextlib.suppress(AttributeError):
        server.lastsave = st.lastsave


def _rdb_options(server: Server) -> dict[str, Any]:
    from engine.commands.functions import library_codes  # the command layer sits above this one

    return {
        "compression": server.config["rdbcompression"],
        "checksum": server.config["rdbchecksum"],
        "functions": library_codes(server),  # rdbSaveFunctions
    }


def _mark_dirty_saved(server: Server, saved: int) -> None:
    with contextlib.suppress(AttributeError):
        server.dirty = max(0, server.dirty - saved)


_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """A child must not outlive a server that was killed: prctl(PR_SET_PDEATHSIG, SIGKILL)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _close_listeners(server: Server) -> None:
    """closeChildUnusedResourceAfterFork: the child must not hold the listening sockets, or a
    restarted server could not bind its port while the child still runs."""
    for listener in server.listeners:
        for sock in getattr(listener, "sockets", ()) or ():
            with contextlib.suppress(OSError):
                os.close(sock.fileno())


def _fork(server: Server, st: PersistenceState, kind: str, work: Callable[[], None]) -> int | None:
    """redisFork: run ``work`` in a child; returns its pid (None if fork failed)."""
    try:
        pid = os.fork()
    except OSError as exc:
        log.warning("Can't fork: %s", exc)
        return None
    if pid == 0:  # child
        code = 1
        try:
            _die_with_parent()
            _close_listeners(server)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            work()
            code = 0
        except BaseException as exc:  # the child reports failure by its exit code only
            with contextlib.suppress(Exception):
                os.write(2, f"persistence child failed: {exc!r}\n".encode())
        finally:
            os._exit(code)
    st.child_pid = pid
    st.child_type = kind
    st.child_start = time.monotonic()
    return pid


def rdb_save_background(server: Server) -> bool:
    """BGSAVE (rdbSaveBackground): fork a child that writes ``dbfilename``."""
    st = state(server)
    if st.child_pid is not None:
        return False
    st.lastbgsave_try = time.time()
    st.dirty_before_bgsave = server.dirty
    path = _rdb_path(server)
    dbs = images(server)
    opts = _rdb_options(server)
    def work() -> None:
        rdb.save(path, dbs, **opts)

    pid = _fork(server, st, CHILD_RDB, work)
    if pid is None:
        st.lastbgsave_ok = False
        return False
    st.rdb_bgsave_scheduled = False
    log.info("Background saving started by pid %d", pid)
    return True


def aof_rewrite_background(server: Server) -> bool:
    """BGREWRITEAOF (rewriteAppendOnlyFileBackground): open a new incr file, fork a child
    that writes the new base; :func:`cron` installs it.

    With ``appendonly no`` Redis 7.0 still rewrites: the directory gets a new base and a
    manifest naming only that base, and nothing is appended afterwards.
    """
    st = state(server)
    if st.child_pid is not None:
        return False
    f = st.aof_file
    if f is None:
        f = _new_aof_file(server)
        f.dir.mkdir(parents=True, exist_ok=True)
        mpath = f.dir / f.manifest_name
        if mpath.exists():
            f.manifest = aof.AofManifest.parse(mpath.read_text(), str(mpath))
        f.rewrite_incr_start = f.manifest.curr_incr_seq + 1  # every existing incr becomes history
        st.aof_off_rewrite = f
    else:
        f.start_rewrite()
    dbs = images(server)
    preamble = f.use_rdb_preamble
    target = f
    functions = _rdb_options(server)["functions"]

    def work() -> None:
        aof.write_base(target.temp_rewrite_path(os.getpid()), dbs, use_rdb_preamble=preamble, functions=functions)

    pid = _fork(server, st, CHILD_AOF, work)
    if pid is None:
        f.finish_rewrite(f.dir / "nonexistent", ok=False)
        st.aof_off_rewrite = None
        st.aof_last_bgrewrite_ok = False
        st.aof_rewrites_consecutive_failures += 1
        return False
    st.aof_rewrite_scheduled = False
    log.info("Background append only file rewriting started by pid %d", pid)
    return True


def _kill_child(server: Server, st: PersistenceState) -> None:
    """killRDBChild / killAppendOnlyChild: stop the child, reap it, remove its temp file."""
    pid, kind = st.child_pid, st.child_type
    if pid is None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)
    st.child_pid = st.child_type = None
    target = st.aof_file or st.aof_off_rewrite
    st.aof_off_rewrite = None
    if kind == CHILD_AOF and target is not None:
        target.finish_rewrite(target.temp_rewrite_path(pid), ok=False)
    else:
        with contextlib.suppress(OSError):
            (data_dir(server) / f"temp-{pid}.rdb").unlink()


def _child_done(server: Server, st: PersistenceState, pid: int, ok: bool) -> None:
    kind = st.child_type
    elapsed = int(time.monotonic() - st.child_start)
    st.child_pid = st.child_type = None
    if kind == CHILD_RDB:
        if ok:
            _mark_dirty_saved(server, st.dirty_before_bgsave)
            st.lastsave = int(time.time())
            _sync_lastsave(server, st)
            st.lastbgsave_ok = True
            st.rdb_saves += 1
            log.info("Background saving terminated with success")
        else:
            st.lastbgsave_ok = False
            with contextlib.suppress(OSError):
                (data_dir(server) / f"temp-{pid}.rdb").unlink()
            log.warning("Background saving error")
        st.rdb_last_bgsave_time_sec = elapsed
        disk_error(server)
    elif kind == CHILD_AOF:
        f = st.aof_file or st.aof_off_rewrite
        st.aof_off_rewrite = None
        installed = f is not None and f.finish_rewrite(f.temp_rewrite_path(pid), ok=ok)
        if installed and f is not None:
            st.aof_last_bgrewrite_ok = True
            st.aof_rewrites += 1
            st.aof_rewrites_consecutive_failures = 0
            st.aof_rewrite_base_size = f.current_size
            log.info("Background AOF rewrite finished successfully")
        else:
            st.aof_last_bgrewrite_ok = False
            st.aof_rewrites_consecutive_failures += 1
            log.warning("Background AOF rewrite terminated with error")
        st.aof_last_rewrite_time_sec = elapsed


def cron(server: Server) -> None:
    """The persistence part of serverCron; call it about every 100 ms from the event loop.

    Reaps a finished child, starts a scheduled BGREWRITEAOF / BGSAVE, applies the save rules
    and ``auto-aof-rewrite-percentage``.
    """
    st = state(server)
    if st.child_pid is not None:
        try:
            pid, status = os.waitpid(st.child_pid, os.WNOHANG)
        except ChildProcessError:
            pid, status = st.child_pid, 1 << 8
        if pid == 0:
            return
        _child_done(server, st, pid, os.waitstatus_to_exitcode(status) == 0)
    f = st.aof_file
    if f is not None and f.pending:
        f.retry()
        disk_error(server)
    if st.aof_rewrite_scheduled:
        aof_rewrite_background(server)
        return
    if st.rdb_bgsave_scheduled:
        rdb_save_background(server)
        return
    now = time.time()
    dirty = server.dirty
    for seconds, changes in save_rules(server):
        if (
            dirty >= changes
            and now - st.lastsave > seconds
            and (st.lastbgsave_ok or now - st.lastbgsave_try > BGSAVE_RETRY_DELAY_S)
        ):
            log.info("%d changes in %d seconds. Saving...", changes, seconds)
            rdb_save_background(server)
            return
    f = st.aof_file
    if f is not None:
        pct = server.config["auto-aof-rewrite-percentage"]
        min_size = server.config["auto-aof-rewrite-min-size"]
        base = st.aof_rewrite_base_size or 1
        if pct and f.current_size > min_size and (f.current_size - base) * 100 // base >= pct:
            log.info("Starting automatic rewriting of AOF on %d%% growth", pct)
            aof_rewrite_background(server)


def disk_error(server: Server) -> str | None:
    """writeCommandsDeniedByDiskError: the MISCONF text when writes must be refused, else None.

    RDB: ``stop-writes-on-bgsave-error yes``, save rules set and the last save failed.
    AOF: the last write to the AOF failed.  The result is kept in ``server.disk_error`` so
    dispatch reads one attribute per command.
    """
    st = state(server)
    text: str | None = None
    if not st.lastbgsave_ok and save_rules(server) and server.config["stop-writes-on-bgsave-error"]:
        text = MISCONF_RDB
    elif st.aof_file is not None and not st.aof_file.last_write_status_ok:
        text = MISCONF_AOF.format(st.aof_file.last_write_error)
    server.disk_error = text
    return text


# ---------------------------------------------------------------------------------------
# Shutdown and INFO


def on_shutdown(server: Server, save: bool | None) -> bool:
    """prepareForShutdown: stop a child, fsync the AOF, then save as asked.

    ``save=True`` (SHUTDOWN SAVE) always saves, ``False`` (NOSAVE) never, ``None`` saves when
    save rules are configured.  Returns False when the requested save failed, in which case
    Redis refuses to shut down ("Errors trying to SHUTDOWN. Check logs.").
    """
    st = state(server)
    if st.child_pid is not None:
        log.warning("There is a child saving an .rdb or rewriting the AOF. Killing it!")
        _kill_child(server, st)
    if st.aof_file is not None:
        log.info("Calling fsync() on the AOF file.")
        st.aof_file.flush()
    want = save if save is not None else bool(save_rules(server))
    if want:
        log.info("Saving the final RDB snapshot before exiting.")
        if not rdb_save(server):
            log.warning("Error trying to save the DB, can't exit.")
            return False
    if st.aof_file is not None:
        st.aof_file.close()
        st.aof_file = None
    return True


def info_fields(server: Server) -> list[tuple[str, str | int]]:
    """The ``# Persistence`` section of INFO, in Redis 7.0's order (genRedisInfoString)."""
    st = state(server)
    now = time.monotonic()
    rdb_child = st.child_type == CHILD_RDB
    aof_child = st.child_type == CHILD_AOF
    f = st.aof_file
    fields: list[tuple[str, str | int]] = [
        ("loading", int(st.loading)),
        ("async_loading", 0),
        ("current_cow_peak", 0),
        ("current_cow_size", 0),
        ("current_cow_size_age", 0),
        ("current_fork_perc", "0.00"),
        ("current_save_keys_processed", 0),
        ("current_save_keys_total", 0),
        ("rdb_changes_since_last_save", server.dirty),
        ("rdb_bgsave_in_progress", int(rdb_child)),
        ("rdb_last_save_time", st.lastsave),
        ("rdb_last_bgsave_status", "ok" if st.lastbgsave_ok else "err"),
        ("rdb_last_bgsave_time_sec", st.rdb_last_bgsave_time_sec),
        ("rdb_current_bgsave_time_sec", int(now - st.child_start) if rdb_child else -1),
        ("rdb_saves", st.rdb_saves),
        ("rdb_last_cow_size", 0),
        ("rdb_last_load_keys_expired", st.rdb_last_load_keys_expired),
        ("rdb_last_load_keys_loaded", st.rdb_last_load_keys_loaded),
        ("aof_enabled", int(f is not None)),
        ("aof_rewrite_in_progress", int(aof_child)),
        ("aof_rewrite_scheduled", int(st.aof_rewrite_scheduled)),
        ("aof_last_rewrite_time_sec", st.aof_last_rewrite_time_sec),
        ("aof_current_rewrite_time_sec", int(now - st.child_start) if aof_child else -1),
        ("aof_last_bgrewrite_status", "ok" if st.aof_last_bgrewrite_ok else "err"),
        ("aof_rewrites", st.aof_rewrites),
        ("aof_rewrites_consecutive_failures", st.aof_rewrites_consecutive_failures),
        ("aof_last_write_status", "ok" if f is None or f.last_write_status_ok else "err"),
        ("aof_last_cow_size", 0),
        ("module_fork_in_progress", 0),
        ("module_fork_last_cow_size", 0),
    ]
    if f is not None:
        fields += [
            ("aof_current_size", f.current_size),
            ("aof_base_size", f.base_size),
            ("aof_pending_rewrite", int(st.aof_rewrite_scheduled)),
            ("aof_buffer_length", 0),
            ("aof_pending_bio_fsync", int(f.fsync_pending)),
            ("aof_delayed_fsync", 0),
        ]
    if st.loading:
        fields += [("loading_start_time", st.loading_start_time)]
    return fields
