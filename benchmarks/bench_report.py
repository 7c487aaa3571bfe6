"""The front doors' speed: `simlab report` (what `make report` runs), its HTML size, and
`simlab regress` on the shipped baselines.

    python benchmarks/bench_report.py [--quick] [--out DIR] [--skip-regress]

Targets (issue 10, this 2-core machine): the report under 3 minutes and its HTML under 5 MB;
regress under 3 minutes. Each runs the installed `simlab` command in a child process, as a
user would; the machine's load average before and after is printed beside the times, since
the machine is shared and wall time is only meaningful next to it. Per-step times of the
report come from its summary.json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

SIMLAB = str(Path(sys.executable).with_name("simlab"))


def _timed(cmd: list[str]) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds (user + sys of the command and every process it waited for,
    Dask workers included: the figure a shared machine's load does not inflate) and exit code."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    rc = subprocess.run(cmd, stdout=subprocess.DEVNULL, check=False).returncode
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    return time.perf_counter() - t0, cpu, rc


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="time the quick draft instead of the full report")
    ap.add_argument("--out", default="/tmp/bench_report")
    ap.add_argument("--skip-regress", action="store_true")
    a = ap.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f} (2 cores)")
    cmd = [SIMLAB, "--quiet", "report", "--out", a.out] + (["--quick"] if a.quick else [])
    wall, cpu, rc = _timed(cmd)
    html = Path(a.out) / "index.html"
    size = html.stat().st_size if html.exists() else 0
    summary = json.loads((Path(a.out) / "summary.json").read_text()) if html.exists() else {}
    print(f"simlab report{' --quick' if a.quick else ''}: {wall:.1f} s wall (target < 180 s), {cpu:.1f} s CPU, exit {rc}; "
          f"HTML {size / 2**20:.2f} MB (target < 5 MB)")
    for step, secs in summary.get("timings_s", {}).items():
        print(f"  {step:<12} {secs:7.1f} s")
    if not a.skip_regress:
        wall_r, cpu_r, rc_r = _timed([SIMLAB, "--quiet", "regress"])
        print(f"simlab regress (shipped baselines): {wall_r:.1f} s wall (target < 180 s), {cpu_r:.1f} s CPU, exit {rc_r}")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
