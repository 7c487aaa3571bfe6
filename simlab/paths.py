"""Where the shipped data lives, whatever the working directory.

Notebooks, the report and `simlab regress` find scenarios, prices, baselines and calibrations
through these paths rather than relative to `os.getcwd()`, so a notebook opened from any folder
(or a CI job started anywhere) reads the same files. The project is installed editable
(`pip install -e .`), so `data/` sits beside the `simlab` package.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "BASELINES_DIR",
    "CALIBRATION_DIR",
    "DATA_DIR",
    "DEFAULT_SCENARIO",
    "PRICING_DIR",
    "PROJECT_ROOT",
    "SCENARIOS_DIR",
    "TRACES_DIR",
    "scenario_path",
]

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = PROJECT_ROOT / "data"
SCENARIOS_DIR = DATA_DIR / "scenarios"
PRICING_DIR = DATA_DIR / "pricing"
BASELINES_DIR = DATA_DIR / "baselines"
CALIBRATION_DIR = DATA_DIR / "calibration"
TRACES_DIR = DATA_DIR / "traces"
DEFAULT_SCENARIO = SCENARIOS_DIR / "redis-cache-service.yaml"


def scenario_path(name: str) -> Path:
    """A shipped scenario by name (`"redis-cache-service"`, `"presets/<preset>"`) or a path.

    An existing path is returned as given; otherwise the name is looked up under
    `data/scenarios/`, with or without the `.yaml` suffix."""
    p = Path(name)
    if p.exists():
        return p
    for candidate in (SCENARIOS_DIR / name, SCENARIOS_DIR / f"{name}.yaml"):
        if candidate.exists():
            return candidate
    raise FileNotFoundError(f"{name}: no such scenario file, and none named so under {SCENARIOS_DIR}")
