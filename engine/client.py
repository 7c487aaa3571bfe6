"""The state of one client: selected database, protocol version, name, authentication,
MULTI queue, WATCHed keys, subscriptions, blocking state.

It is separate from the socket (engine/connection.py) because Lua scripts and MULTI/EXEC run
commands through a client too (Redis's fake ``lua_client``), and handlers receive this object
as their ``ctx``: ``ctx.db`` is the selected keyspace, ``ctx.server`` the whole server.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.blocking import BlockState
    from engine.connection import Connection
    from engine.db import Database
    from engine.server import Server
    from engine.tracking import Tracking

__all__ = ["Client"]

_ids = itertools.count(1)


class Client:
    """One client's state (Redis's ``client`` struct, minus the buffers)."""

    def __init__(self, server: Server, addr: str = "", laddr: str = "", fd: int = -1,
                 write: Callable[[bytes], None] | None = None) -> None:
        self.id = next(_ids)
        self.server = server
        self.db: Database = server.dbs[0]
        self.resp = 2
        self.name: bytes | None = None
        self.lib_name: bytes | None = None
        self.lib_ver: bytes | None = None
        self.addr = addr
        self.laddr = laddr
        self.fd = fd
        self.user = "default"
        self.authenticated = not server.requires_auth()
        self.created_s = time.time()
        self.last_interaction_s = self.created_s
        self.last_command = "NULL"
        self.flags: set[str] = set()
        # MULTI/EXEC and WATCH
        self.multi: list[tuple[Any, list[bytes]]] | None = None
        self.multi_error = False
        self.dirty_cas = False
        self.watched: set[tuple[int, bytes]] = set()
        self.watch_expired: set[tuple[int, bytes]] = set()  # already expired when WATCHed: no abort
        # CLIENT TRACKING options while tracking is on (engine/tracking.py)
        self.tracking: Tracking | None = None
        # Pub/Sub
        self.channels: set[bytes] = set()
        self.patterns: set[bytes] = set()
        self.shard_channels: set[bytes] = set()
        # Blocking commands (engine/blocking.py fills these)
        self.blocked: BlockState | None = None
        self.no_evict = False
        self.is_script = False
        self.caller: Client | None = None  # a script's client: the client that ran the script
        self.closing = False
        self.write = write or _discard
        self.conn: Connection | None = None  # the socket, for clients that have one
        # Output accounting for client-output-buffer-limit (connection keeps it current)
        self.obuf_bytes = 0
        self.qbuf_bytes = 0
        self.tot_net_in = 0
        self.tot_net_out = 0
        self.tot_cmds = 0
        # alsoPropagate: what the AOF gets instead of this command's argv (SPOP -> SREM, a
        # served BLPOP -> LPOP, XADD * -> XADD <id>); set by the handler, taken by
        # Server.propagate after the call.
        self.also_propagate: list[list[bytes]] | None = None

    @property
    def subscriptions(self) -> int:
        return len(self.channels) + len(self.patterns) + len(self.shard_channels)

    def select(self, index: int) -> None:
        self.db = self.server.dbs[index]

    def push(self, message: Any) -> None:
        """Send an out-of-band reply (pub/sub message, invalidation) right away."""
        from engine.protocol import encode

        self.write(encode(message, self.resp))

    def unwatch_all(self) -> None:
        """unwatchAllKeys: forget every watched key and the dirty flag."""
        dbs = self.server.dbs
        for db_id, key in self.watched:
            watchers = dbs[db_id].watched.get(key)
            if watchers is not None:
                watchers.discard(self)
                if not watchers:
                    del dbs[db_id].watched[key]
        self.watched.clear()
        self.dirty_cas = False
        self.watch_expired.clear()

    def discard_transaction(self) -> None:
        """discardTransaction (multi.c): leave MULTI, forget the queue and the WATCHes."""
        self.multi = None
        self.multi_error = False
        self.flags.discard("multi")
        self.unwatch_all()

    def close(self) -> None:
        """Ask for the connection to be closed after pending replies are written."""
        self.closing = True

    def __repr__(self) -> str:
        return f"<Client id={self.id} addr={self.addr} db={self.db.id}>"


def _discard(_data: bytes) -> None:
    return None
