"""One core for the server, the rest for the load generator: CPU pinning for live runs.

On a 2-core machine a Python server and the generator's workers, left to the scheduler,
take turns on both cores: a worker preempted by the server sends late (send lag), and a
server preempted by a worker answers late, and neither delay is in the model. Pinning the
server to one CPU and the generator to the others makes each side a machine of its own,
which is what the simulator assumes (the generator costs the server nothing).

Linux only (``os.sched_setaffinity``); elsewhere, or with one usable CPU, :func:`split`
returns ``None`` and runs are not pinned (the result says so). A process's affinity is per
thread on Linux, so :func:`pin_process` sets it on every thread listed in
``/proc/<pid>/task`` (redis-server's background threads included).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

__all__ = ["Pinning", "pin_process", "pin_self", "split", "usable_cpus"]


def usable_cpus() -> list[int]:
    """The CPUs this process may run on (all of ``os.cpu_count()`` where affinity is unknown)."""
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))


@dataclass(frozen=True)
class Pinning:
    """Which CPUs the server and the generator's workers run on."""

    server: tuple[int, ...]
    generator: tuple[int, ...]

    def describe(self) -> str:
        return (f"server pinned to CPU {','.join(map(str, self.server))}, "
                f"load generator to CPU {','.join(map(str, self.generator))}")


def split() -> Pinning | None:
    """The first usable CPU for the server, the others for the generator; ``None`` where
    pinning is unavailable (not Linux) or there is a single usable CPU."""
    if not hasattr(os, "sched_setaffinity"):
        return None
    cpus = usable_cpus()
    if len(cpus) < 2:
        return None
    return Pinning(server=(cpus[0],), generator=tuple(cpus[1:]))


def pin_self(cpus: tuple[int, ...] | list[int]) -> bool:
    """Pin the calling process (its current thread, and threads it starts later)."""
    try:
        os.sched_setaffinity(0, set(cpus))
        return True
    except (AttributeError, OSError, ValueError):
        return False


def pin_process(pid: int, cpus: tuple[int, ...] | list[int]) -> bool:
    """Pin every thread of process ``pid``; False when it could not be done."""
    if not hasattr(os, "sched_setaffinity"):
        return False
    try:
        tids = [int(t) for t in os.listdir(f"/proc/{pid}/task")]
    except OSError:
        tids = [pid]
    ok = False
    for tid in tids:
        try:
            os.sched_setaffinity(tid, set(cpus))
            ok = True
        except (OSError, ValueError):
            continue  # a thread that ended meanwhile
    return ok
