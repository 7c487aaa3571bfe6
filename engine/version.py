"""The Redis version the engine answers as (INFO redis_version, HELLO, ``--version``)."""

from __future__ import annotations

__all__ = ["VERSION"]

VERSION = "7.0.15"
