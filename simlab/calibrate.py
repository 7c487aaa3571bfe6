"""Calibration: the simulator's service times and round trip, measured on a live server.

The simulator queues each command at the cache for a service time (``cache.service_time_us``)
and adds a network round trip around it. Both are measured here, at low load (one request
in flight), on any Redis-compatible target:

* **service time** is the server's *CPU time per command* while it serves nothing else: the
  difference of ``INFO cpu`` (``used_cpu_user`` + ``used_cpu_sys``) over a run of one
  command, divided by the calls ``INFO commandstats`` counted. A single-threaded server is
  busy exactly while it spends CPU, so this is the time a request occupies the server,
  reading and writing its socket included. ``usec_per_call`` of commandstats (the command's
  execution alone) and ``LATENCY HISTOGRAM`` (where offered) are recorded beside it; they
  leave out the event loop's share, which for the Python engine is most of the time.
* **round trip** is the client-side time of ``PING`` minus PING's service time: kernel,
  loopback and client library, as an empirical distribution (200 quantiles).
* **one request per connection**: GET sent on each of ``fan_in`` connections at once, then
  every reply read; the server's CPU per call. A server pays per connection it reads and
  writes, so requests that arrive together on many connections (as from many clients) cost
  far more than the same number pipelined on one (on the engine, loaded machine: ~23-28 us
  against ~6 us a GET). The difference from the pipelined GET is the per-connection cost
  (``connection_overhead_us``), added to every command's pipelined time for a busy server
  (:meth:`Calibration.busy_service_time_us`).
* Each command is measured with values of several sizes, unpipelined and in pipelines of
  ``pipeline`` commands; a line (``base_us + per_kib_us x KiB``) is fitted per command and
  the service-time distribution is a gamma with that mean at the value size asked for and
  the coefficient of variation left in the client-side timings after the round trip's own
  spread is taken out.

Nothing on the target is reset: statistics are differences of ``INFO`` before and after,
and every key lives under a fresh prefix that is removed afterwards.

The result is a YAML file in ``data/calibration/`` with the machine, software versions and
date; a scenario names it with ``calibration:`` to use its service times.
"""

from __future__ import annotations

import datetime as _dt
import math
import os
import platform
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hiredis
import numpy as np
import pandas as pd
import yaml

from simlab.load.resp import command
from simlab.load.target import Target, new_prefix, remove_prefix

__all__ = [
    "CALIBRATION_DIR",
    "COMMANDS",
    "Calibration",
    "CalibrationError",
    "calibrate",
    "load_calibration",
]

CALIBRATION_DIR = Path(__file__).resolve().parents[1] / "data" / "calibration"
#: The commands the simulator's flows use, with the name the service-time table knows them by.
COMMANDS = ("GET", "SET", "DEL", "INCR", "MGET", "HGETALL", "EXPIRE", "PUBLISH")
_CV_RANGE = (0.2, 1.5)
_DEFAULT_CV = 0.5


class CalibrationError(ValueError):
    """A calibration file that cannot be read or lacks a field (file and field named)."""


@dataclass
class Calibration:
    """Measured service times and round trip of one target (see the module docstring)."""

    name: str
    date: str
    target: str
    server: str
    machine: dict[str, Any]
    software: dict[str, Any]
    rtt_us: list[float]
    fits: dict[str, dict[str, float]]
    measurements: pd.DataFrame
    reference_value_bytes: float = 300.0
    notes: list[str] = field(default_factory=list)
    #: server CPU per request on a connection of its own beyond the pipelined figure (module
    #: docstring); None in calibrations written before it was measured
    connection_overhead_us: float | None = None

    def rtt_dist(self) -> dict[str, Any]:
        """The round trip as an empirical distribution in milliseconds (the unit of
        ``network.app_to_cache_rtt_ms``)."""
        return {"kind": "empirical", "values": [round(v / 1000.0, 6) for v in self.rtt_us]}

    def rtt_percentile_us(self, q: float) -> float:
        return float(np.percentile(self.rtt_us, q))

    def service_time_us(self, value_bytes: float | None = None, pipelined: bool = False) -> dict[str, dict[str, Any]]:
        """``cache.service_time_us`` for values of ``value_bytes`` (mean): one gamma per command,
        ``default`` (the mean of all) and ``PUBLISH_PER_SUBSCRIBER``."""
        vb = self.reference_value_bytes if value_bytes is None else value_bytes
        out: dict[str, dict[str, Any]] = {}
        key = "pipelined" if pipelined else "single"
        for cmd, f in self.fits.items():
            if cmd == "PUBLISH_PER_SUBSCRIBER":
                out[cmd] = {"kind": "gamma", "mean": round(max(0.05, f["base_us"]), 3), "cv": _DEFAULT_CV}
                continue
            base = f.get(f"{key}_base_us", f["base_us"])
            slope = f.get(f"{key}_per_kib_us", f["per_kib_us"])
            mean = max(0.5, base + slope * vb / 1024.0)
            out[cmd] = {"kind": "gamma", "mean": round(mean, 3), "cv": round(f.get("cv", _DEFAULT_CV), 3)}
        means = [v["mean"] for k, v in out.items() if k != "PUBLISH_PER_SUBSCRIBER"]
        if means:
            out["default"] = {"kind": "gamma", "mean": round(float(np.mean(means)), 3), "cv": _DEFAULT_CV}
        return out

    def busy_service_time_us(self, value_bytes: float | None = None) -> dict[str, dict[str, Any]]:
        """Service times for a server that is busy when each request arrives, one request per
        connection: the pipelined CPU per call plus the per-connection cost. Without a
        ``connection_overhead_us`` measurement, the pipelined times."""
        out = self.service_time_us(value_bytes, pipelined=True)
        extra = self.connection_overhead_us or 0.0
        for cmd, d in out.items():
            if cmd != "PUBLISH_PER_SUBSCRIBER":
                d["mean"] = round(float(d["mean"]) + extra, 3)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "date": self.date,
            "source": f"simlab calibrate against {self.target}",
            "server": self.server,
            "machine": self.machine,
            "software": self.software,
            "method": ("service time = server CPU time per call (INFO cpu delta / commandstats calls) at one "
                       "request in flight; round trip = client PING time - PING service time"),
            "reference_value_bytes": self.reference_value_bytes,
            "connection_overhead_us": self.connection_overhead_us,
            "service_time_us": self.service_time_us(),
            "fits": self.fits,
            "network": {
                "rtt_us": {"p50": round(self.rtt_percentile_us(50), 2), "p90": round(self.rtt_percentile_us(90), 2),
                           "p99": round(self.rtt_percentile_us(99), 2)},
                "rtt_ms": self.rtt_dist(),
            },
            "measurements": self.measurements.round(3).to_dict("records"),
            "notes": self.notes,
        }

    def save(self, path: str | Path | None = None) -> Path:
        p = Path(path) if path is not None else CALIBRATION_DIR / f"{self.name}.yaml"
        p.parent.mkdir(parents=True, exist_ok=True)
        header = (f"# Calibration of {self.target} ({self.server}) written by `simlab calibrate` on {self.date}.\n"
                  "# Service times in microseconds; a scenario uses them with `calibration: <this file>`.\n")
        p.write_text(header + yaml.safe_dump(self.to_dict(), sort_keys=False, width=120))
        return p

    def _repr_html_(self) -> str:
        return (f"<p>calibration <b>{self.name}</b> of {self.target} ({self.server}), {self.date}; RTT P50 "
                f"{self.rtt_percentile_us(50):.1f} us, P99 {self.rtt_percentile_us(99):.1f} us</p>"
                + pd.DataFrame(self.service_time_us()).T.to_html() + self.measurements.to_html(index=False))


def load_calibration(path: str | Path) -> Calibration:
    """Read a calibration YAML written by :meth:`Calibration.save`."""
    p = Path(path)
    try:
        d = yaml.safe_load(p.read_text())
    except (OSError, yaml.YAMLError) as err:
        raise CalibrationError(f"{p}: cannot read calibration: {err}") from None
    try:
        return Calibration(
            name=d["name"], date=str(d["date"]), target=d["source"].removeprefix("simlab calibrate against "),
            server=d["server"], machine=d["machine"], software=d["software"],
            rtt_us=[v * 1000.0 for v in d["network"]["rtt_ms"]["values"]], fits=d["fits"],
            measurements=pd.DataFrame(d.get("measurements", [])),
            reference_value_bytes=float(d.get("reference_value_bytes", 300.0)), notes=list(d.get("notes", [])),
            connection_overhead_us=(None if d.get("connection_overhead_us") is None
                                    else float(d["connection_overhead_us"])),
        )
    except (KeyError, TypeError, AttributeError) as err:
        raise CalibrationError(f"{p}: not a calibration file (missing {err})") from None


# --- measuring --------------------------------------------------------------------------------


def _drain(sock: socket.socket | ssl.SSLSocket, stop: threading.Event) -> None:
    """Read and drop what arrives on ``sock`` until ``stop`` is set (a subscriber's messages)."""
    sock.settimeout(0.05)
    while not stop.is_set():
        try:
            if not sock.recv(1 << 16):
                return
        except TimeoutError:
            continue
        except OSError:
            return


class _Raw:
    """A blocking one-connection client: bytes out, parsed replies back, client-side time."""

    def __init__(self, target: Target) -> None:
        if target.unix_path:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(target.unix_path)
        else:
            s = socket.create_connection((target.host, target.port), timeout=10)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if target.tls:
            ctx = ssl.create_default_context()
            if target.loopback:
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            s = ctx.wrap_socket(s, server_hostname=target.host)
        s.settimeout(10)
        self.sock = s
        self.reader = hiredis.Reader()
        hs = []
        if target.password:
            hs.append(command("AUTH", *([target.username] if target.username else []), target.password))
        if target.db:
            hs.append(command("SELECT", target.db))
        for c in hs:
            r = self.call(c, 1)[0]
            if isinstance(r, hiredis.ReplyError):
                raise CalibrationError(f"{target.label}: {r}")

    def call(self, data: bytes, n: int) -> list[Any]:
        self.sock.sendall(data)
        return self.read(n)

    def read(self, n: int) -> list[Any]:
        out: list[Any] = []
        while len(out) < n:
            r = self.reader.gets()
            if r is False:
                chunk = self.sock.recv(1 << 16)
                if not chunk:
                    raise ConnectionError("server closed the connection")
                self.reader.feed(chunk)
                continue
            out.append(r)
        return out

    def close(self) -> None:
        self.sock.close()


def _cpu_and_calls(c: Any) -> tuple[float, dict[str, int], dict[str, int]]:
    info = c.info("cpu")
    stats = c.info("commandstats")
    cpu = float(info["used_cpu_user"]) + float(info["used_cpu_sys"])
    calls = {k.removeprefix("cmdstat_"): int(v["calls"]) for k, v in stats.items()}
    usec = {k.removeprefix("cmdstat_"): int(v["usec"]) for k, v in stats.items()}
    return cpu, calls, usec


def _robust_sd(x: np.ndarray) -> float:
    med = float(np.median(x))
    return 1.4826 * float(np.median(np.abs(x - med)))


def _server_name(c: Any) -> str:
    info = c.info("server")
    version = info.get("redis_version", "?")
    if str(info.get("redis_build_id", "")) == "cachelab":
        return f"cachelab engine {version}"
    return f"redis {version}"


def _measure(raw: _Raw, admin: Any, cmd: str, build: Any, *, n: int, pipeline: int,
             max_seconds: float) -> dict[str, Any]:
    """Send ``n`` commands (``build(i)`` -> bytes), ``pipeline`` per write; return the figures."""
    cpu0, calls0, usec0 = _cpu_and_calls(admin)
    times = []
    deadline = time.monotonic() + max_seconds
    sent = 0
    while sent < n and time.monotonic() < deadline:
        k = min(pipeline, n - sent)
        data = b"".join(build(sent + j) for j in range(k))
        t = time.perf_counter()
        reps = raw.call(data, k)
        times.append((time.perf_counter() - t) * 1e6)
        bad = [r for r in reps if isinstance(r, hiredis.ReplyError)]
        if bad:
            raise CalibrationError(f"{cmd}: the server answered {bad[0]}")
        sent += k
    cpu1, calls1, usec1 = _cpu_and_calls(admin)
    name = cmd.lower()
    d_calls = calls1.get(name, 0) - calls0.get(name, 0)
    d_all = sum(calls1.values()) - sum(calls0.values())
    d_usec = usec1.get(name, 0) - usec0.get(name, 0)
    # the two INFO calls of the next/previous measurement are in d_all but cost little
    cpu_per_call = (cpu1 - cpu0) * 1e6 / max(1, d_all - 2)
    return {
        "requests": sent,
        "server_cpu_us": cpu_per_call,
        "commandstats_us": d_usec / d_calls if d_calls else math.nan,
        "client_times_us": np.asarray(times),
    }


def _measure_fan_in(raws: list[_Raw], admin: Any, data: bytes, *, n: int, max_seconds: float) -> float:
    """Server CPU per call when ``data`` (one command) is sent on every connection of ``raws``
    at once, then every reply read; ``n`` commands in all (bounded by ``max_seconds``)."""
    cpu0, calls0, _ = _cpu_and_calls(admin)
    deadline = time.monotonic() + max_seconds
    sent = 0
    while sent < n and time.monotonic() < deadline:
        for r in raws:
            r.sock.sendall(data)
        for r in raws:
            rep = r.read(1)[0]
            if isinstance(rep, hiredis.ReplyError):
                raise CalibrationError(f"GET: the server answered {rep}")
        sent += len(raws)
    cpu1, calls1, _ = _cpu_and_calls(admin)
    d_all = sum(calls1.values()) - sum(calls0.values())
    return (cpu1 - cpu0) * 1e6 / max(1, d_all - 2)


def calibrate(
    target: Target,
    *,
    name: str | None = None,
    requests: int = 1500,
    sizes: tuple[int, ...] = (64, 1024, 8192),
    pipeline: int = 32,
    reference_value_bytes: float = 300.0,
    max_seconds: float = 60.0,
    fan_in: int = 16,
) -> Calibration:
    """Measure ``target`` (see the module docstring) and return the calibration.

    ``requests`` per command, size and mode; every loop also stops at ``max_seconds`` in all.
    """
    t_end = time.monotonic() + max_seconds
    prefix = new_prefix()
    admin = target.client()
    raw = _Raw(target)
    sub: _Raw | None = None
    fan: list[_Raw] = []
    fan_rows: dict[str, float] = {}
    rows: list[dict[str, Any]] = []
    client_spread: dict[str, list[float]] = {}
    try:
        server = _server_name(admin)
        budget = max_seconds / (2 + 2 * len(COMMANDS) * len(sizes))

        def left() -> float:
            return max(0.05, min(budget, t_end - time.monotonic()))

        # warm up the connection and the server's code paths
        _measure(raw, admin, "PING", lambda i: command("PING"), n=200, pipeline=1, max_seconds=left())
        ping = _measure(raw, admin, "PING", lambda i: command("PING"), n=requests * 2, pipeline=1, max_seconds=left())
        ping_t = ping["client_times_us"]
        for size in sizes:
            value = b"v" * size
            keys = [b"%sk:%d" % (prefix.encode(), i) for i in range(64)]
            for i, k in enumerate(keys):  # the keys GET/MGET/HGETALL read exist
                raw.call(command("SET", k, value) + command("HSET", b"%sh:%d" % (prefix.encode(), i), "f", value), 2)
            hk = [b"%sh:%d" % (prefix.encode(), i) for i in range(64)]
            ch = b"%sch" % prefix.encode()
            for cmd in COMMANDS:
                for pipe in (1, pipeline):
                    build = _builder(cmd, prefix.encode(), keys, hk, ch, value)
                    m = _measure(raw, admin, cmd, build, n=requests, pipeline=pipe, max_seconds=left())
                    rows.append({"command": cmd, "value_bytes": size, "pipelined": pipe > 1,
                                 "requests": m["requests"], "server_cpu_us": m["server_cpu_us"],
                                 "commandstats_us": m["commandstats_us"],
                                 "client_p50_us": float(np.median(m["client_times_us"])) / pipe,
                                 "client_p99_us": float(np.percentile(m["client_times_us"], 99)) / pipe})
                    if pipe == 1:
                        sd = _robust_sd(m["client_times_us"])
                        client_spread.setdefault(cmd, []).append(sd)
        # one GET per connection on fan_in connections at once, and the same GETs pipelined on one
        # (the reference value size; back to back, so both see the same machine)
        if fan_in > 1:
            ref = b"v" * int(reference_value_bytes)
            rk = b"%sref" % prefix.encode()
            raw.call(command("SET", rk, ref), 1)
            fan = [_Raw(target) for _ in range(fan_in)]
            get = command("GET", rk)
            n_fan = max(fan_in * 10, requests)
            _measure_fan_in(fan, admin, get, n=fan_in * 4, max_seconds=left())  # warm up
            fan_rows["fan_in_us"] = _measure_fan_in(fan, admin, get, n=n_fan, max_seconds=left())
            fan_rows["pipelined_us"] = float(_measure(raw, admin, "GET", lambda i: get, n=n_fan, pipeline=pipeline,
                                                      max_seconds=left())["server_cpu_us"])
        # PUBLISH with subscribers: the extra time per subscriber
        sub = _Raw(target)
        ch = b"%sch" % prefix.encode()
        sub.call(command("SUBSCRIBE", ch), 1)
        # the subscriber reads every message as it comes, as a real one does: a subscriber that
        # reads nothing lets its socket buffer fill, after which the server only appends to its
        # output buffer and the per-subscriber cost (a write each) is not measured
        draining = threading.Event()
        drainer = threading.Thread(target=_drain, args=(sub.sock, draining), daemon=True)
        drainer.start()
        try:
            with_sub = _measure(raw, admin, "PUBLISH", lambda i: command("PUBLISH", ch, b"v" * 64), n=requests,
                                pipeline=pipeline, max_seconds=left())
        finally:
            draining.set()
            drainer.join(2.0)
        latency_hist = _latency_histogram(admin)
    finally:
        raw.close()
        if sub is not None:
            sub.close()
        for r in fan:
            r.close()
        admin.close()
        remove_prefix(target, prefix)
    df = pd.DataFrame(rows)
    ping_cpu = float(ping["server_cpu_us"])
    rtt = np.maximum(ping_t - ping_cpu, 0.0)
    qs = (np.arange(200) + 0.5) / 200 * 100
    rtt_q = [round(float(v), 3) for v in np.percentile(rtt, qs)]
    ping_sd = _robust_sd(ping_t)
    fits: dict[str, dict[str, float]] = {}
    for cmd in COMMANDS:
        fit: dict[str, float] = {}
        for mode, flag in (("single", False), ("pipelined", True)):
            sub_df = df[(df["command"] == cmd) & (df["pipelined"] == flag)]
            x = sub_df["value_bytes"].to_numpy(float) / 1024.0
            y = sub_df["server_cpu_us"].to_numpy(float)
            slope, base = np.polyfit(x, y, 1) if len(x) >= 2 else (0.0, float(y.mean()))
            fit[f"{mode}_base_us"] = round(float(base), 3)
            fit[f"{mode}_per_kib_us"] = round(max(0.0, float(slope)), 4)
        fit["base_us"] = fit["single_base_us"]
        fit["per_kib_us"] = fit["single_per_kib_us"]
        mean_s = fit["base_us"] + fit["per_kib_us"] * reference_value_bytes / 1024.0
        sds = client_spread.get(cmd, [])
        var_s = (float(np.median(sds)) ** 2 - ping_sd**2) if sds else -1.0
        cv = math.sqrt(var_s) / mean_s if var_s > 0 and mean_s > 0 else _DEFAULT_CV
        fit["cv"] = round(min(max(cv, _CV_RANGE[0]), _CV_RANGE[1]), 3)
        fits[cmd] = fit
    # pipelined with one subscriber against pipelined without: the pipelined figures are the
    # steadier (a lone PUBLISH's tens of microseconds of wake-up would swamp a write's few)
    publish0 = fits["PUBLISH"]["pipelined_base_us"] + fits["PUBLISH"]["pipelined_per_kib_us"] * 64 / 1024.0
    fits["PUBLISH_PER_SUBSCRIBER"] = {"base_us": round(max(0.0, float(with_sub["server_cpu_us"]) - publish0), 3),
                                      "per_kib_us": 0.0}
    notes = [f"PING service time {ping_cpu:.2f} us; client PING P50 {float(np.median(ping_t)):.1f} us",
             f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores while measuring (other work "
             "on the machine widens the round trip's tail, not the servers' CPU time per call)"]
    if latency_hist:
        notes.append("LATENCY HISTOGRAM (execution only, usec bucket -> calls): " + latency_hist)
    overhead = None
    if fan_rows:
        overhead = round(max(0.0, fan_rows["fan_in_us"] - fan_rows["pipelined_us"]), 3)
        notes.append(f"GET of {int(reference_value_bytes)} B: {fan_rows['fan_in_us']:.2f} us of server CPU a call "
                     f"one per connection on {fan_in} connections at once, {fan_rows['pipelined_us']:.2f} us "
                     f"pipelined {pipeline} on one: {overhead:.2f} us per connection read and written")
    return Calibration(
        name=name or _default_name(server),
        date=_dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        target=target.label,
        server=server,
        machine=_machine(),
        software=_software(server),
        rtt_us=rtt_q,
        fits=fits,
        measurements=df,
        reference_value_bytes=reference_value_bytes,
        notes=notes,
        connection_overhead_us=overhead,
    )


def _builder(cmd: str, prefix: bytes, keys: list[bytes], hk: list[bytes], ch: bytes,
             value: bytes) -> Callable[[int], bytes]:
    """The i-th request of a calibration run of ``cmd``."""
    if cmd == "GET":
        return lambda i: command("GET", keys[i % 64])
    if cmd == "SET":
        return lambda i: command("SET", keys[i % 64], value, "PX", 600_000)
    if cmd == "DEL":
        return lambda i: command("DEL", b"%sd:%d" % (prefix, i))
    if cmd == "INCR":
        return lambda i: command("INCR", b"%sn:%d" % (prefix, i % 64))
    if cmd == "MGET":
        return lambda i: command("MGET", keys[i % 64])
    if cmd == "HGETALL":
        return lambda i: command("HGETALL", hk[i % 64])
    if cmd == "EXPIRE":
        return lambda i: command("EXPIRE", hk[i % 64], 600)
    if cmd == "PUBLISH":
        return lambda i: command("PUBLISH", ch, value)
    raise ValueError(cmd)


def _latency_histogram(admin: Any) -> str:
    try:
        h = admin.execute_command("LATENCY", "HISTOGRAM", "GET", "SET")
    except Exception:  # noqa: BLE001 - LATENCY HISTOGRAM is Redis >= 7; older servers lack it
        return ""
    parts = []
    for cmd, v in (h or {}).items():
        name = cmd.decode() if isinstance(cmd, bytes) else str(cmd)
        buckets = v.get(b"histogram_usec") or v.get("histogram_usec") or {}
        parts.append(f"{name}: " + ", ".join(f"{k}:{c}" for k, c in sorted(buckets.items())))
    return "; ".join(parts)


def _default_name(server: str) -> str:
    return server.split(" ")[0] + "-" + platform.node().split(".")[0]


def _machine() -> dict[str, Any]:
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"platform": platform.platform(), "cpu": cpu, "cores": os.cpu_count()}


def _software(server: str) -> dict[str, Any]:
    from importlib.metadata import PackageNotFoundError, version

    def v(pkg: str) -> str:
        try:
            return version(pkg)
        except PackageNotFoundError:
            return "?"

    return {"server": server, "python": platform.python_version(), "cachelab": v("cachelab"),
            "hiredis": v("hiredis"), "redis-py": v("redis"), "numpy": v("numpy")}


def resolve_calibration_path(name: str, base_dir: str | Path | None = None) -> Path:
    """Where a scenario's ``calibration:`` points: an existing path as given (absolute or
    relative to the current directory), else relative to the scenario's directory, else to
    the project (``data/calibration/...``), else a bare name in ``data/calibration/``."""
    from simlab.paths import PROJECT_ROOT

    candidates = [Path(name)]
    if base_dir is not None:
        candidates.append(Path(base_dir) / name)
    candidates += [PROJECT_ROOT / name, CALIBRATION_DIR / name, CALIBRATION_DIR / f"{name}.yaml"]
    for c in candidates:
        if c.is_file():
            return c
    raise CalibrationError(f"no calibration file {name!r} (looked in {', '.join(str(c) for c in candidates)})")


def apply_calibration(sc: Any, base_dir: str | Path | None = None) -> Any:
    """The scenario with ``cache.service_time_us`` taken from the calibration it names
    (commands the calibration does not measure keep the scenario's figures); the service
    times are evaluated at the scenario's mean value size."""
    from simlab.scenario import scenario_from_dict
    from simlab.workload.distributions import mean_of

    cal = load_calibration(resolve_calibration_path(sc.calibration, base_dir))
    d = sc.model_dump(mode="json")
    measured = cal.service_time_us(mean_of(sc.keyspace.value_size_bytes))
    d["cache"]["service_time_us"] = {**d["cache"]["service_time_us"], **measured}
    return scenario_from_dict(d, f"<{sc.name} with calibration {cal.name}>")
