"""Redis 7.0's key specifications (data/redis/key-specs-7.0.yaml): which arguments of a command
are keys and how the command uses each (RW/RO/OW/RM with access/update/insert/delete).

COMMAND GETKEYSANDFLAGS answers from them as getKeysUsingKeySpecs does: each spec finds its
start (an argument index, or the argument after a keyword searched forwards or backwards) and
its keys (a range up to a last key, or a count read from an argument).  SET and BITFIELD,
whose flags depend on their options, answer as their getkeys procedures do; a command whose
specs are incomplete (MIGRATE) is left to the command table's own key positions (``None``).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from engine.util import parse_int

__all__ = ["SPEC_FILE", "keys_and_flags"]

SPEC_FILE = Path(__file__).resolve().parent.parent / "data" / "redis" / "key-specs-7.0.yaml"


@lru_cache(maxsize=1)
def _specs() -> dict[str, list[dict[str, Any]]]:
    try:
        text = SPEC_FILE.read_text()
    except OSError:
        return {}
    loaded = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    return loaded if isinstance(loaded, dict) else {}


def keys_and_flags(fullname: str, argv: list[bytes]) -> list[tuple[int, list[str]]] | None:
    """(argument index, flags) of every key in ``argv``, or None when the specs cannot say."""
    specs = _specs().get(fullname)
    if not specs:
        return None
    if fullname == "set" and len(argv) > 1:  # setGetKeys: GET makes the key read too
        get = any(a.lower() == b"get" for a in argv[3:])
        return [(1, ["RW", "access", "update"] if get else ["OW", "update"])]
    if fullname == "bitfield" and len(argv) > 1:  # bitfieldGetKeys: SET/INCRBY write
        write = any(a.lower() in (b"set", b"incrby") for a in argv[2:])
        return [(1, ["RW", "access", "update"] if write else ["RO", "access"])]
    if any("incomplete" in s["flags"] or "variable_flags" in s["flags"] for s in specs):
        return None
    argc = len(argv)
    out: list[tuple[int, list[str]]] = []
    for spec in specs:
        bs, fk = spec["begin_search"], spec["find_keys"]
        if bs["type"] == "index":
            first = int(bs["index"])
        elif bs["type"] == "keyword":
            keyword = str(bs["keyword"]).encode().lower()
            start = int(bs["startfrom"])
            idxs = range(start, argc) if start > 0 else range(argc + start, 0, -1)
            found = next((i for i in idxs if 0 < i < argc and argv[i].lower() == keyword), None)
            if found is None:
                continue
            first = found + 1
        else:
            return None
        if fk["type"] == "range":
            lastkey, step, limit = int(fk["lastkey"]), int(fk["keystep"]), int(fk["limit"])
            if lastkey >= 0:
                last = first + lastkey
            elif not limit:
                last = argc + lastkey
            else:
                last = first + ((argc - first) // limit + lastkey)
        elif fk["type"] == "keynum":
            idx = first + int(fk["keynumidx"])
            if idx >= argc:
                return None
            n = parse_int(argv[idx])
            if n is None or n < 0:
                return None
            first += int(fk["firstkey"])
            last = first + n - 1
            step = int(fk["keystep"])
        else:
            return None
        i = first
        while i <= last:
            if i >= argc or i < 1:
                return None
            out.append((i, list(spec["flags"])))
            i += step
    return out
