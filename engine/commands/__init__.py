"""Command families, one module each (Redis's t_string.c, t_hash.c, ...).  Importing this
package fills the command table; a new family module is added to ``FAMILIES``."""

from __future__ import annotations

import importlib

FAMILIES = [
    "connection",
    "strings",
    "keys",
    "server",
]

OPTIONAL_FAMILIES = [
    "hashes",
    "lists",
    "sets",
    "zsets",
    "sort",
    "bitmaps",
    "transactions",
    "pubsub",
    "scripting",
    "functions",
    "persistence",
    "acl",
    "memory",
    "latency",
    "throttle",
    "info",
    "config",
    "client",
    "debug",
    "streams",
    "serialize",
    "geo",
    "hyperloglog",
    "misc",
    "function_dump",
]

for _name in FAMILIES:
    importlib.import_module(f"engine.commands.{_name}")
for _name in OPTIONAL_FAMILIES:
    try:
        importlib.import_module(f"engine.commands.{_name}")
    except ModuleNotFoundError as _e:
        if _e.name != f"engine.commands.{_name}":
            raise
