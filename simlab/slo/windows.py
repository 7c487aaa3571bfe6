"""Durations as SLO tools write them (`5m`, `1h`, `3d`, `30d`) and the burn-rate windows.

Prometheus and sloth name windows this way; the simulator's series is per minute, so every
window is a whole number of minutes.
"""

from __future__ import annotations

import re

__all__ = ["BURN_RATE_WINDOWS", "DEFAULT_ALERTS", "SLOTH_TICKET_3X", "minutes", "window_name"]

#: Windows over which burn rates are reported (sloth's recording windows).
BURN_RATE_WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")

#: Google SRE Workbook, ch. 5 "Alerting on SLOs", table 5-8, for a 30-day window:
#: (severity, long window, short window, burn rate).
DEFAULT_ALERTS = (
    ("page", "1h", "5m", 14.4),
    ("page", "6h", "30m", 6.0),
    ("ticket", "3d", "6h", 1.0),
)
#: sloth's second ticket alert (3x over 1d and 2h), offered as an option.
SLOTH_TICKET_3X = ("ticket", "1d", "2h", 3.0)

_UNITS = {"s": 1.0 / 60.0, "m": 1.0, "h": 60.0, "d": 1440.0, "w": 10080.0}
_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")


def minutes(text: str) -> float:
    """Minutes in a duration such as `5m`, `1h`, `3d`, `28d`, `1w`; ValueError otherwise."""
    m = _RE.match(str(text))
    if not m:
        raise ValueError(f"not a duration: {text!r} (expected a number and one of s, m, h, d, w)")
    return float(m.group(1)) * _UNITS[m.group(2)]


def window_name(mins: float) -> str:
    """The shortest name of a whole-minute window: 1440 -> '1d', 90 -> '90m'."""
    for unit, size in (("d", 1440), ("h", 60)):
        if mins % size == 0:
            return f"{int(mins // size)}{unit}"
    return f"{int(mins)}m"
