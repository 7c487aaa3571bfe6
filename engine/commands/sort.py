"""SORT and SORT_RO (sort.c): sort a list, set or sorted set, optionally by external keys
(``BY weight_*``, ``BY obj_*->field``), projecting external keys (``GET``), with LIMIT,
ASC/DESC, ALPHA and STORE.

Numeric sorting parses each element (or BY value) as a double and breaks ties by comparing
the elements as binary strings, as sortCompare does, so the result is deterministic.  A BY
pattern without ``*`` skips sorting; a set is then sorted ALPHA anyway when the result is
stored or the caller is a script, as Redis 7.0 does to keep replication deterministic.

BY (with a ``*``) and GET read keys that are not arguments of the command, so under ACL they
are refused unless the user may read every key, with Redis 7.0's "BY/GET option of SORT denied
due to insufficient ACL permissions."
"""

from __future__ import annotations

import functools
import math
from typing import Any

from engine.args import limit_option
from engine.client import Client
from engine.db import Database
from engine.errors import SORT_NOT_DOUBLE, SYNTAX, CommandError, WrongTypeError
from engine.objects import HASH, LIST, SET, STRING, ZSet
from engine.protocol import Reply
from engine.table import COMMANDS, command

__all__ = ["sort", "sort_ro", "lookup_by_pattern"]



def lookup_by_pattern(db: Database, pattern: bytes, element: bytes) -> bytes | None:
    """lookupKeyByPattern: ``#`` is the element; the first ``*`` is replaced by the element;
    ``key->field`` reads a hash field.  Missing keys, wrong types and patterns without ``*``
    give None."""
    if pattern == b"#":
        return element
    star = pattern.find(b"*")
    if star < 0:
        return None
    arrow = pattern.find(b"->", star + 1)
    field: bytes | None = None
    if arrow >= 0 and arrow + 2 < len(pattern):
        field = pattern[arrow + 2:]
        key_pattern = pattern[:arrow]
    else:
        key_pattern = pattern
    key = key_pattern[:star] + element + key_pattern[star + 1:]
    value = db.lookup_read(key)
    if value is None:
        return None
    if field is not None:
        if type(value) not in HASH:
            return None
        return value.get(field)
    if type(value) not in STRING:
        return None
    return bytes(value)


def _score(raw: bytes) -> float:
    """strtod over the whole string: leading blanks allowed, trailing ones and NaN are not; ""
    is 0 (nothing to convert, nothing left over); a result out of range (overflow, underflow,
    subnormal: glibc's ERANGE) is refused.  (Redis does not clear errno before its strtod, so a
    stale ERANGE from an earlier command can fail a valid numeric SORT there: not emulated.)"""
    if not raw:
        return 0.0
    if raw.rstrip() != raw or b"_" in raw:
        raise CommandError(SORT_NOT_DOUBLE)
    try:
        value = float(raw)
    except ValueError:
        raise CommandError(SORT_NOT_DOUBLE) from None
    if math.isnan(value):
        raise CommandError(SORT_NOT_DOUBLE)
    if math.isinf(value) and b"n" not in raw.lower():
        raise CommandError(SORT_NOT_DOUBLE)
    if abs(value) < 2.2250738585072014e-308 and any(48 < c <= 57 for c in raw.lower().split(b"e")[0]):
        raise CommandError(SORT_NOT_DOUBLE)
    return value


def _full_key_access(ctx: Client, key: bytes, opts: tuple[bytes, ...], readonly: bool) -> bool:
    """BY and GET patterns read keys outside the command's arguments: sortCommandGeneric allows
    them only to a user who may read every key (ACLUserCheckCmdWithUnrestrictedKeyAccess)."""
    server = ctx.server
    if not server.acl_active:
        return True
    name = b"sort_ro" if readonly else b"sort"
    return bool(server.acl.full_key_access(ctx, COMMANDS[name], [name, key, *opts]))


def _sort(ctx: Client, key: bytes, opts: tuple[bytes, ...], readonly: bool) -> Reply:
    full_access: bool | None = None
    desc = alpha = False
    by: bytes | None = None
    dontsort = False
    offset, count = 0, -1
    gets: list[bytes] = []
    store: bytes | None = None
    i = 0
    while i < len(opts):
        opt = opts[i].lower()
        left = len(opts) - 1 - i
        if opt == b"asc":
            desc = False
        elif opt == b"desc":
            desc = True
        elif opt == b"alpha":
            alpha = True
        elif opt == b"limit" and left >= 2:
            offset, count = limit_option(opts[i + 1], opts[i + 2])
            i += 2
        elif opt == b"store" and left >= 1 and not readonly:
            store = opts[i + 1]
            i += 1
        elif opt == b"by" and left >= 1:
            by = opts[i + 1]
            if b"*" not in by:
                dontsort = True
            else:
                if full_access is None:
                    full_access = _full_key_access(ctx, key, opts, readonly)
                if not full_access:
                    raise CommandError("ERR BY option of SORT denied due to insufficient ACL permissions.")
            i += 1
        elif opt == b"get" and left >= 1:
            if full_access is None:
                full_access = _full_key_access(ctx, key, opts, readonly)
            if not full_access:
                raise CommandError("ERR GET option of SORT denied due to insufficient ACL permissions.")
            gets.append(opts[i + 1])
            i += 1
        else:
            raise CommandError(SYNTAX)
        i += 1
    db = ctx.db
    value = db.lookup_write(key) if store is not None else db.lookup_read(key)
    if value is None:
        elements: list[bytes] = []
    elif type(value) in LIST:
        elements = list(value)
    elif type(value) in SET:
        elements = list(value)
        if dontsort and (store is not None or ctx.is_script):
            dontsort, alpha, by = False, True, None
    elif type(value) is ZSet:
        elements = [m for _s, m in value.index]
    else:
        raise WrongTypeError()
    if dontsort and desc:
        elements.reverse()  # unsorted lists and zsets are walked from the tail for DESC
    if not dontsort:
        keyed: list[tuple[Any, bytes]] = []
        for el in elements:
            if by is not None:
                ext = lookup_by_pattern(db, by, el)
                if alpha:
                    keyed.append((ext, el))
                else:
                    keyed.append((0.0 if ext is None else _score(ext), el))
            elif alpha:
                keyed.append((el, el))
            else:
                keyed.append((_score(el), el))
        if alpha and by is not None:
            def cmp(a: tuple[Any, bytes], b: tuple[Any, bytes]) -> int:
                x, y = a[0], b[0]
                if x is None or y is None:
                    return 0 if x is y else (-1 if x is None else 1)
                return (x > y) - (x < y)
        else:
            def cmp(a: tuple[Any, bytes], b: tuple[Any, bytes]) -> int:
                if a[0] != b[0]:
                    return 1 if a[0] > b[0] else -1
                return (a[1] > b[1]) - (a[1] < b[1])
        keyed.sort(key=functools.cmp_to_key(cmp), reverse=desc)
        elements = [el for _k, el in keyed]
    n = len(elements)
    start = max(offset, 0)
    end = n - 1 if count < 0 else start + count - 1
    if start >= n:
        start, end = n - 1, n - 2
    end = min(end, n - 1)
    chosen = elements[start:end + 1] if end >= start else []
    if gets:
        out: list[bytes | None] = [lookup_by_pattern(db, g, el) for el in chosen for g in gets]
    else:
        out = list(chosen)
    if store is None:
        return out
    server = ctx.server
    if out:
        from collections import deque

        db.set(store, deque(b"" if v is None else v for v in out))
        server.notify("l", "sortstore", store, db.id)
        server.dirty += len(out)
    else:
        if db.delete(store):
            server.notify("g", "del", store, db.id)
        server.dirty += 1
    return len(out)


def _sort_keys(argv: list[bytes]) -> list[int]:
    """The sorted key plus a STORE destination (sortGetKeys)."""
    keys = [1]
    i = 2
    while i < len(argv):
        opt = argv[i].lower()
        if opt == b"store" and i + 1 < len(argv):
            keys.append(i + 1)
            i += 2
        elif opt in (b"by", b"get") and i + 1 < len(argv):
            i += 2
        elif opt == b"limit":
            i += 3
        else:
            i += 1
    return keys


@command("sort", arity=-2, flags="write denyoom", keys=(1, 1, 1), acl="@set @sortedset @list @dangerous",
         group="generic", summary="Sort the elements in a list, set or sorted set", key_extractor=_sort_keys)
def sort(ctx: Client, key: bytes, *opts: bytes) -> Reply:
    return _sort(ctx, key, opts, False)


@command("sort_ro", arity=-2, flags="readonly", keys=(1, 1, 1), acl="@set @sortedset @list @dangerous",
         group="generic", since="7.0.0", summary="Sort the elements in a list, set or sorted set. Read-only variant of SORT.",
         key_extractor=lambda argv: [1])
def sort_ro(ctx: Client, key: bytes, *opts: bytes) -> Reply:
    return _sort(ctx, key, opts, True)
