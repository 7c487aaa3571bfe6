"""The vectorised FIFO formulas against the plain sequential recursion they replace."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from simlab.model.fastpath import lindley_waits, single_server_departures


def _loop(a: np.ndarray, s: np.ndarray, free: float = -np.inf) -> np.ndarray:
    d = np.empty(len(a))
    f = free
    for i in range(len(a)):
        f = max(a[i], f) + s[i]
        d[i] = f
    return d


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(0, 5), min_size=1, max_size=60),
    st.lists(st.floats(0, 5), min_size=60, max_size=60),
    st.floats(-1, 20),
)
def test_departures_equal_sequential_recursion(gaps, services, free):
    a = np.cumsum(gaps)
    s = np.asarray(services[: len(a)])
    # tolerance: both sum the same few doubles in a different order, error ~ n * ulp(sum)
    np.testing.assert_allclose(single_server_departures(a, s, free), _loop(a, s, free), rtol=0, atol=1e-9)


def test_lindley_waits_equal_recursion():
    rng = np.random.default_rng(3)
    t = rng.exponential(1.0, 20000)
    s = rng.exponential(0.9, 20000)
    w = np.zeros(len(t))
    for n in range(1, len(t)):
        w[n] = max(0.0, w[n - 1] + s[n - 1] - t[n])
    np.testing.assert_allclose(lindley_waits(t, s), w, rtol=0, atol=1e-8)
    a = np.cumsum(t)
    np.testing.assert_allclose(single_server_departures(a, s) - s - a, w, rtol=0, atol=1e-8)


def test_stream_in_blocks_equals_one_array():
    from simlab.metrics import LatencyHistogram
    from simlab.model.fastpath import single_server_stream

    rng = np.random.default_rng(5)
    gaps = rng.exponential(1.0, 30000)
    svc = rng.exponential(0.8, 30000)
    a = np.cumsum(gaps)
    whole = LatencyHistogram()
    whole.record_ms((single_server_departures(a, svc) - a) * 1e3)
    blocks = LatencyHistogram()
    n = single_server_stream(((gaps[i : i + 4096], svc[i : i + 4096]) for i in range(0, 30000, 4096)), blocks)
    assert n == 30000
    # same jobs, same HdrHistogram buckets (3 significant digits)
    for q in (50, 90, 99, 99.9):
        assert blocks.percentile_ms(q) == whole.percentile_ms(q)
