"""RESP2 request encoding for the load generator: bytes in, bytes out, no client library.

The generator sends millions of small commands; building each one with a bytes template
costs about a microsecond, a fraction of what a general-purpose client spends per call.
"""

from __future__ import annotations

__all__ = ["command", "commands"]


def command(*args: bytes | str | int) -> bytes:
    """One command as a RESP array of bulk strings (what every Redis client sends)."""
    parts = [b"*%d\r\n" % len(args)]
    append = parts.append
    for a in args:
        b = a if a.__class__ is bytes else str(a).encode()  # type: ignore[union-attr]
        append(b"$%d\r\n%s\r\n" % (len(b), b))
    return b"".join(parts)


def commands(*cmds: tuple[bytes | str | int, ...]) -> bytes:
    """Several commands back to back: one pipeline, one write."""
    return b"".join(command(*c) for c in cmds)
