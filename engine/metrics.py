"""Prometheus metrics and Kubernetes probes on the optional HTTP port ``metrics-port``.

``/metrics`` exposes what redis_exporter users already chart, under redis_exporter's metric
names (redis_up, redis_connected_clients, redis_memory_used_bytes, redis_memory_max_bytes,
redis_commands_total{cmd}, redis_commands_duration_seconds_total{cmd},
redis_keyspace_hits_total, redis_keyspace_misses_total, redis_evicted_keys_total,
redis_expired_keys_total, redis_db_keys{db}, ...) plus per-command latency histograms
(``redis_commands_latencies_usec``, LATENCY HISTOGRAM's buckets) and percentiles
(``redis_latency_percentiles_usec``), and the process's garbage collector (``python_gc_threshold``,
``python_gc_frozen_objects``, ``python_gc_collections_total``).  A custom collector reads the server state at scrape
time; the scrape is executed on the server's event loop (``call_soon_threadsafe``) so it
sees a consistent state and never races the command path.

``/healthz`` answers 200 while the process serves (liveness); ``/readyz`` answers 503 while
persistence files are loading (``server.loading``) and 200 afterwards (readiness).

The HTTP server runs in a daemon thread, bound to the first ``bind`` address (loopback by
default), started and stopped by :class:`~engine.server.Server` (``start``, ``request_shutdown``).
"""

from __future__ import annotations

import concurrent.futures
import gc
import logging
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
    SummaryMetricFamily,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from engine import latency, memory
from engine.table import COMMANDS

if TYPE_CHECKING:
    from engine.server import Server

__all__ = ["ServerCollector", "MetricsHTTPServer", "start_metrics", "stop_metrics"]

log = logging.getLogger("engine")


def _commands() -> Iterator[Any]:
    for cmd in COMMANDS.values():
        yield cmd
        if cmd.subcommands:
            yield from cmd.subcommands.values()


class ServerCollector(Collector):
    """prometheus_client collector reading one :class:`Server` at scrape time."""

    def __init__(self, server: Server) -> None:
        self.server = server

    def collect(self) -> Iterator[Metric]:
        s = self.server
        st = s.stats
        yield GaugeMetricFamily("redis_up", "Information about the Redis instance", value=1)
        yield GaugeMetricFamily("redis_uptime_in_seconds", "uptime_in_seconds metric",
                                value=int(time.time() - s.start_time))
        yield GaugeMetricFamily("redis_connected_clients", "connected_clients metric", value=len(s.connections))
        yield GaugeMetricFamily("redis_memory_used_bytes", "used_memory metric", value=memory.used_memory(s))
        yield GaugeMetricFamily("redis_memory_max_bytes", "maxmemory metric", value=s.maxmemory)
        yield GaugeMetricFamily("redis_loading_dump_file", "loading metric", value=int(bool(s.loading)))
        for name, doc, value in (
            ("redis_keyspace_hits", "keyspace_hits metric", st.keyspace_hits),
            ("redis_keyspace_misses", "keyspace_misses metric", st.keyspace_misses),
            ("redis_evicted_keys", "evicted_keys metric", st.evicted_keys),
            ("redis_expired_keys", "expired_keys metric", st.expired_keys),
            ("redis_commands_processed", "total_commands_processed metric", st.total_commands_processed),
            ("redis_connections_received", "total_connections_received metric", st.total_connections_received),
            ("redis_rejected_connections", "rejected_connections metric", st.rejected_connections),
            ("redis_net_input_bytes", "total_net_input_bytes metric", st.total_net_input_bytes),
            ("redis_net_output_bytes", "total_net_output_bytes metric", st.total_net_output_bytes),
        ):
            yield CounterMetricFamily(name, doc, value=value)
        calls = CounterMetricFamily("redis_commands", "Total number of calls per command", labels=["cmd"])
        secs = CounterMetricFamily("redis_commands_duration_seconds", "Total amount of time in seconds spent per command",
                                   labels=["cmd"])
        failed = CounterMetricFamily("redis_commands_failed_calls", "Total number of errors within command execution",
                                     labels=["cmd"])
        rejected = CounterMetricFamily("redis_commands_rejected_calls", "Total number of errors prior command execution",
                                       labels=["cmd"])
        for cmd in _commands():
            if cmd.calls or cmd.rejected_calls or cmd.failed_calls:
                name = cmd.fullname
                calls.add_metric([name], cmd.calls)
                secs.add_metric([name], cmd.usec / 1e6)
                failed.add_metric([name], cmd.failed_calls)
                rejected.add_metric([name], cmd.rejected_calls)
        yield from (calls, secs, failed, rejected)
        keys = GaugeMetricFamily("redis_db_keys", "Total number of keys by DB", labels=["db"])
        expiring = GaugeMetricFamily("redis_db_keys_expiring", "Total number of expiring keys by DB", labels=["db"])
        for db in s.dbs:
            if db.data or db.id == 0:
                keys.add_metric([f"db{db.id}"], len(db.data))
                expiring.add_metric([f"db{db.id}"], len(db.expires))
        yield from (keys, expiring)
        yield from self._latency()
        yield from self._gc()

    def _gc(self) -> Iterator[Metric]:
        """The process's cyclic collector (engine/server.py set_gc_policy): its thresholds, the
        objects frozen out of it, and its collections by generation (prometheus_client's
        GCCollector names), so a pause or a disabled collector shows on the dashboard."""
        thresholds = GaugeMetricFamily("python_gc_threshold", "gc.get_threshold() per generation", labels=["generation"])
        for gen, value in enumerate(gc.get_threshold()):
            thresholds.add_metric([str(gen)], value)
        yield thresholds
        yield GaugeMetricFamily("python_gc_frozen_objects", "Objects in the permanent generation (gc.freeze)",
                                value=gc.get_freeze_count())
        collections = CounterMetricFamily("python_gc_collections", "Number of times this generation was collected",
                                          labels=["generation"])
        collected = CounterMetricFamily("python_gc_objects_collected", "Objects collected during gc",
                                        labels=["generation"])
        for gen, st in enumerate(gc.get_stats()):
            collections.add_metric([str(gen)], st["collections"])
            collected.add_metric([str(gen)], st["collected"])
        yield from (collections, collected)

    def _latency(self) -> Iterator[Metric]:
        hists = latency.state(self.server).named()
        pcts = self.server.config["latency-tracking-info-percentiles"]
        h_family = HistogramMetricFamily("redis_commands_latencies_usec",
                                         "A histogram of latencies per command", labels=["cmd"])
        p_family = SummaryMetricFamily("redis_latency_percentiles_usec", "A summary of latency percentile distribution per command",
                                       labels=["cmd"])
        for name, h in hists.items():
            if not h:
                continue
            total = sum(h.values())
            usec_sum = float(sum(us * n for us, n in h.items()))
            buckets = [(str(float(le)), count) for le, count in latency.log_buckets(h).items()]
            buckets.append(("+Inf", total))
            h_family.add_metric([name], buckets, usec_sum)
            for p in pcts:
                p_family.add_sample("redis_latency_percentiles_usec", {"cmd": name, "quantile": str(p / 100)},
                                    latency.percentile_us(h, p))
            p_family.add_sample("redis_latency_percentiles_usec_sum", {"cmd": name}, usec_sum)
            p_family.add_sample("redis_latency_percentiles_usec_count", {"cmd": name}, total)
        yield h_family
        yield p_family


class MetricsHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr: tuple[str, int], server: Server) -> None:
        self.engine = server
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(ServerCollector(server))
        super().__init__(addr, _Handler)

    def scrape(self) -> bytes:
        """generate_latest on the server's loop thread (a consistent, race-free read)."""
        loop = self.engine.loop
        if loop is None or not loop.is_running():
            return generate_latest(self.registry)
        fut: concurrent.futures.Future[bytes] = concurrent.futures.Future()

        def run() -> None:
            try:
                fut.set_result(generate_latest(self.registry))
            except Exception as e:  # noqa: BLE001 - handed to the HTTP thread, which answers 500
                fut.set_exception(e)

        loop.call_soon_threadsafe(run)
        return fut.result(timeout=10)


class _Handler(BaseHTTPRequestHandler):
    server: MetricsHTTPServer

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            try:
                body = self.server.scrape()
            except Exception:  # noqa: BLE001 - a failed scrape is a 500, not a dead thread
                log.exception("metrics scrape failed")
                self._send(500, b"scrape failed\n")
                return
            self._send(200, body, CONTENT_TYPE_LATEST)
        elif path == "/healthz":
            self._send(200, b"ok\n")
        elif path == "/readyz":
            if self.server.engine.loading:
                self._send(503, b"loading\n")
            else:
                self._send(200, b"ready\n")
        else:
            self._send(404, b"not found\n")

    def _send(self, code: int, body: bytes, ctype: str = "text/plain; charset=utf-8") -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
        return


def start_metrics(server: Server) -> MetricsHTTPServer | None:
    """Serve /metrics, /healthz, /readyz on ``metrics-port`` (0 = off) in a daemon thread."""
    port = server.config["metrics-port"]
    if not port:
        return None
    host = server.config["bind"][0].lstrip("-") if server.config["bind"] else "127.0.0.1"
    if host == "*":
        host = "0.0.0.0"
    httpd = MetricsHTTPServer((host, port), server)
    thread = threading.Thread(target=httpd.serve_forever, name="cachelab-metrics", daemon=True)
    thread.start()
    log.info("Metrics on http://%s:%d/metrics", host, port)
    return httpd


def stop_metrics(httpd: MetricsHTTPServer | None) -> None:
    """Stop serving (at shutdown)."""
    if httpd is not None:
        httpd.shutdown()
        httpd.server_close()
