"""Event-driven solver on simpy: the general case (multi-threaded instances, any mix of stages).

Only arrivals at contended resources are simpy events; the pure delays between them were
sampled as arrays by the plan (`simlab.model.plan`). At an arrival the FIFO queue's departure
is computed at once (a FIFO server's departure depends only on the jobs ahead of it, which
have all arrived): one float for a single server, a heap of free times for `c` servers
(exact FIFO G/G/c). The next stage is then scheduled as an event at its own arrival time, so
queues see their arrivals in time order, as in any discrete-event simulation. This costs one
event per stage instead of the request/release/timeout triple of a `simpy.Resource` model.
First-stage arrivals are known in advance (sorted), so the feeder handles every arrival that
comes before the next scheduled event inline (`env.peek()` lookahead) and schedules an event
for the next arrival only when another event is due first; the order in which queues see
arrivals is the same.
"""

from __future__ import annotations

import heapq
from array import array
from typing import Any

import numpy as np
import simpy
from simpy.events import Event

from simlab.model.attempts import Attempts, FaultLookup
from simlab.model.plan import Outcome, Plan, Resource
from simlab.model.simpy_events import event_scheduler

__all__ = ["run_events"]


def run_events(plan: Plan, resources: list[Resource], faults: FaultLookup, state: Any = None) -> Attempts:
    """Run one plan through simpy; returns the attempts with arrivals and departures.

    `state` (a `simlab.model.fastpath.QueueState`) carries the servers' free times from one
    chunk of a long run to the next, as in the vectorised solver."""
    att = Attempts(plan)
    env = simpy.Environment(initial_time=float(min(0.0, plan.t0.min(initial=0.0))))
    n = plan.n
    n_stages = plan.n_stages.tolist()
    res = plan.res.ravel().tolist()  # row-major: [i * 3 + k]
    service_s = plan.service_s.ravel().tolist()
    delay_s = plan.delay_s.ravel().tolist()
    post = plan.post.tolist()
    ok_plan = (plan.outcome == Outcome.OK).tolist()
    # growable per-attempt state as Python lists (fast scalar access)
    t0 = plan.t0.tolist()
    root = list(range(n))
    deadline = plan.deadline.tolist()
    retries = plan.retries.tolist()
    backoff = plan.backoff.tolist()
    nan = float("nan")
    # typed arrays: item assignment as fast as a list, and numpy reads them without a copy
    A = array("d", [nan]) * (3 * n)
    D = array("d", [nan]) * (3 * n)
    S = array("d", [0.0]) * (3 * n)
    R = array("i", [-1]) * (3 * n)  # resource that served each stage (failover redirects)
    has_redirect = faults.has_redirect
    fail = [0] * n
    detect = [np.nan] * n
    free: list = []
    if state is not None:
        free = [list(f) if isinstance(f, list) else f for f in state.free]
    else:
        for r in resources:
            free.append(-np.inf if r.servers == 1 else ([-np.inf] * r.servers if r.servers > 1 else None))
    single = [r.servers == 1 for r in resources]
    bounded = [r.bounded and r.servers > 0 for r in resources]
    in_sys: list[list[float]] = [[] for _ in resources]  # departures of jobs still there (bounded ones)
    SHED = Outcome.SHED
    unlimited = [r.servers == 0 for r in resources]
    has_restart, has_slow = faults.has_restart, faults.has_slow
    schedule_at = event_scheduler(env)
    heapreplace = heapq.heapreplace
    TIMEOUT = Outcome.TIMEOUT

    def fire(ev: Event) -> None:
        args: Any = ev.value  # (i, k, t) given to schedule_at by `at`
        stage(*args)

    def at(t: float, i: int, k: int) -> None:
        """An already-triggered event at time t whose value says which stage arrives."""
        schedule_at(t, fire, (i, k, t))

    def retry(i: int) -> None:
        r0 = root[i]
        if fail[i] == Outcome.CONNECTION or fail[i] == Outcome.SHED:
            t = detect[i] + backoff[i]
        else:
            t = max(deadline[i] + backoff[i], detect[i])
        j = len(t0)
        t0.append(t)
        root.append(r0)
        deadline.append(t + (deadline[i] - t0[i]))
        retries.append(retries[i] - 1)
        backoff.append(backoff[i] * 2)
        A.extend((nan, nan, nan))
        D.extend((nan, nan, nan))
        S.extend((0.0, 0.0, 0.0))
        R.extend((-1, -1, -1))
        fail.append(0)
        detect.append(nan)
        at(t + delay_s[r0 * 3], j, 0)

    def stage(i: int, k: int, now: float) -> None:
        p = root[i]
        pk = p * 3 + k
        ik = i * 3 + k
        r = res[pk]
        if has_redirect:
            r = faults.route(r, now)
            R[ik] = r
        if has_restart and faults.restarting(r, now):
            A[ik] = now
            if fail[i] == 0:
                fail[i] = Outcome.CONNECTION
                detect[i] = now
                if retries[i] > 0 and ok_plan[p]:
                    retry(i)
            return
        s = service_s[pk]
        if has_slow:
            s *= faults.factor(r, now)
        if bounded[r]:
            rr = resources[r]
            q = in_sys[r]
            while q and q[0] <= now:
                heapq.heappop(q)
            f = free[r] if single[r] else free[r][0]
            if (rr.max_in_system and len(q) >= rr.max_in_system) or (f - now > rr.max_wait_s):
                A[ik] = now
                if fail[i] == 0:
                    told = now + rr.report_after_s
                    if told > deadline[i]:
                        fail[i] = TIMEOUT
                        detect[i] = now
                    else:
                        fail[i] = SHED
                        detect[i] = told
                    if retries[i] > 0 and ok_plan[p]:
                        retry(i)
                return
        if single[r]:
            f = free[r]
            d = (now if now > f else f) + s
            free[r] = d
        elif unlimited[r]:
            d = now + s
        else:
            h = free[r]
            f = h[0]
            d = (now if now > f else f) + s
            heapreplace(h, d)
        A[ik] = now
        D[ik] = d
        S[ik] = s
        if bounded[r]:
            heapq.heappush(in_sys[r], d)
        last = k + 1 == n_stages[p]
        # late if the response cannot reach the client by the deadline (post >= 0, so for
        # the last stage d + post > deadline also covers d > deadline)
        if (d + post[p] if last else d) > deadline[i] and fail[i] == 0:
            fail[i] = TIMEOUT
            detect[i] = now
            if retries[i] > 0 and ok_plan[p]:
                retry(i)
        if not last:
            at(d + delay_s[pk + 1], i, k + 1)

    first = (plan.t0 + plan.delay_s[:, 0]).tolist()
    order = np.argsort(np.asarray(first), kind="stable").tolist()

    n_first = len(order)
    pos = [0]

    def feed(_ev: Event | None = None) -> None:
        """Handle first-stage arrivals in order until an event is due first, then wait
        for that arrival with one raw event (cheaper than a process and its Timeouts)."""
        j = pos[0]
        while j < n_first:
            i = order[j]
            t = first[i]
            if t >= peek() and _ev is None:
                pos[0] = j
                schedule_at(t, feed, None)
                return
            _ev = None
            stage(i, 0, t)
            j += 1
        pos[0] = j

    peek = env.peek
    feed()
    env.run()
    if state is not None:
        state.free = free
    m = len(t0)
    att.spawn(np.empty(0, np.int64), np.empty(0))
    att.t0 = np.asarray(t0)
    att.root = np.asarray(root, dtype=np.int64)
    att.deadline = np.asarray(deadline)
    att.retries = np.asarray(retries, dtype=np.int8)
    att.backoff = np.asarray(backoff)
    att.arr = np.frombuffer(A, dtype=np.float64).reshape(m, 3)
    att.dep = np.frombuffer(D, dtype=np.float64).reshape(m, 3)
    att.svc_eff = np.frombuffer(S, dtype=np.float64).reshape(m, 3)
    if has_redirect:
        att.res_eff = np.frombuffer(R, dtype=np.int32).reshape(m, 3)
    att.fail = np.asarray(fail, dtype=np.int8)
    att.detect = np.asarray(detect)
    att.spawned = np.zeros(m, dtype=bool)
    return att
