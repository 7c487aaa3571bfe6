"""Sweeps: one scenario under many configurations and seeds, in parallel on Dask, cached on disk.

Why Dask: a sweep is embarrassingly parallel (every point is an independent simulation), and
`dask.distributed` runs the same code on a `LocalCluster` of this machine's cores or on any
cluster given by its scheduler address (`tcp://host:8786`) without a change. Points are
submitted as plain functions of picklable arguments; the client gathers rows as they finish,
draws a progress bar (`tqdm.auto`: a text bar in a terminal, a widget in Jupyter) and writes
each finished point to the cache at once, so an interrupted sweep keeps what it finished.

The result cache is one Parquet file per point under `cache_dir`, named by a SHA-256 of
(the scenario as canonical JSON, the configuration, the seed, the simulation settings, the
simlab version). The version is the package version plus a digest of simlab's source files,
so a change to the model invalidates old rows instead of silently reusing them. A re-run
simulates only the points whose key is not on disk.

A configuration is a mapping of dotted scenario field paths to values
(`{"cache.maxmemory_bytes": 134217728, "backend.concurrency": 64}`), plus the pseudo-key
`growth` that multiplies every source's rate (and rate limit) and the keyspace
(`scale_scenario`). `apply_config` validates the result like a scenario file, naming the path
of a bad field.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from simlab.results import RunResult
from simlab.scenario import Scenario, ScenarioError, scenario_from_dict

__all__ = [
    "DEFAULT_CACHE_DIR",
    "SimSettings",
    "SweepError",
    "SweepResult",
    "apply_config",
    "metrics_row",
    "open_client",
    "point_key",
    "run_sweep",
    "scale_scenario",
    "simlab_version",
    "simulate_point",
]

DEFAULT_CACHE_DIR = Path(os.environ.get("SIMLAB_CACHE_DIR", Path.home() / ".cache" / "simlab" / "sweeps"))


class SweepError(ValueError):
    """A configuration that cannot be applied, or a scheduler that cannot be reached."""


# --- configurations --------------------------------------------------------------------------


def scale_scenario(sc: Scenario, growth: float, *, scale_rate_limits: bool = True, keys: bool = True) -> Scenario:
    """The scenario with `growth` x traffic (every source's rate) and `growth` x keys
    (`keys=False`: traffic alone, as for a load multiplier on today's keyspace).

    Rate limits scale with the traffic by default: a limiter tuned to today's clients would
    otherwise reject the growth itself, which is a policy decision, not a capacity answer."""
    if growth <= 0:
        raise SweepError(f"growth must be > 0, got {growth}")
    if growth == 1:
        return sc
    sources = []
    for s in sc.sources:
        upd: dict[str, Any] = {"rate_rps": s.rate_rps * growth}
        if scale_rate_limits and s.rate_limit is not None:
            upd["rate_limit"] = s.rate_limit.model_copy(update={"limit": max(1, round(s.rate_limit.limit * growth))})
        sources.append(s.model_copy(update=upd))
    if not keys:
        return sc.model_copy(update={"sources": sources})
    ks = sc.keyspace.model_copy(update={"num_keys": max(1, round(sc.keyspace.num_keys * growth))})
    return sc.model_copy(update={"sources": sources, "keyspace": ks})


def apply_config(sc: Scenario, config: Mapping[str, Any]) -> Scenario:
    """`sc` with each dotted path of `config` set to its value, validated as a scenario; then
    `growth` (traffic and keys) and `traffic` (rates and rate limits alone) are applied."""
    data = sc.model_dump(mode="json")
    for path, value in config.items():
        if path in ("growth", "traffic"):
            continue
        node = data
        parts = path.split(".")
        for p in parts[:-1]:
            if isinstance(node, list):
                node = node[int(p)]
            elif isinstance(node, dict) and p in node and isinstance(node[p], dict | list):
                node = node[p]
            else:
                raise SweepError(f"configuration key {path!r}: no field {p!r} in the scenario")
        last = parts[-1]
        if isinstance(node, dict) and last not in node:
            raise SweepError(f"configuration key {path!r}: no field {last!r} in the scenario")
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value
    try:
        out = scenario_from_dict(data, "<configuration>")
    except ScenarioError as err:
        raise SweepError(f"configuration {dict(config)} is not a valid scenario: {err}") from None
    if "growth" in config:
        out = scale_scenario(out, float(config["growth"]))
    if "traffic" in config:
        out = scale_scenario(out, float(config["traffic"]), keys=False)
    return out


# --- one point -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SimSettings:
    """How each point is simulated.

    `run`: `simulate` with the scenario's run section (overridden by `duration_s`,
    `warmup_s`). `steady`: one steady-state window of `duration_s` seconds after the cache is
    warmed by `warmup_s` seconds of accesses alone (`simulate_day_fast` with one hour made of
    one window; faults are not represented): the planner's short windows. `warmup_accesses`
    instead sets the warm-up per point to that many requests at the point's own rate (within
    10-300 s), so a 10x point is not warmed ten times longer than it needs; `warmup_fill`
    raises it to that many times the objects the point's caches hold (maxmemory x shards over
    the mean entry), so a bigger cache is warmed long enough to fill before it is judged."""

    mode: Literal["run", "steady"] = "run"
    duration_s: float | None = None
    warmup_s: float | None = None
    warmup_accesses: float | None = None
    warmup_fill: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "duration_s": self.duration_s, "warmup_s": self.warmup_s,
                "warmup_accesses": self.warmup_accesses, "warmup_fill": self.warmup_fill}

    def steady_warmup_s(self, sc: Scenario) -> float:
        if self.warmup_accesses is not None or self.warmup_fill is not None:
            from simlab.workload.distributions import mean_of

            acc = self.warmup_accesses or 0.0
            if self.warmup_fill:
                ks = sc.keyspace
                per = mean_of(ks.key_size_bytes) + mean_of(ks.value_size_bytes) + 104  # + key/expire overhead
                held = sc.cache.maxmemory_bytes * sc.cache.shards if sc.cache.maxmemory_bytes else math.inf
                acc = max(acc, self.warmup_fill * min(ks.num_keys, held / per))
            rate = sum(s.rate_rps for s in sc.sources)
            return float(min(300.0, max(10.0, acc / rate)))
        return 120.0 if self.warmup_s is None else self.warmup_s


def simulate_point(sc: Scenario, config: Mapping[str, Any], seed: int, settings: SimSettings) -> RunResult:
    """Simulate one configuration of `sc` with one seed."""
    from simlab.model.run import simulate, simulate_day_fast

    s = apply_config(sc, config)
    if settings.mode == "steady":
        window = settings.duration_s or 10.0
        return simulate_day_fast(
            s, seed=seed, hours=1, hour_s=window, window_s=window,
            cache_warmup_s=settings.steady_warmup_s(s),
        )
    return simulate(s, seed=seed, duration_s=settings.duration_s, warmup_s=settings.warmup_s, replications=1)


_ROW_KEYS = ("requests", "throughput_rps", "p50_ms", "p90_ms", "p99_ms", "p999_ms", "max_ms", "mean_ms",
             "hit_ratio", "error_rate", "timeout_rate", "rejected_rate")
_RES_KEYS = ("servers", "throughput_rps", "offered_load", "busy_fraction", "utilisation", "mean_queue_len",
             "mean_wait_ms", "p99_wait_ms", "mean_service_ms")


def _scalar(v: Any) -> Any:
    v = v.item() if hasattr(v, "item") else v
    return v


def metrics_row(sc: Scenario, result: RunResult) -> dict[str, Any]:
    """The flat row a sweep stores for one simulated point: the overall figures, per-resource
    figures as `res.<resource>.<figure>`, and the SLO verdict (`slo_met`, `slo.<name>.met`)."""
    o = result.overall
    row: dict[str, Any] = {k: _scalar(o[k]) for k in _ROW_KEYS if k in o}
    for r in result.resources.to_dict("records"):
        for k in _RES_KEYS:
            if k in r:
                row[f"res.{r['resource']}.{k}"] = _scalar(r[k])
    row.update(slo_row(sc, result))
    row["wall_s"] = result.wall_s
    return row


def slo_row(sc: Scenario, result: RunResult) -> dict[str, Any]:
    """`slo_met` and per objective `slo.<name>.burn_rate` (over the simulated window) and
    `slo.<name>.met`, from `simlab.slo.evaluate_slos`.

    For sizing, an objective is met when the configuration's steady state burns its error
    budget no faster than the window allows (burn rate <= 1, i.e. the SLI meets its target);
    budget already spent earlier in the current window is the current window's business, not
    a property of the configuration."""
    from simlab.slo import SloError, evaluate_slos

    out: dict[str, Any] = {}
    try:
        rep = evaluate_slos(sc, result)
    except SloError as err:
        out["slo_met"] = False
        out["slo_error"] = str(err)
        return out
    met = True
    for o in rep.objectives:
        burn = float(o.burn_rate)
        ok = burn <= 1.0
        met &= ok
        out[f"slo.{o.name}.burn_rate"] = burn
        out[f"slo.{o.name}.achieved"] = float(o.achieved)
        out[f"slo.{o.name}.met"] = ok
    out["slo_met"] = met
    return out


def _point_task(sc_json: str, config: dict[str, Any], seed: int, settings: dict[str, Any]) -> dict[str, Any]:
    """What a worker runs: JSON in (cheap to ship, no pickled classes), a flat row out."""
    sc = scenario_from_dict(json.loads(sc_json), "<sweep>")
    st = SimSettings(**settings)
    s = apply_config(sc, config)
    result = simulate_point(sc, config, seed, st)
    return metrics_row(s, result)


# --- the cache -------------------------------------------------------------------------------

_VERSION: str | None = None


def simlab_version() -> str:
    """`cachelab <version>+<digest of simlab's .py files>`: the model's identity for caching."""
    global _VERSION
    if _VERSION is None:
        from importlib.metadata import PackageNotFoundError, version

        try:
            v = version("cachelab")
        except PackageNotFoundError:  # pragma: no cover
            v = "0"
        root = Path(__file__).resolve().parent
        h = hashlib.sha256()
        for p in sorted(root.rglob("*.py")):
            h.update(str(p.relative_to(root)).encode())
            h.update(p.read_bytes())
        _VERSION = f"{v}+{h.hexdigest()[:12]}"
    return _VERSION


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def point_key(sc_json: str, config: Mapping[str, Any], seed: int, settings: SimSettings) -> str:
    """SHA-256 of scenario, configuration, seed, settings and simlab version."""
    h = hashlib.sha256()
    for part in (sc_json, _canonical(dict(config)), str(seed), _canonical(settings.to_dict()), simlab_version()):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()


def _cache_path(cache_dir: Path, key: str) -> Path:
    return cache_dir / key[:2] / f"{key}.parquet"


def _read_cached(cache_dir: Path, key: str) -> dict[str, Any] | None:
    p = _cache_path(cache_dir, key)
    if not p.exists():
        return None
    try:
        df = pd.read_parquet(p)
    except Exception:  # noqa: BLE001 - a torn or foreign file is a miss, and is rewritten
        return None
    if len(df) != 1:
        return None
    return {k: _scalar(v) for k, v in df.iloc[0].to_dict().items()}


def _write_cached(cache_dir: Path, key: str, row: dict[str, Any]) -> None:
    p = _cache_path(cache_dir, key)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_suffix(f".{os.getpid()}.tmp")
    pd.DataFrame([row]).to_parquet(tmp, index=False)
    os.replace(tmp, p)  # atomic: readers never see half a file


# --- Dask ------------------------------------------------------------------------------------


def open_client(scheduler: str | None = None, *, n_workers: int = 2):
    """A `distributed.Client` on `scheduler` (an address such as tcp://host:8786), or on a new
    LocalCluster of `n_workers` single-threaded processes bound to 127.0.0.1 with no
    dashboard. The caller closes it (`client.close()`; the local cluster closes with it)."""
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            return Client(scheduler, timeout="10s")
        except (OSError, TimeoutError) as err:
            raise SweepError(f"--scheduler {scheduler}: cannot connect ({err})") from None
    import dask

    # Dask's nanny sets MALLOC_TRIM_THRESHOLD_=65536 in its workers, so glibc returns every
    # freed block above 64 KiB to the kernel: the model's large numpy temporaries then fault
    # their pages in again on every chunk (measured: +45 % CPU per point). Keep glibc's default.
    env = {k: v for k, v in dask.config.get("distributed.nanny.pre-spawn-environ", {}).items()
           if k != "MALLOC_TRIM_THRESHOLD_"}
    with dask.config.set({"distributed.nanny.pre-spawn-environ": env}):
        cluster = LocalCluster(
            n_workers=n_workers, threads_per_worker=1, processes=True, host="127.0.0.1",
            dashboard_address="127.0.0.1:0", silence_logs=logging.CRITICAL,
        )
    client = Client(cluster)
    client._simlab_owned_cluster = cluster  # type: ignore[attr-defined]
    return client


def close_client(client: Any) -> None:
    cluster = getattr(client, "_simlab_owned_cluster", None)
    client.close()
    if cluster is not None:
        cluster.close()


# --- the sweep -------------------------------------------------------------------------------


@dataclass
class SweepResult:
    """One row per (configuration, seed): the configuration's keys as `cfg.<path>`, `seed`,
    the figures of `metrics_row`, `cached` (True when the row came from disk) and `key`."""

    table: pd.DataFrame
    simulated: int
    cached: int
    wall_s: float
    settings: SimSettings = field(default_factory=SimSettings)

    def to_dict(self) -> dict[str, Any]:
        rows = json.loads(self.table.to_json(orient="records"))
        return {"simulated": self.simulated, "cached": self.cached, "wall_s": self.wall_s,
                "settings": self.settings.to_dict(), "points": rows}

    def _repr_html_(self) -> str:
        head = (f"<p>{len(self.table)} points: {self.simulated} simulated, {self.cached} from the cache, "
                f"{self.wall_s:.1f} s</p>")
        return head + self.table.to_html(index=False, float_format=lambda x: f"{x:.4g}")


def _progress_bar(total: int, enabled: bool, desc: str):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="point", leave=False)


def run_sweep(
    scenario: Scenario,
    configs: Iterable[Mapping[str, Any]],
    *,
    seeds: Sequence[int] = (0,),
    settings: SimSettings | None = None,
    client: Any = None,
    scheduler: str | None = None,
    parallel: bool = True,
    n_workers: int = 2,
    cache_dir: str | Path | None = DEFAULT_CACHE_DIR,
    progress: bool | Callable[[int, int], None] = True,
) -> SweepResult:
    """Simulate every configuration with every seed; reuse cached points.

    `client`: an existing `distributed.Client`; else `scheduler` (address) or a new 2-worker
    LocalCluster, closed at the end. `parallel=False` runs in this process (the reference the
    parallel run must equal). `cache_dir=None` disables the cache. `progress`: a bar, or a
    callable `(done, total)`."""
    t0 = time.perf_counter()
    settings = settings or SimSettings()
    configs = [dict(c) for c in configs]
    for c in configs:
        apply_config(scenario, c)  # fail fast, before any worker starts
    sc_json = _canonical(scenario.model_dump(mode="json"))
    cdir = Path(cache_dir) if cache_dir is not None else None
    points = [(i, c, int(s)) for i, c in enumerate(configs) for s in seeds]
    keys = [point_key(sc_json, c, s, settings) for _, c, s in points]
    rows: list[dict[str, Any] | None] = [None] * len(points)
    from_cache = [False] * len(points)
    todo = []
    for j, key in enumerate(keys):
        cached = _read_cached(cdir, key) if cdir is not None else None
        if cached is not None:
            rows[j] = cached
            from_cache[j] = True
        else:
            todo.append(j)
    total, done = len(todo), 0
    bar = _progress_bar(total, progress is True and total > 0, "simlab sweep")
    report = progress if callable(progress) else None

    def finished(j: int, row: dict[str, Any]) -> None:
        nonlocal done
        rows[j] = row
        if cdir is not None:
            _write_cached(cdir, keys[j], row)
        done += 1
        if bar is not None:
            bar.update(1)
        if report is not None:
            report(done, total)

    try:
        if todo and not parallel:
            for j in todo:
                _, c, s = points[j]
                finished(j, _point_task(sc_json, dict(c), s, settings.to_dict()))
        elif todo:
            own = client is None
            cl = open_client(scheduler, n_workers=n_workers) if own else client
            try:
                from distributed import as_completed

                futs = {}
                for j in todo:
                    _, c, s = points[j]
                    f = cl.submit(_point_task, sc_json, c, s, settings.to_dict(), key=f"simlab-point-{j}-{keys[j]}", pure=False)
                    futs[f] = j
                for f in as_completed(list(futs)):
                    finished(futs[f], f.result())
            finally:
                if own:
                    close_client(cl)
    finally:
        if bar is not None:
            bar.close()
    out = []
    for j, (i, c, s) in enumerate(points):
        row = rows[j]
        assert row is not None
        rec: dict[str, Any] = {"config": i, **{f"cfg.{k}": v for k, v in c.items()}, "seed": s}
        rec.update(row)
        rec["cached"] = from_cache[j]
        rec["key"] = keys[j]
        out.append(rec)
    table = pd.DataFrame(out)
    return SweepResult(table=table, simulated=total, cached=len(points) - total,
                       wall_s=time.perf_counter() - t0, settings=settings)
