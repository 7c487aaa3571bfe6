"""The pure GCRA core against redis-cell's own test table (no server needed).

Source: ``it_rate_limits`` in https://github.com/brandur/redis-cell, ``redis-cell-impl/src/lib.rs``
(limit 5 = max_burst 4, 1 request per second).  Values are exact: the table is in whole
milliseconds and the core computes in nanoseconds.
"""

from __future__ import annotations

import pytest

from engine.recipes.gcra import NS_PER_S, GcraError, emission_interval_ns, gcra, throttle_reply

MS = 1_000_000
START_NS = 1_700_000_000 * NS_PER_S

# (now offset ms, quantity, remaining, reset_after ms, retry_after ms, limited)
REDIS_CELL_CASES = [
    (0, 6, 5, 0, -1000, True),
    (0, 1, 4, 1000, -1000, False),
    (0, 1, 3, 2000, -1000, False),
    (0, 1, 2, 3000, -1000, False),
    (0, 1, 1, 4000, -1000, False),
    (0, 1, 0, 5000, -1000, False),
    (0, 1, 0, 5000, 1000, True),
    (3000, 1, 2, 3000, -1000, False),
    (3100, 1, 1, 3900, -1000, False),
    (4000, 1, 1, 4000, -1000, False),
    (8000, 1, 4, 1000, -1000, False),
    (9500, 1, 4, 1000, -1000, False),
    (9500, 0, 4, 1000, -1000, False),
    (9500, 2, 2, 3000, -1000, False),
    (9500, 5, 2, 3000, 3000, True),
]


def test_redis_cell_table() -> None:
    tat: int | None = None
    for i, (offset_ms, quantity, remaining, reset_ms, retry_ms, limited) in enumerate(REDIS_CELL_CASES):
        d = gcra(tat, START_NS + offset_ms * MS, max_burst=4, count=1, period_s=1, quantity=quantity)
        assert (d.limited, d.limit, d.remaining) == (limited, 5, remaining), i
        assert (d.reset_after_ns, d.retry_after_ns) == (reset_ms * MS, retry_ms * MS), i
        if d.new_tat_ns is not None:
            tat = d.new_tat_ns


def test_reply_rounds_up_to_whole_seconds() -> None:
    # 3100 ms case: reset_after 3.9 s -> 4; a blocked retry of 0.1 s -> 1.
    tat = None
    for _ in range(5):
        tat = gcra(tat, START_NS, 4, 1, 1).new_tat_ns or tat
    blocked = gcra(tat, START_NS + 100 * MS, 4, 1, 1)
    assert throttle_reply(blocked) == [1, 5, 0, 1, 5]
    allowed = gcra(None, START_NS, 4, 1, 1)
    assert throttle_reply(allowed) == [0, 5, 4, -1, 1]


def test_emission_interval_matches_rate_per_period() -> None:
    assert emission_interval_ns(5, 1) == 200 * MS
    assert emission_interval_ns(6, 120) == 20 * NS_PER_S
    assert emission_interval_ns(3, 1) == 333_333_333  # f64 division truncated


def test_zero_rate_is_an_error() -> None:
    with pytest.raises(GcraError, match="Zero rates are not supported"):
        gcra(None, START_NS, 10, 0, 0)
