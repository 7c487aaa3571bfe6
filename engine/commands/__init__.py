"""Command families, one module each (Redis's t_string.c, t_hash.c, ...).  Importing this
package fills the command table; a new family module is added to ``FAMILIES``.  Every family
is required: a missing module is an import error, never a silently smaller command table.
The order is the order of registration (a container such as FUNCTION comes before the
modules that add subcommands to it)."""

from __future__ import annotations

import importlib

FAMILIES = [
    "connection",
    "strings",
    "keys",
    "server",
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
