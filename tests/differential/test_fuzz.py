"""The bounded differential fuzz run of CI: seeded random sequences of 20 commands (every
implemented family, malformed arguments and error paths; tests/differential/fuzz.py) on the
engine and a real redis-server, 0 mismatches allowed.  ``make fuzz`` runs 10,000 sequences."""

from __future__ import annotations

import pytest

from engine.server import EmbeddedServer
from tests.differential.fuzz import run_fuzz
from tests.support.redis_real import RealRedis

pytestmark = pytest.mark.redis_server


def test_bounded_fuzz(engine_shared: EmbeddedServer, redis_real_shared: RealRedis) -> None:
    # 1500 sequences over every family take ~20 s on a shared 2-core machine; the 40 s budget
    # bounds a loaded one, and at least 300 sequences must have run for the test to count.
    done, mismatches = run_fuzz(engine_shared.port, redis_real_shared.port, sequences=1500, seed=20261201,
                                time_budget_s=40)
    assert done >= 300
    assert mismatches == [], mismatches[0]
