"""The incremental used_memory estimate (engine/memory.py) against a recount from scratch.

Each key's estimate is cached in its database's key index (by slot) and summed into
``dataset_bytes`` as writes are re-estimated; deletions, FLUSHDB, SWAPDB, overwrites with
other types and key-index compaction must all leave the sum equal to what
:func:`engine.memory.key_bytes` gives for every key now stored.  Tolerance: none (exact
integers, same function on both sides); the workload is seeded."""

from __future__ import annotations

import random

from engine import memory
from engine.client import Client
from engine.config import Config
from engine.dispatch import process_command
from engine.server import Server


def _recount(server: Server) -> int:
    limits = memory._Limits(server.config)
    return sum(memory.key_bytes(db, k, v, limits) for db in server.dbs for k, v in db.data.items())


def test_cached_estimates_sum_to_a_recount_through_deletes_flushes_and_swapdb() -> None:
    server = Server(Config(), chdir=False)
    client = Client(server)
    rng = random.Random(11)
    for step in range(6000):
        k = b"k%d" % rng.randrange(400)
        op = rng.random()
        if op < 0.45:
            argv = [b"SET", k, b"v" * rng.randrange(1, 300)]
        elif op < 0.6:
            argv = [b"HSET", k + b"h", b"f%d" % rng.randrange(50), b"x" * rng.randrange(1, 90)]
        elif op < 0.85:
            argv = [b"DEL", k, k + b"h"]
        elif op < 0.9:
            argv = [b"SELECT", b"%d" % rng.randrange(3)]
        elif op < 0.93:
            argv = [b"SWAPDB", b"%d" % rng.randrange(3), b"%d" % rng.randrange(3)]
        elif op < 0.94:
            argv = [b"FLUSHDB"]
        else:
            argv = [b"INCR", b"n%d" % rng.randrange(50)]
        reply = process_command(client, argv)
        assert not isinstance(reply, Exception) or b"WRONGTYPE" in str(reply).encode(), (argv, reply)
        if step % 500 == 0:
            memory.cron(server)
            memory.refresh(server)
            assert server.memory.dataset_bytes == _recount(server), step
    memory.cron(server)
    memory.refresh(server)
    assert server.memory.dataset_bytes == _recount(server)
    assert any(db.data for db in server.dbs)
