"""The report's figures, one function each: `(data...) -> matplotlib Figure`.

The same functions draw the HTML report and the notebooks, so a figure looks the same in
both. Each takes the library's own objects (a `RunResult`, a `LoadCurve`, a miss-ratio curve,
an `SloReport`, a `CostReport`, a validation table) and computes nothing the library does not
also return: what is drawn is what `summary.json` and the CSVs beside the report contain.
Figures are made with the object API (`matplotlib.figure.Figure`), never pyplot's global
state, so they are safe in a batch process and do not pile up in a notebook.
"""

from __future__ import annotations

import io
import math
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.colors import BoundaryNorm, ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Patch

__all__ = [
    "BAND_COLOURS",
    "BAND_LABELS",
    "burn_down",
    "cost_breakdown",
    "figure_svg",
    "hourly_p99_heatmap",
    "latency_cdf",
    "latency_percentiles",
    "miss_ratio_curve",
    "percentiles_vs_load",
    "predicted_vs_measured",
]

#: The seed dashboard's heatmap bands: P99 under 50 %, 50-75 %, 75-100 % of the SLO, over it.
BAND_LABELS = ("< 50% of SLO", "50-75%", "75-100%", "> SLO")
BAND_COLOURS = ("#22c55e", "#eab308", "#f97316", "#ef4444")
_SLO_STYLE = {"color": "#ef4444", "linestyle": "--", "linewidth": 1.2}


def _fig(w: float = 7.0, h: float = 3.6) -> tuple[Figure, Any]:
    fig = Figure(figsize=(w, h), layout="constrained")
    return fig, fig.add_subplot()


def figure_svg(fig: Figure) -> str:
    """The figure as an inline `<svg>` element (no XML header), for a self-contained page."""
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None})  # the same data gives the same bytes
    text = buf.getvalue()
    return text[text.index("<svg"):]


def latency_percentiles(result: Any, slo_ms: float) -> Figure:
    """P50/P90/P99/P99.9 of the service and of each source against the latency SLO; with
    replications, the service's 95 % intervals as error bars (from `result.ci`)."""
    fig, ax = _fig()
    s = result.summary
    rows = s[s["kind"].isin(["service", "source"])]
    cols = [("p50_ms", "P50"), ("p90_ms", "P90"), ("p99_ms", "P99"), ("p999_ms", "P99.9")]
    x = np.arange(len(cols))
    width = 0.8 / max(len(rows), 1)
    half = {}
    if result.ci is not None:
        half = dict(zip(result.ci["metric"], result.ci["half_width_95"], strict=False))
    for i, row in enumerate(rows.to_dict("records")):
        vals = [row[c] for c, _ in cols]
        err = [half.get(c, 0.0) for c, _ in cols] if row["kind"] == "service" and half else None
        ax.bar(x + i * width - 0.4 + width / 2, vals, width, yerr=err, capsize=3,
               label=row["group"] if row["kind"] == "source" else "service (all)")
    ax.axhline(slo_ms, label=f"SLO {slo_ms:g} ms", **_SLO_STYLE)
    ax.set_xticks(x, [name for _, name in cols])
    ax.set_ylabel("latency (ms)")
    ax.set_title("Latency percentiles against the SLO")
    ax.legend(fontsize=8)
    return fig


def latency_cdf(cdf: Any, slo_ms: float, percentiles: dict[str, float] | None = None) -> Figure:
    """Empirical CDF of end-to-end latency with the SLO threshold; log-x so the tail shows.
    `cdf` is a `RunResult` (its `extra["latency_cdf"]`) or that DataFrame (`latency_ms`, `cdf`:
    the run's histogram at 3 significant digits)."""
    if hasattr(cdf, "extra"):
        o = cdf.overall
        percentiles = percentiles or {"P50": o["p50_ms"], "P90": o["p90_ms"], "P99": o["p99_ms"], "P99.9": o["p999_ms"]}
        cdf = cdf.extra["latency_cdf"]
    fig, ax = _fig()
    ax.step(cdf["latency_ms"], cdf["cdf"], where="post", label="service (all requests)")
    ax.axvline(slo_ms, label=f"SLO {slo_ms:g} ms", **_SLO_STYLE)
    for name, v in (percentiles or {}).items():
        if v == v:
            ax.plot([v], [float(name.strip("P")) / 100], "o", ms=5, label=f"{name} {v:.0f} ms")
    ax.set_xscale("log")
    ax.set_ylim(0, 1.0)
    ax.set_xlabel("latency (ms, log scale)")
    ax.set_ylabel("fraction of requests <= x")
    ax.set_title("Latency CDF")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    return fig


def hourly_p99_heatmap(hourly: pd.DataFrame, slo_ms: float) -> Figure:
    """The seed's 24-hour P99 strip: one cell per hour coloured by its band (under 50 %,
    50-75 %, 75-100 % of the SLO, over it); `hourly` has `hour` and `p99_ms`."""
    fig = Figure(figsize=(8.0, 1.9), layout="constrained")
    ax = fig.add_subplot()
    frac = (hourly["p99_ms"].to_numpy(dtype=float) / slo_ms)[None, :]
    cmap = ListedColormap(BAND_COLOURS)
    norm = BoundaryNorm([0, 0.5, 0.75, 1.0, max(1.0001, float(np.nanmax(frac)) + 1)], cmap.N)
    ax.imshow(frac, cmap=cmap, norm=norm, aspect="auto")
    for h, v in enumerate(hourly["p99_ms"]):
        ax.text(h, 0, f"{v:.0f}", ha="center", va="center", fontsize=6.5, color="black")
    ax.set_yticks([0], ["P99 (ms)"])
    ax.set_xticks(range(len(hourly)), [f"{int(h):02d}" for h in hourly["hour"]], fontsize=7)
    ax.set_xlabel("hour of day")
    handles = [Patch(color=c, label=lab) for c, lab in zip(BAND_COLOURS, BAND_LABELS, strict=True)]
    ax.legend(handles=handles, ncols=4, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.55), frameon=False)
    ax.set_title(f"24-hour P99 against the {slo_ms:g} ms SLO")
    return fig


def percentiles_vs_load(curve: Any, slo_ms: float) -> Figure:
    """P50/P90/P99 against offered load (requests/s) with the SLO, the knee and the
    breaking point marked (`curve` is a `simlab.report.loadcurve.LoadCurve`)."""
    fig, ax = _fig()
    t = curve.table
    for col, name in (("p50_ms", "P50"), ("p90_ms", "P90"), ("p99_ms", "P99")):
        ax.plot(t["offered_rps"], t[col], "o-", ms=4, label=name)
    ax.axhline(slo_ms, label=f"SLO {slo_ms:g} ms", **_SLO_STYLE)
    if curve.knee_rps is not None:
        ax.axvline(curve.knee_rps, color="#6366f1", linestyle=":", label=f"knee {curve.knee_rps:,.0f} rps")
    if curve.breaking_rps is not None:
        ax.axvline(curve.breaking_rps, color="#ef4444", linestyle=":",
                   label=f"P99 reaches SLO {curve.breaking_rps:,.0f} rps")
    ax.axvline(curve.base_rps, color="grey", linewidth=0.8, label=f"today {curve.base_rps:,.0f} rps")
    ax.set_yscale("log")
    ax.set_xlabel("offered load (requests/s)")
    ax.set_ylabel("latency (ms, log scale)")
    ax.set_title("Percentiles against offered load")
    ax.legend(fontsize=7, ncols=2)
    ax.grid(alpha=0.3)
    return fig


def miss_ratio_curve(mrc: Any, maxmemory_bytes: int, simulated_hit_ratio: float | None = None,
                     simulated_half_width: float | None = None) -> Figure:
    """Hit ratio against memory (LRU miss-ratio curve of the scenario's key stream) with the
    chosen `maxmemory` and, when given, the simulated hit ratio there (its 95 % interval)."""
    fig, ax = _fig()
    mib = np.asarray(mrc.cache_sizes, dtype=float) / 2**20
    ax.plot(mib, mrc.hit_ratios, label="exact LRU (stack distances)")
    if maxmemory_bytes:
        ax.axvline(maxmemory_bytes / 2**20, color="#6366f1", linestyle=":",
                   label=f"maxmemory {maxmemory_bytes / 2**20:g} MiB")
    if simulated_hit_ratio is not None and maxmemory_bytes:
        ax.errorbar([maxmemory_bytes / 2**20], [simulated_hit_ratio], yerr=simulated_half_width or None,
                    fmt="s", color="#ef4444", capsize=3, label=f"simulated {simulated_hit_ratio:.3f} (with TTLs)")
    ax.set_xlabel("cache memory (MiB, keys + values + per-key overhead)")
    ax.set_ylabel("hit ratio")
    ax.set_ylim(0, 1)
    ax.set_title("Hit ratio against memory (miss-ratio curve)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    return fig


def burn_down(slo_report: Any) -> Figure:
    """Error budget remaining over the window for each SLO (`SloReport.burn_down`)."""
    fig, ax = _fig()
    bd = slo_report.burn_down
    for name, g in bd.groupby("slo", sort=False):
        y = np.clip(g["budget_remaining"].to_numpy(dtype=float), -1.0, 1.0)
        ax.plot(g["window_day"], y * 100, label=str(name))
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xlabel(f"day of the {slo_report.window_days:g}-day {slo_report.window_kind} window")
    ax.set_ylabel("error budget remaining (%)")
    ax.set_title("Error-budget burn-down")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def cost_breakdown(breakdown: dict[str, float], monthly_usd: float, per_million_usd: float | None) -> Figure:
    """Monthly cost by resource (USD), with the total and the cost per million requests."""
    fig, ax = _fig(6.0, 3.0)
    names = list(breakdown)
    vals = [float(breakdown[n]) for n in names]
    bars = ax.barh(names, vals, color="#6366f1")
    for b, v in zip(bars, vals, strict=True):
        ax.text(b.get_width(), b.get_y() + b.get_height() / 2, f" \\${v:,.2f}", va="center", fontsize=8)
    title = f"Monthly cost \\${monthly_usd:,.2f}"  # \$: a literal dollar, not mathtext
    if per_million_usd is not None and per_million_usd == per_million_usd:
        title += f"; \\${per_million_usd:,.4f} per million requests"
    ax.set_title(title)
    ax.set_xlabel("USD per month")
    ax.invert_yaxis()
    ax.set_xlim(0, max(vals + [0.01]) * 1.3)
    return fig


def plot_predicted_measured(ax: Any, table: pd.DataFrame, q: str, colour: str, style: str,
                            predicted_label: str, measured_label: str) -> None:
    """One percentile ``q`` ("p50", ...) of a validation table on ``ax``: the prediction as a
    line with its `*_ci95` band, the measurement as points with error bars (where the table has
    the half-widths; a NaN half-width draws none)."""
    x = table["offered_rps"] if "offered_rps" in table else pd.Series(range(len(table)))
    pc, mc = f"predicted_{q}_ms", f"measured_{q}_ms"
    ax.plot(x, table[pc], style, color=colour, label=predicted_label)
    if f"{pc}_ci95" in table:
        hw = np.nan_to_num(table[f"{pc}_ci95"].to_numpy(dtype=float))
        ax.fill_between(x, table[pc] - hw, table[pc] + hw, color=colour, alpha=0.15, lw=0)
    yerr = np.nan_to_num(table[f"{mc}_ci95"].to_numpy(dtype=float)) if f"{mc}_ci95" in table else None
    ax.errorbar(x, table[mc], yerr=yerr, fmt="o", color=colour, ms=4, capsize=2, label=measured_label)


def predicted_vs_measured(table: pd.DataFrame) -> Figure:
    """Predicted against measured P50/P99 per offered load point (the live validation).
    Columns: `offered_rps`, `predicted_p50_ms`, `measured_p50_ms`, `predicted_p99_ms`,
    `measured_p99_ms` (missing columns are skipped), and their `*_ci95` half-widths where
    present (a band round the prediction, error bars on the measurement)."""
    fig, ax = _fig()
    for q, colour in (("p50", "#22c55e"), ("p90", "#eab308"), ("p99", "#ef4444")):
        if f"predicted_{q}_ms" in table and f"measured_{q}_ms" in table:
            plot_predicted_measured(ax, table, q, colour, "--", f"predicted {q.upper()}",
                                    f"measured {q.upper()} (95 % interval)")
    ax.set_xlabel("offered load (requests/s)")
    ax.set_ylabel("latency (ms)")
    if len(table) and math.isfinite(float(np.nanmax(table.select_dtypes("number").to_numpy(dtype=float)))):
        ax.set_yscale("log")
    ax.set_title("Predicted against measured (live engine)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncols=2)
    return fig
