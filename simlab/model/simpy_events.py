"""The one place that builds simpy events through simpy's private fields.

The simpy solver (events.py) schedules one already-triggered event per stage arrival.  The
public way to do that is ``simpy.Timeout(env, delay, value)`` plus a callback, but
``Timeout.__init__`` validates its delay and sets fields we do not need, and at a few
million events per simulated hour that cost shows in the benchmark.  So the event is made
with ``Event.__new__`` and given what ``Event.__init__`` and ``Event.succeed`` would set
(``env``, ``callbacks``, ``_ok``, ``_value``), then handed to ``env.schedule``, the same call
``Timeout`` makes.  ``_ok`` and ``_value`` are simpy internals: pyproject.toml pins simpy to
the minor version this was tested with, and tests/simlab/test_simpy_events.py checks that
these events fire at the same times, in the same order and with the same values as
``Timeout`` events (run it before raising the pin).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from simpy import Environment, Event
from simpy.core import NORMAL

__all__ = ["EventScheduler", "event_scheduler"]

EventScheduler = Callable[[float, Callable[[Event], None], Any], None]


def event_scheduler(env: Environment) -> EventScheduler:
    """``schedule_at(t, callback, value)``: at simulated time ``t`` (>= ``env.now``), call
    ``callback(event)`` with ``event.value == value``.

    Same effect as ``ev = simpy.Timeout(env, t - env.now, value); ev.callbacks.append(callback)``,
    without ``Timeout.__init__``'s work (see the module docstring).
    """
    new_event = Event.__new__
    schedule = env.schedule

    def schedule_at(t: float, callback: Callable[[Event], None], value: Any) -> None:
        ev = new_event(Event)
        ev.env = env
        ev.callbacks = [callback]
        ev._ok = True
        ev._value = value
        schedule(ev, NORMAL, t - env.now)

    return schedule_at
