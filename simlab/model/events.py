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

Client connection pools (`simlab.scenario.ClientPoolSpec`) are the one place where a job holds
one resource while it uses another: a connection is taken when the application sends a
command and given back when the reply is back, so a pool's wait depends on the instance's
queue. They are simulated as events: a command asks its pool `lead` seconds before it would
reach the instance; with a connection it goes on, else it waits in FIFO order until a release
hands it one or its timeout passes (`pool_timeout`); a pool below its size opens a connection
unless the instance is at `maxclients` (`maxclients`). The vectorised solver has no events, so
scenarios with pools run here (`simlab.model.run.choose_solver`).
"""

from __future__ import annotations

import heapq
from array import array
from collections import deque
from typing import Any

import numpy as np
import simpy
from simpy.events import Event

from simlab.model.attempts import Attempts, FaultLookup
from simlab.model.plan import Outcome, Plan, Pool, Resource
from simlab.model.simpy_events import event_scheduler

__all__ = ["run_events"]


class _PoolState:
    """One client pool while a plan runs: connections open and in use, commands waiting."""

    __slots__ = ("busy", "epoch", "open", "rel", "stale", "waiting", "wake")

    def __init__(self, open_: int = 0) -> None:
        self.busy = 0  # connections held, including those whose release time is in `rel`
        self.open = open_
        self.waiting: deque[list] = deque()  # [attempt, stage, asked at, still waiting]
        # known release times not yet applied (a heap): applied lazily by the next ask while
        # nobody waits, or by a wake-up event at the earliest one while someone does, so an
        # idle pool costs no event per release
        self.rel: list[float] = []
        self.wake = float("inf")  # time of the wake-up event scheduled, inf: none
        # connections broken by a restart or failover of the instance (`FaultLookup.epoch`)
        # are set up again at their next use, as redis-py reconnects
        self.epoch = 0
        self.stale = 0


def run_events(plan: Plan, resources: list[Resource], faults: FaultLookup, state: Any = None,
               pools: list[Pool] | None = None, pool_maxclients: int = 0) -> Attempts:
    """Run one plan through simpy; returns the attempts with arrivals and departures.

    `state` (a `simlab.model.fastpath.QueueState`) carries the servers' free times from one
    chunk of a long run to the next, as in the vectorised solver, and the pools' open
    connections and releases still due. `pools` are the plan's client pools (`plan.pool`
    indexes them); `pool_maxclients` is how many connections each instance accepts from them."""
    att = Attempts(plan)
    env = simpy.Environment(initial_time=float(min(0.0, plan.t0.min(initial=0.0))))
    n = plan.n
    n_stages = plan.n_stages.tolist()
    W = plan.res.shape[1]  # stages per row (more when a reshard adds redirection hops)
    res = plan.res.ravel().tolist()  # row-major: [i * W + k]
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
    nan_row, zero_row, none_row, no_setup_row = (nan,) * W, (0.0,) * W, (-1,) * W, (0,) * W
    # typed arrays: item assignment as fast as a list, and numpy reads them without a copy
    A = array("d", [nan]) * (W * n)
    D = array("d", [nan]) * (W * n)
    S = array("d", [0.0]) * (W * n)
    R = array("i", [-1]) * (W * n)  # resource that served each stage (failover redirects)
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
    REFUSED = Outcome.REFUSED
    # --- client pools ---------------------------------------------------------------------
    has_pool = plan.pool is not None and bool(pools)
    pools = pools or []
    pool_of = plan.pool.ravel().tolist() if has_pool and plan.pool is not None else []
    conn = plan.conn_s.tolist() if has_pool and plan.conn_s is not None else []
    lead0 = plan.lead0_s.tolist() if has_pool and plan.lead0_s is not None else []
    P_ASK = array("d", [nan]) * (W * n)  # when each stage asked its pool
    P_GOT = array("d", [nan]) * (W * n)  # when it got a connection (NaN: it did not)
    P_REL = array("d", [nan]) * (W * n)  # when it gave the connection back
    SETUP = array("b", [0]) * (W * n)  # 1: its connection was set up first (opened or after a break)
    carried = getattr(state, "pools", None) if state is not None else None
    pst = [_PoolState() for _ in pools]
    has_breaks = has_pool and (faults.has_restart or faults.has_redirect)
    setup_work: dict[int, float] = {}  # stage (i * W + k) -> handshake work added to it
    inst_open = [0] * len(resources)  # connections open to each instance from pools
    if carried:
        for ps, (open_, _due) in zip(pst, carried, strict=True):
            ps.open = open_
    for ps, pl in zip(pst, pools, strict=True):
        inst_open[pl.res] += ps.open

    def fire(ev: Event) -> None:
        args: Any = ev.value  # (i, k, t) given to schedule_at by `at`
        stage(*args)

    def at(t: float, i: int, k: int) -> None:
        """An already-triggered event at time t whose value says which stage arrives."""
        schedule_at(t, fire, (i, k, t))

    def retry(i: int) -> None:
        r0 = root[i]
        if fail[i] in REFUSED:
            t = detect[i] + backoff[i]
        else:
            t = max(deadline[i] + backoff[i], detect[i])
        j = len(t0)
        t0.append(t)
        root.append(r0)
        deadline.append(t + (deadline[i] - t0[i]))
        retries.append(retries[i] - 1)
        backoff.append(backoff[i] * 2)
        A.extend(nan_row)
        D.extend(nan_row)
        S.extend(zero_row)
        R.extend(none_row)
        fail.append(0)
        detect.append(nan)
        if has_pool:
            P_ASK.extend(nan_row)
            P_GOT.extend(nan_row)
            P_REL.extend(nan_row)
            SETUP.extend(no_setup_row)
        enter(j, 0, t + delay_s[r0 * W])

    def enter(i: int, k: int, t: float) -> None:
        """Stage k of attempt i would reach its resource at t: through its pool, if any."""
        pid = pool_of[root[i] * W + k] if has_pool else -1
        if pid < 0:
            at(t, i, k)
        else:
            lead = lead0[root[i]] if k == 0 else conn[root[i]]
            # a retry of a pool timeout can be due a leg before now (its `detect` is stated
            # at the instance): it asks now
            ask_t = max(t - lead, env.now)
            schedule_at(ask_t, on_ask, (i, k, ask_t, pid))

    def on_ask(ev: Event) -> None:
        args: Any = ev.value
        ask(*args)

    def ask(i: int, k: int, now: float, pid: int) -> None:
        """The application asks pool pid for a connection for stage k of attempt i."""
        ps = pst[pid]
        P_ASK[i * W + k] = now
        if has_breaks:
            e = faults.epoch(pools[pid].res, now)
            if e != ps.epoch:
                ps.epoch = e
                ps.stale = ps.open
        while ps.waiting and not ps.waiting[0][3]:
            ps.waiting.popleft()  # gave up already
        if not ps.waiting:
            rel = ps.rel
            while rel and rel[0] <= now:
                heapq.heappop(rel)
                ps.busy -= 1
        if ps.busy < ps.open:
            ps.busy += 1
            grant(i, k, now, pid)
        elif ps.open < pools[pid].max_connections:
            r = pools[pid].res
            if inst_open[r] >= pool_maxclients:
                # the new connection is refused: the application reads -ERR max number of
                # clients reached one round trip after connecting; `detect` is stated one leg
                # earlier (see on_give_up)
                P_REL[i * W + k] = now
                refuse(i, Outcome.MAXCLIENTS, now + conn[root[i]])
                return
            inst_open[r] += 1
            ps.open += 1
            ps.busy += 1
            grant(i, k, now, pid, True)
        else:
            w = [i, k, now, True]
            ps.waiting.append(w)
            if ps.rel and ps.rel[0] < ps.wake:
                ps.wake = max(ps.rel[0], now)
                schedule_at(ps.wake, on_wake, pid)
            to = pools[pid].timeout_s
            if to < float("inf"):
                schedule_at(now + to, on_give_up, (w, pid))

    def on_give_up(ev: Event) -> None:
        args: Any = ev.value
        w, pid = args
        if not w[3]:
            return
        w[3] = False
        i, k, asked = w[0], w[1], w[2]
        now = asked + pools[pid].timeout_s
        P_REL[i * W + k] = now
        # the application learns at `now`; `detect` is stated as the time a reply would
        # have left the instance (one leg earlier), so that detect + post is when the
        # client hears of it, as for the other refusals
        refuse(i, Outcome.POOL_TIMEOUT, now - conn[root[i]])

    def refuse(i: int, code: int, told: float) -> None:
        if fail[i] != 0:
            return
        p = root[i]
        if told + post[p] > deadline[i]:
            fail[i] = TIMEOUT  # the client gave up first
            detect[i] = told
        else:
            fail[i] = code
            detect[i] = told
        if retries[i] > 0 and ok_plan[p]:
            retry(i)

    def grant(i: int, k: int, now: float, pid: int, new: bool = False) -> None:
        """Stage k of attempt i has a connection at `now`; a new (or broken) one is set up
        first: its round trips delay the command, its handshake's work is added to it."""
        P_GOT[i * W + k] = now
        lead = lead0[root[i]] if k == 0 else conn[root[i]]
        ps = pst[pid]
        if has_breaks and (new or ps.stale > 0):
            r = pools[pid].res
            if faults.restarting(faults.route(r, now) if has_redirect else r, now):
                # refused at connect (the command fails at the instance): still to be set up
                if new:
                    ps.stale += 1
                at(now + lead, i, k)
                return
        if not new and ps.stale > 0:
            ps.stale -= 1
            new = True
        if new:
            pl = pools[pid]
            SETUP[i * W + k] = 1
            if pl.handshake_s > 0:
                setup_work[i * W + k] = pl.handshake_s
            lead += pl.connect_round_trips * 2 * conn[root[i]]
        at(now + lead, i, k)

    def release(pid: int, t: float) -> None:
        ps = pst[pid]
        heapq.heappush(ps.rel, t)
        if ps.waiting and t < ps.wake:
            ps.wake = t
            schedule_at(t, on_wake, pid)

    def on_wake(ev: Event) -> None:
        """Releases due now, while commands wait: each connection goes to the first command
        still waiting (FIFO), or back to the pool."""
        pid: Any = ev.value
        ps = pst[pid]
        now = env.now
        if now != ps.wake:
            return  # superseded by an earlier wake-up, which rescheduled
        ps.wake = float("inf")
        rel = ps.rel
        while rel and rel[0] <= now:
            heapq.heappop(rel)
            while ps.waiting and not ps.waiting[0][3]:
                ps.waiting.popleft()
            if ps.waiting:
                w = ps.waiting.popleft()
                w[3] = False
                grant(w[0], w[1], now, pid)
            else:
                ps.busy -= 1
        while ps.waiting and not ps.waiting[0][3]:
            ps.waiting.popleft()
        if ps.waiting and rel:
            ps.wake = rel[0]
            schedule_at(ps.wake, on_wake, pid)

    def done(i: int, k: int, t: float) -> None:
        """Stage k of attempt i is over at the instance at t: its connection comes back with
        the reply (one leg later)."""
        pid = pool_of[root[i] * W + k]
        if pid >= 0:
            rel = t + conn[root[i]]
            P_REL[i * W + k] = rel
            release(pid, rel)

    def stage(i: int, k: int, now: float) -> None:
        p = root[i]
        pk = p * W + k
        ik = i * W + k
        r = res[pk]
        if has_redirect:
            r = faults.route(r, now)
            R[ik] = r
        if has_restart and faults.restarting(r, now):
            A[ik] = now
            if has_pool:
                done(i, k, now)
            if fail[i] == 0:
                fail[i] = Outcome.CONNECTION
                detect[i] = now
                if retries[i] > 0 and ok_plan[p]:
                    retry(i)
            return
        s = service_s[pk]
        if setup_work and ik in setup_work:
            s += setup_work.pop(ik)
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
                if has_pool:
                    done(i, k, now)
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
        if has_pool:
            done(i, k, d)
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
            enter(i, k + 1, d + delay_s[pk + 1])

    first_a = plan.t0 + plan.delay_s[:, 0]
    if has_pool and plan.lead0_s is not None and plan.pool is not None:
        # a pooled first stage starts when the application asks its pool
        first_a = first_a - np.where(plan.pool[:, 0] >= 0, plan.lead0_s, 0.0)
        is_ask = (plan.pool[:, 0] >= 0).tolist()
    first = first_a.tolist()
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
            if has_pool and is_ask[i]:
                ask(i, 0, t, pool_of[i * W])
            else:
                stage(i, 0, t)
            j += 1
        pos[0] = j

    peek = env.peek
    if carried:
        # connections still held by the previous chunk's commands come back when they are due
        for ps, (_open, due) in zip(pst, carried, strict=True):
            for t in due:
                ps.busy += 1
                heapq.heappush(ps.rel, t)
    feed()
    env.run()
    if state is not None:
        state.free = free
        if has_pool:
            end = float(plan.t0.max(initial=0.0))
            state.pools = [(ps.open, [t for t in ps.rel if t > end]) for ps in pst]
    m = len(t0)
    att.spawn(np.empty(0, np.int64), np.empty(0))
    att.t0 = np.asarray(t0)
    att.root = np.asarray(root, dtype=np.int64)
    att.deadline = np.asarray(deadline)
    att.retries = np.asarray(retries, dtype=np.int8)
    att.backoff = np.asarray(backoff)
    att.arr = np.frombuffer(A, dtype=np.float64).reshape(m, W)
    att.dep = np.frombuffer(D, dtype=np.float64).reshape(m, W)
    att.svc_eff = np.frombuffer(S, dtype=np.float64).reshape(m, W)
    if has_redirect:
        att.res_eff = np.frombuffer(R, dtype=np.int32).reshape(m, W)
    att.fail = np.asarray(fail, dtype=np.int8)
    att.detect = np.asarray(detect)
    att.spawned = np.zeros(m, dtype=bool)
    if has_pool:
        att.pool_ask = np.frombuffer(P_ASK, dtype=np.float64).reshape(m, W)
        att.pool_got = np.frombuffer(P_GOT, dtype=np.float64).reshape(m, W)
        att.pool_rel = np.frombuffer(P_REL, dtype=np.float64).reshape(m, W)
        att.pool_open = [ps.open for ps in pst]
        att.pool_setup = np.frombuffer(SETUP, dtype=np.int8).reshape(m, W).astype(bool)
    return att
