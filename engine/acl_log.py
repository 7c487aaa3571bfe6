"""The ACL LOG (acl.c addACLLogEntry): denied commands, keys, channels and failed AUTHs.

Entries are newest first; a denial like one logged less than a minute ago (same reason,
context, object and user) increments that entry's count and refreshes its time and client
info instead of adding one, and the log keeps at most ``acllog-max-len`` entries.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.client import Client

__all__ = ["LogEntry", "add_entry", "client_info"]

_LOG_GROUP_MS = 60000  # ACL_LOG_GROUPING_MAX_TIME_DELTA


def client_info(client: Client) -> str:
    """The CLIENT LIST line of one client (the fields Redis 7.0 prints); CLIENT LIST's own
    formatter when the client command family is loaded, so both agree."""
    try:
        from engine.commands.client import client_line
    except ImportError:
        pass
    else:
        return client_line(client)
    now = time.time()
    flags = "".join(sorted(client.flags)) or "N"
    name = (client.name or b"").decode("utf-8", "surrogateescape")
    multi = len(client.multi) if client.multi is not None else -1
    return (f"id={client.id} addr={client.addr} laddr={client.laddr} fd={client.fd} name={name} "
            f"age={int(now - client.created_s)} idle={int(now - client.last_interaction_s)} flags={flags} "
            f"db={client.db.id} sub={len(client.channels)} psub={len(client.patterns)} "
            f"ssub={len(client.shard_channels)} multi={multi} qbuf={client.qbuf_bytes} qbuf-free=0 argv-mem=0 "
            f"multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem={client.obuf_bytes} tot-mem=0 events=r "
            f"cmd={client.last_command.lower()} user={client.user} redir=-1 resp={client.resp}")


@dataclass
class LogEntry:
    """One ACL LOG entry (the fields ACL LOG prints)."""

    count: int
    reason: str
    context: str
    object: str
    username: str
    ctime_ms: int
    cinfo: str


def add_entry(log: list[LogEntry], client: Client, reason: str, obj: str, username: str, maxlen: int) -> None:
    """addACLLogEntry: group with a similar recent entry, else add one on top."""
    context = "lua" if client.is_script else ("multi" if client.multi is not None else "toplevel")
    now = int(time.time() * 1000)
    cinfo = client_info(client)
    for e in log:
        if (e.reason, e.context, e.object, e.username) == (reason, context, obj, username) and \
                now - e.ctime_ms <= _LOG_GROUP_MS:
            e.count += 1
            e.ctime_ms = now
            e.cinfo = cinfo  # updated in place, as addACLLogEntry replaces the node's value
            return
    log.insert(0, LogEntry(1, reason, context, obj, username, now, cinfo))
    del log[maxlen:]
