"""simlab/model/simpy_events.py builds events through simpy's private fields; these tests pin
that they behave as the public ``simpy.Timeout`` does (run them before raising the simpy pin).

Tolerance: none; event times are the same floats and the order is simpy's (time, priority,
insertion) order, so sequences must be identical.
"""

from __future__ import annotations

import numpy as np
import simpy
from simpy.events import Event

from simlab.model.simpy_events import event_scheduler


def _times() -> list[float]:
    rng = np.random.default_rng(7)
    t = rng.uniform(0.0, 10.0, 300)
    t[::10] = 5.0  # ties: insertion order decides, as for Timeouts
    return t.tolist()


def _run(use_helper: bool) -> list[tuple[float, object]]:
    env = simpy.Environment()
    seen: list[tuple[float, object]] = []
    schedule_at = event_scheduler(env)

    def put(t: float, value: object) -> None:
        if use_helper:
            schedule_at(t, cb, value)
        else:
            ev = simpy.Timeout(env, t - env.now, value)
            ev.callbacks.append(cb)

    def cb(ev: Event) -> None:
        seen.append((env.now, ev.value))
        i = ev.value
        if isinstance(i, int) and i % 7 == 0:
            put(env.now + 0.25, ("child", i))

    for i, t in enumerate(_times()):
        put(t, i)
    env.run()
    return seen


def test_scheduled_events_fire_like_timeouts() -> None:
    """Same times, same order, same values as ``Timeout`` events, also when a callback
    schedules further events (as the simpy solver's stages do)."""
    ours, theirs = _run(True), _run(False)
    assert ours == theirs
    assert len(ours) == 300 + len(range(0, 300, 7))


def test_scheduled_and_timeout_events_interleave_in_insertion_order() -> None:
    """In one environment, helper events and Timeouts at equal times fire in the order they
    were scheduled (both go through ``env.schedule`` with NORMAL priority)."""
    env = simpy.Environment()
    schedule_at = event_scheduler(env)
    seen: list[object] = []
    for i in range(20):
        if i % 2:
            ev = simpy.Timeout(env, 1.0, i)
            ev.callbacks.append(lambda e: seen.append(e.value))
        else:
            schedule_at(1.0, lambda e: seen.append(e.value), i)
    env.run()
    assert seen == list(range(20))
    assert env.now == 1.0
