"""The simulated service.

plan.py      every request's path as arrays (delays sampled up front, hit/miss from cache.py)
attempts.py  attempts, retries and the failure rules both solvers share
fastpath.py  vectorised solver: Lindley's recursion over arrays, fixed point over stages
events.py    simpy solver: events only at contended resources (the general case)
faults.py    restart / slow / blip windows; cache_worker.py: forked cache worker for long runs
record.py    measurements per chunk; run.py: simulate() and the fast day
cache.py     cache contents under Redis's eviction policies (make_cache, replay_trace): the
             facade over cache_exact.py (lru, fifo), cache_redis.py (Redis's sampled
             policies, arithmetic from engine/evict_math.py) and cache_memory.py (memory
             accounting, TTLs and expiry every policy shares)
"""
