"""The forked cache worker: a second process answers the next chunk's cache hit/miss queries.

Long runs are walked in chunks (an hour each). Which request hits is decided by the cache
model, one request after the other (it cannot be vectorised: each access changes the state),
and it is about as costly as all the queueing of a chunk. It depends only on keys and times,
not on queues, so while this process computes the queues of chunk h, a forked worker that
owns the cache state answers the query of chunk h + 1. Results are the same as sequential.
"""

from __future__ import annotations

import multiprocessing as mp
from typing import Any

import numpy as np

from simlab.model.plan import PlanBuilder

__all__ = ["CacheWorker"]


def _serve(builder: PlanBuilder, conn: Any) -> None:
    while True:
        query = conn.recv()
        if query is None:
            break
        conn.send(builder.hits(query))
    conn.close()


class CacheWorker:
    """Forked worker holding the builder's caches; `submit` a query, then `result`."""

    def __init__(self, builder: PlanBuilder) -> None:
        ctx = mp.get_context("fork")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(builder, child), daemon=True)
        self._proc.start()
        child.close()

    def submit(self, query: tuple) -> None:
        self._conn.send(query)

    def result(self) -> np.ndarray:
        return self._conn.recv()

    def close(self) -> None:
        try:
            self._conn.send(None)
        except (BrokenPipeError, OSError):
            pass
        self._proc.join(timeout=10)
        if self._proc.is_alive():
            self._proc.terminate()
            self._proc.join()

    def __enter__(self) -> CacheWorker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
