"""``cachelab-server [config-file] [--name value ...]``: start the engine like redis-server.

Arguments follow redis-server's rules: an optional configuration file first, then options
as ``--name value [value ...]`` that override it (``--save ""`` disables snapshots).
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from engine.config import Config, ConfigError
from engine.server import VERSION, run_server

__all__ = ["main", "parse_args"]


def parse_args(argv: list[str]) -> tuple[str | None, str]:
    """Split argv into (config file, config text built from --options)."""
    conf_file = None
    if argv and not argv[0].startswith("--"):
        conf_file, argv = argv[0], argv[1:]
    lines: list[str] = []
    current: list[str] = []
    for arg in argv:
        if arg.startswith("--") and len(arg) > 2:
            if current:
                lines.append(_line(current))
            current = [arg[2:]]
        elif current:
            current.append(arg)
        else:
            raise ConfigError(f"Invalid argument '{arg}': options must be given as --name value")
    if current:
        lines.append(_line(current))
    return conf_file, "\n".join(lines)


def _line(parts: list[str]) -> str:
    name, *values = parts
    quoted = [f'"{v}"' if (v == "" or " " in v) else v for v in values]
    return " ".join([name, *quoted])


class _RedisFormatter(logging.Formatter):
    """Log lines shaped like Redis's: ``pid:M 29 Nov 2026 03:40:00.123 * message``."""

    marks = {logging.DEBUG: ".", logging.INFO: "*", logging.WARNING: "#", logging.ERROR: "#", logging.CRITICAL: "#"}

    def format(self, record: logging.LogRecord) -> str:
        import time

        t = time.strftime("%d %b %Y %H:%M:%S", time.localtime(record.created))
        ms = int(record.msecs)
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return f"{os.getpid()}:M {t}.{ms:03d} {self.marks.get(record.levelno, '*')} {text}"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] in ("-v", "--version"):
        print(f"Redis server v={VERSION} (cachelab engine)")
        return 0
    if args and args[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    config = Config()
    try:
        conf_file, text = parse_args(args)
        if conf_file is not None:
            path = Path(conf_file)
            config.load(path.read_text(), str(path))
            config.source_file = str(path.resolve())
        config.load(text, "command line")
    except (ConfigError, OSError) as e:
        print(f"*** FATAL CONFIG FILE ERROR ***\n{e}", file=sys.stderr)
        return 1
    handler: logging.Handler
    logfile = config["logfile"]
    handler = logging.FileHandler(logfile) if logfile else logging.StreamHandler(sys.stdout)
    handler.setFormatter(_RedisFormatter())
    root = logging.getLogger("engine")
    root.addHandler(handler)
    root.setLevel({"debug": logging.DEBUG, "verbose": logging.DEBUG, "notice": logging.INFO,
                   "warning": logging.WARNING, "nothing": logging.CRITICAL}[config["loglevel"]])
    root.propagate = False
    root.info("cachelab engine %s (Redis %s compatible) starting, pid=%d", VERSION, VERSION, os.getpid())
    return run_server(config)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
