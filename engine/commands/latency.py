"""LATENCY HISTOGRAM | LATEST | HISTORY | RESET | DOCTOR | HELP (latency.c, server.c) and
the INFO ``latencystats`` section, read from engine/latency.py."""

from __future__ import annotations

from typing import Any

from engine import latency
from engine.client import Client
from engine.protocol import Reply, Verbatim
from engine.table import COMMANDS, subcommand

__all__ = ["latency_histogram", "latency_latest", "latency_history", "latency_reset", "info_latencystats"]

_HELP = [
    "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DOCTOR",
    "    Return a human readable latency analysis report.",
    "GRAPH <event>",
    "    Return an ASCII latency graph for the <event> class.",
    "HISTORY <event>",
    "    Return time-latency samples for the <event> class.",
    "LATEST",
    "    Return the latest latency samples for all events.",
    "RESET [<event> ...]",
    "    Reset latency data of one or more <event> classes.",
    "    (default: reset all data for all event classes)",
    "HISTOGRAM [COMMAND ...]",
    "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
    "    If no commands are specified then all histograms are replied.",
    "HELP",
    "    Print this help.",
]


def _cdf(hist: dict[int, int]) -> dict[bytes, Any]:
    return {b"calls": sum(hist.values()), b"histogram_usec": latency.log_buckets(hist)}


@subcommand("latency", "histogram", arity=-2, flags="loading stale", acl="@slow", group="server", since="7.0.0",
            summary="Return the cumulative distribution of latencies of a subset of commands or all commands")
def latency_histogram(ctx: Client, *names: bytes) -> Reply:
    """latencyAllCommandsFillCDF / latencySpecificCommandsFillCDF: a map per command that has
    been called; a container name covers its subcommands; unknown names are skipped."""
    st = latency.state(ctx.server)
    hists = st.hists
    out: dict[bytes, Any] = {}
    if not names:
        for name, h in st.named().items():
            out[name.encode()] = _cdf(h)
        return out
    for raw in names:
        parent, _, sub = raw.lower().partition(b"|")  # lookupCommandBySds: "client|id"
        cmd = COMMANDS.get(parent)
        if cmd is not None and sub:
            cmd = cmd.subcommands.get(sub) if cmd.subcommands else None
        if cmd is None:
            continue
        rows = [cmd] + list(cmd.subcommands.values()) if cmd.subcommands else [cmd]
        for row in rows:
            found = hists.get(row)
            if found:
                out[row.fullname.encode()] = _cdf(found)
    return out


@subcommand("latency", "latest", arity=2, flags="loading stale", acl="@slow", group="server", since="2.8.13",
            summary="Return the latest latency samples for all events")
def latency_latest(ctx: Client) -> Reply:
    events = latency.state(ctx.server).events
    return [
        [name.encode(), s.samples[-1][0], s.samples[-1][1], s.max_ms] for name, s in events.items() if s.samples
    ]


@subcommand("latency", "history", arity=3, flags="loading stale", acl="@slow", group="server", since="2.8.13",
            summary="Return timestamp-latency samples for the event")
def latency_history(ctx: Client, event: bytes) -> Reply:
    series = latency.state(ctx.server).events.get(event.decode(errors="replace"))
    if series is None:
        return []
    return [[ts, ms] for ts, ms in series.samples]


@subcommand("latency", "reset", arity=-2, flags="loading stale", acl="@slow", group="server", since="2.8.13",
            summary="Reset latency data for one or more events")
def latency_reset(ctx: Client, *events: bytes) -> Reply:
    st = latency.state(ctx.server)
    if not events:
        n = len(st.events)
        st.events.clear()
        return n
    n = 0
    for e in events:
        if st.events.pop(e.decode(errors="replace"), None) is not None:
            n += 1
    return n


@subcommand("latency", "doctor", arity=2, flags="loading stale", acl="@slow", group="server", since="2.8.13",
            summary="Return a human readable latency analysis report")
def latency_doctor(ctx: Client) -> Reply:
    st = latency.state(ctx.server)
    if not st.threshold_ms and not st.events:
        text = (
            "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis instance. You may use "
            "\"CONFIG SET latency-monitor-threshold <milliseconds>.\" in order to enable it. If we weren't in a deep "
            "space mission I'd suggest to take a look at https://redis.io/topics/latency-monitor.\n"
        )
    elif not st.events:
        text = (
            "Dave, no latency spike was observed during the lifetime of this Redis instance, not in the slightest "
            "bit. I honestly think you ought to sit down calmly, take a stress pill, and think things over.\n"
        )
    else:
        lines = ["Dave, I have observed latency spikes in this Redis instance. You don't mind talking about it, "
                 "do you Dave?", ""]
        for i, (name, s) in enumerate(st.events.items(), 1):
            avg = sum(ms for _, ms in s.samples) // max(1, len(s.samples))
            lines.append(f"{i}. {name}: {len(s.samples)} latency spikes (average {avg}ms, "
                         f"mean deviation 0ms, period 0 sec). Worst all time event {s.max_ms}ms.")
        lines.append("")
        text = "\n".join(lines) + "\n"
    return Verbatim(text.encode())


@subcommand("latency", "help", arity=2, flags="loading stale", acl="@slow", group="server", since="2.8.13",
            summary="Show helpful text about the different subcommands")
def latency_help(ctx: Client) -> Reply:
    return [line.encode() for line in _HELP]


def _pct_label(p: float) -> str:
    """``%f`` then trimDoubleString: 50 -> '50', 99.9 -> '99.9'."""
    return f"{p:f}".rstrip("0").rstrip(".")


def info_latencystats(server: Any) -> dict[str, str]:
    """latency_percentiles_usec_<cmd>:p50=..,p99=..,p99.9=.. for every command called."""
    pcts = server.config["latency-tracking-info-percentiles"]
    out: dict[str, str] = {}
    for name, h in latency.state(server).named().items():
        if h:
            out[f"latency_percentiles_usec_{name}"] = ",".join(
                f"p{_pct_label(p)}={latency.percentile_us(h, p):.3f}" for p in pcts
            )
    return out


def _register_info() -> None:
    try:
        from engine.info import register_section  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        return
    register_section("latencystats", info_latencystats)


_register_info()
