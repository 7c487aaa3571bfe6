"""One load-generator worker process: an asyncio loop, many connections, hiredis, raw RESP.

Open loop (the default): row i is sent at its intended time ``t0 + t[i]`` whatever the
server is doing, and its latency is measured from that intended time to the last reply of
its last stage, so a stalled server shows in the percentiles instead of slowing the sender
down (no coordinated omission; wrk2 and HdrHistogram's corrected mode do the same). Rows
whose connections already have requests in flight are pipelined behind them.

Closed loop: ``concurrency`` virtual clients each send their next row as soon as the
previous one completed; latency is measured from the actual send. Results say which mode
produced them.

Timers: the loop runs on ``selectors.SelectSelector``, whose ``select(2)`` takes a timeout in
microseconds; the epoll selector and uvloop round timeouts up to whole milliseconds, which
would add up to a millisecond of send lag to every row at low rates.

The worker records per row: when it was sent, when it completed, its outcome and whether a
cache read hit; the parent turns that into histograms and series. A worker stops when every
row completed or at ``max_seconds``, whichever comes first (rows still open then are
"unfinished").
"""

from __future__ import annotations

import asyncio
import gc
import math
import os
import selectors
import ssl
import time
from collections import deque
from typing import Any

import hiredis
import numpy as np

from simlab.load.resp import command

__all__ = [
    "K_CMD",
    "K_DEL",
    "K_GET",
    "K_INCR",
    "K_LOCK",
    "K_PUBLISH",
    "K_SESSION",
    "K_SET",
    "KIND_NAMES",
    "OUTCOME_NAMES",
    "O_CONNECTION",
    "O_ERROR",
    "O_OK",
    "O_REJECTED",
    "O_TIMEOUT",
    "O_UNFINISHED",
    "main",
    "run_worker",
]

K_GET, K_SET, K_DEL, K_INCR, K_SESSION, K_PUBLISH, K_LOCK, K_CMD = range(8)
KIND_NAMES = ("get", "set", "del", "incr", "session", "publish", "lock", "command")
O_OK, O_TIMEOUT, O_CONNECTION, O_ERROR, O_REJECTED, O_UNFINISHED = range(6)
OUTCOME_NAMES = ("ok", "timeout", "connection", "error_reply", "rejected", "unfinished")
_NOT_DONE = -1

_SWEEP_S = 0.01
_RECONNECT_S = 0.05
_LOCK_RETRY_S = 0.0002


class _SpinSelector(selectors.SelectSelector):
    """A selector that never sleeps in the kernel while the run is on: it polls (timeout 0)
    until an event is ready or the timeout has passed, so neither a send time nor a reply
    waits for the kernel to wake the thread (tens of microseconds on a virtual machine, more
    when the wake-up crosses CPUs). It burns its CPU: used only when the worker has a CPU of
    its own (pinned, :mod:`simlab.load.affinity`). CPU time spent polling until something was
    ready is counted in ``idle_s`` and taken out of the worker's CPU figures."""

    def __init__(self) -> None:
        super().__init__()
        self.idle_s = 0.0
        self.spinning = False

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        if not self.spinning or (timeout is not None and timeout <= 0):
            return super().select(timeout)
        cpu = time.thread_time()
        end = None if timeout is None else time.perf_counter() + timeout
        while True:
            ev = super().select(0)
            if ev or (end is not None and time.perf_counter() >= end):
                self.idle_s += time.thread_time() - cpu
                return ev


class _Entry:
    """Replies a stage waits for on one connection; ``cb`` gets them all at once."""

    __slots__ = ("n", "replies", "cb", "row", "dead")

    def __init__(self, n: int, cb: Any, row: int) -> None:
        self.n = n
        self.replies: list[Any] = []
        self.cb = cb
        self.row = row
        self.dead = False


class _Conn(asyncio.Protocol):
    def __init__(self, worker: _Worker, handshake: bytes, n_handshake: int) -> None:
        self.w = worker
        self.reader = hiredis.Reader()
        self.q: deque[_Entry] = deque()
        self.transport: asyncio.Transport | None = None
        self.out: list[bytes] = []
        self.up = False
        self.handshake = handshake
        self.n_handshake = n_handshake

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        if self.handshake:
            self.q.append(_Entry(self.n_handshake, self._handshake_done, -1))
            transport.write(self.handshake)  # type: ignore[attr-defined]
        else:
            self.up = True

    def _handshake_done(self, replies: list[Any]) -> None:
        bad = [r for r in replies if isinstance(r, hiredis.ReplyError)]
        if bad:
            self.w.fatal = f"connection setup refused: {bad[0]}"
            if self.transport is not None:
                self.transport.close()
            return
        self.up = True

    def data_received(self, data: bytes) -> None:
        r = self.reader
        r.feed(data)
        q = self.q
        while True:
            rep = r.gets()
            if rep is False:
                return
            if not q:
                continue  # a reply after its request timed out and was dropped
            e = q[0]
            e.replies.append(rep)
            if len(e.replies) == e.n:
                q.popleft()
                if not e.dead:
                    e.cb(e.replies)

    def connection_lost(self, exc: Exception | None) -> None:
        self.up = False
        self.transport = None
        self.reader = hiredis.Reader()
        q, self.q = self.q, deque()
        self.out = []
        if self.w.stopping:
            return  # closed by us at the end: open rows stay unfinished
        for e in q:
            if not e.dead and e.row >= 0:
                self.w.fail(e.row, O_CONNECTION, "connection lost")
        self.w.schedule_reconnect(self)

    def send(self, data: bytes, entry: _Entry) -> None:
        self.q.append(entry)
        if not self.out:
            self.w.dirty.append(self)
        self.out.append(data)

    def flush(self) -> None:
        if self.transport is not None and self.out:
            self.transport.write(b"".join(self.out) if len(self.out) > 1 else self.out[0])
        self.out = []


class _Worker:
    def __init__(self, cfg: dict[str, Any], rows: dict[str, np.ndarray]) -> None:
        self.cfg = cfg
        # Python lists, not numpy arrays: the hot path reads one element at a time, and a list
        # element is a Python object already (a numpy scalar read costs several times more)
        self.t: list[float] = rows["t"].tolist()
        self.kind: list[int] = rows["kind"].tolist()
        self.key: list[int] = rows["key"].tolist()
        self.vsize: list[int] = rows["vsize"].tolist()
        self.ttl: list[float] = rows["ttl"].tolist()
        self.src: list[int] = rows["src"].tolist()
        self.flow: list[int] = rows["flow"].tolist()
        self.bdelay: list[float] = rows["bdelay"].tolist()
        self.hold: list[float] = rows["hold"].tolist()
        n = len(self.t)
        self.n = n
        nan = float("nan")
        self.sent: list[float] = [nan] * n
        self.done: list[float] = [nan] * n
        self.outcome: list[int] = [_NOT_DONE] * n
        self.hit: list[int] = [-1] * n
        self.errors: dict[str, int] = {}
        self.prefix: bytes = cfg["prefix"].encode()
        self.value = b"v" * int(max(1, cfg.get("max_value_bytes", 1 << 20)))
        self.timeout_s = cfg["timeout_s"]  # per source
        self.rate_limits = cfg["rate_limits"]  # per source: (limit, window_s) or None
        self.flows = cfg["flows"]  # per flow index: dict
        # per flow, the RESP head of each one-key command of a `command` flow
        self.heads = [[b"*2\r\n$%d\r\n%s\r\n" % (len(c), c.encode()) for c in f["commands"]] for f in self.flows]
        self.closed = cfg["mode"] == "closed"
        self.conns: list[_Conn] = []
        self.rr = 0
        self.dirty: list[_Conn] = []
        self.fatal: str | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.t0 = 0.0
        self.i = 0
        self.finished = 0
        self.all_done: asyncio.Future[None] | None = None
        self.stopping = False
        self.subscribers: list[asyncio.Transport] = []
        self.cpu_s = 0.0
        self.poll_idle_s = 0.0
        self.tasks: list[asyncio.Task[None]] = []

    # --- connections ---------------------------------------------------------------------

    def _handshake(self) -> tuple[bytes, int]:
        cfg = self.cfg
        parts: list[bytes] = []
        if cfg.get("password"):
            if cfg.get("username"):
                parts.append(command("AUTH", cfg["username"], cfg["password"]))
            else:
                parts.append(command("AUTH", cfg["password"]))
        if cfg.get("db"):
            parts.append(command("SELECT", cfg["db"]))
        return b"".join(parts), len(parts)

    async def _open(self, conn: _Conn | None = None) -> _Conn:
        assert self.loop is not None
        cfg = self.cfg
        hs, nhs = self._handshake()
        proto = conn or _Conn(self, hs, nhs)
        ctx = None
        if cfg.get("tls"):
            ctx = ssl.create_default_context()
            if cfg.get("tls_insecure"):
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
        if cfg.get("unix_path"):
            await self.loop.create_unix_connection(lambda: proto, cfg["unix_path"], ssl=ctx)
        else:
            await self.loop.create_connection(lambda: proto, cfg["host"], cfg["port"], ssl=ctx)
        return proto

    def schedule_reconnect(self, conn: _Conn) -> None:
        if self.stopping or self.loop is None:
            return

        async def again() -> None:
            while not self.stopping:
                await asyncio.sleep(_RECONNECT_S)
                try:
                    await self._open(conn)
                    return
                except OSError:
                    continue

        self.tasks.append(self.loop.create_task(again()))

    def _conn(self) -> _Conn | None:
        conns = self.conns
        for _ in range(len(conns)):
            self.rr = (self.rr + 1) % len(conns)
            c = conns[self.rr]
            if c.up:
                return c
        return None

    # --- rows ----------------------------------------------------------------------------

    def kname(self, k: int, suffix: bytes = b"") -> bytes:
        return b"%sk:%d%s" % (self.prefix, k, suffix)

    def fail(self, row: int, outcome: int, why: str) -> None:
        if self.outcome[row] != _NOT_DONE:
            return
        self.errors[why] = self.errors.get(why, 0) + 1
        self._finish(row, outcome)

    def _finish(self, row: int, outcome: int) -> None:
        if self.outcome[row] != _NOT_DONE:
            return
        self.outcome[row] = outcome
        self.done[row] = time.monotonic()
        self.finished += 1
        if self.closed and not self.stopping and self.loop is not None:
            self.loop.call_soon(self._next_closed)
        if self.finished == self.n and self.all_done is not None and not self.all_done.done():
            self.all_done.set_result(None)

    def _stage(self, row: int, data: bytes, n: int, cb: Any) -> None:
        c = self._conn()
        if c is None:
            self.fail(row, O_CONNECTION, "no connection")
            return
        c.send(data, _Entry(n, cb, row))

    def _check(self, row: int, replies: list[Any]) -> bool:
        """False (and the row failed) when a reply is an error."""
        for r in replies:
            if isinstance(r, hiredis.ReplyError):
                code = str(r).split(" ", 1)[0]
                self.fail(row, O_ERROR, f"error reply {code}")
                return False
        return True

    def _start(self, i: int) -> None:
        """Send row i (closed loop: the next unsent row, timed from now)."""
        if i >= self.n:
            return
        self.i = i + 1
        now = time.monotonic()
        if self.closed:
            self.t[i] = now - self.t0
        self.sent[i] = now
        k = int(self.kind[i])
        key = int(self.key[i])
        src = int(self.src[i])
        pre = b""
        npre = 0
        rl = self.rate_limits[src]
        if rl is not None:
            win = int((now - self.t0) // rl[1])
            rk = b"%srl:%d:%d" % (self.prefix, src, win)
            pre = command(b"INCR", rk) + command(b"EXPIRE", rk, max(1, math.ceil(rl[1] * 2)))
            npre = 2
        if k == K_GET:
            kpr = self.flows[int(self.flow[i])]["keys_per_request"]
            if kpr > 1:
                data = command(b"MGET", *[self.kname(key)] * kpr)
            else:
                name = self.kname(key)
                data = b"*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n" % (len(name), name)
            self._stage(i, pre + data, npre + 1, lambda reps, i=i, npre=npre: self._get_done(i, reps, npre))
        elif k == K_SET:
            self._stage(i, pre + self._set_cmd(i, key), npre + 1, lambda reps, i=i: self._simple_done(i, reps, npre))
        elif k == K_DEL:
            self._stage(i, pre + command(b"DEL", self.kname(key)), npre + 1, lambda reps, i=i: self._simple_done(i, reps, npre))
        elif k == K_INCR:
            # the model's INCR stores the key (a write of its size and TTL); a real INCR cannot
            # run on the key's non-numeric value, so the generator writes the key as the model
            # does: the cache content, hence the hit ratio, stays the model's
            data = self._set_cmd(i, key)
            self._stage(i, pre + data, npre + 1, lambda reps, i=i: self._simple_done(i, reps, npre))
        elif k == K_SESSION:
            sk = b"%ss:%d" % (self.prefix, key)
            data = command(b"HGETALL", sk) + command(b"EXPIRE", sk, 1800)
            self._stage(i, pre + data, npre + 2, lambda reps, i=i: self._simple_done(i, reps, npre))
        elif k == K_PUBLISH:
            ch = b"%sch:%d" % (self.prefix, int(self.flow[i]))
            data = command(b"PUBLISH", ch, self.value[: int(self.vsize[i])])
            self._stage(i, pre + data, npre + 1, lambda reps, i=i: self._simple_done(i, reps, npre))
        elif k == K_LOCK:
            self._lock_try(i, pre, npre)
        else:
            heads = self.heads[self.flow[i]]
            name = self.kname(key)
            arg = b"$%d\r\n%s\r\n" % (len(name), name)
            data = b"".join([h + arg for h in heads]) if len(heads) > 1 else heads[0] + arg
            self._stage(i, pre + data, npre + len(heads), lambda reps, i=i: self._simple_done(i, reps, npre))

    def _set_cmd(self, i: int, key: int) -> bytes:
        ttl = float(self.ttl[i])
        v = self.value[: int(self.vsize[i])]
        if ttl == ttl:  # not NaN
            return command(b"SET", self.kname(key), v, b"PX", max(1, int(ttl * 1000)))
        return command(b"SET", self.kname(key), v)

    def _rejected(self, i: int, reps: list[Any], npre: int) -> bool:
        if npre:
            rl = self.rate_limits[int(self.src[i])]
            count = reps[0]
            if isinstance(count, int) and count > rl[0]:
                self._finish(i, O_REJECTED)
                return True
        return False

    def _simple_done(self, i: int, reps: list[Any], npre: int) -> None:
        if self.outcome[i] != _NOT_DONE or not self._check(i, reps):
            return
        if not self._rejected(i, reps, npre):
            self._finish(i, O_OK)

    def _get_done(self, i: int, reps: list[Any], npre: int) -> None:
        if self.outcome[i] != _NOT_DONE or not self._check(i, reps):
            return
        if self._rejected(i, reps, npre):
            return
        r = reps[-1]
        hit = (r[0] is not None) if isinstance(r, list) else (r is not None)
        self.hit[i] = 1 if hit else 0
        if hit:
            self._finish(i, O_OK)
            return
        delay = float(self.bdelay[i])
        if delay > 0:
            assert self.loop is not None
            self.loop.call_later(delay, self._fill, i)
        else:
            self._fill(i)
        self._flush()

    def _fill(self, i: int) -> None:
        if self.outcome[i] != _NOT_DONE:
            return
        self._stage(i, self._set_cmd(i, int(self.key[i])), 1, lambda reps, i=i: self._simple_done(i, reps, 0))
        self._flush()

    def _lock_try(self, i: int, pre: bytes = b"", npre: int = 0) -> None:
        if self.outcome[i] != _NOT_DONE:
            return
        lk = b"%slock:%d" % (self.prefix, int(self.flow[i]))
        data = pre + command(b"SET", lk, b"%d" % i, b"NX", b"PX", 1000)
        self._stage(i, data, npre + 1, lambda reps, i=i: self._lock_reply(i, reps, npre))
        self._flush()

    def _lock_reply(self, i: int, reps: list[Any], npre: int) -> None:
        if self.outcome[i] != _NOT_DONE or not self._check(i, reps):
            return
        if self._rejected(i, reps, npre):
            return
        assert self.loop is not None
        if reps[-1] is None:  # held by someone else: try again shortly (waits in line)
            self.loop.call_later(_LOCK_RETRY_S, self._lock_try, i)
            return
        hold = float(self.hold[i])
        if hold > 0:
            self.loop.call_later(hold, self._unlock, i)
        else:
            self._unlock(i)

    def _unlock(self, i: int) -> None:
        if self.outcome[i] != _NOT_DONE:
            return
        lk = b"%slock:%d" % (self.prefix, int(self.flow[i]))
        self._stage(i, command(b"DEL", lk), 1, lambda reps, i=i: self._simple_done(i, reps, 0))
        self._flush()

    def _flush(self) -> None:
        d = self.dirty
        if d:
            self.dirty = []
            for c in d:
                c.flush()

    # --- driving -------------------------------------------------------------------------

    def _tick(self) -> None:
        """Open loop: send every row that is due, then sleep until the next one.

        Each row goes out on the next connection in turn, one request per connection as from
        many independent clients, even when several rows are due at once: sending a tick's
        rows on one connection (one write) halved the writes, but a server pays per
        connection it reads, so that pipelining would make the server cheaper than it is
        for the clients the scenario describes."""
        assert self.loop is not None
        t, n, t0 = self.t, self.n, self.t0
        i = self.i
        now = time.monotonic() - t0
        while i < n and t[i] <= now:
            self._start(i)
            i += 1
        self._flush()
        if i < n and not self.stopping:
            self.loop.call_at(t0 + float(t[i]), self._tick)

    def _sweep(self) -> None:
        """Time out the oldest waiting stage of each connection once its row's deadline passed."""
        assert self.loop is not None
        now = time.monotonic()
        t, t0, src, tmo = self.t, self.t0, self.src, self.timeout_s
        for c in self.conns:
            for e in c.q:
                if e.row < 0 or e.dead:
                    continue
                if now - (t0 + t[e.row]) <= tmo[int(src[e.row])]:
                    break
                e.dead = True
                self.fail(e.row, O_TIMEOUT, "timeout")
        if not self.stopping:
            self.loop.call_later(_SWEEP_S, self._sweep)

    async def _subscribe(self) -> None:
        """Subscribers of each pub/sub flow: connections that read and discard messages."""
        assert self.loop is not None
        for fi, f in enumerate(self.flows):
            for _ in range(f.get("subscribers_here", 0)):
                hs, _ = self._handshake()
                if self.cfg.get("unix_path"):
                    tr, _p = await self.loop.create_unix_connection(_Discard, self.cfg["unix_path"])
                else:
                    tr, _p = await self.loop.create_connection(_Discard, self.cfg["host"], self.cfg["port"])
                tr.write(hs + command(b"SUBSCRIBE", b"%sch:%d" % (self.prefix, fi)))
                self.subscribers.append(tr)

    async def run(self, conn_pipe: Any) -> dict[str, Any]:
        self.loop = asyncio.get_running_loop()
        cfg = self.cfg
        cpu0 = time.process_time()
        try:
            self.conns = [await self._open() for _ in range(cfg["connections"])]
            await self._subscribe()
            for _ in range(200):
                if all(c.up for c in self.conns) or self.fatal:
                    break
                await asyncio.sleep(0.005)
        except OSError as err:
            self.fatal = f"cannot connect: {err}"
        conn_pipe.send(("ready", self.fatal))
        if self.fatal:
            return self._result(0.0)
        self.t0 = await self.loop.run_in_executor(None, conn_pipe.recv)
        # no collector pauses while timing: what the run allocates per request has no cycles
        # (it is freed by reference counting), and the run is bounded in time
        gc.collect()
        gc.freeze()
        gc.disable()
        self.all_done = self.loop.create_future()
        if self.n == 0:
            self.all_done.set_result(None)
        sel = getattr(self.loop, "_selector", None)
        if isinstance(sel, _SpinSelector):
            sel.spinning = True
        end = self.t0 + cfg["max_seconds"]
        delay = max(0.0, self.t0 - time.monotonic())
        if self.closed:
            self.loop.call_later(delay, self._start_closed)
        else:
            self.loop.call_later(delay, self._tick)
        self.loop.call_later(delay, self._sweep)
        try:
            await asyncio.wait_for(asyncio.shield(self.all_done), timeout=max(0.1, end - time.monotonic()))
        except TimeoutError:
            pass
        self.stopping = True
        stop = time.monotonic()
        gc.enable()
        self.cpu_s = time.process_time() - cpu0
        sel = getattr(self.loop, "_selector", None)
        if isinstance(sel, _SpinSelector):
            sel.spinning = False
            self.poll_idle_s = sel.idle_s
            self.cpu_s = max(0.0, self.cpu_s - sel.idle_s)
        for c in self.conns:
            if c.transport is not None:
                c.transport.close()
        for tr in self.subscribers:
            tr.close()
        for task in self.tasks:
            task.cancel()
        await asyncio.sleep(0)
        return self._result(stop)

    def _next_closed(self) -> None:
        self._start(self.i)
        self._flush()

    def _start_closed(self) -> None:
        for _ in range(min(self.cfg["concurrency"], self.n)):
            self._start(self.i)
        self._flush()

    def _result(self, stop: float) -> dict[str, Any]:
        outcome = np.array(self.outcome, dtype=np.int8)
        sent = np.array(self.sent, dtype=np.float64)
        unfinished = (outcome == _NOT_DONE) & (np.isfinite(sent) | (not self.closed))
        outcome[unfinished] = O_UNFINISHED  # closed loop: rows never started stay -1
        if unfinished.any():
            self.errors["unfinished at the time limit"] = int(unfinished.sum())
        return {
            "fatal": self.fatal,
            "t0": self.t0,
            "stop": stop,
            "t": np.array(self.t, dtype=np.float64),
            "sent": sent - self.t0,
            "done": np.array(self.done, dtype=np.float64) - self.t0,
            "outcome": outcome,
            "hit": np.array(self.hit, dtype=np.int8),
            "errors": self.errors,
            "cpu_s": self.cpu_s,
            "poll_idle_s": self.poll_idle_s,
            # where the worker actually ran (simlab.load.affinity): empty when not pinned
            "cpus": sorted(os.sched_getaffinity(0)) if self.cfg.get("cpus") and hasattr(os, "sched_getaffinity") else [],
        }


class _Discard(asyncio.Protocol):
    def data_received(self, data: bytes) -> None:
        pass


def _fine_timer_slack() -> bool:
    """Ask Linux to wake this process on time: ``prctl(PR_SET_TIMERSLACK, 1 ns)``.

    By default the kernel may defer a sleeping thread's wake-up by up to 50 us to group it with
    others' (timer slack). Every row an open-loop worker sends waits in ``select(2)`` for its
    send time, so that deferral is send lag, paid by every row at low rates. Measured on the
    2-core machine: a 100 us ``select`` overslept by 83 us at the median (181 us P99) with the
    default slack and by 27 us (74 us P99) with 1 ns. False where unavailable (not Linux)."""
    import ctypes
    import sys

    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(29, 1, 0, 0, 0)) == 0  # PR_SET_TIMERSLACK
    except (OSError, AttributeError):
        return False


def run_worker(cfg: dict[str, Any], rows: dict[str, np.ndarray], conn_pipe: Any) -> None:
    """Process entry point: run the rows, send the per-row record back through ``conn_pipe``.
    ``cfg["cpus"]``, when given, pins this process to those CPUs (simlab.load.affinity)."""
    if cfg.get("cpus"):
        from simlab.load.affinity import pin_self

        pin_self(cfg["cpus"])
    _fine_timer_slack()
    loop = asyncio.SelectorEventLoop(_SpinSelector() if cfg.get("spin") else selectors.SelectSelector())
    asyncio.set_event_loop(loop)
    try:
        result = loop.run_until_complete(_Worker(cfg, rows).run(conn_pipe))
    except BaseException as err:  # noqa: BLE001 - reported to the parent, which raises
        result = {"fatal": f"worker crashed: {type(err).__name__}: {err}"}
    finally:
        loop.close()
    conn_pipe.send(("result", result))
    conn_pipe.close()


def main(fd: int) -> None:
    """``python -c "from simlab.load.worker import main; main(FD)"``: read (config, rows) from
    the inherited connection ``fd``, run, answer on it."""
    from multiprocessing.connection import Connection

    conn = Connection(fd)
    cfg, rows = conn.recv()
    run_worker(cfg, rows, conn)
