"""What SLO and cost evaluation add to a run of the default scenario (target: under 5 %).

Two parts are timed against the run's own wall time:
* during the run, the per-minute event counting for SLIs (`MinuteEvents.add`, timed around
  every call while the run goes on, so the figure is not a difference of two noisy runs);
* after the run, `evaluate_slos`, `cost_of`, `evaluate_alerts` and `prometheus_rules`
  (median of 5 repetitions each).

    .venv/bin/python benchmarks/bench_slo_cost.py [--duration S]
"""

from __future__ import annotations

import argparse
import statistics
import time

from simlab.cost import cost_of
from simlab.model.minutes import MinuteEvents
from simlab.model.run import simulate
from simlab.paths import DEFAULT_SCENARIO
from simlab.scenario import load_scenario
from simlab.slo import evaluate_alerts, evaluate_slos, prometheus_rules


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=None, help="simulated seconds (default: the scenario's)")
    args = ap.parse_args()
    sc = load_scenario(DEFAULT_SCENARIO)

    spent = [0.0]
    calls = [0]
    original = MinuteEvents.add

    def timed_add(self, *a, **kw):  # type: ignore[no-untyped-def]
        t = time.perf_counter()
        original(self, *a, **kw)
        spent[0] += time.perf_counter() - t
        calls[0] += 1

    MinuteEvents.add = timed_add  # type: ignore[method-assign]
    try:
        t0 = time.perf_counter()
        result = simulate(sc, duration_s=args.duration)
        run_s = time.perf_counter() - t0
    finally:
        MinuteEvents.add = original  # type: ignore[method-assign]

    def median_time(fn) -> float:  # type: ignore[no-untyped-def]
        times = []
        for _ in range(5):
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
        return statistics.median(times)

    parts = {
        "evaluate_slos": median_time(lambda: evaluate_slos(sc, result)),
        "cost_of": median_time(lambda: cost_of(sc, result)),
        "evaluate_alerts": median_time(lambda: evaluate_alerts(sc, result)),
        "prometheus_rules": median_time(lambda: prometheus_rules(sc)),
    }
    n = int(result.overall["requests"])
    print(f"default scenario: {result.duration_s:g} s simulated, {n} requests, run {run_s:.2f} s wall")
    print(f"  per-minute SLI counting during the run: {spent[0] * 1e3:8.1f} ms in {calls[0]} chunk(s) "
          f"= {spent[0] / run_s * 100:.2f} % of the run")
    for k, v in parts.items():
        print(f"  {k:<18} {v * 1e3:8.1f} ms = {v / run_s * 100:.2f} % of the run")
    slo_cost = spent[0] + parts["evaluate_slos"] + parts["cost_of"]
    everything = spent[0] + sum(parts.values())
    print(f"SLO + cost evaluation add {slo_cost / run_s * 100:.2f} % to the run "
          f"({everything / run_s * 100:.2f} % with alerts and rules); target < 5 %")


if __name__ == "__main__":
    main()
