"""Redis's glob matcher (util.c ``stringmatchlen``) in time bounded by pattern x subject length.

A translation of ``a*a*a*...b`` into a backtracking regex takes exponential time on a long
subject, and so did Redis before 7.0.9 added ``skipLongerMatches`` and a nesting limit to
``stringmatchlen_impl``.  Here the pattern is cut at its stars into fixed-length segments
(each token: a literal, ``?`` or a ``[...]`` class, matching exactly one byte) and matched as
the classic glob algorithm does: the first segment at the start, the last at the end, the ones
between at their leftmost position, each with one regex search in C.  Leftmost is always the
best choice for a segment between stars, so no backtracking is needed: O(len(pattern) x
len(subject)) at worst.

Redis's quirks are kept: an empty subject matches only an empty pattern (its loop never runs);
an unterminated ``[`` class takes the rest of the pattern; ``\\`` escapes inside classes; a
reversed range ``[z-a]`` is swapped; with ``nocase`` the range bounds and the subject are
lower-cased (ASCII ``tolower``); a pattern needing more than 1000 nested stars never matches
(``nesting > 1000``).
"""

from __future__ import annotations

import re
from functools import lru_cache

__all__ = ["stringmatch", "compile_pattern", "MAX_NESTING"]

MAX_NESTING = 1000  # stringmatchlen_impl's protection against abusive patterns


def _tokens(pattern: bytes, nocase: bool) -> list[bytes | None]:
    """The pattern as a list of one-byte regex fragments, None for a run of stars."""
    out: list[bytes | None] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == 0x2A:  # '*'
            while i + 1 < n and pattern[i + 1] == 0x2A:
                i += 1
            out.append(None)
        elif c == 0x3F:  # '?'
            out.append(b".")
        elif c == 0x5B:  # '['
            i += 1
            negate = i < n and pattern[i] == 0x5E
            if negate:
                i += 1
            items = bytearray()
            while True:
                if i < n and pattern[i] == 0x5C and n - i >= 2:
                    i += 1
                    items += _lit(pattern[i], nocase)
                elif i < n and pattern[i] == 0x5D:
                    break
                elif i >= n:
                    i -= 1  # unterminated: the class took the rest of the pattern
                    break
                elif n - i >= 3 and pattern[i + 1] == 0x2D:
                    lo, hi = pattern[i], pattern[i + 2]
                    if lo > hi:
                        lo, hi = hi, lo
                    if nocase:
                        lo, hi = _lower(lo), _lower(hi)
                    if lo <= hi:
                        items += re.escape(bytes([lo])) + b"-" + re.escape(bytes([hi]))
                    i += 2
                else:
                    items += _lit(pattern[i], nocase)
                i += 1
            if not items:
                out.append(b"." if negate else b"(?!)")
            else:
                out.append(b"[" + (b"^" if negate else b"") + bytes(items) + b"]")
        elif c == 0x5C and n - i >= 2:  # '\\x'
            i += 1
            out.append(_lit(pattern[i], nocase))
        else:
            out.append(_lit(c, nocase))
        i += 1
    return out


def _lower(c: int) -> int:
    return c + 32 if 0x41 <= c <= 0x5A else c


def _lit(c: int, nocase: bool) -> bytes:
    return re.escape(bytes([_lower(c) if nocase else c]))


class _Matcher:
    __slots__ = ("segments", "lengths", "starred", "nocase", "never")

    def __init__(self, pattern: bytes, nocase: bool) -> None:
        toks = _tokens(pattern, nocase)
        segs: list[list[bytes]] = [[]]
        for t in toks:
            if t is None:
                segs.append([])
            else:
                segs[-1].append(t)
        self.starred = len(segs) > 1
        self.segments = [re.compile(b"".join(s), re.DOTALL) for s in segs]
        self.lengths = [len(s) for s in segs]
        self.nocase = nocase
        # Every star followed by a token is one nesting level of stringmatchlen_impl.
        self.never = sum(1 for k in range(1, len(segs)) if segs[k]) > MAX_NESTING

    def match(self, subject: bytes) -> bool:
        if self.never:
            return False
        if self.nocase:
            subject = subject.lower()
        segs, lens = self.segments, self.lengths
        n = len(subject)
        if not self.starred:
            return n == lens[0] and segs[0].fullmatch(subject) is not None
        head, tail = lens[0], lens[-1]
        if head + tail > n:
            return False
        if head and segs[0].match(subject, 0, head) is None:
            return False
        end = n - tail
        if tail and segs[-1].match(subject, end) is None:
            return False
        pos = head
        for k in range(1, len(segs) - 1):
            if not lens[k]:
                continue
            m = segs[k].search(subject, pos, end)
            if m is None:
                return False
            pos = m.end()
        return True


@lru_cache(maxsize=1024)
def compile_pattern(pattern: bytes, nocase: bool = False) -> _Matcher:
    return _Matcher(pattern, nocase)


def stringmatch(pattern: bytes, subject: bytes, nocase: bool = False) -> bool:
    """stringmatchlen(pattern, subject, nocase) == 1."""
    if not subject:
        return not pattern
    if nocase and b"[" in pattern and pattern.count(b"*") <= 100:
        # Inside a class Redis compares escaped bytes case-sensitively and lowers range bounds,
        # which lower-casing the subject cannot express: walk it as stringmatchlen_impl does
        # (CONFIG GET / COMMAND LIST patterns, short by nature).
        return _stringmatch_impl(pattern, 0, subject, 0, [False], 0)
    return compile_pattern(pattern, nocase).match(subject)


def _stringmatch_impl(p: bytes, pi: int, s: bytes, si: int, skip: list[bool], nesting: int) -> bool:
    """util.c stringmatchlen_impl with nocase, skipLongerMatches and the nesting limit."""
    if nesting > MAX_NESTING:
        return False
    pn, sn = len(p), len(s)

    def at(k: int) -> int:
        return p[k] if k < pn else 0

    while pi < pn and si < sn:
        c = p[pi]
        if c == 0x2A:
            while pi + 1 < pn and p[pi + 1] == 0x2A:
                pi += 1
            if pi == pn - 1:
                return True
            while si < sn:
                if _stringmatch_impl(p, pi + 1, s, si, skip, nesting + 1):
                    return True
                if skip[0]:
                    return False
                si += 1
            skip[0] = True
            return False
        if c == 0x3F:
            si += 1
        elif c == 0x5B:
            pi += 1
            negate = at(pi) == 0x5E
            if negate:
                pi += 1
            matched = False
            sc = s[si]
            while True:
                if at(pi) == 0x5C and pn - pi >= 2:
                    pi += 1
                    if p[pi] == sc:
                        matched = True
                elif at(pi) == 0x5D:
                    break
                elif pi >= pn:
                    pi -= 1
                    break
                elif pn - pi >= 3 and p[pi + 1] == 0x2D:
                    lo, hi = p[pi], p[pi + 2]
                    if lo > hi:
                        lo, hi = hi, lo
                    if _lower(lo) <= _lower(sc) <= _lower(hi):
                        matched = True
                    pi += 2
                elif _lower(p[pi]) == _lower(sc):
                    matched = True
                pi += 1
            if negate:
                matched = not matched
            if not matched:
                return False
            si += 1
        else:
            if c == 0x5C and pn - pi >= 2:
                pi += 1
            if _lower(p[pi]) != _lower(s[si]):
                return False
            si += 1
        pi += 1
        if si == sn:
            while pi < pn and p[pi] == 0x2A:
                pi += 1
            break
    return pi >= pn and si == sn
