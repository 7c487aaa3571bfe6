"""Lua script speed of the engine against redis-server 7.0, side by side in one run.

Why: issue 12 measured ``local t={} for i=1,1e6 do t[i]=string.rep('y',100)..i end`` at 31 s
on the engine against 1.4 s on Redis.  This script runs a few script shapes on both servers
(each its own process on a free loopback port, ``busy-reply-threshold 0`` so nothing but the
script runs) and prints the best-of-N wall time per server and the ratio engine/redis, next to
the same Lua code run by the bare VM in this process (what the engine cannot go below).

The shapes separate the causes:

* ``rep..i``     the issue's script: 100-byte strings that differ in their last digits;
* ``i..rep``     the same strings with the digits first;
* ``short``      ``'y'..i``: strings under 32 bytes;
* ``numbers``    a table of numbers (no strings);
* ``calls``      ``redis.call('ping')`` in a loop (crossings into the server).

Reading the figures: the engine runs scripts on LuaJIT 2.1 with its compiler off
(engine/scripting_vm.py).  Stock Lua 5.1, as lupa builds it, interns every string with a hash
that for a string of l bytes samples only every (l>>5)+1-th byte; Redis patches its Lua
(deps/lua/src/lstring.c) to hash every byte.  Strings that differ only where the sample does
not look collide in the intern table and each new string walks a long chain, so time grew
faster than linearly (``rep..i`` took 12x Redis at 1M).  LuaJIT rehashes a chain that grows
too long, so no shape should grow faster than Redis's.  The bare-VM column is the same VM
without the engine: what the engine cannot go below.

    .venv/bin/python benchmarks/bench_scripts.py            # n = 200 000, best of 3
    .venv/bin/python benchmarks/bench_scripts.py --n 1000000 --rounds 1 --shapes 'rep..i,short'
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parent.parent

SHAPES = {
    "rep..i": "local t={} for i=1,N do t[i]=string.rep('y',100)..i end return #t",
    "i..rep": "local s=string.rep('y',100) local t={} for i=1,N do t[i]=i..s end return #t",
    "short": "local t={} for i=1,N do t[i]='y'..i end return #t",
    "numbers": "local t={} for i=1,N do t[i]=i*2 end return #t",
    "calls": "for i=1,N/10 do redis.call('ping') end return 1",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def server(kind: str) -> Iterator[int]:
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="bench-scripts-")
    args = ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", workdir,
            "--busy-reply-threshold", "0"]
    if kind == "engine":
        cmd = [sys.executable, "-m", "engine", *args, "--lua-max-memory", "0"]
    else:
        binary = shutil.which("redis-server")
        if binary is None:
            sys.exit("redis-server not installed (apt-get install redis-server)")
        cmd = [binary, *args]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                redis.Redis(port=port, socket_timeout=1).ping()
                break
            except redis.ConnectionError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    sys.exit(f"{kind} did not start")
                time.sleep(0.05)
        yield port
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        shutil.rmtree(workdir, ignore_errors=True)


def time_script(port: int, script: str, rounds: int) -> float:
    c = redis.Redis(port=port, socket_timeout=None)
    best = float("inf")
    for _ in range(rounds):
        c.script_flush()  # a fresh VM each round: no strings interned by the last one
        t0 = time.perf_counter()
        c.eval(script, 0)
        best = min(best, time.perf_counter() - t0)
    c.close()
    return best


def time_bare_lupa(script: str, rounds: int) -> float:
    sys.path.insert(0, str(ROOT))
    from engine.scripting_vm import lua_vm

    best = float("inf")
    for _ in range(rounds):
        lua = lua_vm.LuaRuntime(encoding=None, register_eval=False, register_builtins=False)
        lua.execute("jit.off()")  # as the engine runs it
        fn = lua.execute("return function() " + script.replace("redis.call('ping')", "local _ = nil") + " end")
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=200_000, help="loop count N (the issue used 1e6)")
    ap.add_argument("--rounds", type=int, default=3, help="best of this many runs per server")
    ap.add_argument("--shapes", default=",".join(SHAPES), help=f"comma-separated subset of {', '.join(SHAPES)}")
    args = ap.parse_args()
    chosen = [name.strip() for name in args.shapes.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in SHAPES]
    if unknown:
        ap.error(f"--shapes: unknown shape(s) {', '.join(unknown)}; choose from {', '.join(SHAPES)}")
    scripts = {name: SHAPES[name].replace("N", str(args.n)) for name in chosen}
    results: dict[str, dict[str, float]] = {name: {} for name in scripts}
    for kind in ("redis", "engine"):
        with server(kind) as port:
            for name, code in scripts.items():
                results[name][kind] = time_script(port, code, args.rounds)
    for name, code in scripts.items():
        results[name]["lupa"] = time_bare_lupa(code, args.rounds)
    print(f"N = {args.n}, best of {args.rounds} (seconds)")
    print(f"{'script':10s} {'redis':>9s} {'engine':>9s} {'ratio':>7s} {'bare VM':>10s} {'VM/redis':>10s}")
    for name, r in results.items():
        print(f"{name:10s} {r['redis']:9.3f} {r['engine']:9.3f} {r['engine'] / r['redis']:7.2f} "
              f"{r['lupa']:10.3f} {r['lupa'] / r['redis']:10.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
