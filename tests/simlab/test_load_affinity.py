"""CPU pinning of live runs (simlab.load.affinity): the server on one CPU, the generator on
the others. Checked where it can be: Linux with two or more usable CPUs (skipped elsewhere).
What is asserted is where the processes were allowed to run, read back from the kernel
(``sched_getaffinity`` of every thread), not any speed."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from simlab.load.affinity import pin_process, split, usable_cpus
from simlab.load.generator import run_load
from simlab.load.target import EngineProcess
from tests.simlab.test_load import _get_plan
from tests.support.redis_real import real_redis

pinning = split()
needs_two_cpus = pytest.mark.skipif(pinning is None, reason="CPU affinity unavailable or one usable CPU")


def _threads_affinity(pid: int) -> list[set[int]]:
    return [os.sched_getaffinity(int(tid)) for tid in os.listdir(f"/proc/{pid}/task")]


def test_split_gives_the_server_one_cpu_and_the_generator_the_rest() -> None:
    cpus = usable_cpus()
    if pinning is None:
        assert len(cpus) < 2 or not hasattr(os, "sched_setaffinity")
        return
    assert len(pinning.server) == 1 and set(pinning.server) | set(pinning.generator) == set(cpus)
    assert not set(pinning.server) & set(pinning.generator)
    assert "CPU" in pinning.describe()


@needs_two_cpus
def test_the_engine_and_the_workers_run_where_they_were_pinned() -> None:
    assert pinning is not None
    with EngineProcess(cpus=pinning.server) as eng:
        assert eng.cpus == pinning.server
        assert all(a == set(pinning.server) for a in _threads_affinity(eng.pid))
        res = run_load(_get_plan(200, 0.5), eng.target(), workers=1, connections=2, cpus=pinning.generator,
                       max_seconds=5)
    # the worker reports the affinity it ran with, read from the kernel inside the worker
    assert res.pinned_cpus == tuple(sorted(pinning.generator))
    assert res.summary()["generator_cpus"] == ",".join(map(str, sorted(pinning.generator)))
    assert res.outcomes["ok"] == 100
    assert res.generator_poll_idle_s == 0.0  # it slept in the kernel between rows


@needs_two_cpus
def test_a_pinned_worker_can_poll_instead_of_sleeping() -> None:
    """spin=True: the worker never sleeps in select(2) during the run; the CPU it spent polling
    with nothing ready is counted apart and left out of its CPU per request. 100 rows over
    0.5 s leave it idle most of the time, so most of the CPU time it gets is polling (however
    little the machine's other work leaves it: no absolute figure is asserted)."""
    assert pinning is not None
    with EngineProcess(cpus=pinning.server) as eng:
        res = run_load(_get_plan(200, 0.5), eng.target(), workers=1, connections=2, cpus=pinning.generator,
                       spin=True, max_seconds=5)
    assert res.outcomes["ok"] == 100 and res.pinned_cpus == tuple(sorted(pinning.generator))
    assert res.generator_poll_idle_s > 0
    assert res.generator_cpu_us_per_request * 100 / 1e6 < res.generator_poll_idle_s


@needs_two_cpus
@pytest.mark.redis_server
def test_every_thread_of_a_running_redis_server_is_pinned() -> None:
    """redis-server runs background (bio) threads: affinity is per thread on Linux, so each
    must be pinned, not only the main one."""
    assert pinning is not None
    with real_redis() as r:
        assert pin_process(r.pid, pinning.server)
        threads = _threads_affinity(r.pid)
        assert len(threads) >= 2  # the main thread and its bio threads
        assert all(a == set(pinning.server) for a in threads)


def test_workers_ask_linux_for_exact_wakeups() -> None:
    """The worker sets its timer slack to 1 ns (the kernel's default of 50 us is send lag)."""
    if not sys.platform.startswith("linux"):
        pytest.skip("prctl(PR_SET_TIMERSLACK) is Linux only")
    code = ("import ctypes; from simlab.load.worker import _fine_timer_slack; ok = _fine_timer_slack(); "
            "print(ok, ctypes.CDLL(None).prctl(30, 0, 0, 0, 0))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.split() == ["True", "1"]


@needs_two_cpus
def test_the_generator_self_check_runs_pinned() -> None:
    """bench_loadgen --pin: the instant-reply server on one CPU, one worker per other CPU. One
    short attempt and the latency run (bounded: two runs of 0.5 s and 3 s at 1-2 000 rows/s)."""
    from simlab.load.selfcheck import check_generator

    assert pinning is not None
    chk = check_generator(pin=True, seconds=0.5, start_rps=2000, max_rps=2000, bisect_steps=0, latency_rps=1000)
    assert chk.workers == len(pinning.generator) and "instant-reply server pinned to CPU" in chk.pinning
    assert len(chk.attempts) == 1 and chk.attempts[0]["cpu_us_per_request"] > 0
    assert chk.added_latency_ms["p50_ms"] > 0
    # the second latency run, against the instant-reply server that polls instead of sleeping
    assert chk.added_latency_polling_server_ms is not None and chk.added_latency_polling_server_ms["p50_ms"] > 0


def test_the_polling_instant_reply_server_answers_every_command_and_stops_by_pid() -> None:
    """simlab.load.pong's polling mode: each command of a pipeline gets the fixed reply, several
    connections are served, and SIGTERM stops the spinning process (bounded: 100 commands)."""
    import socket

    from simlab.load.pong import PongServer

    get = b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"
    with PongServer(poll=True) as pong:
        socks = [socket.create_connection(("127.0.0.1", pong.port), timeout=5) for _ in range(3)]
        for s in socks:
            s.sendall(get * 33)
            want, got = b"$-1\r\n" * 33, b""
            while len(got) < len(want):
                chunk = s.recv(65536)
                assert chunk, "connection closed early"
                got += chunk
            assert got == want
        for s in socks:
            s.close()
        proc = pong.proc
    assert proc is not None and proc.poll() is not None  # stopped by PID on leaving the block
