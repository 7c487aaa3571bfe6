"""The bounded soak of the suite (issue 12): 30 s of mixed odd commands from two load processes
against an engine process while a second client PINGs every 50 ms (tests/engine/security/soak.py;
``make soak`` runs it for 10 minutes).

Tolerances: the dataset is bounded by construction (200 keys, values up to 256 KiB: at most
~60 MB with collections), so RSS may grow by at most 150 MB over the start and by at most
30 MB over the second half of the run (a leak grows steadily; data stops growing once the key
pool is full).  PING: the issue's functional bound of 50 ms, on the 95th percentile, because
the highest samples on a shared 2-core CI machine are the OS scheduler's, not the server's."""

from __future__ import annotations

from tests.engine.security.soak import run_soak


def test_soak_bounded() -> None:
    res = run_soak(seconds=30, seed=7)
    assert res.commands > 1000
    rss = res.rss_mb
    start, end = rss[0][1], rss[-1][1]
    mid = min(rss, key=lambda p: abs(p[0] - 15))[1]
    assert max(m for _, m in rss) < start + 150, rss
    assert end < mid + 30, rss
    p95 = res.ping_percentile_ms(0.95)
    assert p95 < 50, f"PING p95 {p95:.1f} ms, max {res.ping_max_ms:.1f} ms"
