"""A pytest plugin loaded into redis-py's own test suite by ``run_compat.py``.

It does two jobs that the suite's own options cannot: it deselects the tests named in
``deselect.txt`` (an exact node id, or a node id without its ``[param]`` suffix, so one line
covers every parametrisation), and it writes each test's outcome to a JSON file so that runs
against the engine and against real redis-server can be compared test by test.

Configured through the environment because it is loaded with ``-p`` into a foreign suite:
``COMPAT_DESELECT`` (path of the deselect file) and ``COMPAT_RESULTS`` (path of the JSON out).
"""

from __future__ import annotations

import json
import os
import tracemalloc
from typing import Any

import pytest

__all__ = ["read_deselect"]

_results: dict[str, str] = {}

# redis-py's conftest starts tracemalloc for the whole session (to date ResourceWarnings); it
# taxes every allocation of ~2400 tests and decides no outcome, so it is kept off here.
tracemalloc.start = lambda *args, **kwargs: None  # type: ignore[assignment]


def read_deselect(path: str) -> set[str]:
    """Node ids from a deselect file: ``nodeid  # reason`` per line; blank and ``#`` lines skipped."""
    out: set[str] = set()
    with open(path, encoding="utf-8") as f:
        for line in f:
            entry = line.split("#", 1)[0].strip()
            if entry:
                out.add(entry)
    return out


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    path = os.environ.get("COMPAT_DESELECT")
    if not path:
        return
    names = read_deselect(path)
    keep, drop = [], []
    for item in items:
        base = item.nodeid.split("[", 1)[0]
        (drop if item.nodeid in names or base in names else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def pytest_runtest_logreport(report: Any) -> None:
    nodeid = report.nodeid
    if report.failed:
        _results[nodeid] = "failed"
    elif report.skipped and report.when in ("setup", "call"):
        if hasattr(report, "wasxfail"):
            _results.setdefault(nodeid, "xfailed")
        else:
            _results.setdefault(nodeid, "skipped")
    elif report.passed and report.when == "call":
        _results[nodeid] = "xpassed" if hasattr(report, "wasxfail") else "passed"


def pytest_sessionfinish(session: pytest.Session) -> None:
    path = os.environ.get("COMPAT_RESULTS")
    if path:
        with open(path, "w", encoding="utf-8") as f:
            json.dump(_results, f, indent=0, sort_keys=True)
