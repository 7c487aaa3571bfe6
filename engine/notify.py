"""Keyspace notifications (notify.c): the ``notify-keyspace-events`` flag letters and the
``__keyspace@<db>__:<key>`` / ``__keyevent@<db>__:<event>`` messages they enable."""

from __future__ import annotations

__all__ = ["parse_flags", "format_flags", "CLASSES"]

# Letter -> class bit, in the order Redis prints them (keyspaceEventsFlagsToString).
CLASSES = {
    "g": 1 << 2,  # generic: DEL, EXPIRE, RENAME, ...
    "$": 1 << 3,  # string
    "l": 1 << 4,  # list
    "s": 1 << 5,  # set
    "h": 1 << 6,  # hash
    "z": 1 << 7,  # zset
    "x": 1 << 8,  # expired
    "e": 1 << 9,  # evicted
    "t": 1 << 10,  # stream
    "m": 1 << 12,  # key miss
    "d": 1 << 13,  # module
    "n": 1 << 14,  # new key
}
KEYSPACE = 1 << 0  # K
KEYEVENT = 1 << 1  # E
ALL = sum(v for k, v in CLASSES.items() if k not in "mn")  # the 'A' alias


def parse_flags(text: str) -> int | None:
    """Flags from the config string; None for an unknown letter (CONFIG SET refuses it)."""
    flags = 0
    for ch in text:
        if ch == "A":
            flags |= ALL
        elif ch == "K":
            flags |= KEYSPACE
        elif ch == "E":
            flags |= KEYEVENT
        elif ch in CLASSES:
            flags |= CLASSES[ch]
        else:
            return None
    return flags


def format_flags(flags: int) -> str:
    """keyspaceEventsFlagsToString as Redis 7.0.15 prints it: ``A`` or the class letters
    (``n`` among them, so ``A`` hides it), then ``K``, ``E``, ``m`` (``KA`` reads ``AK``)."""
    out = ""
    if flags & ALL == ALL:
        out += "A"
    else:
        for ch in "g$lshzxetdn":
            if flags & CLASSES[ch]:
                out += ch
    if flags & KEYSPACE:
        out += "K"
    if flags & KEYEVENT:
        out += "E"
    if flags & CLASSES["m"]:
        out += "m"
    return out
