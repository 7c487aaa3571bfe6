"""GCRA exactly as the redis-cell module computes it, as a pure function of (stored TAT, now).

redis-cell (https://github.com/brandur/redis-cell, ``redis-cell-impl/src/lib.rs`` and
``redis-cell/src/lib.rs``) adds ``CL.THROTTLE key max_burst count period [quantity]``.  Its
rate limiter is the Generic Cell Rate Algorithm (ITU-T I.371; Brandur Leach, "Rate Limiting,
Cells, and GCRA", 2015): the key holds the *theoretical arrival time* (TAT) of the next request
in Unix nanoseconds; a request is allowed when ``now >= TAT + quantity*T - DVT`` with the
emission interval ``T = period / count`` and the delay variation tolerance
``DVT = T * (max_burst + 1)``.

The function here is the algorithm without storage, so the engine's native ``CL.THROTTLE``
(``engine/commands/throttle.py``) and the tests share it.  It keeps redis-cell's arithmetic
to the nanosecond: ``T`` is ``period_ns / count`` in floating point truncated to an integer
(``Rate::per_period``), ``remaining`` divides whole microseconds in floating point and
truncates, and the reply rounds ``retry_after``/``reset_after`` *up* to whole seconds when
they have a sub-second part of at least one millisecond (``whole_seconds() + 1`` if
``subsec_milliseconds() > 0``).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "GcraError",
    "GcraDecision",
    "NS_PER_S",
    "emission_interval_ns",
    "gcra",
    "throttle_reply",
]

NS_PER_S = 1_000_000_000
_NS_PER_MS = 1_000_000
_NS_PER_US = 1_000


class GcraError(ValueError):
    """An argument redis-cell rejects (its error text is kept in ``str(exc)``)."""


@dataclass(frozen=True, slots=True)
class GcraDecision:
    """The outcome of one GCRA step.

    ``new_tat_ns`` is the TAT to store with expiry ``ttl_ns`` after an allowed request, or
    ``None`` when the store must not change (limited).  ``retry_after_ns`` is ``-1 s`` when the
    request was allowed or can never be allowed (quantity above the burst), as in redis-cell.
    """

    limited: bool
    limit: int
    remaining: int
    retry_after_ns: int
    reset_after_ns: int
    new_tat_ns: int | None
    ttl_ns: int


def emission_interval_ns(count: int, period_s: int) -> int:
    """``T`` for ``count`` actions per ``period_s`` seconds, as ``Rate::per_period`` computes it."""
    period_ns = period_s * NS_PER_S
    if count == 0 or period_ns == 0:
        return 0
    return int(period_ns / count)


def _trunc_div(a: int, b: int) -> int:
    """Integer division rounding toward zero (Rust's ``whole_*`` accessors)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def gcra(
    tat_ns: int | None,
    now_ns: int,
    max_burst: int,
    count: int,
    period_s: int,
    quantity: int = 1,
) -> GcraDecision:
    """One ``RateLimiter::rate_limit`` step of redis-cell.

    ``tat_ns`` is the stored TAT (``None`` when the key is missing).  Raises
    :class:`GcraError` for a zero rate, as redis-cell does ("Zero rates are not supported").
    """
    interval_ns = emission_interval_ns(count, period_s)
    if interval_ns == 0:
        raise GcraError("Zero rates are not supported")
    dvt_ns = interval_ns * (max_burst + 1)
    limit = max_burst + 1
    increment_ns = interval_ns * quantity

    tat = now_ns if tat_ns is None else tat_ns
    new_tat = (now_ns if now_ns > tat else tat) + increment_ns
    allow_at = new_tat - dvt_ns
    diff = now_ns - allow_at

    retry_after_ns = -NS_PER_S
    if diff < 0:
        if increment_ns <= dvt_ns:
            retry_after_ns = -diff
        limited = True
        ttl = tat - now_ns
        stored: int | None = None
    else:
        limited = False
        ttl = new_tat - now_ns
        stored = new_tat

    remaining = 0
    next_ns = dvt_ns - ttl
    if next_ns > -interval_ns:
        remaining = _f64_to_i64(_trunc_div(next_ns, _NS_PER_US), _trunc_div(interval_ns, _NS_PER_US))
    return GcraDecision(
        limited=limited,
        limit=limit,
        remaining=remaining,
        retry_after_ns=retry_after_ns,
        reset_after_ns=ttl,
        new_tat_ns=stored,
        ttl_ns=ttl,
    )


def _f64_to_i64(num: int, den: int) -> int:
    """``(num as f64 / den as f64) as i64``: truncation, with Rust's saturating float casts
    (an interval under one microsecond divides by zero: +inf saturates, NaN becomes 0)."""
    if den == 0:
        return 0 if num == 0 else (2**63 - 1 if num > 0 else -(2**63))
    return int(num / den)


def _ceil_seconds(duration_ns: int) -> int:
    """redis-cell's rounding: whole seconds, plus one if the sub-second part has >= 1 ms."""
    whole = _trunc_div(duration_ns, NS_PER_S)
    subsec_ms = _trunc_div(duration_ns - whole * NS_PER_S, _NS_PER_MS)
    return whole + 1 if subsec_ms > 0 else whole


def throttle_reply(decision: GcraDecision) -> list[int]:
    """The 5-integer ``CL.THROTTLE`` reply: limited, limit, remaining, retry_after, reset_after."""
    return [
        1 if decision.limited else 0,
        decision.limit,
        decision.remaining,
        _ceil_seconds(decision.retry_after_ns),
        _ceil_seconds(decision.reset_after_ns),
    ]
