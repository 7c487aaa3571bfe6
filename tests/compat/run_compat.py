"""``make compat``: redis-py's own test suite against the engine and against real redis-server.

Why: users point existing applications and test suites at the engine and expect every command
their client library exposes to work.  redis-py's suite is the broadest independent statement
of that expectation, so this script runs a fixed selection of it (``SELECTION`` below) against

* the engine (``python -m engine``) and
* real redis-server 7.0 (``/usr/bin/redis-server``)

each on its own free loopback port, once with ``--protocol=2`` and once with ``--protocol=3``
(four pytest runs, in parallel: the suite mostly waits on sockets and sleeps).  Tests that
cannot apply to any 7.0 server are deselected by name in ``deselect.txt`` (one reason per line).

It prints, per protocol, how many tests each server passes and the tests that real redis-server
passes but the engine does not.  The target is an empty list; the exit status is 1 while the
list is non-empty, unless ``--report-only``.  The suite comes from redis-py's source
distribution at the installed version, unpacked under ``build/compat`` (ignored by git).

    .venv/bin/python tests/compat/run_compat.py [--report-only] [--protocols 2,3] [--files ...]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

__all__ = ["SELECTION", "main"]

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
CACHE = ROOT / "build" / "compat"
DESELECT = HERE / "deselect.txt"

#: The documented selection: redis-py's tests of the commands, pipelines, pub/sub, locks,
#: scripts, functions, encodings and connections, sync and asyncio.  Cluster, sentinel,
#: module (JSON, search, timeseries, bloom, vector sets), SSL and auth-provider files are out:
#: they need servers other than one standalone 7.0 instance.
SELECTION = [
    "tests/test_commands.py",
    "tests/test_pipeline.py",
    "tests/test_pubsub.py",
    "tests/test_lock.py",
    "tests/test_scripting.py",
    "tests/test_function.py",
    "tests/test_encoding.py",
    "tests/test_connection.py",
    "tests/test_asyncio/test_commands.py",
    "tests/test_asyncio/test_pipeline.py",
    "tests/test_asyncio/test_pubsub.py",
    "tests/test_asyncio/test_lock.py",
    "tests/test_asyncio/test_scripting.py",
    "tests/test_asyncio/test_encoding.py",
    "tests/test_asyncio/test_connection.py",
]

PER_TEST_TIMEOUT_S = 30  # redis-py's own pyproject value
RUN_TIMEOUT_S = 900  # a whole pytest run; the four run at once


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def redis_py_version() -> str:
    import redis

    return str(redis.__version__)


def suite_dir(version: str) -> Path:
    """redis-py's unpacked sdist at ``version``, downloaded with pip on first use."""
    target = CACHE / f"redis-{version}"
    if (target / "tests" / "conftest.py").is_file():
        return target
    CACHE.mkdir(parents=True, exist_ok=True)
    archive = CACHE / f"redis-{version}.tar.gz"
    if not archive.is_file():
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "--no-binary", ":all:", "--no-deps",
             f"redis=={version}", "-d", str(CACHE)],
            check=True,
        )
    with tarfile.open(archive) as tar:
        tar.extractall(CACHE, filter="data")
    return target


def _wait_ready(port: int, proc: subprocess.Popen[bytes], what: str, deadline_s: float = 30.0) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise SystemExit(f"compat: {what} exited with status {proc.returncode} before accepting connections")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                if s.recv(64).startswith(b"+PONG"):
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"compat: {what} did not answer PING on port {port} within {deadline_s:.0f} s")


@contextmanager
def _process(cmd: list[str], port: int, what: str, log: Path) -> Iterator[None]:
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=str(ROOT))
    try:
        _wait_ready(port, proc, what)
        yield
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def server_cmd(kind: str, port: int, workdir: Path) -> list[str]:
    common = ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(workdir)]
    if kind == "redis":
        redis_server = shutil.which("redis-server") or "/usr/bin/redis-server"
        return [redis_server, *common, "--daemonize", "no", "--logfile", str(workdir / "redis.log")]
    return [sys.executable, "-m", "engine", *common]


@dataclass
class Run:
    kind: str  # "engine" | "redis"
    protocol: str  # "2" | "3"
    results: Path
    log: Path
    proc: subprocess.Popen[bytes] | None = None
    elapsed_s: float = 0.0
    returncode: int | None = None

    @property
    def label(self) -> str:
        return f"{self.kind} RESP{self.protocol}"

    def outcomes(self) -> dict[str, str]:
        if not self.results.is_file():
            return {}
        data: dict[str, str] = json.loads(self.results.read_text())
        return data


def start_pytest(run: Run, suite: Path, port: int, files: list[str]) -> None:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(HERE) + os.pathsep + env.get("PYTHONPATH", "")
    env["COMPAT_DESELECT"] = str(DESELECT)
    env["COMPAT_RESULTS"] = str(run.results)
    url = f"redis://127.0.0.1:{port}/0"
    cmd = [
        sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "compat_plugin", "-q",
        "-o", "addopts=", "-o", "log_cli=false", "-W", "ignore",
        # No tracebacks: formatting one parses the failing test's whole file (test_commands.py
        # has thousands of lines), slow enough under load to trip the per-test timeout and abort
        # the session.  Re-run a single test by hand to see why it fails.
        "--tb=no",
        f"--timeout={PER_TEST_TIMEOUT_S}",
        f"--redis-url={url}", f"--redis-mod-url={url}", f"--protocol={run.protocol}",
        *files,
    ]
    run.results.unlink(missing_ok=True)
    with open(run.log, "wb") as log:
        run.proc = subprocess.Popen(cmd, cwd=str(suite), env=env, stdout=log, stderr=subprocess.STDOUT)


def summarize(runs: list[Run], protocols: list[str]) -> list[str]:
    """Print the counts and the engine's shortfall; return the shortfall's node ids."""
    by = {(r.kind, r.protocol): r.outcomes() for r in runs}
    shortfall: list[str] = []
    print()
    print(f"{'run':<14}{'passed':>8}{'failed':>8}{'skipped':>9}{'total':>8}{'wall s':>9}")
    for r in runs:
        o = by[(r.kind, r.protocol)]
        counts = {
            "passed": sum(1 for v in o.values() if v in ("passed", "xpassed")),
            "failed": sum(1 for v in o.values() if v == "failed"),
            "skipped": sum(1 for v in o.values() if v in ("skipped", "xfailed")),
        }
        print(f"{r.label:<14}{counts['passed']:>8}{counts['failed']:>8}{counts['skipped']:>9}{len(o):>8}"
              f"{r.elapsed_s:>9.0f}")
    for proto in protocols:
        real, eng = by[("redis", proto)], by[("engine", proto)]
        real_pass = {k for k, v in real.items() if v in ("passed", "xpassed")}
        eng_pass = {k for k, v in eng.items() if v in ("passed", "xpassed")}
        missing = sorted(real_pass - eng_pass)
        extra = len(eng_pass - real_pass)
        pct = 100.0 * len(real_pass & eng_pass) / len(real_pass) if real_pass else 0.0
        print(f"\nRESP{proto}: engine passes {len(real_pass & eng_pass)} of the {len(real_pass)} tests "
              f"redis-server passes ({pct:.1f} %); {len(missing)} short; "
              f"{extra} pass on the engine only")
        for nodeid in missing:
            print(f"  RESP{proto} {eng.get(nodeid, 'not run'):<8} {nodeid}")
        shortfall.extend(f"RESP{proto} {n}" for n in missing)
    return shortfall


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--report-only", action="store_true", help="exit 0 even when the engine falls short")
    ap.add_argument("--protocols", default="2,3", help="RESP versions to run, comma separated (default 2,3)")
    ap.add_argument("--files", nargs="*", default=None, help="test files of redis-py's suite (default: SELECTION)")
    ap.add_argument("--jobs", type=int, default=4, help="pytest runs at a time, each with its own server (default 4: the suite mostly waits)")
    ap.add_argument("-k", dest="keyword", default=None, help="pytest -k expression, for a quick look at a family")
    args = ap.parse_args(argv)
    protocols = [p.strip() for p in args.protocols.split(",") if p.strip()]
    if not set(protocols) <= {"2", "3"}:
        print(f"compat: --protocols must name 2 and/or 3, got {args.protocols!r}", file=sys.stderr)
        return 2
    files = list(args.files or SELECTION)
    if args.keyword:
        files += ["-k", args.keyword]
    version = redis_py_version()
    suite = suite_dir(version)
    print(f"compat: redis-py {version} suite from {suite.relative_to(ROOT)}; "
          f"{len(SELECTION if args.files is None else args.files)} files; deselected by {DESELECT.relative_to(ROOT)}")
    out = CACHE / "results"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    runs = [Run(kind, p, out / f"{kind}-resp{p}.json", out / f"{kind}-resp{p}.log")
            for p in protocols for kind in ("redis", "engine")]
    with tempfile.TemporaryDirectory(prefix="compat-") as tmp:
        pending = list(runs)
        active: list[tuple[Run, ExitStack, float]] = []
        while pending or active:
            while pending and len(active) < args.jobs:
                run = pending.pop(0)
                stack = ExitStack()
                port = free_port()
                workdir = Path(tmp) / f"{run.kind}-{run.protocol}"
                workdir.mkdir()
                server_log = out / f"{run.kind}-resp{run.protocol}-server.log"
                stack.enter_context(_process(server_cmd(run.kind, port, workdir), port, run.label, server_log))
                start_pytest(run, suite, port, files)
                active.append((run, stack, time.monotonic()))
            time.sleep(0.5)
            for item in list(active):
                run, stack, started = item
                assert run.proc is not None
                if run.proc.poll() is None and time.monotonic() - started < RUN_TIMEOUT_S:
                    continue
                if run.proc.poll() is None:
                    run.proc.kill()
                    run.proc.wait()
                    print(f"compat: the {run.label} run exceeded {RUN_TIMEOUT_S} s and was stopped", file=sys.stderr)
                run.elapsed_s = time.monotonic() - started
                run.returncode = run.proc.returncode
                stack.close()
                active.remove(item)
                if not run.results.is_file():
                    print(f"compat: the {run.label} run wrote no results (exit status {run.returncode}); "
                          f"see {run.log}", file=sys.stderr)
    shortfall = summarize(runs, protocols)
    print(f"\nlogs: {out.relative_to(ROOT)}/<server>-resp<N>.log")
    if shortfall and not args.report_only:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
