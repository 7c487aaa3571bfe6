#!/usr/bin/env python3
"""Set up and run cachelab on a machine that has only Python (3.11 or later) and pip.

    python3 bootstrap.py report    # create .venv, install everything, run the default capacity report
    python3 bootstrap.py test      # create .venv, install everything, run the whole test suite
    python3 bootstrap.py install   # only create .venv and install (pip install -e '.[dev]')

Arguments after the command go to ``simlab report`` or ``pytest`` (``python3 bootstrap.py test
-x tests/simlab``). The environment is made once and made again when ``pyproject.toml`` is
newer than it (the stamp file ``.venv/.installed``), as ``make install`` does through this
script.

Why a script beside the Makefile: ``make`` is not on every machine that has Python (slim
container images leave it out), and a new user's first two commands should need nothing else.
Standard library only: it runs before anything is installed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".installed"
USAGE = "usage: python3 bootstrap.py {report|test|install} [arguments for simlab report or pytest]"


def install() -> None:
    """Create .venv and install the project with its dev extras, unless already current."""
    if sys.version_info < (3, 11):  # noqa: UP036 - this runs under whatever python3 the machine has
        sys.exit(f"bootstrap.py: cachelab needs Python 3.11 or later (this is {sys.version.split()[0]})")
    if STAMP.exists() and STAMP.stat().st_mtime >= (ROOT / "pyproject.toml").stat().st_mtime:
        return
    if not (BIN / "python").exists():
        print("bootstrap.py: creating .venv", flush=True)
        try:
            venv.create(VENV, with_pip=True)
        except (OSError, subprocess.CalledProcessError) as err:
            sys.exit(f"bootstrap.py: could not create .venv ({err}); on Debian/Ubuntu: apt-get install python3-venv")
    py = str(BIN / "python")
    print("bootstrap.py: installing cachelab and its dependencies into .venv (pip install -e '.[dev]')", flush=True)
    subprocess.run([py, "-m", "pip", "install", "-q", "--upgrade", "pip"], cwd=ROOT, check=True)
    subprocess.run([py, "-m", "pip", "install", "-q", "-e", ".[dev]"], cwd=ROOT, check=True)
    STAMP.touch()


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("report", "test", "install"):
        print(USAGE, file=sys.stderr)
        return 2
    command, rest = argv[0], argv[1:]
    try:
        install()
    except subprocess.CalledProcessError as err:
        print(f"bootstrap.py: installing failed (exit {err.returncode}): {' '.join(map(str, err.cmd))}", file=sys.stderr)
        return err.returncode or 1
    if command == "install":
        return 0
    if command == "report":
        status = subprocess.run([str(BIN / "simlab"), "report", *rest], cwd=ROOT).returncode
        print("open reports/redis-cache-service/index.html")
        return status
    return subprocess.run([str(BIN / "python"), "-m", "pytest", *rest], cwd=ROOT).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
