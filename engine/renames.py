"""rename-command: the per-server map of renamed and disabled commands (config.c renameCommand).

Redis renames entries of its command table at startup.  The engine's table is process-wide
(several embedded servers may share a process), so each server keeps its own map instead and
dispatch consults it before the table: a new name maps to the table name, and a renamed or
disabled name maps to ``b""`` (unknown command).
"""

from __future__ import annotations

import logging

from engine.config import Config, ConfigError
from engine.table import COMMANDS

__all__ = ["rename_table"]

log = logging.getLogger("engine")


def rename_table(config: Config) -> dict[bytes, bytes]:
    """The map for the ``rename-command`` lines of ``config``: client name -> table name
    (``b""`` = gone).  Raises ConfigError when a new name is already a command's name."""
    renames = config.renames
    table: dict[bytes, bytes] = {}
    for old in renames:
        if old.encode("utf-8", "surrogateescape") not in COMMANDS:
            # Redis refuses to start; the engine lacks some Redis commands (DEBUG, ...), and a
            # config that disables one of those is honoured already.
            log.warning("rename-command: no such command '%s' in this engine, ignored", old)
        table[old.encode("utf-8", "surrogateescape")] = b""
    for old, new in renames.items():
        if not new or old.encode("utf-8", "surrogateescape") not in COMMANDS:
            continue
        target = new.lower().encode("utf-8", "surrogateescape")
        if target in COMMANDS and target not in table:
            raise ConfigError(f"Target command name already exists: '{new}'")
        table[target] = old.encode("utf-8", "surrogateescape")
    return table
