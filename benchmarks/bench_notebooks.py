"""Time each notebook in notebooks/ executed top to bottom in a fresh kernel (target: under
2 minutes each), from a temporary working directory as a user opening it anywhere would.

    python benchmarks/bench_notebooks.py
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    rows = []
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        with tempfile.TemporaryDirectory() as cwd:
            t0 = time.perf_counter()
            NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": cwd}}).execute()
            rows.append((path.name, time.perf_counter() - t0))
        print(f"{path.name:45s} {rows[-1][1]:7.1f} s  {'ok' if rows[-1][1] < 120 else 'OVER 2 min'}", flush=True)
    print(f"{'total':45s} {sum(t for _, t in rows):7.1f} s")


if __name__ == "__main__":
    main()
