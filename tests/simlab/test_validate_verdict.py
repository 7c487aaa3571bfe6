"""The verdict of `simlab validate` (simlab.validate.Validation.verdict) and its exit code.

A table is built row by row with the same function the live run uses (simlab.validate._row),
from LoadResults whose validity is what is being varied; the point is the rule, not a
measurement: agreement up to 70 % of saturation is claimed only when every load point up to
70 % ran validly and agreed. A run where every point above 10 % is invalid must not pass."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from simlab.calibrate import Calibration
from simlab.cli_live import _VERDICT_EXIT, EXIT_MISSED, EXIT_NOT_SHOWN, EXIT_OK
from simlab.load.generator import LoadResult
from simlab.metrics import LatencyHistogram
from simlab.validate import Validation, _row


def _load(p50: float, p99: float, hit: float, invalid: list[str]) -> LoadResult:
    return LoadResult(
        mode="open loop", target="t", scenario="s", seed=0, workers=1, connections=1, duration_s=1.0,
        warmup_s=0.0, requests=1, intended_rps=1.0, achieved_rps=1.0, histogram=LatencyHistogram(),
        percentiles_ms={"p50_ms": p50, "p90_ms": p50, "p99_ms": p99, "p999_ms": p99}, hit_ratio=hit, reads=1,
        outcomes={}, errors={}, error_rate=0.0, send_lag_p99_ms=5.0 if invalid else 0.1,
        per_second=pd.DataFrame(), by_kind=pd.DataFrame(), invalid_reasons=invalid, wall_s=1.0)


PRED = {"throughput_rps": 1.0, "p50_ms": 1.0, "p90_ms": 1.0, "p99_ms": 2.0, "p999_ms": 2.0, "hit_ratio": 0.5,
        "error_rate": 0.0}
LAG = ["generator behind schedule: P99 send lag 5.00 ms > 1.0 ms"]


def _validation(points: list[tuple[float, LoadResult]], saturation_pass: bool = True) -> Validation:
    table = pd.DataFrame([_row(f, 100 * f, PRED, m) for f, m in points])
    cal = Calibration(name="c", date="d", target="t", server="s", machine={}, software={}, rtt_us=[1.0], fits={},
                      measurements=pd.DataFrame())
    return Validation(scenario="s", target="t", server="s", seed=0, table=table,
                      saturation={"pass": saturation_pass}, calibration=cal, generator_rtt_us={})


AGREE = _load(1.02, 2.1, 0.502, [])


def test_every_point_above_10_percent_invalid_is_not_shown_and_does_not_pass() -> None:
    v = _validation([(0.1, AGREE), (0.4, _load(1.0, 2.0, 0.5, LAG)), (0.7, _load(1.0, 2.0, 0.5, LAG))])
    assert v.verdict == "not shown" and not v.passed
    assert list(v.table["verdict"]) == ["pass", "invalid", "invalid"]
    assert v.to_dict()["verdict"] == "not shown" and v.to_dict()["passed"] is False
    assert _VERDICT_EXIT[v.verdict] == EXIT_NOT_SHOWN != EXIT_OK


def test_a_valid_point_that_misses_disagrees_even_beside_invalid_ones() -> None:
    # P99 measured 2.5 ms against 2.0 predicted: -20 %, outside the 10 % tolerance
    v = _validation([(0.1, _load(1.0, 2.5, 0.5, [])), (0.4, _load(1.0, 2.0, 0.5, LAG))])
    assert v.verdict == "disagrees" and _VERDICT_EXIT[v.verdict] == EXIT_MISSED
    assert "P99 -20.0 %" in v.table["why"][0]


@pytest.mark.parametrize("beyond_valid", [True, False])
def test_points_beyond_70_percent_are_shown_not_judged(beyond_valid: bool) -> None:
    beyond = _load(9.0, 90.0, 0.3, [] if beyond_valid else LAG)
    v = _validation([(0.1, AGREE), (0.4, AGREE), (0.7, AGREE), (0.9, beyond)])
    assert v.verdict == "agrees" and v.passed and _VERDICT_EXIT[v.verdict] == EXIT_OK
    assert v.table["verdict"].iloc[-1] == ("not judged" if beyond_valid else "invalid, not judged")


def test_a_starved_saturation_search_shows_nothing() -> None:
    """Neither side had 90 % of a core at the closed-loop maximum: the load points are
    fractions of what the machine's other work left, so agreement is not shown."""
    v = _validation([(0.1, AGREE), (0.4, AGREE), (0.7, AGREE)])
    v.saturation["starved"] = True
    assert v.verdict == "not shown" and not v.passed


def test_a_missed_saturation_disagrees() -> None:
    assert _validation([(0.1, AGREE)], saturation_pass=False).verdict == "disagrees"
    assert _validation([]).verdict == "not shown"


def test_the_service_time_goes_from_lone_to_pipelined_as_the_server_gets_busy() -> None:
    """predicted_busy / batching_overhead_us (simlab.validate): exact arithmetic, no tolerance.
    GET costs 5 us pipelined, 3 us more on a connection of its own and 14 us more when it wakes
    the server: 22 us alone (the engine's calibration, rounded)."""
    from simlab.validate import batching_overhead_us, predicted_busy

    u_p, u_s = 8e-6, 22e-6  # utilisation per request/s
    assert predicted_busy(0.0, u_p, u_s) == 0.0
    # at 1/u_p requests/s the server is never idle: the busy time, busy 1
    assert predicted_busy(1 / u_p, u_p, u_s) == pytest.approx(1.0)
    # rho = (A + B) / (1 + B) at 20 000 rps: A = 0.16, B = 0.28
    rho = predicted_busy(20_000, u_p, u_s)
    assert rho == pytest.approx(0.44 / 1.28)
    per_request = 5.0 + batching_overhead_us(3.0, 14.0, rho)
    assert per_request == pytest.approx(8.0 + (1 - rho) * 14.0)
    assert batching_overhead_us(3.0, 14.0, 1.0) == 3.0 and batching_overhead_us(3.0, 14.0, 0.0) == 17.0
    # self-consistent: the busy fraction is the rate times the mean CPU per request
    assert rho == pytest.approx(20_000 * per_request * 1e-6)


def test_the_wake_up_by_rate_comes_from_the_probes() -> None:
    """fit_wake_up (simlab.validate): the mean wake-up of an idle arrival and the round trip at
    each probe's rate, from figures made with known ones (busy GET 16 us), and WakeUp's
    interpolation in log rate, held flat beyond the probes."""
    from simlab.validate import fit_wake_up, interpolated_distribution

    busy = 16.0
    truth = {400.0: (60.0, 80.0), 2000.0: (30.0, 60.0), 8000.0: (10.0, 50.0)}  # rate: (wake-up, round trip)

    def probe(r: float) -> tuple[float, float, float]:
        e, rt = truth[r]
        cpu = (busy + e) / (1 + r * e * 1e-6)  # cpu = busy + (1 - rho) e with rho = r cpu
        idle = 1 - r * cpu * 1e-6
        return r, cpu, rt + busy + idle * e

    w = fit_wake_up([probe(2000.0), probe(400.0), probe(8000.0)], busy)
    assert w.rates == (400.0, 2000.0, 8000.0)
    assert w.cpu == pytest.approx((60.0, 30.0, 10.0)) and w.round_trip == pytest.approx((80.0, 60.0, 50.0))
    assert w.max_us == pytest.approx(60.0)
    assert w.cpu_us(100.0) == pytest.approx(60.0) and w.cpu_us(50_000.0) == pytest.approx(10.0)
    assert w.cpu_us(math.sqrt(400.0 * 2000.0)) == pytest.approx(45.0)  # halfway in log rate
    assert w.round_trip_us(4000.0) == pytest.approx(55.0)
    # a dearer wake-up at a higher rate is noise: held at the lower rate's
    noisy = fit_wake_up([(400.0, 40.0, 100.0), (2000.0, 60.0, 90.0)], busy)
    assert noisy.cpu[1] == noisy.cpu[0] == pytest.approx(24.0 / (1 - 400 * 40e-6))
    # a probe whose server was cheaper than the busy GET: no negative wake-up
    assert fit_wake_up([(400.0, 10.0, 70.0)], busy).cpu == (0.0,)
    a = {"kind": "empirical", "values": [0.02, 0.04, 0.10]}
    b = {"kind": "empirical", "values": [0.01, 0.02, 0.04]}
    assert interpolated_distribution([400.0, 1600.0], [a, b], 800.0)["values"] == pytest.approx([0.015, 0.03, 0.07])
    assert interpolated_distribution([1600.0, 400.0], [b, a], 100.0)["values"] == a["values"]  # held beyond
